"""Subcommands (filled in by their own issue)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this module's subcommands to ``app``."""
