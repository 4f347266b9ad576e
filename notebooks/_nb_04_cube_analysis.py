CELLS = [
("md", """
# Cube (3D) analysis: the Crab Nebula with H.E.S.S.

The 3D analysis of `examples/crab_3d.yaml`: the four H.E.S.S. DL3 DR1 Crab runs are reduced to
a stacked map dataset (5 x 5 deg, 1-10 TeV, FoV-normalised background template), and a point
source with a power-law spectrum plus a background normalisation is fitted to the counts cube
with the Cash statistic, folding the model with exposure, PSF and energy dispersion. We then
compute the source's test statistic and look at spatial and spectral residuals.
"""),
("code", """
%matplotlib inline
import logging
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy.ndimage import gaussian_filter
import xgamma as xg
from xgamma import sky
from xgamma.fitting.fitter import ts
from xgamma.fitting.fold_map import npred_map

EXAMPLES = next(p for p in [Path("../examples"), Path("examples")] if p.is_dir())  # repository examples
analysis = xg.Analysis(EXAMPLES / "crab_3d.yaml")
logging.getLogger("xgamma.analysis").setLevel(logging.WARNING)  # the config asks for info logs
analysis.get_observations()
(dataset,) = analysis.get_datasets()
mask = dataset.mask_safe
print(f"{dataset.attrs['name']}: runs {dataset.attrs['obs_id']}, livetime {dataset.attrs['livetime'] / 3600:.2f} h, "
      f"counts {float(dataset.counts.where(mask, 0).sum()):.0f}, "
      f"background {float(dataset.background.where(mask, 0).sum()):.1f}")
"""),
("md", """
## Models and fit

The start model of `examples/crab_3d_models.yaml` is a point source (position free) with a power
law; `set_models` adds a background model `stacked-bkg` whose norm scales the background
template (tilt frozen), as Gammapy's `FoVBackgroundModel`.
"""),
("code", """
models = analysis.set_models(EXAMPLES / "crab_3d_models.yaml")
print(models.names)
result = analysis.run_fit()
print(result)
r = result.result
table = pd.DataFrame({"value": r.value.values, "error": r.error.values, "unit": r.unit.values},
                     index=r.param.values)
table
"""),
("md", """
For comparison, Gammapy 2.1 on the same configuration gives index 2.590 +- 0.095, amplitude
(4.63 +- 0.37) x 1e-11 cm-2 s-1 TeV-1 at 1 TeV, position (83.6190, 22.0248) deg and background
norm 0.998 +- 0.012. The fitted Crab position is within ~1 arcmin of the nominal one.

## Test statistic of the source

`xgamma.fitting.fitter.ts` fits the models with and without the source (the background norm is re-fitted in
both) and returns the difference of the Cash statistics.
"""),
("code", """
fitted = result.models
ts_crab = ts(dataset, fitted, "crab")
print(f"TS = {ts_crab:.1f}  (sqrt(TS) = {np.sqrt(ts_crab):.1f}; Gammapy: TS = 1582)")
"""),
("md", """
## Residual map

`npred_map` evaluates the fitted models on the dataset geometry (counts predicted by the source,
folded with exposure, PSF and edisp, plus the normalised background). Summed over energy in the
safe mask and smoothed with a 0.04 deg Gaussian, the residual `counts - npred` removes the bright
excess over the background alone; what remains at the Crab position is a weak pattern at the
level of a few percent of the source peak (the H.E.S.S. Crab is slightly extended and the PSF
model is not perfect).
"""),
("code", """
npred = npred_map(dataset, fitted)
npred_bkg = npred_map(dataset, fitted, component="background")
counts_img = dataset.counts.where(mask, 0).sum("energy")
excess_img = counts_img - npred_bkg.where(mask, 0).sum("energy")
resid_img = counts_img - npred.where(mask, 0).sum("energy")
print(f"total counts {float(counts_img.sum()):.0f}, npred {float(npred.where(mask, 0).sum()):.1f}")

def smooth(img, sigma_deg=0.04, binsz=0.02):
    return img.copy(data=gaussian_filter(img.values, sigma_deg / binsz))

def crab_zoom(img):
    return sky.cutout(img, (83.633, 22.014), 2.0)

fig = plt.figure(figsize=(13, 5))
fig.subplots_adjust(wspace=0.45)
for k, (img, title) in enumerate([(excess_img, "counts - background"), (resid_img, "counts - npred (source + background)")]):
    img = crab_zoom(smooth(img)).rename("smoothed counts per pixel")
    ax = fig.add_subplot(1, 2, k + 1, projection=sky.wcs_of(img))
    img.xg.plot(ax=ax, cmap="RdBu_r", vmin=-0.5, vmax=0.5)
    ax.set_title(title)
"""),
("md", """
A more quantitative view: the significance of the residuals with `xg.excess_map`, which takes
the models' prediction as the background when `model=` is given (0.1 deg top-hat correlation).
With ~10^4 correlated pixels in the 2 x 2 deg cutout, values up to about +-3.5 are expected from
noise alone.
"""),
("code", """
res_sig = xg.excess_map(dataset, correlation_radius=0.1, model=fitted).sqrt_ts.isel(energy=0)
ax = crab_zoom(res_sig).rename("significance").xg.plot(cmap="RdBu_r", vmin=-5, vmax=5)
ax.set_title("residual significance (model subtracted)")
print(f"residual significance within 2 deg: min {float(crab_zoom(res_sig).min()):.1f}, "
      f"max {float(crab_zoom(res_sig).max()):.1f}");
"""),
("md", """
## Spectral residuals

Counts and predicted counts summed in a 0.3 deg circle around the Crab, per reconstructed-energy
bin:
"""),
("code", """
region = "icrs;circle(83.633,22.014,0.3)"
in_region = sky.region_mask(sky.drop_axes(dataset), region) & mask
n_spec = dataset.counts.where(in_region, 0).sum(["y", "x"])
mu_spec = npred.where(in_region, 0).sum(["y", "x"])
bkg_spec = npred_bkg.where(in_region, 0).sum(["y", "x"])
e = dataset.energy.values
xerr = [(dataset.energy - dataset.energy_min).values, (dataset.energy_max - dataset.energy).values]

fig, (ax, axr) = plt.subplots(2, 1, sharex=True, figsize=(7, 6), height_ratios=(3, 1))
ax.errorbar(e, n_spec, xerr=xerr, yerr=np.sqrt(n_spec), fmt="o", color="k", label="counts")
edges = np.append(dataset.energy_min.values, dataset.energy_max.values[-1])
ax.stairs(mu_spec.values, edges, lw=1.5, baseline=None, label="npred (source + background)")
ax.stairs(bkg_spec.values, edges, lw=1.5, ls="--", baseline=None, label="npred background")
ax.set(xscale="log", yscale="log", ylabel="counts per bin", title="within 0.3 deg of the Crab")
ax.legend()
axr.errorbar(e, (n_spec - mu_spec) / mu_spec, yerr=np.sqrt(n_spec) / mu_spec, fmt="o", color="k")
axr.axhline(0, color="k", lw=0.8)
axr.set(xlabel="reconstructed energy [TeV]", ylabel="(n - npred) / npred");
pd.DataFrame({"counts": n_spec.values, "npred": mu_spec.values.round(1), "npred_bkg": bkg_spec.values.round(1)},
             index=pd.Index(e.round(2), name="energy [TeV]")).T
"""),
]
