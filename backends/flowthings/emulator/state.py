"""State of the flowthings emulator: accounts, flows and their drops, with no HTTP in sight.

Flows are kept by id and by path; each flow's drops are a list in creation order (ties in
`creationDate` keep insertion order), so "oldest first" paging is a slice and a flow of
100,000 drops answers any page at once. Server fields follow protocols/flowthings.md
section 7: ids are a type letter and 24 hex digits, times are epoch milliseconds, a flow's
`capacity` (default 1000, at most 100,000) evicts its oldest drops. Values sent in the
v0.1 typed form (`{"type": T, "value": V}`) are stored plain; `typed()` gives them back
typed for v0.1 readers that did not ask for `hints=0`. Errors are `StateError(status,
message)`, which the handlers put in the envelope. Thread-safe (one lock).
"""

import hashlib
import re
import threading
import time

DEFAULT_CAPACITY = 1000
MAX_CAPACITY = 100_000
PATH_MAX = 128
# Segments as the Java client validates them, plus upper case and dots (assumption: the
# service is at least that liberal).
SEGMENT = re.compile(r"^[A-Za-z0-9_:.-]+$")
# v0.1 element types (protocols/flowthings.md section 7).
ELEM_TYPES = frozenset((
    "string", "integer", "float", "boolean", "date", "list", "set", "sortedSet", "map",
    "sortedMap", "location", "length", "duration", "media", "text", "url", "email", "id",
    "dropRef", "flowRef"))
SERVER_FIELDS = ("id", "creationDate", "lastEditDate", "creatorId", "lastEditorId")
DROP_FIELDS = ("elems", "location", "fhash", "parentDropId")


class StateError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


def type_of(value):
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    if isinstance(value, dict):
        return "map"
    if isinstance(value, list):
        return "list"
    return "string"


def plain(elems):
    """Elements with v0.1 typed wrappers replaced by their values."""
    out = {}
    for key, value in elems.items():
        if (isinstance(value, dict) and set(value) == {"type", "value"}
                and value["type"] in ELEM_TYPES):
            value = value["value"]
        out[key] = value
    return out


def typed(drop):
    """A copy of *drop* whose elements are `{"type", "value"}` (what v0.1 reads returned)."""
    copy = dict(drop)
    copy["elems"] = {k: {"type": type_of(v), "value": v} for k, v in drop["elems"].items()}
    return copy


class Account:
    def __init__(self, name, token, identity):
        self.name = name
        self.token = token
        self.identity = identity


class FlowthingsState:
    """Accounts, flows and drops. *clock* returns epoch milliseconds (tests pin it)."""

    def __init__(self, clock=None):
        self.clock = clock or (lambda: int(time.time() * 1000))
        self.lock = threading.RLock()
        self.accounts = {}  # name -> Account
        self.flows = {}  # id -> flow dict
        self.paths = {}  # path -> flow id
        self.drops = {}  # flow id -> list of drops, oldest first
        self.drop_ids = {}  # flow id -> {drop id: drop}
        self._counters = {}
        self._last_ms = 0
        # The most objects one find returns, whatever `limit` asks (the real cap is not
        # documented; tests lower it to show that a silent cap loses nothing).
        self.max_limit = 1000

    # -- ids and time --------------------------------------------------------------------

    def new_id(self, letter):
        number = self._counters.get(letter, 0) + 1
        self._counters[letter] = number
        return letter + hashlib.sha1(f"{letter}:{number}".encode()).hexdigest()[:24]

    def now(self):
        # Never backwards: drops of one flow keep their creation order in creationDate.
        self._last_ms = max(self._last_ms, int(self.clock()))
        return self._last_ms

    # -- accounts ------------------------------------------------------------------------

    def add_account(self, name, token):
        account = Account(name, token, self.new_id("i"))
        self.accounts[name] = account
        return account

    def account_of_token(self, token):
        for account in self.accounts.values():
            if account.token == token:
                return account
        return None

    # -- flows ---------------------------------------------------------------------------

    def create_flow(self, account, body, when=None):
        if not isinstance(body, dict):
            raise StateError(400, "A flow is a JSON object.")
        path = body.get("path")
        if not isinstance(path, str):
            raise StateError(400, "The flow path is required.")
        path = path.rstrip("/") if len(path) > 1 else path
        self._check_path(account, path)
        capacity = body.get("capacity", DEFAULT_CAPACITY)
        if isinstance(capacity, bool) or not isinstance(capacity, int) or not 0 <= capacity <= MAX_CAPACITY:
            raise StateError(400, f"capacity must be an integer from 0 to {MAX_CAPACITY}.")
        with self.lock:
            if path in self.paths:
                raise StateError(400, f"A flow already exists at the path {path}.")
            stamp = self.now() if when is None else when
            flow = {"id": self.new_id("f"), "path": path, "capacity": capacity}
            for key, value in body.items():
                if key not in ("id", "path", "capacity") and key not in SERVER_FIELDS:
                    flow[key] = value
            flow.update(creationDate=stamp, lastEditDate=stamp,
                        creatorId=account.identity, lastEditorId=account.identity)
            self.flows[flow["id"]] = flow
            self.paths[path] = flow["id"]
            self.drops[flow["id"]] = []
            self.drop_ids[flow["id"]] = {}
            return flow

    def _check_path(self, account, path):
        parts = path.split("/")
        if len(path) > PATH_MAX:
            raise StateError(400, f"A flow path has at most {PATH_MAX} characters.")
        if len(parts) < 3 or parts[0] != "" or not all(SEGMENT.match(p) for p in parts[1:]):
            raise StateError(400, f"Invalid flow path {path!r}: expected /{account.name}/<name>[/<name>...]"
                                  " with letters, digits, '-', '_', ':' or '.'.")
        if parts[1] != account.name:
            raise StateError(403, f"The path {path} is outside the account {account.name}.")

    def flow(self, account, flow_id):
        flow = self.flows.get(flow_id)
        if flow is None or not flow["path"].startswith(f"/{account.name}/"):
            raise StateError(404, "The requested resource could not be located at this address.")
        return flow

    def account_flows(self, account):
        prefix = f"/{account.name}/"
        with self.lock:
            return [f for f in self.flows.values() if f["path"].startswith(prefix)]

    def update_flow(self, account, flow_id, changes):
        if not isinstance(changes, dict):
            raise StateError(400, "A flow update is a JSON object.")
        with self.lock:
            flow = self.flow(account, flow_id)
            if "path" in changes and changes["path"] != flow["path"]:
                raise StateError(400, "The path of a flow cannot be changed.")
            for key, value in changes.items():
                if key not in SERVER_FIELDS and key != "path":
                    flow[key] = value
            flow["lastEditDate"] = self.now()
            flow["lastEditorId"] = account.identity
            return flow

    def delete_flow(self, account, flow_id):
        with self.lock:
            flow = self.flow(account, flow_id)
            del self.flows[flow_id]
            del self.paths[flow["path"]]
            self.drops.pop(flow_id, None)
            self.drop_ids.pop(flow_id, None)

    # -- drops ---------------------------------------------------------------------------

    def create_drop(self, account, flow, body, when=None):
        if not isinstance(body, dict):
            raise StateError(400, "A drop is a JSON object.")
        elems = body.get("elems", {})
        if not isinstance(elems, dict):
            raise StateError(400, "elems must be a JSON object.")
        with self.lock:
            stamp = self.now() if when is None else when
            drop = {"id": self.new_id("d"), "flowId": flow["id"], "path": flow["path"],
                    "creationDate": stamp, "lastEditDate": stamp, "elems": plain(elems)}
            for key in DROP_FIELDS[1:]:
                if key in body:
                    drop[key] = body[key]
            drops = self.drops[flow["id"]]
            index = self.drop_ids[flow["id"]]
            if flow.get("capacity", DEFAULT_CAPACITY) == 0:
                return drop  # push only: nothing is stored
            drops.append(drop)
            index[drop["id"]] = drop
            excess = len(drops) - flow.get("capacity", DEFAULT_CAPACITY)
            if excess > 0:
                for old in drops[:excess]:
                    index.pop(old["id"], None)
                del drops[:excess]
            return drop

    def flow_drops(self, flow):
        return self.drops[flow["id"]]

    def drop(self, flow, drop_id):
        drop = self.drop_ids[flow["id"]].get(drop_id)
        if drop is None:
            raise StateError(404, "The requested resource could not be located at this address.")
        return drop

    def delete_drop(self, flow, drop_id):
        with self.lock:
            drop = self.drop(flow, drop_id)
            self.drops[flow["id"]].remove(drop)
            del self.drop_ids[flow["id"]][drop_id]

    def delete_drops(self, flow):
        with self.lock:
            self.drops[flow["id"]].clear()
            self.drop_ids[flow["id"]].clear()

    def flow_by_path(self, account, path):
        flow_id = self.paths.get(path.rstrip("/"))
        if flow_id is None:
            raise StateError(404, f"No flow at the path {path}.")
        return self.flow(account, flow_id)
