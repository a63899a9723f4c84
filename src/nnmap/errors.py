"""Errors a user can cause. Each carries a one-line message naming what is wrong and what to do."""


class NnmapError(Exception):
    """Base of every error nnmap reports to a user (the CLI prints it in one line, exit code 2)."""


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
