"""The Scrapinghub (Scrapy Cloud) HTTP API as hubfs needs it, and nothing else.

Two hosts speak for the service (protocols/scrapinghub.md section 1): the Dash "app" API
(project and spider lists; JSON bodies whose `status` field decides success even on HTTP
200) and the storage API (spider ids, the job queue, job metadata and the job record
streams: items, logs, requests, samples). Both take HTTP Basic auth with the API key as
user and an empty password. Every request goes through `hubfs.http.HttpClient`, so
retries, timeouts and status mapping behave as in every other backend; record pages are
read whole, which lets that layer retry a page cut mid-body. Record streams are fetched
by position (`start=P/S/J/N&count=K`): when the record count is known (a finished job's
`stats`) pages are fetched several at a time and handed back strictly in order;
otherwise they are fetched one after another until a short page. JSON lines pages can be
handed back as the service's own bytes (`get_lines`: no decode, no encode), their record
count checked; a page whose Content-Type is not what was asked (a proxy that ignores
`Accept`) is refused. This module knows nothing of FUSE or of the node tree.
"""

import functools
import itertools
import json
import operator
import re
import threading
from urllib.parse import quote, urlsplit

import msgpack

import hubfs
from hubfs import errors, parallel
from hubfs.http import DEFAULT_POLICY, HttpClient
from hubfs.render._line_count import count as count_records

KINDS = ("items", "logs", "requests", "samples")
MSGPACK_TYPE = "application/x-msgpack"
# The storage API serves msgpack for these only; requests and every /stats are JSON.
MSGPACK_KINDS = frozenset(("items", "logs", "samples"))
# Kinds with a GET .../stats count; samples has none.
COUNTED_KINDS = frozenset(("items", "logs", "requests"))

# Page size when the end is found by a short page. 1000 is what the official client's
# list_iter uses, so the real service is known to honour it; a larger value could be
# capped silently by the service and the capped page mistaken for the end.
SEQUENTIAL_PAGE = 1000
# Page size when the total is known up front. A page that comes back shorter than asked
# (the service capping `count`) is completed by further requests, and a stream that ends
# before the stats count raises, so a cap only costs requests, never data. Measured on the
# emulator's 1,000,000-item bench job (2 CPUs, emulator in its own process): 1000-record
# pages 9.3 s one at a time, 7.2 s five at a time; 5000-record pages 6.6 s; 10000 and
# 20000 no better (6.8-7.0 s), while each page in flight holds more memory. The official
# client's single streamed export takes 12 s on the same emulator.
PARALLEL_PAGE = 5000
# Pages in flight per stream. On a loopback emulator decoding is the limit (3 or 5 in
# flight measure alike); on a real network they hide the per-request latency (with 40 ms
# per request, 1000-record pages took 50 s one at a time and 11.6 s five at a time).
PARALLEL_PAGES = 5
# jobq/P/list serves at most 1000 jobs per call (API docs).
JOBS_PAGE = 1000
# Times we need for every job's mtime, whatever its state (the default jobq record only
# carries the current state's time, which would make a listed deleted job's mtime differ
# from the one its metadata gives).
JOB_TIME_FIELDS = ("pending_time", "running_time", "finished_time")


class Client:
    """One remote's connection to the service: the two bases, the key and the HTTP pool;
    record pages are fetched in parallel through `hubfs.parallel.ordered_map`."""

    def __init__(self, name, apikey, app_url, storage_url, policy=DEFAULT_POLICY,
                 parallel_pages=PARALLEL_PAGES, parallel_page=PARALLEL_PAGE,
                 sequential_page=SEQUENTIAL_PAGE):
        self.name = name
        # urljoin-style Dash paths replace the last segment of a base without a slash.
        self.app_url = app_url if app_url.endswith("/") else app_url + "/"
        self.storage_url = storage_url.rstrip("/") + "/"
        self.parallel_pages = parallel_pages
        self.parallel_page = parallel_page
        self.sequential_page = sequential_page
        self.http = HttpClient(
            name, auth=(apikey, ""),
            headers={"User-Agent": f"hubfs/{hubfs.__version__}"},
            policy=policy, pool_size=max(16, 2 * parallel_pages))

    def close(self):
        self.http.close()

    # -- Dash (app) API ---------------------------------------------------------------

    def dash(self, path, data=None, **params):
        """One Dash call: a GET with *params*, or with *data* a form POST (sent as
        idempotent: the callers only post updates that are harmless to repeat)."""
        url = self.app_url + path
        method = "GET" if data is None else "POST"
        where = f"{self.name}: {method} {urlsplit(url).path}"
        response = self.http.request(method, url, params=params, data=data,
                                     idempotent=True, expect=(200, 400, 401, 403))
        try:
            data = response.json()
        except ValueError:
            data = None
        if not isinstance(data, dict) or "status" not in data:
            if response.status_code in (401, 403):
                raise errors.AccessDenied(f"{where}: HTTP {response.status_code}")
            raise errors.ServiceError(f"{where}: HTTP {response.status_code}, "
                                      "answer without a status")
        status, message = data.get("status"), str(data.get("message", ""))
        if status == "ok" and response.status_code == 200:
            return data
        if message == "Authentication failed" or response.status_code in (401, 403):
            raise errors.AccessDenied(f"{where}: {message or 'HTTP ' + str(response.status_code)}")
        # Any other refusal of a read (the official client's BadRequest) is the service's
        # error, not bad content of ours: EIO rather than EINVAL.
        raise errors.ServiceError(f"{where}: status {status!r} {message}".rstrip())

    def list_projects(self):
        """The project ids (ints) the key can see; admin keys get an empty list."""
        return [int(p) for p in self.dash("scrapyd/listprojects.json").get("projects", [])]

    def list_spiders(self, project):
        """The spider names of *project* (the Dash list calls the name `id`)."""
        data = self.dash("spiders/list.json", project=str(project))
        return [spider["id"] for spider in data.get("spiders", [])]

    # -- storage API ------------------------------------------------------------------

    def url(self, *segments):
        """The storage API URL of *segments*, each quoted whole (a `/` inside one stays in it)."""
        return self.storage_url + "/".join(quote(str(s), safe="") for s in segments)

    def _get_json(self, *segments, params=None, missing=()):
        """GET one JSON value; statuses in *missing* (say 404) give None."""
        response = self.http.request("GET", self.url(*segments), params=params,
                                     expect=(200,) + tuple(missing))
        if response.status_code != 200 or not response.content.strip():
            return None
        return _loads(response.content, self.name, response)

    def spider_id(self, project, spider):
        """The numeric id of spider *spider* in *project*, or None if unknown."""
        value = self._get_json("ids", project, "spider", spider)
        return value if isinstance(value, int) else None

    def job_meta(self, project, spider_id, job):
        """The metadata dict of job P/S/J, or None when the job does not exist.

        What the service answers for an unknown job is not recorded anywhere (an empty
        body, `{}`, `null` or a 404 are all plausible), so all of them mean "none".
        """
        meta = self._get_json("jobs", project, spider_id, job, missing=(404,))
        return meta if isinstance(meta, dict) and meta else None

    def iter_jobs(self, project, spider):
        """Yield pages (lists) of jobq records of *spider*, newest first, every state."""
        start = 0
        while True:
            params = [("spider", spider)]
            params += [("state", s) for s in ("pending", "running", "finished", "deleted")]
            params += [("jobmeta", f) for f in JOB_TIME_FIELDS]
            params += [("count", JOBS_PAGE), ("start", start)]
            response = self.http.request("GET", self.url("jobq", project, "list"), params=params)
            page = loads_lines(response.content, self.name, response)
            if page:
                yield page
            if len(page) < JOBS_PAGE:
                return
            start += len(page)

    def activity(self, project):
        """The project's activity events as the service's JSON lines (newest first, each
        with its `_ts`), passed through."""
        response = self.http.request("GET", self.url("activity", project),
                                     params={"meta": "_ts"})
        _check_type(response, self.name, "json")
        return _json_lines_page(response.content, self.name, response)[0]

    def check_storage(self, project):
        """One cheap authenticated storage call (a one-job listing of *project*)."""
        self.http.request("GET", self.url("jobq", project, "list"),
                          params={"count": 1})

    def record_count(self, kind, project, spider_id, job):
        """The number of records of one job stream from its stats, or None if unknown."""
        if kind not in COUNTED_KINDS:
            return None
        stats = self._get_json(kind, project, spider_id, job, "stats", missing=(404,))
        try:
            count = stats["totals"]["input_values"]
        except (TypeError, KeyError):
            return None
        return count if isinstance(count, int) and count >= 0 else None

    def get_records(self, kind, project, spider_id, job, start, count):
        """One page: up to *count* decoded records of a job stream from index *start*."""
        key = f"{project}/{spider_id}/{job}"
        params = {"start": f"{key}/{start}", "count": count}
        url = self.url(kind, project, spider_id, job)
        if kind in MSGPACK_KINDS:
            response = self.http.request("GET", url, params=params,
                                         headers={"Accept": MSGPACK_TYPE})
            _check_type(response, self.name, MSGPACK_TYPE)
            return _unpack(response.content, self.name, response)
        response = self.http.request("GET", url, params=params)
        _check_type(response, self.name, "json")
        return loads_lines(response.content, self.name, response)

    def get_lines(self, kind, project, spider_id, job, start, count):
        """One page as the service's own JSON lines: `(bytes, record count)`.

        The bytes are passed through as served, never decoded: every record is one
        newline-terminated line, so the count is the number of newlines. A body that is
        not JSON lines (a proxy's HTML page, msgpack) raises `ServiceError`; one whose
        last line lacks its newline was cut where the HTTP layer could not see it and
        raises `Transient`.
        """
        key = f"{project}/{spider_id}/{job}"
        params = {"start": f"{key}/{start}", "count": count}
        # Accept stays requests' `*/*`, as the official client sends it in JSON mode.
        response = self.http.request("GET", self.url(kind, project, spider_id, job),
                                     params=params)
        _check_type(response, self.name, "json")
        return _json_lines_page(response.content, self.name, response)

    def get_spider_lines(self, kind, project, spider_id, first_job, count):
        """One page of the records of a spider's jobs from job *first_job* on, in key
        order, split by job: `(jobs, short)`, where *jobs* maps each job number seen to
        `(bytes, record count)` (its JSON lines as served, without the `_key` asked for
        to split them) in the order seen, and *short* says the page ended the stream.

        Raises `Unsplittable` when a record does not end with its `_key` (the service
        appends it last; samples, which are arrays, get none): the caller then reads the
        job alone."""
        params = {"start": f"{project}/{spider_id}/{first_job}/0", "count": count,
                  "meta": "_key"}
        response = self.http.request("GET", self.url(kind, project, spider_id), params=params)
        _check_type(response, self.name, "json")
        body, lines = _json_lines_page(response.content, self.name, response)
        return _split_by_job(body, f"{project}/{spider_id}/".encode()), lines < count

    def record_pages(self, kind, project, spider_id, job, start=0, total=None,
                     transform=list, max_pages=None):
        """Yield `(chunk, n)` per page of a job stream, in order, from record index
        *start*: *chunk* is `transform(records)` of the page's *n* decoded records, or
        with *transform* None the page's own JSON lines bytes (`get_lines`).

        With *total* (the stats count) pages are fetched `parallel_pages` at a time; a
        page shorter than asked is completed by more requests, the last page asks for one
        record more than expected so that stale stats cannot hide data, and a stream that ends before *total* raises `ServiceError`. Without it,
        pages come one by one until a short page (or *max_pages* pages). *transform* runs
        in the worker (rendering a page while the next ones download).
        """
        if total is None or start >= total:
            yield from self._sequential_pages(kind, project, spider_id, job, start, transform,
                                              max_pages)
            return
        fetch = (kind, project, spider_id, job)
        slots = []
        offset = start
        while offset < total:
            size = min(self.parallel_page, total - offset)
            slots.append((offset, size, offset + size >= total))
            offset += size
        more = False
        for chunk, n, more in parallel.ordered_map(
                lambda slot: self._fetch_slot(fetch, slot, total, transform), slots,
                self.parallel_pages):
            yield chunk, n
        if more:
            # The last page held a record past the stats count: the stats were stale, so
            # read on until the stream really ends.
            yield from self._sequential_pages(kind, project, spider_id, job, total + 1,
                                              transform)

    def _page(self, fetch, start, count, transform):
        """`(payload, n)`: decoded records (a list) or, without *transform*, bytes."""
        if transform is None:
            return self.get_lines(*fetch, start, count)
        records = self.get_records(*fetch, start, count)
        return records, len(records)

    def _fetch_slot(self, fetch, slot, total, transform):
        """Fetch records [offset, offset+size) (+1 probe on the last slot) completely."""
        offset, size, last = slot
        want = size + 1 if last else size
        parts = []
        got = 0
        while got < want:
            ask = want - got
            payload, n = self._page(fetch, offset + got, ask, transform)
            parts.append(payload)
            got += n
            # Short of what was asked: a cap while the slot is not full (ask on), else
            # the end, which only the probe record of the last slot may hit.
            if not n or (n < ask and got >= size):
                break
        if got < size:
            kind, project, spider_id, job = fetch
            raise errors.ServiceError(
                f"{self.name}: GET /{kind}/{project}/{spider_id}/{job}: the stream ended at "
                f"record {offset + got} but its stats count {total} records")
        if transform is None:
            chunk = parts[0] if len(parts) == 1 else b"".join(parts)
        else:
            chunk = transform([record for part in parts for record in part])
        return chunk, got, got > size

    def _sequential_pages(self, kind, project, spider_id, job, start, transform,
                          max_pages=None):
        fetch = (kind, project, spider_id, job)
        page_size = self.sequential_page
        for _ in itertools.repeat(None, max_pages) if max_pages else itertools.repeat(None):
            payload, n = self._page(fetch, start, page_size, transform)
            if not n:
                return
            yield (payload if transform is None else transform(payload)), n
            if n < page_size:
                return
            start += n

class Unsplittable(ValueError):
    """A page of several jobs' records that cannot be cut into jobs by their keys."""


def _split_by_job(body, prefix):
    """`{job: (bytes, count)}` of a keyed JSON lines page (see `get_spider_lines`).

    Every line must end with its record's `_key` under *prefix* (`P/S/`), the last
    field, and each job's records must come complete and in order from 0. The keys are
    found and cut off by regular expression passes over the whole page: a batch page
    holds up to 1,000 records, and this takes a third of the time that cutting it line
    by line in Python took."""
    if not body:
        return {}
    keyed, after_field, alone = _key_patterns(prefix)
    keys = keyed.findall(body)  # [(job, index)], one per line that ends with its key
    lines = body.count(b"\n")
    if len(keys) != lines or not body.endswith(b"\n"):
        raise Unsplittable("a record without its _key last, or of another spider")
    stripped, cut_alone = body, 0
    if b'{"_key":"' in body:  # records with no other field (rare; the slowest pass)
        stripped, cut_alone = alone.subn(b"{}\n", body)  # first: it leaves no key behind
    stripped, cut = after_field.subn(b"}\n", stripped)
    if cut + cut_alone != lines:
        raise Unsplittable("a _key inside a record")
    records = stripped.split(b"\n")
    jobs = {}
    at = 0
    for job, group in itertools.groupby(keys, key=operator.itemgetter(0)):
        indices = [index for _job, index in group]
        count = len(indices)
        job = int(job)
        before, seen = jobs.get(job, (b"", 0))
        if indices != _record_numbers(seen + count)[seen:]:
            raise Unsplittable(f"records of job {job} out of order")
        jobs[job] = (before + b"\n".join(records[at:at + count]) + b"\n", seen + count)
        at += count
    return jobs


_NUMBERS = []  # b"0", b"1", ...: grown under the lock, read without it (a prefix is whole)
_NUMBERS_LOCK = threading.Lock()


def _record_numbers(count):
    """`[b"0", b"1", ...]`: the record indices of a job of *count* records, as served."""
    if len(_NUMBERS) < count:
        with _NUMBERS_LOCK:  # renders in several threads split pages at once
            while len(_NUMBERS) < count:
                _NUMBERS.append(str(len(_NUMBERS)).encode())
    return _NUMBERS[:count]


@functools.lru_cache(maxsize=64)
def _key_patterns(prefix):
    """The patterns of a record's trailing `_key` under *prefix*: any line's (with the
    job and index as groups), one after other fields, and one that is the only field."""
    key = b'"_key":"' + re.escape(prefix) + rb'(\d+)/(\d+)"\}\n'
    return (re.compile(key),
            re.compile(b',' + key.replace(b"(", b"(?:")),
            re.compile(rb'(?m)^\{' + key.replace(b"(", b"(?:")))


def _where(response):
    request = response.request
    return f"{request.method} {request.path_url.split('?', 1)[0]}"


def _check_type(response, name, wanted):
    """Refuse a body whose Content-Type says it is not what was asked for: a proxy that
    ignores `Accept` and answers JSON to a msgpack request (or HTML to anything) would
    otherwise be decoded as garbage. *wanted* is a media type, or "json" for any JSON
    form. An absent Content-Type passes (the service omits it on some empty answers)."""
    given = (response.headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()
    if not given:
        return
    if wanted == "json":
        ok = "json" in given
    else:
        ok = given == wanted
    if not ok:
        raise errors.ServiceError(f"{name}: {_where(response)}: answer is {given}, "
                                  f"not {'JSON lines' if wanted == 'json' else wanted} "
                                  "(a proxy that ignores Accept?)")


def _json_lines_page(body, name, response):
    """`(body, count)` of a JSON lines page passed through as served (see `get_lines`)."""
    if not body:
        return b"", 0
    if not body.endswith(b"\n"):
        last = body.rsplit(b"\n", 1)[-1]
        try:
            json.loads(last)
        except ValueError:
            raise errors.Transient(f"{name}: {_where(response)}: JSON lines answer ends "
                                   "mid-record") from None
        body += b"\n"
    count = count_records(body)  # one scan, without the interpreter lock
    if count < 0:
        # Blank lines or a body that is not records: take the slow, checked way.
        records = loads_lines(body, name, response)
        body = b"".join(_compact(record) for record in records)
        return body, len(records)
    return body, count


_compact_text = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_compact_ascii = json.JSONEncoder(ensure_ascii=True, separators=(",", ":")).encode


def _compact(record):
    """One record as a compact JSON line (`\\uXXXX` escapes for a lone surrogate)."""
    try:
        return _compact_text(record).encode("utf-8") + b"\n"
    except UnicodeEncodeError:
        return _compact_ascii(record).encode("ascii") + b"\n"


def _loads(body, name, response):
    try:
        return json.loads(body)
    except ValueError:
        raise errors.ServiceError(f"{name}: {_where(response)}: answer is not JSON") from None


def loads_lines(body, name, response):
    """Decode a JSON Lines body in one `json.loads` (much faster than one per line)."""
    lines = [line for line in body.split(b"\n") if line.strip()]
    if not lines:
        return []
    try:
        return json.loads(b"[" + b",".join(lines) + b"]")
    except ValueError:
        raise errors.ServiceError(
            f"{name}: {_where(response)}: answer is not JSON Lines") from None


def _unpack(body, name, response):
    """Decode a body of concatenated msgpack values."""
    unpacker = msgpack.Unpacker(raw=False, strict_map_key=False,
                                max_buffer_size=max(len(body), 1))
    unpacker.feed(body)
    try:
        records = list(unpacker)
    except (ValueError, msgpack.UnpackException) as exc:
        raise errors.ServiceError(
            f"{name}: {_where(response)}: answer is not msgpack ({type(exc).__name__})") from None
    if unpacker.tell() != len(body):
        # Iteration stops quietly before a partial value: a body cut at a point the HTTP
        # layer could not see must not pass for a short (final) page.
        raise errors.Transient(f"{name}: {_where(response)}: msgpack answer ends mid-record")
    return records
