"""One send of a spooled file to its node, with the journal bookkeeping around it.

The rules of DESIGN.md semantics 3-4 in one blocking function, shared by the mount's
`Writer` and the fsspec filesystem: journal the content before sending, hold the entry's
claim (`Spool.claim`) so that two processes sharing a cache directory never send one
entry at the same time, hand the node a `CommitProgress` over what earlier attempts
recorded, and then either forget the entry (sent), drop it (`InvalidContent` can never
succeed), make it durable and note the failure (the caller was told its data is kept, so
a later pass or mount sends it), or set it aside (a bug, never retried in a loop). The
send runs as a `hubfs.stats` upload activity and counts the bytes sent.
"""

import logging
import os

from hubfs import errors, stats
from hubfs.cache.spool import shown_path
from hubfs.tree import CommitProgress

log = logging.getLogger(__name__)


def send(spool, spool_id, node, remote, names, journal=None, keep_data=False):
    """Send spool file *spool_id* to *node* (at `(remote, names)`); with *journal* (the
    node's write mode) record the entry first; with *keep_data* the data file stays (a
    writer still has it open). Raises the node's `HubfsError`."""
    where = shown_path(remote, names)
    if journal is not None:
        entry = spool.journal(spool_id, remote, names, journal)
    else:
        entry = spool.entry(spool_id) or {}
    with spool.claim(spool_id) as mine:
        if not mine:
            raise errors.Transient(f"{where}: being sent by another hubfs process")
        # Progress is recorded per acknowledged step (a drop, a batch): an atomic rewrite
        # of the entry that survives a killed daemon; an fsync per step would cost more
        # than the step (flowthings drops: 2x slower). After a power cut an entry may
        # resend the last steps before it.
        progress = CommitProgress(entry.get("progress"),
                                  lambda state: spool.update(spool_id, durable=False, progress=state))
        size = _size(spool.data_path(spool_id))
        try:
            with stats.activity("upload", remote, where) as activity:
                node.commit(spool.data_path(spool_id), progress)
                activity.update(nbytes=size)
        except errors.InvalidContent:
            spool.done(spool_id, keep_data=keep_data)  # malformed: can never be sent
            raise
        except errors.HubfsError as exc:
            spool.make_durable(spool_id)
            spool.update(spool_id, attempts=entry.get("attempts", 0) + 1, last_error=str(exc))
            raise
        except Exception as exc:
            # Not a service error but a bug (or an input no check foresaw): keep the bytes
            # for the user, out of the resend loop, and fail this one call.
            spool.set_aside(spool_id, f"sending failed unexpectedly: {type(exc).__name__}: {exc}",
                            spool.entry(spool_id))
            raise errors.ServiceError(f"{where}: could not be sent ({type(exc).__name__}); "
                                      "the data was set aside, see hubfs status") from None
        stats.count(remote, "bytes_sent", size)
        spool.done(spool_id, keep_data=keep_data)
    log.debug("sent %s", where)


def _size(path):
    try:
        return os.path.getsize(path)
    except FileNotFoundError:
        return 0
