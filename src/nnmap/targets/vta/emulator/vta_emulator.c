/* nnmap's emulation of VTA's runtime API (vta_runtime.h): commands are queued as the real runtime
 * queues instructions, and VTASynchronize runs them through the three-stage pipeline model
 * (vta_pipeline.c), which executes them functionally (vta_exec.c) and counts cycles.
 *
 * Micro-op kernels are recorded once per handle by calling `finit`; a kernel is loaded into the
 * micro-op buffer (a LOAD UOP on the compute stage) the first time it is pushed, and again after
 * the buffer filled up and was recycled from entry 0 (assumed policy). `signature` and `nbytes`
 * are not needed: the handle identifies the kernel. `wait_cycles` is the real runtime's polling
 * timeout and has no meaning here.
 *
 * DRAM follows VTA's runtime: DMA works only on buffers from VTABufferAlloc, named by their handle
 * plus an element offset (a raw pointer is reported, as the real runtime would dereference it as
 * its own buffer object). Each buffer has two copies, the CPU's cached view (VTABufferCPUPtr) and
 * the DRAM VTA reads and writes: VTAReadBarrier flushes the CPU's view into DRAM before VTA reads,
 * VTAWriteBarrier invalidates it after VTA wrote. A load of bytes the CPU changed without a read
 * barrier, or a layer that ends with stored bytes no write barrier made visible, is reported. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vta_internal.h"
#include "vta_runtime.h"

#define MAX_LAYERS 1024
#define LAYER_NAME_BYTES 64
#define MODE_GEMM 0u
#define MODE_ALU 1u
#define MAX_PENDING_STORES 4096

typedef struct {
    uint32_t *uops; /* packed (dst, src, wgt), dst in the low bits */
    uint32_t count, capacity, loops;
    vta_compute op; /* loops, reset, opcode, immediate; uop range set when loaded */
    uint32_t mode;
    int has_uops;
    uint64_t generation; /* uop-buffer generation it was loaded in (0: never) */
} vta_kernel;

typedef struct {
    char name[LAYER_NAME_BYTES];
    uint64_t begin, cycles;
} vta_layer;

static vta_cmd *queue;
static uint32_t queued, queue_capacity;
static uint64_t clock_now;
static char error_text[512];
static vta_kernel *recording;
static uint32_t open_loops, uop_top;
static uint64_t uop_generation = 1;
static vta_layer layers[MAX_LAYERS];
static uint32_t layer_count;
static int layer_open;
static int command_handle;

/* A buffer from VTABufferAlloc; the handle is its address. `stale` is the byte range VTA stored
 * that no VTAWriteBarrier has made visible to the CPU yet (begin == end: none). */
typedef struct vta_buffer {
    size_t size;
    uint8_t *cpu;
    uint8_t *dram;
    size_t stale_begin, stale_end;
    struct vta_buffer *next;
} vta_buffer;

typedef struct {
    vta_buffer *buffer;
    size_t begin, end;
} vta_byte_range;

static vta_buffer *buffers;
static vta_byte_range pending_stores[MAX_PENDING_STORES];
static uint32_t pending_store_count;

static vta_buffer *find_buffer(const void *handle) {
    for (vta_buffer *b = buffers; b != NULL; b = b->next) {
        if (b == handle) return b;
    }
    return NULL;
}

static const char *current_layer(void) {
    return layer_open ? layers[layer_count - 1].name : "(outside a layer)";
}

/* The bytes of `buffer` a 2D transfer touches, checked against the buffer (0: reported). */
static int dram_range(const char *call, const vta_buffer *buffer, uint32_t entry_bytes,
                      uint32_t elem_offset, uint32_t x_size, uint32_t y_size, uint32_t x_stride,
                      vta_byte_range *range) {
    uint64_t last = (uint64_t)elem_offset + (uint64_t)(y_size ? y_size - 1 : 0) * x_stride + x_size;
    range->begin = (size_t)elem_offset * entry_bytes;
    range->end = (size_t)(last * entry_bytes);
    if (range->end > buffer->size) {
        vta_fail("layer %s: %s: elements %u..%llu of %u B reach past the %zu B buffer", current_layer(),
                 call, elem_offset, (unsigned long long)last - 1, entry_bytes, buffer->size);
        return 0;
    }
    return 1;
}

static vta_buffer *dma_buffer(const char *call, const void *handle) {
    vta_buffer *buffer = find_buffer(handle);
    if (buffer == NULL) {
        vta_fail("layer %s: %s: %p is not a buffer from VTABufferAlloc (pass the buffer handle and "
                 "an element offset, not a raw pointer)", current_layer(), call, handle);
    }
    return buffer;
}

void vta_fail(const char *format, ...) {
    if (error_text[0] != '\0') return;
    va_list args;
    va_start(args, format);
    vsnprintf(error_text, sizeof(error_text), format, args);
    va_end(args);
}

const char *nnmap_vta_error(void) { return error_text; }

static void enqueue(const vta_cmd *cmd) {
    if (queued == queue_capacity) {
        uint32_t capacity = queue_capacity ? 2 * queue_capacity : 256;
        vta_cmd *grown = realloc(queue, sizeof(vta_cmd) * capacity);
        if (grown == NULL) {
            vta_fail("out of memory queueing %u VTA commands", capacity);
            return;
        }
        queue = grown;
        queue_capacity = capacity;
    }
    queue[queued++] = *cmd;
}

static void queue_load(uint8_t *dram, uint32_t elem_offset, uint32_t x_size, uint32_t y_size,
                       uint32_t x_stride, uint32_t x_pad_before, uint32_t y_pad_before,
                       uint32_t x_pad_after, uint32_t y_pad_after, uint32_t dst_sram_index,
                       uint32_t dst_memory_type);

VTACommandHandle VTATLSCommandHandle(void) { return &command_handle; }

void VTALoadBuffer2D(VTACommandHandle cmd, void *src_dram_addr, uint32_t src_elem_offset,
                     uint32_t x_size, uint32_t y_size, uint32_t x_stride, uint32_t x_pad_before,
                     uint32_t y_pad_before, uint32_t x_pad_after, uint32_t y_pad_after,
                     uint32_t dst_sram_index, uint32_t dst_memory_type) {
    (void)cmd;
    if (dst_memory_type > VTA_MEM_ID_ACC) {
        vta_fail("VTALoadBuffer2D: memory type %u cannot be loaded (use 0..3)", dst_memory_type);
        return;
    }
    vta_buffer *buffer = dma_buffer("VTALoadBuffer2D", src_dram_addr);
    vta_byte_range range;
    if (buffer == NULL || !dram_range("VTALoadBuffer2D", buffer, vta_entry_bytes(dst_memory_type),
                                      src_elem_offset, x_size, y_size, x_stride, &range)) {
        return;
    }
    if (memcmp(buffer->cpu + range.begin, buffer->dram + range.begin, range.end - range.begin)) {
        vta_fail("layer %s: VTALoadBuffer2D reads bytes %zu..%zu of buffer %p that the CPU wrote "
                 "without a VTAReadBarrier (flush them to DRAM before VTA reads)", current_layer(),
                 range.begin, range.end - 1, src_dram_addr);
        return;
    }
    queue_load(buffer->dram, src_elem_offset, x_size, y_size, x_stride, x_pad_before, y_pad_before,
               x_pad_after, y_pad_after, dst_sram_index, dst_memory_type);
}

static void queue_load(uint8_t *dram, uint32_t elem_offset, uint32_t x_size, uint32_t y_size,
                       uint32_t x_stride, uint32_t x_pad_before, uint32_t y_pad_before,
                       uint32_t x_pad_after, uint32_t y_pad_after, uint32_t dst_sram_index,
                       uint32_t dst_memory_type) {
    vta_cmd load = {.kind = VTA_LOAD};
    load.stage = dst_memory_type == VTA_MEM_ID_INP || dst_memory_type == VTA_MEM_ID_WGT
                     ? STAGE_LOAD
                     : STAGE_COMPUTE;
    load.transfer = (vta_transfer){dram, elem_offset, x_size, y_size,
                                   x_stride, x_pad_before, y_pad_before, x_pad_after, y_pad_after,
                                   dst_sram_index, dst_memory_type};
    enqueue(&load);
}

void VTAStoreBuffer2D(VTACommandHandle cmd, uint32_t src_sram_index, uint32_t src_memory_type,
                      void *dst_dram_addr, uint32_t dst_elem_offset, uint32_t x_size,
                      uint32_t y_size, uint32_t x_stride) {
    (void)cmd;
    vta_buffer *buffer = dma_buffer("VTAStoreBuffer2D", dst_dram_addr);
    vta_byte_range range;
    if (buffer == NULL || !dram_range("VTAStoreBuffer2D", buffer, vta_entry_bytes(VTA_MEM_ID_OUT),
                                      dst_elem_offset, x_size, y_size, x_stride, &range)) {
        return;
    }
    if (pending_store_count == MAX_PENDING_STORES) {
        vta_fail("more than %d VTAStoreBuffer2D between two VTASynchronize", MAX_PENDING_STORES);
        return;
    }
    range.buffer = buffer;
    pending_stores[pending_store_count++] = range;
    vta_cmd store = {.kind = VTA_STORE, .stage = STAGE_STORE};
    store.transfer = (vta_transfer){buffer->dram, dst_elem_offset, x_size, y_size,
                                    x_stride, 0, 0, 0, 0, src_sram_index, src_memory_type};
    enqueue(&store);
}

void VTAUopLoopBegin(uint32_t extent, uint32_t dst_factor, uint32_t src_factor,
                     uint32_t wgt_factor) {
    if (recording == NULL || recording->loops == 2) {
        vta_fail("VTAUopLoopBegin: only inside a kernel's finit, at most two loops deep");
        return;
    }
    uint32_t level = recording->loops++;
    recording->op.extent[level] = extent;
    recording->op.dst_factor[level] = dst_factor;
    recording->op.src_factor[level] = src_factor;
    recording->op.wgt_factor[level] = wgt_factor;
    open_loops++;
}

void VTAUopLoopEnd(void) {
    if (recording == NULL || open_loops == 0) {
        vta_fail("VTAUopLoopEnd without a matching VTAUopLoopBegin");
        return;
    }
    open_loops--;
}

static int same_kind(const vta_kernel *k, uint32_t mode, uint32_t reset, uint32_t opcode,
                     uint32_t use_imm, int32_t imm) {
    return k->mode == mode && k->op.reset == reset && k->op.opcode == opcode &&
           k->op.use_imm == use_imm && k->op.imm == imm;
}

static int append_uop(vta_kernel *k, uint32_t word) {
    if (k->count == k->capacity) {
        uint32_t capacity = k->capacity ? 2 * k->capacity : 16;
        uint32_t *grown = realloc(k->uops, sizeof(uint32_t) * capacity);
        if (grown == NULL) return 0;
        k->uops = grown;
        k->capacity = capacity;
    }
    k->uops[k->count++] = word;
    return 1;
}

void VTAUopPush(uint32_t mode, uint32_t reset_out, uint32_t dst_index, uint32_t src_index,
                uint32_t wgt_index, uint32_t opcode, uint32_t use_imm, int32_t imm_val) {
    vta_kernel *k = recording;
    if (k == NULL) {
        vta_fail("VTAUopPush: only inside a kernel's finit");
        return;
    }
    if (!k->has_uops) {
        k->mode = mode;
        k->op.reset = reset_out;
        k->op.opcode = opcode;
        k->op.use_imm = use_imm;
        k->op.imm = imm_val;
        k->has_uops = 1;
    } else if (!same_kind(k, mode, reset_out, opcode, use_imm, imm_val)) {
        vta_fail("VTAUopPush: uops of one kernel must share mode, reset, opcode and immediate");
        return;
    }
    if (dst_index >> NNMAP_VTA_UOP_DST_BITS || src_index >> NNMAP_VTA_UOP_SRC_BITS ||
        wgt_index >> NNMAP_VTA_UOP_WGT_BITS) {
        vta_fail("VTAUopPush: index (%u, %u, %u) does not fit a micro-op", dst_index, src_index,
                 wgt_index);
        return;
    }
    uint32_t word = dst_index | src_index << NNMAP_VTA_UOP_DST_BITS |
                    wgt_index << (NNMAP_VTA_UOP_DST_BITS + NNMAP_VTA_UOP_SRC_BITS);
    if (!append_uop(k, word)) vta_fail("VTAUopPush: out of memory");
}

static const char *kernel_problem(const vta_kernel *k, uint32_t mode) {
    if (open_loops != 0) return "a VTAUopLoopBegin has no VTAUopLoopEnd";
    if (k->count == 0) return "the kernel pushes no micro-ops";
    if (k->count > NNMAP_VTA_UOP_ENTRIES) return "the kernel does not fit the micro-op buffer";
    if (k->mode != mode) return "its micro-ops' mode differs from the push (GEMM 0 / ALU 1)";
    if (mode == MODE_ALU && (k->op.reset || k->op.opcode > VTA_ALU_OPCODE_MUL)) {
        return "ALU kernels take opcodes 0..4 and no reset";
    }
    return NULL;
}

static vta_kernel *record_kernel(int (*finit)(void *), void *signature, uint32_t mode) {
    vta_kernel *k = calloc(1, sizeof(vta_kernel));
    if (k == NULL) return NULL;
    k->op.extent[0] = k->op.extent[1] = 1;
    recording = k;
    open_loops = 0;
    int status = finit(signature);
    recording = NULL;
    const char *problem = status != 0 ? "finit returned an error" : kernel_problem(k, mode);
    if (problem != NULL) {
        vta_fail("micro-op kernel: %s", problem);
        free(k->uops);
        free(k);
        return NULL;
    }
    return k;
}

/* Queue a LOAD UOP of the kernel unless it is still in the micro-op buffer. */
static void make_resident(vta_kernel *k) {
    if (k->generation == uop_generation) return;
    if (uop_top + k->count > NNMAP_VTA_UOP_ENTRIES) {
        uop_top = 0;
        uop_generation++;
    }
    k->op.uop_begin = uop_top;
    k->op.uop_end = uop_top + k->count;
    k->generation = uop_generation;
    uop_top += k->count;
    queue_load((uint8_t *)k->uops, 0, k->count, 1, k->count, 0, 0, 0, 0, k->op.uop_begin,
               VTA_MEM_ID_UOP);
}

static int push_kernel(void **uop_handle, int (*finit)(void *), void *signature, uint32_t mode) {
    if (uop_handle == NULL || (*uop_handle == NULL && finit == NULL)) {
        vta_fail("VTAPush%sOp: needs a handle and, on first use, an finit", mode ? "ALU" : "GEMM");
        return -1;
    }
    if (*uop_handle == NULL) *uop_handle = record_kernel(finit, signature, mode);
    vta_kernel *k = *uop_handle;
    if (k == NULL) return -1;
    if (k->mode != mode) {
        vta_fail("VTAPush%sOp: the handle holds a kernel of the other mode", mode ? "ALU" : "GEMM");
        return -1;
    }
    make_resident(k);
    vta_cmd run = {.kind = mode == MODE_GEMM ? VTA_GEMM : VTA_ALU, .stage = STAGE_COMPUTE};
    run.compute = k->op;
    enqueue(&run);
    return 0;
}

int VTAPushGEMMOp(void **uop_handle, int (*finit)(void *), void *signature, int nbytes) {
    (void)nbytes;
    return push_kernel(uop_handle, finit, signature, MODE_GEMM);
}

int VTAPushALUOp(void **uop_handle, int (*finit)(void *), void *signature, int nbytes) {
    (void)nbytes;
    return push_kernel(uop_handle, finit, signature, MODE_ALU);
}

static int queue_token(vta_kind kind, int from_qid, int to_qid) {
    if (vta_token_queue(from_qid, to_qid) < 0) {
        vta_fail("VTADep%s(%d, %d): no such token queue (1->2, 2->1, 2->3, 3->2)",
                 kind == VTA_PUSH ? "Push" : "Pop", from_qid, to_qid);
        return -1;
    }
    vta_cmd token = {.kind = kind, .q_from = from_qid, .q_to = to_qid};
    token.stage = (kind == VTA_PUSH ? from_qid : to_qid) - 1;
    enqueue(&token);
    return 0;
}

int VTADepPush(VTACommandHandle cmd, int from_qid, int to_qid) {
    (void)cmd;
    return queue_token(VTA_PUSH, from_qid, to_qid);
}

int VTADepPop(VTACommandHandle cmd, int from_qid, int to_qid) {
    (void)cmd;
    return queue_token(VTA_POP, from_qid, to_qid);
}

void VTASynchronize(VTACommandHandle cmd, uint32_t wait_cycles) {
    (void)cmd;
    (void)wait_cycles;
    clock_now = vta_pipeline_run(queue, queued, clock_now);
    queued = 0;
    for (uint32_t i = 0; i < pending_store_count; ++i) {
        vta_byte_range *stored = &pending_stores[i];
        vta_buffer *b = stored->buffer;
        if (b->stale_begin == b->stale_end) {
            b->stale_begin = stored->begin;
            b->stale_end = stored->end;
        } else {
            if (stored->begin < b->stale_begin) b->stale_begin = stored->begin;
            if (stored->end > b->stale_end) b->stale_end = stored->end;
        }
    }
    pending_store_count = 0;
}

void *VTABufferAlloc(size_t size) {
    vta_buffer *buffer = calloc(1, sizeof(vta_buffer));
    size_t bytes = size ? size : 1;
    if (buffer == NULL || (buffer->cpu = calloc(1, bytes)) == NULL ||
        (buffer->dram = calloc(1, bytes)) == NULL) {
        vta_fail("VTABufferAlloc: out of memory for %zu B", size);
        if (buffer != NULL) free(buffer->cpu);
        free(buffer);
        return NULL;
    }
    buffer->size = size;
    buffer->next = buffers;
    buffers = buffer;
    return buffer;
}

void VTABufferFree(void *handle) {
    for (vta_buffer **link = &buffers; *link != NULL; link = &(*link)->next) {
        if (*link == handle) {
            vta_buffer *buffer = *link;
            *link = buffer->next;
            free(buffer->cpu);
            free(buffer->dram);
            free(buffer);
            return;
        }
    }
    vta_fail("VTABufferFree: %p is not a buffer from VTABufferAlloc", handle);
}

void *VTABufferCPUPtr(VTACommandHandle cmd, void *handle) {
    (void)cmd;
    vta_buffer *buffer = dma_buffer("VTABufferCPUPtr", handle);
    return buffer == NULL ? NULL : buffer->cpu;
}

/* The bytes [start, start + extent) elements of `elem_bits`, checked against the buffer. */
static vta_buffer *barrier_range(const char *call, void *handle, uint32_t elem_bits,
                                 uint32_t start, uint32_t extent, vta_byte_range *range) {
    vta_buffer *buffer = dma_buffer(call, handle);
    uint32_t bytes = (elem_bits + 7u) / 8u;
    if (buffer == NULL) return NULL;
    range->begin = (size_t)start * bytes;
    range->end = range->begin + (size_t)extent * bytes;
    if (range->end > buffer->size) {
        vta_fail("layer %s: %s: bytes %zu..%zu past the %zu B buffer", current_layer(), call,
                 range->begin, range->end - 1, buffer->size);
        return NULL;
    }
    return buffer;
}

void VTAReadBarrier(VTACommandHandle cmd, void *handle, uint32_t elem_bits, uint32_t start,
                    uint32_t extent) {
    (void)cmd;
    vta_byte_range r;
    vta_buffer *buffer = barrier_range("VTAReadBarrier", handle, elem_bits, start, extent, &r);
    if (buffer != NULL) memcpy(buffer->dram + r.begin, buffer->cpu + r.begin, r.end - r.begin);
}

void VTAWriteBarrier(VTACommandHandle cmd, void *handle, uint32_t elem_bits, uint32_t start,
                     uint32_t extent) {
    (void)cmd;
    vta_byte_range r;
    vta_buffer *buffer = barrier_range("VTAWriteBarrier", handle, elem_bits, start, extent, &r);
    if (buffer == NULL) return;
    memcpy(buffer->cpu + r.begin, buffer->dram + r.begin, r.end - r.begin);
    if (r.begin <= buffer->stale_begin && r.end >= buffer->stale_end) {
        buffer->stale_begin = buffer->stale_end = 0;
    }
}

/* One side of a VTABufferCopy: a host pointer, or a buffer (then both of its copies). */
static int copy_side(const char *side, const void *pointer, size_t offset, size_t size,
                     int is_buffer, vta_buffer **buffer) {
    *buffer = NULL;
    if (!is_buffer) return 1;
    *buffer = find_buffer(pointer);
    if (*buffer == NULL) {
        vta_fail("layer %s: VTABufferCopy: the %s %p is not a buffer from VTABufferAlloc",
                 current_layer(), side, pointer);
        return 0;
    }
    if (offset + size > (*buffer)->size) {
        vta_fail("layer %s: VTABufferCopy: %zu B at %zu pass the end of the %s buffer (%zu B)",
                 current_layer(), size, offset, side, (*buffer)->size);
        return 0;
    }
    return 1;
}

/* As VTA's runtime: host to device writes the buffer and flushes it, device to host invalidates
 * the CPU's view and reads it. */
void VTABufferCopy(const void *from, size_t from_offset, void *to, size_t to_offset, size_t size,
                   int kind_mask) {
    vta_buffer *source, *target;
    int from_device = kind_mask == VTA_MEMCPY_D2H || kind_mask == VTA_MEMCPY_D2D;
    int to_device = kind_mask == VTA_MEMCPY_H2D || kind_mask == VTA_MEMCPY_D2D;
    if (!from_device && !to_device) {
        vta_fail("VTABufferCopy: kind %d is not 1 (H2D), 2 (D2H) or 3 (D2D)", kind_mask);
        return;
    }
    if (!copy_side("source", from, from_offset, size, from_device, &source) ||
        !copy_side("destination", to, to_offset, size, to_device, &target)) {
        return;
    }
    const uint8_t *bytes = source ? source->dram + from_offset : (const uint8_t *)from + from_offset;
    if (source != NULL) memcpy(source->cpu + from_offset, bytes, size);
    if (target != NULL) {
        memmove(target->dram + to_offset, bytes, size);
        memcpy(target->cpu + to_offset, target->dram + to_offset, size);
    } else {
        memmove((uint8_t *)to + to_offset, bytes, size);
    }
}

void nnmap_vta_reset(void) {
    queued = 0;
    pending_store_count = 0;
    layer_open = 0;
    for (vta_buffer *b = buffers; b != NULL; b = b->next) b->stale_begin = b->stale_end = 0;
    clock_now = 0;
    layer_count = 0;
    error_text[0] = '\0';
    uop_top = 0;
    uop_generation++;
    vta_sram_clear();
    vta_pipeline_reset();
}

uint64_t nnmap_vta_cycles(void) { return clock_now; }

uint64_t nnmap_vta_stage_busy(int queue_id) {
    return queue_id >= 1 && queue_id <= STAGE_COUNT ? vta_pipeline_busy(queue_id - 1) : 0;
}

void nnmap_vta_layer_begin(const char *name) {
    if (layer_count == MAX_LAYERS) {
        vta_fail("nnmap_vta_layer_begin: more than %d layers", MAX_LAYERS);
        return;
    }
    vta_layer *layer = &layers[layer_count++];
    snprintf(layer->name, sizeof(layer->name), "%s", name ? name : "");
    layer->begin = clock_now;
    layer->cycles = 0;
    layer_open = 1;
}

void nnmap_vta_layer_end(void) {
    if (queued > 0) {
        vta_fail("nnmap_vta_layer_end: %u commands queued after the last VTASynchronize", queued);
    }
    for (vta_buffer *b = buffers; b != NULL; b = b->next) {
        if (b->stale_begin != b->stale_end) {
            vta_fail("layer %s: VTA stored bytes %zu..%zu of buffer %p and no VTAWriteBarrier made "
                     "them visible to the CPU", current_layer(), b->stale_begin, b->stale_end - 1,
                     (void *)b);
            b->stale_begin = b->stale_end = 0;
        }
    }
    layer_open = 0;
    if (layer_count > 0) layers[layer_count - 1].cycles = clock_now - layers[layer_count - 1].begin;
}

size_t nnmap_vta_layer_count(void) { return layer_count; }

const char *nnmap_vta_layer_name(size_t index) {
    return index < layer_count ? layers[index].name : "";
}

uint64_t nnmap_vta_layer_cycles(size_t index) {
    return index < layer_count ? layers[index].cycles : 0;
}

void *nnmap_vta_sram(uint32_t memory_type) { return vta_sram_base(memory_type); }

uint32_t nnmap_vta_sram_entries(uint32_t memory_type) { return vta_sram_entries(memory_type); }
