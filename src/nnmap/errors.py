"""Errors a user can cause. Each carries a one-line message naming what is wrong and what to do."""

# A message longer than this keeps its start (the file, layer or field) and its end (what to do).
MESSAGE_LIMIT = 600


def one_line(text: str) -> str:
    """``text`` with control characters escaped (a model's names may hold newlines or NULs) and,
    past MESSAGE_LIMIT characters, its middle elided."""
    escaped = "".join(
        char if char.isprintable() else repr(char)[1:-1] for char in text
    )
    if len(escaped) <= MESSAGE_LIMIT:
        return escaped
    half = MESSAGE_LIMIT // 2
    return f"{escaped[:half]} ... {escaped[-half:]}"


class NnmapError(Exception):
    """Base of every error nnmap reports to a user (the CLI prints it in one line, exit code 2)."""

    def __init__(self, message: str) -> None:
        super().__init__(one_line(str(message)))


class ModelFormatError(NnmapError):
    """The model file is missing, truncated, of an unknown kind or not parseable."""


class UnsupportedOperatorError(NnmapError):
    """The model uses an operator (or an operator configuration) nnmap cannot lower."""


class QuantizationError(NnmapError):
    """The model's quantization is not what the requested flow needs (e.g. float where int8 is)."""


class TargetError(NnmapError):
    """A target description is malformed (a field is missing, zero or inconsistent)."""


class MappingError(NnmapError):
    """No execution module of the target can hold or run a layer."""


class BuildError(NnmapError):
    """Generated code failed to build."""
