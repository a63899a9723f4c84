"""The ``Backend`` interface: what the compiler asks of the code behind one execution module.

A target's data says what a module is (its array, memories, timing); its backend says how nnmap
drives it: which layers it can lower (one support question, asked once, by the mapper), the
stream model that times the instructions it emits, the host stages its kernels leave, the
lowering of a planned layer into C that calls its instructions, and the emulator an artifact
ships. Each accelerator implements it in its own folder under ``nnmap.targets``; the compiler
reaches it only through ``ExecModule.backend`` of the Target value it is given.

The annotations name types of later pipeline stages (mapping, codegen); they are imported for
type checking only, so the hardware model stays free of the stages that use it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nnmap.codegen.layers import LayerCode
    from nnmap.hw.model import ExecModule
    from nnmap.ir import Graph, Layer
    from nnmap.ir.workload import Workload
    from nnmap.mapping.graph import LayerMapping
    from nnmap.mapping.host_model import HostWork
    from nnmap.mapping.model import Mapping
    from nnmap.mapping.stream_search import StreamModel


@dataclass(frozen=True)
class DeviceBuild:
    """How an artifact's ``device`` flavour compiles against the vendor's own headers: the Make
    variables its user sets (name, what to set it to) and the compiler flags, which may use them
    (include paths, the vendor's configuration ``-D`` flags)."""

    variables: tuple[tuple[str, str], ...] = ()
    flags: str = ""


@dataclass(frozen=True)
class TensorLayout:
    """An activation tensor a layer reads (``role`` "input") or writes ("output") in a layout of
    its module's own, kept between two layers of that module instead of the graph's channels-last
    one: ``name`` is the backend's word for the layout, ``nbytes`` the tensor's storage in it."""

    role: str
    tensor: str
    name: str
    nbytes: int


class Backend(ABC):
    """How nnmap lowers layers onto one accelerator module, times them and emulates them.

    ``emulator_prefix`` names the emulator's control functions in C (``<prefix>_reset``,
    ``_error``, ``_layer_count``, ``_layer_cycles``) that an artifact's runner calls;
    ``emulator_functions`` the name prefixes of every function of its emulation, which runs on
    an emulated host core beside the host's code but is not host work.
    """

    emulator_prefix: str
    emulator_functions: tuple[str, ...] = ()

    @abstractmethod
    def refusal(self, layer: Layer, graph: Graph, module: ExecModule) -> str | None:
        """Why this backend cannot lower ``layer`` onto ``module`` (None: it can)."""

    def numerics_refusal(
        self, layer: Layer, graph: Graph, module: ExecModule, numerics: str
    ) -> str | None:
        """Why this backend cannot lower ``layer`` in ``numerics`` although ``refusal`` allows
        it (e.g. its arithmetic is not proven identical to the reference in exact numerics;
        None: it can)."""
        return None

    def stream_model(self, workload: Workload, module: ExecModule) -> StreamModel | None:
        """The model of the instruction stream emitted for ``workload`` (None: the generic
        analytical model applies)."""
        return None

    def kernel_cycles(
        self, workload: Workload, mapping: Mapping, module: ExecModule, numerics: str
    ) -> float | None:
        """Modelled cycles of the kernel emitted in ``numerics`` when they differ from the
        mapping's cost (None: they do not)."""
        return None

    def kernel_note(self, workload: Workload, module: ExecModule) -> str:
        """How the kernel of ``workload`` is built when the backend chose among ways of
        building it (e.g. reading a convolution's input directly or gathering it on the host),
        and why; added to the layer's reason ("": no choice made)."""
        return ""

    @abstractmethod
    def host_work(
        self, workload: Workload, module: ExecModule, numerics: str
    ) -> tuple[HostWork, ...]:
        """The host loops the kernel of a layer leaves (gathers, requantization): part of the
        layer's whole cost, so the mapper weighs them when it chooses a module."""

    def linked_host_work(
        self, workload: Workload, module: ExecModule, numerics: str,
        layouts: tuple[TensorLayout, ...],
    ) -> tuple[HostWork, ...]:
        """The host loops the kernel leaves when it reads or writes the tensors of ``layouts``
        in its module's own layout (default: as ``host_work``)."""
        return self.host_work(workload, module, numerics)

    def linked_scratch_bytes(
        self, workload: Workload, mapping: Mapping, module: ExecModule, numerics: str,
        layouts: tuple[TensorLayout, ...],
    ) -> int:
        """As ``scratch_bytes``, the kernel reading or writing the tensors of ``layouts`` in its
        module's own layout (default: as ``scratch_bytes``)."""
        return self.scratch_bytes(workload, mapping, module, numerics)

    def tensor_layout(
        self, producer: Layer, consumers: Sequence[tuple[Layer, LayerMapping]], graph: Graph,
        module: ExecModule, numerics: str, asked: str | None,
    ) -> TensorLayout | None:
        """The layout of ``producer``'s output when it and every one of its ``consumers`` (with
        their mappings) run on ``module``: the backend's own (role "output"), or None to keep
        the graph's. ``asked`` names a layout a baseline's mappings ask for (None: the backend
        chooses by whole cost). Default: the graph's."""
        return None

    @abstractmethod
    def scratch_bytes(
        self, workload: Workload, mapping: Mapping, module: ExecModule, numerics: str
    ) -> int:
        """Bytes of host scratch (staging buffers, planned in the arena) the kernel of
        ``workload`` uses while it runs, known before its C is generated."""

    @abstractmethod
    def lower(
        self, layer: Layer, graph: Graph, index: int, mapped: LayerMapping, module: ExecModule,
        numerics: str,
    ) -> LayerCode:
        """The C of ``layer``, planned on ``module`` as ``mapped``, in ``numerics``."""

    @abstractmethod
    def emulator_files(self, module: ExecModule) -> dict[str, str]:
        """File name -> text of the emulator an artifact ships, its parameters from ``module``."""

    def device_build(self, module: ExecModule) -> DeviceBuild:
        """How the C of ``module`` builds for the real accelerator (default: nothing to add)."""
        return DeviceBuild()
