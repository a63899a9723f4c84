/* Timing a VTA command list on the emulator's pipeline (see vta_command_timing.h): each command
 * becomes the vta_cmd the runtime would queue, with the stage and cost the emulator gives it. */
#include "vta_command_timing.h"

#include <stdlib.h>

#include "vta_internal.h"
#include "vta_runtime.h"

/* The vta_cmd of one encoded command; 0 when it is malformed. */
static int decode(const uint32_t *word, vta_cmd *cmd) {
    *cmd = (vta_cmd){0};
    cmd->compute.extent[0] = cmd->compute.extent[1] = 1;
    cmd->transfer.y_size = 1;
    switch (word[0]) {
    case NNMAP_VTA_OP_LOAD:
        if (word[1] > VTA_MEM_ID_ACC) return 0;
        cmd->kind = VTA_LOAD;
        cmd->transfer.memory_type = word[1];
        cmd->transfer.x_size = word[2];
        break;
    case NNMAP_VTA_OP_STORE:
        cmd->kind = VTA_STORE;
        cmd->transfer.memory_type = VTA_MEM_ID_OUT;
        cmd->transfer.x_size = word[2];
        break;
    case NNMAP_VTA_OP_GEMM:
    case NNMAP_VTA_OP_ALU:
        cmd->kind = word[0] == NNMAP_VTA_OP_GEMM ? VTA_GEMM : VTA_ALU;
        cmd->compute.use_imm = word[1] != 0;
        cmd->compute.uop_end = word[2];
        break;
    case NNMAP_VTA_OP_PUSH:
    case NNMAP_VTA_OP_POP:
        cmd->kind = word[0] == NNMAP_VTA_OP_PUSH ? VTA_PUSH : VTA_POP;
        cmd->q_from = (int)word[1];
        cmd->q_to = (int)word[2];
        if (vta_token_queue(cmd->q_from, cmd->q_to) < 0) return 0;
        break;
    default: return 0;
    }
    cmd->stage = vta_stage_of(cmd->kind, cmd->transfer.memory_type, cmd->q_from, cmd->q_to);
    return 1;
}

uint64_t nnmap_vta_time_commands(const uint32_t *words, size_t commands, uint64_t *busy,
                                 uint64_t *occupancy) {
    vta_cmd *cmds = commands > UINT32_MAX ? NULL : malloc(sizeof(vta_cmd) * (commands + 1));
    if (cmds == NULL) return NNMAP_VTA_MALFORMED;
    int ok = 1;
    for (size_t index = 0; ok && index < commands; ++index) {
        ok = decode(words + index * NNMAP_VTA_COMMAND_WORDS, &cmds[index]);
        if (ok && occupancy != NULL) occupancy[index] = vta_cost(&cmds[index]);
    }
    vta_pipeline_reset();
    uint64_t end = ok ? vta_pipeline_time(cmds, (uint32_t)commands) : NNMAP_VTA_MALFORMED;
    free(cmds);
    for (int stage = 0; stage < STAGE_COUNT; ++stage) busy[stage] = vta_pipeline_busy(stage);
    return end;
}
