"""Export one job's items as JSON lines with the official `scrapinghub` client.

This is what a user writes today without hubfs. Prints one JSON object with the wall
time, the time to the first item written and the peak RSS of this process.
Usage: official_export.py URL APIKEY JOB_KEY OUTFILE
"""

import json
import resource
import sys
import time

from scrapinghub import ScrapinghubClient


def main(url, apikey, job_key, outfile):
    started = time.monotonic()
    first = None
    client = ScrapinghubClient(apikey, dash_endpoint=url + "api/", endpoint=url)
    job = client.get_job(job_key)
    with open(outfile, "wb") as out:
        for item in job.items.iter():
            out.write(json.dumps(item, ensure_ascii=False, separators=(",", ":")).encode() + b"\n")
            if first is None:
                first = time.monotonic() - started
    wall = time.monotonic() - started
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"wall": wall, "ttfb": first, "peak_rss": rss}))


if __name__ == "__main__":
    main(*sys.argv[1:5])
