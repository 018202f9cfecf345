"""The flowthings tree: an account's flows as directories that mirror their paths.

The remote's root is the account (`/<account>`); a flow at `/<account>/a/b` is the
directory `a/b`, holding `flow.json` (the flow object, indented, sorted keys) and
`drops.jl` (every drop, oldest first, one JSON line each, see `drop_lines`) next to the
directories of its child flows. A path that only has flows below it (`/demo/sensors` when
just `/demo/sensors/kitchen` exists) is a directory without those two files. `mkdir`
creates a flow at once; appending lines to `drops.jl` creates one drop per line at close,
one POST after another so that the drops keep the order of the lines. A child flow named
`flow.json` or `drops.jl` would shadow the files and is left out of listings. Names are
escaped by `hubfs.names` (flow names rarely need it).
"""

import json
import logging
import re

from hubfs import names
from hubfs.errors import InvalidContent, NotFound, ReadOnly
from hubfs.tree import Dir, File, Kind

from . import drop_lines

log = logging.getLogger(__name__)

FLOW_JSON = "flow.json"
DROPS_JL = "drops.jl"
FILES = (FLOW_JSON, DROPS_JL)
# What a new flow's name may hold (the Java client's path rule, plus upper case and
# dots) and how long a path may be (protocols/flowthings.md section 7).
NEW_NAME = re.compile(r"^[A-Za-z0-9_:.-]+$")
PATH_MAX = 128

_encode_flow = json.JSONEncoder(ensure_ascii=False, indent=2, sort_keys=True).encode


class Site:
    """What every node of one remote shares: the client, the remote's name and start time."""

    def __init__(self, client, name, started):
        self.client = client
        self.name = name
        self.started = started


def _mtime(site, obj):
    stamp = obj.get("lastEditDate") if isinstance(obj, dict) else None
    if isinstance(stamp, (int, float)) and not isinstance(stamp, bool):
        return stamp / 1000.0
    return site.started


class FlowDir(Dir):
    """The directory of flow path *path*; *flow* is the flow there, or None."""

    writable = True

    def __init__(self, site, path, flow, name):
        super().__init__(name, _mtime(site, flow))
        self.site = site
        self.path = path
        self.flow = flow

    @property
    def where(self):
        return f"{self.site.name}: {self.path}"

    def children(self):
        if self.flow is not None:
            yield FlowFile(self)
            yield DropsFile(self)
        below = self.site.client.flows_below(self.path)
        seen = {}
        for flow in below:
            rest = flow.get("path", "")[len(self.path) + 1:]
            segment = rest.split("/", 1)[0]
            if not segment:
                continue
            if "/" not in rest:
                seen[segment] = flow  # the child flow itself
            else:
                seen.setdefault(segment, None)  # only flows below it, so far
        for segment in sorted(seen):
            name = names.file_name(segment)
            if name is None or name in FILES:
                if name in FILES:
                    log.warning("%s/%s: a child flow with this name is hidden by the file",
                                self.where, segment)
                continue
            yield FlowDir(self.site, f"{self.path}/{segment}", seen[segment], name)

    def child(self, name):
        if name in FILES:
            if self.flow is None:
                raise NotFound(f"{self.where}: no flow here, so no {name}")
            return FlowFile(self) if name == FLOW_JSON else DropsFile(self)
        try:
            segment = names.unescape(name)
        except InvalidContent:
            raise NotFound(f"{self.where}: no flow {name!r}") from None
        if not segment or "/" in segment:
            raise NotFound(f"{self.where}: no flow {name!r}")
        path = f"{self.path}/{segment}"
        flow, below = self.site.client.flow_or_below(path)
        if flow is None and not below:
            raise NotFound(f"{self.site.name}: no flow at {path}")
        return FlowDir(self.site, path, flow, name)

    def mkdir(self, name):
        if name in FILES:
            raise InvalidContent(f"{self.where}: {name!r} is the name of a flow's file")
        path = f"{self.path}/{name}"
        if not NEW_NAME.match(name) or len(path) > PATH_MAX:
            raise InvalidContent(f"{self.where}: {name!r}: a flow name holds letters, digits, "
                                 f"'-', '_', ':' and '.', and a flow path at most {PATH_MAX} "
                                 "characters")
        made = FlowDir(self.site, path, self.site.client.create_flow(path), name)
        made.made_on_service = True  # the flow exists now, with its flow.json and drops.jl
        return made

    def create(self, name):
        if name == DROPS_JL and self.flow is not None:
            # An O_CREAT open of drops.jl in a flow whose listing was not asked for yet.
            return DropsFile(self)
        raise ReadOnly(f"{self.where}: only flow.json and drops.jl live in a flow directory "
                       "(mkdir makes a child flow)")


class FlowFile(File):
    """`flow.json`: the flow object as the service returns it now."""

    kind = Kind.RENDERED

    def __init__(self, flow_dir):
        super().__init__(FLOW_JSON, flow_dir.mtime)
        self.flow_dir = flow_dir

    def render(self, after=None):
        flow = self.flow_dir.site.client.get_flow(self.flow_dir.flow["id"])
        yield (_encode_flow(flow) + "\n").encode("utf-8"), None


class DropsFile(File):
    """`drops.jl`: every drop of the flow, oldest first; appended lines become drops."""

    kind = Kind.RENDERED
    writable = True
    write_mode = "append"

    def __init__(self, flow_dir):
        super().__init__(DROPS_JL, flow_dir.mtime)
        self.flow_dir = flow_dir

    @property
    def flow_id(self):
        return self.flow_dir.flow["id"]

    def render(self, after=None):
        for chunk in self.flow_dir.site.client.drop_pages(self.flow_id, drop_lines.encode_page):
            yield chunk, None

    def commit(self, path, progress):
        # Check every line before sending any: a bad line sends nothing.
        bodies = drop_lines.parse_appended(path)
        sent = int(progress.state.get("sent", 0))
        client = self.flow_dir.site.client
        for number in range(sent, len(bodies)):
            client.create_drop(self.flow_id, bodies[number])
            # Acknowledged: a resend after a failure or a crash starts after this drop.
            progress.record(sent=number + 1)
