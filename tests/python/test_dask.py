"""Dask reads `hubfs://` on a `distributed` LocalCluster of two worker processes.

Each worker builds its own filesystem from the config path that travels in the graph
(the pickled graph is checked for the key), the files of the glob are split across the
workers, and the records equal the official `scrapinghub` client's export of the same
jobs. Small on purpose: the demo project 101 (12 jobs, about 3,700 items).
"""

import json
import os

import cloudpickle
import fsspec
import pytest

from backends.scrapinghub.emulator import DEMO_APIKEY
from tests.support import official_export

dask = pytest.importorskip("dask")
distributed = pytest.importorskip("distributed")
import dask.bag as db  # noqa: E402
import dask.dataframe as dd  # noqa: E402

URL = "hubfs://zyte/101/spiders/*/*/items.jl"


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       host="127.0.0.1", dashboard_address=None,
                                       worker_dashboard_address=None)
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


def official_lines(url, project=101, spiders=None, states=("pending", "running", "finished")):
    from scrapinghub import ScrapinghubClient

    official = ScrapinghubClient(DEMO_APIKEY, dash_endpoint=url + "api/", endpoint=url)
    try:
        keys = [job["key"] for job in official.get_project(project).jobs.iter(state=list(states))
            if spiders is None or job["spider"] in spiders]
    finally:
        official.close()
    return [line for key in keys for line in official_export(url, key).splitlines()]


def test_bag_read_text_splits_files_across_workers_and_equals_the_export(client, emu, config):
    bag = db.read_text(URL, storage_options={"config": config})
    graph = cloudpickle.dumps(dict(bag.__dask_graph__()))
    assert DEMO_APIKEY.encode() not in graph  # the key stays in the config file
    assert config.encode() in graph  # what travels is the path to it

    lines = bag.map(str.rstrip, "\n").compute()
    assert sorted(lines) == sorted(line.decode() for line in official_lines(emu.url))
    pids = bag.map_partitions(lambda part: [os.getpid()]).compute()
    assert len(pids) == 12  # one partition per job file
    assert len(set(pids)) == 2 and os.getpid() not in pids  # both workers read, not us


def test_dataframe_read_json_lines_equals_the_export(client, emu, config):
    # The finished jobs, as docs/python.md picks them (a pending job's empty file has no
    # columns to agree with the others).
    fs = fsspec.filesystem("hubfs", config=config)
    finished = [f"hubfs://{path}" for path, entry in
                fs.glob("zyte/101/spiders/books/*/items.jl", detail=True).items()
                if entry["immutable"]]
    assert len(finished) == 4
    frame = dd.read_json(finished, lines=True,
                         blocksize=None, storage_options={"config": config})
    assert DEMO_APIKEY.encode() not in cloudpickle.dumps(dict(frame.__dask_graph__()))
    result = frame.compute()
    expected = [json.loads(line) for line in official_lines(emu.url, spiders={"books"},
                                                            states=["finished"])]
    assert len(result) == len(expected) == 120 + 1000 + 2000 + 37
    assert sorted(result["upc"]) == sorted(record["upc"] for record in expected)
    assert round(result["price"].sum(), 2) == round(sum(r["price"] for r in expected), 2)
