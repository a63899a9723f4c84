/* Gemmini timing (see gemmini_timing.h). Parameters come from gemmini_params.h, rendered from
 * the gemmini target; the model:
 *  - the host issues one command per ISSUE_INTERVAL cycles into the load, execute or store queue
 *    (LOAD/EXECUTE/STORE_QUEUE entries, held until the command finishes); a command reaches its
 *    unit FRONTEND_LATENCY + ISSUE_LATENCY cycles after issue;
 *  - mvin occupies the load unit for max(bytes / DRAM read bandwidth, one local row write per
 *    row) and finishes DRAM_LATENCY later;
 *  - mvout occupies the store unit for max(bytes / DRAM write bandwidth, local row reads) and
 *    finishes STORE_LATENCY later (writes are posted: DRAM latency not charged, assumed);
 *  - a compute streams its A rows one per cycle, overlapped with streaming the weights its
 *    preload staged (RELOAD_CYCLES per DIM weight rows); results land FILL + DRAIN cycles later;
 *  - load and store DMA channels are independent (assumed). */
#include "gemmini_timing.h"

#include "decoupled_timing.h"
#include "gemmini_params.h"

#define DIM NNMAP_GEMMINI_DIM
#define DISPATCH_LATENCY (NNMAP_GEMMINI_FRONTEND_LATENCY + NNMAP_GEMMINI_ISSUE_LATENCY)

static dt_host host;
static uint64_t load_ring[NNMAP_GEMMINI_LOAD_QUEUE];
static uint64_t execute_ring[NNMAP_GEMMINI_EXECUTE_QUEUE];
static uint64_t store_ring[NNMAP_GEMMINI_STORE_QUEUE];
static dt_unit units[3] = {
    {0, 0, load_ring, NNMAP_GEMMINI_LOAD_QUEUE, 0},
    {0, 0, execute_ring, NNMAP_GEMMINI_EXECUTE_QUEUE, 0},
    {0, 0, store_ring, NNMAP_GEMMINI_STORE_QUEUE, 0},
};
static dt_row spad_deps[NNMAP_GEMMINI_SPAD_ROWS];
static dt_row acc_deps[NNMAP_GEMMINI_ACC_ROWS];
static uint32_t spad_touched, acc_touched; /* rows below these may hold dependencies */
static uint64_t staged_reload; /* cycles to stream the weights staged by the last preload */

static uint64_t max_u64(uint64_t a, uint64_t b) { return a > b ? a : b; }
static uint64_t ceil_div(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

static dt_row *deps(gt_rows rows) { return rows.accumulator ? acc_deps : spad_deps; }

static uint64_t ready_to_read(gt_rows rows) {
    return dt_rows_ready_to_read(deps(rows), rows.first, rows.count);
}

static uint64_t ready_to_write(gt_rows rows, int unit) {
    return dt_rows_ready_to_write(deps(rows), rows.first, rows.count, (uint8_t)unit);
}

/* Note the rows a mark reaches, so a reset clears only the rows in use. */
static void touch(gt_rows rows) {
    uint32_t *touched = rows.accumulator ? &acc_touched : &spad_touched;
    if (rows.count > 0 && rows.first + rows.count > *touched) { /* none: a garbage address */
        *touched = rows.first + rows.count;
    }
}

static void mark_read(gt_rows rows, int unit, uint64_t when) {
    touch(rows);
    dt_rows_mark_read(deps(rows), rows.first, rows.count, (uint8_t)unit, when);
}

static void mark_written(gt_rows rows, int unit, uint64_t when) {
    touch(rows);
    dt_rows_mark_written(deps(rows), rows.first, rows.count, (uint8_t)unit, when);
}

static uint64_t dispatch(int unit) {
    return dt_host_issue(&host, &units[unit], NNMAP_GEMMINI_ISSUE_INTERVAL, DISPATCH_LATENCY);
}

/* Cycles to write (or read) `rows.count` local rows at the memory's bandwidth. */
static uint64_t local_row_cycles(gt_rows rows, uint64_t spad_bw, uint64_t acc_bw) {
    uint64_t row_bytes = rows.accumulator ? DIM * 4u : DIM;
    return rows.count * ceil_div(row_bytes, rows.accumulator ? acc_bw : spad_bw);
}

void gt_reset(void) {
    dt_host_reset(&host);
    dt_unit_init(&units[GT_LOAD], load_ring, NNMAP_GEMMINI_LOAD_QUEUE);
    dt_unit_init(&units[GT_EXECUTE], execute_ring, NNMAP_GEMMINI_EXECUTE_QUEUE);
    dt_unit_init(&units[GT_STORE], store_ring, NNMAP_GEMMINI_STORE_QUEUE);
    for (uint32_t row = 0; row < spad_touched; ++row) {
        spad_deps[row] = (dt_row){0};
    }
    for (uint32_t row = 0; row < acc_touched; ++row) {
        acc_deps[row] = (dt_row){0};
    }
    spad_touched = acc_touched = 0;
    staged_reload = 0;
}

void gt_mvin(gt_rows dest, uint64_t bytes) {
    uint64_t ready = max_u64(dispatch(GT_LOAD), ready_to_write(dest, GT_LOAD));
    uint64_t writes = local_row_cycles(dest, NNMAP_GEMMINI_SPAD_WRITE_BYTES_PER_CYCLE,
                                       NNMAP_GEMMINI_ACC_WRITE_BYTES_PER_CYCLE);
    uint64_t transfer = ceil_div(bytes, NNMAP_GEMMINI_DRAM_READ_BYTES_PER_CYCLE);
    dt_span span = dt_unit_run(&units[GT_LOAD], ready, max_u64(transfer, writes),
                               NNMAP_GEMMINI_DRAM_LATENCY);
    mark_written(dest, GT_LOAD, span.finish);
    dt_host_retire(&host, span.finish);
}

void gt_mvout(gt_rows source, uint64_t bytes) {
    uint64_t ready = max_u64(dispatch(GT_STORE), ready_to_read(source));
    uint64_t reads = local_row_cycles(source, NNMAP_GEMMINI_SPAD_READ_BYTES_PER_CYCLE,
                                      NNMAP_GEMMINI_ACC_READ_BYTES_PER_CYCLE);
    uint64_t occupancy = max_u64(ceil_div(bytes, NNMAP_GEMMINI_DRAM_WRITE_BYTES_PER_CYCLE), reads);
    dt_span span = dt_unit_run(&units[GT_STORE], ready, occupancy, NNMAP_GEMMINI_STORE_LATENCY);
    mark_read(source, GT_STORE, span.start + occupancy);
    dt_host_retire(&host, span.finish);
}

void gt_preload(gt_rows weights) {
    uint64_t ready = max_u64(dispatch(GT_EXECUTE), ready_to_read(weights));
    dt_span span = dt_unit_run(&units[GT_EXECUTE], ready, 0, 0);
    staged_reload = ceil_div(NNMAP_GEMMINI_RELOAD_CYCLES * weights.count, DIM);
    mark_read(weights, GT_EXECUTE, span.start + staged_reload);
}

void gt_compute(gt_rows inputs, gt_rows bias, gt_rows output, uint32_t a_rows, int preloaded) {
    uint64_t ready = max_u64(dispatch(GT_EXECUTE), ready_to_read(inputs));
    ready = max_u64(ready, max_u64(ready_to_read(bias), ready_to_write(output, GT_EXECUTE)));
    uint64_t occupancy = max_u64(a_rows, preloaded ? staged_reload : 0);
    if (preloaded) {
        staged_reload = 0;
    }
    dt_span span = dt_unit_run(&units[GT_EXECUTE], ready, occupancy,
                               NNMAP_GEMMINI_FILL_CYCLES + NNMAP_GEMMINI_DRAIN_CYCLES);
    mark_read(inputs, GT_EXECUTE, span.start + occupancy);
    mark_read(bias, GT_EXECUTE, span.start + occupancy);
    mark_written(output, GT_EXECUTE, span.finish);
    dt_host_retire(&host, span.finish);
}

void gt_config(int unit) {
    dt_span span = dt_unit_run(&units[unit], dispatch(unit), 0, 0);
    dt_host_retire(&host, span.finish);
}

void gt_fence(void) { dt_host_fence(&host, NNMAP_GEMMINI_FENCE); }

uint64_t gt_now(void) { return dt_host_now(&host); }

void gt_counters(uint64_t *load, uint64_t *execute, uint64_t *store) {
    *load = units[GT_LOAD].busy_cycles;
    *execute = units[GT_EXECUTE].busy_cycles;
    *store = units[GT_STORE].busy_cycles;
}
