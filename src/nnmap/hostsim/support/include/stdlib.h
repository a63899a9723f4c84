/* nnmap host simulation: the freestanding build's <stdlib.h>: a heap for the accelerator
 * emulators' allocations (nnmap_hostsim_libc.c). */
#ifndef NNMAP_HOSTSIM_STDLIB_H
#define NNMAP_HOSTSIM_STDLIB_H

#include <stddef.h>

void *malloc(size_t size);
void *calloc(size_t count, size_t size);
void *realloc(void *block, size_t size);
void free(void *block);

#endif
