"""Tests of xgamma.safe_mask on synthetic IRFs (analytic thresholds) and the H.E.S.S. Crab runs."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr

import xgamma as xg
from xgamma import testing
from xgamma.reduction.safe_mask import (
    aeff_default,
    aeff_max,
    bkg_invalid,
    bkg_peak,
    edisp_bias,
    energy_mask,
    make_safe_mask,
    offset_max,
    safe_energy_range,
)

CRAB_RUNS = [23523, 23526, 23559, 23592]


def _threshold_bin(mask: xr.DataArray, ds: xr.Dataset) -> float:
    """Lower edge of the first kept bin."""
    idx = np.flatnonzero(np.asarray(mask.values))
    return float(ds.energy_min.values[idx[0]])


def test_energy_mask_bins_fully_inside():
    ds = xr.Dataset(coords=xg.energy_axis(1, 100, 4).coords)
    e = xg.axes.edges(ds, "energy")
    assert energy_mask(ds, e[1]).values.tolist() == [False, True, True, True]
    assert energy_mask(ds, e[1] * 1.001).values.tolist() == [False, False, True, True]
    assert energy_mask(ds, None, e[3]).values.tolist() == [True, True, True, False]
    assert energy_mask(ds).values.all()


def test_aeff_default_uses_thresholds():
    obs = testing.make_observation(n_events=1, aeff={"lo_threshold": 0.8, "hi_threshold": 20.0})
    ds = xr.Dataset(coords=xg.energy_axis(0.1, 100, 12).coords)
    m = aeff_default(ds, obs)
    lo, hi = ds.energy_min.values, ds.energy_max.values
    np.testing.assert_array_equal(m.values, (lo >= 0.8) & (hi <= 20.0))
    obs2 = testing.make_observation(n_events=1, aeff={"lo_threshold": None, "hi_threshold": None})
    with pytest.warns(UserWarning, match="no default thresholds"):
        assert aeff_default(ds, obs2).values.all()


@pytest.fixture(scope="module")
def obs():
    wide = xg.energy_axis(0.001, 300, 80, name="energy_true")
    return testing.make_observation(n_events=100, edisp={"bias_energy": 1.0},
                                    aeff={"energy_true": wide})


@pytest.fixture(scope="module")
def ds3d(obs):
    geom = testing.make_wcs_geom(width=1.0, binsz=0.1, energy=xg.energy_axis(0.01, 100, 40))
    return xg.reduce(obs, geom, energy_true=xg.energy_axis(0.005, 200, 120, name="energy_true"))


def test_aeff_max_analytic(ds3d, obs):
    """aeff = A (1 - exp(-E/0.3)) g(offset): 10 % of the max at E = -0.3 ln(0.9) ~ 0.0316 TeV."""
    m = aeff_max(ds3d, obs, aeff_percent=10)
    et = ds3d.energy_true.values
    a = 1 - np.exp(-et / 0.3)
    e_thr = -0.3 * np.log(1 - 0.1 * a.max())
    t = _threshold_bin(m, ds3d)
    assert t >= e_thr * (1 - 0.01)
    # the previous bin starts below the threshold
    i = int(np.flatnonzero(m.values)[0])
    assert ds3d.energy_min.values[i - 1] < e_thr
    m50 = aeff_max(ds3d, obs, aeff_percent=50)
    assert _threshold_bin(m50, ds3d) >= -0.3 * np.log(0.5) * 0.99 > t


def test_edisp_bias_analytic(ds3d, obs):
    """Mean migra 1 + 0.1 TeV / E: the bias falls to 10 % at E_true = 1 TeV, reco 1.1 TeV."""
    m = edisp_bias(ds3d, obs, bias_percent=10)
    i = int(np.flatnonzero(m.values)[0])
    e_min, e_prev = ds3d.energy_min.values[i], ds3d.energy_min.values[i - 1]
    assert e_prev < 1.1 * 1.03 and e_min >= 1.1 * 0.97
    m5 = edisp_bias(ds3d, obs, bias_percent=5)  # E_true = 2 TeV, reco 2.1 TeV
    i5 = int(np.flatnonzero(m5.values)[0])
    assert ds3d.energy_min.values[i5] >= 2.1 * 0.97 and ds3d.energy_min.values[i5 - 1] < 2.1 * 1.03


def test_offset_max_and_combination(obs):
    geom = testing.make_wcs_geom(center=(83.633, 21.514), width=5.0, binsz=0.1)
    d = xg.reduce(obs, geom)
    m = offset_max(d, obs, 1.0)
    from xgamma.reduction.products import pixel_offsets

    np.testing.assert_array_equal(m.values, pixel_offsets(d, (83.633, 21.514)) < 1.0)
    out = make_safe_mask(d, obs, methods=["offset-max", "aeff-default"], offset_max=1.0)
    expected = m.values[None] & aeff_default(d, obs).values[:, None, None] & d.mask_safe.values
    np.testing.assert_array_equal(out.mask_safe.values, expected)
    assert out.mask_safe.dims == ("energy", "y", "x")
    # the input is not modified
    assert d.mask_safe.values.sum() > out.mask_safe.values.sum()


def test_bkg_peak_and_invalid():
    e = xg.energy_axis(0.1, 10, 5)
    b = xr.DataArray([[1.0, 2.0], [5.0, 0.0], [2.0, 2.0], [1.0, np.nan], [0.5, 0.5]],
                     dims=("energy", "x"))
    ds = xr.Dataset({"background": b}, coords=e.coords)
    assert bkg_peak(ds).values.tolist() == [False, False, True, True, True]
    np.testing.assert_array_equal(bkg_invalid(ds).values, np.isfinite(b.values) & (b.values > 0))


def test_unknown_method(ds3d, obs):
    with pytest.raises(ValueError, match="unknown safe-mask methods"):
        make_safe_mask(ds3d, obs, methods=["aeff-min"])


def test_region_dataset(obs):
    """Works on a 1D dataset (the spectrum layout): position = region centre."""
    e = xg.energy_axis(0.01, 100, 40)
    et = xg.energy_axis(0.005, 200, 120, name="energy_true")
    from xgamma.reduction.products import make_edisp_map, make_exposure

    off = np.array([0.5])
    exposure = make_exposure(obs.aeff, et.values, off, obs.livetime)[:, 0]
    kernel = make_edisp_map(obs.edisp, et.values, xg.axes.edges(e), off)[..., 0]
    ds = xr.Dataset(
        {"counts": ("energy", np.zeros(40)), "exposure": ("energy_true", exposure),
         "edisp": (("energy_true", "energy"), kernel), "mask_safe": ("energy", np.ones(40, bool))},
        coords={**e.coords, **et.coords},
        attrs={"geom": "region", "frame": "icrs", "region": "icrs;circle(83.633,22.014,0.1)",
               "livetime": obs.livetime},
    )
    out = make_safe_mask(ds, obs, methods=["aeff-max", "edisp-bias", "offset-max"],
                         offset_max=2.0)
    lo, hi = safe_energy_range(out)
    i = int(np.flatnonzero(out.mask_safe.values)[0])
    assert lo == pytest.approx(ds.energy_min.values[i]) and hi == pytest.approx(100.0)
    assert 1.1 * 0.97 <= lo and ds.energy_min.values[i - 1] < 1.1 * 1.03  # edisp bias dominates
    both = aeff_max(ds, obs, 10) & edisp_bias(ds, obs, 10)
    np.testing.assert_array_equal(out.mask_safe.values, both.values)
    far = make_safe_mask(ds, obs, methods=["offset-max"], offset_max=0.3)
    assert not far.mask_safe.any()  # region centre at 0.5 deg from the pointing


def test_hess_crab_safe_energy_range(data):
    """aeff-default + aeff-max 10 % on the 1D Crab spectra: Gammapy's safe energy ranges."""
    pytest.importorskip("xgamma.spectrum")
    ref = json.loads((data.parent / "reference" / "gammapy_crab.json").read_text())
    ref = ref["spectrum_1d"]["safe_energy_range_TeV"]
    store = xg.open_store(data / "hess-dl3-dr1")
    geom = xg.region_geom("icrs;circle(83.63,22.01,0.11)", axes=[xg.energy_axis(0.2, 30, 15)])
    et = xg.energy_axis(0.1, 60, 30, name="energy_true")
    for oid in CRAB_RUNS:
        obs = store.observation(oid)
        ds = xg.reduce(obs, geom, energy_true=et, containment_correction=True, background=None)
        out = make_safe_mask(ds, obs, methods=["aeff-default", "aeff-max"], aeff_percent=10)
        lo, hi = safe_energy_range(out)
        assert lo == pytest.approx(ref[f"obs_{oid}"][0], rel=1e-9)
        assert hi == pytest.approx(ref[f"obs_{oid}"][1], rel=1e-9)
        # aeff-max alone is looser than aeff-default here
        alone = aeff_max(ds, obs, aeff_percent=10)
        assert _threshold_bin(alone, ds) <= lo


def test_hess_crab_3d_aeff_max(data):
    """aeff-max on a 3D map uses the exposure at the map centre."""
    store = xg.open_store(data / "hess-dl3-dr1")
    obs = store.observation(23523)
    geom = testing.make_wcs_geom(width=1.0, binsz=0.1, energy=xg.energy_axis(0.2, 30, 15))
    et = xg.energy_axis(0.1, 60, 30, name="energy_true")
    ds = xg.reduce(obs, geom, energy_true=et, products=["exposure"])
    m = aeff_max(ds, obs, aeff_percent=10)
    # independent: aeff at the centre's offset on the energy_true centres
    from astropy.coordinates import SkyCoord

    off = SkyCoord(83.633, 22.014, unit="deg").separation(obs.pointing_radec).deg
    a = xg.irf.aeff_at(obs.aeff, energy_true=et.values, offset=off).values
    thr = 0.1 * a.max()
    k = int(np.flatnonzero(a >= thr)[0])
    # independent crossing: log-log linear between the centres k-1 and k
    la, le = np.log(a[k - 1: k + 1]), np.log(et.values[k - 1: k + 1])
    e_star = np.exp(le[0] + (np.log(thr) - la[0]) * (le[1] - le[0]) / (la[1] - la[0]))
    np.testing.assert_array_equal(m.values, ds.energy_min.values >= e_star)
