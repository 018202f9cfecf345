"""What the DS3/S3 emulator adds to the kit's HTTP server: file bodies and aws-chunked uploads.

Object bytes are answered as a `FileSlice` (a version file, an offset and a length, or
several ranges for DS3's concatenated multi-range answer) and sent with `os.sendfile`,
so a GET of a 1 GiB object costs no copy of it in Python and a range costs only its own
bytes: the emulator is not what a benchmark measures. The kit's fault injection still
applies (a `cut_after` sends that many bytes and hangs up). Uploads from recent boto3
versions arrive `Content-Encoding: aws-chunked` (chunk-size lines, optional chunk
signatures, a trailing checksum); they are decoded to the plain body here. The kit's
connection handler is subclassed for both (the kit has no hook for either).
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from typing import Optional

from hubfs.emulation import EmulatorServer, Response
from hubfs.emulation.handler import _CutConnection, _Handler, log


@dataclass
class FileSlice:
    """Bytes of a file to send: *spans* are (offset, length) pairs, sent one after another."""

    path: str
    spans: list

    @property
    def length(self) -> int:
        return sum(length for _, length in self.spans)


def decode_aws_chunked(body: bytes) -> bytes:
    """The payload of an `aws-chunked` body (chunk signatures and trailers dropped)."""
    out = []
    pos = 0
    while True:
        end = body.index(b"\r\n", pos)
        size = int(body[pos:end].split(b";")[0].strip(), 16)
        pos = end + 2
        if size == 0:
            break
        out.append(body[pos:pos + size])
        if len(out[-1]) != size:
            raise ValueError("aws-chunked body ends inside a chunk")
        pos += size + 2  # the chunk's trailing CRLF
    return b"".join(out)


class _ObjectHandler(_Handler):
    @staticmethod
    def _decode_body(body: bytes, encoding: Optional[str]) -> bytes:
        codings = [c.strip().lower() for c in (encoding or "").split(",") if c.strip()]
        if "aws-chunked" in codings:
            body = decode_aws_chunked(body)
            codings.remove("aws-chunked")
        return _Handler._decode_body(body, ",".join(codings) or None)

    def _send(self, method: str, response: Response, client_gzip: bool, cut_after: Optional[int] = None) -> int:
        if not isinstance(response.body, FileSlice):
            return super()._send(method, response, client_gzip, cut_after)
        piece = response.body
        headers = [(k, v) for k, v in response.headers
                   if k.lower() not in ("content-length", "transfer-encoding", "content-encoding")]
        headers.append(("Content-Length", str(piece.length)))
        try:
            self._write_head(response.status, headers, False)
            if method == "HEAD":
                return 0
            self.wfile.flush()
            budget = piece.length if cut_after is None else min(cut_after, piece.length)
            sent = 0
            with open(piece.path, "rb") as source:
                fd = source.fileno()
                for offset, length in piece.spans:
                    while length > 0 and sent < budget:
                        count = os.sendfile(self.connection.fileno(), fd, offset, min(length, budget - sent))
                        if count == 0:
                            raise _CutConnection()  # the file is shorter than its record
                        offset += count
                        length -= count
                        sent += count
            if cut_after is not None and cut_after < piece.length:
                raise _CutConnection()
            return sent
        except _CutConnection:
            self._abort()
            return cut_after or 0
        except (BrokenPipeError, ConnectionResetError, socket.timeout) as exc:
            log.debug("%s: client went away while sending: %s", self.server.name, exc)
            self.close_connection = True
            return 0


class ObjectServer(EmulatorServer):
    """An `EmulatorServer` whose connections can send `FileSlice` bodies."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.RequestHandlerClass = _ObjectHandler

    def server_close(self) -> None:
        super().server_close()
        if getattr(self, "state", None) is not None:
            self.state.close()
