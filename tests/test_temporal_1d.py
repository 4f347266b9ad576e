"""1D (spectrum) predictions and fits scale a sky model by its temporal model's mean over the GTI,
as the 3D fold does (Gammapy's temporal-model semantics): analytic checks and a fit."""

import warnings

import numpy as np
import pytest

import xgamma as xg
from xgamma import testing
from xgamma.fitting.fold import example_dataset, fake, npred, npred_signal, temporal_norm
from xgamma.fitting.fold_map import npred_map
from xgamma.models import Models, SkyModel, spatial_model, spectral_model, temporal_model
from xgamma.models.temporal import lightcurve_template_model
from xgamma.obs import concat_obs

DAY = 86400.0


def _ds(tstart=0.0, tstop=DAY, **kw):
    return example_dataset(**kw).assign_attrs(mjdref=55000.0, tstart=tstart, tstop=tstop)


def _sky(temporal=None, amplitude=4e-11):
    return SkyModel("src", spectral_model("pl", index=2.6, amplitude=amplitude), temporal=temporal)


def test_1d_npred_scales_with_mean_over_gti():
    ds = _ds()
    plain = npred_signal(ds, spectral_model("pl", index=2.6, amplitude=4e-11))
    bkg_free = ds.drop_vars(["counts_off", "acceptance", "acceptance_off"])
    # a constant temporal model changes nothing
    np.testing.assert_allclose(npred(bkg_free, Models([_sky(temporal_model("const"))])).values, plain.values,
                               rtol=1e-12)
    # a light curve at half the flux during the whole GTI halves npred
    half = lightcurve_template_model([54999.0, 55002.0], [0.5, 0.5])
    np.testing.assert_allclose(npred(bkg_free, Models([_sky(half)])).values, 0.5 * plain.values, rtol=1e-12)
    # a ramp 1 + (t - 55000 d) / d over [0, 1] d: mean 1.5; over the second half day: 1.75
    ramp = temporal_model("linear", alpha=1.0, beta=1.0, t_ref=55000.0)
    np.testing.assert_allclose(npred(bkg_free, Models([_sky(ramp)])).values, 1.5 * plain.values, rtol=1e-12)
    # per observation along obs: each its own GTI
    two = concat_obs([_ds(0.0, DAY / 2).assign_attrs(obs_id=1, name="a"),
                      _ds(DAY / 2, DAY).assign_attrs(obs_id=2, name="b")])
    np.testing.assert_allclose(temporal_norm(two, ramp), [1.25, 1.75], rtol=1e-12)
    got = npred(two.drop_vars(["counts_off", "acceptance", "acceptance_off"]), Models([_sky(ramp)]))
    np.testing.assert_allclose(got.values, np.outer([1.25, 1.75], plain.values), rtol=1e-12)
    # fake draws from the same expectation
    n = [float(fake(bkg_free, Models([_sky(half, 4e-9)]), seed=s).counts.sum()) for s in range(3)]
    assert np.mean(n) == pytest.approx(0.5 * 100 * float(plain.sum()), rel=0.01)


def test_1d_fit_with_temporal_model_matches_3d_semantics():
    ds = _ds()
    half = lightcurve_template_model([54999.0, 55002.0], [0.5, 0.5])
    truth = Models([_sky(half, 4e-11)])
    data = fake(ds, truth, seed=3)
    # the fit with the light curve attached recovers the full amplitude; without it, half
    with_lc = xg.fit(data, Models([_sky(lightcurve_template_model([54999.0, 55002.0], [0.5, 0.5]), 2e-11)]))
    plain = xg.fit(data, Models([_sky(None, 2e-11)]))
    a_lc = with_lc.models["src"].spectral.parameters["amplitude"]
    a_pl = plain.models["src"].spectral.parameters["amplitude"]
    assert with_lc.success and plain.success
    assert a_lc.value == pytest.approx(2 * a_pl.value, rel=1e-4)
    assert abs(a_lc.value - 4e-11) < 3 * a_lc.error
    # a dataset without GTI: the temporal model is ignored, with a warning (as in 3D)
    with pytest.warns(UserWarning, match="no GTI"):
        res = xg.fit(example_dataset(), Models([_sky(temporal_model("linear", alpha=0.5), 2e-11)]))
    assert res.models["src"].spectral.parameters["amplitude"].value == pytest.approx(4e-11, rel=0.02)


def test_3d_npred_scales_with_mean_over_gti():
    ds = testing.make_map_dataset(np.zeros((2, 11, 11)), 0.0, binsz=0.05).assign_attrs(
        mjdref=55000.0, tstart=0.0, tstop=DAY, name="m")
    spec = spectral_model("pl", index=2.0, amplitude=1e-12)
    sp = spatial_model("point", lon_0=83.633, lat_0=22.014)
    plain = npred_map(ds, Models([SkyModel("s", spec, sp)]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        half = npred_map(ds, Models([SkyModel("s", spec, sp, lightcurve_template_model([54999.0, 55002.0],
                                                                                          [0.5, 0.5]))]))
    assert float(plain.sum()) > 0
    np.testing.assert_allclose(half.values, 0.5 * plain.values, rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("backend", ["minuit", "scipy"])
def test_flare_time_reference_fit_converges(backend):
    """A Gaussian flare (t_ref free, near MJD 55000): the time reference is fitted offset by its
    start value in steps of TIME_REF_SCALE d, not scaled by 1e4 d (with that scaling MIGRAD's first
    step jumped ~500 d and this fit ended invalid at MJD 54997)."""
    n, dt = 48, DAY / 48
    runs = [example_dataset(livetime=0.9 * dt).assign_attrs(mjdref=55000.0, tstart=i * dt, tstop=i * dt + 0.9 * dt,
                                                           obs_id=i + 1, name=f"r{i}") for i in range(n)]
    ds = concat_obs(runs)
    truth = Models([_sky(temporal_model("gauss", t_ref=55000.4, sigma=0.02), 1e-10)])
    data = fake(ds, truth, seed=2)
    # scipy's BFGS (unbounded) needs a start near the peak and flags precision loss; its errors
    # come from a numerical Hessian whose steps are now ~1e-7 d (they were ~55 d: error 0.6 d)
    t_start = 55000.3 if backend == "minuit" else 55000.38
    start = Models([_sky(temporal_model("gauss", t_ref=t_start, sigma=0.03), 5e-11)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        res = xg.fit(data, start, backend=backend)
    assert res.success or backend == "scipy"
    p = res.models["src"].temporal.parameters
    assert abs(p["t_ref"].value - 55000.4) < 3 * p["t_ref"].error
    assert abs(p["sigma"].value - 0.02) < 3 * p["sigma"].error
    assert 1e-4 < p["t_ref"].error < 1e-3 and 1e-4 < p["sigma"].error < 1e-3  # ~35 s and ~25 s
    amp = res.models["src"].spectral.parameters["amplitude"]
    assert abs(amp.value - 1e-10) < 3 * amp.error
    if backend == "minuit":
        assert res.nfev < 600
