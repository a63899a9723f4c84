"""Running a cross-compiled image on the Unicorn engine and measuring its host cycles.

The image's loadable segments are mapped at their addresses, a stack and the caller's input and
output buffers beside them; the entry function is called with the buffers' addresses as its
pointer arguments and a return address where emulation stops. A C hook counts the executed
basic blocks (``counter``), each distinct block is decoded once (``decode``) and the counts are
priced by the core's costs (``cycles``).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import capstone
import unicorn
from elftools.elf.elffile import ELFFile
from elftools.elf.sections import SymbolTableSection
from unicorn import arm_const, riscv_const

from nnmap.hostsim.cores import HostCore
from nnmap.hostsim.counter import BlockCounter
from nnmap.hostsim.cycles import HostCycles, host_cycles
from nnmap.hostsim.decode import BlockProfile, HostSimulationError, decode_block, disassembler

PAGE = 0x1000
BUFFER_BASE = 0x2000_0000
RETURN_ADDRESS = 0x3000_0000
STACK_TOP = 0x4000_0000
STACK_BYTES = 1 << 20
# functions of accelerator emulators cross-compiled with the host code: their instructions run
# (functionally) but are not host work; the emulators keep their own cycle counters
ACCELERATOR_EMULATOR_PREFIXES = ("nnmap_gemmini_", "nnmap_vta_", "gemmini_", "VTA")
# functions of nnmap's freestanding C library (support/): charged to their caller
RUNTIME_SUPPORT = frozenset(
    {
        "memcpy", "memmove", "memset", "memcmp", "strlen", "strncpy", "strcmp", "malloc",
        "calloc", "realloc", "free", "vsnprintf", "snprintf", "nearbyintf", "_start",
    }
)  # fmt: skip
ARGUMENT_REGISTERS = {
    "riscv": tuple(getattr(riscv_const, f"UC_RISCV_REG_A{index}") for index in range(8)),
    "arm": tuple(getattr(arm_const, f"UC_ARM_REG_R{index}") for index in range(4)),
}


@dataclass(frozen=True)
class Emulation:
    """One call of an entry function: its ``outputs`` (the output buffers after the call), its
    ``return_value``, the measured host ``cycles`` and the emulation's wall time."""

    outputs: tuple[bytes, ...]
    return_value: int
    cycles: HostCycles
    wall_seconds: float


@dataclass(frozen=True)
class Image:
    """A loaded ELF: its loadable segments (address, bytes, memory size) and function symbols."""

    segments: tuple[tuple[int, bytes, int], ...]
    functions: dict[str, tuple[int, int, bool]]

    def address_of(self, name: str) -> int:
        """The address of the function ``name``."""
        if name not in self.functions:
            raise HostSimulationError(f"the cross-compiled image has no function {name!r}")
        return self.functions[name][0]

    def owner_ranges(self) -> list[tuple[str, int, int]]:
        """(name, start, end) of the functions cycles are charged to: global functions except
        the compiler runtime (``__*``) and nnmap's freestanding support, sorted by address."""
        owners = [
            (name, start, start + size)
            for name, (start, size, is_global) in self.functions.items()
            if is_global and size > 0 and not name.startswith("__") and name not in RUNTIME_SUPPORT
        ]
        return sorted(owners, key=lambda owner: owner[1])


def load_image(path: Path) -> Image:
    """Read an ELF image's loadable segments and function symbols."""
    with open(path, "rb") as stream:
        elf = ELFFile(stream)
        segments = tuple(
            (segment["p_vaddr"], segment.data(), segment["p_memsz"])
            for segment in elf.iter_segments()
            if segment["p_type"] == "PT_LOAD"
        )
        symbols = elf.get_section_by_name(".symtab")
        if not isinstance(symbols, SymbolTableSection):
            raise HostSimulationError(f"{path}: the image has no symbol table")
        functions = {
            symbol.name: (
                symbol["st_value"] & ~1,
                symbol["st_size"],
                symbol["st_info"]["bind"] == "STB_GLOBAL",
            )
            for symbol in symbols.iter_symbols()
            if symbol["st_info"]["type"] == "STT_FUNC"
        }
    return Image(segments=segments, functions=functions)


def round_up(value: int, step: int = PAGE) -> int:
    """``value`` rounded up to a multiple of ``step``."""
    return (value + step - 1) // step * step


def new_engine(core: HostCore) -> unicorn.Uc:
    """A unicorn engine for the core's ISA."""
    if core.isa == "armv7-a":
        engine = unicorn.Uc(unicorn.UC_ARCH_ARM, unicorn.UC_MODE_ARM)
        engine.ctl_set_cpu_model(arm_const.UC_CPU_ARM_CORTEX_A9)
        return engine
    mode = unicorn.UC_MODE_RISCV64 if core.word_bits == 64 else unicorn.UC_MODE_RISCV32
    return unicorn.Uc(unicorn.UC_ARCH_RISCV, mode)


def map_image(engine: unicorn.Uc, image: Image) -> None:
    """Map and fill the image's segments (zero-filled beyond their file bytes)."""
    low = min(address for address, _, _ in image.segments) // PAGE * PAGE
    high = round_up(max(address + size for address, _, size in image.segments))
    engine.mem_map(low, high - low)
    for address, data, _ in image.segments:
        engine.mem_write(address, data)


def place_buffers(engine: unicorn.Uc, buffers: Sequence[bytes]) -> list[int]:
    """Map one region holding the buffers (64-byte aligned, in order); their addresses."""
    addresses = []
    offset = 0
    for buffer in buffers:
        addresses.append(BUFFER_BASE + offset)
        offset += round_up(max(len(buffer), 1), 64)
    engine.mem_map(BUFFER_BASE, round_up(max(offset, 1)))
    for address, buffer in zip(addresses, buffers, strict=True):
        engine.mem_write(address, bytes(buffer))
    return addresses


def set_call(engine: unicorn.Uc, core: HostCore, arguments: Sequence[int]) -> None:
    """Stack pointer, return address and pointer arguments for the call."""
    family = "arm" if core.isa == "armv7-a" else "riscv"
    registers = ARGUMENT_REGISTERS[family]
    if len(arguments) > len(registers):
        raise HostSimulationError(
            f"host core {core.name}: at most {len(registers)} pointer arguments can be passed"
        )
    engine.mem_map(STACK_TOP - STACK_BYTES, STACK_BYTES)
    engine.mem_map(RETURN_ADDRESS, PAGE)
    if family == "arm":
        engine.reg_write(arm_const.UC_ARM_REG_SP, STACK_TOP - 64)
        engine.reg_write(arm_const.UC_ARM_REG_LR, RETURN_ADDRESS)
    else:
        engine.reg_write(riscv_const.UC_RISCV_REG_SP, STACK_TOP - 64)
        engine.reg_write(riscv_const.UC_RISCV_REG_RA, RETURN_ADDRESS)
    for register, value in zip(registers, arguments, strict=False):
        engine.reg_write(register, value)


def program_counter(engine: unicorn.Uc, core: HostCore) -> int:
    """The engine's program counter."""
    register = arm_const.UC_ARM_REG_PC if core.isa == "armv7-a" else riscv_const.UC_RISCV_REG_PC
    return int(engine.reg_read(register))


def return_value(engine: unicorn.Uc, core: HostCore) -> int:
    """The entry function's return value as a signed 32-bit int."""
    register = arm_const.UC_ARM_REG_R0 if core.isa == "armv7-a" else riscv_const.UC_RISCV_REG_A0
    value = engine.reg_read(register) & 0xFFFF_FFFF
    return value - (1 << 32) if value & 0x8000_0000 else value


def block_profiler(engine: unicorn.Uc, core: HostCore):  # type: ignore[no-untyped-def]
    """A function decoding each distinct (address, size) block once from the engine's memory."""
    disassembly: capstone.Cs = disassembler(core)

    @cache
    def profile(address: int, size: int) -> BlockProfile:
        return decode_block(disassembly, core, bytes(engine.mem_read(address, size)), address)

    return profile


def emulate(
    image_path: Path,
    core: HostCore,
    entry: str,
    inputs: Sequence[bytes],
    output_sizes: Sequence[int],
    excluded_prefixes: Sequence[str] = ACCELERATOR_EMULATOR_PREFIXES,
    timeout_seconds: float = 600.0,
) -> Emulation:
    """Call ``entry(input..., output...)`` of the image on ``core`` and measure it.

    Every argument is a pointer to a buffer: the ``inputs`` (copied in) then one zeroed buffer
    per ``output_sizes`` entry (read back). Functions whose names start with one of
    ``excluded_prefixes`` run, with everything they call, but their cycles are not host cycles
    and their data accesses do not touch the host's cache model.
    """
    start = time.perf_counter()
    image = load_image(Path(image_path))
    engine = new_engine(core)
    map_image(engine, image)
    buffers = [bytes(buffer) for buffer in inputs] + [bytes(size) for size in output_sizes]
    addresses = place_buffers(engine, buffers)
    set_call(engine, core, addresses)
    owners = image.owner_ranges()
    excluded = tuple(excluded_prefixes)
    counter = BlockCounter(
        [(low, high, name.startswith(excluded)) for name, low, high in owners], core.data_cache
    )
    try:
        counter.attach(engine)
        counter.restart()
        try:
            engine.emu_start(
                image.address_of(entry), RETURN_ADDRESS, timeout=int(timeout_seconds * 1e6)
            )
        except unicorn.UcError as error:
            raise HostSimulationError(
                f"{entry} on host core {core.name} stopped at {program_counter(engine, core):#x}:"
                f" {error}"
            ) from error
        if program_counter(engine, core) != RETURN_ADDRESS:
            raise HostSimulationError(
                f"{entry} on host core {core.name} did not return within {timeout_seconds} s"
            )
        edges = counter.edges()
        cache_counts = counter.cache_counts()
    finally:
        counter.close()
    outputs = tuple(
        bytes(engine.mem_read(address, size))
        for address, size in zip(addresses[len(inputs) :], output_sizes, strict=True)
    )
    cycles = host_cycles(
        core,
        edges,
        block_profiler(engine, core),
        [name for name, _, _ in owners],
        cache_counts,
        excluded_prefixes,
    )
    return Emulation(
        outputs=outputs,
        return_value=return_value(engine, core),
        cycles=cycles,
        wall_seconds=time.perf_counter() - start,
    )
