"""Deterministic record content for the seeded Scrapinghub jobs: items, logs, requests, samples.

Every record is a pure function of (job spec, index), computed with a small splitmix64 mixer
rather than `random`, so the same seed gives the same bytes on every run and platform and a
record can be produced alone without generating its predecessors. Items look like what the
usual Scrapy demo spiders scrape (books, quotes, authors, products, reviews, prices, news,
feeds), with nested fields, lists and non-ASCII text; logs follow a Scrapy run from "Spider
opened" to the stats dump; the bench item has a fixed encoded size so stats need no scan.
"""

from __future__ import annotations

import pprint
from dataclasses import dataclass
from collections.abc import Sequence
from typing import Any, Optional

MASK64 = (1 << 64) - 1


def mix(*values: int) -> int:
    """A 64-bit hash of integers (splitmix64 finaliser chained over the inputs)."""
    x = 0x9E3779B97F4A7C15
    for value in values:
        x = (x ^ (value & MASK64)) * 0xBF58476D1CE4E5B9 & MASK64
        x = (x ^ (x >> 31)) * 0x94D049BB133111EB & MASK64
        x ^= x >> 29
    return x


class Rng:
    """A tiny deterministic generator seeded from integers (not the stdlib's, whose stream
    for a given seed is not promised to stay the same across Python versions)."""

    __slots__ = ("state",)

    def __init__(self, *seed: int):
        self.state = mix(*seed)

    def next(self) -> int:
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK64
        return mix(self.state)

    def randint(self, low: int, high: int) -> int:
        return low + self.next() % (high - low + 1)

    def choice(self, seq):
        return seq[self.next() % len(seq)]

    def chance(self, percent: int) -> bool:
        return self.next() % 100 < percent

    def sample(self, seq, k: int) -> list:
        pool = list(seq)
        return [pool.pop(self.next() % len(pool)) for _ in range(min(k, len(pool)))]

    def hex(self, digits: int) -> str:
        out = ""
        while len(out) < digits:
            out += f"{self.next():016x}"
        return out[:digits]


@dataclass
class JobSpec:
    """What content generation needs to know about one seeded job."""

    project: int
    spider_id: int
    spider: str
    kind: str
    number: int
    state: str
    items: int
    pending_time: int
    running_time: Optional[int] = None
    finished_time: Optional[int] = None
    close_reason: Optional[str] = None
    bot: str = "demo"
    with_error: bool = False
    fixed_pages: Optional[int] = None  # overrides the pages-per-item rule (the bench job)

    @property
    def seed(self) -> tuple[int, int, int]:
        return (self.project, self.spider_id, self.number)

    @property
    def pages(self) -> int:
        """Requests made: one listing page per 20 items plus one page per item, +1 retry."""
        if self.running_time is None:
            return 0
        if self.fixed_pages is not None:
            return self.fixed_pages
        return self.items + self.items // 20 + 2

    @property
    def span_ms(self) -> int:
        """How long the job ran (or has run so far, for a running job)."""
        if self.running_time is None:
            return 0
        if self.finished_time is not None:
            return self.finished_time - self.running_time
        return max(60_000, self.items * 400)


# ----------------------------------------------------------------------------- vocabularies

BOOK_TITLES = [
    "A Light in the Attic", "Tipping the Velvet", "Soumission", "Sharp Objects",
    "Sapiens: A Brief History of Humankind", "The Requiem Red", "The Dirty Little Secrets",
    "The Coming Woman", "The Boys in the Boat", "The Black Maria", "Starving Hearts",
    "Shakespeare's Sonnets", "Set Me Free", "Scott Pilgrim's Precious Little Life",
    "Rip it Up and Start Again", "Our Band Could Be Your Life", "Olio", "Mesaerion",
    "Libertarianism for Beginners", "It's Only the Himalayas", "Café Society at Midnight",
    "Les Misérables (Abridged)", "Zürich Nights", "The Naïve Collector", "東京 Diaries",
]
BOOK_CATEGORIES = ["Poetry", "Historical Fiction", "Fiction", "Mystery", "History",
                   "Young Adult", "Music", "Travel", "Philosophy", "Food and Drink"]
RATINGS = ["One", "Two", "Three", "Four", "Five"]
FIRST_NAMES = ["Ada", "Bruno", "Chloé", "Dmitri", "Emeka", "Fatima", "Günter", "Hana",
               "Iñaki", "Jun", "Kalani", "Léa", "Mateus", "Noor", "Oskar", "Priya"]
LAST_NAMES = ["Okafor", "Lindqvist", "Moreau", "Tanaka", "García", "Novak", "Haddad",
              "O'Brien", "Schäfer", "Kowalski", "Nguyen", "Rossi", "Silva", "Ivanova"]
CITIES = ["Lisbon", "Zürich", "Kraków", "Montréal", "São Paulo", "Nairobi", "Kyoto", "Oslo"]
QUOTE_OPENINGS = ["The quiet hours", "Every small kindness", "A well-kept garden",
                  "Curiosity", "The longest road", "An honest mistake", "Patience",
                  "A borrowed book", "The first draft", "Morning coffee ☕"]
QUOTE_ENDINGS = ["teach more than the loud ones.", "is a seed that outlives its planter.",
                 "needs both rain and stubbornness.", "is the compass of a restless mind.",
                 "begins with a single wrong turn.", "is worth ten careful excuses.",
                 "is a form of courage.", "always returns a little wiser.",
                 "is allowed to be terrible.", "makes the world slightly rounder."]
QUOTE_TAGS = ["life", "inspirational", "humor", "books", "friendship", "change",
              "courage", "writing", "truth", "simplicity"]
BRANDS = ["Nordlicht", "Acme", "Kōbō", "Vértice", "Helios", "Brightline", "Ōkami"]
PRODUCT_NOUNS = ["Espresso Machine", "Trail Backpack", "Desk Lamp", "Wireless Headphones",
                 "Chef's Knife", "Rain Jacket", "Smart Kettle", "Yoga Mat", "Café Grinder"]
COLORS = ["black", "white", "forest green", "ochre", "navy", "crème"]
NEWS_SECTIONS = ["world", "business", "technology", "science", "culture", "sport"]
NEWS_SUBJECTS = ["City council", "Researchers", "The central bank", "A local startup",
                 "Museum curators", "Climate scientists", "The national team", "Engineers"]
NEWS_VERBS = ["unveil", "debate", "postpone", "approve", "question", "celebrate"]
NEWS_OBJECTS = ["a new transit plan", "record rainfall data", "the 2026 budget",
                "an open-source telescope", "a forgotten manuscript", "café opening hours",
                "faster battery chemistry", "the winter schedule 🚋"]
SITE = "/usr/local/lib/python3.11/site-packages"
HOSTS = {
    "books": "books.toscrape.com", "quotes": "quotes.toscrape.com",
    "authors": "quotes.toscrape.com", "products": "shop.example.com",
    "reviews": "shop.example.com", "prices": "prices.example.net",
    "news": "news.example.org", "feeds": "feeds.example.org", "bench": "bench.example.com",
}


def _person(rng: Rng) -> str:
    return f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-")


def _iso(ms: int) -> str:
    import datetime
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def item_url(spec: JobSpec, index: int) -> str:
    host = HOSTS.get(spec.kind, "example.com")
    return f"https://{host}/{spec.kind}/{spec.number}-{index}.html"


# ----------------------------------------------------------------------------- items

def make_item(spec: JobSpec, index: int) -> dict:
    """Item *index* of the job described by *spec*."""
    if spec.kind == "bench":
        return bench_item(index)
    rng = Rng(*spec.seed, index, 1)
    url = item_url(spec, index)
    kind = spec.kind
    if kind == "books":
        title = rng.choice(BOOK_TITLES)
        item = {
            "url": f"https://books.toscrape.com/catalogue/{_slug(title)}_{index}/index.html",
            "title": title,
            "price": rng.randint(1000, 5999) / 100,
            "currency": "GBP",
            "availability": {"in_stock": rng.chance(85), "count": rng.randint(0, 22)},
            "rating": rng.choice(RATINGS),
            "upc": rng.hex(16),
            "category": rng.choice(BOOK_CATEGORIES),
            "authors": [_person(rng) for _ in range(rng.randint(1, 2))],
        }
        if index % 7 == 0:
            item["description"] = f"A café-side read 📚 — “{title}” is best enjoyed slowly."
        return item
    if kind == "quotes":
        return {
            "text": f"“{rng.choice(QUOTE_OPENINGS)} {rng.choice(QUOTE_ENDINGS)}”",
            "author": {"name": _person(rng), "url": f"https://quotes.toscrape.com/author/{index}/"},
            "tags": rng.sample(QUOTE_TAGS, rng.randint(1, 4)),
            "url": url,
        }
    if kind == "authors":
        name = _person(rng)
        return {
            "name": name,
            "born": {"date": f"{rng.randint(1850, 1990)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                     "place": rng.choice(CITIES)},
            "bio": f"{name} wrote about {rng.choice(QUOTE_TAGS)} and {rng.choice(QUOTE_TAGS)}.",
            "url": url,
        }
    if kind == "products":
        sku = f"SKU-{spec.number:03d}-{index:05d}"
        return {
            "url": url,
            "name": f"{rng.choice(BRANDS)} {rng.choice(PRODUCT_NOUNS)}",
            "sku": sku,
            "price": {"amount": rng.randint(499, 49999) / 100, "currency": "EUR"},
            "in_stock": rng.chance(80),
            "rating": rng.randint(10, 50) / 10,
            "images": [f"https://img.shop.example.com/{sku}/{n}.jpg" for n in range(rng.randint(1, 3))],
            "specs": {"color": rng.choice(COLORS), "weight_g": rng.randint(80, 4000)},
        }
    if kind == "reviews":
        return {
            "product_sku": f"SKU-{rng.randint(1, 4):03d}-{rng.randint(0, 1199):05d}",
            "rating": rng.randint(1, 5),
            "title": rng.choice(["Great value", "Très bien", "Not for me", "Five stars ⭐", "Okay"]),
            "body": f"{rng.choice(QUOTE_OPENINGS)} {rng.choice(QUOTE_ENDINGS)}",
            "author": _person(rng),
            "date": _iso(spec.pending_time - rng.randint(0, 90) * 86_400_000),
            "url": url,
        }
    if kind == "prices":
        return {
            "sku": f"SKU-{rng.randint(1, 4):03d}-{rng.randint(0, 1199):05d}",
            "shop": rng.choice(["nordshop", "megamart", "la-boutique", "kaufhaus"]),
            "price": rng.randint(499, 49999) / 100,
            "currency": "EUR",
            "seen_at": spec.pending_time + index * 1000,
        }
    if kind in ("news", "feeds"):
        headline = f"{rng.choice(NEWS_SUBJECTS)} {rng.choice(NEWS_VERBS)} {rng.choice(NEWS_OBJECTS)}"
        item = {
            "url": url,
            "headline": headline,
            "section": rng.choice(NEWS_SECTIONS),
            "published": _iso(spec.pending_time - rng.randint(0, 72) * 3_600_000),
            "authors": [_person(rng) for _ in range(rng.randint(1, 3))],
            "keywords": rng.sample(NEWS_SECTIONS + QUOTE_TAGS, 3),
            "word_count": rng.randint(150, 2400),
        }
        if kind == "feeds":
            item = {"feed": f"https://feeds.example.org/{item['section']}.xml", "title": headline,
                    "link": url, "published": item["published"], "guid": rng.hex(12)}
        return item
    return {"url": url, "index": index}


# ----------------------------------------------------------------------------- bench items

BENCH_ITEM_BYTES = 200
_BENCH_TAGS = ["alpha", "bravo", "delta", "gamma", "kappa", "omega", "sigma", "theta"]
_BENCH_SELLER = "Café Ünïcode ✓"


def _bench_fields(index: int) -> tuple:
    # Every varying field has a fixed width (7-digit numbers, 4-digit ints, 5-letter tags,
    # 2-digit ids), so every item encodes to the same number of bytes in JSON and msgpack.
    return (index, 1000 + index * 7919 % 9000, 1000 + index * 104729 % 9000,
            _BENCH_TAGS[index % 8], _BENCH_TAGS[index // 8 % 8], 10 + index % 90)


def _bench_item(index: int, pad: str) -> dict:
    i, price, stock, tag1, tag2, seller = _bench_fields(index)
    return {
        "sku": f"BN-{i:07d}",
        "url": f"https://bench.example.com/p/{i:07d}",
        "title": f"Product {i:07d}",
        "price": price,
        "stock": stock,
        "tags": [tag1, tag2],
        "seller": {"id": seller, "name": _BENCH_SELLER},
        "note": pad,
    }


def _bench_pad() -> str:
    import json
    base = len(json.dumps(_bench_item(0, ""), separators=(",", ":"), ensure_ascii=False).encode())
    assert base < BENCH_ITEM_BYTES, base
    return "x" * (BENCH_ITEM_BYTES - base)


_BENCH_PAD = _bench_pad()


def bench_item(index: int) -> dict:
    """Item *index* of the bench job: exactly 200 bytes of compact JSON, from the index."""
    return _bench_item(index, _BENCH_PAD)


def bench_item_stats(count: int) -> dict:
    """`/stats` of a pristine bench job, from arithmetic instead of a million encodings."""
    fields = bench_item(0)
    return {"counts": {name: count for name in fields},
            "totals": {"input_bytes": count * BENCH_ITEM_BYTES, "input_values": count}}


def _mp_str(text: str) -> bytes:
    """msgpack str header + UTF-8 bytes (fixstr / str8 / str16), as msgpack.packb writes it."""
    data = text.encode("utf-8")
    if len(data) < 32:
        return bytes([0xA0 | len(data)]) + data
    if len(data) < 256:
        return b"\xd9" + bytes([len(data)]) + data
    return b"\xda" + len(data).to_bytes(2, "big") + data


_J_HEAD = ('{"sku":"BN-%07d","url":"https://bench.example.com/p/%07d","title":"Product %07d",'
           '"price":%d,"stock":%d,"tags":["%s","%s"],"seller":{"id":%d,"name":"'
           + _BENCH_SELLER + '"},"note":"' + _BENCH_PAD + '"').encode("utf-8")
_MP = {name: _mp_str(name) for name in ("sku", "url", "title", "price", "stock", "tags",
                                        "seller", "id", "name", "note", "_key")}
_MP_TAGS = {tag: _mp_str(tag) for tag in _BENCH_TAGS}
_MP_TAIL = _MP["name"] + _mp_str(_BENCH_SELLER) + _MP["note"] + _mp_str(_BENCH_PAD)
# The string values around the 7 digits, with their msgpack headers (lengths never vary).
_MP_SKU = _mp_str("BN-0000000")[:-7]
_MP_URL = _mp_str("https://bench.example.com/p/0000000")[:-7]
_MP_TITLE = _mp_str("Product 0000000")[:-7]


class BenchItems(Sequence):
    """The bench job's items: `bench_item(i)` on indexing, plus a template encoder that
    writes the exact bytes the generic JSON / msgpack encoders would, about five times
    faster, so even the first read of the million items is quick (tests compare both)."""

    def __init__(self, count: int):
        self.count = count

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index):
        if not 0 <= index < self.count:
            raise IndexError(index)
        return bench_item(index)

    def encode_range(self, lo: int, hi: int, msgpack: bool, key_prefix: Optional[str]) -> bytes:
        """Records lo..hi-1, each with `_key` last when *key_prefix* is given."""
        out = []
        append = out.append
        if not msgpack:
            tail = b"}\n" if key_prefix is None else (',"_key":"' + key_prefix + '%d"}\n').encode()
            for i in range(lo, hi):
                f = _bench_fields(i)
                append(_J_HEAD % (i, i, i, f[1], f[2], f[3].encode(), f[4].encode(), f[5]))
                append(tail if key_prefix is None else tail % i)
            return b"".join(out)
        head = b"\x88" if key_prefix is None else b"\x89"
        sku, url, title, price, stock = _MP["sku"], _MP["url"], _MP["title"], _MP["price"], _MP["stock"]
        tags, seller_id = _MP["tags"] + b"\x92", _MP["seller"] + b"\x82" + _MP["id"]
        for i in range(lo, hi):
            _, p, s, t1, t2, sid = _bench_fields(i)
            digits = b"%07d" % i
            append(b"".join((head, sku, _MP_SKU, digits, url, _MP_URL, digits, title, _MP_TITLE,
                             digits, price, b"\xcd",
                             p.to_bytes(2, "big"), stock, b"\xcd", s.to_bytes(2, "big"), tags,
                             _MP_TAGS[t1], _MP_TAGS[t2], seller_id, bytes((sid,)), _MP_TAIL)))
            if key_prefix is not None:
                append(_MP["_key"] + _mp_str(key_prefix + str(i)))
        return b"".join(out)


# ----------------------------------------------------------------------------- times

def item_ts(spec: JobSpec, index: int) -> int:
    """When item *index* was written: spread evenly over the job's run."""
    if spec.running_time is None:
        return spec.pending_time
    return spec.running_time + 5_000 + index * max(1, (spec.span_ms - 10_000)) // max(1, spec.items)


# ----------------------------------------------------------------------------- requests

def make_request(spec: JobSpec, index: int) -> dict:
    """Request *index*: listing pages and item pages, with a parent link and a retry."""
    rng = Rng(*spec.seed, index, 2)
    host = HOSTS.get(spec.kind, "example.com")
    if index % 21 == 0:
        url = f"https://{host}/{spec.kind}/page-{index // 21 + 1}.html"
    else:
        url = item_url(spec, index - index // 21 - 1)
    status = 503 if index == 3 else 200
    record = {
        "url": url,
        "status": status,
        "method": "GET",
        "rs": rng.randint(2_000, 90_000) if status == 200 else 180,
        "duration": rng.randint(40, 1_500),
        "time": spec.running_time + 2_000 + index * max(1, spec.span_ms - 4_000) // max(1, spec.pages),
        "fp": rng.hex(40),
    }
    if index:
        record["parent"] = (index // 21) * 21
    return record


# ----------------------------------------------------------------------------- samples

def sample_count(spec: JobSpec) -> int:
    return 0 if spec.running_time is None else max(1, spec.span_ms // 60_000)


def make_sample(spec: JobSpec, index: int) -> list:
    """[ts, items so far, pages so far, memory MB, cpu %], one per minute of run."""
    total = max(1, sample_count(spec))
    rng = Rng(*spec.seed, index, 3)
    done = (index + 1) / total
    return [spec.running_time + (index + 1) * 60_000, int(spec.items * done), int(spec.pages * done),
            rng.randint(80, 240), rng.randint(5, 95)]


# ----------------------------------------------------------------------------- logs

def make_logs(spec: JobSpec) -> tuple[list[dict], dict]:
    """The job's log records and its Scrapy stats (finished jobs only; else an empty dict)."""
    if spec.running_time is None:
        return [], {}
    host = HOSTS.get(spec.kind, "example.com")
    start = spec.running_time
    span = spec.span_ms
    logs: list[dict] = []

    def add(level: int, at: int, message: str) -> None:
        logs.append({"time": start + at, "level": level, "message": message})

    settings = {"AUTOTHROTTLE_ENABLED": True, "BOT_NAME": spec.bot, "LOG_LEVEL": "DEBUG",
                "NEWSPIDER_MODULE": f"{spec.bot}.spiders", "SPIDER_MODULES": [f"{spec.bot}.spiders"]}
    add(20, 0, "Log opened.")
    add(20, 2, f"Scrapy 2.11.2 started (bot: {spec.bot})")
    add(20, 3, "Versions: lxml 5.2.2.0, libxml2 2.12.6, cssselect 1.2.0, parsel 1.9.1, "
               "w3lib 2.2.1, Twisted 24.3.0, Python 3.11.9 (main, Apr  2 2024, 08:25:04) "
               "[GCC 12.2.0], pyOpenSSL 24.1.0 (OpenSSL 3.2.2 4 Jun 2024), cryptography 42.0.8, "
               "Platform Linux-5.15.0-1057-aws-x86_64-with-glibc2.36")
    add(20, 5, "Overridden settings:\n" + pprint.pformat(settings))
    add(20, 9, "Telnet console listening on 127.0.0.1:6023")
    add(20, 14, "Spider opened")
    add(20, 15, "Crawled 0 pages (at 0 pages/min), scraped 0 items (at 0 items/min)")
    first = min(3, spec.items)
    for n in range(first):
        add(10, 400 + n * 300, f"Crawled (200) <GET {item_url(spec, n)}> (referer: https://{host}/)")
        item = make_item(spec, n)
        shown = {k: item[k] for k in list(item)[:3]}
        add(10, 420 + n * 300, f"Scraped from <200 {item_url(spec, n)}>\n{pprint.pformat(shown)}")
    add(30, 2_000, f"Retrying <GET https://{host}/{spec.kind}/page-1.html> (failed 1 times): "
                   "503 Service Unavailable")
    minutes = max(1, span // 60_000)
    for minute in range(1, minutes + 1):
        pages = spec.pages * minute // minutes
        items = spec.items * minute // minutes
        rate_p = spec.pages // minutes
        rate_i = spec.items // minutes
        add(20, minute * 60_000 - 1_000,
            f"Crawled {pages} pages (at {rate_p} pages/min), scraped {items} items (at {rate_i} items/min)")
    if spec.with_error:
        add(40, span // 2,
            f"Spider error processing <GET {item_url(spec, 7)}> (referer: https://{host}/)\n"
            "Traceback (most recent call last):\n"
            f'  File "{SITE}/scrapy/utils/defer.py", line 279, in iter_errback\n'
            "    yield next(it)\n"
            f'  File "{SITE}/scrapy/core/spidermw.py", line 106, in process_sync\n'
            "    yield from iterable\n"
            f'  File "/app/{spec.bot}/spiders/{spec.spider}.py", line 42, in parse_item\n'
            "    price = float(response.css('.price::text').get()[1:])\n"
            "TypeError: 'NoneType' object is not subscriptable")
    logs.sort(key=lambda r: r["time"])
    if spec.finished_time is None:
        return logs, {}
    reason = spec.close_reason or "finished"
    stats = scrapy_stats(spec)
    end = span - 100
    add(20, end, f"Closing spider ({reason})")
    add(20, end + 20, "Dumping Scrapy stats:\n" + pprint.pformat(stats))
    add(20, end + 40, f"Spider closed ({reason})")
    return logs, stats


def _level_counts(spec: JobSpec) -> dict[int, int]:
    """How many log records of each level `make_logs` writes (kept in step with it, so the
    stats in job metadata need not build the logs at seeding time)."""
    minutes = max(1, spec.span_ms // 60_000)
    counts = {10: 2 * min(3, spec.items), 20: 7 + minutes, 30: 1}
    if spec.with_error:
        counts[40] = 1
    if spec.finished_time is not None:
        counts[20] += 3
    return counts


def scrapy_stats(spec: JobSpec) -> dict[str, Any]:
    """The Scrapy stats dict of a finished job (its metadata `scrapystats`); {} otherwise."""
    if spec.finished_time is None or spec.running_time is None:
        return {}
    span = spec.span_ms
    counts = _level_counts(spec)
    rng = Rng(*spec.seed, 5)
    stats = {
        "downloader/request_bytes": spec.pages * 312,
        "downloader/request_count": spec.pages,
        "downloader/request_method_count/GET": spec.pages,
        "downloader/response_bytes": spec.pages * 41_873,
        "downloader/response_count": spec.pages,
        "downloader/response_status_count/200": spec.pages - 1,
        "downloader/response_status_count/503": 1,
        "elapsed_time_seconds": round(span / 1000, 3),
        "finish_reason": spec.close_reason or "finished",
        "finish_time": spec.finished_time,
        "item_scraped_count": spec.items,
        "log_count/DEBUG": counts.get(10, 0),
        "log_count/ERROR": counts.get(40, 0),
        "log_count/INFO": counts.get(20, 0),
        "log_count/WARNING": counts.get(30, 0),
        "memusage/max": 81_000_000 + rng.randint(0, 60_000_000),
        "memusage/startup": 71_000_000,
        "request_depth_max": 2,
        "response_received_count": spec.pages,
        "retry/count": 1,
        "retry/reason_count/503 Service Unavailable": 1,
        "scheduler/dequeued": spec.pages,
        "scheduler/enqueued": spec.pages,
        "start_time": spec.running_time,
    }
    if counts.get(40):
        stats["spider_exceptions/TypeError"] = counts[40]
    return stats


def log_records(spec: JobSpec) -> list[dict]:
    return make_logs(spec)[0]
