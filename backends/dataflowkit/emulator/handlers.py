"""HTTP handlers of the Dataflow Kit emulator: tasks, processes, getlink and the results storage.

JSON in, JSON out for the task and process endpoints (protocols/dataflowkit.md sections
3-5); errors are plain text as the OpenAPI documents them (`404. Not found`, `Bad
Request: ...`). `/getlink` takes the results file name as the raw request body (also
`?name=` or `{"name": ...}`) and answers a presigned URL as bare text. That URL points at
this server's `/storage/results/<name>`, an S3-style object route that needs no API key
but checks the link's HMAC signature and its `X-Amz-Date` + `X-Amz-Expires` against the
state's clock (403 with an S3 XML error when wrong or expired), and serves byte ranges.
"""

import calendar
import hashlib
import hmac
import json
import re
import time
from urllib.parse import quote

from hubfs.emulation import HTTPError, Response, json_response, text_response

from .state import NOT_FOUND, StateError

TEXT = "text/plain; charset=utf-8"
LINK_SECONDS = 3600
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
_TYPES = {"csv": "text/csv", "json": "application/json", "jsonl": "application/x-ndjson",
          "xml": "application/xml",
          "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def plain(status, text):
    return text_response(text, status, content_type=TEXT)


def s3_error(status, code, message):
    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
            f"<Message>{message}</Message></Error>")
    return text_response(body, status, content_type="application/xml")


class DataflowKitAPI:
    def __init__(self, state, secret):
        self.state = state
        self.secret = secret
        self.base_url = None  # set once the server knows its port

    def run(self, fn, *args):
        try:
            return json_response(fn(*args))
        except StateError as exc:
            return plain(exc.status, exc.text)

    def body(self, request):
        # Parsed whatever the content type says: the docs' curl examples send none.
        try:
            return json.loads(request.body.decode("utf-8")) if request.body.strip() else {}
        except (ValueError, UnicodeDecodeError):
            raise HTTPError(plain(400, "Bad Request: the body is not JSON")) from None

    # -- tasks ---------------------------------------------------------------------------

    def list_tasks(self, request):
        with self.state.lock:
            return json_response(list(self.state.tasks.values()))

    def create_task(self, request):
        return self.run(self.state.create_task, self.body(request), request.query.get("name"))

    def task_info(self, request):
        return self.run(self.state.task, request.match["task"])

    def task_results(self, request):
        return self.run(self.state.task_processes, request.match["task"])

    def run_task(self, request):
        return self.run(self.state.run_task, request.match["task"])

    def update_task(self, request):
        return self.run(self.state.update_task, request.match["task"], self.body(request))

    def delete_task(self, request):
        def delete(task_id):
            self.state.delete_task(task_id)
            return {"deleted": "ok"}
        return self.run(delete, request.match["task"])

    # -- processes -----------------------------------------------------------------------

    def process_info(self, request):
        return self.run(lambda pid: self.state.view(self.state.process(pid)), request.match["process"])

    def cancel(self, request):
        return self.run(self.state.cancel, request.match["process"])

    # -- results -------------------------------------------------------------------------

    def getlink(self, request):
        name = request.query.get("name")
        if name is None:
            text = request.body.decode("utf-8", "replace").strip()
            if text.startswith("{"):
                try:
                    name = json.loads(text).get("name")
                except (ValueError, AttributeError):
                    name = None
            else:
                name = text.strip('"')
        if not name or name not in self.state.files:
            return plain(404, NOT_FOUND)
        return plain(200, self.presign(name))

    def signature(self, name, date, expires):
        message = f"GET\n/results/{name}\n{date}\n{expires}".encode("utf-8")
        return hmac.new(self.secret, message, hashlib.sha256).hexdigest()

    def presign(self, name):
        date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(self.state.clock()))
        query = (f"X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=DFKEMULATOR%2F"
                 f"{date[:8]}%2Fams3%2Fs3%2Faws4_request&X-Amz-Date={date}"
                 f"&X-Amz-Expires={LINK_SECONDS}&X-Amz-SignedHeaders=host"
                 f"&X-Amz-Signature={self.signature(name, date, LINK_SECONDS)}")
        return f"{self.base_url}storage/results/{quote(name, safe='')}?{query}"

    def storage(self, request):
        name = request.match["name"]
        date = request.query.get("X-Amz-Date") or ""
        expires = request.query.get("X-Amz-Expires") or ""
        given = request.query.get("X-Amz-Signature") or ""
        try:
            issued = calendar.timegm(time.strptime(date, "%Y%m%dT%H%M%SZ"))
            lifetime = int(expires)
        except ValueError:
            return s3_error(403, "AccessDenied", "Query-string authentication requires the "
                                                 "X-Amz-Date, X-Amz-Expires and X-Amz-Signature parameters")
        if not hmac.compare_digest(given, self.signature(name, date, expires)):
            return s3_error(403, "SignatureDoesNotMatch", "The request signature we calculated "
                                                          "does not match the signature you provided.")
        if self.state.clock() > issued + lifetime:
            return s3_error(403, "AccessDenied", "Request has expired")
        data = self.state.files.get(name)
        if data is None:
            return s3_error(404, "NoSuchKey", "The specified key does not exist.")
        ext = name.rsplit(".", 1)[-1]
        headers = {"Accept-Ranges": "bytes", "ETag": f'"{hashlib.md5(data).hexdigest()}"'}
        content_type = _TYPES.get(ext, "application/octet-stream")
        wanted = request.header("Range")
        if not wanted:
            return Response(200, data, [("Content-Type", content_type), *headers.items()])
        match = _RANGE.match(wanted.strip())
        if not match or match.groups() == ("", ""):
            return Response(200, data, [("Content-Type", content_type), *headers.items()])
        first, last = match.groups()
        size = len(data)
        if first == "":
            start, end = max(0, size - int(last)), size - 1
        else:
            start, end = int(first), min(int(last), size - 1) if last else size - 1
        if start >= size or start > end:
            return Response(416, b"", [("Content-Range", f"bytes */{size}"), *headers.items()])
        return Response(206, data[start:end + 1],
                        [("Content-Type", content_type), ("Content-Range", f"bytes {start}-{end}/{size}"),
                         *headers.items()])


def not_found(request):
    return plain(404, NOT_FOUND)
