CELLS = [
("md", """
# Simulation: observations from IRFs, event lists, a DL3 store, and fitting it back

This notebook plans a CTA observation from the public prod5 IRFs, draws its **event list** from a
sky model (a point source with a power law) and the background IRF, writes a **GADF DL3 data
store** (events, GTI, pointing, IRFs, obs-index and hdu-index), checks it against the GADF
spec, reads it back, and fits the source. It ends with the **pull distribution** of many
simulated observations: fitted minus true values in units of their errors, which should have
mean 0 and width 1.
"""),
("code", """
%matplotlib inline
import tempfile
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import xgamma as xg
from xgamma.models import BackgroundModel, Models, SkyModel, spectral_model
from xgamma.simulation import (check_gadf, demo_irfs, observation_from_irfs, simulate_events,
                               write_dl3)
from xgamma.simulation.events import EventSampler

irf_file = xg.data_dir() / "cta-caldb/Prod5-South-20deg-AverageAz-14MSTs37SSTs.180000s-v0.1.fits.gz"
obs = observation_from_irfs(irf_file, pointing=(83.633, 22.514), livetime="30 min",
                            tstart="2025-01-01T00:00:00", obs_id=1)
obs
"""),
("md", """
## Events

The source: a power law of index 2.5 and 1e-11 cm-2 s-1 TeV-1 at 1 TeV, 0.5 deg from the
pointing. Events carry `mc_id` (0 background, 1 the source).
"""),
("code", """
truth = {"index": 2.5, "amplitude": 1e-11}
source = SkyModel("source", spectral_model("pl", **truth),
                  xg.spatial_model("point", lon_0=83.633, lat_0=22.014))
t = time.perf_counter()
events = simulate_events(obs, [source], rng=np.random.default_rng(42))
print(f"{len(events):,} events in {time.perf_counter() - t:.2f} s; per mc_id:",
      np.bincount(events.mc_id))
events.head()
"""),
("md", "## Write a DL3 store, check it, read it back"),
("code", """
out = Path(tempfile.mkdtemp()) / "cta_store"
write_dl3([obs.with_events(events)], out)
print("GADF problems:", check_gadf(out))
store = xg.open_store(out)
back = store.observation(1)
print(store.obs_table[["ra_pnt", "dec_pnt", "livetime", "tstart"]])
print("events identical after the round trip:", back.events.equals(events))
"""),
("md", """
## Reduce and fit

A 2 x 2 deg cube around the source, the source position and spectrum free, and a norm on the
background template.
"""),
("code", """
geom = xg.wcs_geom((83.633, 22.014), 2.0, 0.04, axes=[xg.energy_axis(0.3, 30, 10)])
ds = xg.reduce(back, geom, energy_true=xg.energy_axis(0.2, 50, 30, name="energy_true"))
start = Models([SkyModel("source", spectral_model("pl", index=2.0, amplitude=2e-11),
                         xg.spatial_model("point", lon_0=83.6, lat_0=22.0)),
                BackgroundModel((ds.attrs["name"],))])
result = xg.fit(ds, start)
r = result.result
for p in ("source.spectral.index", "source.spectral.amplitude"):
    print(f"{p:28s} {float(r['value'].sel(param=p)):.4g} +- {float(r['error'].sel(param=p)):.2g}")
ds.counts.sum("energy").plot(figsize=(5, 4));
"""),
("md", """
## Pull distribution

150 observations of the analytic demo instrument (`demo_irfs()`: no data needed), 20 min
each, binned on a small cube and fitted with the position frozen. The sampler keeps its
tables between realisations.
"""),
("code", """
demo = observation_from_irfs(demo_irfs(), (83.633, 22.514), "20 min", tstart=0.0)
truth = {"index": 2.4, "amplitude": 3e-12}
src = SkyModel("src", spectral_model("pl", **truth), xg.spatial_model("point", lon_0=83.633, lat_0=22.014))
small = xg.wcs_geom((83.633, 22.014), 0.6, 0.1, axes=[xg.energy_axis(0.5, 20, 5)])
template = xg.reduce(demo, small, energy_true=xg.energy_axis(0.3, 30, 72, name="energy_true"))
models = Models([src.with_parameters(src.parameters.with_frozen(["spatial.lon_0", "spatial.lat_0"]))])
sampler, rng = EventSampler(demo), np.random.default_rng(1)
pulls = {"index": [], "amplitude": []}
t = time.perf_counter()
for _ in range(150):
    counts = xg.bin_events(sampler.sample([src], rng=rng), small).transpose("energy", "y", "x")
    fit = xg.fit(template.assign(counts=counts), models).result
    for k in pulls:
        p = f"src.spectral.{k}"
        pulls[k].append((float(fit["value"].sel(param=p)) - truth[k]) / float(fit["error"].sel(param=p)))
print(f"150 simulations and fits in {time.perf_counter() - t:.0f} s")
fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
x = np.linspace(-4, 4, 200)
for ax, (k, v) in zip(axes, pulls.items()):
    v = np.asarray(v)
    ax.hist(v, bins=20, range=(-4, 4), density=True, alpha=0.6)
    ax.plot(x, np.exp(-x**2 / 2) / np.sqrt(2 * np.pi))
    ax.set_title(f"{k}: mean {v.mean():.2f}, width {v.std():.2f}")
"""),
]
