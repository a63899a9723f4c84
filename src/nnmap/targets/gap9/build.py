"""The GAP9 emulator's files: the shared part (DMA, L1, layer records), each module's part, and
their parameters headers rendered from the target's modules; built into a library for tests."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from nnmap.codegen.build import run_compiler
from nnmap.hw import ExecModule
from nnmap.runtime.emulator_build import CFLAGS, params_header, whole_number

EMULATOR_DIR = Path(__file__).resolve().parent / "emulator"
SHARED = ("pmsis.h", "gap9_emulator.c", "gap9_cluster.c")
MODULE_FILES = {"cluster": ("gap9_cluster_layers.c",), "ne16": ("ne16.h", "gap9_ne16.c")}
SHARED_KEYS = ("dma_bytes_per_cycle", "dma_overhead", "dma_row_cycles", "dma_issue",
               "conv_cycles_per_32_macs", "depthwise_cycles_per_32_macs", "output_cycles",
               "convert_cycles_per_4_bytes", "add_cycles", "pool_tap_cycles",
               "pool_output_cycles", "fork")


def _defines(module: ExecModule, keys: tuple[str, ...]) -> dict[str, int]:
    return {key.upper(): whole_number("gap9", key, module.timing[key]) for key in keys}


def shared_header(module: ExecModule) -> str:
    """gap9_params.h: the DMA's and the cores' timing and the L1 capacity (the same for every
    module)."""
    values = _defines(module, SHARED_KEYS)
    values["L1_BYTES"] = module.levels[0][0].size
    return params_header("GAP9", "gap9", values)


def module_header(module: ExecModule) -> str:
    """gap9_<module>_params.h: the module's own timing parameters."""
    keys = tuple(key for key in module.timing if key not in SHARED_KEYS)
    return params_header(f"GAP9_{module.name.upper()}", module.name, _defines(module, keys))


def emulator_files(module: ExecModule) -> dict[str, str]:
    """File name -> text of the emulator of ``module`` (the shared part included)."""
    names = (*SHARED, *MODULE_FILES[module.name])
    files = {name: (EMULATOR_DIR / name).read_text() for name in names}
    files["gap9_params.h"] = shared_header(module)
    files[f"gap9_{module.name}_params.h"] = module_header(module)
    return files


def build_library(modules: tuple[ExecModule, ...], out_dir: Path) -> Path:
    """The emulator of ``modules`` as a shared library in ``out_dir`` (reused when unchanged)."""
    files: dict[str, str] = {}
    for module in modules:
        files.update(emulator_files(module))
    digest = hashlib.sha256(" ".join(CFLAGS).encode())
    for name in sorted(files):
        digest.update(name.encode() + files[name].encode())
    folder = Path(out_dir) / f"gap9_{digest.hexdigest()[:16]}"
    library = folder / "libnnmap_gap9.so"
    if library.exists():
        return library
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    sources = [str(folder / name) for name in files if name.endswith(".c")]
    partial = library.with_suffix(f".{os.getpid()}.tmp")
    command = [os.environ.get("CC", "gcc"), *CFLAGS, "-DNNMAP_EMULATOR", f"-I{folder}",
               *sources, "-o", str(partial)]
    run_compiler(command, "gcc failed on the gap9 emulator")
    partial.replace(library)
    return library
