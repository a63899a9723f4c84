"""The FPGA flow's kernels: TVM's plain OpenCL output as the base, the optimizations as schedule
and emission steps, every design bit-exact with nnmap's reference on PoCL and Intel's emulator."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from fpga_models import repeated_graph, small_graph

from nnmap.reference import run
from nnmap.targets.stratix10.design import build_design
from nnmap.targets.stratix10.device import STRATIX10_SX2800
from nnmap.targets.stratix10.kernels import layer_kernels
from nnmap.targets.stratix10.network import estimate
from nnmap.targets.stratix10.options import ALL, BASE, PORTABLE, LayerChoice, Optimizations
from nnmap.targets.stratix10.platforms import INTEL_EMULATOR, POCL
from nnmap.targets.stratix10.runner import run_design
from nnmap.verify import random_inputs

CHOICE = LayerChoice(unroll=4, channel_tile=4)


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    return small_graph(tmp_path_factory.mktemp("fpga"))[1]


def test_base_kernel_is_tvms_plain_output_one_kernel_per_stage(small) -> None:  # type: ignore[no-untyped-def]
    conv = small.layers[1]
    base = layer_kernels(conv, small, "conv", BASE, CHOICE)
    assert len(base.kernels) == 2  # accumulation, then requantization
    assert base.scratch == {"acc": ("int32", 8 * 8 * 8)}
    assert "#pragma" not in base.kernels[0].source
    fused = layer_kernels(conv, small, "conv", Optimizations(fusion=True, cached_writes=True,
                                                             unroll=True, tiling=True), CHOICE)
    assert len(fused.kernels) == 1 and not fused.scratch
    source = fused.kernels[0].source
    assert "int acc_local_ptr[1];" in source  # the accumulator is a register
    assert "__local char weight_shared_ptr[108];" in source  # 3x3x3 weights of 4 channels
    assert source.count("#pragma unroll\n") == 3  # c (3 <= 4: fully), fy, fx


def _max_difference(graph, options: Optimizations, platform: str) -> int:  # type: ignore[no-untyped-def]
    design = build_design(graph, options, dict.fromkeys(range(len(graph.layers)), CHOICE))
    samples = random_inputs(graph, 3, 1)
    per_sample = [[x[i:i + 1] for x in samples] for i in range(3)]
    outputs = run_design(design, per_sample, platform)
    return max(int(np.abs(got[0].astype(int) - run(graph, sample)[0].astype(int)).max())
               for got, sample in zip(outputs, per_sample, strict=True))


def test_base_design_is_bit_exact_on_pocl(small) -> None:  # type: ignore[no-untyped-def]
    assert _max_difference(small, BASE, POCL) == 0


def test_channels_and_autorun_are_bit_exact_on_intels_emulator(small) -> None:  # type: ignore[no-untyped-def]
    design = build_design(small, ALL, dict.fromkeys(range(len(small.layers)), CHOICE))
    # the residual Add's inputs are read twice and the softmax runs on the host: no channels
    assert len(design.channels) == 7 and len(design.autorun) == 4
    assert "write_channel_intel" in design.source and "__attribute__((autorun))" in design.source
    assert _max_difference(small, ALL, INTEL_EMULATOR) == 0


def test_alike_layers_share_one_kernel(tmp_path) -> None:  # type: ignore[no-untyped-def]
    graph = repeated_graph(tmp_path)
    options, alone_options = PORTABLE, replace(PORTABLE, shared_kernels=False)
    design = build_design(graph, options)
    assert design.shared == {"layer3_kernel": "layer2_kernel"}
    assert "layer3_kernel" not in design.source
    assert _max_difference(graph, options, POCL) == 0
    alone = estimate(graph, alone_options, {}, STRATIX10_SX2800).resources
    shared = estimate(graph, options, {}, STRATIX10_SX2800).resources
    assert shared.alms < alone.alms and shared.dsps < alone.dsps
