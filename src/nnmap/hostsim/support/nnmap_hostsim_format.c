/* nnmap host simulation: text formatting into buffers (the emulators name layers and report
 * errors with it) and nearbyintf, for the freestanding image. Conversions: %% %c %s %d %i %u %x
 * %p with the length modifiers l, ll and z; flags, width and precision are read and ignored. */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct {
  char *buffer;
  size_t size;
  size_t length;
} text_sink;

static void put_char(text_sink *sink, char value) {
  if (sink->length + 1u < sink->size) {
    sink->buffer[sink->length] = value;
  }
  sink->length += 1u;
}

static void put_unsigned(text_sink *sink, unsigned long long value, unsigned base) {
  char digits[24];
  size_t count = 0;
  do {
    unsigned digit = (unsigned)(value % base);
    digits[count++] = (char)(digit < 10u ? '0' + digit : 'a' + digit - 10u);
    value /= base;
  } while (value != 0u);
  while (count > 0u) {
    put_char(sink, digits[--count]);
  }
}

static void put_signed(text_sink *sink, long long value) {
  if (value < 0) {
    put_char(sink, '-');
    put_unsigned(sink, 0ull - (unsigned long long)value, 10u);
  } else {
    put_unsigned(sink, (unsigned long long)value, 10u);
  }
}

/* Skips flags, width and precision; returns the length modifier: 0, 'l', 'L' (ll) or 'z'. */
static char read_modifiers(const char **format) {
  while (**format == '-' || **format == '0' || **format == '+' || **format == ' ' ||
         **format == '.' || (**format >= '1' && **format <= '9')) {
    ++*format;
  }
  if (**format == 'z') {
    ++*format;
    return 'z';
  }
  if (**format == 'l') {
    ++*format;
    if (**format == 'l') {
      ++*format;
      return 'L';
    }
    return 'l';
  }
  return 0;
}

static void put_conversion(text_sink *sink, char conversion, char modifier, va_list *arguments) {
  if (conversion == 'd' || conversion == 'i') {
    long long value = modifier == 'L'   ? va_arg(*arguments, long long)
                      : modifier == 'l' ? va_arg(*arguments, long)
                      : modifier == 'z' ? (long long)va_arg(*arguments, size_t)
                                        : va_arg(*arguments, int);
    put_signed(sink, value);
  } else if (conversion == 'u' || conversion == 'x') {
    unsigned long long value = modifier == 'L'   ? va_arg(*arguments, unsigned long long)
                               : modifier == 'l' ? va_arg(*arguments, unsigned long)
                               : modifier == 'z' ? va_arg(*arguments, size_t)
                                                 : va_arg(*arguments, unsigned);
    put_unsigned(sink, value, conversion == 'x' ? 16u : 10u);
  } else if (conversion == 'p') {
    put_char(sink, '0');
    put_char(sink, 'x');
    put_unsigned(sink, (uintptr_t)va_arg(*arguments, void *), 16u);
  } else if (conversion == 'c') {
    put_char(sink, (char)va_arg(*arguments, int));
  } else if (conversion == 's') {
    const char *text = va_arg(*arguments, const char *);
    for (; text != NULL && *text != '\0'; ++text) {
      put_char(sink, *text);
    }
  } else {
    put_char(sink, conversion);
  }
}

int vsnprintf(char *restrict buffer, size_t size, const char *restrict format_text,
              va_list arguments) {
  text_sink sink = {buffer, size, 0u};
  const char *format = format_text;
  va_list copy;
  va_copy(copy, arguments);
  while (*format != '\0') {
    if (*format != '%') {
      put_char(&sink, *format++);
      continue;
    }
    ++format;
    char modifier = read_modifiers(&format);
    if (*format == '\0') {
      break;
    }
    put_conversion(&sink, *format++, modifier, &copy);
  }
  va_end(copy);
  if (size > 0u) {
    buffer[sink.length < size ? sink.length : size - 1u] = '\0';
  }
  return (int)sink.length;
}

int snprintf(char *restrict buffer, size_t size, const char *restrict format, ...) {
  va_list arguments;
  va_start(arguments, format);
  int length = vsnprintf(buffer, size, format, arguments);
  va_end(arguments);
  return length;
}

/* Round to the nearest integer, ties to even (the default rounding mode): adding and removing
 * 2^23 leaves no fraction bits in a float. */
float nearbyintf(float value) {
  const float two_to_23 = 8388608.0f;
  float magnitude = value < 0.0f ? -value : value;
  if (!(magnitude < two_to_23)) {
    return value;
  }
  volatile float shifted = value < 0.0f ? value - two_to_23 : value + two_to_23;
  return value < 0.0f ? shifted + two_to_23 : shifted - two_to_23;
}
