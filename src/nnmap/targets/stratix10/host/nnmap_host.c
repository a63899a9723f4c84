/* Helpers of nnmap's generated OpenCL host programs: the platform chosen by the name in
 * NNMAP_OPENCL_PLATFORM (a part of it; default: the first), the program from NNMAP_KERNELS
 * (kernels.cl built from source, or an .aocx bitstream), constants from NNMAP_CONSTANTS
 * (constants.bin), raw int8 input and output files. Every OpenCL error ends the program with
 * the call's name and status. */
#include "nnmap_host.h"

void check(cl_int status, const char *what) {
  if (status != CL_SUCCESS) {
    fprintf(stderr, "nnmap host: %s failed with OpenCL status %d\n", what, (int)status);
    exit(1);
  }
}

static const char *setting(const char *name, const char *fallback) {
  const char *value = getenv(name);
  return value != NULL && value[0] != '\0' ? value : fallback;
}

static unsigned char *read_file(const char *path, size_t *size) {
  FILE *file = fopen(path, "rb");
  if (file == NULL) {
    fprintf(stderr, "nnmap host: cannot open %s\n", path);
    exit(1);
  }
  fseek(file, 0, SEEK_END);
  long length = ftell(file);
  fseek(file, 0, SEEK_SET);
  unsigned char *data = malloc((size_t)length + 1);
  if (data == NULL || fread(data, 1, (size_t)length, file) != (size_t)length) {
    fprintf(stderr, "nnmap host: cannot read %s\n", path);
    exit(1);
  }
  data[length] = 0;
  fclose(file);
  *size = (size_t)length;
  return data;
}

static cl_device_id choose_device(void) {
  cl_platform_id platforms[16];
  cl_uint count = 0;
  check(clGetPlatformIDs(16, platforms, &count), "clGetPlatformIDs");
  const char *wanted = setting("NNMAP_OPENCL_PLATFORM", "");
  for (cl_uint i = 0; i < count; ++i) {
    char name[256] = {0};
    check(clGetPlatformInfo(platforms[i], CL_PLATFORM_NAME, sizeof name - 1, name, NULL),
          "clGetPlatformInfo");
    if (strstr(name, wanted) != NULL) {
      cl_device_id device;
      check(clGetDeviceIDs(platforms[i], CL_DEVICE_TYPE_ALL, 1, &device, NULL),
            "clGetDeviceIDs");
      return device;
    }
  }
  fprintf(stderr, "nnmap host: no OpenCL platform named like '%s'\n", wanted);
  exit(1);
}

cl_program open_program(cl_context *context, cl_command_queue *queues, int queue_count) {
  cl_int status;
  cl_device_id device = choose_device();
  *context = clCreateContext(NULL, 1, &device, NULL, NULL, &status);
  check(status, "clCreateContext");
  for (int i = 0; i < queue_count; ++i) {
    queues[i] = clCreateCommandQueue(*context, device, 0, &status);
    check(status, "clCreateCommandQueue");
  }
  const char *path = setting("NNMAP_KERNELS", "kernels.cl");
  size_t size;
  unsigned char *text = read_file(path, &size);
  cl_program program;
  size_t length = strlen(path);
  if (length > 5 && strcmp(path + length - 5, ".aocx") == 0) {
    const unsigned char *binary = text;
    program = clCreateProgramWithBinary(*context, 1, &device, &size, &binary, NULL, &status);
  } else {
    const char *source = (const char *)text;
    program = clCreateProgramWithSource(*context, 1, &source, &size, &status);
  }
  check(status, "clCreateProgram");
  if (clBuildProgram(program, 1, &device, "", NULL, NULL) != CL_SUCCESS) {
    static char log[65536];
    clGetProgramBuildInfo(program, device, CL_PROGRAM_BUILD_LOG, sizeof log - 1, log, NULL);
    fprintf(stderr, "nnmap host: building %s failed:\n%s\n", path, log);
    exit(1);
  }
  free(text);
  return program;
}

void create_buffers(cl_context context, cl_command_queue queue, cl_mem *buffers,
                    const size_t *bytes, const long *constant_offsets, int count) {
  size_t size = 0;
  unsigned char *constants = NULL;
  for (int i = 0; i < count; ++i) {
    cl_int status;
    buffers[i] = clCreateBuffer(context, CL_MEM_READ_WRITE, bytes[i], NULL, &status);
    check(status, "clCreateBuffer");
    if (constant_offsets[i] < 0) {
      continue;
    }
    if (constants == NULL) {
      constants = read_file(setting("NNMAP_CONSTANTS", "constants.bin"), &size);
    }
    check(clEnqueueWriteBuffer(queue, buffers[i], CL_TRUE, 0, bytes[i],
                               constants + constant_offsets[i], 0, NULL, NULL),
          "clEnqueueWriteBuffer");
  }
  free(constants);
}

void read_buffer(cl_command_queue queue, cl_mem buffer, int8_t *values, size_t count) {
  check(clEnqueueReadBuffer(queue, buffer, CL_TRUE, 0, count, values, 0, NULL, NULL),
        "clEnqueueReadBuffer");
}

void write_buffer(cl_command_queue queue, cl_mem buffer, const int8_t *values, size_t count) {
  check(clEnqueueWriteBuffer(queue, buffer, CL_TRUE, 0, count, values, 0, NULL, NULL),
        "clEnqueueWriteBuffer");
}

void load_input(cl_command_queue queue, cl_mem buffer, const char *path, size_t bytes) {
  size_t size;
  unsigned char *data = read_file(path, &size);
  if (size != bytes) {
    fprintf(stderr, "nnmap host: %s has %zu bytes, the input takes %zu\n", path, size, bytes);
    exit(1);
  }
  write_buffer(queue, buffer, (const int8_t *)data, bytes);
  free(data);
}

void save_output(cl_command_queue queue, cl_mem buffer, const char *path, size_t bytes) {
  int8_t *data = malloc(bytes);
  FILE *file = fopen(path, "wb");
  if (data == NULL || file == NULL) {
    fprintf(stderr, "nnmap host: cannot write %s\n", path);
    exit(1);
  }
  read_buffer(queue, buffer, data, bytes);
  fwrite(data, 1, bytes, file);
  fclose(file);
  free(data);
}

void finish_all(cl_command_queue *queues, int count) {
  for (int i = 0; i < count; ++i) {
    check(clFinish(queues[i]), "clFinish");
  }
}

void release_all(cl_context context, cl_program program, cl_command_queue *queues,
                 int queue_count, cl_mem *buffers, int buffer_count) {
  for (int i = 0; i < buffer_count; ++i) clReleaseMemObject(buffers[i]);
  for (int i = 0; i < queue_count; ++i) clReleaseCommandQueue(queues[i]);
  clReleaseProgram(program);
  clReleaseContext(context);
}
