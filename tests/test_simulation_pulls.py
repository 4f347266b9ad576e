"""Simulation: fit-back pulls, seeding, the binned simulator, FoV coordinates.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from simulation_helpers import SRC, sim_dataset, sim_geom, sim_obs

import xgamma as xg
from xgamma.models import Models, SkyModel, spectral_model
from xgamma.simulation import (
    simulate_dataset,
    simulate_events,
)
from xgamma.simulation.events import EventSampler, fov_to_radec, radec_to_fov
from xgamma.times import event_seconds


def test_fov_coordinates_round_trip():
    rng = np.random.default_rng(0)
    lon, lat = rng.uniform(-4, 4, 100), rng.uniform(-4, 4, 100)
    ra, dec = fov_to_radec(lon, lat, 83.6, -60.0)
    assert np.allclose(radec_to_fov(ra, dec, 83.6, -60.0), (lon, lat), atol=1e-9)
    from xgamma.reduction.background import fov_coordinates

    assert np.allclose(fov_coordinates(ra, dec, (83.6, -60.0)), (lon, lat), atol=1e-9)


def test_seeded_and_sorted(sim_irfs):
    obs = sim_obs(sim_irfs, livetime=60.0)
    a = simulate_events(obs, rng=7)
    b = simulate_events(obs, rng=np.random.default_rng(7))
    pd.testing.assert_frame_equal(a, b)
    assert a.time.is_monotonic_increasing and event_seconds(a).between(obs.tstart, obs.tstop).all()
    assert a.time.dtype == np.dtype("datetime64[ns]") and a.attrs["time_scale"] == "utc"
    assert list(a.event_id) == list(range(1, len(a) + 1))


def test_fit_pulls(sim_irfs):
    """Index and amplitude fitted back on 300 event realisations (~200 source counts each)
    binned on a small geometry: pulls with mean 0 and width 1. Standard errors of the mean and
    width are 0.058 and 0.041; the bounds are about 2.5 of them."""
    truth = {"index": 2.4, "amplitude": 3e-12}
    src = SkyModel("src", spectral_model("pl", **truth), xg.spatial_model("point", lon_0=SRC[0], lat_0=SRC[1]))
    obs = sim_obs(sim_irfs, livetime=1200.0)
    geom = sim_geom(width=0.6, binsz=0.1, emin=0.5, emax=20.0, nbins=5)
    ds = sim_dataset(obs, geom)
    ds = ds.assign(counts=(("energy", "y", "x"), np.zeros(ds.background.shape)),
                   mask_safe=(("energy", "y", "x"), np.ones(ds.background.shape, bool)))
    models = Models([src.with_parameters(src.parameters.with_frozen(["spatial.lon_0", "spatial.lat_0"]))])
    rng = np.random.default_rng(2024)
    sampler = EventSampler(obs)
    pulls: dict[str, list[float]] = {"index": [], "amplitude": []}
    for _ in range(300):
        ev = sampler.sample([src], rng=rng)
        counts = xg.bin_events(ev, geom).transpose("energy", "y", "x").values
        res = xg.fit(ds.assign(counts=(("energy", "y", "x"), counts)), models).result
        for k in pulls:
            p = f"src.spectral.{k}"
            pulls[k].append((float(res["value"].sel(param=p)) - truth[k]) / float(res["error"].sel(param=p)))
    for k, v in pulls.items():
        v = np.asarray(v)
        assert abs(v.mean()) < 0.15, (k, v.mean())
        assert abs(v.std() - 1) < 0.1, (k, v.std())


def test_simulate_dataset_is_fake():
    from xgamma.fitting.fold import example_dataset

    ds = example_dataset()
    m = spectral_model("pl")
    a = simulate_dataset(ds, m, rng=3)
    b = xg.fake(ds, m, seed=np.random.default_rng(3))
    assert (a.counts == b.counts).all()


def test_data_store_observation(data_path):
    """A H.E.S.S. observation of the data store simulates too (its BKG_3D has empty bins,
    whose log-rate extrapolation must not overflow)."""
    obs = xg.open_store(data_path / "hess-dl3-dr1").observation(23523)
    src = SkyModel("crab", spectral_model("pl", amplitude=3.5e-11, index=2.6),
                   xg.spatial_model("point", lon_0=83.633, lat_0=22.014))
    ev = simulate_events(obs, [src], rng=1)
    counts = np.bincount(ev.mc_id)
    assert counts[0] > 1000 and counts[1] > 100
    assert event_seconds(ev).between(obs.tstart, obs.tstop).all()
    # the source events lie around the source (PSF of a few 0.1 deg)
    sep = np.hypot((ev.ra[ev.mc_id == 1] - 83.633) * np.cos(np.radians(22.014)), ev.dec[ev.mc_id == 1] - 22.014)
    assert np.median(sep) < 0.15
