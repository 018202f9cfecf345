"""Shared kit for the service emulators: a loopback HTTP/1.1 server with routing and fault injection.

Every backend ships a local stand-in of its service (see DESIGN.md, "Emulators"); this
package holds everything those stand-ins have in common and nothing service-specific: a
threaded HTTP/1.1 server bound to a loopback address (keep-alive, Content-Length or chunked
bodies; `server`, `handler`), a method + regex route table (`routing`), a `Request` with a
multi-dict query, decoded body and parsed Basic credentials (`wire`), response helpers for
JSON, JSON lines, msgpack, text and streamed chunks (`responses`), gzip when the client
accepts it with cached pre-compressed body blocks for large read paths (`bodies`), an auth
hook chosen by each emulator, a bounded request log (`requestlog`), and fault injection:
error statuses with headers such as Retry-After, delays, bodies cut mid-stream (`faults`).
Faults and the log are driven either from Python (`server.faults`, `server.requests`) or
over HTTP through the control paths under `/__emulator__/` (`control`): `faults` (GET lists,
POST `{"rules": [...]}` adds, DELETE clears), `requests` (GET reads, DELETE clears) and
`health` (GET). Those paths need no auth, which is acceptable only because the server
refuses any address but loopback and is a test tool. Run a server with `start_in_thread()`
(tests) or `serve_forever()` (CLI) from `runners`. Each backend's emulator declares itself
to the core with an `EmulatorSpec` (`spec`). Everything public is re-exported here,
so emulators and tests import from `hubfs.emulation` and never from its modules.
"""

from .bodies import DEFAULT_BLOCK_LEVEL, DEFAULT_CACHE_BYTES, Block, BodyCache, crc32_combine, gzip_bytes
from .control import CONTROL_PREFIX
from .faults import FaultInjector, FaultRule
from .requestlog import DEFAULT_LOG_LIMIT, REDACTED_PARAMS, RequestLog, redact_query
from .responses import (JSON_CT, JSONLINES_CT, MSGPACK_CT, STREAM_FRAME_BYTES, TEXT_CT, HTTPError, Response,
                        coalesce, dumps_compact, empty_response, json_response, jsonlines_response,
                        msgpack_response, stream_response, text_response)
from .routing import Route, Router, host_without_port
from .runners import ServerHandle, serve_forever, start_in_thread
from .server import LOOPBACK_HOSTS, AuthHook, EmulatorServer
from .spec import EmulatorSpec, load_spec
from .wire import MultiDict, Request, accepts_gzip, parse_basic_auth, parse_query

__all__ = [
    # wire: requests
    "MultiDict", "Request", "accepts_gzip", "parse_basic_auth", "parse_query",
    # responses
    "JSON_CT", "JSONLINES_CT", "MSGPACK_CT", "TEXT_CT", "STREAM_FRAME_BYTES",
    "HTTPError", "Response", "coalesce", "dumps_compact", "empty_response", "json_response",
    "jsonlines_response", "msgpack_response", "stream_response", "text_response",
    # bodies: cached blocks and gzip
    "DEFAULT_BLOCK_LEVEL", "DEFAULT_CACHE_BYTES", "Block", "BodyCache", "crc32_combine", "gzip_bytes",
    # routing, faults, request log
    "Route", "Router", "host_without_port", "FaultInjector", "FaultRule",
    "DEFAULT_LOG_LIMIT", "REDACTED_PARAMS", "RequestLog", "redact_query",
    # server, control paths and runners
    "AuthHook", "CONTROL_PREFIX", "EmulatorServer", "LOOPBACK_HOSTS",
    "ServerHandle", "serve_forever", "start_in_thread",
    # the contract each backend's emulator declares
    "EmulatorSpec", "load_spec",
]
