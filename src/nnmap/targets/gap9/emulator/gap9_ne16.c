/* NE16: one job computes its whole tile (uint8 inputs times the weights' bit planes plus the
 * weight offset times the input sum; int32 accumulators out, or normquant
 * (acc * scale + bias) >> shift clipped to int8). Timing: DORY's Ne16PerfModel (gap9.md), the
 * same arithmetic as nnmap's ne16_timing.py; a job starts JOB_SETUP cycles after dispatch. */
#include "gap9_ne16_params.h"
#include "ne16.h"
#include "pmsis.h"

#define LANES 16
#define PATCH 3
#define PORT_BITS 256

static uint32_t ceil_div(uint32_t a, uint32_t b) { return (a + b - 1) / b; }

static uint32_t block_cycles(uint32_t mode, uint32_t k) {
    uint32_t words = ceil_div(LANES * 8, PORT_BITS);
    uint32_t load = mode == NE16_TASK_MODE_1x1 ? 10 + PATCH * PATCH * words
                                               : 6 + (PATCH + 2) * (PATCH + 2) * words;
    uint32_t matvec = mode == NE16_TASK_MODE_1x1 ? 6 + k : 6 + k * 8;
    uint32_t offset = mode == NE16_TASK_MODE_3x3_DW ? 6 + k : 6;
    return load + matvec + offset + 2;
}

static uint32_t output_cycles(uint32_t k, uint32_t bits) {
    uint32_t stream_out = 3 + PATCH * PATCH * ceil_div(k * bits, PORT_BITS) + 1;
    if (bits == 32) return stream_out;
    return ceil_div(k, 4) + 9 + ceil_div(k, 4) + 8 + ceil_div(k, 8) + stream_out;
}

uint64_t ne16_job_cycles(const ne16_task_t *task) {
    uint64_t patches = (uint64_t)ceil_div(task->h_out, PATCH) * ceil_div(task->w_out, PATCH);
    uint32_t block = task->mode == NE16_TASK_MODE_3x3_DW ? LANES : 32;
    uint32_t in_blocks = task->mode == NE16_TASK_MODE_3x3_DW ? 1 : ceil_div(task->k_in, LANES);
    uint64_t total = 0;
    for (uint32_t first = 0; first < task->k_out; first += block) {
        uint32_t k = task->k_out - first < block ? task->k_out - first : block;
        total += (uint64_t)in_blocks * block_cycles(task->mode, k) + output_cycles(k, task->output_bits);
    }
    return patches * total;
}

/* Weight (uint8) of output row `row`, depth block `block`, tap `tap`, lane `lane`. */
static int32_t weight(const uint16_t *planes, uint32_t blocks, uint32_t taps, uint32_t row,
                      uint32_t block, uint32_t tap, uint32_t lane) {
    const uint16_t *bits = planes + ((row * blocks + block) * 8) * taps + tap;
    int32_t value = 0;
    for (uint32_t bit = 0; bit < 8; bit++) value |= ((bits[bit * taps] >> lane) & 1) << bit;
    return value;
}

static int32_t input_at(const ne16_task_t *task, int32_t y, int32_t x, uint32_t channel) {
    const uint8_t *data = (const uint8_t *)task->infeat_ptr;
    y -= (int32_t)task->padding_top;
    x -= (int32_t)task->padding_left;
    if (y < 0 || x < 0 || y >= (int32_t)task->h_in || x >= (int32_t)task->w_in) {
        return (int32_t)task->padding_value;
    }
    return data[((uint32_t)y * task->w_in + (uint32_t)x) * task->k_in + channel];
}

static int32_t accumulate(const ne16_task_t *task, uint32_t oy, uint32_t ox, uint32_t k) {
    uint32_t size = task->mode == NE16_TASK_MODE_1x1 ? 1 : 3, stride = task->stride2 ? 2 : 1;
    int dw = task->mode == NE16_TASK_MODE_3x3_DW;
    uint32_t blocks = dw ? 1 : ceil_div(task->k_in, LANES);
    const uint16_t *planes = (const uint16_t *)task->weights_ptr;
    int32_t total = 0;
    for (uint32_t fy = 0; fy < size; fy++) {
        for (uint32_t fx = 0; fx < size; fx++) {
            int32_t y = (int32_t)(oy * stride + fy), x = (int32_t)(ox * stride + fx);
            uint32_t tap = fy * size + fx;
            if (dw) {
                int32_t u = input_at(task, y, x, k);
                total += u * (weight(planes, 1, size * size, k / LANES, 0, tap, k % LANES)
                              + task->weights_offset);
                continue;
            }
            for (uint32_t c = 0; c < task->k_in; c++) {
                int32_t u = input_at(task, y, x, c);
                total += u * (weight(planes, blocks, size * size, k, c / LANES, tap, c % LANES)
                              + task->weights_offset);
            }
        }
    }
    return total;
}

static void store(const ne16_task_t *task, uint32_t index, int32_t total, uint32_t k) {
    if (task->output_bits == 32) {
        ((int32_t *)task->outfeat_ptr)[index] = total;
        return;
    }
    const uint8_t *scale = (const uint8_t *)task->scale_ptr;
    const uint8_t *shift = (const uint8_t *)task->scale_shift_ptr;
    const int32_t *bias = (const int32_t *)task->scale_bias_ptr;
    int64_t value = ((int64_t)total * scale[k] + bias[k]) >> shift[k];
    value = value < task->clip_low ? task->clip_low : value > task->clip_high ? task->clip_high
                                                                              : value;
    ((int8_t *)task->outfeat_ptr)[index] = (int8_t)value;
}

void ne16_nnx_dispatch(void *dev, ne16_task_t *task) {
    (void)dev;
    uint32_t out_bytes = task->h_out * task->w_out * task->k_out * (task->output_bits / 8);
    uint32_t in_bytes = task->h_in * task->w_in * task->k_in;
    if (!nnmap_gap9_in_l1(task->infeat_ptr, in_bytes)
        || !nnmap_gap9_in_l1(task->outfeat_ptr, out_bytes)) {
        nnmap_gap9_fail("ne16_nnx_dispatch: the job's features must be in L1");
        return;
    }
    for (uint32_t oy = 0; oy < task->h_out; oy++) {
        for (uint32_t ox = 0; ox < task->w_out; ox++) {
            for (uint32_t k = 0; k < task->k_out; k++) {
                uint32_t index = (oy * task->w_out + ox) * task->k_out + k;
                store(task, index, accumulate(task, oy, ox, k), k);
            }
        }
    }
    task->done = nnmap_gap9_now() + NNMAP_GAP9_NE16_JOB_SETUP + ne16_job_cycles(task);
    nnmap_gap9_advance(NNMAP_GAP9_NE16_JOB_SETUP);
}

void ne16_nnx_resolve_wait(void *dev, ne16_task_t *task) {
    (void)dev;
    nnmap_gap9_wait_until(task->done);
}

void nnmap_ne16_layer_begin(const char *name) {
    nnmap_gap9_layer_begin(name);
    nnmap_gap9_advance(NNMAP_GAP9_NE16_LAYER_OVERHEAD);
}

void nnmap_ne16_layer_end(void) { nnmap_gap9_layer_end(); }
