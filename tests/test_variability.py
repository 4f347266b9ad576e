"""Variability helpers on analytic and simulated light curves (issue 15, scope 2): constant
fluxes (chi2 p-values uniform, excess variances ~ 0), a known sinusoidal modulation (fractional
variance and its error), an exponential flare (doubling time), on numpy and dask inputs; and the
light curve's datetime64 time axis (``.sel``, ``.resample``, zarr round trip, plot on dates)."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from scipy import stats

import xgamma as xg
from xgamma.estimators.core import (
    estimator_result,
    plot_light_curve,
    read_zarr,
    time_axis,
    time_mjd,
    write_zarr,
)
from xgamma.estimators.variability import (
    chi2_constancy,
    doubling_time,
    flux_and_error,
    fractional_variance,
    point_to_point_variance,
)
from xgamma.models import spectral_model

T0 = 53945.0  # MJD (TT)


def _lc(norm: np.ndarray, err: np.ndarray, hours: float = 1.0) -> xr.Dataset:
    """Light curves ``(realisation, time, energy=1)`` in the estimator result form."""
    norm = np.atleast_2d(norm)
    err = np.broadcast_to(err, norm.shape)
    n = norm.shape[-1]
    t = T0 + np.arange(n) * hours / 24
    res = estimator_result({"norm": norm[..., None], "norm_err": err[..., None], "ts": np.full(norm.shape + (1,), 100.0)},
                           xg.energy_axis(1, 10, 1), spectral_model("pl", index=2, amplitude=1e-11),
                           dims=("real", "time", "energy"), coords=time_axis(t, t + hours / 24).coords)
    return res


@pytest.fixture(params=["numpy", "dask"])
def chunked(request):
    return (lambda ds: ds.chunk({"real": 50})) if request.param == "dask" else (lambda ds: ds)


def test_constant_flux(chunked):
    rng = np.random.default_rng(1)
    n_real, n, sigma = 400, 20, 0.1
    lc = chunked(_lc(1 + sigma * rng.standard_normal((n_real, n)), np.full(n, sigma)))
    chi = chi2_constancy(lc).compute()
    p = chi.pvalue.values.ravel()
    assert stats.kstest(p, "uniform").pvalue > 0.01  # p-values uniform for a constant flux
    np.testing.assert_allclose(chi.chi2.mean(), n - 1, rtol=0.05)
    assert (chi.ndf == n - 1).all()
    np.testing.assert_allclose(chi["mean"].mean() / float(lc.ref_flux[0]), 1.0, atol=3 * sigma / np.sqrt(n * n_real))
    for func, name in ((fractional_variance, "fvar"), (point_to_point_variance, "fpp")):
        r = func(lc).compute()
        nxs = r[f"{name}_nxs"].values.ravel()
        # the normalised excess variance is 0 on average, its error the scatter of the realisations
        assert abs(nxs.mean()) < 3 * nxs.std() / np.sqrt(nxs.size)
        np.testing.assert_allclose(nxs.std(), float(r[f"{name}_nxs_err"].mean()), rtol=0.25)
        # Fvar itself is only defined (not NaN) where the excess is positive: about half the time
        assert 0.3 < float(np.isfinite(r[name]).mean()) < 0.7


def test_sine_modulation_fvar_and_error(chunked):
    rng = np.random.default_rng(2)
    n_real, n, amp, sigma = 300, 60, 0.3, 0.05
    phase = 2 * np.pi * np.arange(n) / n * 3  # three full periods: sample variance amp^2 / 2 (n/(n-1))
    signal = 1 + amp * np.sin(phase)
    lc = chunked(_lc(signal + sigma * rng.standard_normal((n_real, n)), np.full(n, sigma)))
    r = fractional_variance(lc).compute()
    truth = np.sqrt(np.var(signal, ddof=1)) / signal.mean()
    np.testing.assert_allclose(truth, amp / np.sqrt(2) * np.sqrt(n / (n - 1)), rtol=1e-12)
    fvar = r.fvar.values.ravel()
    np.testing.assert_allclose(fvar.mean(), truth, rtol=0.01)
    # Vaughan et al. (2003) error: the scatter of the realisations
    np.testing.assert_allclose(fvar.std(), float(r.fvar_err.mean()), rtol=0.2)
    # smooth modulation: point-to-point variance well below Fvar; chi2 rejects constancy
    assert float(np.nanmean(point_to_point_variance(lc).fpp)) < 0.5 * truth
    assert float(chi2_constancy(lc).pvalue.max()) < 1e-10


def test_doubling_time_of_exponential_flare(chunked):
    tau_s = 3600.0  # e-folding time: the flux doubles every tau ln 2
    hours = 0.25
    t = np.arange(12) * hours * 3600
    rise = np.exp(t / tau_s)
    fall = rise[-1] * np.exp(-(t[1:] / (0.5 * tau_s)))  # the decay is twice as fast
    flux = np.concatenate([rise, fall])
    rel = 0.02
    lc = chunked(_lc(np.tile(flux, (2, 1)), rel * flux, hours=hours))
    r = doubling_time(lc).compute()
    np.testing.assert_allclose(r.doubling_time.values, 0.5 * tau_s * np.log(2), rtol=1e-9)  # the fall
    assert not bool(r.doubling_rising.values.ravel()[0])  # a halving
    # error: tau * sqrt(2) rel / |ln ratio| with |ln ratio| = dt / (tau / 2)
    dt = hours * 3600
    np.testing.assert_allclose(r.doubling_time_err.values, 0.5 * tau_s * np.log(2) * np.sqrt(2) * rel / (dt / (0.5 * tau_s)),
                               rtol=1e-9)
    # the rise alone: tau ln 2, rising, at a time between the first bins of the rise
    only_rise = doubling_time(_lc(rise, rel * rise, hours=hours))
    np.testing.assert_allclose(float(only_rise.doubling_time[0, 0]), tau_s * np.log(2), rtol=1e-9)
    assert bool(only_rise.doubling_rising[0, 0])
    assert only_rise.doubling_time_coord.dtype.kind == "M"


def test_invalid_points_are_left_out():
    lc = _lc(np.array([1.0, 5.0, 1.0, 1.0]), np.full(4, 0.1))
    lc["valid"] = lc["valid"].copy(data=np.array([[[True], [False], [True], [True]]]))
    x, _ = flux_and_error(lc)
    assert int(x.count()) == 3
    assert float(chi2_constancy(lc).chi2[0, 0]) == 0.0
    with pytest.raises(ValueError, match="'time' dim"):
        chi2_constancy(lc.isel(time=0))


def test_time_axis_is_time(tmp_path):
    t = T0 + np.arange(6) / 24
    lc = _lc(np.array([1.0, 2, 3, 4, 5, 6]), np.full(6, 0.1)).isel(real=0)
    assert lc.time.dtype == np.dtype("datetime64[ns]") and lc.time.attrs["scale"] == "utc"
    # bin 2 starts at T0 + 2 h (TT) = 01:58:54.816 UTC (TT - UTC = 65.184 s in 2006)
    assert str(lc.time_min.values[2]) == "2006-07-29T01:58:54.816000000"
    np.testing.assert_allclose(time_mjd(lc, "time_min"), t, atol=1e-8)
    sel = lc.sel(time="2006-07-29T02:30", method="nearest")
    assert float(sel.norm[0]) == 3.0
    hourly = lc.norm.resample(time="2h").mean()
    # bins centred at 00:28, 01:28, ... 05:28 UTC: three 2-hour blocks of two bins each
    assert hourly.sizes["time"] == 3 and hourly.values.ravel().tolist() == [1.5, 3.5, 5.5]
    write_zarr(lc, tmp_path / "lc.zarr")
    back = read_zarr(tmp_path / "lc.zarr")
    np.testing.assert_array_equal(back.time_min.values, lc.time_min.values)
    import zarr  # noqa: F401 - the on-disk form is CF: integers since a reference date

    raw = xr.open_zarr(tmp_path / "lc.zarr", decode_times=False)
    assert "since" in raw.time_min.attrs["units"]
    # the former float-second form (seconds since attrs["mjdref"]) is still read
    legacy = lc.assign_coords(time_min=("time", (t - T0) * 86400.0)).assign_attrs(mjdref=T0)
    np.testing.assert_allclose(time_mjd(legacy, "time_min"), t, atol=1e-9)


def test_plot_light_curve_on_dates_with_upper_limits():
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    lc = _lc(np.array([1.0, 2, 0.2, 3]), np.full(4, 0.1)).isel(real=0)
    lc["is_ul"] = (("time", "energy"), np.array([[False], [False], [True], [False]]))
    lc["norm_ul"] = lc["norm"] + 0.5
    _, own = plt.subplots()  # its own axes: another test's open figure must not leak in
    ax = plot_light_curve(lc, ax=own)
    assert ax.get_xlabel() == "time [UTC]"
    assert isinstance(ax.xaxis.get_major_formatter(), mdates.ConciseDateFormatter)
    lo, hi = ax.get_xlim()  # the bins span 2006-07-28T23:58:54 to 07-29T03:58:54 UTC
    assert mdates.num2date(lo) < mdates.num2date(mdates.datestr2num("2006-07-29T00:00")) < mdates.num2date(hi)
    assert hi - lo < 0.25
    # three points and one upper limit (arrow caps drawn as lines with markers)
    assert len(ax.containers) == 2
    plt.close(ax.figure)
