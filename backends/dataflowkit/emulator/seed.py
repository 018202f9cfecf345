"""Seed data sets of the Dataflow Kit emulator: `demo` and `bench` (demo plus one big task).

Demo tasks, one per results format: `books` (csv; two finished runs and a failed one),
`quotes` (json; finished, canceled, and one still running that finishes two minutes after
the emulator starts), `serp` (jsonl; finished, and pending for lack of credits),
`catalog` (excel, served as .xlsx; finished) and `feeds` (xml; finished). Finished times
are fixed, so every run serves the same files. `bench` adds `bulk` (csv, 20,000 rows).
"""

SEED_S = 1_700_000_000  # 2023-11-14T22:13:20Z
RUNNING_SECONDS = 120.0


def _payload(name, url, fmt, fields):
    return {"name": name, "request": {"url": url, "type": "chrome", "proxy": "country-any"},
            "commonParent": ".item",
            "fields": [{"name": f, "selector": f".{f.lower()}", "attrs": attrs, "type": 1,
                        "filters": [{"name": "trim"}]} for f, attrs in fields],
            "paginator": {"nextPageSelector": ".next", "pageNum": 3}, "path": False,
            "format": fmt}


def _task(state, name, fmt, fields, description):
    return state.create_task({"name": name, "description": description, "type": "extract",
                              "webhook": "", "payload": _payload(
                                  name, f"https://{name}.example.test/page-0", fmt, fields)})


def seed_demo(state):
    books = _task(state, "books", "csv", [("Title", ["text"]), ("Link", ["href", "text"]),
                                          ("Price", ["text"])], "Book titles and prices")
    state.run_task(books["id"], "finished", 600, 12, started=SEED_S)
    state.run_task(books["id"], "failed", 60, 4, started=SEED_S + 3600)
    state.run_task(books["id"], "finished", 300, 3, started=SEED_S + 7200)
    quotes = _task(state, "quotes", "JSON", [("Quote", ["text"]), ("Author", ["text", "href"])],
                   "Quotes and their authors")
    state.run_task(quotes["id"], "finished", 120, 6, started=SEED_S + 100)
    state.run_task(quotes["id"], "finished", 900, 40, started=SEED_S + 200, canceled_at=SEED_S + 500)
    state.run_task(quotes["id"], "finished", RUNNING_SECONDS, 8)  # starts now
    serp = _task(state, "serp", "jsonl", [("link", ["href", "text"]), ("description", ["text"])],
                 "Search results for 'fuse filesystem'")
    state.run_task(serp["id"], "finished", 45, 2, started=SEED_S + 300)
    state.run_task(serp["id"], "pending", 80, 5, started=SEED_S + 400, missing=250)
    catalog = _task(state, "catalog", "excel", [("Product", ["text"]), ("Image", ["src", "alt"])],
                    "Product catalog")
    state.run_task(catalog["id"], "finished", 200, 4, started=SEED_S + 500)
    feeds = _task(state, "feeds", "xml", [("Headline", ["text"]), ("Story", ["href"])],
                  "News headlines")
    state.run_task(feeds["id"], "finished", 30, 2, started=SEED_S + 600)


def seed_bench(state):
    seed_demo(state)
    bulk = _task(state, "bulk", "csv", [("Name", ["text"]), ("Url", ["href"]), ("Note", ["text"])],
                 "Benchmark: 20,000 rows")
    state.run_task(bulk["id"], "finished", 60, 2000, started=SEED_S + 700)


SEEDS = {"demo": seed_demo, "bench": seed_bench}
