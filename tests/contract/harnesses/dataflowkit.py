"""The Dataflow Kit backend's harness for the contract suite (demo seed data).

Known file: the results of the first run of the demo task `books` (csv, finished); its
expected bytes come from `getlink` and a GET of the link with plain `requests`. The ids
of the demo seed are the same in every run, so they are read from a seeded state here.
The backend is read-only: no `Writable`.
"""

import contextlib

import requests

from tests.contract.harness import Harness


def _demo_ids():
    from backends.dataflowkit.emulator.seed import seed_demo
    from backends.dataflowkit.emulator.state import DataflowKitState

    state = DataflowKitState()
    seed_demo(state)
    books = next(t["id"] for t in state.tasks.values() if t["name"] == "books")
    runs = [p.id for p in state.processes.values() if p.task_id == books]
    return books, runs


BOOKS, BOOKS_RUNS = _demo_ids()
PROCESS = f"tasks/{BOOKS}/processes/{BOOKS_RUNS[0]}"


@contextlib.contextmanager
def start():
    from backends.dataflowkit.emulator import create_server
    from hubfs.emulation import start_in_thread

    with start_in_thread(create_server(data="demo")) as handle:
        yield handle


def remote(handle, api_key=None):
    from backends.dataflowkit.emulator import SPEC

    options = SPEC.remote_options(handle.server)
    if api_key is not None:
        options["api_key"] = api_key
    return options


def known_bytes(handle):
    from backends.dataflowkit.emulator import DEMO_API_KEY
    from tests.dataflowkit_export import download

    process = requests.post(f"{handle.url}v1/processes/{BOOKS_RUNS[0]}/info",
                            params={"api_key": DEMO_API_KEY}, timeout=10).json()
    return download(handle.url, process["results"])


HARNESS = Harness(
    type="dataflowkit",
    start=start,
    remote=remote,
    bad_remote=lambda handle: remote(handle, api_key="not-the-demo-key"),
    known_file=f"{PROCESS}/results.csv",
    known_bytes=known_bytes,
    tree=f"tasks/{BOOKS}/processes/{BOOKS_RUNS[0]}",
    fault_path=r"^/storage/results/",
    missing=["nothing", "tasks/" + "A" * 27, f"tasks/{BOOKS}/nothing",
             f"tasks/{BOOKS}/processes/{BOOKS_RUNS[1]}/results.csv", f"{PROCESS}/results.json"],
    read_only_file=f"{PROCESS}/results.csv",
)
