"""The DORY-style mapping of GAP9: every layer the cluster takes on the cluster, tiled as DORY's
tiler does (the tile that uses the most L1), the rest on the fabric controller; NE16 unused.
Our own rendering of the behaviour gap9.md states (DORY maximises L1 use)."""

from __future__ import annotations

from nnmap.hw import Target
from nnmap.ir import Graph
from nnmap.ir.workload import workload_of
from nnmap.mapping.graph import LayerMapping, host_stages
from nnmap.mapping.model import Cost, Mapping

REASON = "DORY-style: on the cluster, the tile that uses the most L1"


def largest_tile(costed: list[tuple[Mapping, Cost]]) -> tuple[Mapping, Cost]:
    """The candidate whose double-buffered tiles take the most L1 (the first on a tie)."""
    return max(costed, key=lambda pair: pair[1].footprint[0][0][1])


def dory_cluster_only(graph: Graph, target: Target, numerics: str = "exact"
                      ) -> list[LayerMapping]:
    """The LayerMappings of the DORY-style baseline (layers the cluster refuses stay on the
    fabric controller)."""
    cluster = target.module("cluster")
    assert cluster.backend is not None
    result = []
    for layer in graph.layers:
        workload = workload_of(graph, layer)
        if workload is None or cluster.backend.refusal(layer, graph, cluster) is not None:
            continue
        stream = cluster.backend.stream_model(workload, cluster)
        assert stream is not None
        costed = [(mapping, stream.cost(workload, mapping, cluster))
                  for mapping in stream.candidates(workload, cluster)]
        if not costed:
            continue
        mapping, spent = largest_tile(costed)
        stages = host_stages(cluster, workload, target, numerics, layer, graph)
        result.append(LayerMapping(layer.name, cluster.name, workload, mapping, spent, 0.0,
                                   spent.total_cycles, stages, REASON))
    return result
