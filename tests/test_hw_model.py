"""Validation of the hardware model: malformed targets fail on construction, naming the field."""

from __future__ import annotations

import pytest

from nnmap.errors import TargetError
from nnmap.hw import ArrayAxis, ComputeArray, ExecModule, Memory, Target


def memory(
    name: str = "buf",
    size: int = 4096,
    operands: tuple[str, ...] = ("I", "W", "O"),
    **fields: float,
) -> Memory:
    return Memory(
        name,
        size=size,
        operands=operands,
        read_bw=fields.pop("read_bw", 4),
        write_bw=fields.pop("write_bw", 4),
        **fields,
    )  # type: ignore[arg-type]


ARRAY = ComputeArray("pe", axes=(ArrayAxis("rows", 4, ("C",)), ArrayAxis("cols", 4, ("K",))))


def module(levels: tuple[tuple[Memory, ...], ...], name: str = "acc") -> ExecModule:
    return ExecModule(name, ARRAY, levels)


def test_a_valid_module_reports_its_peak() -> None:
    built = module(((memory(),), (memory("dram", 1 << 20),)))
    assert built.peak_macs_per_cycle == 16
    assert built.memory_for(1, "W").name == "dram"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"read_bw": 0}, "read_bw must be > 0"),
        ({"write_bw": -1}, "write_bw must be > 0"),
        ({"size": 0}, "size must be > 0"),
        ({"latency": -2}, "latency must be >= 0"),
        ({"operands": ("I", "X")}, "operands has 'X'"),
    ],
)
def test_memory_fields_are_checked(fields: dict, message: str) -> None:
    with pytest.raises(TargetError, match=message) as error:
        memory(**fields)
    assert "memory 'buf'" in str(error.value)
    assert "\n" not in str(error.value)


def test_a_level_smaller_than_one_array_tile_is_refused() -> None:
    # one 4x4 array tile: W 16 B + I 4 B + O 4 B = 24 B
    with pytest.raises(TargetError, match=r"memory 'buf'.*smaller than one tile of the array"):
        module(((memory(size=20),), (memory("dram", 1 << 20),)))


def test_an_operand_no_memory_of_a_level_holds_is_refused() -> None:
    with pytest.raises(TargetError, match=r"levels\[0\] has no memory that can hold operand O"):
        module(((memory(operands=("I", "W")),), (memory("dram", 1 << 20),)))


def test_an_operand_held_twice_in_a_level_is_refused() -> None:
    with pytest.raises(TargetError, match="operand W is held by several memories"):
        module(((memory("a"), memory("b", operands=("W",))), (memory("dram", 1 << 20),)))


def test_array_fields_are_checked() -> None:
    with pytest.raises(TargetError, match="array axis 'rows': size must be >= 1"):
        ArrayAxis("rows", 0, ("C",))
    with pytest.raises(TargetError, match="loops has 'Z'"):
        ArrayAxis("rows", 4, ("Z",))
    with pytest.raises(TargetError, match="stationary must be"):
        ComputeArray("pe", axes=ARRAY.axes, stationary="Q")


def test_target_needs_a_clock_and_distinct_module_names() -> None:
    host = module(((memory(),), (memory("dram", 1 << 20),)), name="cpu")
    with pytest.raises(TargetError, match="clock_hz must be > 0"):
        Target("soc", host=host, clock_hz=0)
    with pytest.raises(TargetError, match="module names must be distinct"):
        Target("soc", host=host, accelerators=(host,))
    with pytest.raises(TargetError, match="has no module 'npu'.*known: cpu"):
        Target("soc", host=host).module("npu")
