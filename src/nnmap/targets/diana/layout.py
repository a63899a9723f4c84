"""Activations kept channels first between two layers of DIANA's digital array.

The graph's tensors are channels last (NHWC); the array reads its input channels first (NCHW),
padded as its kernel needs. Where a layer on the array and every reader of its output are conv or
depthwise layers on the array, the producer's output stage (the host's requantization, or the
copy of the array's int8 results) writes that output channels first, so no transposition is left:

- ``PADDED`` (nnmap's choice where it can): the readers' staged input itself, every channel plane
  padded with the zero point as they need (their padding, their padded width and rows); the
  readers run one row tile and DMA it as it is, without staging.
- ``DENSE`` (where the readers' geometries differ or they tile rows; the DORY-style baseline's
  layout, as DORY keeps its L2 tensors): channels first, unpadded; each reader pads it on the
  host with its zero point, a row-by-row copy instead of a transposition.

Where the output has a reader on the host, or is a model output, it stays channels last.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from nnmap.hw.backend import TensorLayout
from nnmap.ir import Conv2D, Graph, Layer
from nnmap.ir.workload import workload_of
from nnmap.mapping.graph import LayerMapping
from nnmap.mapping.host_model import OPS_PER_ELEMENT, HostWork
from nnmap.targets.diana.timing import DianaShape, DianaTile

PADDED = "channels first, padded"
DENSE = "channels first"


@dataclass(frozen=True)
class ChannelsFirst:
    """A tensor of ``channels`` planes, each ``rows`` x ``width`` bytes, the graph's ``height``
    x ``columns`` values from row ``top`` and column ``left`` on (the rest: the zero point)."""

    channels: int
    rows: int
    width: int
    top: int
    left: int
    height: int
    columns: int

    @property
    def plane(self) -> int:
        return self.rows * self.width

    @property
    def nbytes(self) -> int:
        return self.channels * self.plane

    @property
    def padded(self) -> bool:
        """Whether some row or column is padding (not the graph's)."""
        return bool(self.top or self.left or self.top + self.height < self.rows
                    or self.left + self.columns < self.width)


def _reader_shape(reader: Conv2D, graph: Graph) -> DianaShape:
    workload = workload_of(graph, reader)
    assert workload is not None
    return DianaShape.of(workload)


def padded_geometry(reader: Conv2D, graph: Graph) -> ChannelsFirst:
    """The staged input of ``reader`` (one row tile): its zero-point padded planes."""
    shape = _reader_shape(reader, graph)
    _, height, columns, channels = graph.tensor(reader.inputs[0]).shape
    return ChannelsFirst(channels, shape.input_rows(shape.rows), shape.padded_width,
                         reader.padding[0], reader.padding[1], height, columns)


def dense_geometry(tensor: str, graph: Graph) -> ChannelsFirst:
    _, height, columns, channels = graph.tensor(tensor).shape
    return ChannelsFirst(channels, height, columns, 0, 0, height, columns)


def geometry(layout: TensorLayout, layer: Layer, graph: Graph) -> ChannelsFirst:
    """How ``layer`` reads or writes the tensor of ``layout``: padded as its reader (the layer
    itself, or for an output its first reader: all share it) needs, or dense."""
    if layout.name == DENSE:
        return dense_geometry(layout.tensor, graph)
    reader = layer if layout.role == "input" else graph.consumers(layout.tensor)[0]
    assert isinstance(reader, Conv2D)
    return padded_geometry(reader, graph)


def _one_row_tile(reader: Layer, mapped: LayerMapping) -> bool:
    shape = DianaShape.of(mapped.workload)
    return DianaTile.of(mapped.workload, mapped.mapping).row_tiles(shape) == 1


def _padded_layout(producer: Layer, readers: Sequence[tuple[Layer, LayerMapping]],
                   graph: Graph) -> TensorLayout | None:
    """The readers' common staged input, if they share one and each runs one row tile."""
    shapes = {padded_geometry(reader, graph) for reader, _ in readers
              if isinstance(reader, Conv2D)}
    if len(shapes) != 1 or not all(_one_row_tile(reader, mapped) for reader, mapped in readers):
        return None
    (shape,) = shapes
    return TensorLayout("output", producer.output, PADDED, shape.nbytes)


def _stage_ops(layout: str | None, staged: int) -> float:
    """Host operations of a reader's staging of ``staged`` bytes from ``layout``."""
    if layout == PADDED:
        return 0.0
    return staged * OPS_PER_ELEMENT["copy" if layout == DENSE else "gather"]


def channels_first_layout(producer: Layer, readers: Sequence[tuple[Layer, LayerMapping]],
                          graph: Graph, asked: str | None) -> TensorLayout | None:
    """The layout of ``producer``'s output between it and its ``readers`` on the array (None:
    channels last): ``asked`` if given, else the one whose host work (the readers' staging, the
    producer's padding fill) is least."""
    if not isinstance(producer, Conv2D) or not all(
            isinstance(reader, Conv2D) for reader, _ in readers):
        return None
    dense = TensorLayout("output", producer.output, DENSE, graph.tensor(producer.output).nbytes)
    if asked == DENSE:
        return dense
    staged = sum(DianaShape.of(mapped.workload).staged_bytes(
        DianaTile.of(mapped.workload, mapped.mapping).rows) for _, mapped in readers)
    options: list[tuple[float, TensorLayout | None]] = [
        (_stage_ops(None, staged), None), (_stage_ops(DENSE, staged), dense)]
    padded = _padded_layout(producer, readers, graph)
    if padded is not None:
        fill = padded.nbytes - dense.nbytes
        options.append((fill * OPS_PER_ELEMENT["copy"], padded))
    return min(options, key=lambda option: option[0])[1]


def linked_work(works: tuple[HostWork, ...], layouts: tuple[TensorLayout, ...],
                outputs: int) -> tuple[HostWork, ...]:
    """The host loops of a layer whose tensors ``layouts`` are channels first: a padded input
    needs no staging, a dense one a copy; a padded output adds its border's fill."""
    found = {layout.role: layout for layout in layouts}
    result = []
    for work in works:
        if work.stage == "input staging" and "input" in found:
            if found["input"].name == PADDED:
                continue
            work = HostWork(work.stage, work.elements, OPS_PER_ELEMENT["copy"], 1, 1)
        result.append(work)
    output = found.get("output")
    if output is not None and output.nbytes > outputs:
        result.append(HostWork("padding fill", output.nbytes - outputs, OPS_PER_ELEMENT["copy"],
                               0, 1))
    return tuple(result)


def border_fill(stored: ChannelsFirst, channels: int, zero_point: int) -> list[str]:
    """C filling the padding of every plane of ``stored`` (``output``) with ``zero_point``."""
    if not stored.padded:
        return []
    zero = f"(int8_t){zero_point}"
    inside = min(stored.columns, stored.width - stored.left)
    sides = []
    if stored.left:
        sides.append(f"      for (int32_t x = 0; x < {stored.left}; ++x) line[x] = {zero};")
    if stored.left + inside < stored.width:
        sides.append(f"      for (int32_t x = {stored.left + inside}; x < {stored.width}; ++x) "
                     f"line[x] = {zero};")
    return [
        "  /* the readers' padding: the zero point around every channel's plane */",
        f"  for (int32_t channel = 0; channel < {channels}; ++channel) {{",
        f"    for (int32_t y = 0; y < {stored.rows}; ++y) {{",
        f"      int8_t *line = output + channel * {stored.plane} + y * {stored.width};",
        f"      if (y < {stored.top} || y >= {stored.top + stored.height}) {{",
        f"        for (int32_t x = 0; x < {stored.width}; ++x) line[x] = {zero};",
        "        continue;",
        "      }",
        *sides,
        "    }",
        "  }",
    ]
