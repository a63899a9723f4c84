"""The stream model of convolutions read directly from their input (``direct.py``): their
candidate tiles, costs and bounds, timed by the same stream model as gathered GEMMs
(``stream.py``: one GEMM step per tile, the halo-padded input load, the larger micro-op kernel),
and the whole-cost choice between reading the input directly and the host's im2col gather."""

from __future__ import annotations

from dataclasses import dataclass
from math import inf

from nnmap.errors import MappingError
from nnmap.hw import ExecModule
from nnmap.ir.workload import LOOPS, Workload
from nnmap.mapping.gemm_tiling import ceil_div
from nnmap.mapping.host_model import OPS_PER_ELEMENT, HostWork, streamed_cycles
from nnmap.mapping.model import Cost, Mapping
from nnmap.mapping.stream_search import StreamModel, search_stream
from nnmap.targets.vta.cost import (
    ALL_BUFFERED,
    M_FIRST,
    candidate_mappings,
    stream_shape,
    tile_cost,
    vta_stream_bound,
    vta_stream_cost,
)
from nnmap.targets.vta.direct import ConvWindow, conv_window, direct_channel_blocks, direct_rows
from nnmap.targets.vta.stream import stream_bound
from nnmap.targets.vta.tiling import VtaBuffers, VtaTile, direct_vta_tile
from nnmap.targets.vta.timing_engine import VtaEngine

GATHER_STAGE = "im2col gather"
GATHERED = StreamModel(candidate_mappings, vta_stream_bound, vta_stream_cost)


def module_window(workload: Workload, module: ExecModule) -> ConvWindow | str:
    """The window of ``workload`` read directly on ``module``, or why it cannot be."""
    return conv_window(workload, VtaBuffers.of(module).block_in)


def direct_workload_tile(workload: Workload, mapping: Mapping, module: ExecModule) -> VtaTile:
    """The direct convolution tile of ``workload`` under ``mapping``."""
    window = module_window(workload, module)
    if isinstance(window, str):
        raise MappingError(f"layer {workload.name}: {window}")
    tile = direct_vta_tile(window, workload["K"], mapping, VtaBuffers.of(module))
    if tile is None:
        raise MappingError(f"layer {workload.name}: no direct convolution tile fits VTA's SRAM")
    return tile


def direct_cost(workload: Workload, mapping: Mapping, module: ExecModule) -> Cost:
    """The modelled cost of the direct convolution stream of ``mapping``."""
    return tile_cost(workload, direct_workload_tile(workload, mapping, module), module)


def direct_bound(workload: Workload, mapping: Mapping, module: ExecModule) -> float:
    """A lower bound on ``direct_cost``'s cycles (``stream.stream_bound``)."""
    shape = stream_shape(workload, direct_workload_tile(workload, mapping, module))
    return stream_bound(VtaEngine.of(module), shape)


def direct_candidates(workload: Workload, module: ExecModule) -> list[Mapping]:
    """One mapping per distinct direct tile: channel blocks, then output rows per tile."""
    window = module_window(workload, module)
    if isinstance(window, str):
        return []
    buffers = VtaBuffers.of(module)
    limits, bo, channels = buffers.direct_limits(), buffers.block_out, workload["K"]
    spatial = (
        ("batch", "B", 1),
        ("block_in", "C", buffers.block_in),
        ("block_out", "K", min(bo, channels)),
    )
    found = []
    blocks = {direct_channel_blocks(window, channels, k * bo, bo, limits)
              for k in range(1, ceil_div(channels, bo) + 1)}
    for n in sorted(blocks - {0}):
        for rows in sorted({direct_rows(window, t, n, limits)
                            for t in range(1, window.out_height + 1)} - {0}):
            sizes = {**workload.loops, "OY": rows, "K": min(channels, n * bo)}
            tiles = (tuple(sizes[loop] for loop in LOOPS),)
            found.append(Mapping(spatial, tiles, (M_FIRST,), (ALL_BUFFERED,)))
    return found


DIRECT = StreamModel(direct_candidates, direct_bound, direct_cost)


def gather_work(workload: Workload, block_in: int) -> HostWork:
    """The host's im2col gather (a copy for fully connected layers) into whole BLOCK_IN-wide
    input entries."""
    loops = workload.loops
    rows = loops["B"] * loops["OY"] * loops["OX"]
    depth = ceil_div(loops["C"] * loops["FY"] * loops["FX"], block_in) * block_in
    ops = OPS_PER_ELEMENT["gather" if workload.kind == "conv" else "copy"]
    return HostWork(GATHER_STAGE, rows * depth, ops, 1, 1)


@dataclass(frozen=True)
class ConvChoice:
    """Whether a convolution reads its input directly (else the host gathers it), and why."""

    direct: bool
    reason: str


def conv_choice(workload: Workload, module: ExecModule, host: ExecModule) -> ConvChoice:
    """Read the input directly or gather it on the ``host``: the cheaper by whole cost (the best
    stream of each, plus the host's gather cycles for the gathered one, at the host module's
    assumed rate: the backend is built before its Target, so without the host core's
    calibration)."""
    window = module_window(workload, module)
    if isinstance(window, str):
        return ConvChoice(False, f"host im2col gather: {window}")
    direct = search_stream(DIRECT, workload, module, inf)
    if direct is None:
        return ConvChoice(False, "host im2col gather: no direct convolution tile fits VTA's SRAM")
    gathered = search_stream(GATHERED, workload, module, inf)
    host_cycles = streamed_cycles(gather_work(workload, VtaBuffers.of(module).block_in), host)
    reading = direct[1].total_cycles
    if gathered is None:
        return ConvChoice(True, "input read directly (no gathered tile fits)")
    gathering = gathered[1].total_cycles + host_cycles
    versus = (
        f"{reading:,.0f} cycles reading the input directly vs {gathering:,.0f} with the host's "
        f"im2col gather ({gathered[1].total_cycles:,.0f} VTA + {host_cycles:,.0f} host)"
    )
    if reading <= gathering:
        return ConvChoice(True, f"input read directly: {versus}")
    return ConvChoice(False, f"host im2col gather: {versus}")
