"""Fits to flux points (issue 12, scope 5): the flux-point dataset as a likelihood term.

Checks: a power-law fit to HAWC's published Crab points (Abeysekara et al. 2017, in
``hawc/crab_flux``) equals a fit done by hand with scipy on the same points and the same
statistic; asymmetric errors, one-sided upper-limit terms and likelihood profiles against their
analytic values; a joint fit of the H.E.S.S. Crab 1D ON/OFF spectrum (4 runs of DR1) with the
HAWC points; bad inputs give one-line errors.
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from scipy.optimize import curve_fit, minimize
from scipy.stats import norm as gauss

import xgamma as xg
from xgamma.errors import ConventionError
from xgamma.estimators.core import estimator_result
from xgamma.fitting.fitter import stat_sum
from xgamma.fitting.flux_points_dataset import FluxPointTerms, flux_point_terms, flux_points_dataset
from xgamma.models import Models, SkyModel, spectral_model

CRAB_RUNS = [23523, 23526, 23559, 23592]
E0 = 7.0  # TeV, reference energy of the power law (near HAWC's decorrelation energy)


@pytest.fixture(scope="module")
def hawc_points(data_path):
    return xg.read_sed(data_path / "hawc/crab_flux/HAWC19_flux_points.fits")


def _pl(e, index, amp):
    return amp * 1e-13 * (e / E0) ** (-index)


def _chi2(x, e, d, s):
    return float(np.sum(((_pl(e, *x) - d) / s) ** 2))


def _hessian(f, x, rel=1e-4):
    x = np.asarray(x, float)
    h = rel * np.abs(x)
    n = len(x)
    out = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            ei, ej = np.eye(n)[i] * h[i], np.eye(n)[j] * h[j]
            out[i, j] = (f(x + ei + ej) - f(x + ei - ej) - f(x - ei + ej) + f(x - ei - ej)) / (4 * h[i] * h[j])
    return out


def test_hawc_points_power_law_matches_scipy_by_hand(hawc_points):
    r = hawc_points
    e = r.energy.values
    dnde = (r.norm * r.ref_dnde).values
    err = (r.norm_err * r.ref_dnde).values
    det = ~r.is_ul.values
    # by hand: weighted least squares on the detected points
    p, _ = curve_fit(_pl, e[det], dnde[det], p0=[2.6, 2.0], sigma=err[det], absolute_sigma=True)
    # errors from the full Hessian of chi2 (as HESSE; curve_fit's J^T J drops the second-derivative
    # term, 4 % smaller here where chi2 / ndf ~ 9)
    perr = np.sqrt(np.diag(2 * np.linalg.inv(_hessian(lambda x: _chi2(x, e[det], dnde[det], err[det]), p))))
    ds = flux_points_dataset(r, name="hawc", mask_fit=det)
    res = xg.fit(ds, spectral_model("pl", index=2.5, amplitude=1e-13, reference=E0))
    assert res.success
    pars = res.models[0].spectral.parameters
    assert abs(pars["index"].value - p[0]) < 0.05 * perr[0]
    assert abs(pars["amplitude"].value - p[1] * 1e-13) < 0.05 * perr[1] * 1e-13
    np.testing.assert_allclose(pars["index"].error, perr[0], rtol=0.02)
    np.testing.assert_allclose(pars["amplitude"].error, perr[1] * 1e-13, rtol=0.02)
    chi2 = float(np.sum(((_pl(e[det], *p) - dnde[det]) / err[det]) ** 2))
    np.testing.assert_allclose(res.stat_sum, chi2, rtol=1e-4)
    # a power law is a poor description of HAWC's Crab (chi2 = 39.6 for 9 - 2 degrees of freedom;
    # HAWC's own model is a log parabola, see below)
    assert 30 < res.stat_sum < 50


def test_hawc_points_with_upper_limit_term_matches_by_hand(hawc_points):
    """All 10 points (the last one an upper limit at 2 sigma) with the one-sided UL term."""
    r = hawc_points
    e = r.energy.values
    dnde = (r.norm * r.ref_dnde).values
    err = (r.norm_err * r.ref_dnde).values
    ul = (r.norm_ul * r.ref_dnde).values
    det = ~r.is_ul.values

    def stat(x):
        m = _pl(e, *x)
        s = np.sum(((m[det] - dnde[det]) / err[det]) ** 2)
        sig = ul[~det] / 2.0
        return s + np.sum(-2 * gauss.logcdf((ul[~det] - m[~det]) / sig) + 2 * gauss.logcdf(2.0))

    by_hand = minimize(stat, [2.6, 2.0], method="Nelder-Mead", options={"xatol": 1e-8, "fatol": 1e-10})
    res = xg.fit(r, spectral_model("pl", index=2.5, amplitude=1e-13, reference=E0))
    pars = res.models[0].spectral.parameters
    assert abs(pars["index"].value - by_hand.x[0]) < 0.02 * pars["index"].error
    np.testing.assert_allclose(res.stat_sum, by_hand.fun, rtol=1e-5)
    # the limit at 236 TeV lies below the power law of the detected points: it steepens the fit
    free = xg.fit(flux_points_dataset(r, mask_fit=det), spectral_model("pl", index=2.5, amplitude=1e-13, reference=E0))
    assert pars["index"].value > free.models[0].spectral.parameters["index"].value + 0.005


def test_hawc_points_log_parabola(hawc_points):
    """A log parabola describes the points (HAWC's published model is one, with amplitude
    2.35e-13 cm-2 s-1 TeV-1 at 7 TeV; its alpha and beta come from a forward-folded fit of the
    events, not from these points, so only the amplitude at the pivot is compared)."""
    res = xg.fit(hawc_points, spectral_model("LogParabolaSpectralModel", alpha=2.5, beta=0.1, amplitude=1e-13,
                                             reference=E0))
    p = res.models[0].spectral.parameters
    assert res.stat_sum < 12  # 10 points, 3 parameters (measured: 8.1)
    assert p["beta"].value > 4 * p["beta"].error  # curvature detected
    assert abs(p["amplitude"].value - 2.35e-13) < 3 * p["amplitude"].error


def _sed(norm, errn=None, errp=None, err=None, is_ul=None, ul=None):
    e = xg.energy_axis(1, 100, len(norm))
    data = {"norm": norm}
    for k, v in (("norm_errn", errn), ("norm_errp", errp), ("norm_err", err), ("is_ul", is_ul), ("norm_ul", ul)):
        if v is not None:
            data[k] = v
    return estimator_result(data, e, spectral_model("pl", index=2.0, amplitude=1e-12))


def test_asymmetric_errors_and_upper_limit_terms_analytic():
    sed = _sed(np.array([1.0, 1.0, 0.0]), errn=np.array([0.1, 0.1, np.nan]), errp=np.array([0.2, 0.2, np.nan]),
               is_ul=np.array([False, False, True]), ul=np.array([np.nan, np.nan, 0.5]))
    models = Models([SkyModel("s", spectral_model("pl", index=2.0, amplitude=1e-12))])
    t = flux_point_terms(flux_points_dataset(sed, name="fp"), models, {"s": 0})
    v = np.array(models.parameters.values, float)
    ul_const = 2 * gauss.logcdf(2.0)
    # model = reference: 0 from the points, the UL term at model/ul = 1/0.5 = 2 -> Phi(-2)
    np.testing.assert_allclose(t.stat(v), -2 * gauss.logcdf((0.5 - 1.0) / 0.25) + ul_const, rtol=1e-10)
    # model 1.3 x reference: above the points -> errp; the UL term at 1.3 / 0.5
    v2 = v.copy()
    v2[1] = 1.3e-12
    expected = 2 * (0.3 / 0.2) ** 2 - 2 * gauss.logcdf((0.5 - 1.3) / 0.25) + ul_const
    np.testing.assert_allclose(t.stat(v2), expected, rtol=1e-10)
    v2[1] = 0.8e-12  # below the points -> errn
    expected = 2 * (0.2 / 0.1) ** 2 - 2 * gauss.logcdf((0.5 - 0.8) / 0.25) + ul_const
    np.testing.assert_allclose(t.stat(v2), expected, rtol=1e-10)
    # zero model flux: the UL term vanishes
    v2[1] = 0.0
    np.testing.assert_allclose(t.stat(v2), 2 * (1 / 0.1) ** 2, rtol=1e-10)


def test_profile_statistic_recovers_chi2_fit():
    """Parabolic likelihood profiles give the same fit as chi2 with the same errors."""
    e = xg.energy_axis(1, 100, 6)
    ref = spectral_model("pl", index=2.0, amplitude=1e-12)
    rng = np.random.default_rng(1)
    truth = spectral_model("pl", index=2.4, amplitude=2e-12)
    norm = truth(e.values) / ref(e.values) * (1 + 0.05 * rng.standard_normal(6))
    err = 0.05 * norm
    scan = np.linspace(0.0, 3.0, 301)
    stat_scan = ((scan[None, :] - norm[:, None]) / err[:, None]) ** 2
    sed = estimator_result({"norm": norm, "norm_err": err, "stat_scan": stat_scan}, e, ref, norm_scan=scan)
    start = spectral_model("pl", index=2.0, amplitude=1e-12)
    r_chi2 = xg.fit(flux_points_dataset(sed), start)
    r_prof = xg.fit(flux_points_dataset(sed, stat="profile"), start)
    a = r_chi2.models[0].spectral.parameters
    b = r_prof.models[0].spectral.parameters
    assert abs(a["index"].value - b["index"].value) < 0.02 * a["index"].error
    np.testing.assert_allclose(b["index"].error, a["index"].error, rtol=0.03)
    np.testing.assert_allclose(r_prof.stat_sum, r_chi2.stat_sum, atol=0.01)
    assert abs(a["index"].value - 2.4) < 3 * a["index"].error


@pytest.fixture(scope="module")
def hess_crab_1d(data_path):
    """H.E.S.S. DR1 Crab, 4 runs, reflected-region ON/OFF, stacked, fit range 0.6-20 TeV."""
    from xgamma.reduction.spectrum import reduce_spectrum, stack_spectra

    store = xg.open_store(data_path / "hess-dl3-dr1")
    geom = xg.region_geom("icrs;circle(83.63,22.01,0.11)", axes=[xg.energy_axis(0.2, 30, 15)])
    etrue = xg.energy_axis(0.1, 60, 30, name="energy_true")
    dss = [reduce_spectrum(store.observation(i), geom, energy_true=etrue, containment_correction=True,
                           safe_mask=["aeff-default", "aeff-max"], safe_mask_params={"aeff_percent": 10})
           for i in CRAB_RUNS]
    st = stack_spectra(dss)
    lo, hi = st.energy_min.values, st.energy_max.values
    fit_mask = (lo >= 0.6 * (1 - 1e-6)) & (hi <= 20 * (1 + 1e-6))
    return st.assign(mask_fit=("energy", fit_mask)).assign_attrs(name="hess")


def test_joint_hess_onoff_and_hawc_points(hess_crab_1d, hawc_points, crab_reference):
    start = dict(alpha=2.5, beta=0.1, amplitude=3e-11, reference=1.0)
    lp = "LogParabolaSpectralModel"
    fp = flux_points_dataset(hawc_points, name="hawc")
    r_h = xg.fit(hess_crab_1d, spectral_model(lp, **start))
    r_f = xg.fit(fp, spectral_model(lp, **start))
    r_j = xg.fit([hess_crab_1d, fp], Models([SkyModel("crab", spectral_model(lp, **start))]))
    assert r_h.success and r_f.success and r_j.success
    ph, pf, pj = (r.models[0].spectral.parameters for r in (r_h, r_f, r_j))
    # the joint likelihood is the sum of the two terms at the joint optimum
    np.testing.assert_allclose(r_j.stat_sum, stat_sum(hess_crab_1d, r_j.models) + stat_sum(fp, r_j.models), rtol=1e-8)
    # both data sets constrain the 1 TeV flux; the joint fit is tighter than either
    for name in ("alpha", "amplitude"):
        assert pj[name].error < min(ph[name].error, pf[name].error)
    # sensible Crab values: 1 TeV flux 3.5-4.0e-11 (H.E.S.S. 2006: 3.76e-11), alpha 2.4-2.6
    assert 3.3e-11 < pj["amplitude"].value < 4.1e-11
    assert 2.4 < pj["alpha"].value < 2.6
    assert 0.05 < pj["beta"].value < 0.15
    # each instrument's statistic rises by a modest amount from its own optimum (no tension)
    assert stat_sum(hess_crab_1d, r_j.models) - r_h.stat_sum < 10
    assert stat_sum(fp, r_j.models) - r_f.stat_sum < 10


def test_model_restricted_to_other_dataset_is_not_fitted(hawc_points):
    m = Models([SkyModel("a", spectral_model("pl", index=2.5, amplitude=1e-13, reference=E0)),
                SkyModel("b", spectral_model("pl"), datasets_names=["other"])])
    res = xg.fit(flux_points_dataset(hawc_points, name="hawc"), m)
    assert [str(p) for p in res.result.param.values] == ["a.spectral.index", "a.spectral.amplitude"]


def test_bad_inputs_one_line_errors(hawc_points):
    no_err = hawc_points.drop_vars(["norm_err"])
    with pytest.raises(ConventionError, match="'hawc'.*norm_err") as exc:
        xg.fit(no_err.assign_attrs(name="hawc"), spectral_model("pl"))
    assert "\n" not in str(exc.value)
    with pytest.raises(ConventionError, match="stat_scan"):
        flux_points_dataset(hawc_points, stat="profile")
    with pytest.raises(ValueError, match="unknown stat"):
        flux_points_dataset(hawc_points, stat="cash")
    with pytest.raises(ConventionError, match="mask_fit has shape"):
        flux_points_dataset(hawc_points, mask_fit=[True, False])
    lc = hawc_points.expand_dims(time=2)
    with pytest.raises(ConventionError, match="light curve"):
        flux_points_dataset(lc)
    with pytest.raises(NotImplementedError, match="flux-point"):
        xg.fit(flux_points_dataset(hawc_points, name="fp"), spectral_model("pl"), energy_scale={"fp": 0.1})


def test_eager_and_dask_inputs_agree(hawc_points):
    pytest.importorskip("dask")
    start = spectral_model("pl", index=2.5, amplitude=1e-13, reference=E0)
    a = xg.fit(hawc_points, start)
    b = xg.fit(hawc_points.chunk({"energy": 5}), start)
    xr.testing.assert_allclose(a.result["value"], b.result["value"], rtol=1e-10)


def test_terms_object_is_plain_numpy():
    m = spectral_model("pl", index=2.0, amplitude=1e-12)
    t = FluxPointTerms("fp", "chi2", np.array([1.0]), np.array([1e-12]), np.array([1e-13]), np.array([1e-13]),
                       signal=[(m, slice(0, 3))])
    assert t.stat(np.array([2.0, 1e-12, 1.0])) == 0.0
