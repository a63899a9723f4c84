/* nnmap's host emulation of an NE16 job as the pulp-nnx driver submits it: a task (the fields
 * pulp-nnx names: feature, weight and normquant pointers, the tile's sizes, padding, weight
 * offset, mode), dispatched and waited for. The functional model and the timing (DORY's
 * Ne16PerfModel) are in gap9_ne16.c. */
#ifndef NNMAP_GAP9_NE16_H
#define NNMAP_GAP9_NE16_H

#include <stdint.h>

#define NE16_TASK_MODE_3x3 0
#define NE16_TASK_MODE_1x1 1
#define NE16_TASK_MODE_3x3_DW 2

typedef struct {
    uintptr_t infeat_ptr;      /* L1: uint8 input tile, rows x columns x channels (HWC) */
    uintptr_t outfeat_ptr;     /* L1: int32 accumulators or int8 outputs, HWC */
    uintptr_t weights_ptr;     /* L1: weight bit planes (nnmap's ne16_model.py layout) */
    uintptr_t scale_ptr;       /* L1: uint8 normquant scale per output channel */
    uintptr_t scale_shift_ptr; /* L1: uint8 normquant shift per output channel */
    uintptr_t scale_bias_ptr;  /* L1: int32 normquant bias per output channel */
    uint32_t h_in, w_in, k_in;
    uint32_t h_out, w_out, k_out;
    uint32_t padding_top, padding_left;
    uint32_t padding_value;    /* uint8 read outside the input */
    int32_t weights_offset;    /* added times the input's sum (-128: int8 weights) */
    uint32_t mode;             /* NE16_TASK_MODE_* */
    uint32_t stride2;          /* 1: stride 2 */
    uint32_t output_bits;      /* 32: accumulators out; 8: normquant on the way out */
    int32_t clip_low, clip_high;
    uint64_t done;             /* emulated cycle the job ends (set by dispatch) */
} ne16_task_t;

void ne16_nnx_dispatch(void *dev, ne16_task_t *task);
void ne16_nnx_resolve_wait(void *dev, ne16_task_t *task);
uint64_t ne16_job_cycles(const ne16_task_t *task);
void nnmap_ne16_layer_begin(const char *name);
void nnmap_ne16_layer_end(void);

#endif
