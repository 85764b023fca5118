"""OutlierPaste overhead and training DataLoader throughput on generated 1024x512 demo frames.

Figures (written to results/learn.json and results/learn.md):
- ms per 1024x512 sample on one core: the paste call alone (``OutlierPaste.__call__`` with p = 1, so
  every sample plans 1-3 objects) next to the sample's own decode (image PNG + labelIds PNG + trainId
  LUT), interleaved per sample. Each epoch pastes different objects, so paste figures are medians over
  all calls of epochs 1.. (crop cache warm); epoch 0 (cold crop cache) is reported apart, with the split
  between placement search and rendering; decode is the best of the repeats (same work);
- DataLoader throughput (samples/s) with 2 workers, training transforms (scale 0.5-2, 512x1024 crop,
  flip), without pasting and with pasting at p = 0.5 (default) and p = 1, side by side.

Usage: python benchmarks/learn_bench.py [--quick]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from _common import machine_info, timed, write_results
from torch.utils.data import DataLoader

from oodforge.demo.world import write_demo_world
from oodforge.learn.data import CityscapesSegmentation
from oodforge.learn.outlier_dataset import OutlierPasteDataset
from oodforge.learn.outlier_paste import OutlierPaste, OutlierPasteConfig


def _one_thread(_worker: int = 0) -> None:
    cv2.setNumThreads(1)
    torch.set_num_threads(1)


def _ms(seconds: float) -> float:
    return round(seconds * 1e3, 2)


def per_sample(paste: OutlierPaste, base: CityscapesSegmentation, repeats: int) -> dict[str, Any]:
    n = len(base)
    decode = np.zeros((repeats, n))
    total = np.zeros((repeats, n))
    search = np.zeros((repeats, n))
    render = np.zeros((repeats, n))
    placed = np.zeros((repeats, n), dtype=int)
    for r in range(repeats):
        for i in range(n):
            decode[r, i], (image, tid) = timed(lambda i=i: base.get_pair(i))
            total[r, i], out = timed(lambda r=r, image=image, tid=tid, i=i: paste(image, tid, index=i, epoch=r))
            params = out[3]
            placed[r, i] = len(params.placements)
            # the two halves of the same call, timed again (warm crops)
            search[r, i], _ = timed(lambda r=r, tid=tid, i=i: paste.sample_params(tid, index=i, epoch=r))
            render[r, i], _ = timed(lambda image=image, tid=tid, params=params: paste.apply(image, tid, params))
    # epochs paste different objects, so paste figures are medians over all calls (not best-of-repeats);
    # epoch 0 fills the crop cache and is reported apart
    warm = total[1:] if repeats > 1 else total
    placed_w = placed[1:] if repeats > 1 else placed
    dec = decode.min(axis=0)  # the same work each epoch: best of the repeats
    return {
        "samples": n,
        "repeats": repeats,
        "objects_placed_mean": round(float(placed.mean()), 2),
        "calls_without_placement": int((placed == 0).sum()),
        "paste_ms_median": _ms(float(np.median(warm))),
        "paste_ms_median_with_objects": _ms(float(np.median(warm[placed_w > 0]))) if (placed_w > 0).any() else None,
        "paste_ms_mean": _ms(float(warm.mean())),
        "paste_ms_p90": _ms(float(np.percentile(warm, 90))),
        "paste_ms_median_first_epoch_cold_cache": _ms(float(np.median(total[0]))),
        "search_ms_median": _ms(float(np.median(search[1:] if repeats > 1 else search))),
        "render_ms_median": _ms(float(np.median(render[1:] if repeats > 1 else render))),
        "decode_ms_median": _ms(statistics.median(dec)),
        "paste_over_decode": round(float(np.median(warm)) / statistics.median(dec), 3),
    }


def throughput(dataset: Any, epochs: int, batch_size: int) -> float:
    """Steady-state samples/s of a 2-worker DataLoader (worker start-up and the first batch excluded)."""
    loader = DataLoader(
        dataset, batch_size=batch_size, num_workers=2, persistent_workers=True, worker_init_fn=_one_thread
    )
    seen, t0 = 0, None
    for epoch in range(epochs):
        dataset.set_epoch(epoch)
        for batch in loader:
            if t0 is None:
                t0 = time.perf_counter()
                continue
            seen += int(batch["image"].shape[0])
    assert t0 is not None
    return seen / (time.perf_counter() - t0)


@contextmanager
def opencv_decode() -> Iterator[None]:
    """Decode with OpenCV only (the path before ``oodforge._codec``'s fast decoder); forked workers inherit it."""
    from oodforge import _codec

    saved = _codec._png_decode
    _codec._png_decode = lambda: None  # type: ignore[assignment]
    try:
        yield
    finally:
        _codec._png_decode = saved


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="small frames, few samples (smoke run)")
    args = ap.parse_args()
    _one_thread()
    size = (512, 256) if args.quick else (1024, 512)
    n_train = 4 if args.quick else 24
    repeats = 2 if args.quick else 4
    epochs, copies, batch = (2, 2, 2) if args.quick else (3, 4, 4)
    base_dir = Path(tempfile.mkdtemp(prefix="oodforge-learn-bench-"))
    try:
        world = base_dir / "world"
        t_world, _ = timed(lambda: write_demo_world(world, n_train=n_train, n_val=1, n_test=0, size=size))
        coco, cache, cs = world / "coco", base_dir / "cache", world / "cityscapes"
        t_pool, paste = timed(lambda: OutlierPaste.from_coco(OutlierPasteConfig(p=1.0), coco, cache_dir=cache))
        plain = CityscapesSegmentation(cs, "train", crop_size=None, scale_range=(1.0, 1.0), hflip=False)
        one_core = per_sample(paste, plain, repeats)

        crop = (size[1], size[0])
        ids = plain.image_ids * copies

        def train_ds() -> CityscapesSegmentation:
            return CityscapesSegmentation(cs, "train", crop_size=crop, scale_range=(0.5, 2.0), image_ids=ids)

        default_paste = OutlierPaste(OutlierPasteConfig(), paste.pool_path, paste.images_root)
        rates = {
            "no_paste": throughput(train_ds(), epochs, batch),
            "paste_p0.5": throughput(OutlierPasteDataset(train_ds(), default_paste), epochs, batch),
            "paste_p1": throughput(OutlierPasteDataset(train_ds(), paste), epochs, batch),
        }
        with opencv_decode():
            rates["no_paste_opencv_decode"] = throughput(train_ds(), epochs, batch)
            rates["paste_p0.5_opencv_decode"] = throughput(
                OutlierPasteDataset(train_ds(), default_paste), epochs, batch
            )
        data = {
            "machine": machine_info(),
            "frame_size": list(size),
            "world_generation_s": round(t_world, 2),
            "pool_instances": len(paste.pool),
            "pool_build_s": round(t_pool, 3),
            "one_core": one_core,
            "dataloader": {
                "workers": 2,
                "batch_size": batch,
                "crop_hw": list(crop),
                "samples_per_epoch": len(ids),
                "epochs": epochs,
                "samples_per_s": {k: round(v, 2) for k, v in rates.items()},
                "paste_p1_over_no_paste": round(rates["paste_p1"] / rates["no_paste"], 3),
            },
        }
        o = one_core
        md = (
            "# Learn benchmark: OutlierPaste overhead and DataLoader throughput\n\n"
            f"Generated {size[0]}x{size[1]} demo frames ({o['samples']} train frames, {o['repeats']} epochs of "
            f"pastes, p = 1: every sample plans 1-3 objects; {o['objects_placed_mean']} placed on average, "
            f"{o['calls_without_placement']} calls placed none: frames without road or sidewalk), "
            f"COCO pool of {len(paste.pool)} instances; "
            f"{machine_info()['cpu_count']} cores, OpenCV and torch on 1 thread.\n\n"
            "| figure (one core, per sample) | value | target |\n|---|---|---|\n"
            f"| paste call, median (warm crop cache) | {o['paste_ms_median']} ms | <= 15 ms |\n"
            f"| paste call, median of samples with objects | {o['paste_ms_median_with_objects']} ms | |\n"
            f"| paste call, mean / p90 | {o['paste_ms_mean']} / {o['paste_ms_p90']} ms | |\n"
            f"| paste call, median, first epoch (cold crop cache) | "
            f"{o['paste_ms_median_first_epoch_cold_cache']} ms | |\n"
            f"| of which placement search / rendering (medians) | {o['search_ms_median']} / "
            f"{o['render_ms_median']} ms | |\n"
            f"| the sample's own decode (image + labels PNG), median | {o['decode_ms_median']} ms | |\n"
            f"| paste / decode (medians) | {o['paste_over_decode']} | |\n\n"
            f"| DataLoader, 2 workers, batch {batch}, {crop[0]}x{crop[1]} crops, scale 0.5-2 | samples/s |\n"
            "|---|---|\n"
            f"| no pasting | {rates['no_paste']:.1f} |\n"
            f"| no pasting, OpenCV decode (before the fast decoder) | {rates['no_paste_opencv_decode']:.1f} |\n"
            f"| OutlierPaste p = 0.5 (default config) | {rates['paste_p0.5']:.1f} |\n"
            f"| OutlierPaste p = 0.5, OpenCV decode (before) | {rates['paste_p0.5_opencv_decode']:.1f} |\n"
            f"| OutlierPaste p = 1 | {rates['paste_p1']:.1f} |\n"
        )
        write_results("learn_quick" if args.quick else "learn", data, md)
    finally:
        shutil.rmtree(base_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
