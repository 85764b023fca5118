"""`open_owned_folder`: oodforge deletes only the files its ledger lists, and writes only into its own folders."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from oodforge._io import atomic_write_bytes
from oodforge._runlock import RootLockedError
from oodforge.errors import UsageError
from oodforge.export.owned_folder import LEDGER, check_owned_folder, open_owned_folder


def _listed(folder: Path) -> list[str]:
    return json.loads((folder / LEDGER).read_text())["files"]


def _write(folder: Path, rels: list[str], *, overwrite: bool = True, clear: bool = True) -> int:
    """One run that writes ``rels`` (their name as content); returns the kept count."""
    with open_owned_folder(folder, command="test", overwrite=overwrite) as owned:
        owned.claim(rels, replace=clear)
        for rel in rels:
            atomic_write_bytes(owned.path(rel), rel.encode())
        return owned.kept


def test_new_folder_gets_a_ledger_of_what_was_written(tmp_path: Path) -> None:
    out = tmp_path / "new" / "out"
    _write(out, ["a/x.png", "b.txt"])
    assert _listed(out) == ["a/x.png", "b.txt"]
    assert (out / "a/x.png").read_bytes() == b"a/x.png"
    assert check_owned_folder(out, overwrite=True, key="k", what="w") == ["a/x.png", "b.txt"]


@pytest.mark.parametrize("overwrite", [False, True])
def test_a_folder_without_ledger_is_refused(tmp_path: Path, overwrite: bool) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "mine.png").write_bytes(b"mine")
    with pytest.raises(UsageError, match=r"out .*: not empty \(found 'data'\) and has no list of oodforge's") as e:
        check_owned_folder(tmp_path, overwrite=overwrite, key="out", what="w")
    with pytest.raises(UsageError, match="has no list of oodforge's files"):
        _write(tmp_path, ["data/mine.png"], overwrite=overwrite)
    assert "\n" not in str(e.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]  # nothing written, no lock folder either
    file = tmp_path / "data" / "mine.png"
    with pytest.raises(UsageError, match="exists and is not a folder"):
        check_owned_folder(file, overwrite=True, key="out", what="w")


def test_a_folder_with_only_the_lock_counts_as_empty(tmp_path: Path) -> None:
    (tmp_path / ".oodforge").mkdir()
    (tmp_path / ".oodforge" / "lock").write_text("{}")  # a run killed before its first write
    _write(tmp_path, ["x.txt"], overwrite=False)
    assert _listed(tmp_path) == ["x.txt"]
    (tmp_path / ".oodforge" / "records").mkdir()  # say, a synth dataset's state: not ours
    (tmp_path / LEDGER).unlink()
    with pytest.raises(UsageError, match="has no list of oodforge's files"):
        check_owned_folder(tmp_path, overwrite=True, key="out", what="w")


def test_replacing_deletes_only_listed_files_and_counts_the_rest(tmp_path: Path) -> None:
    _write(tmp_path, ["imgs/1.png", "imgs/2.png", "sub/deep/3.png", "readme.txt"])
    (tmp_path / "imgs" / "mine.png").write_bytes(b"mine")
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "n.txt").write_text("mine")
    with pytest.raises(UsageError, match=r"not empty, holds a previous output \(4 files\); pass --overwrite"):
        _write(tmp_path, ["imgs/1.png"], overwrite=False)
    kept = _write(tmp_path, ["imgs/1.png", "other/4.png"])
    assert kept == 2
    assert (tmp_path / "imgs" / "mine.png").read_bytes() == b"mine" and (tmp_path / "notes" / "n.txt").is_file()
    assert not (tmp_path / "imgs" / "2.png").exists() and not (tmp_path / "sub").exists()  # emptied folders go
    assert _listed(tmp_path) == ["imgs/1.png", "other/4.png"]


def test_a_user_file_is_never_written_over_and_a_refused_run_deletes_nothing(tmp_path: Path) -> None:
    _write(tmp_path, ["a.txt"])
    (tmp_path / "b.txt").write_text("mine")
    with pytest.raises(UsageError, match=r"b\.txt exists and oodforge did not write it"):
        _write(tmp_path, ["a.txt", "b.txt"])
    assert (tmp_path / "b.txt").read_text() == "mine" and (tmp_path / "a.txt").read_bytes() == b"a.txt"
    assert _listed(tmp_path) == ["a.txt"]
    for bad in ("../x.txt", "/abs.txt", ".oodforge/files.json", ""):
        with pytest.raises(UsageError, match="is not a path inside the folder"):
            _write(tmp_path, [bad])


def test_replace_deletes_a_re_planned_file_this_run_does_not_write(tmp_path: Path) -> None:
    _write(tmp_path, ["a.txt", "b.txt"])
    with open_owned_folder(tmp_path, command="test", overwrite=True) as owned:
        assert owned.claim(["a.txt", "b.txt"], replace=True) == 2  # b.txt planned, then skipped (say, a bad frame)
        atomic_write_bytes(owned.path("a.txt"), b"new")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".oodforge", "a.txt"]
    assert _listed(tmp_path) == ["a.txt"]


def test_ledger_entries_never_lead_outside(tmp_path: Path) -> None:
    out, outside = tmp_path / "out", tmp_path / "outside"
    outside.mkdir()
    victims = [outside / "v.txt", tmp_path / "top.txt"]
    for v in victims:
        v.write_text("mine")
    _write(out, ["x.txt"])
    (out / "link").symlink_to(outside, target_is_directory=True)
    (out / "file_link.txt").symlink_to(victims[1])
    doc = json.loads((out / LEDGER).read_text())
    doc["files"] += ["../top.txt", str(victims[1]), "link/v.txt", "file_link.txt", "./../top.txt"]
    (out / LEDGER).write_text(json.dumps(doc))
    _write(out, ["y.txt"])
    assert all(v.read_text() == "mine" for v in victims)
    assert (out / "file_link.txt").is_symlink() and not (out / "x.txt").exists()


def test_a_killed_run_still_lists_its_files_and_stale_ones_are_refreshed(tmp_path: Path) -> None:
    def killed() -> None:
        with open_owned_folder(tmp_path, command="test", overwrite=True) as owned:
            owned.claim(["a.txt", "b.txt", "c.txt"])
            atomic_write_bytes(owned.path("a.txt"), b"a")
            (tmp_path / ".b.txt.abcd_123.tmp").write_bytes(b"half")  # atomic_writer's leftover of b.txt
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        killed()
    assert _listed(tmp_path) == ["a.txt", "b.txt", "c.txt"]  # no clean-up on failure
    (tmp_path / ".mine.txt.abcd_123.tmp").write_bytes(b"mine")  # not beside a listed file
    (tmp_path / ".a.txt.toolong123.tmp").write_bytes(b"mine")  # not mkstemp's name
    _write(tmp_path, ["b.txt"], clear=False)  # refresh: listed files not written again are removed at the end
    assert sorted(p.name for p in tmp_path.iterdir()) == [".a.txt.toolong123.tmp", ".mine.txt.abcd_123.tmp",
                                                          ".oodforge", "b.txt"]  # fmt: skip
    assert _listed(tmp_path) == ["b.txt"]


def test_one_run_at_a_time(tmp_path: Path) -> None:
    with (
        open_owned_folder(tmp_path, command="first", overwrite=True),
        pytest.raises(RootLockedError, match=r"in use by pid .*\(first, since"),
    ):
        _write(tmp_path, ["x.txt"])


def test_an_unreadable_ledger_is_refused(tmp_path: Path) -> None:
    _write(tmp_path, ["a.txt"])
    (tmp_path / LEDGER).write_text("{not json")
    with pytest.raises(UsageError, match="unreadable file list"):
        _write(tmp_path, ["a.txt"])
    assert (tmp_path / "a.txt").is_file()
