/* Hand-written loops for the host simulation tests: assembly inside naked C functions, so the
 * executed instructions are exactly the ones written here, whatever the compiler version.
 *
 * counted_loop(buffer): buffer[0], buffer[4] and buffer[8] are a word w, a byte b and the
 * iteration count n >= 1; it returns t with t = (t + w + b) * w repeated n times from t = 0.
 * Per call: 1 word load of n, 1 ALU before the loop and 1 after, then per iteration 1 word
 * load (its result read by the next instruction), 1 byte load (not read by the next one),
 * 3 ALU, 1 multiply of 32-bit values and 1 conditional branch (taken n - 1 times); 1 return.
 *
 * cache_walk(buffer) (RISC-V): reads the line count L from buffer[0], then loads one word per
 * 64-byte line of the buffer, L lines, twice.
 *
 * spin(): never returns. */
#include <stdint.h>

#if defined(__riscv)
#if __riscv_xlen == 64
#define NNMAP_MUL32 "mulw"
#else
#define NNMAP_MUL32 "mul"
#endif

__attribute__((naked)) int32_t counted_loop(const int8_t *buffer) {
  __asm__ volatile(
      "lw t3, 8(a0)\n"
      "li t0, 0\n"
      "1:\n"
      "lw t1, 0(a0)\n"
      "add t0, t0, t1\n"
      "lb t2, 4(a0)\n"
      "addi t3, t3, -1\n"
      "add t0, t0, t2\n" NNMAP_MUL32 " t0, t0, t1\n"
      "bnez t3, 1b\n"
      "mv a0, t0\n"
      "ret\n");
}

__attribute__((naked)) int32_t cache_walk(const int8_t *buffer) {
  __asm__ volatile(
      "lw a1, 0(a0)\n"
      "li a2, 2\n"
      "2:\n"
      "mv a3, a0\n"
      "mv a4, a1\n"
      "1:\n"
      "lw t0, 0(a3)\n"
      "addi a3, a3, 64\n"
      "addi a4, a4, -1\n"
      "bnez a4, 1b\n"
      "addi a2, a2, -1\n"
      "bnez a2, 2b\n"
      "li a0, 0\n"
      "ret\n");
}

__attribute__((naked)) void spin(void) { __asm__ volatile("1:\n" "j 1b\n"); }
#elif defined(__arm__)
__attribute__((naked)) int32_t counted_loop(const int8_t *buffer) {
  __asm__ volatile(
      "ldr r1, [r0, #8]\n"
      "mov r2, #0\n"
      "1:\n"
      "ldr r3, [r0]\n"
      "add r2, r2, r3\n"
      "ldrsb r12, [r0, #4]\n"
      "subs r1, r1, #1\n"
      "add r2, r2, r12\n"
      "mul r2, r2, r3\n"
      "bne 1b\n"
      "mov r0, r2\n"
      "bx lr\n");
}

__attribute__((naked)) void spin(void) { __asm__ volatile("1:\n" "b 1b\n"); }
#endif
