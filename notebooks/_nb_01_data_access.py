CELLS = [
("md", """
# Data access: H.E.S.S. DL3 DR1 with xgamma

This notebook opens the public H.E.S.S. DL3 data release 1, selects observations, and looks at
events and instrument response functions (IRFs). Events are **pandas DataFrames**, IRFs are
**xarray DataArrays** with named dims and bin edges, and many observations become one **dask
DataFrame** (one partition per observation).
"""),
("code", """
%matplotlib inline
import matplotlib.pyplot as plt
import numpy as np
import xgamma as xg

store = xg.open_store(xg.data_dir() / "hess-dl3-dr1")
print(f"{len(store.obs_table)} observations, {store.obs_table.livetime.sum() / 3600:.2f} h livetime")
store.obs_table[["object", "ra_pnt", "dec_pnt", "zen_pnt", "livetime", "event_count"]].head()
"""),
("md", """
## Selecting observations

`store.select` takes ids, a cone on the sky, a time range, or any pandas query on the
observation table, and returns a new (smaller) store.
"""),
("code", """
crab = store.select(cone=(83.633, 22.014, 5.0, "icrs"))
print("Crab runs:", crab.obs_ids.tolist())
pks = store.select(query="object == 'PKS 2155-304'")
print(f"PKS 2155-304: {len(pks.obs_ids)} runs, {pks.obs_table.livetime.sum() / 3600:.2f} h")
store.obs_table.groupby("object").livetime.sum().sort_values(ascending=False).head(6) / 3600
"""),
("md", "## One observation: events, GTI, pointing"),
("code", """
obs = crab.observation(23523)
print(obs.pointing)
print(f"ontime {obs.ontime:.0f} s, livetime {obs.livetime:.0f} s, dead-time fraction {obs.dead_time_fraction:.3f}")
obs.events.head()
"""),
("code", """
ev = obs.events
fig, ax = plt.subplots(figsize=(6, 4))
bins = np.geomspace(0.1, 100, 41)
ax.hist(ev.energy, bins=bins, histtype="step", lw=2)
ax.set(xscale="log", yscale="log", xlabel="energy [TeV]", ylabel="events per bin",
       title=f"run {obs.obs_id}: {len(ev)} events");
"""),
("md", """
Event times are UTC dates (`datetime64[ns]`): they select, resample and plot as dates.
`ev.attrs` keeps the file's time reference (MJDREF, TIMESYS), and
`xg.times.event_seconds(ev)` gives back the file's float seconds since MJDREF, exactly.
"""),
("code", """
rate = ev.resample("1min", on="time").size()
fig, ax = plt.subplots(figsize=(6, 3))
ax.step(rate.index, rate.to_numpy(), where="post")
ax.set(xlabel="time (UTC)", ylabel="events per minute", title=f"run {obs.obs_id}")
fig.autofmt_xdate()
t0 = ev.time.iloc[0]
print(len(ev.set_index("time").loc[t0:t0 + np.timedelta64(5, "m")]), "events in the first 5 min;",
      "file seconds:", xg.times.event_seconds(ev).iloc[:2].tolist())
"""),
("md", """
## A counts map of the Crab field from all four runs

`crab.events()` is a lazy dask DataFrame; `.xg.bin(geom)` histograms each observation
separately and sums, so it scales to hundreds of runs.
"""),
("code", """
geom = xg.wcs_geom((83.633, 22.014), width=4.0, binsz=0.02, frame="icrs",
                   axes=[xg.energy_axis(0.5, 100, nbins=4)])
counts = crab.events().xg.bin(geom)
counts
"""),
("code", """
image = counts.sum("energy").compute()
ax = image.xg.plot(stretch="sqrt")
ax.set_title(f"Crab field, {int(image.sum())} counts above 0.5 TeV");
"""),
("md", "## Effective area vs energy"),
("code", """
aeff = obs.aeff
print(dict(aeff.sizes), aeff.attrs["units"])
ax = aeff.sel(offset=[0.0, 0.5, 1.0, 1.5], method="nearest").xg.plot(x="energy_true")
ax.set_yscale("log")
ax.set_ylim(1e7, 1e10);
"""),
("md", "## PSF 68 % containment radius vs energy"),
("code", """
from xgamma import irf

energy = np.geomspace(0.3, 50, 30)
fig, ax = plt.subplots(figsize=(6, 4))
for offset in [0.0, 0.5, 1.0, 1.5]:
    r68 = irf.psf_containment_radius(obs.psf, energy_true=energy, offset=offset, fraction=0.68)
    ax.plot(energy, np.asarray(r68).ravel(), label=f"offset {offset} deg")
ax.set(xscale="log", xlabel="true energy [TeV]", ylabel="R68 [deg]")
ax.legend();
"""),
("md", """
## Background rate in the field of view

The BKG_3D template is a DataArray `(energy, fov_lon, fov_lat)` in s-1 TeV-1 sr-1.
"""),
("code", """
bkg = obs.bkg
fig, axes = plt.subplots(1, 2, figsize=(10, 4))
for ax, e in zip(axes, [1.0, 5.0]):
    bkg.sel(energy=e, method="nearest").T.plot(ax=ax, x="fov_lon", y="fov_lat", robust=True)
    ax.set_title(f"background rate at {e} TeV")
    ax.set_aspect("equal")
"""),
("code", """
# IRF values at arbitrary points, interpolated as the GADF conventions require
print("Aeff(1 TeV, 0.5 deg) =", float(irf.aeff_at(obs.aeff, 1.0, 0.5)) / 1e4, "m2")
print("bkg(1 TeV, fov 0,0)  =", float(irf.bkg_at(obs.bkg, 1.0, fov_lon=0.0, fov_lat=0.0)), "s-1 TeV-1 sr-1")
"""),
]
