"""Benchmark posterior sampling: emcee on the H.E.S.S. Crab 1D spectra (joint-Crab release,
4 runs, 0.71-30 TeV, power law), the log-posterior of all walkers in one numpy pass against one
walker at a time.

Run::

    python benchmarks/bench_sampling.py [--walkers 32] [--steps 1500]

Prints the time of one log-posterior evaluation of all walkers (vectorised and looped), the
wall time of the emcee run, its acceptance fraction and autocorrelation times, and the posterior
means and widths beside MINUIT's values and errors.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import xgamma as xg
from xgamma.fitting.fitter import Likelihood
from xgamma.fitting.fold import with_fit_range
from xgamma.fitting.sampling import log_posterior, sample
from xgamma.models import Models, SkyModel, spectral_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--walkers", type=int, default=32)
    parser.add_argument("--steps", type=int, default=1500)
    args = parser.parse_args()
    base = xg.data_dir() / "joint-crab" / "spectra" / "hess"
    ds = with_fit_range(xg.read_ogip(sorted(base.glob("pha_*.fits")), name="hess"), 0.71, 30.0, select="centre")
    models = Models([SkyModel("crab", spectral_model("pl", index=2.5, amplitude=3e-11))])
    best = xg.fit(ds, models)
    like = Likelihood(ds, models)
    x = best.result["value"].values + 0.1 * best.result["error"].values * np.random.default_rng(0).standard_normal(
        (args.walkers, 2))
    for vec in (True, False):
        f = log_posterior(like, vectorize=vec, check=x[:4])
        f(x)
        t0 = time.perf_counter()
        for _ in range(20):
            f(x)
        dt = (time.perf_counter() - t0) / 20
        print(f"log-posterior of {args.walkers} walkers, {'vectorised' if f.vectorized else 'looped'}: "
              f"{dt * 1e3:.2f} ms")
    t0 = time.perf_counter()
    post = sample(ds, models, n_walkers=args.walkers, n_steps=args.steps, seed=1)
    print(f"emcee {args.walkers} walkers x {args.steps} steps: {time.perf_counter() - t0:.2f} s, "
          f"acceptance {post.attrs['acceptance_fraction']:.2f}, tau {np.round(post.attrs['autocorr_time'], 1)}")
    for name in post.data_vars:
        v, e = (float(best.result[k].sel(param=name)) for k in ("value", "error"))
        print(f"{name}: posterior {float(post[name].mean()):.5g} +- {float(post[name].std()):.3g}, "
              f"MINUIT {v:.5g} +- {e:.3g}")


if __name__ == "__main__":
    main()
