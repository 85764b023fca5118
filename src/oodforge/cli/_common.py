"""Shared CLI plumbing: consoles, one-line errors, exit codes.

Every command goes through :func:`handle_errors`, the one place where failures become one red line:

============================  ====  ==========================================================
failure                       exit  line
============================  ====  ==========================================================
``UsageError`` (+ subclasses)  2    the error's own message (key/file, found, expected)
other ``OodforgeError``        1    the error's own message
``OSError`` on a path the      2    ``PATH: <cause>`` (permission denied, read-only file system,
user gave                           is a folder, not a folder, missing, ...)
``OSError`` of the machine     1    ``PATH: <cause>`` + what to do (disk full, quota, I/O error)
Ctrl-C                         130  ``interrupted``; commands that resume say how
``MemoryError``                1    ``out of memory`` + what to lower
anything else (a bug)          1    ``internal error`` + how to see the traceback
============================  ====  ==========================================================

Writes are atomic everywhere (:mod:`oodforge._io`), so whatever the failure, a file oodforge had
finished stays whole and a file it was writing never appears half-written. ``OODFORGE_DEBUG=1`` turns
the last three rows back into Python tracebacks for debugging.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import click
import typer
from rich.console import Console
from rich.markup import escape

from oodforge.errors import OodforgeError, UsageError

__all__ = [
    "EXIT_FAILED_SAMPLES",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "console",
    "describe_os_error",
    "err_console",
    "handle_errors",
]

EXIT_OK = 0
EXIT_FAILED_SAMPLES = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

console = Console()
err_console = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])

#: errno values that mean the machine (not the path the user chose) failed: exit 1, with advice
_MACHINE_FAULTS = {
    errno.ENOSPC: "no space left on the device: free some space and run the same command again",
    errno.EDQUOT: "disk quota exceeded: free some space and run the same command again",
    errno.EIO: "input/output error: check the disk or network file system",
    errno.ENOMEM: "out of memory",
}


def describe_os_error(exc: OSError) -> tuple[str, int]:
    """One line naming the path(s) and the cause of an ``OSError``, and the exit code it deserves."""
    cause = exc.strerror or str(exc) or type(exc).__name__
    code = EXIT_FAILED_SAMPLES if exc.errno in _MACHINE_FAULTS else EXIT_USAGE
    if exc.errno in _MACHINE_FAULTS:
        cause = _MACHINE_FAULTS[exc.errno]
    where = [str(f) for f in (exc.filename, exc.filename2) if f is not None]
    prefix = " -> ".join(where) + ": " if where else ""
    return f"{prefix}{cause[0].lower()}{cause[1:]}", code


def _fail(message: str, code: int) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def handle_errors(fn: F) -> F:
    """Turn every failure into one red line on stderr and an exit code (table in the module docstring)."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        debug = os.environ.get("OODFORGE_DEBUG", "") not in ("", "0")
        try:
            return fn(*args, **kwargs)
        except (typer.Exit, click.exceptions.ClickException, click.exceptions.Abort):
            raise
        except UsageError as exc:
            raise _fail(str(exc), EXIT_USAGE) from None
        except OodforgeError as exc:
            raise _fail(str(exc), EXIT_FAILED_SAMPLES) from None
        except OSError as exc:
            if debug:
                raise
            raise _fail(*describe_os_error(exc)) from None
        except KeyboardInterrupt:
            if debug:
                raise
            raise _fail("interrupted (Ctrl-C)", EXIT_INTERRUPTED) from None
        except MemoryError:
            if debug:
                raise
            raise _fail("out of memory: lower --workers, the batch size or the image size", 1) from None
        except Exception as exc:
            if debug:
                raise
            raise _fail(
                f"internal error ({type(exc).__name__}: {exc}); this is a bug in oodforge: "
                "run again with OODFORGE_DEBUG=1 to see the traceback and report it",
                EXIT_FAILED_SAMPLES,
            ) from None

    return wrapper  # type: ignore[return-value]
