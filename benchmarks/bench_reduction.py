"""Benchmark: 3D data reduction of H.E.S.S. DL3 DR1 observations.

For 4, 16, 64 and all 105 observations, each observation is reduced on its own geometry: a
4 x 4 deg, 0.02 deg CAR map around its pointing with 12 reco-energy bins (0.5-50 TeV) and 20
true-energy bins (0.3-100 TeV); products counts, exposure, background, PSF and edisp maps,
safe mask (offset-max 2.5 deg + aeff-default) and a FoV background normalisation (scale). Each
task reads its observation's files itself (the reading is part of the timing) and returns a
small summary (``postprocess``), so memory stays bounded.

Configurations, each measured in a fresh subprocess (so that peak memory is its own):

* ``serial``: one thread (dask ``sync`` scheduler);
* ``threads2``: dask threaded scheduler with 2 threads;
* ``dist2``: a ``dask.distributed.LocalCluster`` with 2 single-threaded worker processes
  (cluster start-up reported separately).

``serial`` and ``threads2`` first reduce one observation outside the timing and report it as
start-up (the one-off imports of modules loaded on first use, ~0.2 s), as ``dist2`` does for
the cluster. Also reported: the reading time alone and the reduction time alone (observations
read beforehand), per observation. Maps are float32 by default (``--dtype float64`` for xgamma's
default). BLAS is limited to one thread per process (``OPENBLAS_NUM_THREADS=1`` etc.), as
``dask.distributed`` does for its workers: the matrix products here are small and a BLAS
thread pool only competes with the dask workers for the cores.

Run::

    python benchmarks/bench_reduction.py            # all configurations
    python benchmarks/bench_reduction.py --n 4 16   # fewer sizes
    python benchmarks/bench_reduction.py --malloc-keep   # allocator tuned (see the user guide)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from typing import Any

SIZES = (4, 16, 64, 105)


def _setup(n: int, dtype: str) -> tuple[list[Any], dict[str, Any]]:
    import xgamma as xg

    store = xg.open_store(xg.data_dir() / "hess-dl3-dr1")
    obs = [store.observation(i) for i in store.obs_ids[:n]]
    kwargs = {
        "dtype": dtype,
        "energy_true": xg.energy_axis(0.3, 100, 20, name="energy_true"),
        "safe_mask": {"methods": ["offset-max", "aeff-default"], "offset_max": 2.5},
        "background_method": "fov",
    }
    return obs, kwargs


def _geom(obs: Any) -> Any:
    import xgamma as xg

    p = obs.pointing
    return xg.wcs_geom((p.ra, p.dec), 4.0, 0.02, axes=[xg.energy_axis(0.5, 50, 12)])


def _summary(ds: Any) -> dict[str, float]:
    m = ds.mask_safe.values
    return {"obs_id": int(ds.attrs["obs_id"]), "counts": float(ds.counts.values[m].sum()),
            "background": float(ds.background.values[m].sum()),
            "norm": float(ds.fov_bkg_norm)}


def _maxrss_mb(who: int = resource.RUSAGE_SELF) -> float:
    return resource.getrusage(who).ru_maxrss / 1024.0


def _warm() -> bool:
    import xgamma  # noqa: F401

    return True


def run_one(mode: str, n: int, dtype: str) -> dict[str, Any]:
    """Run one configuration in this process and return its measurements."""
    import dask

    import xgamma as xg

    obs, kwargs = _setup(n, dtype)
    out: dict[str, Any] = {"mode": mode, "n": n}
    if mode == "read":
        t0 = time.perf_counter()
        for o in obs:
            o.events, o.aeff, o.edisp, o.psf, o.bkg  # noqa: B018
        out["seconds"] = time.perf_counter() - t0
    elif mode == "reduce_only":
        for o in obs:
            o.events, o.aeff, o.edisp, o.psf, o.bkg  # noqa: B018
        geoms = [_geom(o) for o in obs]
        t0 = time.perf_counter()
        for o, g in zip(obs, geoms, strict=True):
            _summary(xg.reduce(o, g, **kwargs))
        out["seconds"] = time.perf_counter() - t0
    elif mode in ("serial", "threads2"):
        sched = {"scheduler": "sync"} if mode == "serial" else {"scheduler": "threads",
                                                                  "num_workers": 2}
        with dask.config.set(**sched):
            # one-off start-up (modules imported on first use), reported apart like the
            # cluster start-up; reduce_many works on copies, so nothing is pre-read here
            t0 = time.perf_counter()
            xg.reduce_many(obs[:1], _geom, postprocess=_summary, progress=False, **kwargs)
            out["startup"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            res = xg.reduce_many(obs, _geom, postprocess=_summary, **kwargs)
        out["seconds"] = time.perf_counter() - t0
        out["check"] = res[0]
    elif mode == "dist2":
        from distributed import Client, LocalCluster

        t0 = time.perf_counter()
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                          dashboard_address=None) as cluster, Client(cluster) as client:
            client.run(_warm)  # workers import xgamma: part of the start-up
            out["startup"] = time.perf_counter() - t0
            t1 = time.perf_counter()
            res = xg.reduce_many(obs, _geom, postprocess=_summary, **kwargs)
            out["seconds"] = time.perf_counter() - t1
            out["worker_maxrss_mb"] = max(client.run(_maxrss_mb).values())
        out["check"] = res[0]
    else:
        raise ValueError(mode)
    out["per_obs"] = out["seconds"] / n
    out["maxrss_mb"] = _maxrss_mb()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="*", default=list(SIZES))
    parser.add_argument("--modes", nargs="*",
                        default=["read", "reduce_only", "serial", "threads2", "dist2"])
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--malloc-keep", action="store_true",
                        help="run with glibc keeping freed memory (MALLOC_MMAP_THRESHOLD_, "
                             "MALLOC_TRIM_THRESHOLD_): no page faults on fresh map arrays")
    parser.add_argument("--one", nargs=2, metavar=("MODE", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one[0], int(args.one[1]), args.dtype)))
        return
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1"}
    if args.malloc_keep:
        env.update(MALLOC_MMAP_THRESHOLD_="33554432", MALLOC_TRIM_THRESHOLD_="134217728")
    print(f"dtype {args.dtype}" + ("; glibc keeps freed memory" if args.malloc_keep else ""))
    print(f"{'mode':12s} {'n':>4s} {'total s':>8s} {'s/obs':>7s} {'peak MB':>8s}  notes")
    for n in args.n:
        for mode in args.modes:
            p = subprocess.run([sys.executable, __file__, "--one", mode, str(n), "--dtype",
                                args.dtype], capture_output=True, text=True, check=False, env=env)
            if p.returncode != 0:
                print(f"{mode:12s} {n:4d} failed: {p.stderr.strip().splitlines()[-1:]}")
                continue
            r = json.loads(p.stdout.strip().splitlines()[-1])
            notes = ""
            peak = r["maxrss_mb"]
            if mode == "dist2":
                notes = f"cluster start {r['startup']:.1f} s; worker peak {r['worker_maxrss_mb']:.0f} MB"
            elif "startup" in r:
                notes = f"start-up (first observation, imports) {r['startup']:.2f} s"
            print(f"{mode:12s} {n:4d} {r['seconds']:8.2f} {r['per_obs']:7.3f} {peak:8.0f}  {notes}",
                  flush=True)


if __name__ == "__main__":
    main()
