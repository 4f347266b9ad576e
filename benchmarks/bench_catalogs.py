"""Benchmark source catalogs: read the 3FGL (3034 sources) into a DataFrame and convert all its
sources to models (the 6 whose spatial model needs a template file or is a two-Gaussian are
skipped); also every other shipped catalog, and the flux points of 300 3FGL sources.

Run::

    python benchmarks/bench_catalogs.py [--repeat 3]

Prints seconds per stage (best of ``--repeat``) and per source.
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections.abc import Callable
from typing import Any

import xgamma.catalogs as cat


def best(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Best wall time of ``repeat`` calls, and the last result."""
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def models_of(df: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return cat.catalog_models(df, skip_unsupported=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    t_read, df = best(lambda: cat.read_catalog("3fgl"), args.repeat)
    t_models, models = best(lambda: models_of(df), args.repeat)
    print(f"3FGL: read {len(df)} sources in {t_read:.3f} s; {len(models)} models in {t_models:.3f} s "
          f"({1e3 * t_models / len(models):.3f} ms per source); read + models {t_read + t_models:.3f} s")
    t_fp, fps = best(lambda: [cat.catalog_flux_points(df.iloc[[i]]) for i in range(300)], 1)
    print(f"3FGL: flux points of {len(fps)} sources in {t_fp:.3f} s ({1e3 * t_fp / len(fps):.2f} ms per source)")
    for name in cat.catalog_names():
        if name in ("3fgl", "4fgl"):
            continue
        tr, d = best(lambda n=name: cat.read_catalog(n), args.repeat)
        tm, m = best(lambda d=d: models_of(d), args.repeat)
        print(f"{name:>10}: read {len(d):5d} rows in {tr:.3f} s, {len(m):5d} models in {tm:.3f} s")


if __name__ == "__main__":
    main()
