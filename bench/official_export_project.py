"""Export every finished job of a project to a directory with the official client.

What a user writes today without hubfs to back up a project: for each finished job
(newest first, paged by the client), its items, logs, requests and samples as JSON
lines and its metadata as JSON, under OUTDIR/<spider>/<job>/.
Usage: official_export_project.py URL PROJECT OUTDIR
"""

import json
import os
import sys

from scrapinghub import ScrapinghubClient

from common import DEMO_APIKEY


def lines(records):
    return b"".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
                    for r in records)


def main(url, project_id, outdir):
    client = ScrapinghubClient(DEMO_APIKEY, dash_endpoint=url + "api/", endpoint=url)
    project = client.get_project(int(project_id))
    count = 0
    for summary in project.jobs.iter(state="finished"):
        job = client.get_job(summary["key"])
        meta = dict(job.metadata.list())
        target = os.path.join(outdir, meta["spider"], summary["key"].split("/")[2])
        os.makedirs(target, exist_ok=True)
        with open(os.path.join(target, "meta.json"), "w") as fh:
            json.dump(meta, fh, indent=2, sort_keys=True)
        for name in ("items", "logs", "requests", "samples"):
            with open(os.path.join(target, name + ".jl"), "wb") as fh:
                fh.write(lines(getattr(job, name).iter()))
        count += 1
    print(json.dumps({"jobs": count}))


if __name__ == "__main__":
    main(*sys.argv[1:4])
