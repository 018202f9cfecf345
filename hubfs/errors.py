"""Backend-neutral errors and the one table that turns them into errnos.

Backends raise these classes (never `OSError` or `requests` exceptions) so the FUSE layer,
the `hubfs ls/cat` commands and the tests all see one vocabulary. Each error carries a
short human message that already says *what* failed and *where* (remote, path or URL);
the FUSE layer adds the mounted path and logs exactly one line per failure. The errno
choices follow DESIGN.md "Semantics" 5 and live in `ERRNO_TABLE` only.
"""

import errno


class HubfsError(Exception):
    """Base class: a failure the user should see, with a message fit for one log line."""


class NotFound(HubfsError):
    """The named thing does not exist on the service."""


class AccessDenied(HubfsError):
    """The service refused the credentials (401/403)."""


class ReadOnly(HubfsError):
    """A write was asked of something that cannot be written."""


class Transient(HubfsError):
    """The service kept failing (5xx, 429, timeouts, cut connections) after retries."""


class InvalidContent(HubfsError):
    """Content written into the mount, or a request argument, is malformed."""


class Conflict(HubfsError):
    """The resource changed underneath us."""


class Unsupported(HubfsError):
    """The operation has no meaning for this resource."""


class NotEmpty(HubfsError):
    """A directory that must be empty before it is removed is not."""


class Exists(HubfsError):
    """The name is already taken (a rename that may not replace)."""


class SpoolFull(HubfsError):
    """The local spool has no room for more written data."""


class ServiceError(HubfsError):
    """The service answered with an error we have no better class for."""


class ConfigError(HubfsError):
    """The configuration file or a command-line option is wrong; never mapped to an errno."""


# The ONE errno table (DESIGN.md semantics 5). Order matters only for subclasses.
ERRNO_TABLE = (
    (NotFound, errno.ENOENT),
    (AccessDenied, errno.EACCES),
    (ReadOnly, errno.EROFS),
    (Transient, errno.EIO),
    (InvalidContent, errno.EINVAL),
    (Conflict, errno.ESTALE),
    (Unsupported, errno.ENOTSUP),
    (SpoolFull, errno.ENOSPC),
    (NotEmpty, errno.ENOTEMPTY),
    (Exists, errno.EEXIST),
    (ServiceError, errno.EIO),
)


def errno_for(exc):
    """Return the errno for *exc*; anything unknown (a bug included) is EIO."""
    for cls, code in ERRNO_TABLE:
        if isinstance(exc, cls):
            return code
    if isinstance(exc, OSError) and exc.errno:
        return exc.errno
    return errno.EIO


def from_status(status, where, detail=""):
    """Map an HTTP *status* seen at *where* to the neutral error to raise.

    Retryable statuses only reach here once the shared retry policy has given up, so they
    become `Transient`.
    """
    text = f"{where}: HTTP {status}" + (f" ({detail})" if detail else "")
    if status == 404:
        return NotFound(text)
    if status in (401, 403):
        return AccessDenied(text)
    if status in (409, 412):
        return Conflict(text)
    if status in (400, 413, 422):
        return InvalidContent(text)
    if status in (405, 501):
        return Unsupported(text)
    if status == 429 or status >= 500 or status == 408:
        return Transient(text)
    return ServiceError(text)
