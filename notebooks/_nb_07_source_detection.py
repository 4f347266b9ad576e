CELLS = [
("md", """
# Source detection: significance and TS maps, peaks, adaptive smoothing and flux profiles

This notebook reduces the four H.E.S.S. DL3 DR1 Crab runs to one stacked 3D dataset (FoV
background) and runs the map estimators on it:

* `xg.excess_map`: correlated counts, background and Cash significance in a 0.1 deg disk;
* `xg.ts_map`: the likelihood-ratio test of a point source at every pixel;
* `xg.find_peaks`: a table of the local maxima;
* `significance_distribution`: the significance of background-only pixels with a Gaussian fit;
* `xg.asmooth`: adaptive smoothing (the smallest scale at which each pixel is significant);
* `xg.flux_profile`: counts, excess, significance and flux in boxes along a line and in annuli.

Every result is an `xarray.Dataset` on the map's geometry (dims `energy`, `y`, `x`, or `region`).
"""),
("code", """
%matplotlib inline
import json
import time

import matplotlib.pyplot as plt
import numpy as np
from astropy.coordinates import SkyCoord

import xgamma as xg
from xgamma import sky
from xgamma.estimators import to_sed_type
from xgamma.estimators.asmooth import plot_asmooth
from xgamma.estimators.excess_map import plot_significance_distribution
from xgamma.estimators.profile import plot_profile

reference = json.loads((xg.data_dir().parent / "reference" / "gammapy_crab.json").read_text())["analysis_3d"]
store = xg.open_store(xg.data_dir() / "hess-dl3-dr1")
observations = [store.observation(i) for i in [23523, 23526, 23559, 23592]]
CRAB = (83.633, 22.014)
"""),
("md", """
## The stacked Crab 3D dataset

5 x 5 deg at 0.02 deg, 1-10 TeV in 10 bins; the FoV background model of each run is scaled to
the counts outside 0.3 deg of the Crab (the reduction of the reference analysis in
`gammapy_crab.json`, also `examples/crab_3d.yaml`).
"""),
("code", """
t0 = time.perf_counter()
# CAR projection with its reference point at the Crab, as Gammapy's WcsGeom.create
geom = xg.wcs_geom(CRAB, width=5.0, binsz=0.02, car_reference="center", axes=[xg.energy_axis(1, 10, 10)])
exclusion = sky.exclusion_mask(sky.drop_axes(geom), "icrs;circle(83.633,22.014,0.3)")
datasets = xg.reduce_many(observations, geom, energy_true=xg.energy_axis(0.5, 20, 20, name="energy_true"),
                          safe_mask={"methods": ["offset-max"], "offset_max": 2.5},
                          background_method="fov", exclusion_mask=exclusion)
stacked = xg.stack(datasets)
counts, bkg = float(stacked.counts.sum()), float(stacked.background.sum())
print(f"reduced in {time.perf_counter() - t0:.1f} s: {counts:.0f} counts, background {bkg:.1f}, "
      f"excess {counts - bkg:.1f} (reference: {reference['stacked']['counts']} / "
      f"{reference['stacked']['background']:.1f})")
"""),
("md", """
## Significance map

`xg.excess_map` sums counts and background over the energy band inside the safe mask,
correlates them with a 0.1 deg top hat and computes the Cash significance of the correlated
counts over the correlated background.
"""),
("code", """
emap = xg.excess_map(stacked, correlation_radius=0.1)
sig = emap.sqrt_ts.isel(energy=0)
x, y = sky.sky_to_pix(stacked, SkyCoord(*CRAB, unit="deg"))
i, j = int(np.floor(float(x) + 0.5)), int(np.floor(float(y) + 0.5))
print(f"at the Crab: {float(sig[j, i]):.2f} sigma, excess {float(emap.npred_excess[0, j, i]):.1f} "
      f"(reference {reference['excess_map']['at_crab_position']['sqrt_ts']:.2f} sigma, "
      f"{reference['excess_map']['at_crab_position']['npred_excess']:.1f})")
print(f"maximum: {float(sig.max()):.2f} sigma (reference {reference['excess_map']['max_sqrt_ts']:.2f})")

fig = plt.figure(figsize=(12, 5))
ax1 = fig.add_subplot(121, projection=sky.wcs_of(sig))
emap.npred_excess.isel(energy=0).rename("excess").xg.plot(ax=ax1, cmap="afmhot", vmin=0)
ax1.set_title("correlated excess counts (0.1 deg)")
ax2 = fig.add_subplot(122, projection=sky.wcs_of(sig))
sig.rename("significance").xg.plot(ax=ax2, cmap="RdBu_r", vmin=-8, vmax=8)
ax2.set_title("significance");
"""),
("md", """
## TS map

`xg.ts_map` fits the amplitude of a point source (power law of index 2, folded with the PSF
and energy dispersion) at every pixel: FFT sums and a vectorised Newton iteration over all
pixels, in sky tiles computed as dask tasks.
"""),
("code", """
t0 = time.perf_counter()
tsmap = xg.ts_map(stacked)
print(f"TS map of {tsmap.sizes['y']} x {tsmap.sizes['x']} pixels in {time.perf_counter() - t0:.1f} s; "
      f"maximum TS {float(tsmap.ts.max()):.0f} (TS of the source in the reference 3D fit: "
      f"{reference['fit']['ts_source']:.0f})")
fig = plt.figure(figsize=(13, 5))
ax1 = fig.add_subplot(121, projection=sky.wcs_of(sig))
tsmap.sqrt_ts.isel(energy=0).rename("sqrt(TS)").xg.plot(ax=ax1, cmap="RdBu_r", vmin=-8, vmax=8)
ax1.set_title("point-source sqrt(TS)")
flux = to_sed_type(tsmap, "flux").flux.isel(energy=0)
zoom = sky.cutout(flux, CRAB, 1.5)
ax2 = fig.add_subplot(122, projection=sky.wcs_of(zoom))
(zoom * 1e12).rename("flux").assign_attrs(units="1e-12 cm-2 s-1").xg.plot(ax=ax2, cmap="afmhot", vmin=0)
ax2.set_title("fitted point-source flux 1-10 TeV (zoom)")
fig.subplots_adjust(wspace=0.45);
"""),
("md", """
## Peak finding

`xg.find_peaks` returns the local maxima above a threshold, at least `min_distance` apart, as a
pandas table with pixel and sky positions.
"""),
("code", """
peaks = xg.find_peaks(tsmap.sqrt_ts, threshold=5, min_distance=0.5)
best = SkyCoord(reference["fit"]["parameters"]["lon_0"]["value"],
                reference["fit"]["parameters"]["lat_0"]["value"], unit="deg")
peak = SkyCoord(peaks.ra.iloc[0], peaks.dec.iloc[0], unit="deg")
print(f"brightest peak {peak.separation(best).deg:.3f} deg from the reference fit position "
      f"(pixel size 0.02 deg)")
peaks
"""),
("md", """
## Significance distribution of background-only pixels

Away from the Crab (beyond 0.5 deg) the significance of a good background model is distributed
as a standard normal; a Gaussian fit to the histogram gives its mean and width.
"""),
("code", """
background_only = sky.exclusion_mask(sky.drop_axes(stacked), "icrs;circle(83.633,22.014,0.5)")
dist = xg.significance_distribution(sig, background_only)
print(f"{dist['n']} pixels: mean {dist['mean']:.3f} +- {dist['mean_err']:.3f}, "
      f"width {dist['sigma']:.3f} +- {dist['sigma_err']:.3f}")
fig, axes = plt.subplots(1, 2, figsize=(12, 4))
plot_significance_distribution(sig, background_only, ax=axes[0])
axes[0].set_title("pixels beyond 0.5 deg of the Crab")
plot_significance_distribution(sig, ax=axes[1])
axes[1].set_title("all pixels: the Crab is the tail");
"""),
("md", """
## Adaptive smoothing

`xg.asmooth` convolves counts and background with Gaussians of increasing width and keeps, per
pixel, the smallest scale at which the significance exceeds the threshold (Ebeling et al. 2006):
bright features stay sharp, faint regions are smoothed heavily. Pixels that never reach the
threshold take the largest scale and are flagged (`significant = False`).
"""),
("code", """
scales = 0.02 * 2.0 ** np.arange(5)  # 0.02 ... 0.32 deg
t0 = time.perf_counter()
smooth = xg.asmooth(stacked, scales, kernel="gauss", threshold=5)
print(f"asmooth in {time.perf_counter() - t0:.1f} s; pixels per scale:",
      dict(zip(scales.round(2).tolist(), [int((smooth.scale == s).sum()) for s in scales], strict=True)),
      f"; significant: {float(smooth.significant.mean()):.1%}")
zoom = sky.cutout(smooth, CRAB, 2.0)
fig = plt.figure(figsize=(13, 5))
ax1 = fig.add_subplot(121, projection=sky.wcs_of(zoom))
plot_asmooth(zoom.assign(flux=zoom.flux.clip(min=0)), "flux", ax=ax1, stretch="sqrt", cmap="afmhot")
ax1.set_title("ASmooth flux per pixel, 1-10 TeV", pad=14)
ax2 = fig.add_subplot(122, projection=sky.wcs_of(zoom))
plot_asmooth(zoom, "scale", ax=ax2, cmap="viridis")
ax2.set_title("smoothing scale (sigma)")
fig.subplots_adjust(wspace=0.4);
"""),
("md", """
## Flux profiles through the Crab

`xg.box_profile_regions` lays boxes along the great circle between two points;
`xg.flux_profile` sums counts and background in each region and gives the excess, its
significance, profile-likelihood errors and upper limits, and the flux in the region (relative
to a power law of index 2, here converted with `to_sed_type`). The result has a `region` dim with
the region strings and the distance along the profile.
"""),
("code", """
boxes = xg.box_profile_regions((83.633, 20.8), (83.633, 23.2), n=24, width=0.3)
prof = xg.flux_profile(stacked, boxes)
annuli = xg.flux_profile(stacked, xg.annulus_regions(CRAB, np.arange(0, 1.01, 0.1)))
prof.isel(energy=0).to_dataframe()[["distance", "counts", "npred_background", "npred_excess", "sqrt_ts"]].iloc[9:15]
"""),
("code", """
fig = plt.figure(figsize=(14, 4.5))
ax0 = fig.add_subplot(131, projection=sky.wcs_of(sig))
sig.rename("significance").xg.plot(ax=ax0, cmap="RdBu_r", vmin=-8, vmax=8, add_cbar=False)
w = sky.wcs_of(sig)
for b in boxes:
    b.to_pixel(w).plot(ax=ax0, edgecolor="k", lw=0.6)
ax0.set_title("profile boxes (0.1 x 0.3 deg)")
ax1 = fig.add_subplot(132)
plot_profile(prof, "flux", ax=ax1)
ax1.set_title("flux along declination (from 20.8 deg)")
ax2 = fig.add_subplot(133)
plot_profile(annuli, "excess", ax=ax2, label="excess counts")
ax2.set_title("radial profile around the Crab")
fig.tight_layout()
"""),
("code", """
inside = to_sed_type(annuli, "flux").flux.isel(energy=0, region=slice(0, 3)).sum()
print(f"flux within 0.3 deg, 1-10 TeV (index-2 reference): {float(inside):.3g} cm-2 s-1; "
      f"excess {float(annuli.npred_excess[:3].sum()):.0f} counts")
"""),
]
