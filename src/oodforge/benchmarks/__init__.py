"""Benchmark readers: each benchmark's on-disk layout, file naming and label encoding, mapped to
oodforge's 0 normal / 1 anomaly / 255 void (``benchmarks.md``).

>>> reader = open_benchmark("road_anomaly_21", "datasets", split="validation")  # doctest: +SKIP
>>> for sample in reader:  # doctest: +SKIP
...     sample.image_id, sample.image.shape, sample.label.dtype

Registered names (see :func:`list_benchmarks`): ``road_anomaly_21``, ``road_obstacle_21``,
``fishyscapes_lost_and_found``, ``fishyscapes_static``, ``road_anomaly``, ``lost_and_found`` and
``synth`` (any dataset written by ``oodforge synth``).
"""  # noqa: D205

from oodforge.benchmarks._base import COMPONENT_TRACKS, BenchmarkReader, FrameFiles, Sample
from oodforge.benchmarks._folders import FolderLayout, FolderReader
from oodforge.benchmarks._labels import LabelEncoding
from oodforge.benchmarks._registry import benchmark_class, list_benchmarks, open_benchmark, register_benchmark
from oodforge.benchmarks.fishyscapes import FishyscapesLostAndFound
from oodforge.benchmarks.fishyscapes_static import FishyscapesStatic
from oodforge.benchmarks.lost_and_found import LostAndFound
from oodforge.benchmarks.road_anomaly import RoadAnomaly
from oodforge.benchmarks.smiyc import RoadAnomaly21, RoadObstacle21
from oodforge.benchmarks.synth import SynthDataset

__all__ = [
    "COMPONENT_TRACKS",
    "BenchmarkReader",
    "FishyscapesLostAndFound",
    "FishyscapesStatic",
    "FolderLayout",
    "FolderReader",
    "FrameFiles",
    "LabelEncoding",
    "LostAndFound",
    "RoadAnomaly",
    "RoadAnomaly21",
    "RoadObstacle21",
    "Sample",
    "SynthDataset",
    "benchmark_class",
    "list_benchmarks",
    "open_benchmark",
    "register_benchmark",
]
