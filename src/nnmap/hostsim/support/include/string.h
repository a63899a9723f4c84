/* nnmap host simulation: the freestanding build's <string.h> (nnmap_hostsim_libc.c). */
#ifndef NNMAP_HOSTSIM_STRING_H
#define NNMAP_HOSTSIM_STRING_H

#include <stddef.h>

void *memcpy(void *restrict destination, const void *restrict source, size_t count);
void *memmove(void *destination, const void *source, size_t count);
void *memset(void *destination, int value, size_t count);
int memcmp(const void *left, const void *right, size_t count);
size_t strlen(const char *text);
char *strncpy(char *restrict destination, const char *restrict source, size_t count);
int strcmp(const char *left, const char *right);

#endif
