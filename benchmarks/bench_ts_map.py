"""Benchmark: 250 x 250 TS map (and excess map) of the H.E.S.S. Crab field.

The stacked 4-run Crab 3D dataset of Gammapy's reference analysis (5 x 5 deg, 0.02 deg CAR,
1-10 TeV in 10 bins, FoV background) is reduced once and pickled to a temporary file; each
configuration then runs in a fresh subprocess (its own peak memory) and times the estimator
after one warm-up call:

* ``ts_sync``: point-source PL index-2 kernel, one task (dask ``sync``), no upper limits;
* ``ts_1w`` / ``ts_2w``: 64-pixel sky tiles as dask tasks on 1 / 2 threads, no upper limits;
* ``ts_2w_ul``: as ``ts_2w`` with upper limits (profile, 2 sigma);
* ``ts_2w_ds2``: as ``ts_2w`` with downsampling factor 2;
* ``excess``: correlated excess/significance map (radius 0.1 deg, errors and limits).

The established tool (Gammapy ``TSMapEstimator`` defaults, same dataset): 28 s.

Run::

    python benchmarks/bench_ts_map.py
"""

from __future__ import annotations

import json
import os
import pickle
import resource
import subprocess
import sys
import tempfile
import time
from typing import Any

MODES = ("ts_sync", "ts_1w", "ts_2w", "ts_2w_ul", "ts_2w_ds2", "excess")


def make_dataset(path: str) -> None:
    import numpy as np  # noqa: F401
    from astropy.wcs import WCS

    import xgamma as xg
    from xgamma import sky

    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---CAR", "DEC--CAR"]
    w.wcs.crpix = [125.5, 125.5]
    w.wcs.crval = [83.633, 22.014]
    w.wcs.cdelt = [-0.02, 0.02]
    w.wcs.set()
    geom = sky.geom_from_wcs(w, (250, 250), axes=[xg.energy_axis(1, 10, 10)])
    store = xg.open_store(xg.data_dir() / "hess-dl3-dr1")
    excl = sky.exclusion_mask(sky.drop_axes(geom), "icrs;circle(83.633,22.014,0.3)")
    dss = xg.reduce_many([store.observation(i) for i in (23523, 23526, 23559, 23592)], geom,
                         energy_true=xg.energy_axis(0.5, 20, 20, name="energy_true"),
                         safe_mask={"methods": ["offset-max"], "offset_max": 2.5},
                         background_method="fov", exclusion_mask=excl)
    with open(path, "wb") as f:
        pickle.dump(xg.stack(dss), f)


def run_one(mode: str, path: str) -> dict[str, Any]:
    import dask
    import numpy as np

    import xgamma as xg

    with open(path, "rb") as f:
        ds = pickle.load(f)
    if mode == "excess":
        def call() -> Any:
            return xg.excess_map(ds, 0.1)
    else:
        kw: dict[str, Any] = {"selection_optional": ["ul"] if mode.endswith("_ul") else None}
        if mode == "ts_sync":
            kw["tile_size"] = None
        if mode.endswith("_ds2"):
            kw["downsampling_factor"] = 2

        def call() -> Any:
            return xg.ts_map(ds, **kw)
    sched: dict[str, Any] = {"scheduler": "sync"} if mode in ("ts_sync", "excess") else {
        "scheduler": "threads", "num_workers": 1 if mode == "ts_1w" else 2}
    with dask.config.set(**sched):
        call()
        t0 = time.perf_counter()
        res = call()
        sec = time.perf_counter() - t0
    v = np.asarray(res.sqrt_ts.values[0] if mode == "excess" else res.ts.values[0])
    return {"mode": mode, "seconds": sec, "max": float(np.nanmax(v)),
            "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0}


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--one":
        print(json.dumps(run_one(sys.argv[2], sys.argv[3])))
        return
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "crab3d.pkl")
        t0 = time.perf_counter()
        make_dataset(path)
        print(f"reduction of the 4 Crab runs: {time.perf_counter() - t0:.1f} s")
        print(f"{'mode':10s} {'seconds':>8s} {'peak MB':>8s}  max (TS or sqrt_ts)")
        for mode in MODES:
            p = subprocess.run([sys.executable, __file__, "--one", mode, path], capture_output=True,
                               text=True, check=False, env=env)
            if p.returncode != 0:
                print(f"{mode:10s} failed: {p.stderr.strip().splitlines()[-1:]}")
                continue
            r = json.loads(p.stdout.strip().splitlines()[-1])
            print(f"{mode:10s} {r['seconds']:8.2f} {r['maxrss_mb']:8.0f}  {r['max']:.1f}", flush=True)


if __name__ == "__main__":
    main()
