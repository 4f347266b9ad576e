"""Benchmark the estimators on HEALPix maps: the top-hat neighbour matrix and the excess map on
synthetic HEALPix datasets (a disc and the whole sky), and the HEALPix TS map (one source
folding per pixel) on a small disc.

Run::

    python benchmarks/bench_hpx_estimators.py [--repeat 3] [--nside 1024] [--width 5] [--radius 0.3]
        [--allsky-nside 128] [--allsky-radius 1.5]

Prints pixels, neighbours per pixel and seconds (best of ``--repeat``) for each step.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import xarray as xr

import xgamma as xg
from xgamma.estimators.excess_map import hpx_tophat_matrix
from xgamma.fitting.fold_hpx import example_hpx_dataset


def best_of(repeat: int, fn):  # type: ignore[no-untyped-def]
    best, out = np.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def dataset(nside: int, width: float | None) -> xr.Dataset:
    """Poisson counts around a flat background of 1 count per pixel and bin (2 energy bins)."""
    axes = [xg.energy_axis(1, 10, 2), xg.energy_axis(1, 10, 2, name="energy_true")]
    g = xg.sky.healpix_geom(nside, skydir=None if width is None else (83.63, 22.01), width=width, axes=axes)
    shape = (2, g.sizes["pix"])
    return g.assign(counts=(("energy", "pix"), np.random.default_rng(0).poisson(1.0, shape).astype(float)),
                    background=(("energy", "pix"), np.ones(shape)),
                    exposure=(("energy_true", "pix"), np.full(shape, 1e12), {"units": "cm2 s"}),
                    mask_safe=(("energy", "pix"), np.ones(shape, bool)))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--nside", type=int, default=1024)
    p.add_argument("--width", type=float, default=5.0)
    p.add_argument("--radius", type=float, default=0.3)
    p.add_argument("--allsky-nside", type=int, default=128)
    p.add_argument("--allsky-radius", type=float, default=1.5)
    a = p.parse_args()
    for nside, width, r in ((a.nside, a.width, a.radius), (a.allsky_nside, None, a.allsky_radius)):
        ds = dataset(nside, width)
        t_k, k = best_of(a.repeat, lambda ds=ds, r=r: hpx_tophat_matrix(ds, r))
        t_e, _ = best_of(a.repeat, lambda ds=ds, r=r: xg.excess_map(ds, correlation_radius=r))
        label = f"nside {nside}, " + ("all sky" if width is None else f"disc {width} deg")
        print(f"{label}: {ds.sizes['pix']} pixels, {k.nnz / k.shape[0]:.1f} neighbours/pixel within "
              f"{r} deg: matrix {t_k:.3f} s, excess map {t_e:.3f} s")
    ds = example_hpx_dataset(nside=256)
    ds = ds.assign(counts=ds.background * 0 + 1.0)
    t_ts, _ = best_of(1, lambda: xg.ts_map(ds))
    print(f"TS map, nside 256 disc of 4 deg: {ds.sizes['pix']} pixels, {t_ts:.2f} s "
          f"({1e3 * t_ts / ds.sizes['pix']:.1f} ms per pixel)")


if __name__ == "__main__":
    main()
