/* nnmap host simulation: the C library functions nnmap's C needs in a freestanding image:
 * block copies and fills (also emitted by compilers), string copies, and a heap for the
 * accelerator emulators. Simple loops on purpose: their cycles are charged to the caller. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NNMAP_HOSTSIM_HEAP_BYTES (8u << 20)
#define NNMAP_HOSTSIM_ALIGN 16u

void *memcpy(void *restrict destination, const void *restrict source, size_t count) {
  unsigned char *to = destination;
  const unsigned char *from = source;
  while (count-- > 0) {
    *to++ = *from++;
  }
  return destination;
}

void *memmove(void *destination, const void *source, size_t count) {
  unsigned char *to = destination;
  const unsigned char *from = source;
  if (to < from) {
    while (count-- > 0) {
      *to++ = *from++;
    }
  } else {
    while (count-- > 0) {
      to[count] = from[count];
    }
  }
  return destination;
}

void *memset(void *destination, int value, size_t count) {
  unsigned char *to = destination;
  while (count-- > 0) {
    *to++ = (unsigned char)value;
  }
  return destination;
}

int memcmp(const void *left, const void *right, size_t count) {
  const unsigned char *a = left;
  const unsigned char *b = right;
  for (size_t index = 0; index < count; ++index) {
    if (a[index] != b[index]) {
      return a[index] < b[index] ? -1 : 1;
    }
  }
  return 0;
}

size_t strlen(const char *text) {
  size_t length = 0;
  while (text[length] != '\0') {
    ++length;
  }
  return length;
}

char *strncpy(char *restrict destination, const char *restrict source, size_t count) {
  size_t index = 0;
  for (; index < count && source[index] != '\0'; ++index) {
    destination[index] = source[index];
  }
  for (; index < count; ++index) {
    destination[index] = '\0';
  }
  return destination;
}

int strcmp(const char *left, const char *right) {
  while (*left != '\0' && *left == *right) {
    ++left;
    ++right;
  }
  return (unsigned char)*left - (unsigned char)*right;
}

/* A bump heap: each block is preceded by its size; freeing the last block gives it back. */
static _Alignas(NNMAP_HOSTSIM_ALIGN) unsigned char nnmap_hostsim_heap[NNMAP_HOSTSIM_HEAP_BYTES];
static size_t nnmap_hostsim_heap_used;

static size_t *block_header(void *block) { return (size_t *)block - 1; }

void *malloc(size_t size) {
  size_t header = NNMAP_HOSTSIM_ALIGN;
  size_t rounded = (size + NNMAP_HOSTSIM_ALIGN - 1u) & ~(size_t)(NNMAP_HOSTSIM_ALIGN - 1u);
  if (rounded < size || rounded > NNMAP_HOSTSIM_HEAP_BYTES - nnmap_hostsim_heap_used - header) {
    return NULL;
  }
  unsigned char *block = nnmap_hostsim_heap + nnmap_hostsim_heap_used + header;
  *block_header(block) = rounded;
  nnmap_hostsim_heap_used += header + rounded;
  return block;
}

void *calloc(size_t count, size_t size) {
  if (size != 0 && count > SIZE_MAX / size) {
    return NULL;
  }
  void *block = malloc(count * size);
  return block == NULL ? NULL : memset(block, 0, count * size);
}

static int is_last_block(void *block) {
  return (unsigned char *)block + *block_header(block) ==
         nnmap_hostsim_heap + nnmap_hostsim_heap_used;
}

void free(void *block) {
  if (block != NULL && is_last_block(block)) {
    nnmap_hostsim_heap_used -= *block_header(block) + NNMAP_HOSTSIM_ALIGN;
  }
}

void *realloc(void *block, size_t size) {
  if (block == NULL) {
    return malloc(size);
  }
  size_t old_size = *block_header(block);
  if (is_last_block(block)) {
    free(block);
    void *grown = malloc(size);
    if (grown == NULL) {
      nnmap_hostsim_heap_used += old_size + NNMAP_HOSTSIM_ALIGN;
    }
    return grown;
  }
  void *moved = malloc(size);
  if (moved != NULL) {
    memcpy(moved, block, old_size < size ? old_size : size);
  }
  return moved;
}

/* The program never starts on its own: the emulator calls the entry function directly with a
 * return address where it stops. _start only gives the linker its entry symbol. */
void _start(void) {
  for (;;) {
  }
}
