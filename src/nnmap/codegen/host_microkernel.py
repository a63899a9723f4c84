"""The host's int8 micro-kernel: ``acc[K] += sum_c x[c] * w[c][K]``, a TVM tensor intrinsic.

A dense convolution's default schedule (``nnmap.codegen.emit_c``) keeps one output pixel's
``K`` int32 accumulators while it walks the window: for every filter tap, a row of ``C`` input
channels times the tap's ``C x K`` weights (laid out at compile time channels-last, output
channels innermost). TVM generates those loops and tensorizes the ``C x K`` block into one call
of ``nnmap_mac_rows_i8``, whose C is put in front of the kernel (``MICROKERNEL_C``):

- with AVX2 (``__AVX2__``, i.e. a build for a CPU that declares it): the accumulators of 16
  output channels (then 8, in 128-bit registers) stay in two registers over the whole row;
  two input channels at a time, the two weight rows are sign-extended to int16, interleaved,
  and multiplied-and-pair-summed by ``vpmaddwd`` (``_mm256_madd_epi16``) against the broadcast
  pair of inputs: 16 MACs per instruction, exact (int16 products, int32 sums: TFLite's
  numerics bit for bit). ``vpmaddubsw`` is not used: it saturates its int16 pair sums, which
  are not always representable.
- otherwise the portable C loop (gcc vectorizes it for whatever the build targets).
"""

from __future__ import annotations

from functools import cache

from tvm import s_tir
from tvm.s_tir import TensorIntrin
from tvm.script import tirx as T

MICROKERNEL_SYMBOL = "nnmap_mac_rows_i8"
STACK_BYTES = 1024  # TVM's C backend: smaller buffers are stack arrays, larger ones workspace
DENSE_CHANNEL_BLOCK = 64  # output channels of a fully connected layer per micro-kernel call

MICROKERNEL_C = """#if defined(__AVX2__)
#include <immintrin.h>
#endif

/* acc[0..k) += sum over c < rows of x[c] * w[c * stride + 0..k) (int8 x int8 -> int32). */
static inline void nnmap_mac_rows_i8(int32_t *restrict acc, const int8_t *restrict x,
                                     const int8_t *restrict w, int32_t rows, int32_t k,
                                     int32_t stride) {
  int32_t j = 0;
#if defined(__AVX2__)
  for (; j + 16 <= k; j += 16) {
    __m256i low = _mm256_loadu_si256((const __m256i *)(acc + j));
    __m256i high = _mm256_loadu_si256((const __m256i *)(acc + j + 8));
    int32_t c = 0;
    for (; c + 2 <= rows; c += 2) {
      __m256i first = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(w + c * stride + j)));
      __m256i second = _mm256_cvtepi8_epi16(
          _mm_loadu_si128((const __m128i *)(w + (c + 1) * stride + j)));
      __m256i pair = _mm256_set1_epi32((int32_t)(((uint32_t)(uint16_t)(int16_t)x[c + 1] << 16) |
                                                 (uint32_t)(uint16_t)(int16_t)x[c]));
      __m256i even = _mm256_unpacklo_epi16(first, second);
      __m256i odd = _mm256_unpackhi_epi16(first, second);
      __m256i lanes_low = _mm256_madd_epi16(even, pair);
      __m256i lanes_high = _mm256_madd_epi16(odd, pair);
      low = _mm256_add_epi32(low, _mm256_permute2x128_si256(lanes_low, lanes_high, 0x20));
      high = _mm256_add_epi32(high, _mm256_permute2x128_si256(lanes_low, lanes_high, 0x31));
    }
    if (c < rows) {
      __m256i last = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(w + c * stride + j)));
      __m256i value = _mm256_set1_epi16((int16_t)x[c]);
      __m256i product = _mm256_mullo_epi16(last, value);
      low = _mm256_add_epi32(low, _mm256_cvtepi16_epi32(_mm256_castsi256_si128(product)));
      high = _mm256_add_epi32(high, _mm256_cvtepi16_epi32(_mm256_extracti128_si256(product, 1)));
    }
    _mm256_storeu_si256((__m256i *)(acc + j), low);
    _mm256_storeu_si256((__m256i *)(acc + j + 8), high);
  }
  for (; j + 8 <= k; j += 8) {
    __m128i low = _mm_loadu_si128((const __m128i *)(acc + j));
    __m128i high = _mm_loadu_si128((const __m128i *)(acc + j + 4));
    int32_t c = 0;
    for (; c + 2 <= rows; c += 2) {
      __m128i first = _mm_cvtepi8_epi16(_mm_loadl_epi64((const __m128i *)(w + c * stride + j)));
      __m128i second = _mm_cvtepi8_epi16(
          _mm_loadl_epi64((const __m128i *)(w + (c + 1) * stride + j)));
      __m128i pair = _mm_set1_epi32((int32_t)(((uint32_t)(uint16_t)(int16_t)x[c + 1] << 16) |
                                              (uint32_t)(uint16_t)(int16_t)x[c]));
      low = _mm_add_epi32(low, _mm_madd_epi16(_mm_unpacklo_epi16(first, second), pair));
      high = _mm_add_epi32(high, _mm_madd_epi16(_mm_unpackhi_epi16(first, second), pair));
    }
    if (c < rows) {
      __m128i last = _mm_cvtepi8_epi16(_mm_loadl_epi64((const __m128i *)(w + c * stride + j)));
      __m128i product = _mm_mullo_epi16(last, _mm_set1_epi16((int16_t)x[c]));
      low = _mm_add_epi32(low, _mm_cvtepi16_epi32(product));
      high = _mm_add_epi32(high, _mm_cvtepi16_epi32(_mm_srli_si128(product, 8)));
    }
    _mm_storeu_si128((__m128i *)(acc + j), low);
    _mm_storeu_si128((__m128i *)(acc + j + 8 - 4), high);
  }
#endif
  if (j < k) {
    const int8_t *restrict row = w;
    for (int32_t c = 0; c < rows; ++c, row += stride) {
      const int32_t value = (int32_t)x[c];
      for (int32_t i = j; i < k; ++i) {
        acc[i] += value * (int32_t)row[i];
      }
    }
  }
}

"""


@cache
def mac_rows_intrinsic(rows: int, channels: int) -> str:
    """Register (once) the ``rows x channels`` intrinsic and return its name."""
    name = f"nnmap_mac_rows_{rows}x{channels}"

    @T.prim_func(s_tir=True)
    def desc(a: T.handle, b: T.handle, c: T.handle) -> None:
        x = T.match_buffer(a, (rows,), "int8", offset_factor=1)
        w = T.match_buffer(b, (rows, channels), "int8", offset_factor=1)
        acc = T.match_buffer(c, (channels,), "int32", offset_factor=1)
        with T.sblock("root"):
            T.reads(acc[0:channels], x[0:rows], w[0:rows, 0:channels])
            T.writes(acc[0:channels])
            for i, j in T.grid(rows, channels):
                with T.sblock("update"):
                    vj, vi = T.axis.remap("SR", [j, i])
                    acc[vj] = acc[vj] + T.Cast("int32", x[vi]) * T.Cast("int32", w[vi, vj])

    @T.prim_func(s_tir=True)
    def impl(a: T.handle, b: T.handle, c: T.handle) -> None:
        stride = T.int32()
        x = T.match_buffer(a, (rows,), "int8", offset_factor=1)
        w = T.match_buffer(b, (rows, channels), "int8", offset_factor=1, strides=[stride, 1])
        acc = T.match_buffer(c, (channels,), "int32", offset_factor=1)
        with T.sblock("root"):
            T.reads(acc[0:channels], x[0:rows], w[0:rows, 0:channels])
            T.writes(acc[0:channels])
            T.evaluate(T.call_extern("void", MICROKERNEL_SYMBOL, acc.access_ptr("rw"),
                                     x.access_ptr("r"), w.access_ptr("r"), rows, channels,
                                     stride))

    TensorIntrin.register(name, desc, impl, override=True)
    return name


def padded_rows_per_output_row(sch: s_tir.Schedule, pixel_block: s_tir.LoopRV,
                               window_rows: int) -> None:
    """Pad only the input one output row's windows read (``window_rows`` rows), inside that
    row's loop, when those rows fit ``STACK_BYTES`` (TVM's C backend puts smaller buffers on
    the stack, larger ones in the arena's scratch); else only the windows of one block of
    pixels (``pixel_block``)."""
    if not any(block.name_hint == "padded" for block in _blocks(sch)):
        return
    padded = sch.get_sblock("padded")
    _, _, width, channels = (int(d) for d in sch.get(padded).writes[0].source.shape)
    if window_rows * width * channels <= STACK_BYTES:
        sch.compute_at(padded, sch.get_loops(sch.get_sblock("out"))[1])
    else:
        sch.compute_at(padded, pixel_block)


def _blocks(sch: s_tir.Schedule) -> list[s_tir.SBlock]:
    return [sch.get(block) for block in sch.get_child_blocks(sch.get_sblock("root"))]


def tensorize_rows(sch: s_tir.Schedule, rows: int, channels: int) -> None:
    """Turn the accumulation's innermost ``rows x channels`` block (input channels, then a block
    of output channels) into one micro-kernel call."""
    update = sch.get_sblock("acc_update")
    sch.tensorize(sch.get_loops(update)[-2], mac_rows_intrinsic(rows, channels))
