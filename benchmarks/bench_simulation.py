"""Benchmark event simulation and DL3 writing with the CTA prod5 South IRFs.

Stages (best of ``--repeat``):

- ``sample``: draw the events of 1 h of CTA prod5 South (background from the BKG IRF + a
  Crab-like point source 0.5 deg from the pointing), tables included (a fresh
  :class:`~xgamma.simulation.events.EventSampler`);
- ``sample (tables kept)``: the same draw with the sampler's tables already built;
- ``write``: write that observation as a GADF store (uncompressed FITS);
- ``simulate + write``: ``--n-obs`` observations from :func:`observation_from_irfs` to a store
  (:func:`~xgamma.simulation.run.simulate_to_store`: one dask task per observation, threads),
  seconds per observation.

Run::

    python benchmarks/bench_simulation.py [--livetime 1h] [--n-obs 10] [--repeat 3]

Prints seconds per stage, the number of events and the peak resident memory of the process.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

import xgamma as xg
from xgamma.models import SkyModel, spectral_model
from xgamma.simulation import observation_from_irfs, write_dl3
from xgamma.simulation.events import EventSampler
from xgamma.simulation.run import simulate_to_store

PROD5 = "cta-caldb/Prod5-South-20deg-AverageAz-14MSTs37SSTs.180000s-v0.1.fits.gz"


def _best(fn, repeat: int) -> tuple[float, object]:
    best, out = np.inf, None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--livetime", default="1 h")
    ap.add_argument("--n-obs", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    irf = xg.data_dir() / PROD5
    obs = observation_from_irfs(irf, (83.633, 22.514), args.livetime, "2025-01-01T00:00:00")
    src = SkyModel("crab", spectral_model("lp", amplitude=3.8e-11, reference=1.0, alpha=2.5, beta=0.1),
                   xg.spatial_model("point", lon_0=83.633, lat_0=22.014))
    rng = np.random.default_rng(0)

    t, ev = _best(lambda: EventSampler(obs).sample([src], rng=rng), args.repeat)
    n_src = int((ev.mc_id == 1).sum())
    print(f"sample {args.livetime} CTA prod5 South      {t:7.3f} s   {len(ev):,} events "
          f"({n_src:,} source)  {len(ev) / t / 1e6:.2f} M events/s")
    sampler = EventSampler(obs)
    t, ev = _best(lambda: sampler.sample([src], rng=rng), args.repeat)
    print(f"sample (tables kept)                {t:7.3f} s")

    tmp = Path(tempfile.mkdtemp())
    one = obs.with_events(ev)
    t, _ = _best(lambda: write_dl3([one], tmp / "one", overwrite=True), args.repeat)
    size = sum(p.stat().st_size for p in (tmp / "one").rglob("*") if p.is_file())
    print(f"write 1 observation                 {t:7.3f} s   {size / 1e6:.1f} MB")

    def many() -> Path:
        obs = [observation_from_irfs(irf, (83.633, 22.014 + 0.5 * (-1) ** i), args.livetime, 3600.0 * i,
                                     obs_id=i + 1) for i in range(args.n_obs)]
        return simulate_to_store(obs, [src], tmp / "many", seed=0, overwrite=True)

    t, _ = _best(many, 1)
    print(f"simulate + write {args.n_obs} observations      {t:7.3f} s   {t / args.n_obs:.3f} s per observation")
    t0 = time.perf_counter()
    store = xg.open_store(tmp / "many")
    n = sum(len(store.observation(i).events) for i in store.obs_ids)
    print(f"read back                           {time.perf_counter() - t0:7.3f} s   {n:,} events")
    shutil.rmtree(tmp, ignore_errors=True)
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
