"""Fermi-LAT 3FHL Galactic centre: fit a point source at Sgr A* on the LAT cubes.

Setup (issue 12): counts, exposure, PSF and background cubes of ``fermi-3fhl-gc`` (10 GeV -
500 GeV), diagonal energy dispersion, a 4 x 4 deg cut-out around Sgr A*, a point source
starting at (0, 0) galactic (limits +-0.5 deg), a power law with reference 30 GeV, the
background norm free (tilt frozen). Writes ``fit_result.yaml`` (the format of ``xgamma run``),
``models.yaml`` and the cut-out dataset ``dataset.fits``.

The point source goes on the pixels as in the established tool (``--point-sampling bilinear``,
the default here: the four pixel centres around it, bilinear weights, a PSF kernel drawn at a
pixel centre), which reproduces its index 2.796 +- 0.102 and amplitude 1.265e-8 +- 0.104e-8.
``--point-sampling exact`` draws the PSF at the source position (xgamma's default): Sgr A* sits
near a pixel corner, where the bilinear spreading widens the LAT PSF core most, and the exact
drawing finds an amplitude 3.6 % (0.45 sigma) lower.

Run: ``python examples/fermi_3fhl_gc.py --out results/fermi_3fhl_gc``
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import yaml

import xgamma as xg
from xgamma import sky
from xgamma.fitting.fitter import fit_summary
from xgamma.fitting.fold_map import POINT_SAMPLING
from xgamma.io.dl4 import write_dl4
from xgamma.io.fermi import read_fermi_cubes
from xgamma.models import BackgroundModel, Models, SkyModel, spectral_model
from xgamma.models.spatial import spatial_model

SGR_A = (359.944, -0.046)  # galactic


def gc_models(dataset_name: str) -> Models:
    sp = spatial_model("point", frame="galactic", lon_0=0.0, lat_0=0.0)
    sp = sp.with_parameters(sp.parameters.with_bounds("lon_0", -0.5, 0.5).with_bounds("lat_0", -0.5, 0.5))
    src = SkyModel("gc", spectral_model("pl", index=2.5, amplitude=1e-8, reference=0.03), spatial=sp)
    return Models([src, BackgroundModel((dataset_name,))])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="results/fermi_3fhl_gc", help="output folder")
    parser.add_argument("--point-sampling", choices=POINT_SAMPLING, default="bilinear",
                        help="how the point source goes on the pixels (bilinear: as the established tool)")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    gc = xg.data_dir() / "fermi-3fhl-gc"
    t0 = time.perf_counter()
    ds = read_fermi_cubes(gc / "fermi-3fhl-gc-counts-cube.fits.gz", gc / "fermi-3fhl-gc-exposure-cube.fits.gz",
                          gc / "fermi-3fhl-gc-psf-cube.fits.gz", gc / "fermi-3fhl-gc-background-cube.fits.gz",
                          name="fermi-3fhl-gc")
    cut = sky.cutout(ds, SGR_A, 4.0)
    t1 = time.perf_counter()
    print(f"read the cubes and cut out {dict(cut.sizes)} in {t1 - t0:.1f} s: "
          f"{int(cut.counts.sum())} counts, {float(cut.background.sum()):.0f} predicted background")
    res = xg.fit(cut.assign_attrs(point_sampling=args.point_sampling), gc_models(cut.attrs["name"]))
    t2 = time.perf_counter()
    print(f"fit ({args.point_sampling} point sampling) in {t2 - t1:.1f} s ({res.nfev} evaluations), "
          f"success={res.success}")
    for name, row in fit_summary(res)["parameters"].items():
        print(f"  {name:32s} {row['value']: .5g} +- {row['error']:.3g}")
    p = res.models["gc"].spectral.parameters
    print(f"reference (issue 12, from the cubes): index 2.796 +- 0.102 -> {(p['index'].value - 2.796) / 0.102:+.2f} sigma;"
          f" amplitude 1.265e-8 +- 0.104e-8 -> {(p['amplitude'].value - 1.265e-8) / 0.104e-8:+.2f} sigma")
    (out / "fit_result.yaml").write_text(yaml.safe_dump(fit_summary(res), sort_keys=False))
    xg.write_models(res.models, out / "models.yaml")
    write_dl4(cut, out / "dataset.fits")
    print(f"wrote {out / 'fit_result.yaml'}, {out / 'models.yaml'}, {out / 'dataset.fits'}")


if __name__ == "__main__":
    main()
