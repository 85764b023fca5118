"""report.html: self-contained structure (stdlib html.parser) and a real render in headless Chromium."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path

import cv2
import numpy as np
import pytest
from eval_fixtures import load_module

from oodforge.eval.html_report import REPORT_FILE, render_html_report, write_html_report
from oodforge.eval.leaderboard import leaderboard_table

bf = load_module("bench_run_fixtures", Path(__file__).with_name("bench_run_fixtures.py"))
SCRIPT = Path(__file__).parents[2] / "scripts" / "check_report_html.sh"
INSTALL_HINT = (
    "headless Chromium is required to check that report.html renders, and none was found on PATH "
    "(chromium, chromium-browser) or in $CHROMIUM. Install it: `apt-get update && apt-get install -y chromium` "
    "(Debian; Ubuntu: `chromium-browser`), or set CHROMIUM=/path/to/chromium"
)


class _Doc(HTMLParser):
    """Collects every start tag with its attributes, text per table cell, and all text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []
        self.styles: list[str] = []
        self.table: str | None = None
        self.rows: dict[str, list[list[tuple[str, dict[str, str], str]]]] = {}
        self._cell: tuple[str, dict[str, str]] | None = None
        self._cell_text: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        self.tags.append((tag, a))
        self._in_style = tag == "style"
        if tag == "table":
            self.table = a.get("id", "")
            self.rows[self.table] = []
        elif tag == "tr" and self.table is not None:
            self.rows[self.table].append([])
        elif tag in ("td", "th") and self.table is not None:
            self._cell, self._cell_text = (tag, a), []

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False if tag == "style" else self._in_style
        if tag in ("td", "th") and self._cell is not None and self.table is not None:
            self.rows[self.table][-1].append((*self._cell, "".join(self._cell_text).strip()))
            self._cell = None
        elif tag == "table":
            self.table = None

    def handle_data(self, data: str) -> None:
        (self.styles if self._in_style else self.text).append(data)
        if self._cell is not None:
            self._cell_text.append(data)


def _parse(text: str) -> _Doc:
    doc = _Doc()
    doc.feed(text)
    doc.close()
    return doc


def _assert_self_contained(text: str, doc: _Doc) -> None:
    assert text.startswith("<!DOCTYPE html>")
    for tag, attrs in doc.tags:
        assert tag not in ("script", "link", "iframe", "object", "embed", "base"), tag
        for name, value in attrs.items():
            v = value.strip().lower()
            assert not v.startswith(("http:", "https:", "//", "ftp:")), (tag, name, value)
            if name in ("src", "href"):
                assert v.startswith(("data:", "#")), (tag, name, value[:40])
        if tag == "img":
            assert attrs["src"].startswith(("data:image/png;base64,", "data:image/jpeg;base64,")) and attrs["alt"]
    css = "".join(doc.styles)
    assert "@import" not in css and "url(" not in css and "@font-face" not in css
    # the fixture holds no URL, so anything like one outside the base64 payloads would be a reference
    assert "http" not in re.sub(r'"data:image/[a-z]+;base64,[A-Za-z0-9+/=]*"', "", text).lower()


def test_structure(tmp_path: Path) -> None:
    run = bf.make_run()
    path = write_html_report(run, tmp_path)
    assert path == tmp_path / REPORT_FILE and sorted(p.name for p in tmp_path.iterdir()) == [REPORT_FILE]
    text = path.read_text(encoding="utf-8")
    doc = _parse(text)
    _assert_self_contained(text, doc)

    # leaderboard: the rows and columns of the run, the same strings as the CLI table, best cells marked
    table = leaderboard_table(run)
    body = [r for r in doc.rows["leaderboard"] if r and r[0][0] == "th" and r[0][1].get("scope") == "row"]
    assert [r[0][2] for r in body] == run.rows() == [t[0] for t in table[1:]]
    assert [[c[1]["data-col"] for c in r[1:]] for r in body] == [bf.COLUMNS] * len(bf.ROWS)
    assert [[c[2] for c in r[1:]] for r in body] == [t[1:] for t in table[1:]]
    best = {(i, c[1]["data-col"]) for i, r in enumerate(body) for c in r[1:] if "best" in c[1]["class"].split()}
    assert best == bf.BEST
    group_heads = [c[2] for c in doc.rows["leaderboard"][0]]
    assert group_heads == ["score @ temperature", "RA21", "FS L&F", "mIoU ↑"]

    protocol = doc.rows["protocol"]
    assert [c[2] for c in protocol[1]] == ["RA21", "road_anomaly_21", "validation", "smiyc", "10", "anomaly"]
    assert len(protocol) == 1 + len(run.entries)

    # escaped text, provenance, sections, figures and worst frames
    alltext = "".join(doc.text)
    assert "oodforge benchmark: erfnet & <weights|v2>.pth" in alltext and "&lt;weights|v2&gt;" in text
    assert "<script>alert" not in text and "# &lt;script&gt;alert(1)&lt;/script&gt;" in text
    for key, value in (("git_commit", "abc1234"), ("versions.torch", "2.5.1"), ("date", bf.HEADER["date"])):
        assert f"<dt>{key}</dt><dd>{value}</dd>" in text
    assert "component pass used 1.2 MB & <no> warnings" in alltext and "reader: 10 frames <ok>" in alltext
    assert [a["id"] for t, a in doc.tags if t == "section"] == ["entry-RA21", "entry-FS_L_F"]
    alts = [a["alt"] for t, a in doc.tags if t == "img"]
    assert alts == [
        "RA21: Precision–recall curves",
        "RA21: ROC curves",
        *(f"validation000{k}: {part}" for k in range(2) for part in ("image", "score map", "ground truth")),
        "FS L&F: Precision–recall curves",
        "FS L&F: ROC curves",
    ]
    assert "validation0001: frame AP 5.00 %" in alltext and "No worst frames recorded" in alltext


def test_without_matplotlib(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    text = render_html_report(bf.make_run())
    doc = _parse(text)
    _assert_self_contained(text, doc)
    assert len([t for t, _ in doc.tags if t == "img"]) == 6  # the worst-frame thumbnails only
    alltext = "".join(doc.text)
    assert alltext.count("No curves: plots need matplotlib: pip install 'oodforge[plots]'.") == 3  # 2 entries + notes


def test_precomputed_plots_are_embedded() -> None:
    png = bf.thumb((1, 2, 3))
    text = render_html_report(bf.make_run(), plots={"RA21": {"pr": png, "roc": png}})
    srcs = [a["src"] for t, a in _parse(text).tags if t == "img"]
    assert len(srcs) == 2 + 6 and srcs[0] == srcs[1]
    assert "No curves: nothing was measured on this benchmark." in text  # FS L&F got no figures


def _chromium() -> str:
    exe = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not exe:
        pytest.fail(INSTALL_HINT, pytrace=False)
    return exe


def _near(img: np.ndarray, rgb: tuple[int, int, int], tol: int = 12) -> int:
    bgr = np.array(rgb[::-1], np.int16)
    return int((np.abs(img.astype(np.int16) - bgr).max(axis=2) <= tol).sum())


def test_renders_in_headless_chromium(tmp_path: Path) -> None:
    exe = _chromium()
    report = write_html_report(bf.make_run(), tmp_path)
    shot = tmp_path / "shot.png"
    env = {**os.environ, "CHROMIUM": exe, "WINDOW_SIZE": "1280,4000", "TIMEOUT_S": "120"}
    start = time.perf_counter()
    proc = subprocess.run(["bash", str(SCRIPT), str(report), str(shot)], env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"screenshot {shot} ")
    img = cv2.imread(str(shot), cv2.IMREAD_COLOR)
    assert img is not None and img.shape == (4000, 1280, 3)
    white = (img >= 250).all(axis=2).mean()
    assert 0.03 < 1 - white < 0.9, f"screenshot looks blank or broken: {1 - white:.1%} non-white pixels"
    assert _near(img, (218, 251, 225), 2) > 500  # the best-cell highlight: the table was laid out with its CSS
    assert _near(img, (31, 119, 180), 30) > 200  # matplotlib C0 lines: the embedded PR/ROC figures decoded
    assert _near(img, bf.THUMB_RGB, 2) > 20_000  # the magenta worst-frame thumbnails (data URIs) decoded
    print(f"chromium render: {elapsed:.2f} s")
