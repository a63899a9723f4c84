"""Host cores measured: nnmap's generated C cross-compiled for a host core's ISA (``zig cc``),
run on the Unicorn instruction-set emulator, and its cycles counted per basic block and priced
by the core's per-instruction-class costs."""

from nnmap.hostsim.crosscompile import cross_compile, cross_compile_artifact
from nnmap.hostsim.cycles import FunctionCycles, HostCycles
from nnmap.hostsim.decode import HostSimulationError
from nnmap.hostsim.emulate import Emulation, HostMachine, emulate

__all__ = [
    "Emulation",
    "FunctionCycles",
    "HostCycles",
    "HostMachine",
    "HostSimulationError",
    "cross_compile",
    "cross_compile_artifact",
    "emulate",
]
