"""A job's `tags` file: its tags one per line, and writing it updates them.

The file renders the `tags` of the job's metadata in the service's order, one per line
with a trailing newline (empty when there are none). Writing replaces the whole list:
each line is one tag with surrounding whitespace stripped (spaces inside a tag are kept,
since the service allows them), blank lines are ignored and repeats collapse; a tag on
the service that differs from a written one only by surrounding whitespace is kept. The commit
reads the current tags and sends only the difference in one Dash
`POST jobs/update.json` (`add_tag` / `remove_tag` fields), nothing when there is none.
Adding or removing the same tags again changes nothing, so the update is sent as
idempotent and retried (the official client never retries Dash calls). A tag holding a
line break cannot be shown on one line and is rendered as is; rewriting such a file
replaces that tag by its pieces. The file stays mutable inside an immutable finished job.
"""

from hubfs.tree import File, Kind

from . import validation


class TagsFile(File):
    kind = Kind.RENDERED
    writable = True
    write_mode = "replace"

    def __init__(self, job, mtime):
        super().__init__("tags", mtime, immutable=False)
        self.job = job

    def _tags(self):
        tags = self.job.metadata().get("tags") or []
        return [tag for tag in tags if isinstance(tag, str)]

    def render(self, after=None):
        tags = self._tags()
        text = "".join(tag + "\n" for tag in tags)
        yield text.encode("utf-8", "backslashreplace"), None

    def commit(self, path, progress):
        wanted = validation.parse_tags(path)
        self.job.forget_metadata()  # the difference is taken against the service's tags
        current = self._tags()
        # Compare stripped: a service tag with surrounding spaces, rendered and written
        # back unchanged, is the same tag (and must not be removed and re-added).
        have, keep = {tag.strip() for tag in current}, set(wanted)
        add = [tag for tag in wanted if tag not in have]
        remove = [tag for tag in current if tag.strip() not in keep]
        if not add and not remove:
            return
        job = self.job
        form = [("project", str(job.project)), ("job", job.key)]
        form += [("add_tag", tag) for tag in add] + [("remove_tag", tag) for tag in remove]
        try:
            job.site.client.dash("jobs/update.json", data=form)
        finally:
            job.forget_metadata()  # a failed send may still have been applied
