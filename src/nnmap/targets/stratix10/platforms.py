"""The OpenCL platforms nnmap runs FPGA designs on: PoCL (portable kernels) and Intel's FPGA
emulator (channels, autorun), both from PyPI (``pocl-binary-distribution``,
``intel-opencl-fpga-emu-rt``; the ``fpga`` extra).

Intel's runtime is an ICD the OpenCL loader finds through a vendor file that its installer would
write under /etc; nnmap writes that file into its cache instead, beside links to the system's
own vendor files, and points ``OCL_ICD_VENDORS`` there before pyopencl first loads.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from nnmap.cache import cache_dir, write_atomically
from nnmap.errors import NnmapError

POCL = "pocl"
INTEL_EMULATOR = "intel-fpga-emulator"
PLATFORM_NAMES = {POCL: "Portable Computing Language", INTEL_EMULATOR: "FPGA Emulation"}
INTEL_LIBRARY = "libintelocl_emu.so"
SYSTEM_VENDORS = Path("/etc/OpenCL/vendors")
# Intel's emulator offers 256 KiB of __local memory by default; the weight tiles the mapper
# sizes for the device's M20K blocks may take more.
EMULATOR_ENVIRONMENT = {"CL_CONFIG_CPU_FORCE_LOCAL_MEM_SIZE": "64MB"}


def intel_library() -> Path | None:
    """Intel's FPGA emulator runtime in this Python environment (None: not installed)."""
    path = Path(sys.prefix) / "lib" / INTEL_LIBRARY
    return path if path.is_file() else None


def vendor_folder(library: Path) -> Path:
    """A folder of ICD vendor files: the system's and Intel's emulator at ``library``."""
    folder = cache_dir("opencl-vendors")
    for system in SYSTEM_VENDORS.glob("*.icd") if SYSTEM_VENDORS.is_dir() else ():
        write_atomically(folder / system.name, system.read_bytes())
    write_atomically(folder / "nnmap-intel-fpga-emulator.icd", f"{library}\n".encode())
    return folder


def opencl() -> Any:
    """pyopencl, loaded with Intel's emulator registered when it is installed."""
    if "pyopencl" not in sys.modules:
        library = intel_library()
        if library is not None and "OCL_ICD_VENDORS" not in os.environ:
            os.environ["OCL_ICD_VENDORS"] = str(vendor_folder(library))
        for name, value in EMULATOR_ENVIRONMENT.items():
            os.environ.setdefault(name, value)
    try:
        import pyopencl
    except ImportError as error:
        raise NnmapError("running FPGA designs needs pyopencl: pip install 'nnmap[fpga]'"
                         ) from error
    return pyopencl


def available_platforms() -> list[str]:
    """The platforms of ``PLATFORM_NAMES`` this machine offers."""
    names = [platform.name for platform in opencl().get_platforms()]
    return [key for key, label in PLATFORM_NAMES.items() if any(label in n for n in names)]


def device(platform: str) -> Any:
    """The first device of ``platform`` (``pocl`` or ``intel-fpga-emulator``)."""
    if platform not in PLATFORM_NAMES:
        raise NnmapError(f"unknown OpenCL platform {platform!r}: choose "
                         f"{' or '.join(PLATFORM_NAMES)}")
    label = PLATFORM_NAMES[platform]
    for candidate in opencl().get_platforms():
        if label in candidate.name:
            return candidate.get_devices()[0]
    raise NnmapError(f"OpenCL platform {platform} is not installed: pip install 'nnmap[fpga]'")
