/* Decoupled-unit timing engine; see decoupled_timing.h for the model. */
#include "decoupled_timing.h"

#include <string.h>

static uint64_t max_u64(uint64_t a, uint64_t b) { return a > b ? a : b; }

void dt_unit_init(dt_unit *unit, uint64_t *finish_ring, uint32_t depth) {
    memset(finish_ring, 0, sizeof(*finish_ring) * depth);
    unit->free_at = 0;
    unit->busy_cycles = 0;
    unit->finish_ring = finish_ring;
    unit->depth = depth;
    unit->next = 0;
}

dt_span dt_unit_run(dt_unit *unit, uint64_t ready, uint64_t occupancy, uint64_t latency) {
    dt_span span;
    span.start = max_u64(ready, unit->free_at);
    span.finish = span.start + occupancy + latency;
    unit->free_at = span.start + occupancy;
    unit->busy_cycles += occupancy;
    unit->finish_ring[unit->next] = span.finish;
    unit->next = (unit->next + 1) % unit->depth;
    return span;
}

void dt_host_reset(dt_host *host) {
    host->issue_clock = 0;
    host->all_done = 0;
}

/* The host issues when a queue slot is free; the instruction reaches its unit `latency` later. */
uint64_t dt_host_issue(dt_host *host, const dt_unit *unit, uint64_t interval, uint64_t latency) {
    uint64_t slot_free = unit->finish_ring[unit->next];
    uint64_t issued = max_u64(host->issue_clock, slot_free);
    host->issue_clock = issued + interval;
    return issued + latency;
}

void dt_host_retire(dt_host *host, uint64_t finish) { host->all_done = max_u64(host->all_done, finish); }

void dt_host_fence(dt_host *host, uint64_t cycles) {
    host->issue_clock = max_u64(host->issue_clock, host->all_done) + cycles;
}

uint64_t dt_host_now(const dt_host *host) { return max_u64(host->issue_clock, host->all_done); }

uint64_t dt_rows_ready_to_read(const dt_row *rows, uint32_t first, uint32_t count) {
    uint64_t ready = 0;
    for (uint32_t row = first; row < first + count; ++row) {
        ready = max_u64(ready, rows[row].written_at);
    }
    return ready;
}

uint64_t dt_rows_ready_to_write(const dt_row *rows, uint32_t first, uint32_t count, uint8_t unit) {
    uint64_t ready = 0;
    for (uint32_t row = first; row < first + count; ++row) {
        if (rows[row].writer != unit) {
            ready = max_u64(ready, rows[row].written_at);
        }
        for (uint8_t other = 0; other < DT_MAX_UNITS; ++other) {
            if (other != unit) {
                ready = max_u64(ready, rows[row].read_at[other]);
            }
        }
    }
    return ready;
}

void dt_rows_mark_read(dt_row *rows, uint32_t first, uint32_t count, uint8_t unit, uint64_t when) {
    for (uint32_t row = first; row < first + count; ++row) {
        rows[row].read_at[unit] = max_u64(rows[row].read_at[unit], when);
    }
}

void dt_rows_mark_written(dt_row *rows, uint32_t first, uint32_t count, uint8_t unit,
                          uint64_t when) {
    for (uint32_t row = first; row < first + count; ++row) {
        rows[row].written_at = max_u64(rows[row].written_at, when);
        rows[row].writer = unit;
    }
}
