"""Cost and search of dense conv and fully connected layers on VTA as nnmap's code generator
drives it.

The VTA backend runs such layers as the blocked GEMM of ``nnmap.targets.vta.tiling``; a
mapping's cost is the timing of that
command stream (``nnmap.targets.vta.stream``) with the layer's true number of byte planes (from
``Workload.result_bound``; four where the weights are unknown). The search enumerates every tile
the mapping language reaches (pixel, channel and reduction tiles of the GEMM, clipped to the
SRAMs by the tile rule) and keeps the cheapest.
"""

from __future__ import annotations

from itertools import product
from math import prod

from nnmap.hw import ExecModule
from nnmap.ir.workload import LOOPS, Workload
from nnmap.mapping.model import Cost, Mapping
from nnmap.mapping.space import tile_candidates
from nnmap.targets.vta.stream import VtaStreamShape, stream_bound, stream_cycles
from nnmap.targets.vta.tiling import (
    M_LOOPS,
    R_LOOPS,
    SLOTS,
    VtaBuffers,
    VtaTile,
    channel_blocks,
    pixel_rows,
    planes_for_bound,
    reduction_blocks,
    workload_tile,
)
from nnmap.targets.vta.timing_engine import VtaEngine

M_FIRST = ("B", "OY", "OX", "K", "C", "FY", "FX")
ALL_BUFFERED = frozenset({"I", "W"})


def runs_as_vta_stream(workload: Workload) -> bool:
    """Whether the module's code generator runs this workload as VTA's GEMM stream."""
    return workload.kind == "dense" or (workload.kind == "conv" and workload.groups == 1)


def stream_shape(workload: Workload, tile: VtaTile) -> VtaStreamShape:
    planes = planes_for_bound(workload.result_bound)
    return VtaStreamShape(
        tile.m, tile.n, tile.r, tile.steps, tile.output_tiles, planes, tile.inp_entries,
        tile.kernel_uops,
    )


def vta_stream_cost(workload: Workload, mapping: Mapping, module: ExecModule) -> Cost:
    """The modelled cost of the stream the code generator emits for ``mapping`` (host gather)."""
    buffers = VtaBuffers.of(module)
    return tile_cost(workload, workload_tile(workload, mapping, buffers), module)


def tile_cost(workload: Workload, tile: VtaTile, module: ExecModule) -> Cost:
    """The modelled cost of the stream of ``tile``."""
    buffers = VtaBuffers.of(module)
    shape = stream_shape(workload, tile)
    cycles = stream_cycles(VtaEngine.of(module), shape)
    bi, bo, acc_bytes = buffers.block_in, buffers.block_out, module.array.acc_bytes
    gemms = shape.tiles * shape.steps
    moved = gemms * (tile.inp_entries * bi + tile.n * tile.r * bi * bo)
    moved += shape.tiles * tile.m * tile.n * bo * (acc_bytes + shape.planes)
    inp, wgt, acc = (module.memory_for(0, operand) for operand in ("I", "W", "O"))
    dram = module.memory_for(1, "I")
    rows, channels = tile.rows_padded, tile.n_blocks * bo
    whole = rows * tile.r_blocks * tile.input_blocks * bi + channels * tile.r_blocks * bi
    whole += channels * acc_bytes + shape.planes * rows * channels
    padded_macs = rows * channels * tile.r_blocks * bi
    return Cost(
        macs=workload.macs,
        compute_cycles=cycles.compute_busy,
        transfer_cycles=(cycles.load_busy + cycles.store_busy,),
        transfer_bytes=(float(moved),),
        total_cycles=cycles.total,
        utilization=workload.macs / (cycles.total * module.peak_macs_per_cycle),
        spatial_utilization=workload.macs / padded_macs,
        footprint=(
            (
                (inp.name, SLOTS * tile.inp_entries * bi, inp.size),
                (wgt.name, SLOTS * tile.n * tile.r * bi * bo, wgt.size),
                (acc.name, tile.m * tile.n * bo * acc_bytes, acc.size),
            ),
            ((dram.name, whole, dram.size),),
        ),
        energy_pj=None,
    )


def _loop_tiles(workload: Workload, loops: tuple[str, ...], block: int) -> list[dict[str, int]]:
    """Tiles of ``loops``, one per number of ``block``-wide entries their product reaches."""
    options = [tile_candidates(workload[loop], 1) for loop in loops]
    reached: dict[int, dict[str, int]] = {}
    for combo in product(*options):
        reached.setdefault(-(-prod(combo) // block), dict(zip(loops, combo, strict=True)))
    return list(reached.values())


def _first_per_value(pairs: list[tuple[int, dict[str, int]]]) -> dict[int, dict[str, int]]:
    """The first loop tile reaching each distinct value."""
    reached: dict[int, dict[str, int]] = {}
    for value, tile in pairs:
        reached.setdefault(value, tile)
    return reached


def candidate_mappings(workload: Workload, module: ExecModule) -> list[Mapping]:
    """One mapping per distinct tile the code generator can emit for ``workload``: the tile
    rule fixes the reduction blocks first, then the channel blocks, then the pixels, so each
    stage keeps one loop tile per distinct result."""
    buffers = VtaBuffers.of(module)
    bi, bo = buffers.block_in, buffers.block_out
    spatial = (
        ("batch", "B", 1),
        ("block_in", "C", min(bi, workload["C"])),
        ("block_out", "K", min(bo, workload["K"])),
    )
    loops = workload.loops
    rows, depth = prod(loops[loop] for loop in M_LOOPS), prod(loops[loop] for loop in R_LOOPS)
    k_tiles = [{"K": min(loops["K"], n * bo)} for n in range(1, -(-loops["K"] // bo) + 1)]
    m_tiles = _loop_tiles(workload, M_LOOPS, 1)
    r_tiles = _loop_tiles(workload, R_LOOPS, bi)
    found = []
    by_r = [(reduction_blocks(depth, prod(t.values()), buffers), t) for t in r_tiles]
    for r, r_tile in _first_per_value(by_r).items():
        by_n = [(channel_blocks(loops["K"], t["K"], r, buffers), t) for t in k_tiles]
        for n, k_tile in _first_per_value(by_n).items():
            by_m = [(pixel_rows(rows, prod(t.values()), r, n, buffers), t) for t in m_tiles]
            for m_tile in _first_per_value(by_m).values():
                sizes = {**loops, **m_tile, **k_tile, **r_tile}
                tiles = (tuple(sizes[loop] for loop in LOOPS),)
                found.append(Mapping(spatial, tiles, (M_FIRST,), (ALL_BUFFERED,)))
    return found


def vta_stream_bound(workload: Workload, mapping: Mapping, module: ExecModule) -> float:
    """A lower bound on ``vta_stream_cost``'s cycles (``stream.stream_bound``)."""
    shape = stream_shape(workload, workload_tile(workload, mapping, VtaBuffers.of(module)))
    return stream_bound(VtaEngine.of(module), shape)
