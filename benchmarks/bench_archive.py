"""Benchmark: reduce N observations into one zarr archive on a 2-worker LocalCluster.

Each observation is a synthetic one from :func:`xgamma.testing.make_observation` (events drawn
from its background IRF plus a Gaussian source; ``--events`` per observation), built inside
its task (``LazyObservation`` carries only the obs id and seed), so that the task graph stays
small and each worker holds only the observations in flight. All are reduced on one WCS
geometry (``--width`` deg, ``--binsz`` deg, 1-10 TeV in 4 bins; counts, exposure, background,
PSF and edisp maps, safe mask) with ``xg.reduce_many(..., store=path)``: every task writes its
dataset into its region along ``obs`` of the preallocated archive and returns a status.

Printed: wall time and time per observation (cluster start-up apart), the peak resident memory
of each worker process (``ru_maxrss``; target < 500 MB) and of the client, the archive's size
on disk, the time of a rerun over the complete archive (every observation verified against its
digest and skipped), and a check that the archive opens verified with the right sums.

Run::

    python benchmarks/bench_archive.py --n 200
    python benchmarks/bench_archive.py --n 1000 --events 20000
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import tempfile
import time
from typing import Any


class LazyObservation:
    """An observation made on first use (in the worker), from its id and seed only."""

    def __init__(self, obs_id: int, n_events: int) -> None:
        self.obs_id = obs_id
        self.n_events = n_events

    def __getstate__(self) -> dict[str, Any]:
        # reduce_many works on a copy (copy.copy) of objects that define __getstate__: the
        # observation made in a task lives in that copy and is released with it
        return {"obs_id": self.obs_id, "n_events": self.n_events}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if "_made" not in self.__dict__:  # made once per copy of the object (in its task)
            from xgamma import testing

            self.__dict__["_made"] = testing.make_observation(
                obs_id=self.obs_id, seed=self.obs_id, n_events=self.n_events,
                pointing=(83.633 + 0.01 * (self.obs_id % 50), 21.514))
        return getattr(self.__dict__["_made"], name)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _du_mb(path: str) -> float:
    total = 0
    for root, _, files in os.walk(path):
        total += sum(os.path.getsize(os.path.join(root, f)) for f in files)
    return total / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="number of observations")
    parser.add_argument("--events", type=int, default=20000, help="events per observation")
    parser.add_argument("--width", type=float, default=3.0)
    parser.add_argument("--binsz", type=float, default=0.05)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", default=None, help="archive path (default: a temp folder)")
    parser.add_argument("--no-rerun", action="store_true", help="skip the verify-and-skip rerun")
    args = parser.parse_args()

    import numpy as np
    from distributed import Client, LocalCluster

    import xgamma as xg
    from xgamma import testing
    from xgamma.reduction.archive import archive_status

    tmp = tempfile.mkdtemp(prefix="bench_archive_")
    path = args.out or os.path.join(tmp, "archive.zarr")
    shutil.rmtree(path, ignore_errors=True)
    geom = testing.make_wcs_geom(width=args.width, binsz=args.binsz)
    observations = [LazyObservation(i + 1, args.events) for i in range(args.n)]

    t0 = time.perf_counter()
    with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        client.run(lambda: __import__("xgamma"))  # imports on the workers: start-up
        t_start = time.perf_counter() - t0
        t1 = time.perf_counter()
        ds = xg.reduce_many(observations, geom, store=path)
        t_run = time.perf_counter() - t1
        peaks = client.run(_peak_rss_mb)
        t2 = time.perf_counter()
        if not args.no_rerun:
            xg.reduce_many(observations, geom, store=path)
        t_rerun = time.perf_counter() - t2
    status = archive_status(path)
    counts = float(ds.counts.sum())
    expected = args.n * args.events  # upper bound (events outside the map are dropped)

    print(f"observations          : {args.n} ({args.events} events each), geometry "
          f"{dict(ds.counts.sizes)}")
    print(f"cluster start-up      : {t_start:.1f} s ({args.workers} worker processes, 1 thread)")
    print(f"reduce -> archive     : {t_run:.1f} s wall, {t_run / args.n * 1e3:.0f} ms per "
          f"observation ({args.n / t_run:.1f} obs/s)")
    for addr, mb in sorted(peaks.items()):
        print(f"peak RSS worker       : {mb:.0f} MB  ({addr})")
    print(f"peak RSS client       : {_peak_rss_mb():.0f} MB")
    print(f"archive on disk       : {_du_mb(path):.1f} MB, complete={status['complete']}, "
          f"written {len(status['written'])}/{status['n_obs']}")
    if not args.no_rerun:
        print(f"rerun (verify + skip) : {t_rerun:.1f} s ({t_rerun / args.n * 1e3:.0f} ms per "
              "observation)")
    print(f"counts in archive     : {counts:.0f} of {expected} events "
          f"({counts / expected:.1%} inside the map), finite exposure: "
          f"{bool(np.isfinite(ds.exposure.values).all())}")
    if args.out is None:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
