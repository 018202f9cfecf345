"""One send of a spooled file to its node, with the journal bookkeeping around it.

The rules of DESIGN.md semantics 3-4 in one blocking function, for every writer that is
not a FUSE handle (the fsspec filesystem, the resend of what it left pending): journal
the content before sending, hold the entry's claim so that a mount sharing the cache
directory does not send it at the same time, and then either forget it (sent), drop it
(malformed: `InvalidContent` can never succeed) or make it durable and note the failure
(the caller was told its data is kept, so a later pass or mount sends it).
"""

import logging
import os

from hubfs import errors, stats
from hubfs.cache.spool import shown_path

log = logging.getLogger(__name__)


def send(spool, spool_id, node, remote, names, journal=None):
    """Send spool file *spool_id* to *node* (at `(remote, names)`); with *journal* (the
    node's write mode) record the entry first. Raises the node's `HubfsError`."""
    where = shown_path(remote, names)
    if journal is not None:
        spool.journal(spool_id, remote, names, journal)
    with spool.claim(spool_id) as mine:
        if not mine:
            raise errors.Transient(f"{where}: being sent by another hubfs process")
        size = _size(spool, spool_id)
        try:
            with stats.activity("upload", remote, where) as activity:
                node.commit(spool.data_path(spool_id))
                activity.update(nbytes=size)
        except errors.InvalidContent:
            spool.done(spool_id)  # malformed content can never be sent: drop it
            raise
        except errors.HubfsError as exc:
            entry = spool.entry(spool_id) or {}
            spool.make_durable(spool_id)
            spool.update(spool_id, attempts=entry.get("attempts", 0) + 1, last_error=str(exc))
            raise
        stats.count(remote, "bytes_sent", size)
        spool.done(spool_id)
    log.debug("sent %s", where)


def _size(spool, spool_id):
    try:
        return os.path.getsize(spool.data_path(spool_id))
    except FileNotFoundError:
        return 0
