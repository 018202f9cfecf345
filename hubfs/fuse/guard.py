"""The guard every FUSE handler runs under: only `FUSEError` may leave a handler.

Neutral errors become errnos through the one table in `hubfs.errors`, with one log line
naming the operation, the mounted path and the cause; anything unexpected becomes EIO
(traceback at DEBUG), so a bug costs one request, never the mount (pyfuse3's main loop
dies on any other exception). Naming the path is itself guarded: a call whose arguments
the namer does not expect still gets its errno.
"""

import errno
import functools
import logging

import pyfuse3

from hubfs import errors

# Named after the operations it guards: the one logger users grep for failed calls.
log = logging.getLogger("hubfs.fuse.operations")


def _where(self, name, args):
    """The mounted path a call was about; a failure to name it must not hide the error."""
    try:
        return self.describe(name, args)
    except Exception as exc:
        return f"? ({type(exc).__name__} naming the path)"


def fuse_op(func):
    """Wrap a handler so only `FUSEError` leaves it, with one log line per failure."""

    @functools.wraps(func)
    async def wrapper(self, *args):
        try:
            return await func(self, *args)
        except pyfuse3.FUSEError:
            raise
        except errors.HubfsError as exc:
            code = errors.errno_for(exc)
            level = logging.DEBUG if isinstance(exc, errors.NotFound) else logging.WARNING
            log.log(level, "%s %s: %s [%s]", func.__name__, _where(self, func.__name__, args),
                    exc, errno.errorcode.get(code, code))
            raise pyfuse3.FUSEError(code) from None
        except Exception as exc:  # a bug must cost one request, not the mount
            log.error("%s %s: unexpected %s: %s", func.__name__,
                      _where(self, func.__name__, args), type(exc).__name__, exc)
            log.debug("traceback", exc_info=True)
            raise pyfuse3.FUSEError(errno.EIO) from None

    return wrapper
