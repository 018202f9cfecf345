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
    is called in the trio thread when the render completed or failed.
    """
    entry = cache.begin(key)
    progress = RenderProgress(key, entry.path)
    trio.lowlevel.spawn_system_task(_run, entry, node, progress, slots, limiter, on_end,
                                    name=f"render {key}")
    return progress


async def _run(entry, node, progress, slots, limiter, on_end):
    chunks = None

    def step():
        nonlocal chunks
        if chunks is None:
            chunks = node.render()
        for chunk, _cursor in chunks:
            if chunk:
                entry.write(chunk)
                return len(chunk)
        return None

    try:
        async with slots:
            while True:
                written = await trio.to_thread.run_sync(step, limiter=limiter)
                if written is None:
                    break
                progress.advance(written)
            final_path, _size = await trio.to_thread.run_sync(entry.commit, limiter=limiter)
        progress.complete(final_path)
    except BaseException as exc:  # noqa: B902 - a system task must not raise
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
