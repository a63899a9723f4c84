/* Timing a list of Gemmini commands on the emulator's timing engine (gemmini_timing.c), with no
 * data moved: nnmap's cost model calls this through ctypes to time the stream its code generator
 * emits for a candidate mapping, so the emulator's timing rules are the only ones.
 *
 * A command is NNMAP_GEMMINI_COMMAND_WORDS words:
 *   [opcode, value, a.first, a.count, b.first, b.count, c.first, c.count]
 * where a, b and c are local row ranges (first row with NNMAP_GEMMINI_ACCUMULATOR_ROWS set for
 * the accumulator; count 0 for none, as a garbage address) and value depends on the opcode. */
#ifndef NNMAP_GEMMINI_COMMAND_TIMING_H
#define NNMAP_GEMMINI_COMMAND_TIMING_H

#include <stddef.h>
#include <stdint.h>

#define NNMAP_GEMMINI_COMMAND_WORDS 8u
#define NNMAP_GEMMINI_ACCUMULATOR_ROWS 0x80000000u
#define NNMAP_GEMMINI_MALFORMED UINT64_MAX

enum {
    NNMAP_GEMMINI_OP_CONFIG = 1,               /* value: the unit (0 load, 1 execute, 2 store) */
    NNMAP_GEMMINI_OP_MVIN = 2,                 /* a: destination rows; value: bytes moved */
    NNMAP_GEMMINI_OP_MVOUT = 3,                /* a: source rows; value: bytes moved */
    NNMAP_GEMMINI_OP_PRELOAD = 4,              /* a: weight rows staged (none: keep the mesh's) */
    NNMAP_GEMMINI_OP_COMPUTE_PRELOADED = 5,    /* a: inputs, b: bias, c: output; value: A rows */
    NNMAP_GEMMINI_OP_COMPUTE_ACCUMULATED = 6,  /* as above, reusing the weights in the mesh */
    NNMAP_GEMMINI_OP_FENCE = 7,
};

/* Reset the timing engine and run `commands` commands through it, in order: the cycle the fence
 * (or the last command) completes. `busy` (3 entries) receives the busy cycles of the load,
 * execute and store units; `occupancy`, unless NULL, each command's busy cycles on its unit.
 * NNMAP_GEMMINI_MALFORMED: an unknown opcode or a row range outside its memory. */
uint64_t nnmap_gemmini_time_commands(const uint32_t *words, size_t commands, uint64_t *busy,
                                     uint64_t *occupancy);

#endif
