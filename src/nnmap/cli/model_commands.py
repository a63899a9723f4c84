"""``nnmap inspect`` and ``nnmap verify``: look at an imported model and check its numerics."""

from __future__ import annotations

import typer
from rich.table import Table

from nnmap.cli import console
from nnmap.cli.layer_table import print_layer_table
from nnmap.frontend import load_model, resolve_model_path


def inspect(model: str = typer.Argument(..., help="a .tflite/.onnx file or zoo:NAME")) -> None:
    """Print the integer layer table of a model (kind, shapes, MACs, parameters, quantization)."""
    print_layer_table(model)


def verify(
    model: str = typer.Argument(..., help="a .tflite/.onnx file or zoo:NAME"),
    inputs: int = typer.Option(20, "--inputs", min=1, help="random inputs to compare"),
    seed: int = typer.Option(0, "--seed", help="random seed of the inputs"),
) -> None:
    """Compare nnmap's reference with TFLite Micro (.tflite) or onnxruntime (.onnx)."""
    from nnmap import reference
    from nnmap import verify as checks

    path = resolve_model_path(model)
    graph = load_model(model)
    batch = checks.random_inputs(graph, inputs, seed)
    ours = reference.run_batch(graph, batch)
    name, theirs = checks.reference_outputs(path, batch, len(graph.outputs))
    table = Table(
        title=f"nnmap reference vs {name}: {graph.name}, {inputs} random inputs, seed {seed}"
    )
    for column in ("output", "shape", "max |difference|", "differing values"):
        table.add_column(column)
    for tensor, mine, other in zip(graph.output_tensors(), ours, theirs, strict=True):
        diff = checks.Difference.between(other.reshape(mine.shape), mine)
        unit = " LSB" if tensor.is_quantized else ""
        table.add_row(
            tensor.name,
            "x".join(map(str, tensor.shape)),
            f"{diff.max_abs:g}{unit}",
            f"{100 * diff.share_differing:.2f}%",
        )
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command()(inspect)
    app.command()(verify)
