/* nnmap's VTA emulator: DRAM buffers as VTA's runtime hands them out (VTABufferAlloc), each with
 * the CPU's cached view and the DRAM VTA's DMA reads and writes, joined only by the barriers. */
#ifndef NNMAP_VTA_BUFFERS_H
#define NNMAP_VTA_BUFFERS_H

#include <stddef.h>
#include <stdint.h>

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

/* vta_emulator.c: the name of the layer being run, for messages. */
const char *vta_current_layer(void);

/* The buffer of `handle`; NULL (reported, naming `call`) when it is not from VTABufferAlloc. */
vta_buffer *vta_dma_buffer(const char *call, const void *handle);
/* The bytes of `buffer` a 2D transfer touches; 0 (reported) when they pass its end. */
int vta_dram_range(const char *call, const vta_buffer *buffer, uint32_t entry_bytes,
                   uint32_t elem_offset, uint32_t x_size, uint32_t y_size, uint32_t x_stride,
                   vta_byte_range *range);
/* Whether DRAM holds what the CPU wrote over `range` (a read barrier flushed it). */
int vta_flushed(const vta_buffer *buffer, const vta_byte_range *range);
/* VTA stored `ranges`: the CPU sees them only after a VTAWriteBarrier. */
void vta_mark_stored(const vta_byte_range *ranges, uint32_t count);
/* Report stored bytes no VTAWriteBarrier made visible to the CPU (a layer ends), then forget. */
void vta_check_visible(void);
void vta_forget_stored(void);

#endif
