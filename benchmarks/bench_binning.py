"""Benchmark: binning events with pandas vs dask (CPU time and wall time).

Events uniformly over a 6 x 6 deg field around the Crab with a power-law energy spectrum are
binned with :func:`xgamma.reduction.binning.bin_events` on a WCS geometry (``--binsz`` deg,
1-100 TeV in ``--nenergy`` bins): once from one pandas DataFrame, once from a persisted dask
DataFrame of P partitions (one per "observation") on the synchronous and on the threaded
scheduler. Cases (``--cases``, events:partitions) by default: many small partitions
(1e6:105) and few large ones (5e6:20, 2e7:40). Printed per case and path: wall time and CPU
time of the process (all threads; ``time.process_time``), best of ``--repeat``, and the
dask/pandas CPU ratio (target: <= 1.3 on many small partitions, <= 1 on large ones). Both
results are checked to be identical. ``--extra-columns`` adds columns that are not binned.

Run::

    python benchmarks/bench_binning.py
    python benchmarks/bench_binning.py --cases 1e6:105
    python benchmarks/bench_binning.py --events 5e7 --partitions 100
"""

from __future__ import annotations

import argparse
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="1e6:105,5e6:20,2e7:40",
                        help="comma-separated events:partitions")
    parser.add_argument("--events", type=float, default=None, help="one case (with --partitions)")
    parser.add_argument("--partitions", type=int, default=20)
    parser.add_argument("--binsz", type=float, default=0.02)
    parser.add_argument("--nenergy", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--extra-columns", type=int, default=0,
                        help="columns not binned in the events (dask must not read them)")
    args = parser.parse_args()

    import dask
    import dask.dataframe as dd
    import numpy as np
    import pandas as pd

    import xgamma as xg
    from xgamma.reduction.binning import bin_events

    if args.events is not None:
        cases = [(int(args.events), args.partitions)]
    else:
        cases = [(int(float(c.split(":")[0])), int(c.split(":")[1]))
                 for c in args.cases.split(",")]
    geom = xg.wcs_geom((83.633, 22.014), 5.0, args.binsz,
                       axes=[xg.energy_axis(1, 100, args.nenergy)])

    def best(fn):
        out = None
        walls, cpus = [], []
        for _ in range(args.repeat):
            w0, c0 = time.perf_counter(), time.process_time()
            out = fn()
            walls.append(time.perf_counter() - w0)
            cpus.append(time.process_time() - c0)
        return out, min(walls), min(cpus)

    def run(n: int, npart: int) -> None:
        rng = np.random.default_rng(0)
        u = rng.uniform(0, 1, n)
        df = pd.DataFrame({
            "ra": rng.uniform(80.6, 86.6, n),
            "dec": rng.uniform(19.0, 25.0, n),
            "energy": 0.5 * (1 - u) ** (-1 / 1.7),  # power law of index 2.7 above 0.5 TeV
            **{f"extra{i}": rng.uniform(0, 1, n) for i in range(args.extra_columns)},
        })
        ddf = dd.from_pandas(df, npartitions=npart).persist()
        eager, w_pd, c_pd = best(lambda: bin_events(df, geom))
        print(f"events: {n:.1e}, {ddf.npartitions} dask partitions, cube {dict(eager.sizes)} "
              f"({eager.size:.1e} bins), {eager.values.sum():.0f} events binned")
        print(f"  pandas          : wall {w_pd:6.3f} s   cpu {c_pd:6.3f} s")
        for sched in ("sync", "threads"):
            with dask.config.set(scheduler=sched):
                lazy, w_dd, c_dd = best(lambda: bin_events(ddf, geom).compute())
            np.testing.assert_array_equal(lazy.values, eager.values)
            print(f"  dask ({sched:7s}): wall {w_dd:6.3f} s   cpu {c_dd:6.3f} s   "
                  f"dask/pandas CPU {c_dd / c_pd:.2f}  wall {w_dd / w_pd:.2f}")

    for n, npart in cases:
        run(n, npart)

if __name__ == "__main__":
    main()
