"""Cached, pre-compressed body blocks and the gzip writer that splices them into responses.

Large read paths are cut into blocks; `BodyCache` (a byte-budgeted LRU shared by one
server) keeps each block as an independently deflated segment with its CRC-32 and length,
`Block` produces a block's bytes once and serves them from the cache afterwards, and the
gzip writer assembles one gzip member from a mix of such segments and raw chunks without
compressing the cached parts again. Because the trailer's CRC must cover segments that were
never seen uncompressed, this module also carries `crc32_combine`, which the stdlib zlib
module does not expose. `gzip_bytes` covers the simple case of a body sent whole.
"""

from __future__ import annotations

import collections
import struct
import threading
import zlib
from typing import Any, Callable

DEFAULT_CACHE_BYTES = 256 * 1024 * 1024
DEFAULT_BLOCK_LEVEL = 1  # zlib level of cached blocks: speed over ratio


_CRC_POLY = 0xEDB88320  # CRC-32 (gzip) polynomial, bit-reversed


def _gf2_mul(a: int, b: int) -> int:
    """Multiply two polynomials modulo the CRC-32 polynomial (bit-reversed form, x^0 = 1<<31)."""
    mask = 1 << 31
    product = 0
    while a:
        if a & mask:
            product ^= b
            a ^= mask
        mask >>= 1
        b = (b >> 1) ^ _CRC_POLY if b & 1 else b >> 1
    return product


# _X_POW2N[k] = x^(2^k) mod P, so x^n is a product of table entries picked by n's bits.
_X_POW2N = [1 << 30]
for _ in range(63):
    _X_POW2N.append(_gf2_mul(_X_POW2N[-1], _X_POW2N[-1]))


def crc32_combine(crc1: int, crc2: int, len2: int) -> int:
    """CRC-32 of A+B from crc(A), crc(B) and len(B), without touching the data.

    Needed because cached blocks are stored compressed: a gzip trailer over several blocks
    must be computed from per-block CRCs (the stdlib `zlib` module does not expose zlib's
    own crc32_combine).
    """
    if len2 <= 0:
        return crc1
    # Appending len2 bytes multiplies crc1 by x^(8*len2); the pre/post conditioning of
    # CRC-32 cancels out between the two terms, so a plain XOR finishes the job.
    factor = 1 << 31
    bits, k = len2, 3
    while bits:
        if bits & 1:
            factor = _gf2_mul(_X_POW2N[k], factor)
        bits >>= 1
        k += 1
    return _gf2_mul(factor, crc1) ^ crc2


class BodyCache:
    """Byte-budgeted LRU of encoded body blocks, shared by every response of one server.

    Large read paths (a job of a million records) are cut into blocks; each block is encoded
    once and kept here as an independently deflated segment (sync-flushed, no
    back-references outside the block) with its CRC and length, which the gzip writer
    splices into a response without compressing again.
    """

    def __init__(self, max_bytes: int = DEFAULT_CACHE_BYTES):
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._entries: "collections.OrderedDict[Any, tuple[Any, int]]" = collections.OrderedDict()
        self.size = 0
        self.hits = 0
        self.misses = 0

    def get(self, key: Any) -> Any:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return entry[0]

    def put(self, key: Any, value: Any, nbytes: int) -> None:
        if nbytes > self.max_bytes:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self.size -= old[1]
            self._entries[key] = (value, nbytes)
            self.size += nbytes
            while self.size > self.max_bytes and self._entries:
                _, (_, dropped) = self._entries.popitem(last=False)
                self.size -= dropped

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.size = 0

    def block(self, key: Any, produce: Callable[[], bytes]) -> "Block":
        """A body block whose bytes come from *produce()* once, then from the cache."""
        return Block(self, key, produce)


class Block:
    """A piece of a streamed body that knows its raw and its deflated form (see BodyCache).

    Only the deflated form is cached: it is 5-10 times smaller than the raw bytes, and
    inflating it again for a client that refuses gzip costs less than encoding the records
    anew. Two threads may encode the same block at once; the work is duplicated but the
    result is identical, which is cheaper than holding a lock while encoding.
    """

    __slots__ = ("cache", "key", "produce")

    def __init__(self, cache: BodyCache, key: Any, produce: Callable[[], bytes]):
        self.cache, self.key, self.produce = cache, key, produce

    def data(self) -> bytes:
        seg = self.cache.get((self.key, "deflate"))
        if seg is None:
            seg = self._deflate(self.produce(), DEFAULT_BLOCK_LEVEL)
        # A decompressor object, because a sync-flushed segment has no final block and
        # zlib.decompress() would call it truncated.
        return zlib.decompressobj(-zlib.MAX_WBITS).decompress(seg[0])

    def deflated(self, level: int) -> tuple[bytes, int, int]:
        """(raw deflate segment ending in a sync flush, crc32, uncompressed length)."""
        seg = self.cache.get((self.key, "deflate"))
        if seg is None:
            seg = self._deflate(self.produce(), level)
        return seg

    def _deflate(self, data: bytes, level: int) -> tuple[bytes, int, int]:
        comp = zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS)
        raw = comp.compress(data) + comp.flush(zlib.Z_SYNC_FLUSH)
        seg = (raw, zlib.crc32(data), len(data))
        self.cache.put((self.key, "deflate"), seg, len(raw))
        return seg


class GzipWriter:
    """Produces one gzip member from a mix of raw chunks and pre-deflated blocks."""

    HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"  # no name, mtime 0, OS unknown
    FINAL_BLOCK = b"\x03\x00"  # empty final fixed-Huffman block, valid after a sync flush

    def __init__(self, level: int):
        self.level = level
        self.crc = 0
        self.size = 0
        self._comp = None

    def feed(self, chunk: Any) -> bytes:
        if isinstance(chunk, Block):
            out = self._end_run()
            raw, crc, length = chunk.deflated(self.level)
            self.crc = crc32_combine(self.crc, crc, length)
            self.size += length
            return out + raw
        if not chunk:
            return b""
        if self._comp is None:
            # A fresh compressor per run of raw chunks: a block spliced in before it must
            # not be referenced by its back-references (the decoder's window differs).
            self._comp = zlib.compressobj(self.level, zlib.DEFLATED, -zlib.MAX_WBITS)
        self.crc = zlib.crc32(chunk, self.crc)
        self.size += len(chunk)
        return self._comp.compress(chunk)

    def _end_run(self) -> bytes:
        if self._comp is None:
            return b""
        out = self._comp.flush(zlib.Z_SYNC_FLUSH)
        self._comp = None
        return out

    def finish(self) -> bytes:
        return self._end_run() + self.FINAL_BLOCK + struct.pack("<II", self.crc, self.size & 0xFFFFFFFF)


def gzip_bytes(data: bytes, level: int = 1) -> bytes:
    """Gzip *data* in one go (used for bodies sent with Content-Length)."""
    comp = zlib.compressobj(level, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return comp.compress(data) + comp.flush()
