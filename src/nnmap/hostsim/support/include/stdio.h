/* nnmap host simulation: the freestanding build's <stdio.h>: formatting into buffers only
 * (nnmap_hostsim_format.c); there is no file or console output. */
#ifndef NNMAP_HOSTSIM_STDIO_H
#define NNMAP_HOSTSIM_STDIO_H

#include <stdarg.h>
#include <stddef.h>

int vsnprintf(char *restrict buffer, size_t size, const char *restrict format, va_list arguments);
int snprintf(char *restrict buffer, size_t size, const char *restrict format, ...);

#endif
