"""ingest.batch on a real Dask cluster (distributed.LocalCluster, 2 worker processes):
the same results as decoding in one process, through both ways of reaching a cluster
(an existing client, and a scheduler address as a deployment would give it)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_parallel import assert_same_decoding, reference_decoding

from ingest.batch import decode_paths

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    with distributed.LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None
    ) as c:
        yield c


def _inputs() -> tuple[list[Path], list[str]]:
    """The reference's inputs (all corpus files, athletes a0/a1/a2 in turn)."""
    ref = reference_decoding()
    return [d.path for d in ref], [d.athlete_id for d in ref]


@pytest.mark.timeout(120)
def test_dask_client_matches_single_process(cluster: Any) -> None:
    paths, athletes = _inputs()
    want = list(reference_decoding())
    with distributed.Client(cluster) as client:
        with distributed.get_task_stream(client) as stream:
            got = list(
                decode_paths(paths, athletes, dask_client=client, chunk_size=4, max_in_flight=2)
            )
    # The work really ran on the cluster's worker processes, on both of them.
    assert len({t["worker"] for t in stream.data}) == 2
    assert_same_decoding(got, want)


@pytest.mark.timeout(120)
def test_dask_scheduler_address_matches_single_process(cluster: Any) -> None:
    paths, athletes = _inputs()
    paths, athletes = paths[::3], athletes[::3]  # a third is enough for the second route
    want = list(reference_decoding())[::3]
    got = list(decode_paths(paths, athletes, dask_address=cluster.scheduler_address))
    assert_same_decoding(got, want)
