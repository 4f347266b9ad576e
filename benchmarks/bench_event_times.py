"""Benchmark the event-time conversion: file seconds since MJDREF <-> ``datetime64[ns]`` UTC.

Run::

    python benchmarks/bench_event_times.py [--n 1000000] [--repeat 3]

Prints seconds per 1e6 events (best of ``--repeat``) for reading (seconds -> dates) and writing
(dates -> seconds) a run without a leap second (one TAI-UTC offset) and one with a leap second
inside (TAI-UTC per event), astropy's ``(ref + TimeDelta).utc.datetime64`` for comparison (on
at most 2e5 events, scaled), and the share of the conversion in reading the H.E.S.S. DR1 events
of the 15 PKS 2155-304 flare-night runs (when the data are there).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from astropy.time import Time, TimeDelta

import xgamma as xg
from xgamma.times import datetime_to_seconds, seconds_to_datetime

HESS = {"mjdrefi": 51910, "mjdreff": 0.000742870370370241, "timesys": "TT"}


def _best(fn, repeat: int) -> float:
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return min(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    rng = np.random.default_rng(1)
    ref = Time(HESS["mjdrefi"], HESS["mjdreff"], format="mjd", scale="tt")
    per = 1e6 / a.n
    for label, start in (("no leap second", "2006-07-29T21:00:00"),
                         ("leap second inside", "2008-12-31T23:45:00")):
        t0 = float((Time(start, scale="utc") - ref).to_value("s"))
        s = np.sort(t0 + rng.uniform(0, 1800, a.n))
        d = seconds_to_datetime(s, HESS)
        r = _best(lambda s=s: seconds_to_datetime(s, HESS), a.repeat) * per
        w = _best(lambda d=d: datetime_to_seconds(d, HESS), a.repeat) * per
        print(f"{label:20s} read {r:.3f} s / 1e6 events   write {w:.3f} s / 1e6 events")
    m = min(a.n, 200_000)
    s = t0 + rng.uniform(0, 1800, m)
    ast = _best(lambda: (ref + TimeDelta(s, format="sec")).utc, 1) * 1e6 / m
    print(f"astropy Time -> UTC (for comparison)   {ast:.3f} s / 1e6 events")
    d = xg.data_dir(required=False)
    if d is not None:
        store = xg.open_store(d / "hess-dl3-dr1")
        runs = [store.observation(i) for i in range(33787, 33802)]
        t = time.perf_counter()
        evs = [o.read_events() for o in runs]
        total = time.perf_counter() - t
        n = sum(len(e) for e in evs)
        secs = [datetime_to_seconds(e.time.to_numpy(), e.attrs) for e in evs]
        conv = _best(lambda: [seconds_to_datetime(x, e.attrs) for x, e in zip(secs, evs, strict=True)],
                     a.repeat)
        print(f"H.E.S.S. flare night: {n} events read in {total:.3f} s, of which the time "
              f"conversion {conv:.4f} s ({conv / n * 1e6:.3f} s / 1e6 events, 15 runs)")


if __name__ == "__main__":
    main()
