"""The Scrapinghub backend's harness for the contract suite (demo seed data).

Demo seed: job 101/1/2 ("books", finished, 1,000 items); project 101 has the store
`s/prices` with keys `sku-0001`...; expected bytes come from the official `scrapinghub`
client, never from hubfs.
"""

import contextlib
import json

from tests.contract.harness import Harness, Writable


@contextlib.contextmanager
def start():
    from backends.scrapinghub.emulator import create_server
    from hubfs.emulation import start_in_thread

    with start_in_thread(create_server(data="demo")) as handle:
        yield handle


def remote(handle, apikey=None):
    from backends.scrapinghub.emulator import SPEC

    options = SPEC.remote_options(handle.server)
    if apikey is not None:
        options["apikey"] = apikey
    return options


def official(handle):
    from scrapinghub import ScrapinghubClient

    from backends.scrapinghub.emulator import DEMO_APIKEY

    return ScrapinghubClient(DEMO_APIKEY, dash_endpoint=handle.url + "api/", endpoint=handle.url)


def known_bytes(handle):
    from tests.support import official_export

    return official_export(handle.url, "101/1/2", "items")


def read_value(handle, key):
    """A value of store `s/prices` as the official client reads it (compact JSON + newline,
    the form hubfs shows), or None when the key is absent."""
    store = official(handle).get_project(101).collections.get_store("prices")
    found = [record for record in store.iter(key=[key], meta=["_key"]) if record.get("_key") == key]
    if not found:
        return None
    value = {k: v for k, v in found[0].items() if k != "_key"}
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def read_slot(handle, name):
    """The requests queued in frontier `products` slot *name* (a `.jl` file name), as
    the official client reads them, one compact JSON line each, in queue order."""
    frontier = official(handle).get_project(102).frontiers.get("products")
    lines = []
    for batch in frontier.get(name[:-len(".jl")]).q.iter():
        for fp, qdata in batch["requests"]:
            request = {"fp": fp} if qdata is None else {"fp": fp, "qdata": qdata}
            lines.append(json.dumps(request, ensure_ascii=False, separators=(",", ":")).encode() + b"\n")
    return b"".join(lines)


def normalise(data):
    return json.dumps(json.loads(data), ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


HARNESS = Harness(
    type="scrapinghub",
    start=start,
    remote=remote,
    bad_remote=lambda handle: remote(handle, apikey="0" * 32),
    known_file="101/spiders/books/2/items.jl",
    known_bytes=known_bytes,
    tree="101/spiders/books/2",
    fault_path=r"^/items/101/1/2",
    missing=["999", "101/spiders/nope", "101/spiders/books/99999", "101/nothing",
             "101/spiders/books/2/nothing.jl"],
    read_only_file="101/spiders/books/2/items.jl",
    writable=Writable(
        directory="101/collections/prices",
        existing="sku-0001",
        good=lambda n: json.dumps({"v": n, "name": f"Zoë {n}"}, ensure_ascii=False).encode() + b"\n",
        bad=[b"not json\n", b"[1, 2]\n", b'{"v": NaN}\n', b"\xff\xfe\n",
             b"[" * 100_000 + b"]" * 100_000, b'{"a": ' * 5000 + b"1" + b"}" * 5000],
        read_back=read_value,
        send_path=r"^/collections/101/s/prices",
        normalise=normalise,
    ),
    appendable=Writable(
        directory="102/frontier/products",
        existing="example.com.jl",
        good=lambda n: json.dumps({"fp": f"/contract/{n}", "qdata": {"n": n}}).encode() + b"\n",
        bad=[b"not json\n", b'{"no": "fp"}\n', b"[1]\n", b"\xff\n"],
        read_back=read_slot,
        send_path=r"^/hcf/102/products/s/example\.com$",
        normalise=normalise,
        ordered=False,  # a slot's queue is a set of batches, not one ordered list
    ),
)
