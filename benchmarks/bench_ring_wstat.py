"""Benchmark the 3D ON/OFF (ring background) path on the four H.E.S.S. Crab runs: reduction, ring
background per observation, ON/OFF stacking, and the WStat fit of a point source + power law,
beside the Cash fit of the same stacked cube with the ring background taken as known.

Run::

    python benchmarks/bench_ring_wstat.py [--repeat 3] [--width 2.5]

Prints seconds for each step (best of ``--repeat``), the statistic's cost per spectral step
(ms), and the fitted index with its error.
"""

from __future__ import annotations

import argparse
import time
import warnings

import xgamma as xg
from xgamma import sky
from xgamma.fitting.fold_map import MapEvaluator
from xgamma.models import Models, SkyModel, spectral_model
from xgamma.models.spatial import spatial_model
from xgamma.reduction.background import ring_background

CENTER = (83.633, 22.014)
RUNS = (23523, 23526, 23559, 23592)


def best_of(repeat: int, fn):  # type: ignore[no-untyped-def]
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--width", type=float, default=2.5)
    args = ap.parse_args()
    store = xg.open_store(xg.data_dir() / "hess-dl3-dr1")
    geom = sky.wcs_geom(CENTER, width=args.width, binsz=0.02, axes=[xg.energy_axis(1, 10, 5)], car_reference="center")
    et = xg.energy_axis(0.5, 20, 20, name="energy_true")
    excl = sky.exclusion_mask(geom, f"icrs;circle({CENTER[0]},{CENTER[1]},0.3)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t_red, raw = best_of(1, lambda: [xg.reduce(store.observation(i), geom, energy_true=et, offset_max=2.5,
                                                   safe_mask=["offset-max"]) for i in RUNS])
    t_ring, rings = best_of(args.repeat, lambda: [ring_background(d, 0.5, 0.3, excl) for d in raw])
    t_stack, st = best_of(args.repeat, lambda: xg.stack(rings))
    print(f"reduce 4 runs {t_red:.2f} s, ring per run {t_ring:.3f} s, ON/OFF stack {t_stack:.3f} s")
    models = Models([SkyModel("crab", spectral_model("pl", index=2.5, amplitude=3e-11),
                              spatial_model("point", lon_0=83.6, lat_0=22.0))])
    known = st.drop_vars(["counts_off", "acceptance", "acceptance_off", "alpha"])
    for label, ds in (("wstat", st), ("cash (ring bkg as known)", known)):
        ev = MapEvaluator(ds, models)
        v = models.parameters.values.copy()
        ev.stat(v)

        def steps(ev=ev, v=v) -> None:  # type: ignore[no-untyped-def]
            for k in range(50):
                v[0] = 2.5 + 1e-3 * k
                ev.stat(v)

        t_step, _ = best_of(args.repeat, steps)
        t_fit, res = best_of(args.repeat, lambda ds=ds: xg.fit(ds, models))
        idx = res.result.sel(param="crab.spectral.index")
        print(f"{label:26s} fit {t_fit:.2f} s, {1e3 * t_step / 50:.3f} ms per spectral step, "
              f"nfev {res.result.attrs.get('nfev')}, index {float(idx['value']):.4f} +- {float(idx['error']):.4f}")


if __name__ == "__main__":
    main()
