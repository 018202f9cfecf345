"""Fault injection for the emulator kit: rules that make a server misbehave on purpose.

A `FaultRule` picks requests by method, path and query regexes, lets the first *skip* pass,
then for *times* requests delays them, answers with an error status (with headers such as
Retry-After) instead of the handler, or cuts the real body after a number of bytes. A
`FaultInjector` is the ordered, thread-safe list of rules a server consults for every
request; tests fill it from Python (`server.faults`) or over HTTP through the control paths.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import Optional

from .responses import TEXT_CT, Response

_RULE_FIELDS = ("method", "path", "query", "skip", "times", "status", "body", "headers",
                "delay", "cut_after")


@dataclass
class FaultRule:
    """One injected fault. Matching: *method* (optional, exact), *path* (regex searched in the
    decoded path), *query* (optional regex searched in the raw query). The first *skip*
    matching requests pass untouched, the next *times* ones (-1 = forever) get the effect:
    *delay* seconds of sleep, then either an answer with *status* (+ *body*, *headers*)
    instead of the handler, or the handler's real answer with only the first *cut_after*
    body bytes sent before the connection is closed. A sized body announces its full
    Content-Length; a streamed one announces a full chunk and delivers part of it; with
    gzip the count is of compressed bytes. Either way the client sees a short read.
    """

    path: str = ""
    method: Optional[str] = None
    query: Optional[str] = None
    skip: int = 0
    times: int = 1
    status: Optional[int] = None
    body: Optional[str] = None
    headers: dict = field(default_factory=dict)
    delay: float = 0.0
    cut_after: Optional[int] = None
    seen: int = 0      # matching requests so far
    applied: int = 0   # requests that got the effect

    def __post_init__(self) -> None:
        self._path_re = re.compile(self.path or "")
        self._query_re = re.compile(self.query) if self.query is not None else None
        if self.method:
            self.method = self.method.upper()
        if self.status is None and self.cut_after is None and not self.delay:
            raise ValueError("fault rule needs an effect: status, delay or cut_after")
        if self.status is not None and not 100 <= int(self.status) <= 599:
            raise ValueError(f"bad fault status {self.status!r}")
        if self.times < -1 or self.skip < 0 or (self.cut_after is not None and self.cut_after < 0):
            raise ValueError("skip, times and cut_after must not be negative (times may be -1)")

    @classmethod
    def from_dict(cls, data: dict) -> "FaultRule":
        if not isinstance(data, dict):
            raise ValueError("a fault rule is a JSON object")
        unknown = set(data) - set(_RULE_FIELDS)
        if unknown:
            raise ValueError(f"unknown fault rule fields: {sorted(unknown)}")
        return cls(**data)

    def to_dict(self) -> dict:
        out = {name: getattr(self, name) for name in _RULE_FIELDS}
        out.update(seen=self.seen, applied=self.applied)
        return out

    def matches(self, method: str, path: str, raw_query: str) -> bool:
        if self.method and self.method != method:
            return False
        if not self._path_re.search(path):
            return False
        return self._query_re is None or bool(self._query_re.search(raw_query))

    @property
    def exhausted(self) -> bool:
        return self.times != -1 and self.applied >= self.times

    def error_response(self) -> Response:
        body = self.body if self.body is not None else ""
        headers = dict(self.headers or {})
        if body and not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = TEXT_CT
        return Response(int(self.status), body.encode("utf-8") if isinstance(body, str) else body,
                        list(headers.items()))


class FaultInjector:
    """Ordered, thread-safe list of `FaultRule`s. The first rule that matches a request and
    is neither skipping nor exhausted applies; rules that only count a skip let later rules
    be considered."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.rules: list[FaultRule] = []

    def add(self, rule: FaultRule | dict | None = None, **fields) -> FaultRule:
        """Append a rule, given as a FaultRule, a dict or keyword fields; raises ValueError."""
        if rule is None:
            rule = FaultRule.from_dict(fields)
        elif isinstance(rule, dict):
            rule = FaultRule.from_dict(rule)
        with self._lock:
            self.rules.append(rule)
        return rule

    def clear(self) -> int:
        with self._lock:
            count = len(self.rules)
            self.rules.clear()
        return count

    def snapshot(self) -> list[dict]:
        with self._lock:
            return [rule.to_dict() for rule in self.rules]

    def match(self, method: str, path: str, raw_query: str) -> Optional[FaultRule]:
        with self._lock:
            for rule in self.rules:
                if rule.exhausted or not rule.matches(method, path, raw_query):
                    continue
                rule.seen += 1
                if rule.seen <= rule.skip:
                    continue
                rule.applied += 1
                return rule
        return None
