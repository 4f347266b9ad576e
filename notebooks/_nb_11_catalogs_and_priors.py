CELLS = [
("md", """
# Source catalogs: DataFrames that turn into models

`xgamma.catalogs.read_catalog` reads a source catalog into a pandas DataFrame, one row per
source: lower-case columns, a `source_name` column, positions in `ra`/`dec` and `glon`/`glat`,
the columns' units in `df.attrs["units"]`. Shipped: the Fermi-LAT 3FGL, 2FHL and 3FHL, the
H.E.S.S. HGPS, gamma-cat, HAWC 2HWC/3HWC and LHAASO 1LHAASO; the 4FGL family (DR1-DR4) reads
from a file you bring (`read_catalog("4fgl", path=...)`).

Queries are plain pandas; `catalog_row` matches names (incl. associations) and `cone` selects
by position. `catalog_models` turns rows into `Models` with the catalog's spectral and spatial
models, `catalog_flux_points` / `catalog_light_curve` give the published SEDs and light curves
in the estimator result form, and `plot_catalog` marks the sources on a sky map.
"""),
("code", """
%matplotlib inline
import matplotlib.pyplot as plt
import numpy as np
from astropy.io import fits
from astropy.wcs import WCS

import xgamma as xg
from xgamma.catalogs import (catalog_flux_points, catalog_light_curve, catalog_models, catalog_names,
                             catalog_row, catalog_spectral_model, cone, plot_catalog, read_catalog)
from xgamma.estimators import plot_light_curve, plot_sed

print(catalog_names())
fgl = read_catalog("3fgl")
print(len(fgl), "sources;", fgl.attrs["units"]["flux1000"], "for flux1000")
fgl[["source_name", "ra", "dec", "spectrumtype", "flux1000", "assoc1"]].head()
"""),
("md", """
## Queries

Names are matched in the catalog's name and association columns: `"Crab"` gives the three
3FGL components of the Crab (pulsar, synchrotron and inverse-Compton nebula). `cone` adds the
angular `separation` and sorts by it. Anything else is pandas (the `attrs` follow the rows).
"""),
("code", """
crab = catalog_row(fgl, "Crab")
print(crab[["source_name", "spectrumtype", "assoc1", "flux1000"]].to_string())
near = cone(fgl, 184.557, -5.784, "3 deg", frame="galactic")
print(near[["source_name", "separation", "assoc1"]].head().to_string())
bright_plane = fgl[(fgl.flux1000 > 1e-8) & (fgl.glat.abs() < 2)]
print(len(bright_plane), "bright sources near the plane")
"""),
("md", """
## Models

One `SkyModel` per row, named after the source. Each catalog's model types map onto xgamma's
model families (Gammapy's tags): the 3FGL pulsar is `ExpCutoffPowerLaw3FGLSpectralModel`, the
nebula components power laws, positions point sources in ICRS. The integral of each model over
1-100 GeV gives back the catalog's `Flux1000`.
"""),
("code", """
models = catalog_models(crab)
for m in models:
    flux = float(m.spectral.integral(1e-3, 0.1))
    ref = float(catalog_row(fgl, m.name).flux1000.iloc[0])
    print(f"{m.name:20s} {m.spectral.type:38s} {m.spatial.type:18s} F(1-100 GeV) = {flux:.4g} "
          f"(catalog {ref:.4g})")
models.parameters.to_dataframe().head(8)
"""),
("md", """
HGPS sources made of several Gaussians become one model per component (the source spectrum
shared out by the components' map fluxes); `which="source"` gives a single Gaussian instead.
The published SED comes back as flux points relative to the source's catalog spectrum
(`catalog_spectral_model`).
"""),
("code", """
hgps = read_catalog("hgps")
vela = catalog_row(hgps, "Vela X")
comps = catalog_models(vela)
print(comps.names, [round(c.spatial.parameters["sigma"].value, 3) for c in comps])
total = sum(float(c.spectral.integral(1.0, 1e5)) for c in comps)
print(f"sum of components above 1 TeV: {total:.4g} cm-2 s-1 (catalog {vela.flux_spec_int_1tev.iloc[0]:.4g})")

fig, axes = plt.subplots(1, 2, figsize=(11, 4))
j1825 = catalog_row(hgps, "HESS J1825-137")
plot_sed(catalog_flux_points(j1825), model=catalog_spectral_model(j1825), ax=axes[0])
axes[0].set_title("HESS J1825-137 (HGPS)")
plot_light_curve(catalog_light_curve(catalog_row(fgl, "3C 454.3")), ax=axes[1])
axes[1].set_title("3C 454.3: 3FGL monthly fluxes, 0.1-100 GeV")
axes[1].set_yscale("log");
"""),
("md", """
## Whole catalogs

Converting all 3034 3FGL sources takes well under a second. Sources whose spatial model
xgamma cannot build (a template file not at hand, the two-Gaussian LMC) raise a one-line error
naming the source and the model type, or are skipped with `skip_unsupported=True`.
"""),
("code", """
import time
import warnings

t0 = time.perf_counter()
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    all_models = catalog_models(fgl, skip_unsupported=True)
print(f"{len(all_models)} models in {time.perf_counter() - t0:.2f} s; skipped: {str(caught[0].message)[:120]}...")
try:
    catalog_models(catalog_row(read_catalog("2fhl"), "2FHL J0526.6-6825e"))
except xg.XgammaError as err:
    print("error:", err)
"""),
("md", """
## Sources over a map

The Fermi-LAT counts map of the Galactic centre region (> 10 GeV) with the HGPS sources and
the 3FHL sources on top.
"""),
("code", """
path = xg.data_dir() / "fermi-3fhl-gc" / "fermi-3fhl-gc-counts.fits.gz"
with fits.open(path) as h:
    geom = xg.sky.geom_from_wcs(WCS(h[0].header), h[0].data.shape)
    counts = xg.sky.make_map(h[0].data.astype(float), geom, name="counts")
ax = xg.plot.plot_map(counts, stretch="sqrt", add_cbar=False)
plot_catalog(hgps, ax=ax, edgecolor="white", s=60, labels=True)
plot_catalog(read_catalog("3fhl"), ax=ax, edgecolor="tab:cyan", s=25, marker="s");
"""),
("md", """
## Priors and posterior sampling

A simulated ON/OFF spectrum (true index 2.5): a MINUIT fit with a Gaussian prior on the index
(the established tool's prior kinds are in `xgamma.models`: uniform, log-uniform, Gaussian,
generalized Gaussian, log-normal, samples-KDE and a multivariate Gaussian), then emcee
posterior samples of the same likelihood (`xg.sample`, optional `emcee`) as an xarray Dataset
with `chain`/`draw` dims that ArviZ reads, and a corner plot.
"""),
("code", """
from xgamma.fitting.fold import example_dataset
from xgamma.models import GaussianPrior, Models, SkyModel, spectral_model

truth = spectral_model("pl", index=2.5, amplitude=3e-11)
data = xg.fake(example_dataset(), truth, seed=3)
model = spectral_model("pl", index=2.0, amplitude=1e-11)
model = model.with_parameters(model.parameters.with_prior("index", GaussianPrior(mu=2.5, sigma=0.3)))
models = Models([SkyModel("src", model)])
res = xg.fit(data, models)
print("MINUIT:", {n: round(p.value, 4) for n, p in zip(res.models.parameters.names, res.models.parameters)
                  if not p.frozen})
post = xg.sample(data, models, n_walkers=16, n_steps=400, n_burn=100, seed=1)
print(post)
print("posterior mean index:", round(float(post["src.spectral.index"].mean()), 3),
      "+-", round(float(post["src.spectral.index"].std()), 3))
"""),
("code", """
xg.corner_plot(post, truths=[2.5, 3e-11]);
"""),
]
