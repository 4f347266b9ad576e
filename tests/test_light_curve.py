"""Light curves: time binning and slicing, the PKS 2155-304 flare night (H.E.S.S. DR1 runs
33787-33801, 34 ten-minute bins), per-run light curve vs whole-run flux points, and a simulated
constant source (chi2 consistent with constant)."""

from __future__ import annotations

import dask
import numpy as np
import pytest
from astropy.time import Time
from scipy import stats as sps

import xgamma as xg
from xgamma.estimators.core import time_mjd, to_sed_type
from xgamma.estimators.flux_points import flux_points
from xgamma.estimators.light_curve import (
    TimeSlice,
    light_curve,
    light_curve_datasets,
    obs_time_range,
    time_bins,
    time_slice,
)
from xgamma.fitting.fold import example_dataset, fake
from xgamma.models import Models, SkyModel, spectral_model

FLARE_START = Time("2006-07-29T20:30:00", scale="utc")
PKS_REGION = "icrs;circle(329.71694,-30.2255,0.11)"


@pytest.fixture(scope="module")
def flare(data):
    store = xg.open_store(data / "hess-dl3-dr1")
    ids = [o for o in store.obs_table.index if 33787 <= o <= 33801]
    assert ids == list(range(33787, 33802))
    obs = [store.observation(o) for o in ids]
    geom = xg.region_geom(PKS_REGION, axes=[xg.energy_axis(0.4, 20, 10)])
    rk = {"energy_true": xg.energy_axis(0.1, 40, 20, name="energy_true"), "containment_correction": True,
          "safe_mask": ["aeff-max"], "safe_mask_params": {"aeff_percent": 10}}
    models = Models([SkyModel("pks", spectral_model("pl", index=3.4, amplitude=2e-11).with_frozen("index"))])
    return obs, geom, rk, models


@pytest.fixture(scope="module")
def lc10(flare):
    obs, geom, rk, models = flare
    t_min, t_max = time_bins(duration="10 min", t_start=FLARE_START, t_stop=FLARE_START.mjd + 340 / 1440)
    with dask.config.set(scheduler="threads", num_workers=2):
        return light_curve(obs, models, "pks", [0.7, 20], geom, (t_min, t_max), reduce_kwargs=rk,
                           selection_optional=("ul",))


def test_time_bins_variants():
    t0, t1 = time_bins(duration="10 min", t_start=FLARE_START, t_stop=FLARE_START.mjd + 340 / 1440)
    assert t0.size == 34
    np.testing.assert_allclose((t1 - t0) * 1440, 10.0, rtol=1e-9)
    np.testing.assert_allclose(t0[0], FLARE_START.tt.mjd, rtol=0, atol=1e-9)  # UTC start -> TT MJD
    e0, e1 = time_bins(edges=[1.0, 2.0, 4.0])
    assert e0.tolist() == [1.0, 2.0] and e1.tolist() == [2.0, 4.0]
    i0, i1 = time_bins(intervals=[(1.0, 1.5), (3.0, 3.2)])
    assert i0.tolist() == [1.0, 3.0] and i1.tolist() == [1.5, 3.2]
    with pytest.raises(ValueError):
        time_bins(edges=[1, 2], duration=3)


def test_time_slice_conserves_events_and_livetime(data):
    obs = xg.open_store(data / "hess-dl3-dr1").observation(33787)
    a, b = obs_time_range(obs)
    mid = 0.5 * (a + b)
    s1, s2 = time_slice(obs, a - 1, mid), time_slice(obs, mid, b + 1)
    assert isinstance(s1, TimeSlice) and isinstance(s2, TimeSlice)
    assert len(s1.events) + len(s2.events) == len(obs.events)
    np.testing.assert_allclose(s1.livetime + s2.livetime, obs.livetime, rtol=1e-12)
    np.testing.assert_allclose(s1.livetime / obs.livetime, 0.5, rtol=1e-6)
    assert s1.aeff is obs.aeff  # IRFs and metadata are the observation's
    assert time_slice(obs, b + 1, b + 2) is None
    assert time_slice(obs, a - 1, b + 1) is obs  # covering the whole run: the run itself


def test_flare_ten_minute_bins(flare, lc10):
    obs, *_ = flare
    lc = lc10
    assert lc.sizes["time"] == 34 and lc.sizes["energy"] == 1
    assert lc.valid.all() and lc.success.all()
    assert (lc.norm > 0).all() and (lc.ts > 25).all()  # the flare: every 10-minute bin is a detection
    # bin edges: 10 minutes each, starting 2006-07-29T20:30 UTC
    np.testing.assert_allclose((time_mjd(lc, "time_max") - time_mjd(lc, "time_min")) * 1440, 10, rtol=1e-6)
    np.testing.assert_allclose(time_mjd(lc, "time_min")[0], FLARE_START.tt.mjd, atol=1e-8)
    # live time is shared out between the bins, not created or lost
    inside = [o for o in obs if obs_time_range(o)[1] <= time_mjd(lc, "time_max")[-1]
              and obs_time_range(o)[0] >= time_mjd(lc, "time_min")[0]]
    total = float(lc.livetime.sum())
    assert total <= sum(o.livetime for o in obs) + 1e-6
    assert total >= sum(o.livetime for o in inside) - 1e-6
    # a flare: the flux varies by more than a factor 2 across the night
    f = to_sed_type(lc, "flux").flux.values[:, 0]
    assert f.max() / f.min() > 2
    assert 1e-10 < f.max() < 1e-9  # > 0.6 TeV, cm-2 s-1 (several Crab units)
    chi2 = float((((lc.norm - lc.norm.mean()) / lc.norm_err) ** 2).sum())
    assert sps.chi2.sf(chi2, 33) < 1e-10  # not constant


def test_per_run_light_curve_equals_run_flux_points(flare, lc10):
    obs, geom, rk, models = flare
    lco = light_curve(obs[:3], models, "pks", [0.7, 1, 3, 20], geom, "observation", reduce_kwargs=rk,
                      selection_optional=("errn-errp", "ul"))
    assert lco.sizes["time"] == 3 and lco.sizes["energy"] == 3
    for i, o in enumerate(obs[:3]):
        ds = xg.reduce_spectrum(o, geom, **rk)
        fp = flux_points(ds, models, "pks", [0.7, 1, 3, 20], selection_optional=("errn-errp", "ul"))
        for v in ("norm", "norm_err", "norm_errp", "norm_errn", "norm_ul", "ts"):
            np.testing.assert_allclose(lco[v].isel(time=i).values, fp[v].values, rtol=1e-6)
        np.testing.assert_allclose(float(lco.livetime[i]), o.livetime, rtol=1e-9)
    # the 10-minute bins within the first run average to the run's norm
    t_run = obs_time_range(obs[0])
    in_run = (time_mjd(lc10, "time_max") <= t_run[1]) & (time_mjd(lc10, "time_min") >= t_run[0])
    if in_run.sum() >= 2:
        w = 1 / lc10.norm_err.values[in_run, 0] ** 2
        mean = float((lc10.norm.values[in_run, 0] * w).sum() / w.sum())
        lco1 = light_curve(obs[:1], models, "pks", [0.7, 20], geom, "observation", reduce_kwargs=rk,
                           selection_optional=())
        assert abs(mean - float(lco1.norm[0, 0])) < 2 * float(lco1.norm_err[0, 0])


def test_constant_source_chi2():
    """Fake constant-flux light curves: chi2 vs the weighted mean follows chi2(ndf)."""
    truth = Models([SkyModel("s", spectral_model("pl", index=2.6, amplitude=4e-11))])
    base = example_dataset(livetime=1800.0)
    n_bins = 20
    t0 = 55000 + np.arange(n_bins) / 48
    red = []
    pvals = []
    for rep in range(40):
        dss = [fake(base, truth, seed=1000 * rep + i) for i in range(n_bins)]
        lc = light_curve_datasets(dss, t0, t0 + 1 / 48, truth, "s", [0.3, 3], selection_optional=())
        n, e = lc.norm.values[:, 0], lc.norm_err.values[:, 0]
        w = 1 / e**2
        mean = (n * w).sum() / w.sum()
        chi2 = float((((n - mean) / e) ** 2).sum())
        red.append(chi2 / (n_bins - 1))
        pvals.append(sps.chi2.sf(chi2, n_bins - 1))
        if rep == 0:
            assert abs(mean - 1) < 3 / np.sqrt(w.sum())
    assert pvals[0] > 0.01
    assert abs(np.mean(red) - 1) < 0.15, np.mean(red)
    # p-values are uniform: none is tiny
    assert min(pvals) > 1e-4
