/* Timing a list of VTA commands on the emulator's pipeline (vta_pipeline.c), with no data moved:
 * nnmap's cost model calls this through ctypes to time the stream its code generator emits for a
 * candidate mapping, so the emulator's timing rules are the only ones.
 *
 * A command is NNMAP_VTA_COMMAND_WORDS words: [opcode, operand 0, operand 1]. */
#ifndef NNMAP_VTA_COMMAND_TIMING_H
#define NNMAP_VTA_COMMAND_TIMING_H

#include <stddef.h>
#include <stdint.h>

#define NNMAP_VTA_COMMAND_WORDS 3u
#define NNMAP_VTA_MALFORMED UINT64_MAX

enum {
    NNMAP_VTA_OP_LOAD = 1,  /* operand 0: memory type (VTA_MEM_ID_*), 1: entries moved */
    NNMAP_VTA_OP_STORE = 2, /* operand 1: entries moved */
    NNMAP_VTA_OP_GEMM = 3,  /* operand 1: micro-op steps (loop extents x micro-ops) */
    NNMAP_VTA_OP_ALU = 4,   /* operand 0: whether it takes an immediate, 1: micro-op steps */
    NNMAP_VTA_OP_PUSH = 5,  /* a token: operand 0 from, 1 to (1 load, 2 compute, 3 store) */
    NNMAP_VTA_OP_POP = 6,
};

/* Reset the pipeline and run `commands` commands through it as one VTASynchronize: the cycle the
 * last stage finishes. `busy` (3 entries) receives the busy cycles of the load, compute and
 * store stages; `occupancy`, unless NULL, each command's cycles on its stage (0 for tokens).
 * NNMAP_VTA_MALFORMED: an unknown opcode or token queue, or tokens that never meet. */
uint64_t nnmap_vta_time_commands(const uint32_t *words, size_t commands, uint64_t *busy,
                                 uint64_t *occupancy);

#endif
