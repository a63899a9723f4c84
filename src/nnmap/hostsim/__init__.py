"""Host cores measured: nnmap's generated C cross-compiled for a host core's ISA (``zig cc``),
run on the Unicorn instruction-set emulator, and its cycles counted per basic block and priced
by the core's per-instruction-class costs."""

from nnmap.hostsim.builtin_cores import BUILTIN_CORES, CORTEX_A9, CV32E40P, ROCKET
from nnmap.hostsim.cores import DataCache, HostCore, InstructionCosts
from nnmap.hostsim.crosscompile import cross_compile, cross_compile_artifact
from nnmap.hostsim.cycles import FunctionCycles, HostCycles
from nnmap.hostsim.decode import HostSimulationError
from nnmap.hostsim.emulate import (
    ACCELERATOR_EMULATOR_PREFIXES,
    Emulation,
    HostMachine,
    emulate,
)

__all__ = [
    "ACCELERATOR_EMULATOR_PREFIXES",
    "BUILTIN_CORES",
    "CORTEX_A9",
    "CV32E40P",
    "ROCKET",
    "DataCache",
    "Emulation",
    "FunctionCycles",
    "HostCore",
    "HostCycles",
    "HostMachine",
    "HostSimulationError",
    "InstructionCosts",
    "cross_compile",
    "cross_compile_artifact",
    "emulate",
]
