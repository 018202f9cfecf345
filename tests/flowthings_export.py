"""A flow's drops as a user's own script would export them, without any hubfs code.

Plain `requests` paging of the platform API (`GET /drop/<flow>?sort=creationDate&
order=asc&limit=N&skip=M` until an empty page), each drop written as compact JSON and a
newline: the bytes `drops.jl` must hold.
"""

import json

import requests

from backends.flowthings.emulator import DEMO_TOKEN


def export_drops(url, flow_id, page=50, version="4.0"):
    lines, skip = [], 0
    while True:
        answer = requests.get(f"{url}v{version}/demo/drop/{flow_id}", headers={"X-Auth-Token": DEMO_TOKEN},
                              params={"sort": "creationDate", "order": "asc", "limit": page, "skip": skip,
                                      "hints": 0}, timeout=10)
        drops = answer.json()["body"]
        if not drops:
            return b"".join(lines)
        lines += [json.dumps(d, ensure_ascii=False, separators=(",", ":")).encode() + b"\n" for d in drops]
        skip += len(drops)


def expected_drops(handle, path):
    """drops.jl of the flow at *path* of the emulator behind *handle*."""
    return export_drops(handle.url, handle.server.state.paths[path])
