"""``nnmap map --explain``: per conv/dense layer and accelerator, the embedding search's view.

For every accelerator of the target: the solver's best embedding of the layer into the
accelerator's GEMM instruction (which loops sit on which axes, the operands the host must move),
how many legal embeddings there are, the solve time, and the fixed embedding the backends lower
today, in instruction calls.
"""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from nnmap.embedding import fixed_embedding, search_embeddings
from nnmap.embedding.dataflow import instruction_of
from nnmap.hw import Target
from nnmap.ir import Graph
from nnmap.ir.workload import workload_of

# Host cycles per element an im2col gather moves, to rank embeddings (assumed: a load, a store
# and the index arithmetic).
GATHER_CYCLES_PER_ELEMENT = 4.0


def embedding_records(graph: Graph, target: Target) -> list[dict]:
    """One record per (conv/dense layer, accelerator): the search's result."""
    records = []
    for module in target.accelerators:
        instruction = instruction_of(module.array)
        for layer in graph.layers:
            workload = workload_of(graph, layer)
            if workload is None or not workload.has_weights:
                continue
            search = search_embeddings(
                workload, instruction, host_cycles_per_element=GATHER_CYCLES_PER_ELEMENT
            )
            fixed = fixed_embedding(workload, instruction)
            best = search.best
            records.append({
                "layer": layer.name,
                "module": module.name,
                "embedding": best.embedding.describe() if best else None,
                "reason": search.reason,
                "calls": best.embedding.calls if best else None,
                "utilization": best.embedding.utilization if best else None,
                "host_moves": [
                    {"operand": need.operand, "elements": need.moved, "why": need.reason}
                    for need in (best.layouts if best else ()) if not need.reached
                ],
                "legal_embeddings": search.legal,
                "solve_s": search.solve_seconds,
                "fixed_calls": fixed.calls if fixed else None,
            })
    return records


def print_embeddings(console: Console, records: list[dict]) -> None:
    table = Table(title="instruction embeddings (the solver's; backends lower the fixed one)")
    for column in ("layer", "module", "solver's embedding", "calls", "fixed calls", "util",
                   "host moves", "legal", "solve ms"):
        table.add_column(column)
    for r in records:
        moves = "; ".join(f"{m['operand']} {m['elements']:,}: {m['why']}" for m in r["host_moves"])
        table.add_row(
            r["layer"], r["module"], r["embedding"] or r["reason"], f"{r['calls'] or 0:,}",
            "-" if r["fixed_calls"] is None else f"{r['fixed_calls']:,}",
            f"{r['utilization'] or 0:.0%}", moves or "-", f"{r['legal_embeddings']:,}",
            f"{r['solve_s'] * 1e3:.0f}",
        )
    console.print(table)
