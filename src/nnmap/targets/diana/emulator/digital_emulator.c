/* nnmap's emulation of DIANA's digital accelerator: the runtime calls of digital_lib.h, their
 * arithmetic on emulated L1 memories and their cycles (the formulas of
 * nnmap.targets.diana.timing, which cites each term). Everything runs in call order: the host
 * waits for each call (global_sync_digital), so a layer's cycles are the sum of its calls'. */
#include <stdio.h>
#include <string.h>

#include "digital_lib.h"

#define DIGITAL_MAX_LAYERS 512
#define DIGITAL_GROUP NNMAP_DIGITAL_PE_ROWS

static int8_t digital_activations[NNMAP_DIGITAL_ACTIVATION_BYTES];
static int8_t digital_weights[NNMAP_DIGITAL_WEIGHT_BYTES];
static uint64_t digital_cycles;
static uint64_t digital_layer_start;
static uint64_t digital_layer_cycle_list[DIGITAL_MAX_LAYERS];
static size_t digital_layers;
static char digital_error_text[256];

static void digital_fail(const char *what, long a, long b) {
    if (digital_error_text[0] == '\0') {
        snprintf(digital_error_text, sizeof digital_error_text, what, a, b);
    }
}

static uint64_t digital_ceil(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

static int digital_in_memory(uint64_t offset, uint64_t bytes, uint64_t size, const char *name) {
    if (offset + bytes > size) {
        digital_fail(name, (long)offset, (long)bytes);
        return 0;
    }
    return 1;
}

void memcpy_dig(void *l2, uint32_t l1, uint32_t bytes, int direction, int memory) {
    int8_t *base = memory == DIGITAL_WEIGHT_MEMORY ? digital_weights : digital_activations;
    uint64_t size = memory == DIGITAL_WEIGHT_MEMORY ? sizeof digital_weights
                                                    : sizeof digital_activations;
    if (!digital_in_memory(l1, bytes, size, "memcpy_dig: L1 bytes %ld..+%ld out of range")) {
        return;
    }
    if (direction == DIGITAL_TO_L1) {
        memcpy(base + l1, l2, bytes);
    } else if (direction == DIGITAL_TO_L2 && memory == DIGITAL_ACTIVATION_MEMORY) {
        memcpy(l2, base + l1, bytes);
    } else {
        digital_fail("memcpy_dig: direction %ld into memory %ld is not a transfer", direction,
                     memory);
        return;
    }
    digital_cycles += NNMAP_DIGITAL_DMA_CALL_CYCLES +
                      digital_ceil(bytes, NNMAP_DIGITAL_L2_BYTES_PER_CYCLE);
}

void global_sync_digital(void) {}

static int32_t digital_bias(uint32_t weights, int group_bytes, int k) {
    int32_t bias;
    memcpy(&bias, digital_weights + weights + (uint32_t)(k / DIGITAL_GROUP * group_bytes) +
                      (uint32_t)(4 * (k % DIGITAL_GROUP)),
           sizeof bias);
    return bias;
}

static const int8_t *digital_kernel(uint32_t weights, int group_bytes, int k, int per_channel) {
    return digital_weights + weights + (uint32_t)(k / DIGITAL_GROUP * group_bytes) +
           4 * DIGITAL_GROUP + (uint32_t)((k % DIGITAL_GROUP) * per_channel);
}

static void digital_store(uint32_t output, size_t index, int64_t acc, const Layer_parameters *p) {
    if (p->output_bits == 32) {
        int32_t value = (int32_t)acc;
        memcpy(digital_activations + output + 4 * index, &value, sizeof value);
        return;
    }
    int64_t value = acc >> p->output_shift;
    int64_t low = p->activation_function == 1 ? 0 : -128;
    value = value < low ? low : value > 127 ? 127 : value;
    digital_activations[output + index] = (int8_t)value;
}

static int digital_checked(const Layer_parameters *p, uint32_t input, uint32_t weights,
                           uint32_t output, uint64_t in_bytes, uint64_t w_bytes) {
    if (p->output_bits != 8 && p->output_bits != 32) {
        digital_fail("digital: output_bits %ld (shift %ld) unsupported", p->output_bits,
                     p->output_shift);
        return 0;
    }
    if (p->output_shift < 0 || p->output_shift > 31 || p->dilation != 1 ||
        (p->stride != 1 && p->stride != 2)) {
        digital_fail("digital: shift %ld or stride %ld unsupported", p->output_shift, p->stride);
        return 0;
    }
    uint64_t out_bytes = (uint64_t)p->k * p->oy * p->ox * (p->output_bits / 8);
    return digital_in_memory(input, in_bytes, sizeof digital_activations,
                             "digital: input %ld..+%ld out of L1") &&
           digital_in_memory(weights, w_bytes, sizeof digital_weights,
                             "digital: weights %ld..+%ld out of the weight memory") &&
           digital_in_memory(output, out_bytes, sizeof digital_activations,
                             "digital: output %ld..+%ld out of L1");
}

/* The input value at padded row y, column x of channel c (zero in the padding). */
static int32_t digital_pixel(uint32_t input, const Layer_parameters *p, int c, int y, int x) {
    int left = p->padding & 0xff, top = (p->padding >> 8) & 0xf;
    int row = y - top, column = x - left;
    if (row < 0 || row >= p->cy || column < 0 || column >= p->cx) {
        return 0;
    }
    return digital_activations[input + (uint32_t)((c * p->cy + row) * p->cx + column)];
}

static int digital_shape_ok(const Layer_parameters *p) {
    int left = p->padding & 0xff, top = (p->padding >> 8) & 0xf, bottom = (p->padding >> 12) & 0xf;
    int rows = p->cy + top + bottom, columns = p->cx + 2 * left;
    if ((rows - p->fy) / p->stride + 1 != p->oy || (columns - p->fx) / p->stride + 1 != p->ox ||
        rows < p->fy || columns < p->fx) {
        digital_fail("digital: output %ld x %ld does not follow the input and kernel", p->oy,
                     p->ox);
        return 0;
    }
    return 1;
}

static uint64_t digital_compute_cycles(uint64_t passes, uint64_t per_pass) {
    return NNMAP_DIGITAL_CALL_CYCLES + passes * (per_pass + NNMAP_DIGITAL_PASS_CYCLES);
}

static void digital_window_layer(uint32_t input, uint32_t weights, uint32_t output,
                                 const Layer_parameters *p, int depthwise) {
    int in_channels = depthwise ? 1 : p->c;
    int per_channel = in_channels * p->fy * p->fx;
    int group_bytes = 4 * DIGITAL_GROUP + DIGITAL_GROUP * per_channel;
    uint64_t in_bytes = (uint64_t)p->c * p->cy * p->cx;
    uint64_t w_bytes = digital_ceil((uint64_t)p->k, DIGITAL_GROUP) * (uint64_t)group_bytes;
    if ((depthwise && p->c != p->k) || !digital_shape_ok(p) ||
        !digital_checked(p, input, weights, output, in_bytes, w_bytes)) {
        digital_fail("digital: layer parameters refused (c %ld, k %ld)", p->c, p->k);
        return;
    }
    for (int k = 0; k < p->k; ++k) {
        const int8_t *kernel = digital_kernel(weights, group_bytes, k, per_channel);
        int32_t bias = digital_bias(weights, group_bytes, k);
        for (int oy = 0; oy < p->oy; ++oy) {
            for (int ox = 0; ox < p->ox; ++ox) {
                int64_t acc = bias;
                for (int c = 0; c < in_channels; ++c) {
                    int channel = depthwise ? k : c;
                    for (int fy = 0; fy < p->fy; ++fy) {
                        for (int fx = 0; fx < p->fx; ++fx) {
                            int32_t x = digital_pixel(input, p, channel, oy * p->stride + fy,
                                                      ox * p->stride + fx);
                            acc += x * kernel[(c * p->fy + fy) * p->fx + fx];
                        }
                    }
                }
                digital_store(output, ((size_t)k * p->oy + oy) * p->ox + ox, acc, p);
            }
        }
    }
    uint64_t columns = digital_ceil((uint64_t)p->ox, NNMAP_DIGITAL_PE_COLUMNS);
    uint64_t rows = depthwise ? (uint64_t)p->k * NNMAP_DIGITAL_DEPTHWISE_SLOTS : (uint64_t)p->k;
    uint64_t passes = digital_ceil(rows, NNMAP_DIGITAL_PE_ROWS) * (uint64_t)p->oy * columns;
    uint64_t per_pass = (uint64_t)in_channels * p->fy * (p->fx + 2);
    digital_cycles += digital_compute_cycles(passes, per_pass);
}

void digital_conv_2d(void *unused_a, uint32_t input, uint32_t weights, void *unused_b,
                     uint32_t output, const Layer_parameters *layer) {
    (void)unused_a;
    (void)unused_b;
    digital_window_layer(input, weights, output, layer, 0);
}

void digital_depthwise_conv_2d(void *unused_a, uint32_t input, uint32_t weights, void *unused_b,
                               uint32_t output, const Layer_parameters *layer) {
    (void)unused_a;
    (void)unused_b;
    digital_window_layer(input, weights, output, layer, 1);
}

void digital_fully_connected(void *unused_a, uint32_t input, uint32_t weights, void *unused_b,
                             uint32_t output, const Layer_parameters *p) {
    (void)unused_a;
    (void)unused_b;
    int group_bytes = 4 * DIGITAL_GROUP + DIGITAL_GROUP * p->c;
    uint64_t w_bytes = digital_ceil((uint64_t)p->k, DIGITAL_GROUP) * (uint64_t)group_bytes;
    if (p->fx != 1 || p->fy != 1 || p->ox != 1 || p->oy != 1 ||
        !digital_checked(p, input, weights, output, (uint64_t)p->c, w_bytes)) {
        digital_fail("digital: fully connected parameters refused (c %ld, k %ld)", p->c, p->k);
        return;
    }
    for (int k = 0; k < p->k; ++k) {
        const int8_t *kernel = digital_kernel(weights, group_bytes, k, p->c);
        int64_t acc = digital_bias(weights, group_bytes, k);
        for (int c = 0; c < p->c; ++c) {
            acc += digital_activations[input + (uint32_t)c] * kernel[c];
        }
        digital_store(output, (size_t)k, acc, p);
    }
    uint64_t passes = digital_ceil((uint64_t)p->k, NNMAP_DIGITAL_PE_ROWS);
    digital_cycles += digital_compute_cycles(passes, 3 * (uint64_t)p->c);
}

void digital_element_wise_sum(void *unused_a, uint32_t x, void *unused_b, uint32_t y,
                              uint32_t output, const Layer_parameters *p) {
    (void)unused_a;
    (void)unused_b;
    uint64_t count = (uint64_t)p->k * p->oy * p->ox;
    if (p->output_bits != 8 ||
        !digital_checked(p, x, 0, output, count, 0) ||
        !digital_in_memory(y, count, sizeof digital_activations, "digital: y %ld..+%ld out of L1")) {
        digital_fail("digital: element-wise sum parameters refused (k %ld, bits %ld)", p->k,
                     p->output_bits);
        return;
    }
    for (uint64_t i = 0; i < count; ++i) {
        int64_t sum = (int64_t)digital_activations[x + i] + digital_activations[y + i];
        digital_store(output, (size_t)i, sum, p);
    }
    digital_cycles += NNMAP_DIGITAL_CALL_CYCLES +
                      digital_ceil(count, NNMAP_DIGITAL_SUM_ELEMENTS_PER_CYCLE);
}

void nnmap_digital_reset(void) {
    digital_cycles = 0;
    digital_layers = 0;
    digital_error_text[0] = '\0';
}

uint64_t nnmap_digital_cycles(void) { return digital_cycles; }

void nnmap_digital_layer_begin(const char *name) {
    (void)name;
    digital_layer_start = digital_cycles;
}

void nnmap_digital_layer_end(void) {
    if (digital_layers < DIGITAL_MAX_LAYERS) {
        digital_layer_cycle_list[digital_layers++] = digital_cycles - digital_layer_start;
    }
}

size_t nnmap_digital_layer_count(void) { return digital_layers; }

uint64_t nnmap_digital_layer_cycles(size_t index) {
    return index < digital_layers ? digital_layer_cycle_list[index] : 0;
}

const char *nnmap_digital_error(void) {
    return digital_error_text[0] ? digital_error_text : NULL;
}

int8_t *nnmap_digital_test_activations(void) { return digital_activations; }

int8_t *nnmap_digital_test_weights(void) { return digital_weights; }
