"""Text from a model (layer and graph names) made safe to write into generated C.

Names come from model files nnmap does not control: they reach C only through these functions,
never as identifiers (those are nnmap's own, from positions and kinds)."""

from __future__ import annotations


def _printable(text: str) -> str:
    """Printable ASCII; anything else (newlines, control and non-ASCII characters) becomes ``_``."""
    return "".join(ch if " " <= ch <= "~" else "_" for ch in text)


def c_string(text: str) -> str:
    """``text`` as a C string literal."""
    safe = _printable(text).replace("\\", "\\\\").replace('"', '\\"').replace("?", "\\?")
    return f'"{safe}"'


def c_comment(text: str) -> str:
    """``text`` as the inside of a ``/* */`` comment: it cannot end the comment, open another,
    or continue onto the next line."""
    safe = _printable(text)
    while "*/" in safe or "/*" in safe:
        safe = safe.replace("*/", "* /").replace("/*", "/ *")
    return safe.replace("\\", "/")
