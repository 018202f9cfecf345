"""The official SDK's side of `bench/aliyun_log_hour.py`: export one hour as JSON lines.

What a user would write with `aliyun-log-python-sdk`: for each shard (in order), pull the
receive-time range with `pull_log` and write each flattened log as one compact JSON line
(the hour file's format, so both outputs can be compared by hash). Prints one JSON line
of figures: wall time, time to the first byte written, peak RSS.
Usage: python bench/aliyun_log_sdk_export.py URL PROJECT LOGSTORE HOUR_START OUT
"""

import json
import resource
import sys
import time

from aliyun_log_common import sdk_client


def main():
    url, project, logstore, start, out = sys.argv[1:6]
    start = int(start)
    started = time.perf_counter()
    first = None
    client = sdk_client(url)
    shards = sorted(s["shardID"] for s in client.list_shards(project, logstore).get_shards_info())
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    with open(out, "w", encoding="utf-8") as fh:
        for shard in shards:
            for response in client.pull_log(project, logstore, shard, start, start + 3600):
                for log in response.get_flatten_logs_json():
                    fh.write(dumps(log) + "\n")
                if first is None:
                    fh.flush()
                    first = time.perf_counter() - started
    wall = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"wall": wall, "first_byte": first, "peak_rss_mib": peak}))


if __name__ == "__main__":
    main()
