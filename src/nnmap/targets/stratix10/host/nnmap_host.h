/* The helpers of nnmap's generated OpenCL host programs (nnmap_host.c). */
#ifndef NNMAP_HOST_H
#define NNMAP_HOST_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nnmap_kernels.h"
#include "nnmap_opencl.h"

void check(cl_int status, const char *what);
cl_program open_program(cl_context *context, cl_command_queue *queues, int queue_count);
void create_buffers(cl_context context, cl_command_queue queue, cl_mem *buffers,
                    const size_t *bytes, const long *constant_offsets, int count);
void read_buffer(cl_command_queue queue, cl_mem buffer, int8_t *values, size_t count);
void write_buffer(cl_command_queue queue, cl_mem buffer, const int8_t *values, size_t count);
void load_input(cl_command_queue queue, cl_mem buffer, const char *path, size_t bytes);
void save_output(cl_command_queue queue, cl_mem buffer, const char *path, size_t bytes);
void finish_all(cl_command_queue *queues, int count);
void release_all(cl_context context, cl_program program, cl_command_queue *queues,
                 int queue_count, cl_mem *buffers, int buffer_count);
#endif
