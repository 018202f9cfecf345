"""The one errno table and HTTP status mapping."""

import errno

import pytest

from hubfs import errors


@pytest.mark.parametrize("status,cls,code", [
    (404, errors.NotFound, errno.ENOENT),
    (401, errors.AccessDenied, errno.EACCES),
    (403, errors.AccessDenied, errno.EACCES),
    (409, errors.Conflict, errno.ESTALE),
    (400, errors.InvalidContent, errno.EINVAL),
    (413, errors.InvalidContent, errno.EINVAL),
    (501, errors.Unsupported, errno.ENOTSUP),
    (429, errors.Transient, errno.EIO),
    (503, errors.Transient, errno.EIO),
    (418, errors.ServiceError, errno.EIO),
])
def test_status_to_errno(status, cls, code):
    exc = errors.from_status(status, "remote: GET /x", "why")
    assert isinstance(exc, cls)
    assert errors.errno_for(exc) == code
    assert "GET /x" in str(exc) and str(status) in str(exc)


def test_unknown_exception_is_eio():
    assert errors.errno_for(ValueError("bug")) == errno.EIO
    assert errors.errno_for(errors.ReadOnly("x")) == errno.EROFS
    assert errors.errno_for(errors.SpoolFull("x")) == errno.ENOSPC
