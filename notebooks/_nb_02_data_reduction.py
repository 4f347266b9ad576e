CELLS = [
("md", """
# Data reduction: from DL3 events to 3D cubes and 1D spectra

This notebook reduces the four H.E.S.S. DL3 DR1 Crab runs (23523, 23526, 23559, 23592) in the two
ways Gammapy users know: a **3D map dataset** (counts, exposure, background, PSF and energy
dispersion cubes on a WCS grid, background template normalised in the field of view) and a
**1D ON/OFF spectrum** with reflected OFF regions. Reduced datasets are plain `xarray.Dataset`s;
at the end we write one to zarr and reduce again on a `dask.distributed` cluster.
"""),
("code", """
%matplotlib inline
import tempfile
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import xarray as xr
import xgamma as xg
from scipy.ndimage import gaussian_filter
from xgamma import sky

store = xg.open_store(xg.data_dir() / "hess-dl3-dr1")
obs_ids = [23523, 23526, 23559, 23592]
observations = [store.observation(i) for i in obs_ids]
store.obs_table.loc[obs_ids, ["object", "ra_pnt", "dec_pnt", "zen_pnt", "livetime"]]
"""),
("md", """
## 3D reduction with a FoV background

The geometry is the one of `examples/crab_3d.yaml`: a 5 x 5 deg CAR map of 0.02 deg pixels centred
on the Crab, 10 reconstructed-energy bins from 1 to 10 TeV and 20 true-energy bins from 0.5 to
20 TeV. The background template of each run is scaled to the counts outside a 0.3 deg exclusion
circle around the Crab (`background_method="fov"`), and pixels beyond 2.5 deg offset are masked.
`xg.reduce_many` runs one dask task per observation; `xg.stack` sums them inside each run's
safe mask.
"""),
("code", """
geom = xg.wcs_geom((83.633, 22.014), width=5.0, binsz=0.02, frame="icrs", proj="CAR",
                   axes=[xg.energy_axis(1, 10, 10)], car_reference="center")
energy_true = xg.energy_axis(0.5, 20, 20, name="energy_true")
exclusion = sky.exclusion_mask(sky.drop_axes(geom), "icrs;circle(83.633,22.014,0.3)")
reduce_kwargs = dict(energy_true=energy_true, safe_mask={"methods": ["offset-max"], "offset_max": 2.5},
                     background_method="fov", exclusion_mask=exclusion, psf_binsz=0.2)

t0 = time.perf_counter()
per_obs = xg.reduce_many(observations, geom, **reduce_kwargs)
print(f"reduced {per_obs.sizes['obs']} runs in {time.perf_counter() - t0:.1f} s")
print("FoV background norms:", np.round(per_obs.fov_bkg_norm.values, 4).tolist())
stacked = xg.stack(per_obs)
stacked
"""),
("md", """
## Counts, background, excess and exposure

Images are summed over reconstructed energy inside the safe mask. The excess is counts minus the
normalised background template (smoothed with a 0.04 deg Gaussian for display); the exposure is
shown at 1 TeV true energy.
"""),
("code", """
mask = stacked.mask_safe
counts = stacked.counts.where(mask, 0).sum("energy").rename("counts")
background = stacked.background.where(mask, 0).sum("energy").rename("background")
excess = (counts - background).rename("excess")
smoothed_excess = excess.copy(data=gaussian_filter(excess.values, 2.0)).rename("excess (smoothed)")
exposure = stacked.exposure.sel(energy_true=1.0, method="nearest").rename("exposure")
print(f"counts {float(counts.sum()):.0f}, background {float(background.sum()):.1f}, "
      f"excess {float(excess.sum()):.1f}")

fig = plt.figure(figsize=(12, 10))
for k, img in enumerate([counts, background, smoothed_excess, exposure]):
    ax = fig.add_subplot(2, 2, k + 1, projection=sky.wcs_of(img))
    kw = {"stretch": "sqrt"} if img.name == "counts" else {}
    if img.name.startswith("excess"):
        kw = {"cmap": "RdBu_r", "vmin": -0.3, "vmax": 0.3}
    img.xg.plot(ax=ax, **kw)
    ax.set_title(img.name)
"""),
("md", """
The Crab stands out in the centre; background and exposure fall off towards the edge of the field
of view (the four wobble pointings are visible in their shapes).

## The PSF of the reduced dataset

The dataset carries a PSF map `psf(energy_true, rad, y_irf, x_irf)` (the exposure-weighted PSF of
the four runs on a coarse 0.2 deg grid). Its containment radius at the Crab position:
"""),
("code", """
from xgamma.fitting.fold_map import psf_containment_radius

iy, ix = stacked.sizes["y_irf"] // 2, stacked.sizes["x_irf"] // 2
print(f"PSF pixel at RA {float(stacked.ra_irf[iy, ix]):.2f}, Dec {float(stacked.dec_irf[iy, ix]):.2f}")
profile = stacked.psf.isel(y_irf=iy, x_irf=ix).transpose("energy_true", "rad").values
rad_edges = np.append(stacked.rad_min.values, stacked.rad_max.values[-1])
e_true = stacked.energy_true.values

fig, ax = plt.subplots(figsize=(6, 4))
for frac in (0.68, 0.95):
    ax.plot(e_true, psf_containment_radius(profile, rad_edges, frac), "o-", label=f"{frac:.0%} containment")
ax.set(xscale="log", xlabel="true energy [TeV]", ylabel="radius [deg]", ylim=(0, None),
       title="stacked PSF at the Crab position")
ax.legend();
"""),
("md", """
## Significance map

`xg.excess_map` correlates counts and background with a 0.1 deg top-hat and computes the
significance of the correlated counts over the correlated background (Cash statistic, as Li & Ma
for a known background), here in one energy band 1-10 TeV.
"""),
("code", """
emap = xg.excess_map(stacked, correlation_radius=0.1)
sig = emap.sqrt_ts.isel(energy=0)
print(f"maximum significance {float(sig.max()):.1f} sigma")
ax = sig.rename("significance").xg.plot(cmap="RdBu_r", vmin=-5, vmax=5)
ax.set_title("significance, 0.1 deg correlation radius, 1-10 TeV");
"""),
("md", """
Away from the Crab the significance should be distributed as a standard normal if the background
model is good:
"""),
("code", """
outside = sky.exclusion_mask(sig, "icrs;circle(83.633,22.014,0.5)") & np.isfinite(sig)
values = sig.values[outside.values]
fig, ax = plt.subplots(figsize=(6, 4))
bins = np.linspace(-5, 5, 51)
ax.hist(values, bins=bins, density=True, histtype="step", lw=2, label="pixels > 0.5 deg from the Crab")
x = np.linspace(-5, 5, 200)
ax.plot(x, np.exp(-0.5 * x**2) / np.sqrt(2 * np.pi), "k--", label="N(0, 1)")
ax.set(yscale="log", ylim=(1e-4, 1), xlabel="significance", ylabel="density")
ax.legend()
print(f"mean {values.mean():.2f}, std {values.std():.2f}");
"""),
("md", """
## 1D spectrum extraction with reflected regions

For the spectral analysis the ON region is a 0.11 deg circle around the Crab; the OFF regions of
each run are the ON region rotated about that run's pointing position
(`xgamma.reflected.find_reflected_regions`). Two runs are wobble observations 0.5 deg from the Crab,
two are pointed 1.5 deg away, so each run has its own ring of OFF regions (more of them at larger
offset):
"""),
("code", """
from xgamma.reflected import find_reflected_regions

on_region = "icrs;circle(83.63,22.01,0.11)"
zoom = sky.cutout(counts, (83.633, 22.014), 4.0)
zoom = zoom.copy(data=gaussian_filter(zoom.values, 2.0))
ax = zoom.xg.plot(cmap="Greys", add_cbar=False)
wcs = sky.wcs_of(zoom)
sky.region_from_string(on_region).to_pixel(wcs).plot(ax=ax, edgecolor="white", lw=2)
for k, o in enumerate(observations):
    p = o.pointing
    off = find_reflected_regions(on_region, (p.ra, p.dec))
    for j, reg in enumerate(off):
        reg.to_pixel(wcs).plot(ax=ax, edgecolor=f"C{k}", lw=1.2, label=f"run {o.obs_id} ({len(off)} OFF)" if j == 0 else None)
    ax.plot(*wcs.world_to_pixel_values(p.ra, p.dec), "+", color=f"C{k}", ms=12, mew=2)
ax.set_title("ON region (white), OFF regions and pointings (+)")
ax.legend(loc="upper left", fontsize=8, framealpha=0.9)
ax.figure.set_size_inches(8, 8);
"""),
("md", """
`reduce_spectrum` makes one ON/OFF dataset per run (the settings of `examples/crab_1d.yaml`: PSF
containment correction, safe energy threshold at 10 % of the maximum effective area) and
`stack_spectra` adds them. `spectrum_info` summarises each in its safe energy range.
"""),
("code", """
from xgamma.reduction.spectrum import reduce_spectrum, spectrum_info, stack_spectra

geom_1d = xg.region_geom(on_region, axes=[xg.energy_axis(0.2, 30, 15)])
spectra = [reduce_spectrum(o, geom_1d, energy_true=xg.energy_axis(0.1, 60, 30, name="energy_true"),
                           containment_correction=True, safe_mask=["aeff-default", "aeff-max"],
                           safe_mask_params={"aeff_percent": 10})
           for o in observations]
spectrum_stacked = stack_spectra(spectra)
info = pd.DataFrame([spectrum_info(d) for d in [*spectra, spectrum_stacked]]).set_index("name")
info[["counts", "counts_off", "alpha", "background", "excess", "sqrt_ts", "livetime", "n_bins",
      "energy_range"]].round(3)
"""),
("code", """
e = spectrum_stacked.energy.values
m = spectrum_stacked.mask_safe.values
alpha = (spectrum_stacked.acceptance / spectrum_stacked.acceptance_off).values
fig, ax = plt.subplots(figsize=(6, 4))
ax.step(e, spectrum_stacked.counts, where="mid", label="ON counts")
ax.step(e, alpha * spectrum_stacked.counts_off, where="mid", label="alpha x OFF counts")
ax.axvspan(e[0] / 2, spectrum_stacked.energy_min.values[m][0], color="0.85", label="outside safe range")
ax.set(xscale="log", xlim=(0.2, 30), xlabel="reconstructed energy [TeV]", ylabel="counts per bin",
       title="stacked ON/OFF spectrum")
ax.legend();
"""),
("md", """
## Writing and reading a dataset (zarr)

Reduced datasets keep their geometry (WCS header strings, bin edges) in coordinates and attrs, so
a zarr round trip gives back the same dataset; reading is lazy (dask).
"""),
("code", """
from xgamma.io.zarr import open_zarr, to_zarr

path = Path(tempfile.mkdtemp()) / "crab_stacked.zarr"
to_zarr(stacked, path)
back = open_zarr(path)
print(f"read lazily: counts is a {type(back.counts.data).__module__.split('.')[0]} array; "
      f"same WCS: {sky.wcs_of(back).wcs.compare(sky.wcs_of(stacked).wcs)}")
xr.testing.assert_identical(back.compute(), stacked)
print("round trip identical:", sorted(back.data_vars))
"""),
("md", """
## Reducing on a dask.distributed cluster

`reduce_many` submits its tasks to whatever dask scheduler is active. With a `distributed`
client (here a local in-process cluster with two workers; on a batch system it would be a
`dask_jobqueue` cluster) the same call runs there and gives the same result.
"""),
("code", """
from dask.distributed import Client, LocalCluster

cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None)
client = Client(cluster)
t0 = time.perf_counter()
per_obs_dist = xg.reduce_many(observations, geom, **reduce_kwargs)
print(f"distributed reduction: {time.perf_counter() - t0:.1f} s")
client.close()
cluster.close()

xr.testing.assert_allclose(per_obs_dist, per_obs, rtol=1e-12)
print("distributed result equals the threaded one")
"""),
]
