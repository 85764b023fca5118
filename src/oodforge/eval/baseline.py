r"""A model-free baseline score: the per-image RX (Reed–Xiaoli) colour anomaly detector.

Each pixel's colour x (CIE Lab, float32, after an optional Gaussian blur) is scored by its
Mahalanobis distance from the image's global colour distribution:

.. math:: s(x) = \sqrt{(x - \mu)^\top \Sigma^{-1} (x - \mu)}

μ and Σ are estimated on a random pixel subsample drawn with an explicit seeded generator, then
re-estimated once on the subsample pixels within the 97.5 % χ²(3) ellipsoid (a one-step reweighted
estimate: a large odd-coloured object does not inflate Σ and hide itself). A small ridge keeps Σ
invertible for flat images. Higher = more anomalous. It knows nothing about roads or objects, so it
is only a floor that every learned method should beat; the demo uses it to close the
synthesize → score → evaluate loop without a model.

Reed & Yu, "Adaptive multiple-band CFAR detection of an optical pattern with unknown spectral
distribution", IEEE TASSP 1990.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import cv2
import numpy as np

from oodforge.errors import ShapeError, ValueCheckError
from oodforge.eval.score_io import write_score_map

__all__ = ["rx_score", "score_dataset_images"]

#: 97.5 % quantile of the χ² distribution with 3 degrees of freedom (Lab has 3 channels).
_CHI2_3_975 = 9.348404
_RIDGE = 1e-3


def _lab(image: np.ndarray, blur_sigma: float) -> np.ndarray:
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ShapeError(f"Expected `image` to be an RGB uint8 (H, W, 3) array, but got {image.shape} {image.dtype}")
    rgb: np.ndarray = image.astype(np.float32) / np.float32(255.0)
    if blur_sigma > 0:
        rgb = cv2.GaussianBlur(rgb, (0, 0), sigmaX=float(blur_sigma))
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2Lab).reshape(-1, 3)


def _moments(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and ridge-regularised covariance (float64) of (n, 3) samples."""
    mu = x.mean(axis=0)
    d = x - mu
    cov = d.T @ d / max(len(x) - 1, 1)
    ridge = _RIDGE * max(float(np.trace(cov)) / 3.0, 1.0)
    return mu, cov + ridge * np.eye(3)


def _mahalanobis_sq(x: np.ndarray, mu: np.ndarray, cov: np.ndarray) -> np.ndarray:
    inv = np.linalg.inv(cov).astype(np.float32)
    d = x - mu.astype(np.float32)
    out: np.ndarray = np.einsum("ni,ij,nj->n", d, inv, d, optimize=True)
    return out


def rx_score(
    image: np.ndarray,
    *,
    blur_sigma: float = 1.0,
    max_samples: int = 20_000,
    seed: int = 0,
) -> np.ndarray:
    """RX anomaly score of every pixel: Mahalanobis distance of its Lab colour from the image's colours.

    Args:
        image: RGB uint8 (H, W, 3).
        blur_sigma: Gaussian blur sigma in pixels before the colour conversion (0 = none); smooths
            texture and JPEG noise.
        max_samples: Pixels drawn (with replacement) to estimate mean and covariance; all pixels when
            the image has fewer.
        seed: Seed of the subsample generator (``numpy.random.default_rng(seed)``): equal inputs give
            equal scores.

    Returns:
        float32 (H, W) scores >= 0, higher = more anomalous.

    Raises:
        ShapeError: ``image`` is not RGB uint8 (H, W, 3).
        ValueCheckError: ``max_samples`` < 2 or a negative ``blur_sigma``.

    Example:
        >>> img = np.full((40, 40, 3), (90, 90, 90), np.uint8)
        >>> img[::2] = (100, 100, 100)  # grey stripes
        >>> img[10:14, 10:14] = (230, 30, 30)  # a small red patch
        >>> s = rx_score(img)
        >>> bool(s[11, 11] > 5 * np.median(s))
        True
    """
    if max_samples < 2 or blur_sigma < 0:
        raise ValueCheckError(
            f"Expected `max_samples` >= 2 and `blur_sigma` >= 0, but got {max_samples} and {blur_sigma}"
        )
    h, w = image.shape[:2]
    lab = _lab(image, blur_sigma)
    rng = np.random.default_rng(seed)
    sample = lab if len(lab) <= max_samples else lab[rng.integers(0, len(lab), size=max_samples)]
    sample = sample.astype(np.float64)
    mu, cov = _moments(sample)
    inliers = sample[_mahalanobis_sq(sample.astype(np.float32), mu, cov) <= _CHI2_3_975]
    if len(inliers) >= 10:
        mu, cov = _moments(inliers)
    d2 = _mahalanobis_sq(lab, mu, cov)
    return np.sqrt(np.maximum(d2, 0.0)).reshape(h, w).astype(np.float32)


def score_dataset_images(
    images: Iterable[tuple[str, np.ndarray]],
    out_dir: Path,
    *,
    progress: Callable[[int], None] | None = None,
    blur_sigma: float = 1.0,
    max_samples: int = 20_000,
    seed: int = 0,
) -> list[Path]:
    """Score images with :func:`rx_score` and write ``out_dir/<image_id>.npy`` float16 maps (atomically).

    Args:
        images: (image_id, RGB uint8 (H, W, 3)) pairs, e.g.
            ``((s.image_id, s.image) for s in open_benchmark("synth", root, "test"))``.
        out_dir: Score folder read by ``oodforge eval`` (created if needed).
        progress: Optional ``progress(n_done)`` callback after each image.
        blur_sigma: See :func:`rx_score`.
        max_samples: See :func:`rx_score`.
        seed: See :func:`rx_score` (the same seed for every image).

    Returns:
        The written files, in input order.
    """
    written: list[Path] = []
    for image_id, image in images:
        path = out_dir / f"{image_id}.npy"
        write_score_map(path, rx_score(image, blur_sigma=blur_sigma, max_samples=max_samples, seed=seed))
        written.append(path)
        if progress is not None:
            progress(len(written))
    return written
