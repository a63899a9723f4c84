"""NE16's ``Backend`` (placeholder while the job lowering is built)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nnmap.hw import Backend, ExecModule
from nnmap.ir import Graph, Layer
from nnmap.ir.workload import Workload
from nnmap.mapping.graph import LayerMapping
from nnmap.mapping.host_model import HostWork
from nnmap.mapping.model import Mapping
from nnmap.targets.gap9.build import emulator_files
from nnmap.targets.gap9.cluster_backend import EMULATOR_FUNCTIONS, EMULATOR_PREFIX

if TYPE_CHECKING:
    from nnmap.codegen.layers import LayerCode


class Ne16Backend(Backend):
    emulator_prefix = EMULATOR_PREFIX
    emulator_functions = EMULATOR_FUNCTIONS

    def refusal(self, layer: Layer, graph: Graph, module: ExecModule) -> str | None:
        return "not yet lowered"

    def host_work(
        self, workload: Workload, module: ExecModule, numerics: str
    ) -> tuple[HostWork, ...]:
        return ()

    def scratch_bytes(
        self, workload: Workload, mapping: Mapping, module: ExecModule, numerics: str
    ) -> int:
        return 0

    def lower(
        self, layer: Layer, graph: Graph, index: int, mapped: LayerMapping, module: ExecModule,
        numerics: str,
    ) -> LayerCode:
        raise NotImplementedError

    def emulator_files(self, module: ExecModule) -> dict[str, str]:
        return emulator_files(module)
