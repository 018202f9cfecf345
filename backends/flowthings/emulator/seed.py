"""Seed data sets of the flowthings emulator: `demo` (a small account to explore) and
`bench` (the demo data plus a flow of 100,000 drops and an empty flow with room for
appends).

The account is `demo` in both. Demo flows: `/demo/weather` (48 hourly readings) with the
child flows `/demo/weather/berlin` (24 readings with a location) and
`/demo/weather/lisbon` (no drops yet); `/demo/sensors/kitchen` and `/demo/sensors/garage`
(no flow at `/demo/sensors` itself, so that directory holds only child flows); and
`/demo/orders` (120 orders with nested objects and non-ASCII text). Times are fixed, so
every run of the emulator serves the same bytes.
"""

SEED_MS = 1_700_000_000_000  # 2023-11-14T22:13:20Z
BENCH_DROPS = 100_000
BENCH_FLOW = "/demo/bench/big"
SINK_FLOW = "/demo/bench/sink"


def _flow(state, account, path, when, **fields):
    return state.create_flow(account, {"path": path, **fields}, when=when)


def _drops(state, account, flow, elems_list, start, step=1000, **extra):
    for number, elems in enumerate(elems_list):
        body = {"elems": elems}
        for key, make in extra.items():
            body[key] = make(number)
        state.create_drop(account, flow, body, when=start + number * step)


def seed_demo(state, account):
    weather = _flow(state, account, "/demo/weather", SEED_MS, description="Hourly readings",
                    displayName="Weather")
    _drops(state, account, weather,
           [{"station": "central", "hour": h, "temp": round(8.5 + (h % 24) * 0.25, 2),
             "raining": h % 5 == 0} for h in range(48)],
           SEED_MS + 1000, step=3_600_000)
    berlin = _flow(state, account, "/demo/weather/berlin", SEED_MS + 10, capacity=500,
                   description="Berlin station")
    _drops(state, account, berlin,
           [{"hour": h, "temp": round(3.0 + h * 0.5, 1), "wind": {"speed": 12 + h, "dir": "NW"}}
            for h in range(24)],
           SEED_MS + 2000, step=3_600_000,
           location=lambda n: {"lat": 52.52, "lon": 13.405, "specifiers": {}})
    _flow(state, account, "/demo/weather/lisbon", SEED_MS + 20, description="Lisbon station")
    for offset, room in enumerate(("kitchen", "garage")):
        flow = _flow(state, account, f"/demo/sensors/{room}", SEED_MS + 30 + offset)
        _drops(state, account, flow,
               [{"room": room, "reading": n, "humidity": 40 + (n * 7) % 30} for n in range(10 + offset * 5)],
               SEED_MS + 5000 + offset, step=60_000)
    orders = _flow(state, account, "/demo/orders", SEED_MS + 40, description="Café orders")
    _drops(state, account, orders,
           [{"order": n, "customer": ["Zoë", "José", "Ann", "李"][n % 4],
             "items": [{"sku": f"sku-{n % 7}", "qty": 1 + n % 3}], "paid": n % 6 != 0,
             "total": round(4.5 + n * 0.75, 2)} for n in range(120)],
           SEED_MS + 9000, step=90_000, fhash=lambda n: f"order-{n}")


def seed_bench(state, account):
    seed_demo(state, account)
    big = _flow(state, account, BENCH_FLOW, SEED_MS + 100, capacity=BENCH_DROPS,
                description="Benchmark: 100,000 drops")
    labels = [f"sensor-{n:02d}" for n in range(50)]
    _drops(state, account, big,
           ({"seq": n, "label": labels[n % 50], "value": (n * 37) % 1000 / 10, "ok": n % 3 != 0,
             "tags": ["bench", labels[n % 7]]} for n in range(BENCH_DROPS)),
           SEED_MS + 200, step=10)
    _flow(state, account, SINK_FLOW, SEED_MS + 110, capacity=100_000,
          description="Benchmark: appends land here")


SEEDS = {"demo": seed_demo, "bench": seed_bench}
