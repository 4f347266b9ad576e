"""xgamma quickstart: open the H.E.S.S. DL3 DR1 store, summarise the Crab observations and
write a counts map of the Crab field as a PNG.

Run: ``python examples/quickstart.py --out results/quickstart``
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import xgamma as xg  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="results/quickstart", help="output folder")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    t0 = time.perf_counter()
    store = xg.open_store(xg.data_dir() / "hess-dl3-dr1")
    print(f"H.E.S.S. DL3 DR1: {len(store.obs_table)} observations, "
          f"{store.obs_table['livetime'].sum() / 3600:.2f} h livetime")

    crab = store.select(cone=(83.633, 22.014, 5.0, "icrs"))
    cols = ["object", "ra_pnt", "dec_pnt", "livetime", "event_count"]
    print(crab.obs_table[cols].to_string())

    obs = crab.observation(crab.obs_ids[0])
    print(f"\nobservation {obs.obs_id}: {len(obs.events)} events, livetime {obs.livetime:.1f} s, "
          f"dead-time fraction {obs.dead_time_fraction:.3f}")

    geom = xg.wcs_geom((83.633, 22.014), width=4.0, binsz=0.02, frame="icrs",
                       axes=[xg.energy_axis(0.5, 100, nbins=1)])
    counts = crab.events().xg.bin(geom).compute().sum("energy")
    print(f"counts map {dict(counts.sizes)}: {int(counts.sum())} events above 0.5 TeV "
          f"from {len(crab.obs_ids)} runs")

    ax = counts.xg.plot(stretch="sqrt")
    ax.set_title("H.E.S.S. Crab field, counts > 0.5 TeV")
    png = out / "crab_counts.png"
    ax.figure.savefig(png, dpi=100)
    print(f"wrote {png} in {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
