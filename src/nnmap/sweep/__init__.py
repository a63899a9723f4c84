"""Design-space sweeps: every model on every point of a target parameter grid, evaluated as one
Dask task each (cost model, or compile and emulate), collected in a table with its Pareto set."""

from nnmap.sweep.evaluate import PointResult, area_proxy, evaluate_point
from nnmap.sweep.grid import SweepError, expand_grid
from nnmap.sweep.pareto import AREA_PROXY, overall, with_pareto
from nnmap.sweep.run import Point, dask_client, grid_points, run_points, sweep

__all__ = [
    "AREA_PROXY",
    "Point",
    "PointResult",
    "SweepError",
    "area_proxy",
    "dask_client",
    "evaluate_point",
    "expand_grid",
    "grid_points",
    "overall",
    "run_points",
    "sweep",
    "with_pareto",
]
