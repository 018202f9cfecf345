"""Read a file the way `cat` does (128 KiB reads) into OUTFILE, timing it.

Prints one JSON object: wall time from `open` to EOF and the time to the first byte.
Usage: read_file.py PATH OUTFILE
"""

import json
import sys
import time


def main(path, outfile):
    started = time.monotonic()
    first = None
    with open(path, "rb", buffering=0) as src, open(outfile, "wb") as out:
        while True:
            chunk = src.read(128 * 1024)
            if not chunk:
                break
            if first is None:
                first = time.monotonic() - started
            out.write(chunk)
    print(json.dumps({"wall": time.monotonic() - started, "ttfb": first}))


if __name__ == "__main__":
    main(*sys.argv[1:3])
