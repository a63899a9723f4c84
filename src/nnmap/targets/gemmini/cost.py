"""Cost and search of dense conv and fully connected layers on a module driven as a GEMM stream.

The Gemmini backend runs the im2col GEMM of ``nnmap.targets.gemmini.tiling``; a mapping's cost
is the timing of that instruction stream (``nnmap.targets.gemmini.stream``), and the search
enumerates every output
tile the mapping language reaches (divisor tiles of the padded GEMM that fit the accumulator),
with and without double-buffered output tiles, with the whole reduction in the level-0 tile (the
panel of the outer tile resident across the inner tiles, where it fits: the input panel of an m
tile with the m loops outermost, the weight panel of an n tile with K outermost) or one DIM-deep
column of it (both operands streamed), and keeps the cheapest.
"""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache
from itertools import product
from math import prod

from nnmap.embedding.dataflow import instruction_of
from nnmap.embedding.grouped import (
    BlockDiagonal,
    WorkloadKey,
    solver_layouts,
    workload_key,
    workload_of_key,
)
from nnmap.hw import ExecModule
from nnmap.ir.workload import LOOPS, Workload
from nnmap.mapping.model import Cost, Mapping
from nnmap.mapping.space import tile_candidates
from nnmap.targets.gemmini.depthwise import depthwise_shape
from nnmap.targets.gemmini.stream import StreamShape, stream_bound, stream_cycles
from nnmap.targets.gemmini.tiling import (
    M_LOOPS,
    GemminiGeometry,
    GemmShape,
    GemmTiles,
    gemm_shape,
    gemm_tiles,
    tiled_shape,
)
from nnmap.targets.gemmini.timing_engine import GemminiEngine

M_FIRST = ("B", "OY", "OX", "K", "C", "FY", "FX")
N_FIRST = ("K", "B", "OY", "OX", "C", "FY", "FX")
BUFFERED = (frozenset({"I", "W"}), frozenset({"I", "W", "O"}))


def runs_as_gemm_stream(workload: Workload, module: ExecModule) -> bool:
    """Whether the module's code generator runs this workload as the GEMM stream (a depthwise
    layer: when the solver finds it a block-diagonal embedding)."""
    if workload.kind == "depthwise":
        return bool(solver_layouts(workload, instruction_of(module.array)))
    return workload.kind == "dense" or (workload.kind == "conv" and workload.groups == 1)


def layer_shape(workload: Workload, module: ExecModule) -> GemmShape:
    """The padded GEMM the code generator runs for ``workload``: the im2col GEMM, or for a
    depthwise layer the block-diagonal GEMM of its chosen layout (``chosen_layout``)."""
    dim = GemminiGeometry.of(module).dim
    if workload.kind == "depthwise":
        return depthwise_shape(workload, chosen_layout(workload, module), dim)
    return gemm_shape(workload, dim)


def chosen_layout(workload: Workload, module: ExecModule) -> BlockDiagonal:
    """Of the solver's block-diagonal layouts of a depthwise ``workload``, the one whose
    stream, at its best tiling, takes the fewest cycles (the first on a tie)."""
    layouts = solver_layouts(workload, instruction_of(module.array))
    geometry, engine = GemminiGeometry.of(module), GemminiEngine.of(module)
    return _fastest(workload_key(workload), layouts, geometry, engine)


@lru_cache(maxsize=256)
def _fastest(
    key: WorkloadKey, layouts: tuple[BlockDiagonal, ...], geometry: GemminiGeometry,
    engine: GemminiEngine,
) -> BlockDiagonal:
    workload = workload_of_key(key)

    def best_cycles(layout: BlockDiagonal) -> float:
        shape = depthwise_shape(workload, layout, geometry.dim)
        return min(
            stream_cycles(engine, _stream_of_shape(shape, mapping, geometry)[2]).total
            for mapping in _candidates(workload, shape, geometry)
        )

    return min(layouts, key=best_cycles)


def stream_shape(shape: GemmShape, tiles: GemmTiles, dim: int) -> StreamShape:
    m_tiles, n_tiles = shape.m // tiles.m, shape.n // tiles.n
    if tiles.resident_panel:
        outer, inner = (m_tiles, n_tiles) if tiles.outer_first == "m" else (n_tiles, m_tiles)
    else:
        outer, inner = 1, m_tiles * n_tiles
    a, b, columns = tiles.m // dim, tiles.n // dim, shape.r // dim
    return StreamShape(
        a, b, columns, outer, inner, tiles.double_acc, tiles.resident, last_rows=tiles.last_rows
    )


def _moved_bytes(shape: GemmShape, tiles: GemmTiles, acc_bytes: int) -> int:
    """DRAM bytes the stream moves: input and weight blocks in, int32 outputs out."""
    count = (shape.m // tiles.m) * (shape.n // tiles.n)
    inputs = shape.m * shape.r if tiles.resident == "input" else count * shape.r * tiles.m
    weights = shape.n * shape.r if tiles.resident == "weight" else count * shape.r * tiles.n
    return inputs + weights + shape.m * shape.n * acc_bytes


def _spad_bytes(shape: GemmShape, tiles: GemmTiles, dim: int) -> int:
    """Scratchpad bytes in use: the resident panel, two slots of each streamed operand."""
    inputs = tiles.m * shape.r if tiles.resident == "input" else 2 * tiles.m * dim
    weights = tiles.n * shape.r if tiles.resident == "weight" else 2 * tiles.n * dim
    return inputs + weights


def _stream_of_shape(
    layer: GemmShape, mapping: Mapping, geometry: GemminiGeometry
) -> tuple[GemmShape, GemmTiles, StreamShape]:
    tiles = gemm_tiles(layer, mapping, geometry)
    shape = tiled_shape(layer, tiles)
    return shape, tiles, stream_shape(shape, tiles, geometry.dim)


def reads_input_directly(workload: Workload, shape: GemmShape, dim: int) -> bool:
    """Whether the GEMM's input mvins read the layer's input as it is (no staging copy): a
    fully connected layer of one m block whose depth is whole DIM columns (the code
    generator's ``lower.reads_input_directly``)."""
    return workload.kind == "dense" and shape.m == dim and shape.r == workload["C"]


def _stream_of(
    workload: Workload, mapping: Mapping, module: ExecModule
) -> tuple[GemmShape, GemmTiles, StreamShape]:
    """The GEMM the code generator runs for ``mapping`` (M padded to whole m tiles), its
    tiles and its stream."""
    geometry = GemminiGeometry.of(module)
    shape, tiles, stream = _stream_of_shape(layer_shape(workload, module), mapping, geometry)
    direct = reads_input_directly(workload, shape, geometry.dim)
    return shape, tiles, replace(stream, direct_input=direct)


def gemm_stream_cost(workload: Workload, mapping: Mapping, module: ExecModule) -> Cost:
    """The modelled cost of the stream the code generator emits for ``mapping``."""
    shape, tiles, stream = _stream_of(workload, mapping, module)
    dim, acc_bytes = GemminiGeometry.of(module).dim, module.array.acc_bytes
    cycles = stream_cycles(GemminiEngine.of(module), stream)
    moved = _moved_bytes(shape, tiles, acc_bytes)
    spad = module.memory_for(0, "I")
    acc = module.memory_for(0, "O")
    dram = module.memory_for(1, "I")
    acc_copies = 2 if tiles.double_acc else 1
    whole = shape.m * shape.input_width + shape.r * shape.n + (shape.m + 1) * shape.n * acc_bytes
    peak = module.peak_macs_per_cycle
    return Cost(
        macs=workload.macs,
        compute_cycles=cycles.execute_busy,
        transfer_cycles=(cycles.load_busy + cycles.store_busy,),
        transfer_bytes=(float(moved),),
        total_cycles=cycles.total,
        utilization=workload.macs / (cycles.total * peak),
        spatial_utilization=workload.macs / (shape.m * shape.n * shape.r),
        footprint=(
            (
                (spad.name, _spad_bytes(shape, tiles, dim), spad.size),
                (acc.name, acc_copies * tiles.m * tiles.n * acc_bytes, acc.size),
            ),
            ((dram.name, whole, dram.size),),
        ),
        energy_pj=None,
    )


def _rows_tile(workload: Workload, rows: int) -> dict[str, int]:
    """A tile of the B, OY, OX loops of about ``rows`` output pixels: OX first, then whole rows
    of OY, then whole images."""
    tile, left = {}, rows
    for loop in reversed(M_LOOPS):
        tile[loop] = max(1, min(workload[loop], left))
        left = left // workload[loop] if tile[loop] == workload[loop] else 0
    return tile


def _m_tiles(workload: Workload, geometry: GemminiGeometry) -> list[dict[str, int]]:
    """Tiles of the B, OY, OX loops, one per number of DIM rows they reach: the products of
    their tile candidates, and a tile of every block count the accumulator holds."""
    dim = geometry.dim
    options = [tile_candidates(workload[loop], 1) for loop in M_LOOPS]
    reached: dict[int, dict[str, int]] = {}
    for combo in product(*options):
        reached.setdefault(-(-prod(combo) // dim), dict(zip(M_LOOPS, combo, strict=True)))
    for blocks in range(1, geometry.acc_rows // dim + 1):
        tile = _rows_tile(workload, blocks * dim)
        reached.setdefault(-(-prod(tile.values()) // dim), tile)
    return list(reached.values())


def candidate_mappings(workload: Workload, module: ExecModule) -> list[Mapping]:
    """One mapping per distinct stream the code generator can emit for ``workload``."""
    return _candidates(workload, layer_shape(workload, module), GemminiGeometry.of(module))


def _candidates(
    workload: Workload, shape: GemmShape, geometry: GemminiGeometry
) -> list[Mapping]:
    dim = geometry.dim
    spatial = (("rows", "C", min(dim, workload["C"])), ("cols", "K", min(dim, workload["K"])))
    n_tiles = {min(workload["K"], blocks * dim) for blocks in range(1, shape.n // dim + 1)}
    column = {"C": min(dim, workload["C"]), "FY": 1, "FX": 1}
    reductions: tuple[dict[str, int], ...] = ({}, column)  # the whole reduction, or one column
    seen: set[GemmTiles] = set()
    found = []
    options = product(
        _m_tiles(workload, geometry), sorted(n_tiles), BUFFERED, reductions, (M_FIRST, N_FIRST)
    )
    for m_tile, k_tile, buffered, reduction, order in options:
        sizes = {**workload.loops, **m_tile, "K": k_tile, **reduction}
        mapping = Mapping(spatial, (tuple(sizes[loop] for loop in LOOPS),), (order,), (buffered,))
        tiles = gemm_tiles(shape, mapping, geometry)
        if tiles.outer_first == "n" and not tiles.resident_panel:
            continue  # the same stream as with the m loops outermost
        if tiles not in seen:
            seen.add(tiles)
            found.append(mapping)
    return found


def gemm_stream_bound(workload: Workload, mapping: Mapping, module: ExecModule) -> float:
    """A lower bound on ``gemm_stream_cost``'s cycles (``stream.stream_bound``)."""
    return stream_bound(GemminiEngine.of(module), _stream_of(workload, mapping, module)[2])


def scaled_stream_cycles(workload: Workload, mapping: Mapping, module: ExecModule) -> float:
    """The modelled cycles of ``mapping``'s stream in hardware numerics (the bias moved into
    the accumulator, the outputs scaled to int8 on the way out: ``StreamShape.scaled``)."""
    stream = replace(_stream_of(workload, mapping, module)[2], scaled=True)
    return stream_cycles(GemminiEngine.of(module), stream).total
