"""Running a cross-compiled image on the Unicorn engine and measuring its host cycles.

The image's loadable segments are mapped at their addresses, with a stack and, per call, the
caller's buffers beside them; a function is called with its arguments in the ABI's argument
registers and a return address where emulation stops. A C hook counts the executed basic blocks
(``counter``), each distinct block is decoded once (``decode``) and the counts are priced by
the core's costs (``cycles``). Calls on one ``HostMachine`` share memory and cache state, so an
accelerator emulator's counters can be read after the network ran.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import TracebackType

import unicorn
from unicorn import arm_const, riscv_const

from nnmap.hostsim.counter import BlockCounter
from nnmap.hostsim.cycles import HostCycles, host_cycles
from nnmap.hostsim.decode import BlockProfile, HostSimulationError, decode_block, disassembler
from nnmap.hostsim.image import Image, load_image
from nnmap.hw.host_core import HostCore

PAGE = 0x1000
BUFFER_BASE = 0x2000_0000
RETURN_ADDRESS = 0x3000_0000
STACK_TOP = 0x4000_0000
STACK_BYTES = 1 << 20
MAX_BLOCKS = 1 << 31  # a call running longer is taken for a hang
ARGUMENT_REGISTERS = {
    "riscv": tuple(getattr(riscv_const, f"UC_RISCV_REG_A{index}") for index in range(8)),
    "arm": tuple(getattr(arm_const, f"UC_ARM_REG_R{index}") for index in range(4)),
}


@dataclass(frozen=True)
class Emulation:
    """One call: the ``outputs`` (the output buffers after the call), the return register read
    as a C ``int`` (``return_value``), as an unsigned register-wide value (``return_word``: a
    ``size_t`` or pointer) and as a ``uint64_t`` (``return_u64``: the a0/a1 or r0/r1 register
    pair on 32-bit ISAs), the measured host ``cycles`` and the emulation's wall time."""

    outputs: tuple[bytes, ...]
    return_value: int
    return_word: int
    return_u64: int
    cycles: HostCycles
    wall_seconds: float


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


def place_buffers(engine: unicorn.Uc, buffers: Sequence[bytes]) -> tuple[list[int], int]:
    """Map one region holding the buffers (64-byte aligned, in order): their addresses and the
    region's size."""
    addresses = []
    offset = 0
    for buffer in buffers:
        addresses.append(BUFFER_BASE + offset)
        offset += round_up(max(len(buffer), 1), 64)
    region = round_up(max(offset, 1))
    engine.mem_map(BUFFER_BASE, region)
    for address, buffer in zip(addresses, buffers, strict=True):
        engine.mem_write(address, bytes(buffer))
    return addresses, region


def block_profiler(engine: unicorn.Uc, core: HostCore) -> Callable[[int, int], BlockProfile]:
    """A function decoding each distinct (address, size) block once from the engine's memory."""
    disassembly = disassembler(core)

    @cache
    def profile(address: int, size: int) -> BlockProfile:
        return decode_block(disassembly, core, bytes(engine.mem_read(address, size)), address)

    return profile


class HostMachine:
    """A cross-compiled image loaded for one host core; its functions are called one after the
    other on the same memory. Functions whose names start with one of ``excluded_prefixes``
    run, with everything they call, but their cycles are not host cycles and their data
    accesses do not touch the host's cache model."""

    def __init__(
        self,
        image_path: Path,
        core: HostCore,
        excluded_prefixes: Sequence[str] = (),
    ) -> None:
        self.core = core
        self.image = load_image(Path(image_path))
        self.excluded_prefixes = tuple(excluded_prefixes)
        self.engine = new_engine(core)
        map_image(self.engine, self.image)
        self.engine.mem_map(STACK_TOP - STACK_BYTES, STACK_BYTES)
        self.engine.mem_map(RETURN_ADDRESS, PAGE)
        self.owners = self.image.owner_ranges()
        self.counter = BlockCounter(
            [
                (low, high, name.startswith(self.excluded_prefixes))
                for name, low, high in self.owners
            ],
            core.data_cache,
        )
        self.counter.attach(self.engine)
        self.profile = block_profiler(self.engine, core)
        self.is_arm = core.isa == "armv7-a"

    def __enter__(self) -> HostMachine:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Release the block counter."""
        self.counter.close()

    def register(self, name: str) -> int:
        """The unicorn id of register ``name`` (sp, ra/lr, pc, a0/r0, a1/r1)."""
        if self.is_arm:
            arm_names = {"ra": "LR", "a0": "R0", "a1": "R1"}
            return int(getattr(arm_const, f"UC_ARM_REG_{arm_names.get(name, name).upper()}"))
        return int(getattr(riscv_const, f"UC_RISCV_REG_{name.upper()}"))

    def set_call(self, arguments: Sequence[int]) -> None:
        """Stack pointer, return address and arguments for the next call."""
        registers = ARGUMENT_REGISTERS["arm" if self.is_arm else "riscv"]
        if len(arguments) > len(registers):
            raise HostSimulationError(
                f"host core {self.core.name}: at most {len(registers)} arguments can be passed"
            )
        self.engine.reg_write(self.register("sp"), STACK_TOP - 64)
        self.engine.reg_write(self.register("ra"), RETURN_ADDRESS)
        for register, value in zip(registers, arguments, strict=False):
            self.engine.reg_write(register, value)

    def run_to_return(self, entry: str, max_blocks: int) -> None:
        """Emulate from ``entry`` until it returns; HostSimulationError if it faults or runs
        more than ``max_blocks`` basic blocks (a block hook stops it: unicorn's own timeout
        thread can deadlock between calls)."""
        self.counter.limit(max_blocks)
        try:
            self.engine.emu_start(self.image.address_of(entry), RETURN_ADDRESS)
        except unicorn.UcError as error:
            raise HostSimulationError(
                f"{entry} on host core {self.core.name} stopped at {self.program_counter():#x}:"
                f" {error}"
            ) from error
        if self.program_counter() != RETURN_ADDRESS:
            raise HostSimulationError(
                f"{entry} on host core {self.core.name} did not return within {max_blocks}"
                " basic blocks"
            )

    def program_counter(self) -> int:
        """The engine's program counter."""
        return int(self.engine.reg_read(self.register("pc")))

    def return_values(self) -> tuple[int, int, int]:
        """The return register as a signed 32-bit int, as an unsigned register-wide value and as
        an unsigned 64-bit value (a register pair on 32-bit ISAs)."""
        word = int(self.engine.reg_read(self.register("a0"))) & ((1 << self.core.word_bits) - 1)
        if self.core.word_bits == 64:
            wide = word
        else:
            wide = word | (int(self.engine.reg_read(self.register("a1"))) & 0xFFFF_FFFF) << 32
        narrow = word & 0xFFFF_FFFF
        return (narrow - (1 << 32) if narrow & 0x8000_0000 else narrow), word, wide

    def call(
        self,
        entry: str,
        arguments: Sequence[bytes | int] = (),
        output_sizes: Sequence[int] = (),
        max_blocks: int = MAX_BLOCKS,
    ) -> Emulation:
        """Call ``entry(argument..., output...)`` and measure it. A ``bytes`` argument is copied
        into a buffer whose address is passed, an ``int`` is passed as it is in one argument
        register (register-wide: a ``uint64_t`` argument on a 32-bit ISA is not supported); then
        one zeroed buffer per ``output_sizes`` entry is passed and read back after the call."""
        start = time.perf_counter()
        buffers = [argument for argument in arguments if isinstance(argument, bytes)]
        buffers += [bytes(size) for size in output_sizes]
        addresses, region = place_buffers(self.engine, buffers)
        pointers = iter(addresses)
        values = [
            next(pointers) if isinstance(argument, bytes) else argument for argument in arguments
        ]
        output_addresses = list(pointers)
        self.set_call([*values, *output_addresses])
        self.counter.clear()
        try:
            self.run_to_return(entry, max_blocks)
            outputs = tuple(
                bytes(self.engine.mem_read(address, size))
                for address, size in zip(output_addresses, output_sizes, strict=True)
            )
        finally:
            self.engine.mem_unmap(BUFFER_BASE, region)
        names = [name for name, _, _ in self.owners]
        cycles = host_cycles(
            self.core,
            self.counter.edges(),
            self.profile,
            names,
            self.counter.cache_counts(),
            self.excluded_prefixes,
        )
        narrow, word, wide = self.return_values()
        return Emulation(outputs, narrow, word, wide, cycles, time.perf_counter() - start)


def emulate(
    image_path: Path,
    core: HostCore,
    entry: str,
    arguments: Sequence[bytes | int],
    output_sizes: Sequence[int],
    excluded_prefixes: Sequence[str] = (),
    max_blocks: int = MAX_BLOCKS,
) -> Emulation:
    """Load the image on a fresh ``HostMachine`` (cold cache) and make one call (see
    ``HostMachine.call``)."""
    with HostMachine(image_path, core, excluded_prefixes) as machine:
        return machine.call(entry, arguments, output_sizes, max_blocks)
