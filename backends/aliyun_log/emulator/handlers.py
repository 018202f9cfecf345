"""HTTP handlers of the SLS emulator: what each API call answers, in the service's format.

Handlers read the project from the Host header (routes carry a host pattern, its
`project` group lands in `request.host_match`), find the logstore and shard in the
`LogState`, and answer with status 200 and JSON, protobuf or empty bodies, or with the
service's error envelope `{"errorCode", "errorMessage", "requestId"}` and an
`x-log-requestid` header (protocols/aliyun-log.md sections 5-12). PullLogs follows
section 7 to the letter: it returns at most `count` LogGroups, never steps past
`end_cursor`, and at the end of data answers 200 with `x-log-count: 0`,
`x-log-bodyrawsize: 0` and the cursor it was sent.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
import re
import zlib
from typing import Optional

import lz4.block

from hubfs.emulation import HTTPError, Request, Response, dumps_compact

from ..wire import raw as pb_raw
from .state import HASH_SPACE, LogState

PROTOBUF_CT = "application/x-protobuf"
JSON_CT = "application/json"
MAX_PULL_COUNT = 1000
MAX_PUT_RAW_BYTES = 10 * 1024 * 1024  # current docs: raw logs at most 10 MB per request
MAX_VALUE_BYTES = 1024 * 1024

_request_ids = itertools.count(1)


def request_id() -> str:
    return f"5F{next(_request_ids):022X}"


def error(status: int, code: str, message: str) -> HTTPError:
    rid = request_id()
    body = dumps_compact({"errorCode": code, "errorMessage": message, "requestId": rid})
    return HTTPError(Response(status, body, [("Content-Type", JSON_CT), ("x-log-requestid", rid)]))


def error_body(code: str, message: str) -> str:
    """The JSON envelope of an error, for fault rules (quota errors and the like)."""
    return json.dumps({"errorCode": code, "errorMessage": message, "requestId": request_id()})


def ok_json(value, headers=()) -> Response:
    return Response(200, dumps_compact(value), [("Content-Type", JSON_CT),
                                                ("x-log-requestid", request_id()), *headers])


def ok_empty() -> Response:
    return Response(200, b"", [("x-log-requestid", request_id())])


def encode_cursor(value: int) -> str:
    return base64.b64encode(str(value).encode()).decode()


def decode_cursor(cursor: Optional[str]) -> int:
    """The integer of a cursor; tolerates missing padding and a trailing newline."""
    if not cursor:
        raise error(400, "InvalidCursor", "cursor is required")
    text = cursor.strip()
    try:
        value = base64.b64decode(text + "=" * (-len(text) % 4), validate=True).decode("ascii").strip()
        if not value.isdigit():
            raise ValueError
        return int(value)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise error(400, "InvalidCursor", f"cursor {cursor} is invalid") from None


def int_param(request: Request, name: str, default: Optional[int] = None) -> int:
    value = request.query.get(name)
    if value is None or value == "":
        if default is None:
            raise error(400, "ParameterInvalid", f"parameter {name} is required")
        return default
    try:
        return int(value)
    except ValueError:
        raise error(400, "ParameterInvalid", f"parameter {name} must be an integer") from None


def compress_body(raw: bytes, accept: Optional[str]) -> tuple[bytes, str]:
    """The body compressed as the client accepts (lz4, deflate/gzip, or none)."""
    wanted = [token.strip().lower() for token in (accept or "").split(",") if token.strip()]
    if "lz4" in wanted:
        return lz4.block.compress(raw, store_size=False), "lz4"
    if "deflate" in wanted or "gzip" in wanted:
        return zlib.compress(raw), "deflate"
    return raw, ""


class LogAPI:
    """The handlers, bound to one `LogState`."""

    def __init__(self, state: LogState):
        self.state = state

    # -- lookups -----------------------------------------------------------------------

    def project(self, request: Request):
        name = request.host_match["project"]
        project = self.state.projects.get(name)
        if project is None:
            raise error(404, "ProjectNotExist", f"The Project does not exist : {name}")
        return project

    def logstore(self, request: Request):
        project = self.project(request)
        name = request.match["logstore"]
        logstore = project.logstores.get(name)
        if logstore is None:
            raise error(404, "LogStoreNotExist", f"logstore {name} does not exist.")
        return logstore

    def shard(self, request: Request):
        logstore = self.logstore(request)
        shard = logstore.shard(int(request.match["shard"]))
        if shard is None:
            raise error(404, "ShardNotExist", f"shard {request.match['shard']} does not exist.")
        return logstore, shard

    # -- projects ----------------------------------------------------------------------

    @staticmethod
    def _project_json(project) -> dict:
        return {"projectName": project.name, "description": project.description,
                "region": project.region, "owner": project.owner, "status": "Normal",
                "createTime": str(project.create_time), "lastModifyTime": str(project.create_time),
                "resourceGroupId": "", "dataRedundancyType": "LRS"}

    def list_projects(self, request: Request) -> Response:
        offset = int_param(request, "offset", 0)
        size = int_param(request, "size", 100)
        if size > 500 or size < 0 or offset < 0:
            raise error(400, "ParameterInvalid", "size must be 0-500, offset at least 0")
        pattern = request.query.get("projectName") or ""
        projects = [p for name, p in sorted(self.state.projects.items()) if pattern in name]
        page = projects[offset:offset + size]
        return ok_json({"count": len(page), "total": len(projects),
                        "projects": [self._project_json(p) for p in page]})

    def get_project(self, request: Request) -> Response:
        return ok_json(self._project_json(self.project(request)))

    # -- logstores ---------------------------------------------------------------------

    def list_logstores(self, request: Request) -> Response:
        project = self.project(request)
        offset = int_param(request, "offset", 0)
        size = int_param(request, "size", 500)
        pattern = request.query.get("logstoreName") or ""
        names = [name for name in sorted(project.logstores) if pattern in name]
        page = names[offset:offset + size]
        return ok_json({"count": len(page), "total": len(names), "logstores": page})

    def logstore_get(self, request: Request) -> Response:
        """`GET /logstores/{ls}`: GetLogStore, or legacy GetLogs with `type=log`."""
        kind = request.query.get("type")
        if kind == "log":
            return self.get_logs_legacy(request)
        if kind is not None:
            raise error(400, "ParameterInvalid", f"type {kind} is not supported by the emulator")
        logstore = self.logstore(request)
        return ok_json({"logstoreName": logstore.name, "ttl": logstore.ttl,
                        "shardCount": len(logstore.shards), "enable_tracking": False,
                        "autoSplit": False, "maxSplitShard": 64, "appendMeta": logstore.append_meta,
                        "hot_ttl": -1, "mode": "standard", "telemetryType": "",
                        "createTime": logstore.create_time,
                        "lastModifyTime": logstore.last_modify_time})

    def list_shards(self, request: Request) -> Response:
        logstore = self.logstore(request)
        shards = []
        for shard in logstore.shards:
            begin, end = shard.key_range_hex()
            shards.append({"shardID": shard.shard_id, "status": shard.status,
                           "inclusiveBeginKey": begin, "exclusiveEndKey": end,
                           "createTime": shard.create_time})
        return ok_json(shards)

    # -- cursors and pulls -------------------------------------------------------------

    def shard_get(self, request: Request) -> Response:
        kind = request.query.get("type")
        if kind == "cursor":
            return self.get_cursor(request)
        if kind == "cursor_time":
            return self.get_cursor_time(request)
        if kind in ("log", "logs"):
            return self.pull_logs(request)
        raise error(400, "ParameterInvalid", f"type {kind} is not supported")

    def get_cursor(self, request: Request) -> Response:
        logstore, shard = self.shard(request)
        begin, end = self.state.cursor_range(logstore, shard)
        start = request.query.get("from")
        if start == "begin":
            cursor = begin
        elif start == "end":
            cursor = end
        else:
            try:
                when = int(start)
            except (TypeError, ValueError):
                raise error(400, "ParameterInvalid", f"from {start} is not begin, end or a "
                            "unix time") from None
            cursor = self.state.cursor_at(logstore, shard, when)
        return ok_json({"cursor": encode_cursor(cursor)})

    def _check_cursor(self, logstore, shard, value: int) -> int:
        begin, end = self.state.cursor_range(logstore, shard)
        if not begin <= value <= end:
            raise error(400, "InvalidCursor", f"cursor {encode_cursor(value)} is out of the "
                        f"shard's range")
        return value - shard.cursor_base

    def get_cursor_time(self, request: Request) -> Response:
        logstore, shard = self.shard(request)
        index = self._check_cursor(logstore, shard, decode_cursor(request.query.get("cursor")))
        when = self.state.now() if index >= shard.count() else shard.time_of(index)
        return ok_json({"cursor_time": when})

    def pull_logs(self, request: Request) -> Response:
        logstore, shard = self.shard(request)
        start = self._check_cursor(logstore, shard, decode_cursor(request.query.get("cursor")))
        count = int_param(request, "count", MAX_PULL_COUNT)
        if not 0 < count <= MAX_PULL_COUNT:
            raise error(400, "ParameterInvalid", f"count must be 1-{MAX_PULL_COUNT}")
        stop = min(start + count, shard.count())
        end_cursor = request.query.get("end_cursor")
        if end_cursor:
            stop = min(stop, max(start, decode_cursor(end_cursor) - shard.cursor_base))
        raw = b"".join(shard.framed_group(i) for i in range(start, stop))
        body, compress_type = compress_body(raw, request.header("Accept-Encoding"))
        headers = [("Content-Type", PROTOBUF_CT), ("x-log-requestid", request_id()),
                   ("x-log-cursor", encode_cursor(shard.cursor_base + stop)),
                   ("x-log-count", str(stop - start)), ("x-log-bodyrawsize", str(len(raw)))]
        if compress_type:
            headers.append(("x-log-compresstype", compress_type))
        return Response(200, body, headers)

    # -- writes ------------------------------------------------------------------------

    def put_logs(self, request: Request) -> Response:
        logstore = self.logstore(request)
        if request.match["how"] == "route":
            key = request.query.get("key") or ""
            try:
                value = int(key, 16)
                if not key or len(key) > 32 or value >= HASH_SPACE:
                    raise ValueError
            except ValueError:
                raise error(400, "ParameterInvalid", f"hash key {key} is not a 128-bit hex "
                            "value") from None
            shard = logstore.shard_for_key(value)
            if shard is None:
                raise error(400, "ShardNotExist", f"no writable shard holds hash key {key}")
        else:
            shard = logstore.next_shard()
        raw = self._put_body(request)
        group = pb_raw.LogGroup()
        try:
            group.ParseFromString(raw)
        except Exception:
            raise error(400, "PostBodyInvalid", "the body is not a serialized LogGroup") from None
        for log in group.Logs:
            if not log.HasField("Time"):
                raise error(400, "PostBodyInvalid", "a log has no Time")
            for content in log.Contents:
                if len(content.Value) > MAX_VALUE_BYTES:
                    raise error(400, "PostBodyInvalid", "a value is larger than 1 MB")
        shard.append(raw, self.state.now())
        return ok_empty()

    @staticmethod
    def _put_body(request: Request) -> bytes:
        compress_type = (request.header("x-log-compresstype") or "").strip().lower()
        body = request.body
        if compress_type in ("", "none"):
            raw = body
        else:
            size = request.header("x-log-bodyrawsize")
            if size is None:
                raise error(400, "MissingBodyRawSize", "x-log-bodyrawsize is required with "
                            "x-log-compresstype")
            try:
                size = int(size)
            except ValueError:
                raise error(400, "InvalidBodyRawSize", "x-log-bodyrawsize is not a number") from None
            if size > MAX_PUT_RAW_BYTES:
                raise error(413, "PostBodyTooLarge", f"body of {size} bytes is larger than "
                            f"{MAX_PUT_RAW_BYTES} bytes")
            try:
                if compress_type == "lz4":
                    raw = lz4.block.decompress(body, uncompressed_size=size)
                elif compress_type in ("deflate", "gzip"):
                    raw = zlib.decompress(body)
                else:
                    raise error(400, "InvalidCompressType", f"compress type {compress_type} is "
                                "not supported")
            except (lz4.block.LZ4BlockError, zlib.error):
                raise error(400, "PostBodyUncompressError", "the body does not decompress") from None
            if len(raw) != size:
                raise error(400, "InvalidBodyRawSize", "x-log-bodyrawsize does not match the body")
        if len(raw) > MAX_PUT_RAW_BYTES:
            raise error(413, "PostBodyTooLarge", f"body of {len(raw)} bytes is larger than "
                        f"{MAX_PUT_RAW_BYTES} bytes")
        return raw

    # -- queries (GetLogs) -------------------------------------------------------------

    def _query(self, logstore, start: int, stop: int, query: str, topic: Optional[str]):
        """Logs with `start <= Time < stop` matching *query* (`*`, `key: value`,
        `key: value and key2: value2`), as the service's query result dicts, by time."""
        terms = []
        query = (query or "").strip()
        if query and query != "*":
            for part in re.split(r"\s+and\s+", query, flags=re.IGNORECASE):
                key, sep, value = part.partition(":")
                if not sep:
                    raise error(400, "InvalidQueryString", f"query {query} is not supported by "
                                "the emulator (use *, key: value, and)")
                terms.append((key.strip(), value.strip().strip('"')))
        found = []
        for shard in logstore.shards:
            for index in range(self.state.begin_index(logstore, shard), shard.count()):
                group = pb_raw.LogGroupList.FromString(shard.framed_group(index)).LogGroups[0]
                group_topic = group.Topic.decode("utf-8", "replace")
                if topic is not None and group_topic != topic:
                    continue
                tags = {"__tag__:" + t.Key.decode("utf-8", "replace"): t.Value.decode("utf-8", "replace")
                        for t in group.LogTags}
                for log in group.Logs:
                    if not start <= log.Time < stop:
                        continue
                    row = {"__time__": str(log.Time), "__topic__": group_topic,
                           "__source__": group.Source.decode("utf-8", "replace"), **tags}
                    for content in log.Contents:
                        row[content.Key.decode("utf-8", "replace")] = content.Value.decode("utf-8", "replace")
                    if all(row.get(k) == v for k, v in terms):
                        found.append((log.Time, row))
        found.sort(key=lambda pair: pair[0])
        return [row for _, row in found]

    def get_logs_v2(self, request: Request) -> Response:
        logstore = self.logstore(request)
        try:
            params = request.json()
            start, stop = int(params["from"]), int(params["to"])
            line, offset = int(params.get("line", 100)), int(params.get("offset", 0))
        except (ValueError, KeyError, TypeError):
            raise error(400, "ParameterInvalid", "the body must be a JSON object with from, "
                        "to, line and offset") from None
        if stop < start:
            raise error(400, "InvalidTimeRange", "to is before from")
        rows = self._query(logstore, start, stop, params.get("query", ""), params.get("topic") or None)
        if params.get("reverse"):
            rows.reverse()
        page = rows[offset:offset + line] if line >= 0 else rows[offset:]
        result = {"meta": {"progress": "Complete", "count": len(page), "processedRows": len(rows),
                           "elapsedMillisecond": 1, "hasSQL": False, "whereQuery": "",
                           "aggQuery": "", "cpuSec": 0.0, "cpuCores": 0, "keys": [], "terms": [],
                           "mode": 0, "isAccurate": True},
                  "data": page}
        raw = dumps_compact(result)
        body, compress_type = compress_body(raw, request.header("Accept-Encoding"))
        headers = [("Content-Type", JSON_CT), ("x-log-requestid", request_id()),
                   ("x-log-bodyrawsize", str(len(raw)))]
        if compress_type:
            headers.append(("x-log-compresstype", compress_type))
        return Response(200, body, headers)

    def get_logs_legacy(self, request: Request) -> Response:
        logstore = self.logstore(request)
        start, stop = int_param(request, "from"), int_param(request, "to")
        line, offset = int_param(request, "line", 100), int_param(request, "offset", 0)
        rows = self._query(logstore, start, stop, request.query.get("query", ""),
                           request.query.get("topic") or None)
        if (request.query.get("reverse") or "").lower() == "true":
            rows.reverse()
        page = rows[offset:offset + line]
        return ok_json(page, headers=[("x-log-progress", "Complete"), ("x-log-count", str(len(page))),
                                      ("x-log-processed-rows", str(len(rows))),
                                      ("x-log-query-info", '{"mode":0}')])
