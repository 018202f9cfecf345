"""Run one render into the disk cache: chunks are pulled and written in worker threads.

`start_render()` creates the cache entry's file at once (so readers can open it before
the first byte) and spawns a trio system task that, under one of the manager's render
slots, runs the node's render in one worker thread that appends each chunk to the file
and reports it to the `RenderProgress` in the trio thread. The backend's generator does its HTTP and
decoding in that thread (or in its own pool), never in the trio thread that serves
FUSE. A render that fails removes its partial file; one that completes is committed to
the cache under its key (`hubfs.cache.content.ContentCache.begin`). The task outlives
the request that started it: a `head -1` that closes early still leaves a complete cache
entry behind for the next `stat`.
"""

import contextlib
import logging

import trio

from hubfs import stats
from hubfs.cache.rendering import counted
from hubfs.render.progress import RenderProgress

log = logging.getLogger(__name__)


def start_render(cache, key, node, slots, limiter, on_end, track=contextlib.nullcontext):
    """Begin rendering *node* into the cache entry *key*; return its `RenderProgress`.

    *slots* bounds renders running at once, *limiter* the worker threads; *on_end(progress)*
    is called in the trio thread when the render completed or failed; *track()* is a
    context manager entered in the render's thread around the render (`hubfs.stats`
    activity: `hubfs status` and progress lines). The entry's file is made in that thread
    (creating files is slow on a large cache directory): its path is set before the
    first byte is reported, which is when readers open it.
    """
    progress = RenderProgress(key, None)
    trio.lowlevel.spawn_system_task(_run, cache, node, progress, slots, limiter, on_end, track,
                                    name=f"render {key}")
    return progress


async def _run(cache, node, progress, slots, limiter, on_end, track):
    def render():
        """The whole render in one worker thread; each chunk written is reported to the
        trio thread, where readers wait. Returns the committed entry's path."""
        entry = cache.begin(progress.key)
        progress.path = entry.path
        chunks = counted(node.render())
        try:
            with track():
                stats.report_cache(False)
                for chunk, _cursor in chunks:
                    if chunk:
                        entry.write(chunk)
                        trio.from_thread.run_sync(progress.advance, len(chunk))
            return entry.commit()[0]
        except BaseException:
            chunks.close()
            entry.abort()
            raise

    try:
        async with slots:
            # Abandoned on cancel (the mount is closing): the thread stops at its next
            # report, which then fails, and removes its partial file.
            final_path = await trio.to_thread.run_sync(render, limiter=limiter,
                                                       abandon_on_cancel=True)
        progress.complete(final_path)
    except BaseException as exc:  # noqa: B902 - a system task must not raise
        if isinstance(exc, trio.Cancelled) or not isinstance(exc, Exception):
            progress.fail(OSError("the mount is closing"))
            on_end(progress)
            raise
        log.debug("render of %s failed: %s", progress.key, exc)
        progress.fail(exc)
    on_end(progress)
