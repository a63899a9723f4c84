/* Timing a Gemmini command list on the emulator's timing engine (see gemmini_command_timing.h):
 * each command goes to the gt_* function the emulator calls for the instruction. */
#include "gemmini_command_timing.h"

#include "gemmini_params.h"
#include "gemmini_timing.h"

static uint64_t busy_sum(void) {
    uint64_t load, execute, store;
    gt_counters(&load, &execute, &store);
    return load + execute + store;
}

/* The local rows of a (first, count) pair; 0 when they fall outside their memory. */
static int decode_rows(const uint32_t *pair, gt_rows *rows) {
    uint32_t accumulator = (pair[0] & NNMAP_GEMMINI_ACCUMULATOR_ROWS) != 0;
    uint32_t first = pair[0] & ~NNMAP_GEMMINI_ACCUMULATOR_ROWS;
    uint32_t limit = accumulator ? NNMAP_GEMMINI_ACC_ROWS : NNMAP_GEMMINI_SPAD_ROWS;
    if (pair[1] > limit || first > limit - pair[1]) {
        return 0;
    }
    *rows = (gt_rows){(int)accumulator, first, pair[1]};
    return 1;
}

/* Run one command; 0 when it is malformed. */
static int run_command(const uint32_t *word) {
    gt_rows a, b, c;
    if (!decode_rows(word + 2, &a) || !decode_rows(word + 4, &b) || !decode_rows(word + 6, &c)) {
        return 0;
    }
    switch (word[0]) {
    case NNMAP_GEMMINI_OP_CONFIG:
        if (word[1] > GT_STORE) return 0;
        gt_config((int)word[1]);
        return 1;
    case NNMAP_GEMMINI_OP_MVIN: gt_mvin(a, word[1]); return 1;
    case NNMAP_GEMMINI_OP_MVOUT: gt_mvout(a, word[1]); return 1;
    case NNMAP_GEMMINI_OP_PRELOAD: gt_preload(a); return 1;
    case NNMAP_GEMMINI_OP_COMPUTE_PRELOADED: gt_compute(a, b, c, word[1], 1); return 1;
    case NNMAP_GEMMINI_OP_COMPUTE_ACCUMULATED: gt_compute(a, b, c, word[1], 0); return 1;
    case NNMAP_GEMMINI_OP_FENCE: gt_fence(); return 1;
    default: return 0;
    }
}

uint64_t nnmap_gemmini_time_commands(const uint32_t *words, size_t commands, uint64_t *busy,
                                     uint64_t *occupancy) {
    gt_reset();
    for (size_t index = 0; index < commands; ++index) {
        uint64_t before = occupancy != NULL ? busy_sum() : 0;
        if (!run_command(words + index * NNMAP_GEMMINI_COMMAND_WORDS)) {
            return NNMAP_GEMMINI_MALFORMED;
        }
        if (occupancy != NULL) {
            occupancy[index] = busy_sum() - before;
        }
    }
    gt_counters(&busy[GT_LOAD], &busy[GT_EXECUTE], &busy[GT_STORE]);
    return gt_now();
}
