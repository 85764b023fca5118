"""The per-image task: a pure function of (resolved config, split, image id) and the input files.

The chain, one module per step in the order the data flows: read the frame → analyse the scene
(:mod:`~oodforge.synth.scene`: camera, nearer objects) → plan and search placements
(:mod:`~oodforge.synth.plan`, :mod:`~oodforge.synth.prepare`, :mod:`~oodforge.synth.placement`,
:mod:`~oodforge.synth.search`) → render (:mod:`~oodforge.synth.apply`: appearance, composite, targets)
→ write (:mod:`~oodforge.synth.write`) and finally the per-image record (the resume marker). Bytes never
depend on worker, order or executor: all randomness comes from streams seeded by (dataset seed, split, id).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

import numpy as np

from oodforge._io import atomic_write_bytes, decode_image_rgb, read_bytes, read_label_png
from oodforge._seeding import image_seed, sample_streams
from oodforge.errors import SampleError
from oodforge.export.manifest import ManifestRecord
from oodforge.sources.cityscapes import CityscapesFrame, frame_paths, load_label_ids
from oodforge.sources.image_header import check_source_image
from oodforge.synth.apply import Rendered, render_visible
from oodforge.synth.context import SynthContext
from oodforge.synth.plan import plan_counts
from oodforge.synth.scene import SceneInfo, contact_rows, scene_camera
from oodforge.synth.search import Placement, SearchResult, search_placements
from oodforge.synth.write import instance_records, write_outputs

__all__ = ["analyse_scene", "process_image", "synthesize_image"]


def analyse_scene(ctx: SynthContext, frame: CityscapesFrame, label_ids: np.ndarray) -> SceneInfo:
    """Camera and occluder contact rows of one frame (instance ids read when the file exists)."""
    syn = ctx.config.synthesis
    camera = scene_camera(
        frame.camera_path, label_ids.shape[0], syn.geometry.standard_camera, image_cols=label_ids.shape[1]
    )
    contact = None
    if syn.placement.occlusion and ctx.occluder_lut.any():
        instances = None
        if frame.instance_path.is_file():
            instances = read_label_png(frame.instance_path, np.int32)
            if instances.shape != label_ids.shape:
                raise SampleError(
                    f"{frame.instance_path}: instance ids are {instances.shape[1]}x{instances.shape[0]}; expected "
                    f"{label_ids.shape[1]}x{label_ids.shape[0]} as the labels"
                )
        contact = contact_rows(label_ids, ctx.occluder_lut, instances)
    return SceneInfo(label_ids, contact, camera)


def _drop_hidden(result: SearchResult, kept: list[Placement]) -> SearchResult:
    """The search result without the objects that later objects hid completely (with a note saying so)."""
    hidden = len(result.placements) - len(kept)
    if hidden == 0:
        return result
    note = f"placed {len(kept)} of {result.planned}; {hidden} hidden completely by later objects"
    return SearchResult(kept, result.planned, note if result.note is None else f"{note} ({result.note})")


def synthesize_image(ctx: SynthContext, split: str, image_id: str) -> ManifestRecord:
    """Synthesize one image and write its files; returns its (ok) manifest record.

    Raises:
        SampleError: an input file is missing, unreadable or inconsistent.
    """
    cfg = ctx.config
    syn = cfg.synthesis
    scfg = cfg.splits[split]
    frame = frame_paths(ctx.cityscapes_root, scfg.source, image_id)
    seed = image_seed(cfg.dataset.seed, split, image_id)
    streams = sample_streams(seed)
    is_synth, planned = plan_counts(syn, scfg.synth_ratio, streams["decision"])
    label_ids = load_label_ids(frame.label_path)
    gt = ctx.gt_lut[label_ids]
    src_bytes = read_bytes(frame.image_path)
    # every image: container, channels, bit depth and size against the labels (~1 ms; clean ones are copied unseen)
    check_source_image(src_bytes, frame.image_path, label_ids.shape, frame.label_path)
    result = SearchResult([], planned, None)
    rendered: Rendered | None = None
    camera: dict[str, Any] | None = None
    if planned > 0:
        scene = decode_image_rgb(src_bytes, frame.image_path)  # size already checked against the labels
        info = analyse_scene(ctx, frame, label_ids)
        if syn.geometry.scale_mode == "metric" and info.camera is not None:
            camera = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(info.camera).items()}
        result = search_placements(syn, ctx.pool, info, planned, streams, ctx.target_ids, ctx.forbidden_lut)
        if result.placements:
            sources = [
                (ctx.pool.rgb_crop(p.pool_index, ctx.coco_images_root), ctx.pool.mask(p.pool_index))
                for p in result.placements
            ]
            kept, rendered = render_visible(
                scene, gt, result.placements, sources, syn.blending, info,
                footprint_ratio=syn.placement.footprint_ratio, soft_edge=cfg.export.soft_edge,
            )  # fmt: skip
            gt = rendered.gt
            result = _drop_hidden(result, kept)
    instances = instance_records(ctx.pool, result.placements, rendered)
    outputs, hashes = write_outputs(
        ctx.layout, split, image_id, cfg.export, source_path=frame.image_path, source_bytes=src_bytes,
        rendered=rendered, gt=gt, instances=instances,
    )  # fmt: skip
    return ManifestRecord(
        config_sha256=ctx.config_sha256, split=split, image_id=image_id, city=frame.city, source_split=scfg.source,
        is_synth=is_synth, has_anomaly=bool(instances), planned_instances=planned, placed_instances=len(instances),
        seed=seed, target_labels=[i.target_label for i in instances], coco_ann_ids=[i.coco_ann_id for i in instances],
        instances=instances, outputs=outputs, sha256=hashes, status="ok", placement_note=result.note, camera=camera,
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
        seed = image_seed(ctx.config.dataset.seed, split, image_id)
        is_synth, _ = plan_counts(
            ctx.config.synthesis, ctx.config.splits[split].synth_ratio, sample_streams(seed)["decision"]
        )
        rec = ManifestRecord(
            config_sha256=ctx.config_sha256, split=split, image_id=image_id, city=city,
            source_split=ctx.config.splits[split].source, is_synth=is_synth, has_anomaly=False, planned_instances=0,
            placed_instances=0, seed=seed, target_labels=[], coco_ann_ids=[], instances=[], outputs={}, sha256={},
            status="failed", error=str(exc),
        )  # fmt: skip
    data = rec.to_json_dict()
    atomic_write_bytes(ctx.layout.record_path(split, image_id), (json.dumps(data) + "\n").encode("utf-8"))
    return data
