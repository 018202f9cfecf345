"""Run one render into the disk cache: chunks are pulled and written in worker threads.

`start_render()` creates the cache entry's file at once (so readers can open it before
the first byte) and spawns a trio system task that, under one of the manager's render
slots, pulls the node's chunks one worker-thread hop at a time, appends each to the file
and reports it to the `RenderProgress`. The backend's generator does its HTTP and
decoding in those threads (or in its own pool), never in the trio thread that serves
FUSE. A render that fails removes its partial file; one that completes is committed to
the cache under its key (`hubfs.cache.content.ContentCache.begin`). The task outlives
the request that started it: a `head -1` that closes early still leaves a complete cache
entry behind for the next `stat`.
"""

import logging

import trio

from hubfs.render.progress import RenderProgress

log = logging.getLogger(__name__)


def start_render(cache, key, node, slots, limiter, on_end):
    """Begin rendering *node* into the cache entry *key*; return its `RenderProgress`.

    *slots* bounds renders running at once, *limiter* the worker threads; *on_end(progress)*
    is called in the trio thread when the render completed or failed. The entry's file
    is made in the first worker hop (creating files is slow on a large cache directory):
    its path is set before the first byte is reported, which is when readers open it.
    """
    progress = RenderProgress(key, None)
    trio.lowlevel.spawn_system_task(_run, cache, node, progress, slots, limiter, on_end,
                                    name=f"render {key}")
    return progress


async def _run(cache, node, progress, slots, limiter, on_end):
    chunks = None
    entry = None

    def step():
        """Write the next chunk and return its size; at the end, commit the entry in the
        same thread hop (a small file costs two hops) and return its path."""
        nonlocal chunks, entry
        if entry is None:
            entry = cache.begin(progress.key)
            progress.path = entry.path
        if chunks is None:
            chunks = node.render()
        for chunk, _cursor in chunks:
            if chunk:
                entry.write(chunk)
                return len(chunk)
        return entry.commit()[0]

    try:
        async with slots:
            while True:
                result = await trio.to_thread.run_sync(step, limiter=limiter)
                if isinstance(result, str):
                    break
                progress.advance(result)
        progress.complete(result)
    except BaseException as exc:  # noqa: B902 - a system task must not raise
        if entry is not None:
            entry.abort()
        if chunks is not None:
            chunks.close()
        if isinstance(exc, trio.Cancelled):
            progress.fail(OSError("the mount is closing"))
            on_end(progress)
            raise
        if not isinstance(exc, Exception):
            progress.fail(OSError("render stopped"))
            on_end(progress)
            raise
        log.debug("render of %s failed: %s", progress.key, exc)
        progress.fail(exc)
    on_end(progress)
