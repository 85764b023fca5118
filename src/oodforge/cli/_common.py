"""Shared CLI plumbing: consoles, one-line errors, exit codes."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from oodforge.errors import OodforgeError, UsageError

__all__ = ["EXIT_FAILED_SAMPLES", "EXIT_OK", "EXIT_USAGE", "console", "err_console", "handle_errors"]

EXIT_OK = 0
EXIT_FAILED_SAMPLES = 1
EXIT_USAGE = 2

console = Console()
err_console = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])


def handle_errors(fn: F) -> F:
    """Turn oodforge errors into one red line on stderr and exit code 2 (usage) or 1 (other)."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except UsageError as exc:
            err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
            raise typer.Exit(EXIT_USAGE) from None
        except OodforgeError as exc:
            err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
            raise typer.Exit(EXIT_FAILED_SAMPLES) from None

    return wrapper  # type: ignore[return-value]
