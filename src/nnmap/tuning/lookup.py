"""The tuned schedule a compile uses for a host kernel: the database's fastest record whose
workload, target and CPU features match exactly, else none (the kernel's fixed schedule)."""

from __future__ import annotations

import logging

from nnmap.codegen.kernels import KernelDef
from nnmap.tuning.database import TuningRecord, active_database, cpu_features
from nnmap.tuning.space import KernelSchedule, is_tunable, workload_key

log = logging.getLogger(__name__)


def tuned_record(kernel: KernelDef, target: str) -> TuningRecord | None:
    """The fastest matching record of the active database for ``kernel`` on ``target``."""
    database = active_database()
    if database is None or not is_tunable(kernel) or not database.path.is_file():
        return None
    return database.best(workload_key(kernel), target, cpu_features())


def tuned_schedule(kernel: KernelDef, target: str) -> KernelSchedule | None:
    """The schedule of ``tuned_record`` (None for nnmap's fixed schedule or no record)."""
    record = tuned_record(kernel, target)
    if record is None or not record.schedule:
        return None
    log.debug("kernel %s: tuned schedule %s (%.1f us)", record.workload, record.schedule,
              record.seconds * 1e6)
    try:
        return KernelSchedule.from_dict(record.schedule)
    except KeyError as error:
        log.warning("tuning database: record of %s lacks knob %s; using the fixed schedule",
                    record.workload, error)
        return None
