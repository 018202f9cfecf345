"""The ds3 and s3 backends' harnesses for the contract suite (the DS3 emulator's demo seed).

Demo seed: bucket `data` holds `blobs/three-mib.bin` (3 MiB + 17 bytes: four blobs of the
harness's 1 MiB blob size, so a DS3 read goes through several blobs of a bulk GET job);
bucket `books` holds four texts and `folder/folder2/{iliad,lesmis}.txt`. Expected bytes
come from the emulator's own object files, never from hubfs. The same module builds the
harness of the DS3 mode (bulk jobs, SigV2) and of the plain S3 mode (SigV4).
"""

import contextlib

from tests.contract.harness import Harness, Writable


def start(mode):
    @contextlib.contextmanager
    def run():
        from backends.ds3.emulator import JobSettings, create_server
        from hubfs.emulation import start_in_thread

        settings = JobSettings(blob_size=1024 * 1024, chunk_blobs=2, retry_after=0)
        with start_in_thread(create_server("demo", mode=mode, settings=settings)) as handle:
            yield handle
    return run


def remote(handle, secret_key=None):
    from backends.ds3.emulator import remote_options

    options = remote_options(handle.server)
    if secret_key is not None:
        options["secret_key"] = secret_key
    return options


def stored(handle, bucket, key):
    """The bytes the emulator holds for *key*, or None when there is no such object."""
    try:
        obj = handle.state.store.get(bucket, key)
    except Exception:
        return None
    with open(obj.path, "rb") as fh:
        return fh.read()


def harness(mode):
    return Harness(
        type=mode,
        start=start(mode),
        remote=remote,
        bad_remote=lambda handle: remote(handle, secret_key="not-the-secret-key"),
        known_file="data/blobs/three-mib.bin",
        known_bytes=lambda handle: stored(handle, "data", "blobs/three-mib.bin"),
        tree="books/folder",
        fault_path=r"^/data/blobs/three-mib\.bin$",
        missing=["no-such-bucket", "books/nope.txt", "books/folder/nope", "data/nope/deeper.txt"],
        read_only_file=None,  # every object is writable
        writable=Writable(
            directory="books",
            existing="beowulf.txt",
            good=lambda n: f"object {n}: Zoë\n".encode() * (n % 7 + 1),
            read_back=lambda handle, name: stored(handle, "books", name),
            send_path=r"^/books/",
            send_method="PUT",
        ),
    )


HARNESS = harness("ds3")
