/* nnmap's host emulation of the PMSIS calls generated GAP9 code makes (cluster team, cluster
 * DMA, L1 allocation) and of the pulp-nnx NE16 driver calls (ne16.h). Names and arguments follow
 * the GAP9 SDK's PMSIS API; addresses are uintptr_t (uint32_t on GAP9, a pointer on the host).
 * Functional: every call does what its name says. Timing: gap9_emulator.c. Deviation from a real
 * cluster: the cores of a fork run one after the other, so a kernel may call the team barrier
 * only as the last statement of a forked function (the generated code does). */
#ifndef NNMAP_GAP9_PMSIS_H
#define NNMAP_GAP9_PMSIS_H

#include <stddef.h>
#include <stdint.h>

typedef enum { PI_CL_DMA_DIR_LOC2EXT = 0, PI_CL_DMA_DIR_EXT2LOC = 1 } pi_cl_dma_dir_e;

typedef struct {
    uint64_t done; /* emulated cycle at which the transfer completes */
    uint32_t id;
} pi_cl_dma_cmd_t;

void pi_cl_dma_cmd(uintptr_t ext, uintptr_t loc, uint32_t size, pi_cl_dma_dir_e dir,
                   pi_cl_dma_cmd_t *cmd);
void pi_cl_dma_cmd_2d(uintptr_t ext, uintptr_t loc, uint32_t size, uint32_t stride,
                      uint32_t length, pi_cl_dma_dir_e dir, pi_cl_dma_cmd_t *cmd);
void pi_cl_dma_wait(pi_cl_dma_cmd_t *cmd);
void pi_cl_team_fork(int nb_cores, void (*entry)(void *), void *argument);
void pi_cl_team_barrier(void);
int pi_core_id(void);
int pi_cl_cluster_nb_cores(void);
void *pi_cl_l1_malloc(void *device, uint32_t size);
void pi_cl_l1_free(void *device, void *chunk, uint32_t size);

/* The emulator's per-core cycle model: a core reports the outputs it computed and their
 * multiply-accumulates (compiled out of device builds). */
void nnmap_gap9_core_work(int outputs, int macs_per_output, int depthwise);
void nnmap_gap9_core_convert(int bytes);
void nnmap_gap9_core_add(int elements);
void nnmap_gap9_core_pool(int outputs, int window);
#ifdef NNMAP_EMULATOR
#define NNMAP_GAP9_CORE_WORK(outputs, macs, depthwise) \
    nnmap_gap9_core_work((outputs), (macs), (depthwise))
#define NNMAP_GAP9_CORE_CONVERT(bytes) nnmap_gap9_core_convert(bytes)
#define NNMAP_GAP9_CORE_ADD(elements) nnmap_gap9_core_add(elements)
#define NNMAP_GAP9_CORE_POOL(outputs, window) nnmap_gap9_core_pool((outputs), (window))
#else
#define NNMAP_GAP9_CORE_WORK(outputs, macs, depthwise) ((void)0)
#define NNMAP_GAP9_CORE_CONVERT(bytes) ((void)0)
#define NNMAP_GAP9_CORE_ADD(elements) ((void)0)
#define NNMAP_GAP9_CORE_POOL(outputs, window) ((void)0)
#endif

/* Control of the emulator (an artifact's runner; nnmap's tests). */
void nnmap_gap9_reset(void);
const char *nnmap_gap9_error(void);
size_t nnmap_gap9_layer_count(void);
const char *nnmap_gap9_layer_name(size_t index);
uint64_t nnmap_gap9_layer_cycles(size_t index);
uint64_t nnmap_gap9_now(void);
uint64_t nnmap_gap9_dma_busy(void);
void nnmap_gap9_layer_begin(const char *name);
void nnmap_gap9_layer_end(void);
uint64_t nnmap_gap9_dma_transfer(uintptr_t ext, uintptr_t loc, uint32_t size, uint32_t stride,
                                 uint32_t length, int to_l1);
void nnmap_gap9_fail(const char *message);
void nnmap_gap9_advance(uint64_t cycles);
void nnmap_gap9_wait_until(uint64_t cycle);
int nnmap_gap9_in_l1(uintptr_t address, uint32_t size);
void nnmap_cluster_layer_begin(const char *name);
void nnmap_cluster_layer_end(void);

#endif
