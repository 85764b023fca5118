"""The Dask executor runs the same per-image function on a cluster and gives byte-identical output."""

from __future__ import annotations

import pytest

from _helpers import tree_hashes
from oodforge.errors import UsageError
from oodforge.synth.runner import synthesize_dataset

distributed = pytest.importorskip("distributed")


def test_dask_localcluster_matches_local_executor(write_config):
    local = synthesize_dataset(write_config("local"), workers=1, split="test")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        dask_run = synthesize_dataset(
            write_config("dask"), executor="dask", scheduler=cluster.scheduler_address, split="test"
        )
    assert dask_run.processed == local.processed > 0
    assert tree_hashes(dask_run.output_root) == tree_hashes(local.output_root)


def test_dask_needs_a_scheduler(write_config):
    with pytest.raises(UsageError, match="--scheduler"):
        synthesize_dataset(write_config("nosched"), executor="dask", limit=1)
