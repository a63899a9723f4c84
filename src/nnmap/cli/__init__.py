"""The ``nnmap`` command. Each group of subcommands lives in its own module."""

from __future__ import annotations

import logging
import sys

import typer
from rich.console import Console

from nnmap.errors import NnmapError

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="Compile quantized neural networks for heterogeneous edge SoCs.",
)
# Tables stay readable when the output is piped (rich falls back to 80 columns there).
console = Console(width=None if sys.stdout.isatty() else 160)
error_console = Console(stderr=True, width=None if sys.stderr.isatty() else 160)


def _register() -> None:
    from nnmap.cli import compile_commands, model_commands, target_commands

    for module in (model_commands, target_commands, compile_commands):
        module.register(app)


def main() -> None:
    """Entry point: run the app; a user error prints one line and exits with code 2."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    _register()
    try:
        app(standalone_mode=False)
    except NnmapError as error:
        error_console.print(f"[bold red]error:[/] {error}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except (typer.Exit, SystemExit) as stop:
        code = getattr(stop, "exit_code", getattr(stop, "code", 0))
        sys.exit(code)
    except Exception as error:  # click's usage errors
        import click

        if isinstance(error, click.ClickException):
            error.show()
            sys.exit(2)
        raise
