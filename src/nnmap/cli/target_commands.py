"""``nnmap targets`` (list, show) and ``nnmap map``: the built-in targets and per-layer mappings."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from nnmap.cli import console
from nnmap.targets import get_target, names, resolve_target

if TYPE_CHECKING:  # the mapper is imported when a command maps (not for `nnmap inspect`)
    from nnmap.hw import ExecModule, Memory, Target
    from nnmap.plan.plan import LayerPlan

targets_app = typer.Typer(
    help="List the built-in targets, or show one in full.",
    invoke_without_command=True,
    no_args_is_help=False,
)


def _size(nbytes: float) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if nbytes >= scale:
            return f"{nbytes / scale:.4g} {unit}"
    return f"{nbytes:g} B"


def _memories(module: ExecModule) -> str:
    return " | ".join(
        ", ".join(f"{mem.name} {_size(mem.size)}" for mem in level) for level in module.levels
    )


@targets_app.callback()
def list_targets(ctx: typer.Context) -> None:
    """List the built-in targets with peak MACs/cycle, memories and clock."""
    if ctx.invoked_subcommand is not None:
        return
    table = Table(title="built-in targets")
    for column in ("target", "clock", "module", "peak MAC/cycle", "memories (innermost first)"):
        table.add_column(column)
    for name in names():
        target = get_target(name)
        for index, module in enumerate(target.modules()):
            table.add_row(
                name if index == 0 else "",
                f"{target.clock_hz / 1e6:g} MHz" if index == 0 else "",
                module.name,
                f"{module.peak_macs_per_cycle:g}",
                _memories(module),
            )
    console.print(table)


def _memory_row(table: Table, depth: int, memory: Memory) -> None:
    table.add_row(
        str(depth),
        memory.name,
        _size(memory.size),
        "".join(memory.operands),
        str(memory.banks),
        f"{memory.read_bw:g}/{memory.write_bw:g}",
        f"{memory.latency:g}",
        "yes" if memory.double_buffer else "no",
    )


def _show_module(module: ExecModule, role: str) -> None:
    array = module.array
    axes = ", ".join(f"{axis.name} {axis.size} ({'/'.join(axis.loops)})" for axis in array.axes)
    console.print(
        f"[bold]{role} {module.name}[/]: array {array.name}: {axes}; "
        f"{module.peak_macs_per_cycle:g} MAC/cycle, {'/'.join(array.dtypes)}, "
        f"stationary {array.stationary or '-'}, fill {array.fill_cycles} / drain "
        f"{array.drain_cycles} cycles",
        highlight=False,
    )
    table = Table(show_header=True)
    for column in (
        "level",
        "memory",
        "size",
        "holds",
        "banks",
        "read/write B/cycle",
        "latency",
        "2x buffer",
    ):
        table.add_column(column)
    for depth, level in enumerate(module.levels):
        for memory in level:
            _memory_row(table, depth, memory)
    console.print(table)
    if module.instructions:
        console.print(
            "  instructions: "
            + "; ".join(f"{ins.name} ({ins.c_name}): {ins.meaning}" for ins in module.instructions),
            highlight=False,
        )
    if module.timing:
        console.print(
            "  timing: " + ", ".join(f"{key}={value:g}" for key, value in module.timing.items())
        )


@targets_app.command("show")
def show_target(name: Annotated[str, typer.Argument(help="target name")]) -> None:
    """Print one target in full: every module, memory, instruction and timing parameter."""
    target = get_target(name)
    console.print(
        f"[bold]{target.name}[/] at {target.clock_hz / 1e6:g} MHz: {target.description}",
        highlight=False,
    )
    for module in target.accelerators:
        _show_module(module, "accelerator")
    _show_module(target.host, "host")
    if target.shared:
        console.print(
            "shared memories: "
            + ", ".join(f"{mem.name} {_size(mem.size)}" for mem in target.shared)
        )


def _layer_record(layer: LayerPlan) -> dict:
    record: dict = {
        "index": layer.index,
        "layer": layer.layer.name,
        "kind": layer.layer.kind,
        "module": layer.module,
        "reason": layer.reason,
        "accelerator_cycles": layer.accelerator_cycles,
        "host_cycles": layer.host_cycles,
        "host_stages": dict(layer.host_stages),
        "scratch_bytes": layer.scratch_bytes,
    }
    choice = layer.mapped
    if choice is None:
        return record
    cost = choice.cost
    return {
        **record,
        "macs": cost.macs,
        "mapped_module": choice.module,
        "spatial": choice.mapping.describe_spatial(),
        "levels": [choice.mapping.describe_level(i) for i in range(len(choice.mapping.tiles))],
        "compute_cycles": cost.compute_cycles,
        "transfer_cycles": list(cost.transfer_cycles),
        "total_cycles": cost.total_cycles,
        "utilization": cost.utilization,
        "footprint": [{name: used for name, used, _ in level} for level in cost.footprint],
        "search_s": choice.search_seconds,
    }


def _footprint(record: dict) -> str:
    levels = record.get("footprint", [])[:-1]
    text = " | ".join(", ".join(f"{n} {_size(u)}" for n, u in level.items()) for level in levels)
    return text or "-"


def _print_plan(target: Target, records: list[dict], arena: int) -> None:
    table = Table(title=f"plan on {target.name}")
    right = ("accel", "host", "util")
    for column in ("#", "layer", "module", "tiles / order / 2x per level", *right,
                   "footprint per level", "why"):
        table.add_column(column, justify="right" if column in right else "left")
    for r in records:
        accel = r["accelerator_cycles"]
        table.add_row(
            str(r["index"]),
            r["layer"],
            r["module"],
            "\n".join([r.get("spatial", ""), *r.get("levels", [])]).strip() or "-",
            "-" if accel is None else f"{accel:,.0f}",
            f"{r['host_cycles']:,.0f}",
            f"{r['utilization']:.0%}" if r["module"] != "host" and "utilization" in r else "-",
            _footprint(r),
            r["reason"],
        )
    console.print(table)
    total = sum((r["accelerator_cycles"] or 0) + r["host_cycles"] for r in records)
    search = sum(r.get("search_s", 0.0) for r in records)
    console.print(
        f"total: {len(records)} layers, {total:,.0f} cycles modelled "
        f"({total / target.clock_hz * 1e3:.3f} ms at {target.clock_hz / 1e6:g} MHz), "
        f"arena {arena:,} B, search {search:.2f} s",
        highlight=False,
    )


def map_model(
    model: Annotated[str, typer.Argument(help="model path or zoo:NAME")],
    target: Annotated[str, typer.Option("--target", "-t", help="target spec or file")],
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of a table")] = False,
    budget: Annotated[float, typer.Option(help="search budget per layer and module (s)")] = 2.0,
    numerics: Annotated[str, typer.Option(help="exact or hardware")] = "exact",
    explain: Annotated[
        bool, typer.Option("--explain", help="also the embedding solver's view per layer")
    ] = False,
) -> None:
    """Plan MODEL on TARGET: per layer its module and why, tiling, cycles, footprints."""
    from nnmap import load_model
    from nnmap.cli.embedding_table import embedding_records, print_embeddings
    from nnmap.plan.plan import make_plan

    chosen = resolve_target(target)
    graph = load_model(model)
    planned = make_plan(graph, chosen, numerics, budget_s=budget)
    records = [_layer_record(layer) for layer in planned.layers]
    embeddings = embedding_records(graph, chosen) if explain else None
    if not as_json:
        _print_plan(chosen, records, planned.memory.arena_bytes)
        if embeddings is not None:
            print_embeddings(console, embeddings)
        return
    total = sum((r["accelerator_cycles"] or 0) + r["host_cycles"] for r in records)
    document = {
        "target": chosen.name,
        "numerics": numerics,
        "layers": records,
        "arena_bytes": planned.memory.arena_bytes,
        "total_cycles": total,
    }
    if embeddings is not None:
        document["embeddings"] = embeddings
    typer.echo(json.dumps(document, indent=1))


def register(app: typer.Typer) -> None:
    """Add ``targets`` (with ``show``) and ``map`` to ``app``."""
    app.add_typer(targets_app, name="targets")
    app.command("map")(map_model)
