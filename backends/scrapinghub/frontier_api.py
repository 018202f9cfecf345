"""The frontier (HCF) part of the Scrapinghub storage API (`hcf/P/...`), over the remote's
one `Client`.

Frontiers and their slots are listed by name; a slot's queue is read as JSON Lines
batches `{"id": ..., "requests": [[fp, qdata], ...]}`; requests are added by POSTing JSON
Lines to the slot, answered with `{"newcount": N}` (the requests whose fingerprints the
slot had not seen). Adding is sent as idempotent: the service deduplicates fingerprints,
so a resend adds nothing twice. Deleting a slot is a DELETE (200 even when absent).
"""

import logging

from hubfs import errors

from .client import loads_lines

log = logging.getLogger(__name__)


class FrontierAPI:
    def __init__(self, client):
        self.client = client
        self.name = client.name

    def _names(self, *segments):
        """A `["a", "b"]` list answer, strings only."""
        response = self.client.http.request("GET", self.client.url(*segments))
        lines = loads_lines(response.content, self.name, response)
        names = lines[0] if lines else []
        if not isinstance(names, list):
            raise errors.ServiceError(f"{self.name}: GET /{'/'.join(map(str, segments))}: "
                                      "answer is not a list of names")
        return [name for name in names if isinstance(name, str)]

    def list_frontiers(self, project):
        return self._names("hcf", project, "list")

    def list_slots(self, project, frontier):
        return self._names("hcf", project, frontier, "list")

    def queue(self, project, frontier, slot):
        """The `[fp, qdata]` pairs of the batches one read of the slot's queue hands out."""
        response = self.client.http.request(
            "GET", self.client.url("hcf", project, frontier, "s", slot, "q"))
        pairs = []
        for batch in loads_lines(response.content, self.name, response):
            requests = batch.get("requests") if isinstance(batch, dict) else None
            for request in requests or ():
                if isinstance(request, list) and request and isinstance(request[0], str):
                    pairs.append((request[0], request[1] if len(request) > 1 else None))
        return pairs

    def add(self, project, frontier, slot, lines):
        """Add requests (encoded JSON objects); returns the service's `newcount`."""
        response = self.client.http.request(
            "POST", self.client.url("hcf", project, frontier, "s", slot),
            data=b"\n".join(lines) + b"\n", idempotent=True)
        answer = loads_lines(response.content, self.name, response)
        newcount = answer[0].get("newcount") if answer and isinstance(answer[0], dict) else None
        log.debug("%s: hcf/%s/%s/s/%s: %d requests sent, %s new", self.name, project,
                  frontier, slot, len(lines), newcount)
        return newcount

    def delete_slot(self, project, frontier, slot):
        self.client.http.request("DELETE",
                                 self.client.url("hcf", project, frontier, "s", slot))
