"""Benchmark the instruments of issue 12: Fermi-LAT 3FHL GC fit, HAWC reduction per event type,
fits to flux points.

Run::

    python benchmarks/bench_instruments.py [--repeat 3]

Figures (best wall time of ``--repeat`` runs):

- Fermi-LAT: reading the 3FHL GC cubes (400 x 200 px, 11 energy bins) and the fit of the Sgr A*
  point source on the 4 x 4 deg cut-out (power law, position, background norm), with the exact
  PSF drawing and with ``point_sampling="bilinear"`` (the established tool's convention);
- HAWC: the reduction of the pass-4 Crab events onto a 3 x 3 deg, 0.1 deg map for each event
  type (nHit bins 5-9, GP estimator), and the joint fit over the five event types;
- HAWC on HEALPix vs WCS: the reduction of the five event types onto a HEALPix disc (nside
  512, ~0.11 deg pixels, radius 1.69 deg: the area of the 3 x 3 deg map) and onto the whole sky
  (nside 128 vs a 0.5 deg CAR map, ~2e5 pixels each), and the fit on the HEALPix disc;
- flux points: the fit of a log parabola to HAWC's published Crab points.

Measured (2 shared cores, load ~5, --repeat 2): LAT GC fit 1.1 s exact (162 evaluations), 2.0 s
bilinear (185); before the PSF core got its own sub-pixel sampling (whole kernel sampled at the
factor set by the 68 % radius): 3.8 s. HAWC joint fit 12.8 s (was 21.8 s in the same run).

``--only healpix`` runs the HEALPix part alone.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import xgamma as xg
from xgamma import sky
from xgamma.io.fermi import read_fermi_cubes
from xgamma.models import BackgroundModel, Models, SkyModel, spectral_model
from xgamma.models.spatial import spatial_model
from xgamma.reduction.hawc import hawc_store, reduce_hawc, reduce_hawc_event_types


def best(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", choices=["healpix"], default=None)
    args = parser.parse_args()
    data = xg.data_dir()
    if args.only == "healpix":
        hawc_healpix(data, args.repeat)
        return

    gc = data / "fermi-3fhl-gc"
    t, ds = best(lambda: read_fermi_cubes(gc / "fermi-3fhl-gc-counts-cube.fits.gz",
                                          gc / "fermi-3fhl-gc-exposure-cube.fits.gz",
                                          gc / "fermi-3fhl-gc-psf-cube.fits.gz",
                                          gc / "fermi-3fhl-gc-background-cube.fits.gz", name="lat"), args.repeat)
    print(f"Fermi-LAT 3FHL GC: read the cubes                      {t:7.2f} s")
    cut = sky.cutout(ds, (359.944, -0.046), 4.0)
    sp = spatial_model("point", frame="galactic", lon_0=0.0, lat_0=0.0)
    sp = sp.with_parameters(sp.parameters.with_bounds("lon_0", -0.5, 0.5).with_bounds("lat_0", -0.5, 0.5))
    models = Models([SkyModel("gc", spectral_model("pl", index=2.5, amplitude=1e-8, reference=0.03), spatial=sp),
                     BackgroundModel(("lat",))])
    for mode in ("exact", "bilinear"):
        c = cut.assign_attrs(point_sampling=mode)
        t, res = best(lambda c=c: xg.fit(c, models), args.repeat)
        p = res.models["gc"].spectral.parameters
        print(f"Fermi-LAT 3FHL GC: fit ({mode:8s}), {res.nfev} evaluations    {t:7.2f} s   "
              f"(index {p['index'].value:.3f} +- {p['index'].error:.3f}, amplitude {p['amplitude'].value:.4g})")

    hawc = data / "hawc/crab_events_pass4"
    geom = xg.wcs_geom((83.63, 22.0), width=3.0, binsz=0.1, axes=[xg.energy_axis(1, 316, 10)])
    for et in (5, 6, 7, 8, 9):
        def one(et: int = et) -> Any:
            obs = hawc_store(hawc, et).observation(103000133)
            return reduce_hawc(obs, geom, event_type=et)
        t, d = best(one, args.repeat)
        print(f"HAWC nHit bin {et}: reduce {int(d.counts.sum()):5d} counts (3 x 3 deg, 0.1 deg)   {t:7.2f} s")
    t, crab = best(lambda: reduce_hawc_event_types(hawc, geom, [5, 6, 7, 8, 9]), args.repeat)
    print(f"HAWC: reduce the 5 event types into one dataset         {t:7.2f} s")
    sp2 = spatial_model("point", frame="icrs", lon_0=83.633, lat_0=22.014)
    m2 = Models([SkyModel("crab", spectral_model("lp", alpha=2.7, beta=0.1, amplitude=2e-13, reference=7.0),
                          spatial=sp2), BackgroundModel(("hawc",))])
    t, r2 = best(lambda: xg.fit(crab, m2), args.repeat)
    print(f"HAWC: joint fit over 5 event types, {r2.nfev} evaluations     {t:7.2f} s")
    hawc_healpix(data, args.repeat)

    fp = xg.read_sed(data / "hawc/crab_flux/HAWC19_flux_points.fits")
    t, _ = best(lambda: xg.fit(fp, spectral_model("lp", alpha=2.5, beta=0.1, amplitude=1e-13, reference=7.0)),
                args.repeat)
    print(f"flux points: log parabola to HAWC's 10 Crab points       {t:7.3f} s")


def hawc_healpix(data: Any, repeat: int) -> None:
    """HAWC reduction time, HEALPix vs WCS (same events, same event types), and a HEALPix fit."""
    hawc = data / "hawc/crab_events_pass4"
    types = [5, 6, 7, 8, 9]
    ax = [xg.energy_axis(1, 316, 10)]
    cases = [
        ("WCS 3 x 3 deg, 0.1 deg", xg.wcs_geom((83.63, 22.0), width=3.0, binsz=0.1, axes=ax)),
        ("HEALPix nside 512, disc r=1.69 deg", sky.healpix_geom(512, skydir=(83.63, 22.0), width=1.69, axes=ax)),
        ("WCS all-sky CAR 0.5 deg", xg.wcs_geom((0, 0), width=(360, 180), binsz=0.5, axes=ax)),
        ("HEALPix all-sky nside 128", sky.healpix_geom(128, axes=ax)),
    ]
    out = {}
    for label, g in cases:
        t, d = best(lambda g=g: reduce_hawc_event_types(hawc, g, types), repeat)
        npix = d.sizes["pix"] if "pix" in d.dims else d.sizes["y"] * d.sizes["x"]
        out[label] = d
        print(f"HAWC 5 event types -> {label:36s} {npix:7d} px  {int(d.counts.sum()):6d} counts  {t:7.2f} s")
    sp = spatial_model("point", frame="icrs", lon_0=83.633, lat_0=22.014)
    m = Models([SkyModel("crab", spectral_model("lp", alpha=2.7, beta=0.1, amplitude=2e-13, reference=7.0),
                         spatial=sp), BackgroundModel(("hawc",))])
    for label in ("WCS 3 x 3 deg, 0.1 deg", "HEALPix nside 512, disc r=1.69 deg"):
        t, r = best(lambda label=label: xg.fit(out[label], m), repeat)
        q = r.models["crab"].spatial.parameters
        print(f"HAWC fit, 5 event types, {label:36s} {r.nfev:4d} evaluations  {t:7.2f} s   "
              f"(lon {q['lon_0'].value:.4f}, lat {q['lat_0'].value:.4f})")


if __name__ == "__main__":
    main()
