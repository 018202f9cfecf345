"""The Dataflow Kit task API as hubfs needs it: tasks, their processes, results downloads.

Every call carries `api_key` as a query parameter (protocols/dataflowkit.md section 1) and
uses the forms the notes recommend: `POST /tasks`, `POST /task/<id>/info`, `POST
/task/<id>/results` (the task's processes), `POST /processes/<id>/info`, and `GET
/getlink` with the results file name as the body, which answers a presigned URL. These
POSTs only read, so they are sent as idempotent (retried like GETs). The results file is
read from that URL by byte range, without the key (it must never travel to the storage
host); a link that has expired (403) is fetched again once. The size comes from a
one-byte range request (`Content-Range: bytes 0-0/<size>`). Errors of the API are plain
text (`Invalid API key`, `404. Not found`) and end up in the neutral errors' messages.
This module knows nothing of FUSE or of the node tree.
"""

import json
import re
from urllib.parse import urlsplit

import hubfs
from hubfs import errors
from hubfs.http import DEFAULT_POLICY, HttpClient

from hubfs import redaction

_CONTENT_RANGE = re.compile(r"^bytes (?:\d+-\d+|\*)/(\d+)$")


class LinkExpired(Exception):
    """The presigned URL was refused (expired or revoked): fetch a new one."""


class Client:
    def __init__(self, name, api_key, url, policy=DEFAULT_POLICY):
        self.name = name
        self.url = url.rstrip("/")
        self._key = {"api_key": api_key}
        redaction.install()
        self.http = HttpClient(name, headers={"User-Agent": f"hubfs/{hubfs.__version__}"},
                               policy=policy)

    def close(self):
        self.http.close()

    def _json(self, path, missing=False):
        """POST *path* (a read) and decode its JSON answer; None for a 404 when *missing*."""
        url = self.url + path
        response = self.http.request("POST", url, params=self._key, idempotent=True,
                                     expect=(200, 404) if missing else (200,))
        if response.status_code == 404:
            return None
        try:
            return json.loads(response.content)
        except ValueError:
            raise errors.ServiceError(f"{self.name}: POST {urlsplit(url).path}: answer is not JSON") from None

    def _records(self, answer, where):
        """The records with a string `id` of a list answer; a non-list is the service's
        error."""
        if not isinstance(answer, list):
            raise errors.ServiceError(f"{self.name}: POST {where}: answer is not a list")
        return [r for r in answer if isinstance(r, dict) and isinstance(r.get("id"), str)]

    def list_tasks(self):
        return self._records(self._json("/tasks"), "/tasks")

    def task(self, task_id):
        task = self._json(f"/task/{task_id}/info", missing=True)
        if not isinstance(task, dict):
            raise errors.NotFound(f"{self.name}: no task {task_id}")
        return task

    def task_processes(self, task_id):
        processes = self._json(f"/task/{task_id}/results", missing=True)
        if processes is None:
            raise errors.NotFound(f"{self.name}: no task {task_id}")
        return self._records(processes, f"/task/{task_id}/results")

    def process(self, process_id):
        process = self._json(f"/processes/{process_id}/info", missing=True)
        if not isinstance(process, dict):
            raise errors.NotFound(f"{self.name}: no process {process_id}")
        return process

    # -- results -------------------------------------------------------------------------

    def getlink(self, results_name):
        """The download URL of a results file (bare text, or JSON as a string or an
        object with `link`/`url`, since the answer's form is not documented)."""
        response = self.http.request("GET", self.url + "/getlink", params=self._key,
                                     data=results_name.encode("utf-8"))
        text = response.text.strip()
        if text.startswith(("{", '"')):
            try:
                value = json.loads(text)
            except ValueError:
                value = None
            if isinstance(value, dict):
                value = value.get("link") or value.get("url")
            text = value if isinstance(value, str) else ""
        if not text.startswith(("http://", "https://")):
            raise errors.ServiceError(f"{self.name}: GET /getlink: answer is not a URL")
        return text

    def _get(self, link, headers):
        response = self.http.request("GET", link, headers=headers, expect=(200, 206, 403, 416))
        if response.status_code == 403:
            raise LinkExpired()
        return response

    def size(self, link):
        """`(byte size, ETag or None)` of the file at *link*."""
        response = self._get(link, {"Range": "bytes=0-0"})
        etag = response.headers.get("ETag")
        match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
        if response.status_code in (206, 416) and match:
            return int(match.group(1)), etag
        if response.status_code == 200:
            return len(response.content), etag  # no ranges: the whole file came back
        raise errors.ServiceError(f"{self.name}: GET {urlsplit(link).path}: no size in the answer")

    def read(self, link, offset, length, size, version=None):
        """Exactly `min(length, size - offset)` bytes at *offset* of the version *version*
        (an ETag) of the file, or an error (`Conflict` when the file changed)."""
        want = max(0, min(length, size - offset))
        if want == 0:
            return b""
        response = self._get(link, {"Range": f"bytes={offset}-{offset + want - 1}"})
        where = f"{self.name}: GET {urlsplit(link).path}"
        etag = response.headers.get("ETag")
        if version is not None and etag is not None and etag != version:
            raise errors.Conflict(f"{where}: the file changed (ETag {etag}, was {version})")
        data = response.content
        if response.status_code == 200:
            if len(data) != size:
                raise errors.Conflict(f"{where}: the file is {len(data)} bytes now, not {size}")
            data = data[offset:offset + want]
        elif response.status_code == 416:
            raise errors.Conflict(f"{where}: the file is shorter than {size} bytes now")
        else:
            match = _CONTENT_RANGE.match(
                re.sub(r"^bytes \d+-\d+/", "bytes 0-0/", response.headers.get("Content-Range", "")))
            if match and int(match.group(1)) != size:
                raise errors.Conflict(f"{where}: the file is {match.group(1)} bytes now, not {size}")
        if len(data) != want:
            raise errors.Transient(f"{where}: {len(data)} bytes instead of {want}")
        return data
