"""The unauthenticated `/__emulator__/` control paths every emulator server answers.

Tests and tools in other processes (a mounted filesystem, the CLI) drive an emulator over
HTTP: `GET|POST|DELETE faults` lists, adds (`{"rules": [...]}`) and clears fault rules,
`GET|DELETE requests` reads and clears the request log, and `GET health` says the server is
up. They need no credentials because a server only ever listens on loopback and is a test
tool; the handler sends them here before auth, faults and the request log.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

from .faults import FaultRule
from .responses import Response, json_response, text_response

if TYPE_CHECKING:  # only for the annotation: server.py imports this module through handler.py
    from .server import EmulatorServer

CONTROL_PREFIX = "/__emulator__/"


def control_response(server: "EmulatorServer", method: str, path: str, body: bytes) -> Response:
    """Answer one request to a control path (*path* starts with CONTROL_PREFIX)."""
    what = path[len(CONTROL_PREFIX):].strip("/")
    if what == "faults":
        if method == "GET":
            return json_response({"rules": server.faults.snapshot()})
        if method == "DELETE":
            return json_response({"cleared": server.faults.clear()})
        if method == "POST":
            try:
                payload = json.loads(body.decode("utf-8") or "{}")
                rules = payload["rules"] if isinstance(payload, dict) else None
                if not isinstance(rules, list):
                    raise ValueError('expected {"rules": [...]}')
                parsed = [FaultRule.from_dict(r) for r in rules]
            except (ValueError, KeyError, TypeError, re.error) as exc:
                return json_response({"error": str(exc)}, 400)
            for rule in parsed:
                server.faults.add(rule)
            return json_response({"added": len(parsed)})
    elif what == "requests":
        if method == "GET":
            return json_response(server.requests.entries())
        if method == "DELETE":
            server.requests.clear()
            return json_response({"cleared": True})
    elif what == "health" and method == "GET":
        return json_response({"name": server.name, "ok": True})
    else:
        return text_response("Not Found\n", 404)
    return text_response("Method Not Allowed\n", 405)
