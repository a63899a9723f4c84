"""The tuned schedule a compile uses for a host kernel: the database's fastest record whose
workload, target and CPU features match exactly, else none (the kernel's fixed schedule); and
the measured cycles the plan's host cost model takes for such a kernel."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from nnmap.tuning.database import TuningRecord, active_database, cpu_features

if TYPE_CHECKING:  # the kernels and the space import TVM: loaded when a kernel is looked up
    from nnmap.codegen.kernels import KernelDef
    from nnmap.hw import Target
    from nnmap.ir import Graph, Layer
    from nnmap.tuning.space import KernelSchedule

log = logging.getLogger(__name__)


def tuned_record(kernel: KernelDef, target: str) -> TuningRecord | None:
    """The fastest matching record of the active database for ``kernel`` on ``target``."""
    from nnmap.tuning.space import is_tunable, workload_key

    database = active_database()
    if database is None or not is_tunable(kernel) or not database.path.is_file():
        return None
    return database.best(workload_key(kernel), target, cpu_features())


def tuned_schedule(kernel: KernelDef, target: str) -> KernelSchedule | None:
    """The schedule of ``tuned_record`` (None for nnmap's fixed schedule or no record)."""
    record = tuned_record(kernel, target)
    if record is None or not record.schedule:
        return None
    from nnmap.tuning.space import KernelSchedule

    log.debug("kernel %s: tuned schedule %s (%.1f us)", record.workload, record.schedule,
              record.seconds * 1e6)
    try:
        return KernelSchedule.from_dict(record.schedule)
    except KeyError as error:
        log.warning("tuning database: record of %s lacks knob %s; using the fixed schedule",
                    record.workload, error)
        return None


MEASURED_STAGE = "kernel (measured, tuning database)"


def measured_cycles(layer: Layer, graph: Graph, target: Target) -> float | None:
    """The cycles, at the target's clock, of ``layer``'s tuned host kernel as ``nnmap tune``
    measured it on this CPU; None when the active database holds no record for the target on
    this CPU (the file is read, no kernel is lowered) or none for this layer's workload."""
    database = active_database()
    if database is None or not database.path.is_file():
        return None
    features = cpu_features()
    if not any((r.target, r.cpu_features) == (target.name, features)
               for r in database.records()):
        return None
    from nnmap.codegen.kernels import lower_layer
    from nnmap.errors import NnmapError

    try:
        kernel = lower_layer(layer, graph)
    except NnmapError:
        return None
    record = tuned_record(kernel, target.name)
    return None if record is None else record.seconds * target.clock_hz
