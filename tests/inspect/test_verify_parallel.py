"""verify_dataset on a local process pool and on Dask gives the same report, in the same order, as one process."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from oodforge.errors import UsageError
from oodforge.inspect.verify import VerifyReport, damaged_images, verify_dataset


@pytest.fixture
def broken(dataset: Path, helpers: SimpleNamespace) -> Path:
    """The fixture dataset with one problem of each kind spread over its records."""
    image = dataset / "train/images/aachen_000001_000019.png"
    data = bytearray(image.read_bytes())
    data[len(data) // 2] ^= 0xFF
    image.write_bytes(bytes(data))
    (dataset / "val/labels/frankfurt_000000_000294.json").unlink()
    (dataset / "train/gt_pixel/orphan.png").write_bytes(b"x")
    records = helpers.read_records(dataset)
    records[0]["has_anomaly"] = True
    helpers.write_records(dataset, records)
    with (dataset / "manifest.jsonl").open("a") as fh:
        fh.write("{not json\n")
    return dataset


def _summary(report: VerifyReport) -> tuple[object, ...]:
    return report.n_records, report.n_files_checked, report.problems, report.damaged


def test_local_pool_matches_one_process(broken: Path) -> None:
    one = verify_dataset(broken)
    assert len(one.problems) == 6 and len(one.damaged) == 2
    calls: list[tuple[int, int]] = []
    two = verify_dataset(broken, workers=2, progress=lambda d, t: calls.append((d, t)))
    assert _summary(two) == _summary(one)
    assert calls[0] == (0, 16) and calls[-1] == (16, 16)
    assert damaged_images(broken, workers=3) == one.damaged


def test_dask_localcluster_matches_one_process(broken: Path) -> None:
    distributed = pytest.importorskip("distributed")  # the [dask] extra; part of the test extras
    one = verify_dataset(broken)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as c:
        on_dask = verify_dataset(broken, executor="dask", scheduler=c.scheduler_address)
    assert _summary(on_dask) == _summary(one)


def test_bad_parallel_options(broken: Path) -> None:
    with pytest.raises(UsageError, match="--workers: 0; expected an integer >= 1"):
        verify_dataset(broken, workers=0)
    with pytest.raises(UsageError, match="--executor dask needs --scheduler"):
        verify_dataset(broken, executor="dask")
