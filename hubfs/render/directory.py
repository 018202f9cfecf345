"""Render the files of one directory in one worker thread, ahead of a tree walk.

A walk (`du`, `find -size`, `rsync`, `ls -lR`) needs the exact size of every file, and
most files of a walked tree are small: for them the cost is not the bytes but the
hand-offs between the trio thread that serves FUSE and the worker threads (a system
task, a render slot, a thread hop out and one back per chunk for each file) and the
files made on disk (creating an inode costs more than writing a few KiB). Here the files
of one directory are rendered one after another in a single worker thread, and a file
that ends within `SMALL` bytes is kept as bytes in memory, never as a file. A bigger one
goes on into the disk cache as usual, its bytes reported as they land, so a reader of a
big file still gets its first bytes while it renders (a mutable file's snapshot is made
by the caller's function, which keeps small ones in memory too). What each file came to
is handed back in one list for the trio thread to settle.
"""

import trio

from hubfs.cache.rendering import counted

SMALL = 64 * 1024  # bytes of a file rendered ahead that is kept in memory


def render_files(cache, streamed, snapshots, render_snapshot):
    """Render *streamed* (`[(node, progress)]`, immutable files with a cache key) and
    *snapshots* (mutable nodes, with *render_snapshot(node)*), blocking. Returns
    `(streamed_results, made)`: `[(progress, data, (path, size), error, reported)]`, with
    *data* the bytes of a small file (else None and *(path, size)* its committed cache
    entry) and *reported* the bytes already advanced on the progress, and
    `[(node, snapshot, error)]`. A failure of one file is its own; the others go on."""
    done = []
    for node, progress in streamed:
        hit = cache.lookup(progress.key)
        if hit is not None:
            done.append((progress, None, hit, None, 0))
            continue
        reported = [0]
        try:
            data, entry = _small_or_entry(cache, node, progress, reported)
            done.append((progress, data, entry, None, reported[0]))
        except Exception as exc:
            done.append((progress, None, None, exc, reported[0]))
    made = []
    for node in snapshots:
        try:
            made.append((node, render_snapshot(node), None))
        except Exception as exc:
            made.append((node, None, exc))
    return done, made


def held_chunks(chunks):
    """The first chunks of *chunks*, up to the first past `SMALL` bytes in all:
    `(chunks, more)`, *more* True when the file is bigger (its rest still in *chunks*)."""
    held, size = [], 0
    for chunk, _cursor in chunks:
        if chunk:
            held.append(chunk)
            size += len(chunk)
            if size > SMALL:
                return held, True
    return held, False


def _small_or_entry(cache, node, progress, reported):
    """`(bytes, None)` of a small file, else `(None, (path, size))` of its cache entry."""
    chunks = counted(node.render())
    try:
        held, big = held_chunks(chunks)
        if not big:
            return b"".join(held), None
        entry = cache.begin(progress.key)
        progress.path = entry.path
        try:
            for chunk in held:
                entry.write(chunk)
            trio.from_thread.run_sync(progress.advance, entry.size)
            reported[0] = entry.size
            for chunk, _cursor in chunks:
                if chunk:
                    entry.write(chunk)
                    trio.from_thread.run_sync(progress.advance, len(chunk))
                    reported[0] += len(chunk)
            return None, entry.commit()
        except BaseException:
            entry.abort()
            raise
    finally:
        chunks.close()
