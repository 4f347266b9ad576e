"""Benchmark the estimators: flux points and light curves (H adds TS maps below, appending only).

Run::

    python benchmarks/bench_estimators.py [--repeat 3] [--workers 1 2] [--skip-lc]

Flux points: 10 bins (0.4-20 TeV) on the stacked and on the joint (4 runs) Crab 1D datasets of
``tests/test_crab_1d_reduction.py`` (the established tool: 11.6 s and 34 s). Light curve: the
PKS 2155-304 flare night (H.E.S.S. DR1 runs 33787-33801), 34 ten-minute bins from 2006-07-29
20:30 UTC, 1 and 3 energy bands (the established tool: 31 s and 86 s), reduction included.
Each figure: best wall time of ``--repeat`` runs and peak Python memory (tracemalloc) of one run,
with dask's threaded scheduler at each ``--workers`` count.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import dask
import numpy as np
from astropy.time import Time

import xgamma as xg
from xgamma.estimators.flux_points import flux_points
from xgamma.estimators.light_curve import light_curve, time_bins
from xgamma.models import Models, SkyModel, spectral_model
from xgamma.obs import concat_obs
from xgamma.reduction.spectrum import reduce_spectrum, stack_spectra

CRAB_RUNS = [23523, 23526, 23559, 23592]
PKS_RUNS = list(range(33787, 33802))


def measure(fn: Callable[[], Any], repeat: int, workers: int) -> tuple[float, float, Any]:
    """(best seconds, peak MiB of one run, result) with the threaded scheduler at ``workers``."""
    best = float("inf")
    out = None
    with dask.config.set(scheduler="threads", num_workers=workers):
        for _ in range(repeat):
            t0 = time.perf_counter()
            out = fn()
            best = min(best, time.perf_counter() - t0)
        tracemalloc.start()
        fn()
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    return best, peak, out


def crab_datasets() -> tuple[list[Any], Any, Models]:
    store = xg.open_store(xg.data_dir() / "hess-dl3-dr1")
    geom = xg.region_geom("icrs;circle(83.63,22.01,0.11)", axes=[xg.energy_axis(0.2, 30, 15)])
    et = xg.energy_axis(0.1, 60, 30, name="energy_true")

    def fr(d: Any) -> Any:
        return d.assign(mask_fit=(d.energy_min >= 0.6 * (1 - 1e-9)) & (d.energy_max <= 20 * (1 + 1e-9)))

    runs = [fr(reduce_spectrum(store.observation(o), geom, energy_true=et, containment_correction=True,
                               safe_mask=["aeff-default", "aeff-max"], safe_mask_params={"aeff_percent": 10}))
            for o in CRAB_RUNS]
    stacked = fr(stack_spectra(runs))
    res = xg.fit(stacked, Models([SkyModel("Crab", spectral_model("pl", index=2.5, amplitude=3e-11))]))
    return runs, stacked, res.models


def bench_flux_points(repeat: int, workers: list[int]) -> None:
    runs, stacked, models = crab_datasets()
    edges = np.geomspace(0.4, 20, 11)
    for label, data in (("stacked", stacked), ("joint (list of 4)", runs), ("joint (obs dim)", concat_obs(runs))):
        for w in workers:
            dt, peak, fp = measure(lambda d=data: flux_points(d, models, "Crab", edges), repeat, w)
            print(f"flux points, Crab 1D {label:18s} 10 bins ({int(fp.valid.sum())} valid), {w} worker(s): "
                  f"{dt:7.3f} s, peak {peak:6.1f} MiB   [established: {'11.6' if label == 'stacked' else '34'} s]")


def bench_light_curve(repeat: int, workers: list[int]) -> None:
    store = xg.open_store(xg.data_dir() / "hess-dl3-dr1")
    obs = [store.observation(o) for o in PKS_RUNS]
    geom = xg.region_geom("icrs;circle(329.71694,-30.2255,0.11)", axes=[xg.energy_axis(0.4, 20, 10)])
    rk = {"energy_true": xg.energy_axis(0.1, 40, 20, name="energy_true"), "containment_correction": True,
          "safe_mask": ["aeff-max"], "safe_mask_params": {"aeff_percent": 10}}
    models = Models([SkyModel("pks", spectral_model("pl", index=3.4, amplitude=2e-11).with_frozen("index"))])
    t0 = Time("2006-07-29T20:30:00", scale="utc")
    bins = time_bins(duration="10 min", t_start=t0, t_stop=t0.mjd + 340 / 1440)
    for bands, ref in (([0.7, 20], "31"), ([0.7, 1, 3, 20], "86")):
        for w in workers:
            dt, peak, lc = measure(lambda b=bands: light_curve(obs, models, "pks", b, geom, bins, reduce_kwargs=rk),
                                   repeat, w)
            print(f"light curve PKS 2155-304, {lc.sizes['time']} x 10 min, {lc.sizes['energy']} band(s), "
                  f"{w} worker(s): {dt:7.3f} s, peak {peak:6.1f} MiB   [established: {ref} s]")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--skip-lc", action="store_true")
    ap.add_argument("--skip-maps", action="store_true", help="skip the TS/excess-map timings")
    args = ap.parse_args()
    bench_flux_points(args.repeat, args.workers)
    if not args.skip_lc:
        bench_light_curve(max(1, args.repeat - 2), args.workers)
    if not args.skip_maps:
        # the 250 x 250 TS map and the excess map of the Crab field, each mode in its own
        # process for a clean peak memory (benchmarks/bench_ts_map.py)
        import subprocess
        import sys
        from pathlib import Path

        subprocess.run([sys.executable, str(Path(__file__).with_name("bench_ts_map.py"))], check=True)


if __name__ == "__main__":
    main()
