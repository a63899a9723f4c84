"""Decoding a basic block once into what the cost model needs: instructions by class, load-use
pairs, extra registers of load/store multiples, and how the block ends.

Capstone (PyPI ``capstone``) disassembles; the classes are nnmap's (see ``InstructionCosts``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import capstone
from capstone import arm_const, riscv_const

from nnmap.errors import NnmapError
from nnmap.hw.host_core import HostCore


class HostSimulationError(NnmapError):
    """The cross-compiled program could not be run or profiled on the instruction-set emulator."""


RISCV_LOADS = {"lw", "ld", "lwu", "c.lw", "c.ld", "c.lwsp", "c.ldsp", "lr.w", "lr.d"}
RISCV_SUBWORD_LOADS = {"lb", "lbu", "lh", "lhu"}
RISCV_STORES = {"sb", "sh", "sw", "sd", "c.sw", "c.sd", "c.swsp", "c.sdsp", "sc.w", "sc.d"}
RISCV_DIVIDES = {"div", "divu", "rem", "remu", "divw", "divuw", "remw", "remuw"}
RISCV_HIGH_MULTIPLIES = {"mulh", "mulhu", "mulhsu"}
RISCV_BRANCHES = {"beq", "bne", "blt", "bge", "bltu", "bgeu", "c.beqz", "c.bnez"}
RISCV_JUMPS = {"jal", "c.j", "c.jal"}
RISCV_INDIRECT = {"jalr", "c.jr", "c.jalr"}
RISCV_SYSTEM_PREFIXES = ("csr", "fence", "ecall", "ebreak", "wfi", "mret", "amo", "c.ebreak")
# compressed two-address instructions: their first operand is read as well as written
RISCV_READS_FIRST = {
    "c.add", "c.addi", "c.addiw", "c.addw", "c.sub", "c.subw", "c.and", "c.andi", "c.or",
    "c.xor", "c.slli", "c.srli", "c.srai", "c.addi16sp",
}  # fmt: skip

ARM_SUBWORD_LOADS = {"ldrb", "ldrsb", "ldrh", "ldrsh", "ldrbt", "ldrht", "ldrsbt", "ldrsht"}
ARM_LOADS = {"ldr", "ldrd", "ldrex", "ldrexd", "ldrt"}
ARM_LOAD_MULTIPLES = {"ldm", "ldmib", "ldmda", "ldmdb", "pop"}
ARM_STORES = {"str", "strb", "strh", "strd", "strex", "strexb", "strexh", "strexd", "strt"}
ARM_STORE_MULTIPLES = {"stm", "stmib", "stmda", "stmdb", "push"}
ARM_MULTIPLIES = {
    "mul", "mla", "mls", "smulbb", "smulbt", "smultb", "smultt", "smulwb", "smulwt",
    "smlabb", "smlabt", "smlatb", "smlatt", "smlawb", "smlawt", "smuad", "smuadx", "smlad",
    "smladx", "smusd", "smusdx", "smlsd", "smlsdx",
}  # fmt: skip
ARM_WIDE_MULTIPLIES = {
    "smull", "umull", "smlal", "umlal", "umaal", "smmul", "smmulr", "smmla", "smmlar", "smmls",
    "smmlsr", "smlalbb", "smlalbt", "smlaltb", "smlaltt", "smlald", "smlaldx", "smlsld",
    "smlsldx",
}  # fmt: skip
ARM_DIVIDES = {"sdiv", "udiv"}
ARM_SYSTEM = {"mrc", "mcr", "mrs", "msr", "dmb", "dsb", "isb", "svc", "cps", "wfi", "wfe"}


@dataclass(frozen=True)
class BlockProfile:
    """One decoded basic block: ``classes`` counts its instructions by class,
    ``load_use`` / ``load_subword_use`` count loads whose result the next instruction reads,
    ``extra_registers`` the registers beyond the first of load/store multiples, and
    ``conditional_end`` says whether its last instruction is a conditional branch, taken when
    the next block does not start at ``fall_through``."""

    address: int
    size: int
    classes: dict[str, int] = field(hash=False)
    load_use: int
    load_subword_use: int
    extra_registers: int
    conditional_end: bool

    @property
    def fall_through(self) -> int:
        """The address right after the block."""
        return self.address + self.size

    @property
    def instructions(self) -> int:
        """Instructions in the block."""
        return sum(self.classes.values())


def disassembler(core: HostCore) -> capstone.Cs:
    """A capstone disassembler with operand details for the core's ISA."""
    if core.isa == "armv7-a":
        engine = capstone.Cs(capstone.CS_ARCH_ARM, capstone.CS_MODE_ARM)
    else:
        mode = capstone.CS_MODE_RISCV64 if core.word_bits == 64 else capstone.CS_MODE_RISCV32
        engine = capstone.Cs(capstone.CS_ARCH_RISCV, mode | capstone.CS_MODE_RISCVC)
    engine.detail = True
    return engine


def riscv_class(name: str, word_bits: int) -> str:
    """The cost class of a RISC-V instruction (capstone's canonical name)."""
    if name in RISCV_LOADS:
        return "load"
    if name in RISCV_SUBWORD_LOADS:
        return "load_subword"
    if name in RISCV_STORES:
        return "store"
    if name == "mulw" or (name == "mul" and word_bits == 32):
        return "multiply"
    if name == "mul" or name in RISCV_HIGH_MULTIPLIES:
        return "multiply_wide"
    if name in RISCV_DIVIDES:
        return "divide"
    if name in RISCV_BRANCHES:
        return "branch"
    if name in RISCV_JUMPS:
        return "jump"
    if name in RISCV_INDIRECT:
        return "indirect_jump"
    if name.startswith(RISCV_SYSTEM_PREFIXES):
        return "other"
    return "alu"


def riscv_reads(instruction: capstone.CsInsn, kind: str) -> set[int]:
    """The registers a RISC-V instruction reads, from its operands: the first register operand
    is a destination, except for stores and branches (and read too by compressed two-address
    instructions such as ``c.add``)."""
    reads: set[int] = set()
    name = instruction.insn_name()
    writes_first = kind not in ("store", "branch") and name not in ("c.jr", "c.jalr")
    for index, operand in enumerate(instruction.operands):
        if operand.type == riscv_const.RISCV_OP_MEM:
            reads.add(operand.mem.base)
        elif operand.type == riscv_const.RISCV_OP_REG:
            if index > 0 or not writes_first or name in RISCV_READS_FIRST:
                reads.add(operand.reg)
    return reads


def arm_class(instruction: capstone.CsInsn) -> str:
    """The cost class of an ARM instruction; instructions writing the PC are jumps."""
    name = instruction.insn_name()
    conditional = instruction.cc not in (arm_const.ARM_CC_AL, arm_const.ARM_CC_INVALID)
    if name in ARM_SUBWORD_LOADS:
        return "load_subword"
    if name in ARM_LOADS or name in ARM_LOAD_MULTIPLES:
        return "load"
    if name in ARM_STORES or name in ARM_STORE_MULTIPLES:
        return "store"
    if name in ARM_MULTIPLIES:
        return "multiply"
    if name in ARM_WIDE_MULTIPLIES:
        return "multiply_wide"
    if name in ARM_DIVIDES:
        return "divide"
    if name in ("b", "bl", "blx", "bx") or arm_writes_pc(instruction):
        if conditional:
            return "branch"
        direct = instruction.operands[0].type != arm_const.ARM_OP_REG
        if name in ("b", "bl") or (name == "blx" and direct):
            return "jump"
        return "indirect_jump"
    if name in ARM_SYSTEM:
        return "other"
    return "alu"


def arm_writes_pc(instruction: capstone.CsInsn) -> bool:
    """Whether an ARM data-processing instruction writes the PC (``mov pc, lr``)."""
    _, writes = instruction.regs_access()
    return arm_const.ARM_REG_PC in writes


def arm_reads(instruction: capstone.CsInsn) -> set[int]:
    """The registers an ARM instruction reads, from capstone."""
    reads, _ = instruction.regs_access()
    return set(reads)


def loaded_registers(instruction: capstone.CsInsn, core: HostCore) -> set[int]:
    """The registers a load fills with memory data: the register operands before the address
    (RISC-V, ARM ``ldr``/``ldrd``), or the register list of an ARM load multiple."""
    name = instruction.insn_name()
    operands = list(instruction.operands)
    if core.isa == "armv7-a" and name in ARM_LOAD_MULTIPLES:
        listed = operands if name == "pop" else operands[1:]
        return {operand.reg for operand in listed if operand.type == arm_const.ARM_OP_REG}
    memory = arm_const.ARM_OP_MEM if core.isa == "armv7-a" else riscv_const.RISCV_OP_MEM
    register = arm_const.ARM_OP_REG if core.isa == "armv7-a" else riscv_const.RISCV_OP_REG
    registers = set()
    for operand in operands:
        if operand.type == memory:
            break
        if operand.type == register:
            registers.add(operand.reg)
    return registers


def transfer_registers(instruction: capstone.CsInsn) -> int:
    """Registers moved by an ARM load/store multiple (0 for any other instruction)."""
    name = instruction.insn_name()
    if name not in ARM_LOAD_MULTIPLES and name not in ARM_STORE_MULTIPLES:
        return 0
    registers = [op for op in instruction.operands if op.type == arm_const.ARM_OP_REG]
    base_listed = name not in ("push", "pop")
    return len(registers) - (1 if base_listed else 0)


def decode_block(engine: capstone.Cs, core: HostCore, code: bytes, address: int) -> BlockProfile:
    """Profile the instructions of one basic block (``code`` at ``address``)."""
    classes: Counter[str] = Counter()
    load_use = {"load": 0, "load_subword": 0}
    extra_registers = 0
    pending_load: tuple[str, set[int]] | None = None
    kind = "alu"
    decoded = 0
    for instruction in engine.disasm(code, address):
        decoded += instruction.size
        if core.isa == "armv7-a":
            kind = arm_class(instruction)
            reads = arm_reads(instruction)
        else:
            kind = riscv_class(instruction.insn_name(), core.word_bits)
            reads = riscv_reads(instruction, kind)
        classes[kind] += 1
        extra_registers += max(transfer_registers(instruction) - 1, 0)
        if pending_load is not None and pending_load[1] & reads:
            load_use[pending_load[0]] += 1
        is_load = kind in ("load", "load_subword")
        pending_load = (kind, loaded_registers(instruction, core)) if is_load else None
    if decoded != len(code):
        raise HostSimulationError(
            f"host core {core.name}: cannot decode the instruction at {address + decoded:#x}"
        )
    return BlockProfile(
        address=address,
        size=len(code),
        classes=dict(classes),
        load_use=load_use["load"],
        load_subword_use=load_use["load_subword"],
        extra_registers=extra_registers,
        conditional_end=kind == "branch",
    )
