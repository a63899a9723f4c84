/* nnmap's VTA emulator, internal: queued commands, functional execution, pipeline timing. */
#ifndef NNMAP_VTA_INTERNAL_H
#define NNMAP_VTA_INTERNAL_H

#include <stdint.h>

#include "vta_params.h"

typedef enum { VTA_LOAD, VTA_STORE, VTA_GEMM, VTA_ALU, VTA_PUSH, VTA_POP } vta_kind;

enum { STAGE_LOAD = 0, STAGE_COMPUTE = 1, STAGE_STORE = 2, STAGE_COUNT = 3 };

typedef struct {
    uint8_t *dram; /* element 0 of the DRAM side */
    uint32_t elem_offset, x_size, y_size, x_stride;
    uint32_t x_pad_before, y_pad_before, x_pad_after, y_pad_after;
    uint32_t sram_index, memory_type;
} vta_transfer;

typedef struct {
    uint32_t uop_begin, uop_end;
    uint32_t extent[2], dst_factor[2], src_factor[2], wgt_factor[2];
    uint32_t reset, opcode, use_imm;
    int32_t imm;
} vta_compute;

typedef struct {
    vta_kind kind;
    int stage;        /* STAGE_*: the stage that runs it (a push: the sender; a pop: the receiver) */
    int q_from, q_to; /* a token's queue ids (1 load, 2 compute, 3 store) */
    vta_transfer transfer;
    vta_compute compute;
} vta_cmd;

/* vta_emulator.c */
void vta_fail(const char *format, ...) __attribute__((format(printf, 1, 2)));

/* vta_exec.c: the functional meaning of one command. */
void vta_execute(const vta_cmd *cmd);
void vta_sram_clear(void);
uint8_t *vta_sram_base(uint32_t memory_type);
uint32_t vta_sram_entries(uint32_t memory_type);
uint32_t vta_entry_bytes(uint32_t memory_type);

/* vta_pipeline.c: run the commands through the three stages from `start`; the end cycle. */
uint64_t vta_pipeline_run(const vta_cmd *cmds, uint32_t count, uint64_t start);
/* The same schedule from cycle 0 with no functional execution (no data moved): the end cycle, or
 * UINT64_MAX when a token is popped that is never pushed or pushed and never popped. */
uint64_t vta_pipeline_time(const vta_cmd *cmds, uint32_t count);
/* The stage that runs a command: INP/WGT loads the load stage, UOP/ACC loads, GEMM and ALU the
 * compute stage, stores the store stage; a push its sender's, a pop its receiver's. */
int vta_stage_of(vta_kind kind, uint32_t memory_type, int q_from, int q_to);
uint64_t vta_pipeline_busy(int stage);
void vta_pipeline_reset(void);
uint64_t vta_cost(const vta_cmd *cmd);
#define VTA_TOKEN_QUEUES 4
/* Index of the token queue from -> to (1 load, 2 compute, 3 store); -1 when there is none. */
int vta_token_queue(int from, int to);

#endif
