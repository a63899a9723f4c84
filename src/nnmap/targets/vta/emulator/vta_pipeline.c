/* VTA's three-stage pipeline on the common decoupled-unit timing engine (decoupled_timing.h).
 *
 * Load (INP/WGT loads), compute (UOP/ACC loads, GEMM, ALU) and store run their commands in order,
 * each occupying its stage for the instruction's cost (shared/reference/vta.md cost table, with
 * the numbers rendered into vta_params.h from the vta target). Stages overlap freely; only
 * dependency tokens order them: a pushed token carries the cycle the sender's previous command
 * finished, and a pop delays the receiver's next command to that cycle. A token rides on the
 * flags of a neighbouring instruction (no separate no-op is charged, assumed). The command buffer
 * is already in DRAM at the sync, so fetch and the instruction queues are not modelled (assumed).
 *
 * The engine tracks dependencies through memory rows; VTA's explicit token queues are this file's
 * adapter. Commands execute (functionally) in the order this schedule starts them, which respects
 * every token, so a race-free program gets the buffers the hardware would produce.
 * vta_pipeline_time runs the same schedule without executing anything: what nnmap's cost model
 * times command lists with (vta_command_timing.c), so the two cannot disagree. */
#include <stdlib.h>

#include "decoupled_timing.h"
#include "vta_internal.h"
#include "vta_runtime.h"

static const char *const stage_names[STAGE_COUNT] = {"load", "compute", "store"};
static uint64_t rings[STAGE_COUNT][1];
static dt_unit units[STAGE_COUNT] = {
    {0, 0, rings[STAGE_LOAD], 1, 0},
    {0, 0, rings[STAGE_COMPUTE], 1, 0},
    {0, 0, rings[STAGE_STORE], 1, 0},
};

typedef struct {
    uint64_t *times; /* cycle each pending token became available, oldest at `head` */
    uint32_t head, tail;
} token_fifo;

typedef struct {
    const vta_cmd *cmds;
    uint32_t *order[STAGE_COUNT]; /* command indices of each stage, in program order */
    uint32_t count[STAGE_COUNT], next[STAGE_COUNT];
    uint64_t ready[STAGE_COUNT], last_finish[STAGE_COUNT];
    token_fifo fifos[VTA_TOKEN_QUEUES];
} schedule;

void vta_pipeline_reset(void) {
    for (int s = 0; s < STAGE_COUNT; ++s) {
        dt_unit_init(&units[s], rings[s], 1);
    }
}

uint64_t vta_pipeline_busy(int stage) { return units[stage].busy_cycles; }

static uint64_t max_u64(uint64_t a, uint64_t b) { return a > b ? a : b; }

/* ceil(tenths * x / 10): a per-entry cost given in tenths of a cycle. */
static uint64_t scaled(uint64_t tenths, uint64_t x) { return (tenths * x + 9) / 10; }

static uint64_t transfer_cost(const vta_cmd *cmd) {
    const vta_transfer *t = &cmd->transfer;
    uint64_t rows = (uint64_t)t->y_pad_before + t->y_size + t->y_pad_after;
    uint64_t area = rows * ((uint64_t)t->x_pad_before + t->x_size + t->x_pad_after);
    uint64_t tenths = NNMAP_VTA_STORE_CYCLES_PER_ENTRY_X10;
    if (cmd->kind == VTA_LOAD) {
        switch (t->memory_type) {
        case VTA_MEM_ID_UOP: tenths = NNMAP_VTA_LOAD_UOP_CYCLES_PER_ENTRY_X10; break;
        case VTA_MEM_ID_WGT: tenths = NNMAP_VTA_LOAD_WGT_CYCLES_PER_ENTRY_X10; break;
        case VTA_MEM_ID_INP: tenths = NNMAP_VTA_LOAD_INP_CYCLES_PER_ENTRY_X10; break;
        default: tenths = NNMAP_VTA_LOAD_ACC_CYCLES_PER_ENTRY_X10; break;
        }
    }
    return scaled(tenths, area) + NNMAP_VTA_MEMORY_OVERHEAD;
}

uint64_t vta_cost(const vta_cmd *cmd) {
    const vta_compute *op = &cmd->compute;
    uint64_t steps = (uint64_t)op->extent[0] * op->extent[1] * (op->uop_end - op->uop_begin);
    switch (cmd->kind) {
    case VTA_LOAD:
    case VTA_STORE: return transfer_cost(cmd);
    case VTA_GEMM: return scaled(NNMAP_VTA_GEMM_CYCLES_PER_UOP_X10, steps) + NNMAP_VTA_GEMM_OVERHEAD;
    case VTA_ALU:
        if (op->use_imm) {
            return scaled(NNMAP_VTA_ALU_IMM_CYCLES_PER_ELEMENT_X10, steps) +
                   NNMAP_VTA_ALU_IMM_OVERHEAD;
        }
        return scaled(NNMAP_VTA_ALU_TENSOR_CYCLES_PER_ELEMENT_X10, steps) +
               NNMAP_VTA_ALU_TENSOR_OVERHEAD;
    default: return 0;
    }
}

int vta_stage_of(vta_kind kind, uint32_t memory_type, int q_from, int q_to) {
    switch (kind) {
    case VTA_LOAD:
        return memory_type == VTA_MEM_ID_INP || memory_type == VTA_MEM_ID_WGT ? STAGE_LOAD
                                                                             : STAGE_COMPUTE;
    case VTA_STORE: return STAGE_STORE;
    case VTA_PUSH: return q_from - 1;
    case VTA_POP: return q_to - 1;
    default: return STAGE_COMPUTE;
    }
}

int vta_token_queue(int from, int to) {
    if (from == 1 && to == 2) return 0;
    if (from == 2 && to == 1) return 1;
    if (from == 2 && to == 3) return 2;
    if (from == 3 && to == 2) return 3;
    return -1;
}

/* Run stage `s` until it finishes or waits on an empty token queue; whether it advanced.
 * `execute`: also run each command's functional meaning (0: timing only, no data moved). */
static int advance(schedule *plan, int s, int execute) {
    int moved = 0;
    while (plan->next[s] < plan->count[s]) {
        const vta_cmd *cmd = &plan->cmds[plan->order[s][plan->next[s]]];
        if (cmd->kind == VTA_POP) {
            token_fifo *fifo = &plan->fifos[vta_token_queue(cmd->q_from, cmd->q_to)];
            if (fifo->head == fifo->tail) return moved;
            plan->ready[s] = max_u64(plan->ready[s], fifo->times[fifo->head++]);
        } else if (cmd->kind == VTA_PUSH) {
            token_fifo *fifo = &plan->fifos[vta_token_queue(cmd->q_from, cmd->q_to)];
            fifo->times[fifo->tail++] = max_u64(plan->last_finish[s], plan->ready[s]);
        } else {
            dt_span span = dt_unit_run(&units[s], plan->ready[s], vta_cost(cmd), 0);
            plan->last_finish[s] = span.finish;
            if (execute) vta_execute(cmd);
        }
        plan->next[s]++;
        moved = 1;
    }
    return moved;
}

/* The stage left waiting for a token that is never pushed (-1: none). */
static int stuck_stage(const schedule *plan) {
    for (int s = 0; s < STAGE_COUNT; ++s) {
        if (plan->next[s] < plan->count[s]) return s;
    }
    return -1;
}

/* A token queue holding tokens that are never popped (-1: none). */
static int unpopped_queue(const schedule *plan) {
    for (int q = 0; q < VTA_TOKEN_QUEUES; ++q) {
        if (plan->fifos[q].tail != plan->fifos[q].head) return q;
    }
    return -1;
}

static void report_incomplete(const schedule *plan) {
    static const int ends[VTA_TOKEN_QUEUES][2] = {{1, 2}, {2, 1}, {2, 3}, {3, 2}};
    int s = stuck_stage(plan);
    int q = unpopped_queue(plan);
    if (s >= 0) {
        const vta_cmd *cmd = &plan->cmds[plan->order[s][plan->next[s]]];
        vta_fail("deadlock: the %s stage pops a token from the %s stage (VTADepPop(%d, %d)) "
                 "that is never pushed",
                 stage_names[s], stage_names[cmd->q_from - 1], cmd->q_from, cmd->q_to);
    } else if (q >= 0) {
        vta_fail("%u token(s) pushed from the %s stage to the %s stage (VTADepPush(%d, %d)) "
                 "never popped",
                 plan->fifos[q].tail - plan->fifos[q].head, stage_names[ends[q][0] - 1],
                 stage_names[ends[q][1] - 1], ends[q][0], ends[q][1]);
    }
}

static int plan_init(schedule *plan, const vta_cmd *cmds, uint32_t count, uint64_t start) {
    *plan = (schedule){.cmds = cmds};
    int ok = 1;
    for (int s = 0; s < STAGE_COUNT; ++s) {
        plan->order[s] = malloc(sizeof(uint32_t) * (count + 1));
        plan->ready[s] = plan->last_finish[s] = start;
        ok = ok && plan->order[s] != NULL;
    }
    for (int q = 0; q < VTA_TOKEN_QUEUES; ++q) {
        plan->fifos[q].times = malloc(sizeof(uint64_t) * (count + 1));
        ok = ok && plan->fifos[q].times != NULL;
    }
    for (uint32_t i = 0; ok && i < count; ++i) {
        plan->order[cmds[i].stage][plan->count[cmds[i].stage]++] = i;
    }
    return ok;
}

static void plan_free(schedule *plan) {
    for (int s = 0; s < STAGE_COUNT; ++s) free(plan->order[s]);
    for (int q = 0; q < VTA_TOKEN_QUEUES; ++q) free(plan->fifos[q].times);
}

/* Schedule the commands from `start`: the end cycle; `complete` is cleared when a stage is left
 * waiting for a token or a token is left unpopped. */
static uint64_t schedule_commands(const vta_cmd *cmds, uint32_t count, uint64_t start, int execute,
                                  int *complete) {
    schedule plan;
    if (!plan_init(&plan, cmds, count, start)) {
        if (execute) vta_fail("VTASynchronize: out of memory scheduling %u commands", count);
        plan_free(&plan);
        *complete = 0;
        return start;
    }
    int moved = 1;
    while (moved) {
        moved = 0;
        for (int s = 0; s < STAGE_COUNT; ++s) moved |= advance(&plan, s, execute);
    }
    *complete = stuck_stage(&plan) < 0 && unpopped_queue(&plan) < 0;
    if (execute) report_incomplete(&plan);
    uint64_t end = start;
    for (int s = 0; s < STAGE_COUNT; ++s) end = max_u64(end, plan.last_finish[s]);
    plan_free(&plan);
    return end;
}

uint64_t vta_pipeline_run(const vta_cmd *cmds, uint32_t count, uint64_t start) {
    int complete;
    return schedule_commands(cmds, count, start, 1, &complete);
}

uint64_t vta_pipeline_time(const vta_cmd *cmds, uint32_t count) {
    int complete;
    uint64_t end = schedule_commands(cmds, count, 0, 0, &complete);
    return complete ? end : UINT64_MAX;
}
