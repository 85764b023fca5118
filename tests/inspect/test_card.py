"""Dataset card (``oodforge report``): content from the manifest and stats, gallery choice, safe writes, and a
real render in headless Chromium from a file:// URL (DOM, pictures, charts, lightbox)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from oodforge._io import sha256_bytes
from oodforge.config.identity import config_sha256
from oodforge.errors import DataLayoutError, InputFileError, UsageError
from oodforge.inspect._card_charts import BAR_RGB
from oodforge.inspect._card_config import ConfigView, realism_steps
from oodforge.inspect._card_gallery import choose_records
from oodforge.inspect._dataset import load_dataset
from oodforge.inspect.card import DEFAULT_CARD_NAME, GENERATOR_META, render_card, write_card
from oodforge.inspect.stats import dataset_stats
from oodforge.inspect.verify import verify_dataset

SCRIPT = Path(__file__).parents[2] / "scripts" / "check_report_html.sh"
CONFIG_BYTES = b"dataset:\n  name: fixture\n  seed: 7\nexport:\n  image_format: png\n"


class Doc(HTMLParser):
    """Start tags with attributes, text, and the rows of every table with an id."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []
        self.rows: dict[str, list[list[str]]] = {}
        self._table: str | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        self.tags.append((tag, a))
        if tag == "table" and a.get("id"):
            self._table = a["id"]
            self.rows[self._table] = []
        elif tag == "tr" and self._table:
            self.rows[self._table].append([])
        elif tag in ("td", "th") and self._table:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._table and self._cell is not None:
            self.rows[self._table][-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)


def parse(text: str) -> Doc:
    doc = Doc()
    doc.feed(text)
    doc.close()
    return doc


def assert_self_contained(text: str, doc: Doc) -> None:
    """No script, no external reference: every src/href is a data: URI or an in-page anchor."""
    assert text.startswith("<!DOCTYPE html>") and GENERATOR_META in text[:1000]
    for tag, attrs in doc.tags:
        assert tag not in ("script", "link", "iframe", "object", "embed", "base"), tag
        for name, value in attrs.items():
            assert not value.strip().lower().startswith(("http:", "https:", "//", "file:")), (tag, name, value)
            if name in ("src", "href"):
                assert value.startswith(("data:image/jpeg;base64,", "data:image/png;base64,", "#")), value[:40]
    assert "http://" not in text and "https://" not in text and "url(" not in text and "@import" not in text


def test_card_content(dataset: Path, helpers: SimpleNamespace) -> None:
    text = render_card(dataset, n=12)
    doc = parse(text)
    assert_self_contained(text, doc)
    alltext = "".join(doc.text)

    # counts: the rows of `oodforge stats`, per split and total
    stats = dataset_stats(dataset)
    counts = {row[0]: row[1:] for row in doc.rows["counts"][1:]}
    assert doc.rows["counts"][0] == ["", "train", "val", "total"]
    assert counts["n_images"] == ["3", "1", "4"] and counts["placed_instances"] == ["2", "1", "3"]
    assert counts["planned_instances"] == ["4", "1", "5"] and counts["placement_rate"] == ["50.0%", "100.0%", "60.0%"]
    assert stats["totals"]["n_synth_without_anomaly"] == 1 and counts["n_synth_without_anomaly"][-1] == "1"
    # plausibility: the figures of `oodforge stats` (3 objects; sources unreachable, so notes say why)
    plaus = {row[0]: row[1:] for row in doc.rows["plausibility"][1:]}
    assert plaus["objects"] == ["2", "1", "3"]
    assert plaus["target road"] == ["50.0%", "100.0%", "66.7%"]
    assert "not measured" in alltext
    # charts: the category histogram names both categories with their counts
    svgs = [a for t, a in doc.tags if t == "svg"]
    assert [a["aria-label"] for a in svgs] == [
        "categories (3 objects)",
        "visible area",
        "bbox height",
        "bbox width",
    ]
    assert re.search(r">dog</text>.*?>2</text>", text) and re.search(r">cat</text>.*?>1</text>", text)

    # gallery: every ok record (4 < 12), sorted, with 3 thumbnails + 1 full view each, links to the lightbox
    entries = [a["id"] for t, a in doc.tags if t == "article"]
    assert entries == ["img-1", "img-2", "img-3", "img-4"]
    titles = re.findall(r"<h3>\d+\. ([^ <]+)", text)
    assert titles == [
        "train/aachen_000000_000019",
        "train/aachen_000001_000019",
        "train/bochum_000000_000000",
        "val/frankfurt_000000_000294",
    ]
    imgs = [a for t, a in doc.tags if t == "img"]
    assert len(imgs) == 4 * 4 + 4  # 4 entries x (3 thumbnails + full view) + the strip of 4
    assert sum(a["alt"].endswith("full size GT overlay and instance outlines") for a in imgs) == 4
    full_ids = [a["id"] for t, a in doc.tags if t == "a" and "lightbox" in a.get("class", "")]
    assert full_ids == [f"full-{k}" for k in range(1, 5)]
    assert sum(1 for t, a in doc.tags if t == "a" and a.get("href") == "#full-2") == 3

    # provenance: the manifest fields of a shown record, its instances and output hashes
    rec = next(r for r in helpers.read_records(dataset) if r["image_id"] == "aachen_000001_000019")
    entry = text[text.index('id="img-2"') : text.index('id="img-3"')]
    assert "<dt>placement_note</dt><dd>no road pixels</dd>" in entry
    assert "<dt>seed</dt><dd>1001</dd>" in entry and "<dt>coco_ann_ids</dt><dd>101, 202</dd>" in entry
    assert "<dt>planned / placed</dt><dd>3 / 2</dd>" in entry and "<dt>city</dt><dd>aachen</dd>" in entry
    assert "<td>dog (18)</td><td>101</td><td>1010</td><td>road</td><td>[5, 10, 8, 5]</td>" in entry
    for key in ("image", "gt_pixel", "instances", "labels"):
        assert f"<td>{rec['outputs'][key]}</td><td><code>{rec['sha256'][key]}</code></td>" in entry
    # the config: the fixture's config.yaml; the fixture's manifest holds the raw-bytes hash, not config_sha256
    assert "<dt>seed</dt><dd>7</dd>" in text and "name: fixture" in alltext
    assert "matches the manifest" not in text and f"manifest has {sha256_bytes(CONFIG_BYTES)}" in alltext


def test_config_hash_matches(dataset: Path, helpers: SimpleNamespace) -> None:
    records = helpers.read_records(dataset)
    for rec in records:
        rec["config_sha256"] = config_sha256((dataset / "config.yaml").read_bytes())
    helpers.write_records(dataset, records)
    assert "matches the manifest" in render_card(dataset, n=1)


def test_card_is_deterministic_and_seeded(dataset: Path) -> None:
    assert render_card(dataset, n=2, seed=3) == render_card(dataset, n=2, seed=3)
    one = parse(render_card(dataset, n=1, split="train"))
    assert [a["id"] for t, a in one.tags if t == "article"] == ["img-1"]
    assert "train/aachen_000001_000019" in "".join(one.text)  # the only synthetic train image with anomalies


def test_choose_records_tiers_and_splits(dataset: Path) -> None:
    _, records = load_dataset(dataset)
    for seed in range(6):
        two = choose_records(records, n=2, split=None, seed=seed)
        # both images with anomalies, one per split, before any image without
        assert [(r.split, r.image_id) for r in two] == [
            ("train", "aachen_000001_000019"),
            ("val", "frankfurt_000000_000294"),
        ]
        three = choose_records(records, n=3, split=None, seed=seed)
        assert "bochum_000000_000000" in [r.image_id for r in three]  # synthetic without anomaly before clean
    assert [r.image_id for r in choose_records(records, n=9, split="val", seed=0)] == ["frankfurt_000000_000294"]
    with pytest.raises(UsageError, match="--n 0"):
        choose_records(records, n=0, split=None, seed=0)
    with pytest.raises(DataLayoutError, match="available: train, val"):
        choose_records(records, n=1, split="test", seed=0)


def test_choose_records_round_robin_is_seeded(tmp_path: Path, helpers: SimpleNamespace) -> None:
    root = helpers.build_dataset(tmp_path / "ds")
    records = helpers.read_records(root)
    base = next(r for r in records if r["image_id"] == "aachen_000001_000019")
    extra = []
    for i in range(8):  # eight more train images with anomalies
        rec = dict(base, image_id=f"zurich_{i:06d}_000019")
        extra.append(rec)
    helpers.write_records(root, records + extra)
    _, recs = load_dataset(root)
    picks = {tuple(r.image_id for r in choose_records(recs, n=3, split=None, seed=s)) for s in range(8)}
    assert len(picks) > 1  # the seed changes the choice
    for pick in picks:
        assert "frankfurt_000000_000294" in pick  # the val split always gets its place
    assert choose_records(recs, n=3, split=None, seed=5) == choose_records(recs, n=3, split=None, seed=5)


def test_write_card_never_replaces_a_users_file(dataset: Path, tmp_path: Path) -> None:
    path = write_card(dataset, n=2)
    assert path == dataset / DEFAULT_CARD_NAME and GENERATOR_META in path.read_text()
    with pytest.raises(UsageError, match="exists; use --overwrite"):
        write_card(dataset, n=2)
    assert write_card(dataset, n=1, overwrite=True) == path  # a card oodforge wrote: replaced
    assert len(parse(path.read_text()).rows["counts"]) == 12
    user = tmp_path / "notes.html"
    user.write_text("<html><body>my notes</body></html>")
    with pytest.raises(UsageError, match="not written by `oodforge report`"):
        write_card(dataset, user, overwrite=True)
    assert user.read_text() == "<html><body>my notes</body></html>"
    with pytest.raises(UsageError, match="is a folder"):
        write_card(dataset, tmp_path, overwrite=True)
    # the card inside the dataset root does not disturb verify
    assert verify_dataset(dataset).ok


def test_bad_inputs(tmp_path: Path, dataset: Path) -> None:
    with pytest.raises(InputFileError, match="not found"):
        render_card(tmp_path / "missing")
    (tmp_path / "plain").mkdir()
    with pytest.raises(DataLayoutError, match="not an oodforge dataset"):
        render_card(tmp_path / "plain")
    (dataset / "manifest.jsonl").write_text("")
    with pytest.raises(DataLayoutError, match="holds no records"):
        render_card(dataset)
    (dataset / "manifest.jsonl").write_text('{"schema": 1, "split": "train"\n')
    with pytest.raises(InputFileError, match=r"manifest.jsonl:1: malformed manifest record"):
        render_card(dataset)


def test_missing_picture_is_noted_not_fatal(dataset: Path) -> None:
    (dataset / "val" / "gt_pixel" / "frankfurt_000000_000294.png").unlink()
    text = render_card(dataset, n=12)
    entry = text[text.index('id="img-4"') :]
    assert "pictures unavailable:" in entry and "frankfurt_000000_000294.png: file not found" in entry


def test_missing_config_is_noted(dataset: Path) -> None:
    (dataset / "config.yaml").unlink()
    text = render_card(dataset, n=1)
    assert 'class="warn"' in text and "config.yaml: not found" in text


def test_realism_steps_from_config() -> None:
    data = {
        "synthesis": {
            "placement": {"occlusion": False, "min_visible": 0.5},
            "blending": {
                "photometric": {"space": "none", "strength": 0.5},
                "sharpness": {"enabled": True},
                "noise": {"enabled": False},
                "motion_blur": {"p": 0.2},
                "shadow": {"enabled": True},
            },
        }
    }
    steps = {name: on for name, on, _ in realism_steps(ConfigView(data=data))}
    assert steps == {
        "photometric match": False,
        "sharpness match": True,
        "sensor noise": False,
        "motion blur": True,
        "contact shadow": True,
        "occlusion by scene objects": False,
    }
    assert {on for _, on, _ in realism_steps(ConfigView())} == {None}  # the config says nothing


def _chromium() -> str:
    exe = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not exe:
        pytest.skip("headless Chromium not found (chromium, chromium-browser or $CHROMIUM); `.ci/run` installs it")
    return exe


def _run(exe: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    flags = ["--headless", "--disable-gpu", "--no-sandbox", "--hide-scrollbars", "--no-first-run"]
    flags += ["--disable-background-networking", "--disable-extensions", f"--user-data-dir={profile}"]
    return subprocess.run([exe, *flags, *args], capture_output=True, text=True, timeout=120, check=False)


def _near(img: np.ndarray, rgb: tuple[int, int, int], tol: int) -> int:
    bgr = np.array(rgb[::-1], np.int16)
    return int((np.abs(img.astype(np.int16) - bgr).max(axis=2) <= tol).sum())


def test_card_renders_in_headless_chromium(dataset: Path, tmp_path: Path) -> None:
    exe = _chromium()
    card = write_card(dataset, tmp_path / "card.html", n=12)
    url = card.resolve().as_uri()

    # the DOM after load: every section, every gallery entry, no external reference
    proc = _run(exe, tmp_path / "p1", "--dump-dom", url)
    assert proc.returncode == 0, proc.stderr[-2000:]
    dom = proc.stdout
    doc = parse(dom)
    ids = [a.get("id") for _, a in doc.tags]
    for section in ("config", "counts", "objects", "plausibility", "gallery", "img-1", "img-4", "full-4"):
        assert section in ids, section
    text = "".join(doc.text)
    assert "oodforge dataset card: fixture" in text and "val/frankfurt_000000_000294" in text
    assert "applied realism parameters" not in text  # the fixture records none
    assert sum(1 for t, _ in doc.tags if t == "img") == 20 and sum(1 for t, _ in doc.tags if t == "svg") == 4
    srcs = [v for _, a in doc.tags for k, v in a.items() if k in ("src", "href")]
    assert srcs and not [s for s in srcs if s.lower().startswith(("http:", "https:", "//"))]
    assert_self_contained(card.read_text(encoding="utf-8"), parse(card.read_text(encoding="utf-8")))

    # a screenshot: laid out with its CSS, charts drawn, thumbnails decoded
    shot = tmp_path / "shot.png"
    env = {**os.environ, "CHROMIUM": exe, "WINDOW_SIZE": "1280,4000", "TIMEOUT_S": "120"}
    res = subprocess.run(["bash", str(SCRIPT), str(card), str(shot)], env=env, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    img = cv2.imread(str(shot), cv2.IMREAD_COLOR)
    assert img is not None and img.shape == (4000, 1280, 3)
    bar = tuple(int(BAR_RGB[i : i + 2], 16) for i in (1, 3, 5))
    assert _near(img, bar, 3) > 2000  # the SVG bars
    assert _near(img, (255, 120, 0), 40) > 500  # orange anomaly pixels of the GT overlay thumbnails

    # the lightbox: the URL's target entry shows full size over a darkened page
    box = tmp_path / "box.png"
    proc = _run(exe, tmp_path / "p2", f"--screenshot={box}", "--window-size=1280,900", f"{url}#full-2")
    assert proc.returncode == 0, proc.stderr[-2000:]
    lit = cv2.imread(str(box), cv2.IMREAD_COLOR)
    plain = _run(exe, tmp_path / "p3", f"--screenshot={tmp_path / 'plain.png'}", "--window-size=1280,900", url)
    assert plain.returncode == 0
    unlit = cv2.imread(str(tmp_path / "plain.png"), cv2.IMREAD_COLOR)
    assert float(lit.mean()) < 0.5 * float(unlit.mean())  # dark overlay covers the page
