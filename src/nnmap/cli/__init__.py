"""The ``nnmap`` command. Each group of subcommands lives in its own module."""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING

from rich.console import Console

from nnmap.errors import NnmapError

if TYPE_CHECKING:  # typer is imported when a command line is parsed (not by `nnmap inspect`)
    import typer

# What typer returns (out of standalone mode) when Ctrl-C interrupted a command.
INTERRUPTED_STATUS = 130
# Tables stay readable when the output is piped (rich falls back to 80 columns there).
console = Console(width=None if sys.stdout.isatty() else 160)
error_console = Console(stderr=True, width=None if sys.stderr.isatty() else 160)


def build_app() -> typer.Typer:
    """The typer application with every command registered."""
    import typer

    from nnmap.cli import (
        compile_commands,
        model_commands,
        report_commands,
        target_commands,
        tune_commands,
    )

    app = typer.Typer(
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        help="Compile quantized neural networks for heterogeneous edge SoCs.",
    )
    for module in (model_commands, target_commands, compile_commands, report_commands,
                   tune_commands):
        module.register(app)
    return app


def _report(error: BaseException) -> None:
    error_console.print(f"[bold red]error:[/] {error}", highlight=False, soft_wrap=True)
    sys.exit(2)


def _report_bug(error: Exception) -> None:
    """A bug: one line naming it (the traceback only at debug level), never a traceback."""
    logging.getLogger(__name__).debug("internal error", exc_info=True)
    _report(RuntimeError(f"internal error {type(error).__name__}: {error} (please report it "
                         "with the command line)"))


def _inspect_fast_path(arguments: list[str]) -> bool:
    """``nnmap inspect MODEL`` runs without typer's argument parsing (which imports pydantic,
    a third of the command's time); False for any other command line."""
    if len(arguments) != 2 or arguments[0] != "inspect" or arguments[1].startswith("-"):
        return False
    from nnmap.cli.layer_table import print_layer_table
    from nnmap.frontend.tflite_reader import without_eager_schema_import

    without_eager_schema_import()
    print_layer_table(arguments[1])
    return True


def main() -> None:
    """Entry point: run the app. A user error prints one line and exits with code 2; a usage
    error prints typer's usual message and exits with 2; nothing ends in a traceback."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        if _inspect_fast_path(sys.argv[1:]):
            return
    except NnmapError as error:
        _report(error)
    except Exception as error:
        _report_bug(error)
    import typer

    try:
        status = build_app()(standalone_mode=False)
    except NnmapError as error:
        _report(error)
    except (typer.Exit, SystemExit) as stop:
        code = getattr(stop, "exit_code", getattr(stop, "code", 0))
        sys.exit(code)
    except typer.Abort:
        _report(RuntimeError("aborted"))
    except typer.TyperException as error:  # usage errors: typer's own message
        show = getattr(error, "show", None)
        if show is not None:
            show()
            sys.exit(2)
        _report(error)
    except KeyboardInterrupt:
        _report(RuntimeError("interrupted"))
    except Exception as error:
        _report_bug(error)
    # Out of standalone mode typer returns an exit code instead of exiting: 130 for Ctrl-C.
    if status == INTERRUPTED_STATUS:
        _report(RuntimeError("interrupted"))
    if isinstance(status, int) and status != 0:
        sys.exit(status)
