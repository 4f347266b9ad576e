CELLS = [
("md", """
# Spectral analysis: the Crab Nebula with H.E.S.S. (1D ON/OFF)

We run the 1D analysis of `examples/crab_1d.yaml` (four H.E.S.S. DL3 DR1 Crab runs, 0.11 deg ON
region, reflected-regions background, PSF containment correction), fit a power law and a
log-parabola to the stacked spectrum with WStat, compare the two, and look at the fit quality,
parameter uncertainties (profile likelihood, contours, covariance bands) and flux points.
"""),
("code", """
%matplotlib inline
import logging
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy.stats import chi2
import xgamma as xg
from xgamma.fitting.fitter import stat_contour, stat_profile
from xgamma.fitting.fold import npred
from xgamma.models import Models, SkyModel, spectral_model

EXAMPLES = next(p for p in [Path("../examples"), Path("examples")] if p.is_dir())  # repository examples
analysis = xg.Analysis(EXAMPLES / "crab_1d.yaml")
logging.getLogger("xgamma.analysis").setLevel(logging.WARNING)  # the config asks for info logs
analysis.get_observations()
(dataset,) = analysis.get_datasets()
info = xg.spectrum_info(dataset)
print({k: (round(v, 3) if isinstance(v, float) else v) for k, v in info.items()})
"""),
("md", """
The stacked dataset has 15 reconstructed-energy bins from 0.2 to 30 TeV; `mask_safe` (effective
area above 10 % of its maximum) and `mask_fit` (the configured fit range 0.6-20 TeV, bins entirely
inside it) select the bins entering the likelihood:
"""),
("code", """
dataset[["counts", "counts_off", "acceptance_off", "mask_safe", "mask_fit"]].to_dataframe().round(2)
"""),
("md", """
## Power law and log-parabola fits

The power-law start model comes from `examples/crab_1d_models.yaml`; the log-parabola
`dN/dE = phi0 (E/E0)^(-alpha - beta ln(E/E0))` (natural log, as Gammapy's
`LogParabolaSpectralModel`) uses the same reference energy of 1 TeV. `xg.fit` runs MIGRAD and HESSE.
"""),
("code", """
pl_models = analysis.set_models(EXAMPLES / "crab_1d_models.yaml")
lp_models = Models([SkyModel("Crab", spectral_model("lp", amplitude=3e-11, reference=1.0, alpha=2.5, beta=0.1))])

res_pl = xg.fit(dataset, pl_models)
res_lp = xg.fit(dataset, lp_models)
print(res_pl)
print(res_lp)
"""),
("code", """
def table(res):
    r = res.result
    return pd.DataFrame({"value": r.value.values, "error": r.error.values, "unit": r.unit.values},
                        index=[str(p).split(".")[-1] for p in r.param.values])

pd.concat({"power law": table(res_pl), "log-parabola": table(res_lp)})
"""),
("md", """
The models are nested (the log-parabola with `beta = 0` is the power law), so the likelihood-ratio
test statistic `TS = stat(PL) - stat(LP)` is chi2-distributed with one degree of freedom if the
power law is true:
"""),
("code", """
ts_curv = res_pl.stat_sum - res_lp.stat_sum
p_value = chi2.sf(ts_curv, df=1)
n_bins = int((dataset.mask_safe & dataset.mask_fit).sum())
print(f"WStat: power law {res_pl.stat_sum:.2f}, log-parabola {res_lp.stat_sum:.2f} ({n_bins} bins)")
print(f"TS = {ts_curv:.2f}, p = {p_value:.3f} (significance of curvature {np.sqrt(max(ts_curv, 0)):.1f} sigma)")
"""),
("md", """
With 4 runs (1.75 h) the curvature is not significant: the Crab spectrum is curved, but over
1-20 TeV and with these statistics a power law is a good description.

## Best-fit spectra with error bands

The fitted `Models` carry the covariance matrix. Sampling parameter vectors from the
multivariate normal and taking the 16-84 % range of `E^2 dN/dE` at each energy gives the 68 %
band (this propagates the correlations between the parameters, which a naive sum of errors
would not). We add flux points: the norm of the best-fit model fitted in each of 10 energy bins
(0.4-20 TeV requested, snapped to the reconstructed-energy bins).
"""),
("code", """
from xgamma.estimators.core import model_band  # E^2 dN/dE and its 68 % band

fp = xg.flux_points(dataset, res_pl.models, "Crab", energy_edges=np.geomspace(0.4, 20, 11))
print(fp[["norm", "norm_err", "ts", "is_ul"]].to_dataframe().round(3))
"""),
("code", """
from xgamma.estimators import to_sed_type

energy = np.geomspace(0.6, 20, 100)
fig, ax = plt.subplots(figsize=(7, 5))
for res, label, color in [(res_pl, "power law", "C0"), (res_lp, "log-parabola", "C1")]:
    value, lo, hi = model_band(res.models, energy)
    ax.plot(energy, value, color=color, label=label)
    ax.fill_between(energy, lo, hi, color=color, alpha=0.3, lw=0)

sed = to_sed_type(fp, "e2dnde")
ok = np.isfinite(sed.e2dnde.values) & ~sed.is_ul.values
e = fp.energy.values
ax.errorbar(e[ok], sed.e2dnde.values[ok],
            xerr=[(fp.energy - fp.energy_min).values[ok], (fp.energy_max - fp.energy).values[ok]],
            yerr=[sed.e2dnde_errn.values[ok], sed.e2dnde_errp.values[ok]], fmt="o", color="k",
            label="flux points")
ax.set(xscale="log", yscale="log", xlabel="energy [TeV]", ylabel="E$^2$ dN/dE [TeV cm$^{-2}$ s$^{-1}$]",
       title="Crab Nebula, H.E.S.S. DL3 DR1 (4 runs)")
ax.legend();
"""),
("md", """
## Counts and predicted counts

`xgamma.fold.npred` folds a model through exposure and energy dispersion and adds the WStat
profile background; residuals are shown in units of `sqrt(npred)` for the bins used in the fit.
"""),
("code", """
use = (dataset.mask_safe & dataset.mask_fit).values
e = dataset.energy.values
counts = dataset.counts.values
fig, (ax, axr) = plt.subplots(2, 1, sharex=True, figsize=(7, 6), height_ratios=(3, 1))
ax.errorbar(e[use], counts[use], yerr=np.sqrt(counts[use]), fmt="o", color="k", label="ON counts")
for k, (res, label) in enumerate([(res_pl, "power law"), (res_lp, "log-parabola")]):
    mu = npred(dataset, res.models).values[use]
    ax.step(e[use], mu, where="mid", color=f"C{k}", label=f"npred, {label}")
    axr.plot(e[use] * (1 + 0.03 * (2 * k - 1)), (counts[use] - mu) / np.sqrt(mu), "o", color=f"C{k}")
alpha = (dataset.acceptance / dataset.acceptance_off).values
ax.step(e[use], (alpha * dataset.counts_off.values)[use], where="mid", color="0.5", ls="--",
        label="alpha x OFF counts")
ax.set(yscale="log", ylabel="counts per bin")
ax.legend()
axr.axhline(0, color="k", lw=0.8)
axr.set(xscale="log", xlabel="reconstructed energy [TeV]", ylabel="(n - npred) / sqrt(npred)", ylim=(-3, 3));
"""),
("md", """
## Likelihood profile and contour of the power-law index

`stat_profile` scans the index, re-fitting the amplitude at each value; the 1-sigma interval is
where the profile rises by 1 above its minimum. `stat_contour` traces the 1-sigma contour
(profiled statistic 1 above the minimum, so its projections are the 1D intervals) in the
index-amplitude plane, compared here with the ellipse of the HESSE covariance.
"""),
("code", """
idx, amp = "Crab.spectral.index", "Crab.spectral.amplitude"
best = res_pl.result
i0, di = float(best.value.sel(param=idx)), float(best.error.sel(param=idx))
a0, da = float(best.value.sel(param=amp)), float(best.error.sel(param=amp))
scan = np.linspace(i0 - 3 * di, i0 + 3 * di, 21)
profile = stat_profile(dataset, res_pl.models, idx, scan, reoptimize=True)
dstat = profile.stat_scan - res_pl.stat_sum
contour = stat_contour(dataset, res_pl.models, idx, amp, n_sigma=1.0, npoints=24)

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
ax1.plot(scan, dstat, "o-")
ax1.axhline(1, color="k", ls="--", lw=0.8)
ax1.axvspan(i0 - di, i0 + di, color="C0", alpha=0.2, label="HESSE error")
ax1.set(xlabel="index", ylabel="stat - stat$_{min}$", title="profile likelihood of the index")
ax1.legend()

x, y = np.append(contour.x, contour.x[0]), np.append(contour.y, contour.y[0])
ax2.plot(x, y * 1e11, "o-", ms=3, label="1 sigma contour (profile)")
cov = best.covariance.sel(param=[idx, amp], param_=[idx, amp]).values
t = np.linspace(0, 2 * np.pi, 200)
ell = np.linalg.cholesky(cov) @ np.array([np.cos(t), np.sin(t)])
ax2.plot(i0 + ell[0], (a0 + ell[1]) * 1e11, "--", label="covariance ellipse")
ax2.plot(i0, a0 * 1e11, "k+", ms=12)
ax2.set(xlabel="index", ylabel="amplitude at 1 TeV [1e-11 cm$^{-2}$ s$^{-1}$ TeV$^{-1}$]",
        title="index-amplitude contour")
ax2.legend(loc="upper left")
print(f"index = {i0:.3f} +- {di:.3f}; contour range {float(contour.x.min()):.3f} - {float(contour.x.max()):.3f}")
"""),
("md", """
The profile is close to a parabola and the contour to the covariance ellipse: with ~370 excess
events the Gaussian approximation of the likelihood is good. For comparison, Mohrmann et al. (2019)
give for these runs `Gamma = 2.63 +- 0.07` (Gammapy 1D) and current Gammapy releases `2.71 +- 0.08`
(other binning and safe mask); the flux normalisation there is quoted at 1.45 TeV:
"""),
("code", """
pl = res_pl.models["Crab"].spectral
phi_145 = float(pl(1.45))
print(f"dN/dE(1.45 TeV) = {phi_145 * 1e11:.3f} x 1e-11 cm-2 s-1 TeV-1 (published 1.63 +- 0.09 Gammapy 1D)")
"""),
]
