"""Calibrate the analytical host model: nnmap's calibration graphs (every host kernel kind at
four widths) compiled for the host, cross-compiled for each built-in host core, run once on the
instruction-set emulator, and per-stage coefficients fitted to the measured kernels
(``nnmap.hostsim.calibrate``). Writes them, each with what it was fitted on, to
src/nnmap/targets/host_calibration.json, the host cores' calibration data.

Usage: ``python bench/calibrate_host.py [--cores rocket,cv32e40p,cortex-a9]``.
"""

from __future__ import annotations

import argparse
import datetime
import json
from importlib.metadata import version
from pathlib import Path

from rich.console import Console
from rich.table import Table

from nnmap.hostsim.calibrate import CALL, TIED, Fit, calibrate, error_summary
from nnmap.hostsim.calibration_graphs import SHAPES
from nnmap.targets.host_cores import BUILTIN_CORES, CALIBRATION_FILE


def entry(fit: Fit, unit: str) -> dict[str, object]:
    """One coefficient with what it was fitted on."""
    kernels = fit.kernels_per_unit[unit]
    tied = TIED.get(unit)
    fitted_on = f"{kernels} kernels" if unit == CALL else f"{kernels} kernels with {unit}"
    if tied is not None:
        fitted_on += f", jointly with {tied} ({fit.kernels_per_unit[tied]} kernels)"
    return {"value": round(fit.coefficients[unit], 4), "fitted_on": fitted_on}


def core_entry(name: str, fit: Fit) -> dict[str, object]:
    """A core's calibration as stored: its source, fit error and coefficients."""
    source = (
        f"fitted by bench/calibrate_host.py on {len(fit.relative_errors)} host kernels of "
        f"{len(SHAPES)} calibration graphs (nnmap.hostsim.calibration_graphs), cross-compiled "
        f"with zig {version('ziglang')} and emulated on {name} (unicorn {version('unicorn')}), "
        f"{datetime.date.today().isoformat()}: relative least squares, core cycles"
    )
    return {
        "source": source,
        "fit_error": {key: round(value, 4) for key, value in
                      error_summary(fit.relative_errors).items()},
        "call_cycles": entry(fit, CALL),
        "mac_cycles": {unit.removeprefix("mac:"): entry(fit, unit)
                       for unit in fit.coefficients if unit.startswith("mac:")},
        "op_cycles": {unit.removeprefix("op:"): entry(fit, unit)
                      for unit in fit.coefficients if unit.startswith("op:")},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cores", default=",".join(BUILTIN_CORES))
    args = parser.parse_args()
    stored = json.loads(CALIBRATION_FILE.read_text()) if CALIBRATION_FILE.exists() else {}
    table = Table(title="host model calibration (core cycles per unit)")
    for column in ("core", "unit", "cycles", "fitted on"):
        table.add_column(column)
    for name in args.cores.split(","):
        fit, _ = calibrate(BUILTIN_CORES[name])
        stored[name] = core_entry(name, fit)
        for unit, value in fit.coefficients.items():
            table.add_row(name, unit, f"{value:.3f}", entry(fit, unit)["fitted_on"])
        errors = error_summary(fit.relative_errors)
        table.add_row(name, "fit error", f"median {errors['median']:.0%}",
                      f"p90 {errors['p90']:.0%}, max {errors['max']:.0%}")
    CALIBRATION_FILE.write_text(json.dumps(stored, indent=1) + "\n")
    Console().print(table)
    Console().print(f"wrote {Path(CALIBRATION_FILE)}")


if __name__ == "__main__":
    main()
