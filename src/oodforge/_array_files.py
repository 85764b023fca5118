"""Reading ``.npy`` / ``.npz`` files the user gave: every way such a file can be broken is one error naming it.

``numpy.load`` alone raises ``OSError``, ``ValueError``, ``EOFError`` or ``zipfile.BadZipFile`` (a truncated
``.npz``), and returns a lazy archive whose entries fail later; :func:`load_array_file` reads eagerly and turns
all of these into one :class:`~oodforge.errors.InputFileError` line. Pickled objects are never loaded.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from oodforge.errors import InputFileError

__all__ = ["ARRAY_FILE_ERRORS", "load_array_file"]

#: What ``numpy.load`` (and reading an archive's entries) raises for a missing, foreign or damaged file.
ARRAY_FILE_ERRORS: tuple[type[Exception], ...] = (OSError, ValueError, EOFError, zipfile.BadZipFile)


def load_array_file(path: Path, what: str) -> np.ndarray | dict[str, np.ndarray]:
    """The array of an ``.npy`` file, or every entry of an ``.npz`` archive (name -> array), read eagerly.

    The format is told by the file's content, not its suffix.

    Args:
        path: The file.
        what: Words naming the file in the message, e.g. ``"score file"``.

    Raises:
        InputFileError: ``{path}: not a readable {what} ({exception}: {first line})``.
    """
    try:
        loaded = np.load(path, allow_pickle=False)
        if isinstance(loaded, np.lib.npyio.NpzFile):
            with loaded:
                return {name: np.asarray(loaded[name]) for name in loaded.files}
        return np.asarray(loaded)
    except ARRAY_FILE_ERRORS as exc:
        first = (str(exc).strip().splitlines() or [""])[0]
        raise InputFileError(f"{path}: not a readable {what} ({type(exc).__name__}: {first})") from None
