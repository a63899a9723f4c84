/* VTA's public runtime C API (the calls TVM's VTA flow emits), as listed in shared/reference/vta.md,
 * so that the same generated C builds against VTA's own runtime or against nnmap's emulator; and
 * nnmap's emulator extensions (errors, cycle counts, layer markers, SRAM access for tests). */
#ifndef NNMAP_VTA_RUNTIME_H
#define NNMAP_VTA_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef void *VTACommandHandle;

/* Memory types, ALU opcodes and stage (queue) ids. */
#define VTA_MEM_ID_UOP 0
#define VTA_MEM_ID_WGT 1
#define VTA_MEM_ID_INP 2
#define VTA_MEM_ID_ACC 3
#define VTA_MEM_ID_OUT 4
#define VTA_ALU_OPCODE_MIN 0
#define VTA_ALU_OPCODE_MAX 1
#define VTA_ALU_OPCODE_ADD 2
#define VTA_ALU_OPCODE_SHR 3
#define VTA_ALU_OPCODE_MUL 4
/* VTABufferCopy kinds. */
#define VTA_MEMCPY_H2D 1
#define VTA_MEMCPY_D2H 2
#define VTA_MEMCPY_D2D 3

VTACommandHandle VTATLSCommandHandle(void);
void VTALoadBuffer2D(VTACommandHandle cmd, void *src_dram_addr, uint32_t src_elem_offset,
                     uint32_t x_size, uint32_t y_size, uint32_t x_stride, uint32_t x_pad_before,
                     uint32_t y_pad_before, uint32_t x_pad_after, uint32_t y_pad_after,
                     uint32_t dst_sram_index, uint32_t dst_memory_type);
void VTAStoreBuffer2D(VTACommandHandle cmd, uint32_t src_sram_index, uint32_t src_memory_type,
                      void *dst_dram_addr, uint32_t dst_elem_offset, uint32_t x_size,
                      uint32_t y_size, uint32_t x_stride);
int VTAPushGEMMOp(void **uop_handle, int (*finit)(void *), void *signature, int nbytes);
int VTAPushALUOp(void **uop_handle, int (*finit)(void *), void *signature, int nbytes);
void VTAUopLoopBegin(uint32_t extent, uint32_t dst_factor, uint32_t src_factor,
                     uint32_t wgt_factor);
void VTAUopPush(uint32_t mode, uint32_t reset_out, uint32_t dst_index, uint32_t src_index,
                uint32_t wgt_index, uint32_t opcode, uint32_t use_imm, int32_t imm_val);
void VTAUopLoopEnd(void);
int VTADepPush(VTACommandHandle cmd, int from_qid, int to_qid);
int VTADepPop(VTACommandHandle cmd, int from_qid, int to_qid);
void VTASynchronize(VTACommandHandle cmd, uint32_t wait_cycles);
void *VTABufferAlloc(size_t size);
void VTABufferFree(void *buffer);
void VTABufferCopy(const void *from, size_t from_offset, void *to, size_t to_offset, size_t size,
                   int kind_mask);
void *VTABufferCPUPtr(VTACommandHandle cmd, void *buffer);
void VTAWriteBarrier(VTACommandHandle cmd, void *buffer, uint32_t elem_bits, uint32_t start,
                     uint32_t extent);
void VTAReadBarrier(VTACommandHandle cmd, void *buffer, uint32_t elem_bits, uint32_t start,
                    uint32_t extent);

/* nnmap extensions. The first error since the last reset ("" when none): an index outside a
 * buffer, a malformed micro-op kernel, a deadlock (a pop whose token is never pushed) or tokens
 * pushed but never popped, found by VTASynchronize; DMA on memory not from VTABufferAlloc, or
 * a missing VTAReadBarrier / VTAWriteBarrier. */
const char *nnmap_vta_error(void);
/* Forget queued commands, SRAM contents, cycle counts, layers and the error (kernels stay valid). */
void nnmap_vta_reset(void);
/* Cycles since the reset: the end of the last VTASynchronize. */
uint64_t nnmap_vta_cycles(void);
/* Cycles stage `queue_id` (1 load, 2 compute, 3 store) spent executing instructions. */
uint64_t nnmap_vta_stage_busy(int queue_id);
/* Per-layer markers around the commands of a layer; a layer ends after its last sync. */
void nnmap_vta_layer_begin(const char *name);
void nnmap_vta_layer_end(void);
size_t nnmap_vta_layer_count(void);
const char *nnmap_vta_layer_name(size_t index);
uint64_t nnmap_vta_layer_cycles(size_t index);
/* An SRAM buffer (memory type 0..4) and its number of entries, for tests. */
void *nnmap_vta_sram(uint32_t memory_type);
uint32_t nnmap_vta_sram_entries(uint32_t memory_type);

#ifdef __cplusplus
}
#endif

#endif
