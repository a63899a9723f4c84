/* The cluster team: pi_cl_team_fork runs the entry on each core in turn (core id set), each
 * core's cycles from the per-core model of gap9_params.h (rendered from the target's
 * modules): a core's outputs x (ceil(MACs x CYCLES_PER_32_MACS / 32) + OUTPUT_CYCLES).
 * A fork costs FORK cycles plus its slowest core. */
#include "gap9_params.h"
#include "pmsis.h"

#define CORES 8

static int current_core = -1;
static uint64_t core_cycles[CORES];

int pi_core_id(void) { return current_core < 0 ? 0 : current_core; }
int pi_cl_cluster_nb_cores(void) { return CORES; }

void pi_cl_team_fork(int nb_cores, void (*entry)(void *), void *argument) {
    uint64_t slowest = 0;
    if (nb_cores != CORES || current_core >= 0) {
        nnmap_gap9_fail("pi_cl_team_fork: forks the 8 cores once, from the cluster controller");
        return;
    }
    for (int core = 0; core < CORES; core++) {
        current_core = core;
        core_cycles[core] = 0;
        entry(argument);
        slowest = core_cycles[core] > slowest ? core_cycles[core] : slowest;
    }
    current_core = -1;
    nnmap_gap9_advance(NNMAP_GAP9_FORK + slowest);
}

void pi_cl_team_barrier(void) {
    if (current_core < 0) {
        nnmap_gap9_fail("pi_cl_team_barrier: called outside a fork");
    }
}

void nnmap_gap9_core_work(int outputs, int macs_per_output, int depthwise) {
    uint64_t per_32 = depthwise ? NNMAP_GAP9_DEPTHWISE_CYCLES_PER_32_MACS
                                : NNMAP_GAP9_CONV_CYCLES_PER_32_MACS;
    uint64_t macs = ((uint64_t)macs_per_output * per_32 + 31) / 32;
    if (current_core < 0) {
        nnmap_gap9_fail("nnmap_gap9_core_work: called outside a fork");
        return;
    }
    core_cycles[current_core] += (uint64_t)outputs * (macs + NNMAP_GAP9_OUTPUT_CYCLES);
}

void nnmap_gap9_core_convert(int bytes) {
    if (current_core < 0) {
        nnmap_gap9_fail("nnmap_gap9_core_convert: called outside a fork");
        return;
    }
    core_cycles[current_core] += ((uint64_t)bytes + 3) / 4 * NNMAP_GAP9_CONVERT_CYCLES_PER_4_BYTES;
}

void nnmap_gap9_core_add(int elements) {
    if (current_core < 0) {
        nnmap_gap9_fail("nnmap_gap9_core_add: called outside a fork");
        return;
    }
    core_cycles[current_core] += (uint64_t)elements * NNMAP_GAP9_ADD_CYCLES;
}

void nnmap_gap9_core_pool(int outputs, int window) {
    if (current_core < 0) {
        nnmap_gap9_fail("nnmap_gap9_core_pool: called outside a fork");
        return;
    }
    core_cycles[current_core] += (uint64_t)outputs
        * ((uint64_t)window * NNMAP_GAP9_POOL_TAP_CYCLES + NNMAP_GAP9_POOL_OUTPUT_CYCLES);
}
