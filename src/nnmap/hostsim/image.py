"""A cross-compiled ELF image as the emulator needs it: loadable segments and function symbols."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from elftools.elf.elffile import ELFFile
from elftools.elf.sections import SymbolTableSection

from nnmap.hostsim.decode import HostSimulationError

# functions of nnmap's freestanding C library (support/): charged to their caller
RUNTIME_SUPPORT = frozenset(
    {
        "memcpy", "memmove", "memset", "memcmp", "strlen", "strncpy", "strcmp", "malloc",
        "calloc", "realloc", "free", "vsnprintf", "snprintf", "nearbyintf", "_start",
    }
)  # fmt: skip


@dataclass(frozen=True)
class Image:
    """A loaded ELF: its loadable segments (address, bytes, memory size) and its functions
    (name -> address, size, whether the symbol is global)."""

    segments: tuple[tuple[int, bytes, int], ...]
    functions: dict[str, tuple[int, int, bool]] = field(hash=False)

    def address_of(self, name: str) -> int:
        """The address of the function ``name``."""
        if name not in self.functions:
            raise HostSimulationError(f"the cross-compiled image has no function {name!r}")
        return self.functions[name][0]

    def owner_ranges(self) -> list[tuple[str, int, int]]:
        """(name, start, end) of the functions cycles are charged to: global functions except
        the compiler runtime (``__*``) and nnmap's freestanding support, sorted by address.
        Static functions and the runtime are charged to the function that called them."""
        owners = [
            (name, start, start + size)
            for name, (start, size, is_global) in self.functions.items()
            if is_global and size > 0 and not name.startswith("__") and name not in RUNTIME_SUPPORT
        ]
        return sorted(owners, key=lambda owner: owner[1])


def load_image(path: Path) -> Image:
    """Read an ELF image's loadable segments and function symbols."""
    with open(path, "rb") as stream:
        elf = ELFFile(stream)
        segments = tuple(
            (segment["p_vaddr"], segment.data(), segment["p_memsz"])
            for segment in elf.iter_segments()
            if segment["p_type"] == "PT_LOAD"
        )
        symbols = elf.get_section_by_name(".symtab")
        if not isinstance(symbols, SymbolTableSection):
            raise HostSimulationError(f"{path}: the image has no symbol table")
        functions = {
            symbol.name: (
                symbol["st_value"] & ~1,
                symbol["st_size"],
                symbol["st_info"]["bind"] == "STB_GLOBAL",
            )
            for symbol in symbols.iter_symbols()
            if symbol["st_info"]["type"] == "STT_FUNC"
        }
    return Image(segments=segments, functions=functions)
