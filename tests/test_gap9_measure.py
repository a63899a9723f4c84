"""The cluster cores' cycles measured: the cluster kernel's C cross-compiled for RV32IMC and run
on the instruction-set emulation; the target's per-output cost is that measurement, and the
modelled SIMD rates are faster than the scalar code measured."""

from __future__ import annotations

from nnmap.targets import get_target
from nnmap.targets.gap9.cluster_measure import measure_core_costs


def test_cluster_core_costs_measured_on_rv32() -> None:
    target = get_target("gap9")
    cluster = target.module("cluster")
    assert target.host_core is not None
    costs = measure_core_costs(target.host_core, cluster)
    timing = cluster.timing
    assert abs(timing["output_cycles"] - costs.per_output) <= 0.10 * costs.per_output
    assert 0 < timing["conv_cycles_per_32_macs"] / 32 < costs.per_mac
    assert 0 < timing["depthwise_cycles_per_32_macs"] / 32 < costs.per_depthwise_mac
