/* nnmap's VTA emulator: the runtime's DRAM buffers (VTABufferAlloc, VTABufferCPUPtr,
 * VTABufferCopy) and cache barriers. Each buffer has two copies, the CPU's cached view and the
 * DRAM VTA's DMA reads and writes: VTAReadBarrier flushes the CPU's view into DRAM before VTA
 * reads, VTAWriteBarrier invalidates it after VTA wrote (VTA's runtime: ReadBarrier flushes the
 * cache, WriteBarrier invalidates it; start and extent count elements of elem_bits). */
#include <stdlib.h>
#include <string.h>

#include "vta_buffers.h"
#include "vta_internal.h"
#include "vta_runtime.h"

static vta_buffer *buffers;

static vta_buffer *find_buffer(const void *handle) {
    for (vta_buffer *b = buffers; b != NULL; b = b->next) {
        if (b == handle) return b;
    }
    return NULL;
}

int vta_dram_range(const char *call, const vta_buffer *buffer, uint32_t entry_bytes,
                   uint32_t elem_offset, uint32_t x_size, uint32_t y_size, uint32_t x_stride,
                   vta_byte_range *range) {
    uint64_t rows = y_size ? y_size - 1u : 0u;
    uint64_t last = (uint64_t)elem_offset + rows * x_stride + x_size;
    range->begin = (size_t)elem_offset * entry_bytes;
    range->end = (size_t)(last * entry_bytes);
    if (range->end > buffer->size) {
        vta_fail("layer %s: %s: elements %u..%llu of %u B reach past the %zu B buffer",
                 vta_current_layer(), call, elem_offset, (unsigned long long)last - 1, entry_bytes,
                 buffer->size);
        return 0;
    }
    return 1;
}

vta_buffer *vta_dma_buffer(const char *call, const void *handle) {
    vta_buffer *buffer = find_buffer(handle);
    if (buffer == NULL) {
        vta_fail("layer %s: %s: %p is not a buffer from VTABufferAlloc (pass the buffer handle and "
                 "an element offset, not a raw pointer)", vta_current_layer(), call, handle);
    }
    return buffer;
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
    vta_buffer *buffer = vta_dma_buffer("VTABufferCPUPtr", handle);
    return buffer == NULL ? NULL : buffer->cpu;
}

/* The bytes [start, start + extent) elements of `elem_bits`, checked against the buffer. */
static vta_buffer *barrier_range(const char *call, void *handle, uint32_t elem_bits,
                                 uint32_t start, uint32_t extent, vta_byte_range *range) {
    vta_buffer *buffer = vta_dma_buffer(call, handle);
    uint32_t bytes = (elem_bits + 7u) / 8u;
    if (buffer == NULL) return NULL;
    range->begin = (size_t)start * bytes;
    range->end = range->begin + (size_t)extent * bytes;
    if (range->end > buffer->size) {
        vta_fail("layer %s: %s: bytes %zu..%zu past the %zu B buffer", vta_current_layer(), call,
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
                 vta_current_layer(), side, pointer);
        return 0;
    }
    if (offset + size > (*buffer)->size) {
        vta_fail("layer %s: VTABufferCopy: %zu B at %zu pass the end of the %s buffer (%zu B)",
                 vta_current_layer(), size, offset, side, (*buffer)->size);
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
    const uint8_t *bytes = (const uint8_t *)from + from_offset;
    if (source != NULL) bytes = source->dram + from_offset;
    if (source != NULL) memcpy(source->cpu + from_offset, bytes, size);
    if (target != NULL) {
        memmove(target->dram + to_offset, bytes, size);
        memcpy(target->cpu + to_offset, target->dram + to_offset, size);
    } else {
        memmove((uint8_t *)to + to_offset, bytes, size);
    }
}

int vta_flushed(const vta_buffer *buffer, const vta_byte_range *range) {
    size_t bytes = range->end - range->begin;
    return memcmp(buffer->cpu + range->begin, buffer->dram + range->begin, bytes) == 0;
}

void vta_mark_stored(const vta_byte_range *ranges, uint32_t count) {
    for (uint32_t i = 0; i < count; ++i) {
        vta_buffer *b = ranges[i].buffer;
        if (b->stale_begin == b->stale_end) {
            b->stale_begin = ranges[i].begin;
            b->stale_end = ranges[i].end;
        } else {
            if (ranges[i].begin < b->stale_begin) b->stale_begin = ranges[i].begin;
            if (ranges[i].end > b->stale_end) b->stale_end = ranges[i].end;
        }
    }
}

void vta_check_visible(void) {
    for (vta_buffer *b = buffers; b != NULL; b = b->next) {
        if (b->stale_begin != b->stale_end) {
            vta_fail("layer %s: VTA stored bytes %zu..%zu of buffer %p and no VTAWriteBarrier made "
                     "them visible to the CPU", vta_current_layer(), b->stale_begin,
                     b->stale_end - 1, (void *)b);
        }
    }
    vta_forget_stored();
}

void vta_forget_stored(void) {
    for (vta_buffer *b = buffers; b != NULL; b = b->next) b->stale_begin = b->stale_end = 0;
}
