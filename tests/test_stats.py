"""Tests of xgamma.stats: analytic cases, reference numbers, numpy/dask/xarray equality."""

from __future__ import annotations

import json
from pathlib import Path

import dask.array as da
import numpy as np
import pytest
import xarray as xr
from scipy.optimize import brentq, minimize_scalar

from xgamma import stats

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference" / "gammapy_crab.json"


@pytest.fixture(scope="module")
def crab_ref():
    from xgamma._paths import data_dir

    d = data_dir(required=False)
    ref = (d.parent / "reference" / "gammapy_crab.json") if d is not None else REFERENCE
    if not ref.exists():
        pytest.skip("reference numbers not found")
    return json.loads(ref.read_text())["spectrum_1d"]


# --- likelihoods -----------------------------------------------------------------------------


def test_cash_values():
    # 2 (mu - n ln mu); n = 0 -> 2 mu; mu clipped at the truncation value
    assert float(stats.cash(0, 3.0)) == 6.0
    assert float(stats.cash(3, 2.0)) == pytest.approx(2 * (2 - 3 * np.log(2)), rel=1e-14)
    assert float(stats.cash(2, 0.0)) == pytest.approx(-2 * 2 * np.log(stats.TRUNCATION_VALUE))
    # minimum over mu at mu = n
    res = minimize_scalar(lambda m: float(stats.cash(7, m)), bounds=(1, 20), method="bounded")
    assert res.x == pytest.approx(7, rel=1e-4)


def test_wstat_profile_background_is_the_maximum():
    rng = np.random.default_rng(1)
    for _ in range(20):
        n_on, n_off = rng.integers(0, 30, size=2)
        alpha = rng.uniform(0.05, 2)
        mu_sig = rng.uniform(0, 20)
        b = float(stats.wstat_profile_background(n_on, n_off, alpha, mu_sig))

        def f(x, n_on=n_on, n_off=n_off, alpha=alpha, mu_sig=mu_sig):
            return float(stats.wstat(n_on, n_off, alpha, mu_sig, mu_bkg=x))

        res = minimize_scalar(f, bounds=(1e-9, 200), method="bounded", options={"xatol": 1e-10})
        assert f(b) <= res.fun + 1e-7
        if b > 1e-6:
            assert b == pytest.approx(res.x, rel=1e-3, abs=1e-4)


def test_wstat_zero_count_cases():
    # n_on = 0: b = n_off / (1 + alpha), stat = 2 [mu_sig + n_off ln(1 + alpha)]
    alpha, n_off, mu = 0.5, 10, 3.0
    s = float(stats.wstat(0, n_off, alpha, mu))
    assert s == pytest.approx(2 * (mu + n_off * np.log(1 + alpha)), rel=1e-12)
    # n_off = 0 and mu_sig > n_on / (1 + alpha): b = 0, stat = 2 [mu - n_on + n_on ln(n_on / mu)]
    n_on, mu = 5, 8.0
    s = float(stats.wstat(n_on, 0, alpha, mu))
    assert s == pytest.approx(2 * (mu - n_on + n_on * np.log(n_on / mu)), rel=1e-12)
    # n_off = 0 and small mu_sig: b = n_on / (1 + alpha) - mu / alpha
    n_on, mu = 10, 2.0
    b = float(stats.wstat_profile_background(n_on, 0, alpha, mu))
    assert b == pytest.approx(n_on / (1 + alpha) - mu / alpha, rel=1e-12)
    # both zero: only the signal term
    assert float(stats.wstat(0, 0, alpha, 4.0)) == pytest.approx(8.0)
    # perfect fit is 0 (deviance form)
    assert float(stats.wstat(12, 20, 0.1, 10.0)) == pytest.approx(0.0, abs=1e-10)


def test_wstat_ts_equals_li_ma(crab_ref):
    for v in crab_ref["per_obs"].values():
        n_on, n_off, a = v["counts"], v["counts_off"], v["alpha"]
        ts = float(stats.wstat(n_on, n_off, a, 0.0) - stats.wstat(n_on, n_off, a, n_on - a * n_off))
        assert np.sqrt(ts) == pytest.approx(v["sqrt_ts"], rel=1e-10)


def test_li_ma_and_excess_reference(crab_ref):
    rows = [*crab_ref["per_obs"].values(), crab_ref["stacked"]]
    for v in rows:
        sig = float(stats.li_ma_significance(v["counts"], v["counts_off"], v["alpha"]))
        assert sig == pytest.approx(v["sqrt_ts"], rel=1e-9)
        assert float(stats.excess(v["counts"], v["counts_off"], v["alpha"])) == pytest.approx(v["excess"], rel=1e-7)


def test_li_ma_sign_and_zero_counts():
    # deficit is negative; n_on = 0: S = -sqrt(2 n_off ln(1 + alpha))
    assert float(stats.li_ma_significance(0, 10, 0.1)) == pytest.approx(-np.sqrt(2 * 10 * np.log(1.1)))
    # n_off = 0: S = sqrt(2 n_on ln((1 + alpha) / alpha))
    assert float(stats.li_ma_significance(5, 0, 0.2)) == pytest.approx(np.sqrt(2 * 5 * np.log(6.0)))
    assert float(stats.li_ma_significance(10, 100, 0.1)) == 0.0


def test_cash_significance():
    # TS = 2 [n ln(n / b) - (n - b)]
    n, b = 20, 8.0
    assert float(stats.cash_significance(n, b)) == pytest.approx(np.sqrt(2 * (n * np.log(n / b) - (n - b))))
    assert float(stats.cash_significance(0, 2.0)) == pytest.approx(-2.0)


def test_chi2_asymmetric_and_upper_limits():
    assert float(stats.chi2(1.0, 3.0, 2.0)) == pytest.approx(1.0)
    # model above data uses errp, below errn
    assert float(stats.chi2(1.0, 2.0, errn=0.5, errp=1.0)) == pytest.approx(1.0)
    assert float(stats.chi2(1.0, 0.0, errn=0.5, errp=1.0)) == pytest.approx(4.0)
    # upper limit at ul read as a 2 sigma bound: -2 ln Phi((ul - model) / (ul / 2))
    from scipy.stats import norm

    for model in (0.0, 0.5, 1.0, 2.0):
        v = float(stats.chi2(np.nan, model, is_ul=True, ul=1.0))
        assert v == pytest.approx(-2 * norm.logcdf((1.0 - model) / 0.5), rel=1e-10)
    # mixing points and limits elementwise
    out = stats.chi2(np.array([1.0, 0.0]), np.array([2.0, 3.0]), np.array([1.0, 1.0]),
                     is_ul=np.array([False, True]), ul=np.array([0.0, 1.0]))
    assert out[0] == pytest.approx(1.0) and out[1] > 8


# --- errors and upper limits -----------------------------------------------------------------


def _numeric_interval(stat, best, delta, floor):
    s0 = stat(best)
    lo = brentq(lambda x: stat(x) - s0 - delta, floor, best, xtol=1e-12)
    hi = brentq(lambda x: stat(x) - s0 - delta, best, best + 500, xtol=1e-12)
    return best - lo, hi - best


def test_cash_errors_analytic():
    # known background 0: stat = 2 (mu - n ln mu), best mu = n
    n = 100
    errn, errp = _numeric_interval(lambda m: 2 * (m - n * np.log(m)), n, 1.0, 1e-3)
    assert float(stats.counts_errn(n, mu_bkg=0.0)) == pytest.approx(errn, rel=1e-6)
    assert float(stats.counts_errp(n, mu_bkg=0.0)) == pytest.approx(errp, rel=1e-6)
    # with background and 2 sigma
    n, b = 30, 10.0
    errn, errp = _numeric_interval(lambda s: 2 * ((s + b) - n * np.log(s + b)), n - b, 4.0, -b + 1e-3)
    assert float(stats.counts_errn(n, mu_bkg=b, n_sigma=2)) == pytest.approx(errn, rel=1e-6)
    assert float(stats.counts_errp(n, mu_bkg=b, n_sigma=2)) == pytest.approx(errp, rel=1e-6)
    # n_on = 0, no background: 2 mu = n_sigma^2
    assert float(stats.counts_ul(0, mu_bkg=0.0, n_sigma=2)) == pytest.approx(2.0, rel=1e-8)
    assert float(stats.counts_ul(0, mu_bkg=0.0, n_sigma=3)) == pytest.approx(4.5, rel=1e-8)


def test_wstat_errors_against_numeric_profile():
    n_on, n_off, a = 40, 50, 0.2
    best = n_on - a * n_off

    def prof(s):
        return float(stats.wstat(n_on, n_off, a, s))

    errn, errp = _numeric_interval(prof, best, 1.0, best - 20)
    assert float(stats.counts_errn(n_on, n_off, a)) == pytest.approx(errn, rel=1e-6)
    assert float(stats.counts_errp(n_on, n_off, a)) == pytest.approx(errp, rel=1e-6)
    # Gaussian limit: error ~ sqrt(n_on + alpha^2 n_off)
    assert 0.5 * (errn + errp) == pytest.approx(np.sqrt(n_on + a**2 * n_off), rel=0.02)
    # upper limit of a deficit starts at 0
    ul = float(stats.counts_ul(2, 30, 0.2, n_sigma=2))
    s_best = float(stats.wstat(2, 30, 0.2, 2 - 6.0))  # the deficit is the best fit (stat 0)
    assert s_best == pytest.approx(0.0, abs=1e-9)
    assert float(stats.wstat(2, 30, 0.2, ul)) - s_best == pytest.approx(4.0, abs=1e-6)
    assert ul > 0


# --- array types -------------------------------------------------------------------------------


def test_numpy_dask_xarray_agree():
    rng = np.random.default_rng(0)
    n_on = rng.poisson(10, size=(3, 40)).astype(float)
    n_off = rng.poisson(30, size=(3, 40)).astype(float)
    a = np.full((3, 40), 0.25)
    mu = rng.uniform(0, 8, size=(3, 40))
    ref = stats.wstat(n_on, n_off, a, mu)
    lazy = stats.wstat(*(da.from_array(x, chunks=(1, 20)) for x in (n_on, n_off, a, mu)))
    assert isinstance(lazy, da.Array)
    np.testing.assert_allclose(lazy.compute(), ref, rtol=1e-14)
    dims = ("obs", "energy")
    xs = [xr.DataArray(x, dims=dims).chunk({"obs": 1}) for x in (n_on, n_off, a)]
    out = stats.li_ma_significance(*xs)
    assert out.chunks is not None and out.dims == dims
    np.testing.assert_allclose(out.values, stats.li_ma_significance(n_on, n_off, a), rtol=1e-14)
    # profile errors are elementwise too
    errp = stats.counts_errp(xr.DataArray(n_on[0], dims="energy"), mu_bkg=2.0)
    assert errp.dims == ("energy",)
    np.testing.assert_allclose(errp.values, stats.counts_errp(n_on[0], mu_bkg=2.0), rtol=1e-12)
    assert float(stats.cash(da.from_array(np.array([2.0]), chunks=1), 2.0).compute()[0]) == pytest.approx(
        float(stats.cash(2.0, 2.0)))
