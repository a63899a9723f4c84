/* nnmap's emulation of VTA's runtime API (vta_runtime.h): commands are queued as the real runtime
 * queues instructions, and VTASynchronize runs them through the three-stage pipeline model
 * (vta_pipeline.c), which executes them functionally (vta_exec.c) and counts cycles.
 *
 * Micro-op kernels are recorded once per handle by calling `finit`; a kernel is loaded into the
 * micro-op buffer (a LOAD UOP on the compute stage) the first time it is pushed, and again after
 * the buffer filled up and was recycled from entry 0 (assumed policy). `signature` and `nbytes`
 * are not needed: the handle identifies the kernel. `wait_cycles` is the real runtime's polling
 * timeout and has no meaning here.
 *
 * DRAM follows VTA's runtime: DMA works only on buffers from VTABufferAlloc (vta_buffers.c),
 * named by their handle plus an element offset (a raw pointer is reported, as the real runtime
 * would dereference it as its own buffer object). A load of bytes the CPU changed without a
 * VTAReadBarrier, or a layer that ends with stored bytes no VTAWriteBarrier made visible to the
 * CPU, is reported. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vta_buffers.h"
#include "vta_internal.h"
#include "vta_runtime.h"

#define MAX_LAYERS 1024
#define LAYER_NAME_BYTES 64
#define MODE_GEMM 0u
#define MODE_ALU 1u

typedef struct {
    uint32_t *uops; /* packed (dst, src, wgt), dst in the low bits */
    uint32_t count, capacity, loops;
    vta_compute op; /* loops, reset, opcode, immediate; uop range set when loaded */
    uint32_t mode;
    int has_uops;
    uint64_t generation; /* uop-buffer generation it was loaded in (0: never) */
} vta_kernel;

typedef struct {
    char name[LAYER_NAME_BYTES];
    uint64_t begin, cycles;
} vta_layer;

static vta_cmd *queue;
static uint32_t queued, queue_capacity;
static uint64_t clock_now;
static char error_text[512];
static vta_kernel *recording;
static uint32_t open_loops, uop_top;
static uint64_t uop_generation = 1;
static vta_layer layers[MAX_LAYERS];
static uint32_t layer_count;
static int layer_open;
static int command_handle;


/* stores issued since the last VTASynchronize (grown as needed: the runtime's queue has no such
   limit, it synchronizes by itself when full) */
static vta_byte_range *pending_stores;
static uint32_t pending_store_count, pending_store_capacity;


const char *vta_current_layer(void) {
    return layer_open ? layers[layer_count - 1].name : "(outside a layer)";
}



void vta_fail(const char *format, ...) {
    if (error_text[0] != '\0') return;
    va_list args;
    va_start(args, format);
    vsnprintf(error_text, sizeof(error_text), format, args);
    va_end(args);
}

const char *nnmap_vta_error(void) { return error_text; }

static void enqueue(const vta_cmd *cmd) {
    if (queued == queue_capacity) {
        uint32_t capacity = queue_capacity ? 2 * queue_capacity : 256;
        vta_cmd *grown = realloc(queue, sizeof(vta_cmd) * capacity);
        if (grown == NULL) {
            vta_fail("out of memory queueing %u VTA commands", capacity);
            return;
        }
        queue = grown;
        queue_capacity = capacity;
    }
    queue[queued++] = *cmd;
}

/* VTA's hw_spec.h: VTA_MEMOP_PAD_BIT_WIDTH 4, each padding of a LOAD is a 4-bit field. */
#define VTA_PAD_LIMIT 15u

static void queue_load(uint8_t *dram, uint32_t elem_offset, uint32_t x_size, uint32_t y_size,
                       uint32_t x_stride, uint32_t x_pad_before, uint32_t y_pad_before,
                       uint32_t x_pad_after, uint32_t y_pad_after, uint32_t dst_sram_index,
                       uint32_t dst_memory_type);

VTACommandHandle VTATLSCommandHandle(void) { return &command_handle; }

void VTALoadBuffer2D(VTACommandHandle cmd, void *src_dram_addr, uint32_t src_elem_offset,
                     uint32_t x_size, uint32_t y_size, uint32_t x_stride, uint32_t x_pad_before,
                     uint32_t y_pad_before, uint32_t x_pad_after, uint32_t y_pad_after,
                     uint32_t dst_sram_index, uint32_t dst_memory_type) {
    (void)cmd;
    if (dst_memory_type > VTA_MEM_ID_ACC) {
        vta_fail("VTALoadBuffer2D: memory type %u cannot be loaded (use 0..3)", dst_memory_type);
        return;
    }
    if (x_pad_before > VTA_PAD_LIMIT || y_pad_before > VTA_PAD_LIMIT ||
        x_pad_after > VTA_PAD_LIMIT || y_pad_after > VTA_PAD_LIMIT) {
        vta_fail("layer %s: VTALoadBuffer2D padding (x %u/%u, y %u/%u) exceeds the instruction's "
                 "4-bit pad fields (at most %u)",
                 vta_current_layer(), x_pad_before, x_pad_after, y_pad_before, y_pad_after,
                 VTA_PAD_LIMIT);
        return;
    }
    vta_buffer *buffer = vta_dma_buffer("VTALoadBuffer2D", src_dram_addr);
    vta_byte_range range;
    uint32_t entry = vta_entry_bytes(dst_memory_type);
    if (buffer == NULL || !vta_dram_range("VTALoadBuffer2D", buffer, entry, src_elem_offset, x_size,
                                          y_size, x_stride, &range)) {
        return;
    }
    if (!vta_flushed(buffer, &range)) {
        vta_fail("layer %s: VTALoadBuffer2D reads bytes %zu..%zu of buffer %p that the CPU wrote "
                 "without a VTAReadBarrier (flush them to DRAM before VTA reads)",
                 vta_current_layer(), range.begin, range.end - 1, src_dram_addr);
        return;
    }
    queue_load(buffer->dram, src_elem_offset, x_size, y_size, x_stride, x_pad_before, y_pad_before,
               x_pad_after, y_pad_after, dst_sram_index, dst_memory_type);
}

static void queue_load(uint8_t *dram, uint32_t elem_offset, uint32_t x_size, uint32_t y_size,
                       uint32_t x_stride, uint32_t x_pad_before, uint32_t y_pad_before,
                       uint32_t x_pad_after, uint32_t y_pad_after, uint32_t dst_sram_index,
                       uint32_t dst_memory_type) {
    vta_cmd load = {.kind = VTA_LOAD};
    load.stage = dst_memory_type == VTA_MEM_ID_INP || dst_memory_type == VTA_MEM_ID_WGT
                     ? STAGE_LOAD
                     : STAGE_COMPUTE;
    load.transfer = (vta_transfer){dram, elem_offset, x_size, y_size,
                                   x_stride, x_pad_before, y_pad_before, x_pad_after, y_pad_after,
                                   dst_sram_index, dst_memory_type};
    enqueue(&load);
}

void VTAStoreBuffer2D(VTACommandHandle cmd, uint32_t src_sram_index, uint32_t src_memory_type,
                      void *dst_dram_addr, uint32_t dst_elem_offset, uint32_t x_size,
                      uint32_t y_size, uint32_t x_stride) {
    (void)cmd;
    vta_buffer *buffer = vta_dma_buffer("VTAStoreBuffer2D", dst_dram_addr);
    vta_byte_range range;
    uint32_t entry = vta_entry_bytes(VTA_MEM_ID_OUT);
    if (buffer == NULL ||
        !vta_dram_range("VTAStoreBuffer2D", buffer, entry, dst_elem_offset, x_size, y_size,
                        x_stride, &range)) {
        return;
    }
    if (pending_store_count == pending_store_capacity) {
        uint32_t capacity = pending_store_capacity ? 2 * pending_store_capacity : 256;
        vta_byte_range *grown = realloc(pending_stores, capacity * sizeof *grown);
        if (grown == NULL) {
            vta_fail("out of memory tracking the stores before VTASynchronize");
            return;
        }
        pending_stores = grown;
        pending_store_capacity = capacity;
    }
    range.buffer = buffer;
    pending_stores[pending_store_count++] = range;
    vta_cmd store = {.kind = VTA_STORE, .stage = STAGE_STORE};
    store.transfer = (vta_transfer){buffer->dram, dst_elem_offset, x_size, y_size,
                                    x_stride, 0, 0, 0, 0, src_sram_index, src_memory_type};
    enqueue(&store);
}

void VTAUopLoopBegin(uint32_t extent, uint32_t dst_factor, uint32_t src_factor,
                     uint32_t wgt_factor) {
    if (recording == NULL || recording->loops == 2) {
        vta_fail("VTAUopLoopBegin: only inside a kernel's finit, at most two loops deep");
        return;
    }
    uint32_t level = recording->loops++;
    recording->op.extent[level] = extent;
    recording->op.dst_factor[level] = dst_factor;
    recording->op.src_factor[level] = src_factor;
    recording->op.wgt_factor[level] = wgt_factor;
    open_loops++;
}

void VTAUopLoopEnd(void) {
    if (recording == NULL || open_loops == 0) {
        vta_fail("VTAUopLoopEnd without a matching VTAUopLoopBegin");
        return;
    }
    open_loops--;
}

static int same_kind(const vta_kernel *k, uint32_t mode, uint32_t reset, uint32_t opcode,
                     uint32_t use_imm, int32_t imm) {
    return k->mode == mode && k->op.reset == reset && k->op.opcode == opcode &&
           k->op.use_imm == use_imm && k->op.imm == imm;
}

static int append_uop(vta_kernel *k, uint32_t word) {
    if (k->count == k->capacity) {
        uint32_t capacity = k->capacity ? 2 * k->capacity : 16;
        uint32_t *grown = realloc(k->uops, sizeof(uint32_t) * capacity);
        if (grown == NULL) return 0;
        k->uops = grown;
        k->capacity = capacity;
    }
    k->uops[k->count++] = word;
    return 1;
}

void VTAUopPush(uint32_t mode, uint32_t reset_out, uint32_t dst_index, uint32_t src_index,
                uint32_t wgt_index, uint32_t opcode, uint32_t use_imm, int32_t imm_val) {
    vta_kernel *k = recording;
    if (k == NULL) {
        vta_fail("VTAUopPush: only inside a kernel's finit");
        return;
    }
    if (!k->has_uops) {
        k->mode = mode;
        k->op.reset = reset_out;
        k->op.opcode = opcode;
        k->op.use_imm = use_imm;
        k->op.imm = imm_val;
        k->has_uops = 1;
    } else if (!same_kind(k, mode, reset_out, opcode, use_imm, imm_val)) {
        vta_fail("VTAUopPush: uops of one kernel must share mode, reset, opcode and immediate");
        return;
    }
    if (dst_index >> NNMAP_VTA_UOP_DST_BITS || src_index >> NNMAP_VTA_UOP_SRC_BITS ||
        wgt_index >> NNMAP_VTA_UOP_WGT_BITS) {
        vta_fail("VTAUopPush: index (%u, %u, %u) does not fit a micro-op", dst_index, src_index,
                 wgt_index);
        return;
    }
    uint32_t word = dst_index | src_index << NNMAP_VTA_UOP_DST_BITS |
                    wgt_index << (NNMAP_VTA_UOP_DST_BITS + NNMAP_VTA_UOP_SRC_BITS);
    if (!append_uop(k, word)) vta_fail("VTAUopPush: out of memory");
}

static const char *kernel_problem(const vta_kernel *k, uint32_t mode) {
    if (open_loops != 0) return "a VTAUopLoopBegin has no VTAUopLoopEnd";
    if (k->count == 0) return "the kernel pushes no micro-ops";
    if (k->count > NNMAP_VTA_UOP_ENTRIES) return "the kernel does not fit the micro-op buffer";
    if (k->mode != mode) return "its micro-ops' mode differs from the push (GEMM 0 / ALU 1)";
    if (mode == MODE_ALU && (k->op.reset || k->op.opcode > VTA_ALU_OPCODE_MUL)) {
        return "ALU kernels take opcodes 0..4 and no reset";
    }
    return NULL;
}

static vta_kernel *record_kernel(int (*finit)(void *), void *signature, uint32_t mode) {
    vta_kernel *k = calloc(1, sizeof(vta_kernel));
    if (k == NULL) return NULL;
    k->op.extent[0] = k->op.extent[1] = 1;
    recording = k;
    open_loops = 0;
    int status = finit(signature);
    recording = NULL;
    const char *problem = status != 0 ? "finit returned an error" : kernel_problem(k, mode);
    if (problem != NULL) {
        vta_fail("micro-op kernel: %s", problem);
        free(k->uops);
        free(k);
        return NULL;
    }
    return k;
}

/* Queue a LOAD UOP of the kernel unless it is still in the micro-op buffer. */
static void make_resident(vta_kernel *k) {
    if (k->generation == uop_generation) return;
    if (uop_top + k->count > NNMAP_VTA_UOP_ENTRIES) {
        uop_top = 0;
        uop_generation++;
    }
    k->op.uop_begin = uop_top;
    k->op.uop_end = uop_top + k->count;
    k->generation = uop_generation;
    uop_top += k->count;
    queue_load((uint8_t *)k->uops, 0, k->count, 1, k->count, 0, 0, 0, 0, k->op.uop_begin,
               VTA_MEM_ID_UOP);
}

static int push_kernel(void **uop_handle, int (*finit)(void *), void *signature, uint32_t mode) {
    if (uop_handle == NULL || (*uop_handle == NULL && finit == NULL)) {
        vta_fail("VTAPush%sOp: needs a handle and, on first use, an finit", mode ? "ALU" : "GEMM");
        return -1;
    }
    if (*uop_handle == NULL) *uop_handle = record_kernel(finit, signature, mode);
    vta_kernel *k = *uop_handle;
    if (k == NULL) return -1;
    if (k->mode != mode) {
        vta_fail("VTAPush%sOp: the handle holds a kernel of the other mode", mode ? "ALU" : "GEMM");
        return -1;
    }
    make_resident(k);
    vta_cmd run = {.kind = mode == MODE_GEMM ? VTA_GEMM : VTA_ALU, .stage = STAGE_COMPUTE};
    run.compute = k->op;
    enqueue(&run);
    return 0;
}

int VTAPushGEMMOp(void **uop_handle, int (*finit)(void *), void *signature, int nbytes) {
    (void)nbytes;
    return push_kernel(uop_handle, finit, signature, MODE_GEMM);
}

int VTAPushALUOp(void **uop_handle, int (*finit)(void *), void *signature, int nbytes) {
    (void)nbytes;
    return push_kernel(uop_handle, finit, signature, MODE_ALU);
}

static int queue_token(vta_kind kind, int from_qid, int to_qid) {
    if (vta_token_queue(from_qid, to_qid) < 0) {
        vta_fail("VTADep%s(%d, %d): no such token queue (1->2, 2->1, 2->3, 3->2)",
                 kind == VTA_PUSH ? "Push" : "Pop", from_qid, to_qid);
        return -1;
    }
    vta_cmd token = {.kind = kind, .q_from = from_qid, .q_to = to_qid};
    token.stage = (kind == VTA_PUSH ? from_qid : to_qid) - 1;
    enqueue(&token);
    return 0;
}

int VTADepPush(VTACommandHandle cmd, int from_qid, int to_qid) {
    (void)cmd;
    return queue_token(VTA_PUSH, from_qid, to_qid);
}

int VTADepPop(VTACommandHandle cmd, int from_qid, int to_qid) {
    (void)cmd;
    return queue_token(VTA_POP, from_qid, to_qid);
}

void VTASynchronize(VTACommandHandle cmd, uint32_t wait_cycles) {
    (void)cmd;
    (void)wait_cycles;
    clock_now = vta_pipeline_run(queue, queued, clock_now);
    queued = 0;
    vta_mark_stored(pending_stores, pending_store_count);
    pending_store_count = 0;
}









void nnmap_vta_reset(void) {
    queued = 0;
    pending_store_count = 0;
    layer_open = 0;
    vta_forget_stored();
    clock_now = 0;
    layer_count = 0;
    error_text[0] = '\0';
    uop_top = 0;
    uop_generation++;
    vta_sram_clear();
    vta_pipeline_reset();
}

uint64_t nnmap_vta_cycles(void) { return clock_now; }

uint64_t nnmap_vta_stage_busy(int queue_id) {
    return queue_id >= 1 && queue_id <= STAGE_COUNT ? vta_pipeline_busy(queue_id - 1) : 0;
}

void nnmap_vta_layer_begin(const char *name) {
    if (layer_count == MAX_LAYERS) {
        vta_fail("nnmap_vta_layer_begin: more than %d layers", MAX_LAYERS);
        return;
    }
    vta_layer *layer = &layers[layer_count++];
    snprintf(layer->name, sizeof(layer->name), "%s", name ? name : "");
    layer->begin = clock_now;
    layer->cycles = 0;
    layer_open = 1;
}

void nnmap_vta_layer_end(void) {
    if (queued > 0) {
        vta_fail("nnmap_vta_layer_end: %u commands queued after the last VTASynchronize", queued);
    }
    vta_check_visible();
    layer_open = 0;
    if (layer_count > 0) layers[layer_count - 1].cycles = clock_now - layers[layer_count - 1].begin;
}

size_t nnmap_vta_layer_count(void) { return layer_count; }

const char *nnmap_vta_layer_name(size_t index) {
    return index < layer_count ? layers[index].name : "";
}

uint64_t nnmap_vta_layer_cycles(size_t index) {
    return index < layer_count ? layers[index].cycles : 0;
}

void *nnmap_vta_sram(uint32_t memory_type) { return vta_sram_base(memory_type); }

uint32_t nnmap_vta_sram_entries(uint32_t memory_type) { return vta_sram_entries(memory_type); }
