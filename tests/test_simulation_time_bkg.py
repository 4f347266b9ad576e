"""Simulation: a variable source (counts and event times) and background-only events against
the reduced dataset (same chi2 test as test_simulation.py).
"""

from __future__ import annotations

import numpy as np
from scipy import stats
from simulation_helpers import (
    PNT,
    SRC,
    chi2_pvalue,
    signal_npred,
    sim_dataset,
    sim_geom,
    sim_obs,
    summed_counts,
)

import xgamma as xg
from xgamma.models import Models, SkyModel, spectral_model
from xgamma.simulation.events import EventSampler
from xgamma.times import event_seconds


def test_variable_source_counts_and_times(sim_irfs):
    obs = sim_obs(sim_irfs, livetime=3600.0)
    t_ref = obs.mjdref + (obs.tstart + 1200.0) / 86400.0
    flare = xg.temporal_model("gauss", t_ref=t_ref, sigma=600.0 / 86400.0)
    src = SkyModel("src", spectral_model("pl", index=2.2, amplitude=4e-12),
                   xg.spatial_model("point", lon_0=SRC[0], lat_0=SRC[1]), temporal=flare)
    geom = sim_geom()
    mu = signal_npred(sim_dataset(obs, geom), Models([src]))
    n = 500
    rng = np.random.default_rng(5)
    sampler = EventSampler(obs)
    total = np.zeros_like(mu)
    times = []
    for _ in range(n):
        ev = sampler.sample([src], rng=rng, background=False)
        total += np.asarray(xg.bin_events(ev, geom).transpose("energy", "y", "x").values)
        times.append(event_seconds(ev).to_numpy() - obs.tstart)  # s since MJDREF (TT)
    chi2, ndf, p = chi2_pvalue(total, mu, n)
    assert p > 1e-3, (chi2, ndf)
    # times follow the Gaussian flare truncated to the GTI
    t = np.concatenate(times)
    edges = np.linspace(0, obs.ontime, 13)
    cdf = stats.norm.cdf(edges, 1200.0, 600.0)
    expected = np.diff(cdf) / (cdf[-1] - cdf[0]) * t.size
    counts = np.histogram(t, edges)[0]
    assert stats.chisquare(counts, expected).pvalue > 1e-3


def test_background_counts_match_template(sim_irfs):
    obs = sim_obs(sim_irfs, livetime=300.0)
    geom = sim_geom(width=4.0, binsz=0.4, center=PNT, emin=0.5, emax=5.0, nbins=3)
    mu = np.asarray(sim_dataset(obs, geom).background.transpose("energy", "y", "x").values)
    n = 500
    total = summed_counts(obs, None, geom, n, 3, background=True)
    chi2, ndf, p = chi2_pvalue(total, mu, n)
    assert p > 1e-3, (chi2, ndf)


def test_template_source_counts_match_npred(sim_irfs):
    """A map template (a ring, sampled from the model image) against npred."""
    from xgamma import sky

    g = xg.wcs_geom(SRC, 1.0, 0.02)
    r = np.asarray(sky.separation(g, SRC).values)
    ring = np.exp(-0.5 * ((r - 0.25) / 0.05) ** 2)
    src = SkyModel("ring", spectral_model("pl", index=2.2, amplitude=4e-12),
                   xg.template_spatial_model(sky.make_map(ring, g)))
    obs = sim_obs(sim_irfs)
    geom = sim_geom()
    mu = signal_npred(sim_dataset(obs, geom), Models([src]))
    n = 300
    total = summed_counts(obs, [src], geom, n, 17, background=False)
    chi2, ndf, p = chi2_pvalue(total, mu, n)
    assert p > 1e-3, (chi2, ndf)
