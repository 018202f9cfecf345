"""Benchmark: what rendering a page of items costs in the daemon, codec by codec.

One page of 5,000 items of the bench job (about 1 MiB), fetched once from the emulator
in msgpack and in JSON lines, then timed in-process: msgpack decode, the stdlib encoder
hubfs used (`render.json_lines`), orjson encode and decode (when installed: it is not a
hubfs dependency), stdlib JSON lines decode, and what the pass-through costs instead
(checking the page ends with a newline and counting its records). All of these but the
pass-through hold the interpreter lock. Prints milliseconds per page and seconds per
1,000,000 items. Usage: python bench/scrapinghub_codecs.py [--repeat 20]
"""

import argparse
import json
import sys
import time

import msgpack
import requests

from common import start_emulator

from backends.scrapinghub import render
from backends.scrapinghub.emulator import BENCH_JOB_KEY, DEMO_APIKEY

PAGE = 5000


def timed(name, fn, repeat):
    started = time.perf_counter()
    for _ in range(repeat):
        out = fn()
    per_page = (time.perf_counter() - started) / repeat
    print(f"| {name} | {per_page * 1000:.1f} ms | {per_page * 1_000_000 / PAGE:.2f} s |")
    return out


def unpack(body):
    unpacker = msgpack.Unpacker(raw=False, max_buffer_size=len(body))
    unpacker.feed(body)
    return list(unpacker)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    emulator, url = start_emulator("bench")
    try:
        params = {"start": f"{BENCH_JOB_KEY}/0", "count": PAGE}
        auth = (DEMO_APIKEY, "")
        mp = requests.get(url + "items/" + BENCH_JOB_KEY, params=params, auth=auth, timeout=60,
                          headers={"Accept": "application/x-msgpack"}).content
        js = requests.get(url + "items/" + BENCH_JOB_KEY, params=params, auth=auth,
                          timeout=60).content
    finally:
        emulator.terminate()
        emulator.wait(timeout=30)
    print(f"page of {PAGE} items: {len(js)} bytes of JSON lines, {len(mp)} of msgpack")
    print("| step | per page | per 1,000,000 items |\n|---|---|---|")
    records = timed("msgpack decode", lambda: unpack(mp), args.repeat)
    out = timed("stdlib encode (render.json_lines)",
                lambda: render.json_lines([dict(r) for r in records]), args.repeat)
    timed("stdlib JSON lines decode", lambda: json.loads(b"[" + b",".join(js.splitlines()) + b"]"),
          args.repeat)
    try:
        import orjson
    except ImportError:
        print("| orjson | not installed | |")
    else:
        timed("orjson encode", lambda: b"\n".join(map(orjson.dumps, records)) + b"\n", args.repeat)
        timed("orjson decode", lambda: [orjson.loads(line) for line in js.splitlines()], args.repeat)
    timed("pass-through: check and count records",
          lambda: (js.endswith(b"\n"), js.count(b"\n"), b"\n\n" in js), args.repeat)
    print("stdlib re-encoding equals the served bytes:", out == js)
    return 0 if out == js else 1


if __name__ == "__main__":
    sys.exit(main())
