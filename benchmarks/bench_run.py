"""Benchmark: ``xgamma run`` end to end on the example configurations, against the established
tool's ``Analysis`` on the same configurations.

For ``examples/crab_1d.yaml`` (4 H.E.S.S. DL3 DR1 runs, 1D ON/OFF with reflected regions) and
``examples/crab_3d.yaml`` (4 runs, 250 x 250 x 10 cube, FoV background, exclusion circle) the
command ``xgamma run CONFIG --out DIR -q`` is run in this process (after the imports) and its
CPU time (``time.process_time``: all threads) is split into the analysis steps:

* ``observations``: ``Analysis.validate`` + ``get_observations`` (index files, headers);
* ``datasets``: ``get_datasets`` (reading, reduction, stacking);
* ``models``, ``fit``, ``flux_points``, ``excess_map`` (3D only);
* ``write``: everything the established tool's ``Analysis`` does not do: the reduced datasets
  (zarr, checksummed and recorded in the transaction manifest), the other products, the plots
  and the manifest (SHA-256 of every file) with the atomic swap of the output folder.

Each configuration runs once to warm up (modules loaded on first use), then ``--repeat`` times;
the run with the smallest total is reported. The whole command is also run as a fresh process
(``python -m xgamma.cli run``), whose wall and CPU time include the interpreter start and the
imports. The established tool's figures are constants measured on this machine (see
``ESTABLISHED``); this script does not import it.

Steps below 10x and why (2026-12-02): ``observations`` (about 1x) reads each run's file for
its live time, which the established tool does in its ``get_datasets``; the reduction reuses
those reads, so ``observations`` + ``datasets`` is the comparable figure (about 10x on
crab_3d). ``excess_map`` (about 1.5x; 0.12 s there, 0.3 % of its run) solves the same per-pixel
likelihood profiles (errors, upper limits) on 62 500 pixels, vectorised in both tools. The 1D
``datasets`` step (about 5x) is dominated by IRF interpolation (``xarray.interp``) and region
serialisation per run.

Run::

    XGAMMA_DATA=/path/to/data python benchmarks/bench_run.py
    python benchmarks/bench_run.py --configs crab_3d --repeat 5 --no-process
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

#: Gammapy 2.1 ``Analysis`` on the same configurations (AnalysisConfig versions of the two
#: examples: same data store, runs, geometry, axes, safe mask, background method, exclusion
#: circle as a mask file, models, fit range, flux points with ``selection_optional: all`` (its
#: default, as xgamma's), excess map), each step timed with ``time.process_time`` after the
#: imports, best of 3 runs; measured 2026-12-02 on the 2-core machine these benchmarks run on
#: (shared, load about 5). ``write`` is 0: its ``Analysis`` writes nothing. Its imports took
#: 3.2 s CPU.
ESTABLISHED: dict[str, dict[str, float]] = {
    "crab_1d": {"observations": 0.048, "datasets": 1.903, "models": 0.017, "fit": 0.534,
                "flux_points": 26.273, "excess_map": 0.0, "write": 0.0},
    "crab_3d": {"observations": 0.058, "datasets": 6.352, "models": 0.038, "fit": 8.717,
                "flux_points": 20.737, "excess_map": 0.119, "write": 0.0},
}
STEPS = ("observations", "datasets", "models", "fit", "flux_points", "excess_map", "write")
#: The parts of ``write`` (xgamma only): the datasets zarr (checkpoint), the plots, the other
#: products, and the rest (config, transaction: lock, manifest, swap).
WRITE_PARTS = ("write_datasets", "plots", "products", "other")
# (``run`` calls the checks and the selection through ``_validate`` and ``_get_observations``;
# older versions through ``validate`` and ``get_observations``)
_METHODS = {"validate": "observations", "get_observations": "observations",
            "_validate": "observations", "_get_observations": "observations", "get_datasets": "datasets",
            "set_models": "models", "run_fit": "fit", "get_flux_points": "flux_points",
            "get_excess_map": "excess_map", "write_datasets": "write_datasets", "_plots": "plots",
            "write": "products"}


@contextlib.contextmanager
def _timed_steps(acc: dict[str, float]) -> Iterator[None]:
    """Accumulate the CPU time of the Analysis step methods into ``acc`` (the outermost call of
    each step only)."""
    from xgamma.analysis import Analysis

    saved = {name: getattr(Analysis, name) for name in _METHODS if hasattr(Analysis, name)}
    depth = dict.fromkeys(_METHODS.values(), 0)

    def wrap(name: str, func: Any) -> Any:
        @functools.wraps(func)
        def timed(*args: Any, **kwargs: Any) -> Any:
            depth[_METHODS[name]] += 1
            t0 = time.process_time()
            try:
                return func(*args, **kwargs)
            finally:
                depth[_METHODS[name]] -= 1
                if depth[_METHODS[name]] == 0:
                    acc[_METHODS[name]] = acc.get(_METHODS[name], 0.0) + time.process_time() - t0
        return timed

    for name, func in saved.items():
        setattr(Analysis, name, wrap(name, func))
    try:
        yield
    finally:
        for name, func in saved.items():
            setattr(Analysis, name, func)


def run_in_process(config: str, out: Path) -> dict[str, float]:
    """``xgamma run config --out out -q`` in this process; CPU seconds per step and total."""
    from xgamma.cli import main

    shutil.rmtree(out, ignore_errors=True)
    acc: dict[str, float] = {}
    with _timed_steps(acc):
        t0, w0 = time.process_time(), time.perf_counter()
        code = main(["run", config, "--out", str(out), "-q"])
        total, wall = time.process_time() - t0, time.perf_counter() - w0
    if code != 0:
        raise SystemExit(f"xgamma run {config} failed (exit code {code})")
    steps = {s: acc.get(s, 0.0) for s in STEPS if s != "write"}
    parts = {"write_datasets": acc.get("write_datasets", 0.0), "plots": acc.get("plots", 0.0),
             "products": acc.get("products", 0.0) - acc.get("plots", 0.0)}
    parts["other"] = total - sum(steps.values()) - sum(parts.values())
    steps["write"] = sum(parts.values())
    return {**steps, **parts, "total": total, "wall": wall}


def run_process(config: str, out: Path) -> dict[str, float]:
    """``python -m xgamma.cli run`` as a new process: wall and CPU including start and imports."""
    shutil.rmtree(out, ignore_errors=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "xgamma.cli", "run", config, "--out", str(out), "-q"],
                   check=True, cwd=ROOT, env={**os.environ, "MPLBACKEND": "Agg"})
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall": wall, "cpu": cpu}


def _ratio(ref: float, x: float) -> str:
    if ref <= 0:
        return "-"
    return f"{ref / x:6.1f}x" if x > 0 else "inf"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", nargs="+", default=["crab_1d", "crab_3d"])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-process", action="store_true", help="skip the fresh-process runs")
    args = parser.parse_args(argv)
    os.chdir(ROOT)  # the example configs name their models files relative to the repository
    t0 = time.process_time()
    import xgamma.analysis  # noqa: F401
    import xgamma.cli  # noqa: F401

    print(f"imports (xgamma.cli): {time.process_time() - t0:.2f} s CPU")
    with tempfile.TemporaryDirectory(prefix="bench_run_") as tmp:
        for name in args.configs:
            config = f"examples/{name}.yaml"
            out = Path(tmp) / name
            run_in_process(config, out)  # warm-up: modules loaded on first use
            runs = [run_in_process(config, out) for _ in range(max(1, args.repeat))]
            best = min(runs, key=lambda r: r["total"])
            ref = ESTABLISHED.get(name, {})
            ref_total = sum(ref.values())
            print(f"\n{name}: xgamma run, in process after imports (best of {len(runs)}; CPU s)")
            print(f"  {'step':14s} {'xgamma':>8s} {'Gammapy 2.1':>12s} {'ratio':>8s}")
            for step in STEPS:
                if step == "excess_map" and not best[step] and not ref.get(step):
                    continue
                print(f"  {step:14s} {best[step]:8.3f} {ref.get(step, 0.0):12.3f} "
                      f"{_ratio(ref.get(step, 0.0), best[step]):>8s}")
            print("    (write: " + ", ".join(f"{p} {best[p]:.3f}" for p in WRITE_PARTS) + ")")
            totals = ", ".join(f"{r['total']:.2f}" for r in runs)
            print(f"  {'total':14s} {best['total']:8.3f} {ref_total:12.3f} "
                  f"{_ratio(ref_total, best['total']):>8s}   (wall {best['wall']:.2f} s; "
                  f"totals of all runs: {totals})")
            if not args.no_process:
                proc = min((run_process(config, out) for _ in range(max(1, args.repeat))),
                           key=lambda r: r["cpu"])
                print(f"  whole process (python start + imports + run): wall {proc['wall']:.2f} s, "
                      f"CPU {proc['cpu']:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
