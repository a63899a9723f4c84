/* Functional emulation of Gemmini's instructions, matching the numpy meanings in
 * nnmap/targets/gemmini/instructions.py exactly, with timing from gemmini_timing.c.
 * One emulated accelerator per process: all state is static. DRAM addresses are host pointers.
 *
 * mvin and mvout complete asynchronously on Gemmini (RoCC commands): the CPU may touch what they
 * read or write only after gemmini_fence(). The emulator holds code to that rule
 * deterministically: an mvout's data is kept aside and its DRAM rows are filled with POISON
 * until the fence, so a kernel that reads them early computes wrong results; the fence reports a
 * pending mvout range the CPU wrote into, or a pending mvin source the CPU changed; a layer that
 * ends with moves pending is reported. Every report names the layer and the DRAM address. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gemmini.h"
#include "gemmini_timing.h"

#define SPAD_ROWS NNMAP_GEMMINI_SPAD_ROWS
#define ACC_BIT 0x80000000u
#define ACCUMULATE_BIT 0x40000000u
#define READ_FULL_BIT 0x20000000u
#define ROW_MASK (READ_FULL_BIT - 1u)
#define LOAD_CONFIGS 3
#define MAX_LAYERS 256
#define LAYER_NAME_BYTES 64
#define POISON 0xA5u

typedef struct {
    uint32_t row;
    int accumulator;
    int accumulate;
    int read_full;
    int garbage;
} local_address;

typedef struct {
    uint64_t stride;
    float scale;
    int shrunk;
} load_config;

typedef struct {
    uint64_t stride;
    uint32_t activation;
    float scale;
} store_config;

typedef struct {
    char name[LAYER_NAME_BYTES];
    uint64_t start;
    uint64_t cycles;
} layer_record;

static int8_t spad[SPAD_ROWS][DIM];
static int32_t acc[ACC_ROWS][DIM];
static int32_t weights[DIM][DIM];
static int32_t staged[DIM][DIM];
static uint32_t out_addr = GARBAGE_ADDR;
static uint32_t out_cols = DIM;
static uint32_t out_rows = DIM;
static const load_config default_load = {DIM, MVIN_SCALE_IDENTITY, 0};
static load_config loads[LOAD_CONFIGS] = {
    {DIM, MVIN_SCALE_IDENTITY, 0}, {DIM, MVIN_SCALE_IDENTITY, 0}, {DIM, MVIN_SCALE_IDENTITY, 0}};
static const store_config default_store = {DIM, NO_ACTIVATION, ACC_SCALE_IDENTITY};
static store_config store = {DIM, NO_ACTIVATION, ACC_SCALE_IDENTITY};
/* A DRAM row an mvin read or an mvout wrote, not yet fenced; its bytes (the mvin's source as it
 * was read, the mvout's result) are kept in the pool at `data`. */
typedef struct {
    uint64_t dram;
    uint32_t bytes;
    size_t data;
} pending_row;

typedef struct {
    pending_row *rows;
    size_t count, capacity;
    uint8_t *pool;
    size_t used, room;
} pending_moves;

static const char *first_error;
static char error_text[320];
static layer_record layers[MAX_LAYERS];
static size_t layer_total;
static int layer_open;
static pending_moves pending_in, pending_out;

static const char *layer_name(void) {
    return layer_open ? layers[layer_total - 1].name : "(outside a layer)";
}

static void fail_at(const char *format, ...) __attribute__((format(printf, 1, 2)));

static void fail_at(const char *format, ...) {
    if (first_error != NULL) {
        return;
    }
    va_list args;
    va_start(args, format);
    vsnprintf(error_text, sizeof(error_text), format, args);
    va_end(args);
    first_error = error_text;
}

/* Room for one more pending row of `bytes`; its bytes in the pool (NULL: out of memory). */
static uint8_t *pending_add(pending_moves *moves, uint64_t dram, uint32_t bytes) {
    if (moves->count == moves->capacity) {
        size_t capacity = moves->capacity ? 2 * moves->capacity : 64;
        pending_row *grown = realloc(moves->rows, capacity * sizeof(pending_row));
        if (grown == NULL) {
            return NULL;
        }
        moves->rows = grown;
        moves->capacity = capacity;
    }
    if (moves->used + bytes > moves->room) {
        size_t room = moves->room ? 2 * moves->room : 4096;
        while (room < moves->used + bytes) {
            room *= 2;
        }
        uint8_t *grown = realloc(moves->pool, room);
        if (grown == NULL) {
            return NULL;
        }
        moves->pool = grown;
        moves->room = room;
    }
    pending_row row = {dram, bytes, moves->used};
    moves->rows[moves->count++] = row;
    moves->used += bytes;
    return moves->pool + row.data;
}

static void pending_clear(pending_moves *moves) {
    moves->count = 0;
    moves->used = 0;
}

static local_address decode(uint32_t address) {
    local_address a;
    a.row = address & ROW_MASK;
    a.accumulator = (address & ACC_BIT) != 0;
    a.accumulate = (address & ACCUMULATE_BIT) != 0;
    a.read_full = (address & READ_FULL_BIT) != 0;
    a.garbage = address == GARBAGE_ADDR;
    return a;
}

static int fail(const char *message) {
    if (first_error == NULL) {
        first_error = message;
    }
    return 0;
}

static int tile_ok(uint32_t cols, uint32_t rows) {
    return (cols >= 1 && cols <= DIM && rows >= 1 && rows <= DIM) ? 1
                                                                    : fail("tile size outside 1..DIM");
}

static int rows_ok(local_address a, uint32_t rows) {
    uint32_t limit = a.accumulator ? ACC_ROWS : SPAD_ROWS;
    if (a.garbage || a.row + rows <= limit) {
        return 1;
    }
    fail_at("layer %s: local rows out of range: rows %u..%u past the %s's %u rows",
            layer_name(), a.row, a.row + rows - 1, a.accumulator ? "accumulator" : "scratchpad",
            limit);
    return 0;
}

static gt_rows rows_of(local_address a, uint32_t rows) {
    gt_rows r = {a.accumulator, a.row, a.garbage ? 0u : rows};
    return r;
}

static int32_t wrap_add(int32_t a, int32_t b) { return (int32_t)((uint32_t)a + (uint32_t)b); }

static int8_t saturate(int64_t value) {
    return (int8_t)(value > 127 ? 127 : (value < -128 ? -128 : value));
}

/* float32 scale, round half to even, optional ReLU, saturate to int8. */
static int8_t round_saturate(int32_t value, float scale, uint32_t activation) {
    float scaled = nearbyintf((float)value * scale);
    if (activation == RELU && scaled < 0.0f) {
        scaled = 0.0f;
    }
    return (int8_t)(scaled > 127.0f ? 127 : (scaled < -128.0f ? -128 : (int)scaled));
}

/* int8 rows into the accumulator pass the int8 mvin scaler (saturating); int32 rows do not. */
static void move_in_acc(const uint8_t *line, local_address dest, uint32_t r, uint32_t cols,
                        const load_config *config) {
    for (uint32_t c = 0; c < cols; ++c) {
        int32_t value;
        if (config->shrunk) {
            int8_t raw = (int8_t)line[c];
            value = config->scale == 1.0f ? raw : round_saturate(raw, config->scale, NO_ACTIVATION);
        } else {
            memcpy(&value, line + 4u * c, sizeof(value));
        }
        int32_t *cell = &acc[dest.row + r][c];
        *cell = dest.accumulate ? wrap_add(*cell, value) : value;
    }
}

static void move_in_spad(const uint8_t *line, local_address dest, uint32_t r, uint32_t cols,
                         float scale) {
    for (uint32_t c = 0; c < cols; ++c) {
        int8_t value = (int8_t)line[c];
        spad[dest.row + r][c] = scale == 1.0f ? value : round_saturate(value, scale, NO_ACTIVATION);
    }
}

void nnmap_gemmini_mvin(uint64_t dram_addr, uint32_t local_addr, uint32_t cols, uint32_t rows,
                        uint32_t load_id) {
    local_address dest = decode(local_addr);
    if (load_id >= LOAD_CONFIGS) {
        fail("load config id outside 0..2");
        return;
    }
    if (!tile_ok(cols, rows) || !rows_ok(dest, rows)) {
        return;
    }
    const load_config *config = &loads[load_id];
    uint32_t width = dest.accumulator && !config->shrunk ? 4u : 1u;
    for (uint32_t r = 0; !dest.garbage && r < rows; ++r) {
        const uint8_t *line = (const uint8_t *)(uintptr_t)(dram_addr + r * config->stride);
        uint8_t *kept = pending_add(&pending_in, dram_addr + r * config->stride, cols * width);
        if (kept == NULL) {
            fail("out of memory recording pending mvins");
            return;
        }
        memcpy(kept, line, cols * width);
        if (dest.accumulator) {
            move_in_acc(line, dest, r, cols, config);
        } else {
            move_in_spad(line, dest, r, cols, config->scale);
        }
    }
    gt_mvin(rows_of(dest, rows), dest.garbage ? 0u : (uint64_t)rows * cols * width);
}

static void move_out_row(uint8_t *line, local_address source, uint32_t r, uint32_t cols) {
    for (uint32_t c = 0; c < cols; ++c) {
        if (!source.accumulator) {
            line[c] = (uint8_t)spad[source.row + r][c];
        } else if (source.read_full) {
            memcpy(line + 4u * c, &acc[source.row + r][c], sizeof(int32_t));
        } else {
            line[c] = (uint8_t)round_saturate(acc[source.row + r][c], store.scale, store.activation);
        }
    }
}

void nnmap_gemmini_mvout(uint64_t dram_addr, uint32_t local_addr, uint32_t cols, uint32_t rows) {
    local_address source = decode(local_addr);
    if (!tile_ok(cols, rows) || !rows_ok(source, rows)) {
        return;
    }
    uint32_t width = source.accumulator && source.read_full ? 4u : 1u;
    for (uint32_t r = 0; !source.garbage && r < rows; ++r) {
        uint64_t row = dram_addr + r * store.stride;
        uint8_t *result = pending_add(&pending_out, row, cols * width);
        if (result == NULL) {
            fail("out of memory recording pending mvouts");
            return;
        }
        move_out_row(result, source, r, cols);
        memset((void *)(uintptr_t)row, POISON, cols * width);
    }
    gt_mvout(rows_of(source, rows), source.garbage ? 0u : (uint64_t)rows * cols * width);
}

/* A DIM x DIM tile of scratchpad rows, zero outside rows x cols; garbage reads zeros. */
static int read_tile(int32_t tile[DIM][DIM], local_address source, uint32_t cols, uint32_t rows) {
    memset(tile, 0, sizeof(int32_t) * DIM * DIM);
    if (!tile_ok(cols, rows) || !rows_ok(source, rows)) {
        return 0;
    }
    if (source.garbage) {
        return 1;
    }
    if (source.accumulator) {
        return fail("compute operands come from the scratchpad");
    }
    for (uint32_t r = 0; r < rows; ++r) {
        for (uint32_t c = 0; c < cols; ++c) {
            tile[r][c] = spad[source.row + r][c];
        }
    }
    return 1;
}

void nnmap_gemmini_preload(uint32_t bd, uint32_t c, uint32_t bd_cols, uint32_t bd_rows,
                           uint32_t c_cols, uint32_t c_rows) {
    local_address source = decode(bd);
    if (!tile_ok(c_cols, c_rows) || !read_tile(staged, source, bd_cols, bd_rows)) {
        return;
    }
    out_addr = c;
    out_cols = c_cols;
    out_rows = c_rows;
    gt_preload(rows_of(source, bd_rows));
}

static void write_result(const int64_t result[DIM][DIM], local_address dest) {
    for (uint32_t r = 0; r < out_rows; ++r) {
        for (uint32_t c = 0; c < out_cols; ++c) {
            if (!dest.accumulator) {
                spad[dest.row + r][c] = saturate(result[r][c]);
            } else {
                int32_t value = (int32_t)result[r][c];
                int32_t *cell = &acc[dest.row + r][c];
                *cell = dest.accumulate ? wrap_add(*cell, value) : value;
            }
        }
    }
}

static void multiply(int64_t result[DIM][DIM], const int32_t inputs[DIM][DIM],
                     const int32_t bias[DIM][DIM]) {
    for (uint32_t r = 0; r < DIM; ++r) {
        for (uint32_t c = 0; c < DIM; ++c) {
            int64_t sum = bias[r][c];
            for (uint32_t k = 0; k < DIM; ++k) {
                sum += (int64_t)inputs[r][k] * weights[k][c];
            }
            result[r][c] = sum;
        }
    }
}

void nnmap_gemmini_compute(uint32_t a, uint32_t bd, uint32_t a_cols, uint32_t a_rows,
                           uint32_t bd_cols, uint32_t bd_rows, int preloaded) {
    static int32_t inputs[DIM][DIM];
    static int32_t bias[DIM][DIM];
    static int64_t result[DIM][DIM];
    local_address a_source = decode(a);
    local_address d_source = decode(bd);
    local_address dest = decode(out_addr);
    if (!read_tile(inputs, a_source, a_cols, a_rows) ||
        !read_tile(bias, d_source, bd_cols, bd_rows) || !rows_ok(dest, out_rows)) {
        return;
    }
    if (preloaded) {
        memcpy(weights, staged, sizeof(weights));
    }
    multiply(result, (const int32_t(*)[DIM])inputs, (const int32_t(*)[DIM])bias);
    if (!dest.garbage) {
        write_result((const int64_t(*)[DIM])result, dest);
    }
    gt_compute(rows_of(a_source, a_rows), rows_of(d_source, bd_rows), rows_of(dest, out_rows),
               a_rows, preloaded);
}

void nnmap_gemmini_config_ex(uint32_t dataflow, uint32_t sys_act, uint32_t sys_shift,
                             float sys_acc_scale, uint32_t c_stride, uint32_t a_stride,
                             int a_transpose, int b_transpose, int set_only_strides) {
    (void)sys_act;
    (void)sys_shift;
    (void)sys_acc_scale;
    (void)c_stride;
    (void)a_stride;
    if (!set_only_strides && (dataflow != WEIGHT_STATIONARY || a_transpose || b_transpose)) {
        fail("only weight-stationary without transposes is emulated");
        return;
    }
    gt_config(GT_EXECUTE);
}

void nnmap_gemmini_config_ld(uint64_t stride, float scale, int shrunk, uint32_t load_id) {
    if (load_id >= LOAD_CONFIGS) {
        fail("load config id outside 0..2");
        return;
    }
    load_config *config = &loads[load_id];
    config->stride = stride;
    config->scale = scale;
    config->shrunk = shrunk != 0;
    gt_config(GT_LOAD);
}

void nnmap_gemmini_config_st(uint64_t stride, uint32_t acc_act, float acc_scale) {
    store.stride = stride;
    store.activation = acc_act;
    store.scale = acc_scale;
    gt_config(GT_STORE);
}

/* The first byte of a pending mvout row the CPU overwrote (-1: none). */
static long overwritten(const pending_row *row) {
    const uint8_t *dram = (const uint8_t *)(uintptr_t)row->dram;
    for (uint32_t i = 0; i < row->bytes; ++i) {
        if (dram[i] != POISON) {
            return (long)i;
        }
    }
    return -1;
}

static void check_pending(void) {
    for (size_t i = 0; i < pending_in.count; ++i) {
        const pending_row *row = &pending_in.rows[i];
        if (memcmp((const void *)(uintptr_t)row->dram, pending_in.pool + row->data, row->bytes)) {
            fail_at("layer %s: the CPU wrote DRAM 0x%llx, the source of an mvin still pending "
                    "(write it before the mvin, or call gemmini_fence() first)",
                    layer_name(), (unsigned long long)row->dram);
        }
    }
    for (size_t i = 0; i < pending_out.count; ++i) {
        const pending_row *row = &pending_out.rows[i];
        long byte = overwritten(row);
        if (byte >= 0) {
            fail_at("layer %s: the CPU wrote DRAM 0x%llx, inside an mvout still pending "
                    "(call gemmini_fence() before the CPU touches mvout results)",
                    layer_name(), (unsigned long long)(row->dram + (uint64_t)byte));
        }
    }
}

/* The mvouts' results become visible to the CPU, in the order they were issued. */
void nnmap_gemmini_fence(void) {
    check_pending();
    for (size_t i = 0; i < pending_out.count; ++i) {
        const pending_row *row = &pending_out.rows[i];
        memcpy((void *)(uintptr_t)row->dram, pending_out.pool + row->data, row->bytes);
    }
    pending_clear(&pending_in);
    pending_clear(&pending_out);
    gt_fence();
}

void nnmap_gemmini_reset(void) {
    memset(spad, 0, sizeof(spad));
    memset(acc, 0, sizeof(acc));
    memset(weights, 0, sizeof(weights));
    memset(staged, 0, sizeof(staged));
    out_addr = GARBAGE_ADDR;
    out_cols = DIM;
    out_rows = DIM;
    for (size_t id = 0; id < LOAD_CONFIGS; ++id) {
        loads[id] = default_load;
    }
    store = default_store;
    first_error = NULL;
    layer_total = 0;
    layer_open = 0;
    pending_clear(&pending_in);
    pending_clear(&pending_out);
    gt_reset();
}

uint64_t nnmap_gemmini_cycles(void) { return gt_now(); }

void nnmap_gemmini_counters(uint64_t *load, uint64_t *execute, uint64_t *store_busy) {
    gt_counters(load, execute, store_busy);
}

void nnmap_gemmini_layer_begin(const char *name) {
    if (layer_total == MAX_LAYERS) {
        fail("more than 256 layers marked");
        return;
    }
    layer_record *layer = &layers[layer_total++];
    strncpy(layer->name, name, LAYER_NAME_BYTES - 1);
    layer->name[LAYER_NAME_BYTES - 1] = '\0';
    layer->start = gt_now();
    layer->cycles = 0;
    layer_open = 1;
}

/* A layer's kernel returns to the CPU: nothing may still be in flight. */
void nnmap_gemmini_layer_end(void) {
    if (pending_out.count > 0 || pending_in.count > 0) {
        uint64_t first = pending_out.count ? pending_out.rows[0].dram : pending_in.rows[0].dram;
        fail_at("layer %s ends with %zu mvout row(s) and %zu mvin row(s) pending (first at DRAM "
                "0x%llx): call gemmini_fence() before the CPU reads mvout results",
                layer_name(), pending_out.count, pending_in.count, (unsigned long long)first);
        pending_clear(&pending_in);
        pending_clear(&pending_out);
    }
    layer_open = 0;
    if (layer_total > 0) {
        layer_record *layer = &layers[layer_total - 1];
        layer->cycles = gt_now() - layer->start;
    }
}

size_t nnmap_gemmini_layer_count(void) { return layer_total; }

const char *nnmap_gemmini_layer_name(size_t index) {
    return index < layer_total ? layers[index].name : NULL;
}

uint64_t nnmap_gemmini_layer_cycles(size_t index) {
    return index < layer_total ? layers[index].cycles : 0;
}

const char *nnmap_gemmini_error(void) { return first_error; }

int8_t *nnmap_gemmini_test_scratchpad(void) { return &spad[0][0]; }

int32_t *nnmap_gemmini_test_accumulator(void) { return &acc[0][0]; }
