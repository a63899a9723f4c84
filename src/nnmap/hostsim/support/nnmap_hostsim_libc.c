/* nnmap host simulation: the few C library functions a compiler may call in freestanding code
 * (block copies and fills it emits for struct and array initialisation). Byte loops on purpose:
 * their cycles are charged to the calling kernel like any other code. */
#include <stddef.h>

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

/* The program never starts on its own: the emulator calls the entry function directly with a
 * return address where it stops. _start only gives the linker its entry symbol. */
void _start(void) {
  for (;;) {
  }
}
