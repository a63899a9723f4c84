/* Functional meaning of VTA commands over the on-chip buffers; mirrors the numpy meanings in
 * nnmap/targets/vta_intrinsics.py (GEMM and ALU also write the output buffer, narrowed to int8 by
 * keeping the accumulator's low 8 bits; stores read the output buffer). */
#include <string.h>

#include "vta_internal.h"
#include "vta_runtime.h"

#define BATCH NNMAP_VTA_BATCH
#define BLOCK_IN NNMAP_VTA_BLOCK_IN
#define BLOCK_OUT NNMAP_VTA_BLOCK_OUT
#define ACC_WIDTH (BATCH * BLOCK_OUT)

static uint32_t uop_buf[NNMAP_VTA_UOP_ENTRIES];
static int8_t wgt_buf[NNMAP_VTA_WGT_ENTRIES][BLOCK_OUT * BLOCK_IN];
static int8_t inp_buf[NNMAP_VTA_INP_ENTRIES][BATCH * BLOCK_IN];
static int32_t acc_buf[NNMAP_VTA_ACC_ENTRIES][ACC_WIDTH];
static int8_t out_buf[NNMAP_VTA_OUT_ENTRIES][ACC_WIDTH];

uint8_t *vta_sram_base(uint32_t memory_type) {
    switch (memory_type) {
    case VTA_MEM_ID_UOP: return (uint8_t *)uop_buf;
    case VTA_MEM_ID_WGT: return (uint8_t *)wgt_buf;
    case VTA_MEM_ID_INP: return (uint8_t *)inp_buf;
    case VTA_MEM_ID_ACC: return (uint8_t *)acc_buf;
    case VTA_MEM_ID_OUT: return (uint8_t *)out_buf;
    default: return NULL;
    }
}

uint32_t vta_sram_entries(uint32_t memory_type) {
    switch (memory_type) {
    case VTA_MEM_ID_UOP: return NNMAP_VTA_UOP_ENTRIES;
    case VTA_MEM_ID_WGT: return NNMAP_VTA_WGT_ENTRIES;
    case VTA_MEM_ID_INP: return NNMAP_VTA_INP_ENTRIES;
    case VTA_MEM_ID_ACC: return NNMAP_VTA_ACC_ENTRIES;
    case VTA_MEM_ID_OUT: return NNMAP_VTA_OUT_ENTRIES;
    default: return 0;
    }
}

uint32_t vta_entry_bytes(uint32_t memory_type) {
    switch (memory_type) {
    case VTA_MEM_ID_UOP: return sizeof(uop_buf[0]);
    case VTA_MEM_ID_WGT: return sizeof(wgt_buf[0]);
    case VTA_MEM_ID_INP: return sizeof(inp_buf[0]);
    case VTA_MEM_ID_ACC: return sizeof(acc_buf[0]);
    case VTA_MEM_ID_OUT: return sizeof(out_buf[0]);
    default: return 0;
    }
}

void vta_sram_clear(void) {
    memset(uop_buf, 0, sizeof(uop_buf));
    memset(wgt_buf, 0, sizeof(wgt_buf));
    memset(inp_buf, 0, sizeof(inp_buf));
    memset(acc_buf, 0, sizeof(acc_buf));
    memset(out_buf, 0, sizeof(out_buf));
}

static int span_fits(uint64_t first, uint64_t count, uint32_t memory_type, const char *what) {
    uint32_t entries = vta_sram_entries(memory_type);
    if (first + count > entries) {
        vta_fail("%s: entries %llu..%llu outside memory %u's 0..%u", what,
                 (unsigned long long)first, (unsigned long long)(first + count - 1), memory_type,
                 entries - 1);
        return 0;
    }
    return 1;
}

static void execute_load(const vta_transfer *t) {
    uint32_t rows = t->y_pad_before + t->y_size + t->y_pad_after;
    uint32_t cols = t->x_pad_before + t->x_size + t->x_pad_after;
    uint32_t bytes = vta_entry_bytes(t->memory_type);
    if (t->memory_type == VTA_MEM_ID_OUT || bytes == 0) {
        vta_fail("VTALoadBuffer2D: memory type %u cannot be loaded (use 0..3)", t->memory_type);
        return;
    }
    if (!span_fits(t->sram_index, (uint64_t)rows * cols, t->memory_type, "VTALoadBuffer2D")) {
        return;
    }
    uint8_t *dst = vta_sram_base(t->memory_type) + (size_t)t->sram_index * bytes;
    for (uint32_t r = 0; r < rows; ++r) {
        for (uint32_t c = 0; c < cols; ++c, dst += bytes) {
            int inside = r >= t->y_pad_before && r < t->y_pad_before + t->y_size &&
                         c >= t->x_pad_before && c < t->x_pad_before + t->x_size;
            if (!inside) {
                memset(dst, 0, bytes);
                continue;
            }
            size_t elem = (size_t)t->elem_offset + (size_t)(r - t->y_pad_before) * t->x_stride +
                          (c - t->x_pad_before);
            memcpy(dst, t->dram + elem * bytes, bytes);
        }
    }
}

static void execute_store(const vta_transfer *t) {
    if (t->memory_type != VTA_MEM_ID_OUT) {
        vta_fail("VTAStoreBuffer2D: stores read the output buffer (4), not memory %u",
                 t->memory_type);
        return;
    }
    uint64_t count = (uint64_t)t->x_size * t->y_size;
    if (!span_fits(t->sram_index, count, VTA_MEM_ID_OUT, "VTAStoreBuffer2D")) {
        return;
    }
    for (uint32_t y = 0; y < t->y_size; ++y) {
        size_t elem = (size_t)t->elem_offset + (size_t)y * t->x_stride;
        memcpy(t->dram + elem * sizeof(out_buf[0]), out_buf[t->sram_index + y * t->x_size],
               (size_t)t->x_size * sizeof(out_buf[0]));
    }
}

static int32_t wrap(int64_t value) { return (int32_t)(uint32_t)(uint64_t)value; }

static void write_acc(uint32_t dst, const int64_t *values) {
    for (uint32_t k = 0; k < ACC_WIDTH; ++k) {
        acc_buf[dst][k] = wrap(values[k]);
        out_buf[dst][k] = (int8_t)(uint8_t)(uint32_t)acc_buf[dst][k];
    }
}

static void gemm_step(const vta_compute *op, uint32_t dst, uint32_t src, uint32_t wgt) {
    int64_t sums[ACC_WIDTH];
    for (uint32_t b = 0; b < BATCH; ++b) {
        for (uint32_t o = 0; o < BLOCK_OUT; ++o) {
            int64_t sum = op->reset ? 0 : acc_buf[dst][b * BLOCK_OUT + o];
            for (uint32_t i = 0; !op->reset && i < BLOCK_IN; ++i) {
                sum += (int32_t)inp_buf[src][b * BLOCK_IN + i] * wgt_buf[wgt][o * BLOCK_IN + i];
            }
            sums[b * BLOCK_OUT + o] = sum;
        }
    }
    write_acc(dst, sums);
}

static int32_t shift_right(int32_t value, int32_t amount) {
    if (amount < 0) {
        uint32_t left = (uint32_t)(-(int64_t)amount > 31 ? 31 : -amount);
        return (int32_t)((uint32_t)value << left);
    }
    uint32_t right = (uint32_t)(amount > 31 ? 31 : amount);
    return value < 0 ? ~(int32_t)(~(uint32_t)value >> right) : (int32_t)((uint32_t)value >> right);
}

static int64_t alu_apply(uint32_t opcode, int32_t a, int32_t b) {
    switch (opcode) {
    case VTA_ALU_OPCODE_MIN: return a < b ? a : b;
    case VTA_ALU_OPCODE_MAX: return a > b ? a : b;
    case VTA_ALU_OPCODE_ADD: return (int64_t)a + b;
    case VTA_ALU_OPCODE_SHR: return shift_right(a, b);
    default: return (int64_t)a * b;
    }
}

static void alu_step(const vta_compute *op, uint32_t dst, uint32_t src) {
    int64_t results[ACC_WIDTH];
    for (uint32_t k = 0; k < ACC_WIDTH; ++k) {
        int32_t operand = op->use_imm ? op->imm : acc_buf[src][k];
        results[k] = alu_apply(op->opcode, acc_buf[dst][k], operand);
    }
    write_acc(dst, results);
}

static uint32_t field(uint32_t word, uint32_t shift, uint32_t bits) {
    return (word >> shift) & ((1u << bits) - 1u);
}

static int indices_fit(const vta_cmd *cmd, uint32_t dst, uint32_t src, uint32_t wgt) {
    const char *what = cmd->kind == VTA_GEMM ? "GEMM" : "ALU";
    if (!span_fits(dst, 1, VTA_MEM_ID_ACC, what)) return 0;
    if (cmd->kind == VTA_GEMM) {
        return span_fits(src, 1, VTA_MEM_ID_INP, what) && span_fits(wgt, 1, VTA_MEM_ID_WGT, what);
    }
    return cmd->compute.use_imm || span_fits(src, 1, VTA_MEM_ID_ACC, what);
}

static void execute_uops(const vta_cmd *cmd) {
    const vta_compute *op = &cmd->compute;
    for (uint32_t i = 0; i < op->extent[0]; ++i) {
        for (uint32_t j = 0; j < op->extent[1]; ++j) {
            for (uint32_t u = op->uop_begin; u < op->uop_end; ++u) {
                uint32_t word = uop_buf[u];
                uint32_t dst = field(word, 0, NNMAP_VTA_UOP_DST_BITS) + i * op->dst_factor[0] +
                               j * op->dst_factor[1];
                uint32_t src = field(word, NNMAP_VTA_UOP_DST_BITS, NNMAP_VTA_UOP_SRC_BITS) +
                               i * op->src_factor[0] + j * op->src_factor[1];
                uint32_t wgt = field(word, NNMAP_VTA_UOP_DST_BITS + NNMAP_VTA_UOP_SRC_BITS,
                                     NNMAP_VTA_UOP_WGT_BITS) +
                               i * op->wgt_factor[0] + j * op->wgt_factor[1];
                if (!indices_fit(cmd, dst, src, wgt)) return;
                if (cmd->kind == VTA_GEMM) {
                    gemm_step(op, dst, src, wgt);
                } else {
                    alu_step(op, dst, src);
                }
            }
        }
    }
}

void vta_execute(const vta_cmd *cmd) {
    switch (cmd->kind) {
    case VTA_LOAD: execute_load(&cmd->transfer); break;
    case VTA_STORE: execute_store(&cmd->transfer); break;
    case VTA_GEMM:
    case VTA_ALU: execute_uops(cmd); break;
    default: break;
    }
}
