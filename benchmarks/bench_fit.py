"""Benchmark fits: the joint-Crab OGIP spectra (Nigro et al. 2019) per instrument and all five
instruments together, log10 log-parabola (E0 = 1 TeV), WStat, MIGRAD + HESSE; a stacked
power-law fit of a synthetic 4-observation dataset; the H.E.S.S. Crab 1D stacked fit (4 runs,
``examples/crab_1d.yaml``) and the 3D Crab fit (point source + power law + background norm on a
250 x 250 x 10 cube, ``examples/crab_3d.yaml``).

Run::

    python benchmarks/bench_fit.py [--repeat 5] [--backend minuit]

Prints, per fit (best of ``--repeat``): seconds, number of likelihood evaluations, seconds per
evaluation, and the fitted phi0 [1e-11 cm-2 s-1 TeV-1], alpha, beta with errors.
"""

from __future__ import annotations

import argparse
import time

import xgamma as xg
from xgamma.fitting.fitter import Likelihood
from xgamma.fitting.fold import example_dataset, fake, with_fit_range
from xgamma.models import Models, SkyModel, spectral_model
from xgamma.obs import concat_obs

FIT_RANGE = {"fermi": (0.03, 2.0), "magic": (0.08, 30), "veritas": (0.16, 30), "fact": (0.45, 30),
             "hess": (0.71, 30)}


def load() -> dict[str, object]:
    """The five instruments' spectra, obs-stacked per instrument, with the paper's fit ranges."""
    base = xg.data_dir() / "joint-crab" / "spectra"
    return {inst: with_fit_range(xg.read_ogip(sorted((base / inst).glob("pha_*.fits")), name=inst), *rng, select="centre")
            for inst, rng in FIT_RANGE.items()}


def timed_fit(datasets: object, models: Models, repeat: int, backend: str) -> tuple[float, xg.FitResult, float]:
    """Best wall time of ``repeat`` fits, the result, and the time of one likelihood evaluation."""
    best = float("inf")
    res = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        res = xg.fit(datasets, models, backend=backend)
        best = min(best, time.perf_counter() - t0)
    like = Likelihood(datasets, models)
    n = 300
    t0 = time.perf_counter()
    for i in range(n):  # alternate two parameter vectors: every evaluation recomputes
        like(like.x0 * (1 + 1e-6 * (i % 2)))
    assert res is not None
    return best, res, (time.perf_counter() - t0) / n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--backend", default="minuit", choices=["minuit", "scipy"])
    args = ap.parse_args()

    t0 = time.perf_counter()
    spectra = load()
    print(f"read 5 instruments' OGIP spectra: {time.perf_counter() - t0:.3f} s")
    models = Models([SkyModel("crab", spectral_model("lp10", amplitude=3e-11, reference=1.0, alpha=2.5, beta=0.1))])
    header = f"{'fit':<22}{'seconds':>9}{'nfev':>6}{'s/eval':>10}  {'phi0':>14}{'alpha':>15}{'beta':>15}"
    print(header)
    print("-" * len(header))
    cases: list[tuple[str, object]] = [(k, v) for k, v in spectra.items() if k != "fermi"]
    cases += [("IACTs joint (4)", [v for k, v in spectra.items() if k != "fermi"]),
              ("all five joint", list(spectra.values()))]
    for label, ds in cases:
        sec, res, per_eval = timed_fit(ds, models, args.repeat, args.backend)
        v, e = res.result["value"].values, res.result["error"].values
        print(f"{label:<22}{sec:9.4f}{res.nfev:6d}{per_eval:10.2e}  "
              f"{v[0] * 1e11:6.3f}+-{e[0] * 1e11:5.3f}{v[1]:8.3f}+-{e[1]:5.3f}{v[2]:8.3f}+-{e[2]:5.3f}")

    stacked = fake(example_dataset(), spectral_model("pl", index=2.6, amplitude=4e-11), seed=1)
    stacked = concat_obs([stacked.assign_attrs(obs_id=i) for i in range(4)], name="stacked")
    pl = Models([SkyModel("s", spectral_model("pl", index=2.0, amplitude=1e-11))])
    sec, res, per_eval = timed_fit(stacked, pl, args.repeat, args.backend)
    print(f"{'PL, 4 obs x 20 bins':<22}{sec:9.4f}{res.nfev:6d}{per_eval:10.2e}  "
          f"index {float(res.result.value[0]):.3f}+-{float(res.result.error[0]):.3f}")

    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "examples"
    for label, config, model_file in (("H.E.S.S. Crab 1D stacked", "crab_1d.yaml", "crab_1d_models.yaml"),
                                      ("H.E.S.S. Crab 3D", "crab_3d.yaml", "crab_3d_models.yaml")):
        ana = xg.Analysis(root / config)
        ana.get_observations()
        t0 = time.perf_counter()
        ana.get_datasets()
        t_reduce = time.perf_counter() - t0
        ana.set_models(root / model_file)
        sec, res, per_eval = timed_fit(ana.datasets, ana.models, args.repeat, args.backend)
        index = float(res.result["value"].sel(param=[p for p in res.result.param.values if p.endswith("index")][0]))
        print(f"{label:<22}{sec:9.4f}{res.nfev:6d}{per_eval:10.2e}  index {index:.3f} "
              f"(reduction {t_reduce:.2f} s)")


if __name__ == "__main__":
    main()
