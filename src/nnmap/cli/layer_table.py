"""The layer table of ``nnmap inspect`` (typer-free: the fast path prints it directly)."""

from __future__ import annotations

from rich import box
from rich.table import Table
from rich.text import Text

from nnmap.cli import console
from nnmap.frontend import load_model
from nnmap.ir import Conv2D, FullyConnected, Graph, IntegerRequant, Layer, Pool2D


def _details(layer: Layer) -> str:
    if isinstance(layer, Conv2D):
        k, fy, fx, _ = layer.weight.shape
        kind = "dw " if layer.is_depthwise else ""
        return (
            f"{kind}{fy}x{fx} s{layer.stride[0]}x{layer.stride[1]} "
            f"pad{list(layer.padding)} g{layer.groups}"
        )
    if isinstance(layer, Pool2D):
        return f"{layer.kernel[0]}x{layer.kernel[1]} s{layer.stride[0]}x{layer.stride[1]}"
    if isinstance(layer, FullyConnected):
        return f"{layer.weight.shape[1]}->{layer.weight.shape[0]}"
    return ""


def _requant(layer: Layer) -> str:
    requant = getattr(layer, "requant", None)
    clamp = getattr(layer, "clamp", None)
    parts = []
    if isinstance(requant, IntegerRequant):
        channels = f"x{requant.multiplier.size}" if requant.multiplier.size > 1 else ""
        rounding = "trunc" if requant.toward_zero else "floor"
        parts.append(f"m={int(requant.multiplier[0])}{channels} "
                     f"+{int(requant.addend[0])} >>{requant.shift} {rounding}")
    elif requant is not None:
        first = requant.channel(0)
        channels = f"x{requant.multiplier.size}" if requant.multiplier.size > 1 else ""
        parts.append(f"m={first.multiplier}{channels} sh={first.shift}")
    if clamp is not None and requant is not None:
        parts.append(f"[{int(clamp.low)},{int(clamp.high)}]")
    return " ".join(parts)


def layer_table(graph: Graph) -> Table:
    # Columns apart by the box's blank rules, not by cell padding, and cells as plain Text
    # (no markup to parse): half the rendering time of rich's default table.
    table = Table(title=f"{graph.name}: {len(graph)} layers", box=box.SIMPLE_HEAD, padding=0)
    for column in (
        "#",
        "layer",
        "kind",
        "shape (in -> out)",
        "details",
        "MACs",
        "params",
        "output quantization",
        "requantization",
    ):
        table.add_column(column, justify="right" if column in ("#", "MACs", "params") else "left")
    total_macs = total_params = 0
    for index, layer in enumerate(graph):
        macs, params = graph.macs(layer), layer.parameter_count()
        total_macs, total_params = total_macs + macs, total_params + params
        shapes = "+".join("x".join(map(str, graph.tensor(n).shape[1:])) for n in layer.inputs)
        out = graph.tensor(layer.output)
        cells = (
            str(index),
            layer.name,
            layer.kind,
            f"{shapes} -> {'x'.join(map(str, out.shape[1:]))}",
            _details(layer),
            f"{macs:,}",
            f"{params:,}",
            out.describe_quant(),
            _requant(layer),
        )
        table.add_row(*map(Text, cells))
    table.add_section()
    table.add_row("", "total", "", "", "", f"{total_macs:,}", f"{total_params:,}", "", "")
    return table


def print_layer_table(model: str) -> None:
    """Import ``model`` and print its layer table."""
    console.print(layer_table(load_model(model)))
