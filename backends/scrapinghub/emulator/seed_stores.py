"""Seed collections and frontiers of the Scrapinghub emulator's demo data set.

Project 101 "bookstore" gets three collections: `s/prices` (50 keys, JSON objects; key
`catalogue/a-light-in-the-attic_1000` holds a `/` and key `Café Society at Midnight` holds
spaces and non-ASCII, so file-name escaping is exercised downstream), `vs/history` (5 keys
written one to four times, so the versioned store keeps up to three versions and reads show
the newest) and `cs/sessions` (3 keys). Project 102 "shop-monitor" gets frontier `products`
with slot `example.com` (12 requests: 8 at priority 0, then 4 at priority 1, `qdata` on
the even ones) and slot `shop.example.org` (150 requests at priority 0, so one batch of 100
and one of 50, `qdata` on every third). Everything derives from `content.Rng` and a base
time passed in, never from the clock. `STORE_LAYOUT` is what tests read back.
"""

from __future__ import annotations

import datetime

from .content import BOOK_TITLES, FIRST_NAMES, RATINGS, Rng
from .state import ScrapinghubState

SLASH_KEY = "catalogue/a-light-in-the-attic_1000"
UNICODE_KEY = "Café Society at Midnight"
STORE_LAYOUT = {
    101: {("s", "prices"): 50, ("vs", "history"): 5, ("cs", "sessions"): 3},
}
FRONTIER_LAYOUT = {
    102: {"products": {"example.com": 12, "shop.example.org": 150}},
}
MINUTE = 60_000


def _iso(ms: int) -> str:
    moment = datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def price_records(rng: Rng, at: int) -> list[dict]:
    """The 50 records of `s/prices`: 48 SKUs plus the two keys with special characters."""
    keys = [f"sku-{n:04d}" for n in range(1, 49)] + [SLASH_KEY, UNICODE_KEY]
    records = []
    for n, key in enumerate(keys):
        title = UNICODE_KEY if key == UNICODE_KEY else BOOK_TITLES[n % len(BOOK_TITLES)]
        records.append({
            "_key": key,
            "title": title,
            "price": rng.randint(500, 6000) / 100,
            "currency": "GBP",
            "in_stock": rng.chance(80),
            "rating": rng.choice(RATINGS),
            "updated": _iso(at + n * MINUTE),
        })
    return records


def seed_collections(state: ScrapinghubState, base_ms: int) -> None:
    collections = state.projects[101].collections
    rng = Rng(101, 7)
    collections.write("s", "prices", price_records(rng, base_ms), now=base_ms)
    # history: sku-0001 written four times (only three versions stay), the others fewer.
    for round_no in range(4):
        at = base_ms + (round_no + 1) * 60 * MINUTE
        batch = [{"_key": f"sku-{n:04d}", "price": rng.randint(500, 6000) / 100, "seen": _iso(at)}
                 for n in range(1, 6) if round_no < max(1, 5 - n)]
        collections.write("vs", "history", batch, now=at)
    sessions = [{"_key": f"session-{rng.hex(8)}", "user": rng.choice(FIRST_NAMES),
                 "started": _iso(base_ms + n * 7 * MINUTE), "cookies": {"cart": str(rng.randint(1, 9))}}
                for n in range(3)]
    collections.write("cs", "sessions", sessions, now=base_ms + 2 * 60 * MINUTE)


def seed_frontiers(state: ScrapinghubState, base_ms: int) -> None:
    frontiers = state.projects[102].frontiers
    first = [{"fp": f"https://example.com/product/{n}", **({"qdata": {"depth": 1}} if n % 2 == 0 else {})}
             for n in range(1, 9)]
    later = [{"fp": f"https://example.com/product/{n}", "p": 1,
              **({"qdata": {"depth": 2}} if n % 2 == 0 else {})} for n in range(9, 13)]
    frontiers.add("products", "example.com", first + later, now=base_ms)
    categories = ["kitchen", "outdoor", "office"]
    shop = [{"fp": f"https://shop.example.org/item/{n:03d}",
             **({"qdata": {"category": categories[n % 3]}} if n % 3 == 0 else {})}
            for n in range(1, 151)]
    frontiers.add("products", "shop.example.org", shop, now=base_ms + MINUTE)


def seed_stores(state: ScrapinghubState, base_ms: int) -> None:
    """Add the demo collections and frontiers (projects 101 and 102 must exist)."""
    seed_collections(state, base_ms)
    seed_frontiers(state, base_ms)
