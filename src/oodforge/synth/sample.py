"""The per-image task: a pure function of (resolved config, split, image id) and the input files.

It reads the Cityscapes frame, decides clean/synthetic, searches placements, renders them, writes
every output atomically and finally the per-image record (the resume marker). Bytes never depend on
worker, order or executor: all randomness comes from streams seeded by (dataset seed, split, id).
"""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np

from oodforge._io import atomic_write_bytes, decode_image_rgb, encode_image, encode_png, read_bytes, sha256_bytes
from oodforge._seeding import image_seed, sample_streams
from oodforge.errors import SampleError
from oodforge.export.manifest import InstanceRecord, ManifestRecord
from oodforge.sources.cityscapes import frame_paths, horizon_from_road, load_label_ids, read_camera
from oodforge.synth.apply import render_placements
from oodforge.synth.context import SynthContext
from oodforge.synth.search import SearchResult, search_placements

__all__ = ["plan_counts", "process_image", "synthesize_image"]


def plan_counts(ctx: SynthContext, split: str, rng: np.random.Generator) -> tuple[bool, int]:
    """Draw (is_synth, planned instance count) from the ``decision`` stream."""
    syn = ctx.config.synthesis
    is_synth = bool(rng.random() < ctx.config.splits[split].synth_ratio)
    has = bool(rng.random() < syn.p_has_anomaly)
    count = int(rng.integers(syn.instances_per_image.min, syn.instances_per_image.max + 1))
    return is_synth, (count if is_synth and has else 0)


def _horizon(ctx: SynthContext, camera_path: Any, label_ids: np.ndarray) -> tuple[float | None, float]:
    geo = ctx.config.synthesis.geometry
    if camera_path is not None:
        cam = read_camera(camera_path)
        return float(cam.horizon_row), float(cam.height_m)
    road = [i for n, i in ctx.target_ids.items() if n == "road"] or list(ctx.target_ids.values())
    top = horizon_from_road(label_ids, road)
    return (float(top) if top is not None else None), geo.default_camera_height_m


def _write(ctx: SynthContext, outputs: dict[str, Any], hashes: dict[str, Any], key: str, rel: str, data: bytes) -> None:
    atomic_write_bytes(ctx.layout.abs(rel), data)
    outputs[key], hashes[key] = rel, sha256_bytes(data)


def synthesize_image(ctx: SynthContext, split: str, image_id: str) -> ManifestRecord:
    """Synthesize one image and write its files; returns its (ok) manifest record.

    Raises:
        SampleError: an input file is missing, unreadable or inconsistent.
    """
    cfg = ctx.config
    scfg = cfg.splits[split]
    frame = frame_paths(ctx.cityscapes_root, scfg.source, image_id)
    seed = image_seed(cfg.dataset.seed, split, image_id)
    streams = sample_streams(seed)
    is_synth, planned = plan_counts(ctx, split, streams["decision"])
    label_ids = load_label_ids(frame.label_path)
    gt = ctx.gt_lut[label_ids]
    src_bytes = read_bytes(frame.image_path)
    result = SearchResult([], planned, None)
    image_bytes: bytes | None = None
    id_map: np.ndarray | None = None
    areas: list[int] = []
    if planned > 0:
        scene = decode_image_rgb(src_bytes, frame.image_path)
        if scene.shape[:2] != label_ids.shape:
            raise SampleError(f"{frame.image_path}: image is {scene.shape[1]}x{scene.shape[0]} but its labels "
                              f"are {label_ids.shape[1]}x{label_ids.shape[0]}")  # fmt: skip
        horizon, cam_h = (None, 0.0)
        if cfg.synthesis.geometry.scale_mode == "metric":
            horizon, cam_h = _horizon(ctx, frame.camera_path, label_ids)
        result = search_placements(
            cfg, ctx.pool, label_ids, planned, streams, ctx.target_ids, ctx.forbidden_lut,
            horizon_row=horizon, camera_height_m=cam_h,
        )  # fmt: skip
        if result.placements:
            sources = [
                (ctx.pool.rgb_crop(p.pool_index, ctx.coco_images_root), ctx.pool.mask(p.pool_index))
                for p in result.placements
            ]
            rendered = render_placements(scene, gt, result.placements, sources, cfg.synthesis.blending)
            exp = cfg.export
            image_bytes = encode_image(
                rendered.image, exp.image_format, png_compression=exp.png_compression, jpeg_quality=exp.jpeg_quality
            )
            gt, id_map, areas = rendered.gt, rendered.id_map, rendered.areas
    lay = ctx.layout
    outputs: dict[str, Any] = {}
    hashes: dict[str, Any] = {}
    if image_bytes is None:  # clean, or nothing placed: a byte copy of the source
        ext = frame.image_path.suffix.lstrip(".").lower()
        _write(ctx, outputs, hashes, "image", lay.image_rel(split, image_id, ext), src_bytes)
    else:
        _write(ctx, outputs, hashes, "image", lay.image_rel(split, image_id, cfg.export.image_format), image_bytes)
    _write(ctx, outputs, hashes, "gt_pixel", lay.gt_rel(split, image_id), encode_png(gt, cfg.export.png_compression))
    if id_map is None:
        id_map = np.zeros(label_ids.shape, dtype=np.uint16)
    pool = ctx.pool
    instances: list[InstanceRecord] = []
    labels_json: list[dict[str, Any]] = []
    for k, (p, area) in enumerate(zip(result.placements, areas, strict=True), start=1):
        cat_id = int(pool.category_ids[p.pool_index])
        inst = InstanceRecord(
            coco_ann_id=int(pool.ann_ids[p.pool_index]), coco_image_id=int(pool.image_ids[p.pool_index]),
            category=pool.category_names[cat_id], category_id=cat_id, target_label=p.target_label,
            bbox=list(p.bbox), scale=round(p.scale, 6), flip=p.flip, area_px=area, coverage=round(p.coverage, 6),
            x=p.x0, y=p.y0, patch_w=p.patch_w, patch_h=p.patch_h,
        )  # fmt: skip
        instances.append(inst)
        labels_json.append(
            {"id": k, "label": 1, "category": inst.category, "category_id": cat_id, "coco_ann_id": inst.coco_ann_id,
             "coco_image_id": inst.coco_image_id, "bbox": inst.bbox, "area_px": area}
        )  # fmt: skip
    if cfg.export.instance_format == "idmap":
        png = encode_png(id_map, cfg.export.png_compression)
        _write(ctx, outputs, hashes, "instances", lay.instances_rel(split, image_id), png)
    else:
        rels, shas = [], []
        for k in range(1, len(instances) + 1):
            buf = io.BytesIO()
            np.save(buf, id_map == k, allow_pickle=False)
            rels.append(lay.instance_npy_rel(split, image_id, k))
            atomic_write_bytes(lay.abs(rels[-1]), buf.getvalue())
            shas.append(sha256_bytes(buf.getvalue()))
        outputs["instances"], hashes["instances"] = rels, shas
    labels_bytes = (json.dumps(labels_json, ensure_ascii=False) + "\n").encode("utf-8")
    _write(ctx, outputs, hashes, "labels", lay.labels_rel(split, image_id), labels_bytes)
    return ManifestRecord(
        config_sha256=ctx.config_sha256, split=split, image_id=image_id, city=frame.city, source_split=scfg.source,
        is_synth=is_synth, has_anomaly=bool(instances), planned_instances=planned, placed_instances=len(instances),
        seed=seed, target_labels=[i.target_label for i in instances], coco_ann_ids=[i.coco_ann_id for i in instances],
        instances=instances, outputs=outputs, sha256=hashes, status="ok", placement_note=result.note,
    )  # fmt: skip


def process_image(ctx: SynthContext, split: str, image_id: str) -> dict[str, Any]:
    """Run :func:`synthesize_image`, turn a :class:`SampleError` into a ``failed`` record, write the record.

    Returns:
        The record as a JSON-ready dict (what goes into ``manifest.jsonl``).
    """
    try:
        rec = synthesize_image(ctx, split, image_id)
    except SampleError as exc:
        city = image_id.split("_", 1)[0]
        is_synth, _ = plan_counts(
            ctx, split, sample_streams(image_seed(ctx.config.dataset.seed, split, image_id))["decision"]
        )
        rec = ManifestRecord(
            config_sha256=ctx.config_sha256, split=split, image_id=image_id, city=city,
            source_split=ctx.config.splits[split].source, is_synth=is_synth, has_anomaly=False, planned_instances=0,
            placed_instances=0, seed=image_seed(ctx.config.dataset.seed, split, image_id), target_labels=[],
            coco_ann_ids=[], instances=[], outputs={}, sha256={}, status="failed", error=str(exc),
        )  # fmt: skip
    data = rec.to_json_dict()
    atomic_write_bytes(ctx.layout.record_path(split, image_id), (json.dumps(data) + "\n").encode("utf-8"))
    return data
