"""Seed data of the DS3/S3 emulator: the `demo` and `bench` data sets.

demo: bucket `books` with four texts at the top and two in `folder/folder2/` (the layout
of the Spectra SDK samples), a folder object `empty/`, and bucket `data` with a 3 MiB
binary object cut into several blobs by the demo's 1 MiB blob size. bench: an empty
bucket `bench` (the benchmarks write what they measure) and `listing`, 20,000 small
objects in `many/`. All content is generated
deterministically (no files shipped), all times derive from 2026-01-01T00:00:00Z.
"""

from __future__ import annotations

import hashlib

EPOCH = 1767225600.0  # 2026-01-01T00:00:00Z

_WORDS = ("whale", "harbour", "lantern", "orchard", "granite", "meadow", "cipher", "falcon",
          "tapestry", "ember", "glacier", "quill")


def text(title: str, lines: int) -> bytes:
    """A deterministic text of *lines* lines for *title*."""
    out = [f"{title}\n\n"]
    seed = hashlib.sha256(title.encode()).digest()
    for n in range(lines):
        words = [_WORDS[(seed[(n + i) % 32] + n * i) % len(_WORDS)] for i in range(8 + n % 5)]
        out.append(" ".join(words).capitalize() + ".\n")
    return "".join(out).encode()


def binary(name: str, size: int) -> bytes:
    """*size* pseudo-random bytes derived from *name* (sha256 in counter mode)."""
    blocks = []
    counter = 0
    while len(blocks) * 32 < size:
        blocks.append(hashlib.sha256(f"{name}:{counter}".encode()).digest())
        counter += 1
    return b"".join(blocks)[:size]


def demo_objects() -> dict[str, dict[str, bytes]]:
    """bucket -> key -> content of the demo set."""
    return {
        "books": {
            "beowulf.txt": text("Beowulf", 400),
            "sherlock_holmes.txt": text("Sherlock Holmes", 900),
            "tale_of_two_cities.txt": text("A Tale of Two Cities", 1200),
            "ulysses.txt": text("Ulysses", 1500),
            "folder/folder2/lesmis.txt": text("Les Miserables", 700),
            "folder/folder2/iliad.txt": text("The Iliad", 300),
            "empty/": b"",
        },
        "data": {
            "blobs/three-mib.bin": binary("three-mib", 3 * 1024 * 1024 + 17),
        },
    }


def bench_objects() -> dict[str, dict[str, bytes]]:
    """An empty bucket `bench` for what the benchmarks write, and `listing` with 20,000
    small objects in one folder (the `ls -l` workload)."""
    return {"bench": {}, "listing": {f"many/obj-{n:05d}.txt": b"%05d\n" % n for n in range(20_000)}}


SEEDS = {"demo": demo_objects, "bench": bench_objects}


def seed(store, data: str) -> None:
    try:
        layout = SEEDS[data]()
    except KeyError:
        raise ValueError(f"unknown data set {data!r}; choose one of {sorted(SEEDS)}") from None
    for index, (bucket, objects) in enumerate(sorted(layout.items())):
        created = store.create_bucket(bucket)
        created.created = EPOCH + index
        for number, (key, content) in enumerate(sorted(objects.items())):
            store.put_bytes(bucket, key, content, mtime=EPOCH + 3600 + number * 60)
