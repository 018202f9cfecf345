"""A project's frontiers (HCF) as files: `frontier/<frontier>/<slot>.jl`.

`frontier/` lists the project's frontiers, a frontier directory its slots, each as
`<slot>.jl` (frontier and slot names escaped as in `hubfs/names.py`). A slot file renders the
requests one read of the slot's queue hands out, one per line as `{"fp": ..., "qdata":
...}` in the service's order (`qdata` left out when null). It is append-only for
writers: the lines appended to it (`echo '{"fp": "/page/1"}' >> s.jl`) are added to the
slot, each a JSON object with a string `fp`, an optional `qdata` object and an optional
integer `p`; a malformed line fails the whole append before anything is sent. New
frontier and slot names cannot be empty, `.` or `..`, or hold `/`: the service addresses
them in the URL path, where HTTP stacks resolve those. The service keeps a request only
when its fingerprint is new to the slot, so an appended line may not show up (already
seen, even if since consumed), and a resend after a crash adds nothing twice. A new slot
(`touch frontier/F/new.jl`, or an append to it) and a new frontier (`mkdir
frontier/new`) exist only locally until their first request is added. `rm` of a slot
file deletes the slot; `rmdir` of a frontier refuses while it has slots and otherwise
succeeds without a request.
"""

from hubfs.errors import InvalidContent, NotEmpty, NotFound
from hubfs.tree import Dir, File, Kind

from hubfs import names

from . import validation

JL = ".jl"
# The official frontier writer's batch size; a batch is also cut at about 1 MiB.
ADD_BATCH = 5000
ADD_BATCH_BYTES = 1024 * 1024


class FrontiersDir(Dir):
    NAME = "frontier"
    writable = True

    def __init__(self, site, project):
        super().__init__(self.NAME, site.started)
        self.site = site
        self.project = project

    def children(self):
        for frontier in self.site.frontier.list_frontiers(self.project):
            name = names.file_name(frontier)
            if name is not None:
                yield FrontierDir(self.site, self.project, frontier, name)

    def child(self, name):
        try:
            frontier = names.unescape(name)
        except InvalidContent:
            frontier = None
        if frontier not in self.site.frontier.list_frontiers(self.project):
            raise NotFound(f"{self.site.name}: no frontier {name!r} in project {self.project}")
        return FrontierDir(self.site, self.project, frontier, name)

    def mkdir(self, name):
        frontier = _new_name(name, "frontier")
        return FrontierDir(self.site, self.project, frontier, name)


class FrontierDir(Dir):
    writable = True

    def __init__(self, site, project, frontier, name):
        super().__init__(name, site.started)
        self.site = site
        self.project = project
        self.frontier = frontier

    @property
    def where(self):
        return f"{self.site.name}: hcf/{self.project}/{self.name}"

    def children(self):
        for slot in self.site.frontier.list_slots(self.project, self.frontier):
            name = names.file_name(slot, JL)
            if name is not None:
                yield SlotFile(self, slot, name)

    def child(self, name):
        slot = _slot(name)
        if slot is None or slot not in self.site.frontier.list_slots(self.project,
                                                                     self.frontier):
            raise NotFound(f"{self.where}: no slot file {name!r}")
        return SlotFile(self, slot, name)

    def create(self, name):
        if not name.endswith(JL):
            raise InvalidContent(f"{name!r}: slot files are named <slot>.jl")
        slot = _new_name(name[:-len(JL)], "slot")
        return SlotFile(self, slot, name)

    def delete(self):
        if self.site.frontier.list_slots(self.project, self.frontier):
            raise NotEmpty(f"{self.where}: the frontier still has slots")


def _new_name(name, what):
    """The frontier or slot name a new file name stands for; `InvalidContent` for names
    the service's URLs cannot address (HTTP stacks decode `%2F` and drop `.` segments)."""
    value = names.unescape(name)
    if not value or value in (".", "..") or "/" in value:
        raise InvalidContent(f"{name!r}: a {what} name cannot be empty, '.' or '..' or "
                             "hold '/' (the service addresses it in the URL path)")
    return value


def _slot(name):
    """The slot a file name stands for, or None."""
    if not name.endswith(JL):
        return None
    try:
        slot = names.unescape(name[:-len(JL)])
    except InvalidContent:
        return None
    return slot or None


class SlotFile(File):
    kind = Kind.RENDERED
    writable = True
    write_mode = "append"

    def __init__(self, frontier, slot, name):
        super().__init__(name, frontier.site.started, immutable=False)
        self.frontier = frontier
        self.slot = slot

    def _args(self):
        return self.frontier.project, self.frontier.frontier, self.slot

    def render(self, after=None):
        lines = []
        for fp, qdata in self.frontier.site.frontier.queue(*self._args()):
            request = {"fp": fp} if qdata is None else {"fp": fp, "qdata": qdata}
            lines.append(validation.encode(request) + b"\n")
        yield b"".join(lines), None

    def commit(self, path, progress):
        # Check every line first: nothing is sent when one is malformed.
        for number, obj in validation.parse_lines(path):
            validation.frontier_request(number, obj)
        api = self.frontier.site.frontier
        # Batches acknowledged by an earlier attempt are not sent again (the frontier
        # drops repeated fingerprints anyway, but a resend should cost only the rest).
        done = progress.state.get("batches_sent", 0)
        for number, batch in enumerate(self._batches(path), 1):
            if number > done:
                api.add(*self._args(), batch)
                progress.record(batches_sent=number)

    @staticmethod
    def _batches(path):
        batch, size = [], 0
        for number, obj in validation.parse_lines(path):
            line = validation.frontier_request(number, obj)
            batch.append(line)
            size += len(line) + 1
            if len(batch) >= ADD_BATCH or size >= ADD_BATCH_BYTES:
                yield batch
                batch, size = [], 0
        if batch:
            yield batch

    def delete(self):
        self.frontier.site.frontier.delete_slot(*self._args())
