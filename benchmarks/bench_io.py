"""Benchmark DL3 reading: open the H.E.S.S. DL3 DR1 store, read all 105 observations (events
+ all IRFs) into memory, bin all events into one counts cube.

Run::

    python benchmarks/bench_io.py [--threads 2] [--repeat 3]

Prints seconds per stage (best of ``--repeat``) and the peak resident memory of the process.
"""

from __future__ import annotations

import argparse
import resource
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd

import xgamma as xg
from xgamma.io.store import Observation


def _load(obs: Observation) -> Observation:
    return obs.load()


def read_all(store: xg.DataStore, threads: int) -> list[Observation]:
    """Read every observation (events, GTI, IRFs), each file once, ``threads`` files at a time."""
    obs = [store.observation(i) for i in store.obs_ids]
    if threads <= 1:
        return [_load(o) for o in obs]
    with ThreadPoolExecutor(threads) as ex:
        return list(ex.map(_load, obs))


def _all_sky_geom() -> Any:
    """All-sky counts cube: 0.5 deg CAR pixels, 20 energy bins (0.1-100 TeV)."""
    energy = xg.energy_axis(0.1, 100, 20)
    return xg.wcs_geom((0.0, 0.0), width=(360, 180), binsz=0.5, frame="icrs", axes=[energy])


def bin_all(obs: list[Observation]) -> tuple[float, int]:
    """Bin the events of all observations into one all-sky counts cube (0.5 deg, 20 energies)."""
    events = pd.concat([o.events[["ra", "dec", "energy"]] for o in obs], ignore_index=True)
    events.attrs["units"] = {"ra": "deg", "dec": "deg", "energy": "TeV"}
    counts = xg.bin_events(events, _all_sky_geom())
    return float(counts.sum()), len(events)


def read_all_astropy(store: xg.DataStore) -> int:
    """Baseline: astropy Table of every HDU of every file (no IRF objects built)."""
    from astropy.io import fits
    from astropy.table import Table

    n = 0
    for path in sorted(set(store.hdu_table["path"])):
        with fits.open(path, memmap=False) as hl:
            for h in hl[1:]:
                n += len(Table.read(h))
    return n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--baseline", action="store_true",
                        help="also time astropy (fits.open + Table.read of every HDU)")
    args = parser.parse_args()
    path = xg.data_dir() / "hess-dl3-dr1"
    best: dict[str, float] = {}

    def stage(name: str, t0: float) -> None:
        best[name] = min(best.get(name, np.inf), time.perf_counter() - t0)

    for _ in range(args.repeat):
        t0 = time.perf_counter()
        store = xg.open_store(path)
        stage("open_store", t0)
        t0 = time.perf_counter()
        obs = read_all(store, args.threads)
        stage(f"read 105 obs (events + IRFs, {args.threads} threads)", t0)
        t0 = time.perf_counter()
        total, n = bin_all(obs)
        stage("bin all events into one counts cube", t0)
        assert total <= n
        del obs
        t0, c0 = time.perf_counter(), time.process_time()
        read_all(store, 1)
        stage("read 105 obs (events + IRFs, 1 thread)", t0)
        best["  (its CPU time)"] = min(best.get("  (its CPU time)", np.inf), time.process_time() - c0)
        t0 = time.perf_counter()
        ev = store.events().compute(scheduler="threads")
        stage("events only: dask store.events().compute()", t0)
        assert len(ev) == n
        t0 = time.perf_counter()
        lazy = store.events().xg.bin(_all_sky_geom()).sum().compute(scheduler="threads")
        stage("lazy: store.events().xg.bin(geom) (read + bin)", t0)
        assert int(lazy) == int(total)
        if args.baseline:
            t0 = time.perf_counter()
            read_all_astropy(store)
            stage("baseline: astropy fits.open + Table.read, all HDUs", t0)
    n_events = int(store.obs_table["event_count"].sum())
    print(f"H.E.S.S. DL3 DR1: {len(store)} observations, {n_events} events")
    for k, v in best.items():
        print(f"{k:55s} {v:7.3f} s")
    print(f"binned {n} events, {int(total)} inside the all-sky cube")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory {peak:.0f} MiB")


if __name__ == "__main__":
    main()
