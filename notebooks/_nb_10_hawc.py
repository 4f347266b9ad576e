CELLS = [
("md", """
# HAWC: the Crab with event types, and fits to flux points

HAWC drifts: the sky passes over the detector once per sidereal day, so an observation has no
pointing and its IRFs are sky maps given per transit. The pass-4 Crab release has one
HDU-index table per event type (the nHit bins; bins 5-9 are in the shared data). We reduce each
event type onto the same map, keep them along an `event_type` dimension (the fit sums the
likelihood over it), fit the Crab, and compare with HAWC's published flux points.
"""),
("code", """
%matplotlib inline
import time

import matplotlib.pyplot as plt
import numpy as np
import xgamma as xg
from xgamma.fitting.flux_points_dataset import flux_points_dataset
from xgamma.models import BackgroundModel, Models, SkyModel, spectral_model
from xgamma.models.spatial import spatial_model
from xgamma.reduction.hawc import hawc_event_types, hawc_store, reduce_hawc_event_types

path = xg.data_dir() / "hawc" / "crab_events_pass4"
print("event types in the GP index:", hawc_event_types(path))
obs = hawc_store(path, 7).observation(103000133)
print(obs.pointing, f"livetime {obs.livetime / 86400:.1f} d")
obs.aeff
"""),
("code", """
geom = xg.wcs_geom((83.63, 22.0), width=3.0, binsz=0.1, axes=[xg.energy_axis(1, 316, 10)])
t0 = time.perf_counter()
crab = reduce_hawc_event_types(path, geom, [5, 6, 7, 8, 9])
print(f"reduced 5 event types in {time.perf_counter() - t0:.1f} s; transits: {crab.transits.values.round(2)}")
crab[["counts", "background"]].sum(["y", "x"]).to_dataframe().unstack("event_type")["counts"]
"""),
("code", """
excess = (crab.counts - crab.background).sum("energy")
g = excess.rolling(y=3, x=3, center=True).sum().plot(col="event_type", cmap="RdBu_r", center=0, figsize=(14, 3))
"""),
("md", """
## Joint fit over the event types

One point source with a log parabola (reference 7 TeV, as HAWC's) and one background norm for all
event types; the statistic is the sum of the five Cash statistics.
"""),
("code", """
point = spatial_model("point", frame="icrs", lon_0=83.633, lat_0=22.014)
models = Models([SkyModel("crab", spectral_model("lp", alpha=2.7, beta=0.1, amplitude=2e-13, reference=7.0),
                           spatial=point), BackgroundModel(("hawc",))])
t0 = time.perf_counter()
result = xg.fit(crab, models)
print(f"fit in {time.perf_counter() - t0:.1f} s, success={result.success}")
result.result[["value", "error"]].to_dataframe()
"""),
("md", """
## Fits to flux points

HAWC's published Crab points (`hawc/crab_flux`, the last one an upper limit) are a dataset too:
a chi2 term (asymmetric errors where given) plus a one-sided term for the upper limit. Fitted
alone, and compared with the fit of the events:
"""),
("code", """
points = xg.read_sed(xg.data_dir() / "hawc/crab_flux/HAWC19_flux_points.fits")
fp_fit = xg.fit(flux_points_dataset(points, name="hawc-points"),
                spectral_model("lp", alpha=2.7, beta=0.1, amplitude=2e-13, reference=7.0))
fp_fit.result[["value", "error"]].to_dataframe()
"""),
("code", """
e = np.geomspace(1, 300, 100)
fig, ax = plt.subplots(figsize=(7, 4.5))
for label, spec in (("fit to the events (nHit 5-9)", result.models["crab"].spectral),
                    ("fit to HAWC's points", fp_fit.models[0].spectral)):
    ax.loglog(e, e**2 * spec.evaluate_values(e, list(spec.parameters.values)), label=label)
det = ~points.is_ul.values
x = points.energy.values
y = (x**2 * points.norm * points.ref_dnde).values
ax.errorbar(x[det], y[det], yerr=(x**2 * points.norm_err * points.ref_dnde).values[det], fmt="ko", label="HAWC points")
ax.set_xlabel("E [TeV]"); ax.set_ylabel("E$^2$ dN/dE [TeV cm$^{-2}$ s$^{-1}$]"); ax.legend();
"""),
("md", """
## The same events on HEALPix

A HEALPix geometry (sky dim `pix`, here the pixels of nside 512, ~0.11 deg, within 1.5 deg of the
Crab) takes the same path: the events are binned with `lonlat_to_healpix`, exposure and background
are interpolated at the pixel centres, and the fit folds the point source with the PSF on the
sphere (the profile at the pixels' angular separations, on nested sub-pixels). The reduction also
writes as GADF HEALPix tables (`PIXTYPE = 'HEALPIX'`, a `PIX` column for a partial sky), all
event types in one file (HDUs `COUNTS_ET0`, `COUNTS_ET1`, ...).
"""),
("code", """
import tempfile

import pandas as pd
from xgamma.estimators.core import to_sed_type
from xgamma.io.dl4 import read_dl4, write_dl4

hgeom = xg.sky.healpix_geom(512, skydir=(83.63, 22.0), width=1.5, axes=[xg.energy_axis(1, 316, 10)])
t0 = time.perf_counter()
crab_hpx = reduce_hawc_event_types(path, hgeom, [7, 8, 9])
print(f"HEALPix: {crab_hpx.sizes['pix']} pixels, reduced in {time.perf_counter() - t0:.1f} s")
inside = xg.sky.separation(geom, (83.63, 22.0)) <= 1.5
print("counts within 1.5 deg, HEALPix vs WCS:", float(crab_hpx.counts.sum()),
      float(crab.sel(event_type=[7, 8, 9]).counts.where(inside).sum()))
fit_hpx = xg.fit(crab_hpx, Models([SkyModel("crab", spectral_model("lp", alpha=2.7, beta=0.1, amplitude=2e-13,
                                                                   reference=7.0), spatial=point),
                                   BackgroundModel(("hawc",))]))
fit_wcs = xg.fit(crab.sel(event_type=[7, 8, 9]), models)
cmp = fit_hpx.result[["value", "error"]].to_dataframe().join(
    fit_wcs.result[["value", "error"]].to_dataframe().add_suffix("_wcs"))
with tempfile.TemporaryDirectory() as tmp:
    write_dl4(crab_hpx, f"{tmp}/hpx.fits")
    back = read_dl4(f"{tmp}/hpx.fits")
    print("FITS round trip exact:", all(back[v].equals(crab_hpx[v]) for v in crab_hpx.data_vars),
          "event types:", back.event_type.values)
cmp
"""),
("md", """
Flux points of the HEALPix fit (the likelihood summed over the event types in every energy bin)
next to those of the WCS fit of the same event types:
"""),
("code", """
edges = [1, 3.16, 10, 31.6, 100, 316]
fp_hpx = xg.flux_points(crab_hpx, fit_hpx.models, "crab", edges)
fp_wcs = xg.flux_points(crab.sel(event_type=[7, 8, 9]), fit_wcs.models, "crab", edges)
sed_h, sed_w = (to_sed_type(f, "e2dnde") for f in (fp_hpx, fp_wcs))
pd.DataFrame({"E [TeV]": sed_h.energy.values, "TS HEALPix": fp_hpx.ts.values, "TS WCS": fp_wcs.ts.values,
              "e2dnde HEALPix / WCS": (sed_h.e2dnde / sed_w.e2dnde).values,
              "difference / error": ((sed_h.e2dnde - sed_w.e2dnde) / sed_w.e2dnde_err).values}).round(3)
"""),
("md", """
The excess map on HEALPix correlates with a top-hat disc on the sphere (the pixels whose centres
lie within the radius); `.xg.plot()` projects the `pix` map to an image (TAN around the centre of
a partial-sky map, Mollweide for all-sky), NaN outside the map.
"""),
("code", """
summed = xg.stack(crab_hpx, event_types="sum")
emap = xg.excess_map(summed, correlation_radius=0.2)
emap_wcs = xg.excess_map(xg.stack(crab.sel(event_type=[7, 8, 9]), event_types="sum"), correlation_radius=0.2)
print(f"peak significance near the Crab: HEALPix {float(emap.sqrt_ts.max()):.2f}, "
      f"WCS {float(emap_wcs.sqrt_ts.where(xg.sky.separation(emap_wcs, (83.63, 22.0)) < 0.3).max()):.2f}")
ax = emap.sqrt_ts.xg.plot(cmap="RdBu_r", vmin=-6, vmax=6)
"""),
]
