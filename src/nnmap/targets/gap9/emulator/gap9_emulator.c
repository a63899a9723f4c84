/* The GAP9 emulator's shared part: the layer records, the L1 allocator, the cluster DMA.
 * DMA timing (gap9_dma_params.h, from gap9.md): one DMA queue; a transfer occupies it for
 * OVERHEAD + ceil(bytes / BYTES_PER_CYCLE) + ROW_CYCLES per row of a 2-D transfer and starts
 * when the queue is free and the core has issued it (ISSUE cycles on the core). Data moves at
 * issue; a wait advances the core's clock to the transfer's end. */
#include <string.h>

#include "gap9_params.h"
#include "pmsis.h"

#define MAX_LAYERS 512
#define L1_CAPACITY NNMAP_GAP9_L1_BYTES

static _Alignas(16) uint8_t l1[L1_CAPACITY];
static uint32_t l1_used;
static uint64_t now, dma_free, dma_busy;
static uint32_t transfers;
static const char *layer_names[MAX_LAYERS];
static uint64_t layer_cycles[MAX_LAYERS];
static size_t layers;
static char error_text[256];

void nnmap_gap9_fail(const char *message) {
    if (error_text[0] == 0) {
        strncpy(error_text, message, sizeof error_text - 1);
    }
}

void nnmap_gap9_reset(void) {
    layers = 0;
    l1_used = 0;
    now = dma_free = dma_busy = 0;
    error_text[0] = 0;
}

const char *nnmap_gap9_error(void) { return error_text[0] ? error_text : 0; }
size_t nnmap_gap9_layer_count(void) { return layers; }
const char *nnmap_gap9_layer_name(size_t index) { return index < layers ? layer_names[index] : 0; }
uint64_t nnmap_gap9_layer_cycles(size_t index) { return index < layers ? layer_cycles[index] : 0; }
uint64_t nnmap_gap9_now(void) { return now; }
uint64_t nnmap_gap9_dma_busy(void) { return dma_busy; }
void nnmap_gap9_advance(uint64_t cycles) { now += cycles; }
void nnmap_gap9_wait_until(uint64_t cycle) { now = cycle > now ? cycle : now; }

void nnmap_gap9_layer_begin(const char *name) {
    if (layers == MAX_LAYERS) {
        nnmap_gap9_fail("more layers than the emulator records");
        return;
    }
    layer_names[layers] = name;
    now = 0;
    dma_free = 0;
}

void nnmap_gap9_layer_end(void) {
    if (layers < MAX_LAYERS) {
        layer_cycles[layers++] = now > dma_free ? now : dma_free;
    }
}

int nnmap_gap9_in_l1(uintptr_t address, uint32_t size) {
    uintptr_t first = (uintptr_t)l1;
    return address >= first && address + size <= first + L1_CAPACITY;
}

void *pi_cl_l1_malloc(void *device, uint32_t size) {
    (void)device;
    uint32_t aligned = (size + 15u) & ~15u;
    if (l1_used + aligned > L1_CAPACITY) {
        nnmap_gap9_fail("pi_cl_l1_malloc: the tiles need more L1 than the cluster has");
        return 0;
    }
    void *chunk = l1 + l1_used;
    l1_used += aligned;
    return chunk;
}

void pi_cl_l1_free(void *device, void *chunk, uint32_t size) {
    (void)device;
    uint32_t aligned = (size + 15u) & ~15u;
    if ((uint8_t *)chunk + aligned != l1 + l1_used) {
        nnmap_gap9_fail("pi_cl_l1_free: chunks must be freed in the reverse order of allocation");
        return;
    }
    l1_used -= aligned;
}

/* Copy `size` bytes as rows of `length` bytes, `stride` apart in L2 and packed in L1; time it. */
uint64_t nnmap_gap9_dma_transfer(uintptr_t ext, uintptr_t loc, uint32_t size, uint32_t stride,
                                 uint32_t length, int to_l1) {
    uint32_t rows = length ? (size + length - 1) / length : 0;
    if (!nnmap_gap9_in_l1(loc, size)) {
        nnmap_gap9_fail("DMA: the local address is not inside L1");
        return now;
    }
    for (uint32_t row = 0; row < rows; row++) {
        uint32_t bytes = size - row * length < length ? size - row * length : length;
        uint8_t *remote = (uint8_t *)(ext + (uintptr_t)row * stride);
        uint8_t *local = (uint8_t *)(loc + (uintptr_t)row * length);
        memcpy(to_l1 ? local : remote, to_l1 ? remote : local, bytes);
    }
    uint64_t busy = NNMAP_GAP9_DMA_OVERHEAD
        + (size + NNMAP_GAP9_DMA_BYTES_PER_CYCLE - 1) / NNMAP_GAP9_DMA_BYTES_PER_CYCLE
        + (stride != length ? (uint64_t)rows * NNMAP_GAP9_DMA_ROW_CYCLES : 0);
    now += NNMAP_GAP9_DMA_ISSUE;
    dma_free = (now > dma_free ? now : dma_free) + busy;
    dma_busy += busy;
    transfers++;
    return dma_free;
}

void pi_cl_dma_cmd(uintptr_t ext, uintptr_t loc, uint32_t size, pi_cl_dma_dir_e dir,
                   pi_cl_dma_cmd_t *cmd) {
    cmd->done = nnmap_gap9_dma_transfer(ext, loc, size, size, size, dir == PI_CL_DMA_DIR_EXT2LOC);
    cmd->id = transfers;
}

void pi_cl_dma_cmd_2d(uintptr_t ext, uintptr_t loc, uint32_t size, uint32_t stride,
                      uint32_t length, pi_cl_dma_dir_e dir, pi_cl_dma_cmd_t *cmd) {
    if (length == 0 || stride < length) {
        nnmap_gap9_fail("pi_cl_dma_cmd_2d: the row length must be positive and at most the stride");
        return;
    }
    cmd->done = nnmap_gap9_dma_transfer(ext, loc, size, stride, length,
                                        dir == PI_CL_DMA_DIR_EXT2LOC);
    cmd->id = transfers;
}

void pi_cl_dma_wait(pi_cl_dma_cmd_t *cmd) { nnmap_gap9_wait_until(cmd->done); }
