/* Timing engine for decoupled accelerators: in-order units fed through bounded queues by a host,
 * synchronised through the rows of local memories they read and write.
 *
 * A unit (load, execute, store, ...) runs its instructions in order; an instruction occupies the
 * unit for `occupancy` cycles (its throughput cost) and finishes `latency` cycles later. A queue
 * entry is held from dispatch until the instruction finishes, so a full queue stalls the host.
 * Dependencies are tracked per local-memory row: a read waits for the last write (RAW), a write
 * waits for reads by other units (WAR) and for a write by another unit (WAW); a unit's own
 * writes and reads stay ordered by its in-order pipeline. Each accelerator's units map onto this.
 * All state lives in caller-provided storage: no allocation. */
#ifndef NNMAP_DECOUPLED_TIMING_H
#define NNMAP_DECOUPLED_TIMING_H

#include <stdint.h>

#define DT_MAX_UNITS 4

typedef struct {
    uint64_t start;
    uint64_t finish;
} dt_span;

typedef struct {
    uint64_t free_at;     /* first cycle the unit can start another instruction */
    uint64_t busy_cycles; /* sum of occupancies */
    uint64_t *finish_ring; /* finish cycles of the last `depth` instructions, oldest at `next` */
    uint32_t depth;
    uint32_t next;
} dt_unit;

typedef struct {
    uint64_t issue_clock; /* next cycle the host may issue an instruction */
    uint64_t all_done;    /* latest finish of anything issued so far */
} dt_host;

typedef struct {
    uint64_t written_at;
    uint64_t read_at[DT_MAX_UNITS];
    uint8_t writer;
} dt_row;

void dt_unit_init(dt_unit *unit, uint64_t *finish_ring, uint32_t depth);
dt_span dt_unit_run(dt_unit *unit, uint64_t ready, uint64_t occupancy, uint64_t latency);

void dt_host_reset(dt_host *host);
uint64_t dt_host_issue(dt_host *host, const dt_unit *unit, uint64_t interval, uint64_t latency);
void dt_host_retire(dt_host *host, uint64_t finish);
void dt_host_fence(dt_host *host, uint64_t cycles);
uint64_t dt_host_now(const dt_host *host);

uint64_t dt_rows_ready_to_read(const dt_row *rows, uint32_t first, uint32_t count);
uint64_t dt_rows_ready_to_write(const dt_row *rows, uint32_t first, uint32_t count, uint8_t unit);
void dt_rows_mark_read(dt_row *rows, uint32_t first, uint32_t count, uint8_t unit, uint64_t when);
void dt_rows_mark_written(dt_row *rows, uint32_t first, uint32_t count, uint8_t unit,
                          uint64_t when);

#endif
