"""The FPGA's ``Backend`` for the per-layer C flow: the FPGA is not driven layer by layer from C
but compiled whole, as one OpenCL program and a host program (``nnmap compile``/``nnmap run``
with ``--target stratix10``: ``nnmap.targets.stratix10.flow``). The C flow keeps every layer on
the host and says so."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nnmap.errors import NnmapError
from nnmap.hw import Backend, ExecModule, NetworkFlow
from nnmap.ir import Graph, Layer

if TYPE_CHECKING:
    from nnmap.codegen.layers import LayerCode
    from nnmap.ir.workload import Workload
    from nnmap.mapping.graph import LayerMapping
    from nnmap.mapping.host_model import HostWork
    from nnmap.mapping.model import Mapping

REFUSAL = ("the FPGA runs whole networks as OpenCL kernels: nnmap compile/run --target "
           "stratix10 emits them (the per-layer C flow keeps the layer on the host)")


class OpenclBackend(Backend):
    """Refuses every layer of the per-layer C flow, naming the OpenCL flow instead."""

    emulator_prefix = "nnmap_stratix10"

    def refusal(self, layer: Layer, graph: Graph, module: ExecModule) -> str | None:
        return REFUSAL

    def host_work(self, workload: Workload, module: ExecModule, numerics: str
                  ) -> tuple[HostWork, ...]:
        return ()

    def scratch_bytes(self, workload: Workload, mapping: Mapping, module: ExecModule,
                      numerics: str) -> int:
        return 0

    def lower(self, layer: Layer, graph: Graph, index: int, mapped: LayerMapping,
              module: ExecModule, numerics: str) -> LayerCode:
        raise NnmapError(f"layer {layer.name}: {REFUSAL}")

    def emulator_files(self, module: ExecModule) -> dict[str, str]:
        return {}

    def network_flow(self) -> NetworkFlow:
        from nnmap.targets.stratix10.flow import OpenclFlow  # loads TVM: only when used

        return OpenclFlow()
