/* Gemmini's timing on the decoupled-unit engine: which unit runs each instruction, how long it
 * occupies it and which scratchpad/accumulator rows it waits for. Internal to the emulator. */
#ifndef NNMAP_GEMMINI_TIMING_H
#define NNMAP_GEMMINI_TIMING_H

#include <stdint.h>

typedef struct {
    int accumulator;
    uint32_t first;
    uint32_t count; /* 0: no rows (garbage address) */
} gt_rows;

void gt_reset(void);
void gt_mvin(gt_rows dest, uint64_t bytes);
void gt_mvout(gt_rows source, uint64_t bytes);
void gt_preload(gt_rows weights);
void gt_compute(gt_rows inputs, gt_rows bias, gt_rows output, uint32_t a_rows, int preloaded);
void gt_config(int unit);
void gt_fence(void);
uint64_t gt_now(void);
void gt_counters(uint64_t *load, uint64_t *execute, uint64_t *store);

enum { GT_LOAD = 0, GT_EXECUTE = 1, GT_STORE = 2 };

#endif
