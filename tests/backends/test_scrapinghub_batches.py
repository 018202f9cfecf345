"""Several small finished jobs read in one request during a walk (job_batches.py).

Spider 102/3 "prices" of the demo seed has 1,500 finished jobs of 10 to 30 items. A walk
(renders of two jobs of one spider in a row) makes the next render read a page of the
spider's records across jobs; the neighbours' files then come from it without a request,
byte-identical to what the official client exports for each job alone.
"""

from backends.scrapinghub import job_batches


from tests.backends.test_scrapinghub_backend import jl, official, remote  # noqa: F401 (fixtures)


def render(node):
    return b"".join(chunk for chunk, _ in node.render())


def jobs_of(remote, spider="prices", project="102"):
    return {job.name: job for job in
            remote.root().child(project).child("spiders").child(spider).children()}


def data_requests(emu, kind="items"):
    return [e for e in emu.server.requests.entries() if e["path"].startswith(f"/{kind}/")]


def test_a_walk_reads_neighbours_in_one_request(remote, emu, official):
    jobs = jobs_of(remote)
    emu.server.requests.clear()
    for number in (1500, 1499):  # a walk, newest first as listed
        render(jobs[str(number)].child("items.jl"))
    assert len(data_requests(emu)) == 2  # the first job alone, the second in a batch
    batch = data_requests(emu)[-1]
    assert batch["path"] == "/items/102/3" and "meta=_key" in batch["query"]
    numbers = range(1498, 1480, -1)
    expected = {n: jl(official.get_job(f"102/3/{n}").items.iter()) for n in numbers}
    emu.server.requests.clear()
    for number in numbers:
        assert render(jobs[str(number)].child("items.jl")) == expected[number]
    assert data_requests(emu) == []  # every neighbour came from the batch
    # log.txt and logs.jl share the logs batch; requests.jl has its own.
    numbers = (1460, 1459, 1458)
    logs = {n: list(official.get_job(f"102/3/{n}").logs.iter()) for n in numbers}
    pages = {n: jl(official.get_job(f"102/3/{n}").requests.iter()) for n in numbers}
    emu.server.requests.clear()
    for number in numbers:
        job = jobs[str(number)]
        assert render(job.child("logs.jl")) == jl(logs[number])
        assert render(job.child("log.txt")).count(b"\n") == len(logs[number])
        assert render(job.child("requests.jl")) == pages[number]
    # The first job alone (logs.jl and log.txt each), then one batch for both files of
    # the next jobs.
    assert len(data_requests(emu, "logs")) == 3 and len(data_requests(emu, "requests")) == 2


def test_samples_and_single_reads_are_not_batched(remote, emu, official):
    jobs = jobs_of(remote)
    expected = {n: jl(official.get_job(f"102/3/{n}").samples.iter()) for n in (700, 699, 698)}
    emu.server.requests.clear()
    for number in (700, 699, 698):
        assert render(jobs[str(number)].child("samples.jl")) == expected[number]
    assert [e["path"] for e in data_requests(emu, "samples")] == [
        "/samples/102/3/700", "/samples/102/3/699", "/samples/102/3/698"]
    emu.server.requests.clear()
    render(jobs["10"].child("items.jl"))  # one file alone: just its own page
    assert [e["path"] for e in data_requests(emu)] == ["/items/102/3/10"]
    # Nor jobs in a row when they are big: a page of 1,000 records would not reach past.
    books = jobs_of(remote, "books", "101")
    emu.server.requests.clear()
    for number in ("3", "2"):  # 2,000 and 1,000 items
        render(books[number].child("items.jl"))
    assert not [e for e in data_requests(emu) if e["path"] == "/items/101/1"]


def test_jobs_not_listed_as_finished_are_never_taken_from_a_batch(remote, emu, monkeypatch):
    """Job 102/1/5 was running when listed: a batch that saw its records must not keep
    them (a snapshot of a running job would be a short file once it finishes)."""
    monkeypatch.setattr(job_batches, "BLOCK", 4)
    monkeypatch.setattr(job_batches, "SMALL", 10_000)  # job 3's 1,200 items count as small
    jobs = jobs_of(remote, "products")
    assert jobs["5"].state == "running"
    emu.server.requests.clear()
    for number in ("3", "4"):  # a walk: job 4's batch holds jobs 4 and 5, to the end
        render(jobs[number].child("items.jl"))
    batch = data_requests(emu)[-1]
    assert batch["path"] == "/items/102/1" and "%2F4%2F0" in batch["query"]
    kept = remote.site.batches._kept
    assert ("items", 102, 1, 4) in kept and ("items", 102, 1, 5) not in kept
