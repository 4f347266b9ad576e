CELLS = [
("md", """
# Light curves: the PKS 2155-304 flare of 2006 July 29/30

During the night of 2006 July 29/30, H.E.S.S. saw the blazar PKS 2155-304 flare with flux
doubling times of minutes. The public DL3 DR1 contains 15 runs of that night (33787-33801).
This notebook extracts 1D ON/OFF spectra (reflected regions around the source) and builds
light curves **per run** and in **10-minute bins**: each time bin cuts the runs to the bin
(events, GTIs, live time), reduces them, and fits the norm of a reference spectrum in the
chosen energy band(s). The result is an `xarray.Dataset` with dims `(time, energy)`.
"""),
("code", """
%matplotlib inline
import time
import dask
import matplotlib.pyplot as plt
import numpy as np
from astropy.time import Time
import xgamma as xg
from xgamma.estimators import plot_light_curve, to_sed_type
from xgamma.estimators.core import time_mjd
from xgamma.estimators.light_curve import time_bins
from xgamma.models import Models, SkyModel, spectral_model

store = xg.open_store(xg.data_dir() / "hess-dl3-dr1")
ids = [o for o in store.obs_table.index if 33787 <= o <= 33801]
observations = [store.observation(o) for o in ids]
store.obs_table.loc[ids, ["object", "tstart", "livetime", "zen_pnt"]].head()
"""),
("md", """
## Geometry, reduction settings and the reference model

The ON region is a circle of 0.11 deg around PKS 2155-304; OFF counts come from reflected
regions. The reference spectrum is a power law of index 3.4 (the light curve fits its norm).
"""),
("code", """
geom = xg.region_geom("icrs;circle(329.71694,-30.2255,0.11)", axes=[xg.energy_axis(0.4, 20, 10)])
reduce_kwargs = {"energy_true": xg.energy_axis(0.1, 40, 20, name="energy_true"),
                 "containment_correction": True,
                 "safe_mask": ["aeff-max"], "safe_mask_params": {"aeff_percent": 10}}
models = Models([SkyModel("pks2155", spectral_model("pl", index=3.4, amplitude=2e-11).with_frozen("index"))])
"""),
("md", "## One bin per run"),
("code", """
t = time.perf_counter()
with dask.config.set(scheduler="threads"):
    lc_run = xg.light_curve(observations, models, "pks2155", energy_edges=[0.7, 20], geom=geom,
                            time_intervals="observation", reduce_kwargs=reduce_kwargs)
print(f"{lc_run.sizes['time']} runs in {time.perf_counter() - t:.1f} s")
to_sed_type(lc_run, "flux")[["flux", "flux_err", "ts"]].to_dataframe().head()
"""),
("md", """
## Ten-minute bins

34 bins of 10 minutes starting 2006-07-29 20:30 UTC; runs are split at the bin edges and
their live time is shared out by the GTI overlap.
"""),
("code", """
t0 = Time("2006-07-29T20:30:00", scale="utc")
t_min, t_max = time_bins(duration="10 min", t_start=t0, t_stop=t0.mjd + 340 / 1440)
t = time.perf_counter()
with dask.config.set(scheduler="threads"):
    lc_10 = xg.light_curve(observations, models, "pks2155", energy_edges=[0.7, 20], geom=geom,
                           time_intervals=(t_min, t_max), reduce_kwargs=reduce_kwargs)
print(f"{lc_10.sizes['time']} bins in {time.perf_counter() - t:.1f} s")
"""),
("code", """
fig, ax = plt.subplots(figsize=(9, 4.5))
plot_light_curve(lc_run, ax=ax, label="per run", color="C0", alpha=0.6)
plot_light_curve(lc_10, ax=ax, label="10 min", color="C1", markersize=3)
ax.legend(); ax.set_title("PKS 2155-304, 2006 July 29/30, 0.6-20 TeV");
"""),
("md", """
The flux is far from constant: a chi2 test against the weighted mean rejects a constant flux
outright.
"""),
("code", """
from scipy import stats
n, e = lc_10.norm.values[:, 0], lc_10.norm_err.values[:, 0]
mean = np.sum(n / e**2) / np.sum(1 / e**2)
chi2 = float(np.sum(((n - mean) / e) ** 2))
print(f"chi2 / ndf = {chi2:.0f} / {n.size - 1}, p = {stats.chi2.sf(chi2, n.size - 1):.2g}")
f = to_sed_type(lc_10, "flux").flux.values[:, 0]
print(f"flux range {f.min():.3g} - {f.max():.3g} cm-2 s-1 (max / min = {f.max() / f.min():.1f})")
"""),
("md", "## Three energy bands"),
("code", """
with dask.config.set(scheduler="threads"):
    lc_3 = xg.light_curve(observations, models, "pks2155", energy_edges=[0.7, 1, 3, 20], geom=geom,
                          time_intervals=(t_min, t_max), reduce_kwargs=reduce_kwargs,
                          selection_optional=("ul",))
fig, ax = plt.subplots(figsize=(9, 4.5))
for i in range(lc_3.sizes["energy"]):
    plot_light_curve(lc_3, energy_index=i, ax=ax)
ax.set_yscale("log"); ax.legend();
"""),
("md", """
## Writing the light curve

GADF light-curve tables (ECSV or FITS, `time_min`/`time_max` in MJD) and zarr.
"""),
("code", """
import tempfile, os
path = os.path.join(tempfile.mkdtemp(), "pks2155_lc.ecsv")
xg.write_sed(lc_10, path)
back = xg.read_sed(path)
print(path, bool(back.identical(lc_10)))
"""),
]
