"""Tiny on-disk fixtures in each benchmark's real layout (32x64 frames, raw label encodings).

Every label is written as horizontal bands of raw values (``bands``): band ``i`` covers rows
``[i * H / n, (i + 1) * H / n)``, so the expected mapped label is the same bands with mapped
values (:func:`expected_label`). Every image is one constant colour per frame (:func:`frame_color`),
stored losslessly where the format allows it (PNG, lossless WebP) and at JPEG quality 100.
Imported by the tests as ``benchmark_fixtures`` (see ``conftest.py``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from oodforge._io import encode_image, encode_png
from oodforge.export.manifest import ManifestRecord

H, W = 32, 64

RA21_FIDS = ("validation0001", "road0002", "validation0000")
RO21_FIDS = (
    "gravel_axe_1",
    "validation_1",
    "validation_19",
    "validation_2",
    "validation_25",
    "driveway_box_3",
    "snowstorm1_00_01_02.345",
    "darkasphalt2_dog_1",
)
FS_LAF_FRAMES = (  # (fsid, lafid, LAF split)
    (1, "04_Maurener_Weg_8_000000_000030", "train"),
    (0, "01_Hanns_Klemm_Str_45_000000_000080", "test"),
)
FS_STATIC_FRAMES = ((3, "frankfurt_000001_034047"), (0, "munster_000010_000019"))
RA_STEMS = ("animals01_cow", "animals00_bear")
LAF_TEST = (
    "02_Hanns_Klemm_Str_44_000000_000010",
    "15_Rechbergstr_Deckenpfronn_000000_000040",
    "01_Hanns_Klemm_Str_45_000006_000020",
)
LAF_TRAIN = ("03_Hanns_Klemm_Str_19_000000_000100",)


def bands(values: Sequence[int], dtype: type = np.uint8) -> np.ndarray:
    """(H, W) array of horizontal bands of ``values`` (H must be divisible by their count)."""
    rows = np.repeat(np.asarray(values, dtype), H // len(values))
    return np.repeat(rows[:, None], W, axis=1)


def expected_label(values: Sequence[int], mapping: dict[int, int]) -> np.ndarray:
    """The mapped label of :func:`bands` ``(values)``: uint8 (H, W)."""
    return bands([mapping[v] for v in values])


def frame_color(k: int) -> tuple[int, int, int]:
    """RGB colour of the k-th frame written by a fixture."""
    return (20 + 25 * k, 100, 220 - 25 * k)  # distinct for k < 9


def frame_image(k: int) -> np.ndarray:
    """RGB uint8 (H, W, 3) constant image of colour :func:`frame_color` ``(k)``."""
    return np.broadcast_to(np.array(frame_color(k), np.uint8), (H, W, 3)).copy()


def write_image(path: Path, rgb: np.ndarray) -> Path:
    """Write ``rgb`` as PNG, JPEG (quality 100) or lossless WebP according to ``path``'s suffix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    ext = path.suffix.lstrip(".")
    if ext == "webp":
        ok, buf = cv2.imencode(".webp", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_WEBP_QUALITY, 101])
        assert ok
        data = buf.tobytes()
    else:
        data = encode_image(rgb, "jpg" if ext == "jpg" else "png", jpeg_quality=100)
    path.write_bytes(data)
    return path


def write_label(path: Path, raw: np.ndarray) -> Path:
    """Write a raw label image (uint8 or uint16 PNG)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(encode_png(raw))
    return path


def write_pairs(
    root: Path,
    image_dir: str,
    label_dir: str,
    stems: Sequence[str],
    ext: str,
    label_suffix: str,
    raw: Sequence[int],
    without_label: Sequence[str] = (),
) -> None:
    """``<image_dir>/<stem>.<ext>`` + ``<label_dir>/<stem><label_suffix>`` for each stem (k-th colour)."""
    for k, stem in enumerate(stems):
        write_image(root / image_dir / f"{stem}.{ext}", frame_image(k))
        if stem not in without_label:
            write_label(root / label_dir / f"{stem}{label_suffix}", bands(raw))


# ---- one writer per benchmark ---------------------------------------------------------------------------------

SMIYC_RAW = (0, 1, 255, 7)


def write_road_anomaly_21(
    root: Path, layout: str = "official", fids: Sequence[str] = RA21_FIDS, without_label: Sequence[str] = ()
) -> Path:
    """RoadAnomaly21: ``official`` (DIR_DATASETS) or ``validation_dataset`` (Validation_Dataset); returns root."""
    if layout == "official":
        d = "dataset_AnomalyTrack"
        write_pairs(
            root, f"{d}/images", f"{d}/labels_masks", fids, "jpg", "_labels_semantic.png", SMIYC_RAW, without_label
        )
    else:
        d = "RoadAnomaly21"
        write_pairs(root, f"{d}/images", f"{d}/labels_masks", fids, "png", ".png", SMIYC_RAW, without_label)
    return root


def write_road_obstacle_21(root: Path, layout: str = "official", fids: Sequence[str] = RO21_FIDS) -> Path:
    """RoadObstacle21: ``official`` or ``validation_dataset`` (folder ``RoadObsticle21``, sic)."""
    if layout == "official":
        d = "dataset_ObstacleTrack"
        write_pairs(root, f"{d}/images", f"{d}/labels_masks", fids, "webp", "_labels_semantic.png", SMIYC_RAW)
    else:
        d = "RoadObsticle21"
        write_pairs(root, f"{d}/images", f"{d}/labels_masks", fids, "webp", ".png", SMIYC_RAW)
    return root


FS_RAW = (0, 1, 255, 3)
FS_REDIST_RAW = (0, 1, 255, 0)


def write_fishyscapes_lost_and_found(root: Path, layout: str = "official", laf_root: Path | None = None) -> Path:
    """FS L&F: ``official`` (labels in root, LAF frames under ``laf_root`` or root) or ``validation_dataset``."""
    if layout == "official":
        laf = root if laf_root is None else laf_root
        for k, (fsid, lafid, split) in enumerate(FS_LAF_FRAMES):
            write_label(root / f"{fsid:04d}_{lafid}_labels.png", bands(FS_RAW))
            scene = lafid.rsplit("_", 2)[0]
            write_image(laf / "leftImg8bit" / split / scene / f"{lafid}_leftImg8bit.png", frame_image(k))
    else:
        stems = [f"{fsid:04d}_{lafid}" for fsid, lafid, _ in FS_LAF_FRAMES]
        write_pairs(
            root, "FS_LostFound_full/images", "FS_LostFound_full/labels_masks", stems, "png", ".png", FS_REDIST_RAW
        )
    return root


FS_STATIC_OVERLAY_DELTA = (-50, 0, 60)  # added to the base colour; the third channel clips at 255


def write_fishyscapes_static(root: Path, layout: str = "official", raw: Sequence[int] = FS_RAW) -> Path:
    """FS Static: ``official`` (labels + overlays in root, Cityscapes frames under root) or ``validation_dataset``.

    The official overlay adds :data:`FS_STATIC_OVERLAY_DELTA` to the left half of the frame only.
    """
    if layout == "official":
        for k, (fsid, cid) in enumerate(FS_STATIC_FRAMES):
            write_label(root / f"{fsid:04d}_{cid}_labels.png", bands(raw))
            overlay = np.zeros((H, W, 3), np.int16)
            overlay[:, : W // 2] = FS_STATIC_OVERLAY_DELTA
            np.savez(root / f"{fsid:04d}_{cid}_rgb.npz", rgb=overlay)
            city = cid.split("_")[0]
            write_image(root / "leftImg8bit" / "val" / city / f"{cid}_leftImg8bit.png", frame_image(k))
    else:
        stems = [f"static_{fsid:02d}" for fsid, _ in FS_STATIC_FRAMES]
        write_pairs(root, "fs_static/images", "fs_static/labels_masks", stems, "jpg", ".png", raw)
    return root


RA_RAW = (0, 2, 255, 0)


def write_road_anomaly(root: Path, layout: str = "redistributed", raw: Sequence[int] = RA_RAW) -> Path:
    """Road Anomaly: ``redistributed`` (RoadAnomaly/images + labels_masks) or ``original`` (frames/*.labels/)."""
    if layout == "redistributed":
        write_pairs(root, "RoadAnomaly/images", "RoadAnomaly/labels_masks", RA_STEMS, "jpg", ".png", raw)
    else:
        write_pairs(root, "frames", "frames", RA_STEMS, "jpg", ".labels/labels_semantic.png", raw)
    return root


LAF_RAW = (1, 2, 150, 200, 0, 201, 255, 1)
LAF_MAP = {0: 255, 1: 0, 2: 1, 150: 1, 200: 1, 201: 255, 255: 255}


def write_lost_and_found(
    root: Path, test: Sequence[str] = LAF_TEST, train: Sequence[str] = LAF_TRAIN, empty: Sequence[str] = ()
) -> Path:
    """Lost and Found ``leftImg8bit`` + ``gtCoarse`` trees; frames in ``empty`` get an all-zero label."""
    k = 0
    for split, fids in (("test", test), ("train", train)):
        for fid in fids:
            scene = fid.rsplit("_", 2)[0]
            write_image(root / "leftImg8bit" / split / scene / f"{fid}_leftImg8bit.png", frame_image(k))
            raw = np.zeros((H, W), np.uint8) if fid in empty else bands(LAF_RAW)
            write_label(root / "gtCoarse" / split / scene / f"{fid}_gtCoarse_labelIds.png", raw)
            k += 1
    return root


SYNTH_RECORDS = (  # (split, image_id, status)
    ("test", "frankfurt_000000_000294", "ok"),
    ("test", "aachen_000001_000019", "ok"),
    ("test", "bochum_000000_000313", "failed"),
    ("val", "lindau_000000_000019", "ok"),
)
SYNTH_RAW = (0, 1, 255, 0)


def synth_record(split: str, image_id: str, status: str = "ok") -> dict[str, object]:
    """A manifest record as written by ``oodforge synth`` (failed records have no outputs)."""
    ok = status == "ok"
    outputs: dict[str, str | list[str]] = (
        {"image": f"{split}/images/{image_id}.png", "gt_pixel": f"{split}/gt_pixel/{image_id}.png"} if ok else {}
    )
    rec = ManifestRecord(
        config_sha256="0" * 64,
        split=split,
        image_id=image_id,
        city=image_id.split("_")[0],
        source_split="val",
        is_synth=True,
        has_anomaly=ok,
        planned_instances=1,
        placed_instances=1 if ok else 0,
        seed=1,
        target_labels=["road"],
        coco_ann_ids=[],
        instances=[],
        outputs=outputs,
        sha256={},
        status="ok" if ok else "failed",
        error=None if ok else "SampleError: boom",
    )
    return rec.to_json_dict()


def write_synth(
    root: Path, records: Sequence[tuple[str, str, str]] = SYNTH_RECORDS, raw: Sequence[int] = SYNTH_RAW
) -> Path:
    """A small ``oodforge synth`` output: config.yaml, manifest.jsonl and the files of the ok records."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "config.yaml").write_text("dataset: {name: tiny}\n")
    lines = []
    for k, (split, image_id, status) in enumerate(sorted(records)):
        lines.append(json.dumps(synth_record(split, image_id, status)))
        if status == "ok":
            write_image(root / split / "images" / f"{image_id}.png", frame_image(k))
            write_label(root / split / "gt_pixel" / f"{image_id}.png", bands(raw))
    (root / "manifest.jsonl").write_text("\n".join(lines) + "\n")
    return root


#: Registry name -> fixture writer taking the root (default layout).
WRITERS = {
    "road_anomaly_21": write_road_anomaly_21,
    "road_obstacle_21": write_road_obstacle_21,
    "fishyscapes_lost_and_found": write_fishyscapes_lost_and_found,
    "fishyscapes_static": write_fishyscapes_static,
    "road_anomaly": write_road_anomaly,
    "lost_and_found": write_lost_and_found,
    "synth": write_synth,
}
