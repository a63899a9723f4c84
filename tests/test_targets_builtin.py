"""The built-in targets: registry, key numbers from shared/reference, support predicates, CLI."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from nnmap.cli import target_commands
from nnmap.errors import TargetError
from nnmap.ir import conv_workload, gemm_workload
from nnmap.targets import get_target, names


def test_registry_lists_every_builtin_target() -> None:
    assert names() == ["host", "gemmini", "vta", "diana", "gap9"]
    for name in names():
        assert get_target(name).name == name


def test_unknown_target_lists_the_known_ones() -> None:
    with pytest.raises(TargetError, match="unknown target 'tpu'; known targets: host, gemmini"):
        get_target("tpu")


def test_gemmini_default_configuration() -> None:
    gemmini = get_target("gemmini").module("gemmini")
    assert gemmini.peak_macs_per_cycle == 256
    spad, acc = gemmini.levels[0]
    assert (spad.size, spad.banks, acc.size, acc.holds_psums) == (256 * 1024, 4, 64 * 1024, True)
    assert {ins.name for ins in gemmini.instructions} >= {"mvin", "mvout", "preload", "loop_ws"}


def test_vta_buffers_and_core() -> None:
    vta = get_target("vta").module("vta")
    assert vta.peak_macs_per_cycle == 256
    sizes = {memory.name: memory.size for memory in vta.levels[0]}
    assert sizes == {"inp_buf": 32 * 1024, "wgt_buf": 256 * 1024, "acc_buf": 128 * 1024}


def test_diana_analog_core_is_declared_but_refuses_int8() -> None:
    diana = get_target("diana")
    layer = conv_workload(
        "c", batch=1, in_channels=16, out_channels=16, out_height=8, out_width=8, kernel=(3, 3)
    )
    assert "ternary" in str(diana.module("analog").supports(layer))
    assert diana.module("digital").supports(layer) is None
    odd = conv_workload(
        "c", batch=1, in_channels=16, out_channels=16, out_height=8, out_width=8, kernel=(2, 2)
    )
    assert "kernel 2x2 is not supported" in str(diana.module("digital").supports(odd))


def test_gap9_ne16_takes_1x1_and_3x3_with_16_channel_multiples() -> None:
    ne16 = get_target("gap9").module("ne16")
    assert (
        ne16.supports(
            conv_workload(
                "c",
                batch=1,
                in_channels=8,
                out_channels=32,
                out_height=4,
                out_width=4,
                kernel=(3, 3),
            )
        )
        is None
    )
    assert "multiple of 16" in str(ne16.supports(gemm_workload("g", 1, 10, 64)))
    assert get_target("gap9").module("cluster").peak_macs_per_cycle == 32


def test_cli_lists_and_shows_targets() -> None:
    app = typer.Typer()
    target_commands.register(app)
    runner = CliRunner()
    listing = runner.invoke(app, ["targets"])
    assert listing.exit_code == 0, listing.output
    assert "gemmini" in listing.output and "scratchpad" in listing.output
    shown = runner.invoke(app, ["targets", "show", "vta"])
    assert shown.exit_code == 0, shown.output
    assert "VTALoadBuffer2D" in shown.output and "wgt_buf" in shown.output
