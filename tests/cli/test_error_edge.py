"""The CLI edge: every kind of failure is one line and the right exit code, never a traceback."""

from __future__ import annotations

import errno
import os

import pytest
import typer
from typer.testing import CliRunner

from oodforge.cli._common import handle_errors
from oodforge.errors import InputFileError, SampleError

runner = CliRunner()


def _app(exc: BaseException) -> typer.Typer:
    app = typer.Typer()

    @app.command()
    @handle_errors
    def boom() -> None:
        raise exc

    @app.command()
    @handle_errors
    def ok() -> None:
        pass

    return app


@pytest.mark.parametrize(
    ("exc", "code", "text"),
    [
        (InputFileError("a.png: bad header"), 2, "a.png: bad header"),
        (SampleError("one image failed"), 1, "one image failed"),
        (PermissionError(errno.EACCES, "Permission denied", "/ro/out"), 2, "/ro/out: permission denied"),
        (OSError(errno.EROFS, "Read-only file system", "/mnt/out"), 2, "/mnt/out: read-only file system"),
        (IsADirectoryError(errno.EISDIR, "Is a directory", "report.html"), 2, "report.html: is a directory"),
        (OSError(errno.ENOSPC, "No space left on device", "/d/x.png"), 1, "/d/x.png: no space left on the device"),
        (KeyboardInterrupt(), 130, "interrupted"),
        (MemoryError(), 1, "out of memory"),
        (ZeroDivisionError("division by zero"), 1, "internal error (ZeroDivisionError"),
    ],
)
def test_one_line_and_exit_code(exc: BaseException, code: int, text: str, monkeypatch) -> None:
    monkeypatch.delenv("OODFORGE_DEBUG", raising=False)
    res = runner.invoke(_app(exc), ["boom"])
    assert res.exit_code == code
    assert text in res.output
    assert "Traceback" not in res.output
    assert len(res.output.strip().splitlines()) == 1


def test_debug_env_shows_the_real_exception(monkeypatch) -> None:
    monkeypatch.setenv("OODFORGE_DEBUG", "1")
    res = runner.invoke(_app(ZeroDivisionError("x")), ["boom"])
    assert isinstance(res.exception, ZeroDivisionError)


def test_disk_full_during_a_real_write_is_one_line(monkeypatch, tmp_path) -> None:
    from oodforge import _io

    def full(fd: int, mode: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(_io.os, "fchmod", full)
    app = typer.Typer()

    @app.command()
    @handle_errors
    def write() -> None:
        _io.atomic_write_bytes(tmp_path / "x.bin", b"data")

    @app.command()
    @handle_errors
    def other() -> None:
        pass

    (tmp_path / "x.bin").write_bytes(b"old")
    res = runner.invoke(app, ["write"])
    assert res.exit_code == 1 and "no space left" in res.output
    assert (tmp_path / "x.bin").read_bytes() == b"old"  # nothing already written is lost
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
