"""HAWC pass-4 Crab (issue 12, scopes 2 and 4): reduction per event type (nHit bins 5-9 of the
GP estimator; the files of bins 1-4 are not in the shared data), drift-mode pointing, map-based
IRFs, ``event_type`` summed in the likelihood, stacking keeps event types apart."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import chi2 as chi2_dist

import xgamma as xg
from xgamma.errors import ReductionError, XgammaIOError
from xgamma.fitting.fitter import stat_sum
from xgamma.models import BackgroundModel, Models, SkyModel, spectral_model
from xgamma.models.spatial import spatial_model
from xgamma.reduction.hawc import (
    hawc_event_types,
    hawc_store,
    hawc_transits,
    reduce_hawc,
    reduce_hawc_event_types,
)

TYPES = [5, 6, 7, 8, 9]
CRAB = (83.633, 22.014)


@pytest.fixture(scope="module")
def hawc_dir(data_path):
    return data_path / "hawc/crab_events_pass4"


@pytest.fixture(scope="module")
def geom():
    return xg.wcs_geom((83.63, 22.0), width=3.0, binsz=0.1, axes=[xg.energy_axis(1, 316, 10)])


@pytest.fixture(scope="module")
def crab(hawc_dir, geom):
    return reduce_hawc_event_types(hawc_dir, geom, TYPES)


def crab_models(name: str = "hawc") -> Models:
    sp = spatial_model("point", frame="icrs", lon_0=CRAB[0], lat_0=CRAB[1])
    lp = spectral_model("lp", alpha=2.7, beta=0.1, amplitude=2e-13, reference=7.0)
    return Models([SkyModel("crab", lp, spatial=sp), BackgroundModel((name,))])


def test_event_types_and_drift_pointing(hawc_dir):
    assert hawc_event_types(hawc_dir) == list(range(1, 10))
    obs = hawc_store(hawc_dir, 7).observation(103000133)
    assert obs.pointing.mode == "drift"  # no (ra, dec): xg.reduce fails, reduce_hawc does not need one
    with pytest.raises(XgammaIOError, match="event type 12"):
        hawc_store(hawc_dir, 12)


def test_index_pointing_at_absent_files_one_line_error(hawc_dir, geom):
    obs = hawc_store(hawc_dir, 1).observation(103000133)  # the index names fHitbin1 files: absent
    with pytest.raises(XgammaIOError, match=r"crab_events_pass4/\S+_fHitbin1GP.fits.gz: file not found") as exc:
        reduce_hawc(obs, geom)
    assert "\n" not in str(exc.value)
    with pytest.raises(XgammaIOError, match="fHitbin2GP"):
        reduce_hawc_event_types(hawc_dir, geom, [2, 5])
    with pytest.raises(ReductionError, match=r"event types must be distinct.*\[5, 5\]"):
        reduce_hawc_event_types(hawc_dir, geom, [5, 5])


def test_reduction_per_event_type(crab, hawc_dir, geom):
    assert crab.sizes["event_type"] == 5 and crab.event_type.values.tolist() == TYPES
    xg.conventions.validate(crab, "map")
    for k, et in enumerate(TYPES):
        obs = hawc_store(hawc_dir, et).observation(103000133)
        ev = obs.events
        # counts: a direct histogram of the events in the map
        # (plate carree: the map spans ra 83.63 +- 1.5, dec 22.0 +- 1.5)
        inside = ((ev.energy >= 1) & (ev.energy < 316) & (np.abs(ev.ra - 83.63) < 1.5) & (np.abs(ev.dec - 22.0) < 1.5))
        assert int(crab.counts.isel(event_type=k).sum()) == int(inside.sum())
        # exposure: per-transit map x livetime / sidereal day, at the map centre (grid pixel centre)
        n_tr = hawc_transits(obs.livetime)
        assert float(crab.transits[k]) == pytest.approx(n_tr) and 56 < n_tr < 57
        centre = crab.exposure.isel(event_type=k).interp(y=14.5, x=14.5)
        a = obs.aeff.interp(y=4.5, x=4.5).sel(energy_true=crab.energy_true)
        np.testing.assert_allclose(centre.values, a.values * n_tr, rtol=0.02)
        # background: the rate per sr at a pixel centre equals that of the per-transit map's
        # pixel there (a 0.1 deg map on its own oblique CAR grid, ours is plate carree) x transits
        j, i = 10, 17
        ra, dec = float(crab.ra[j, i]), float(crab.dec[j, i])
        w = xg.sky.wcs_from_header(obs.bkg.attrs["wcs"])
        px, py = (float(v) for v in w.world_to_pixel_values(ra, dec))
        bgeom = xg.sky.geom_from_wcs(w, (obs.bkg.sizes["y"], obs.bkg.sizes["x"]))
        near = obs.bkg.isel(y=round(py), x=round(px)).values / float(
            xg.sky.solid_angle(bgeom).isel(y=round(py), x=round(px)))
        ours = crab.background.isel(event_type=k, y=j, x=i).values / float(xg.sky.solid_angle(crab).isel(y=j, x=i))
        sel = near > 0
        np.testing.assert_allclose(ours[sel], near[sel] * n_tr, rtol=0.1)  # bilinear vs nearest pixel


def test_event_types_summed_in_likelihood(crab):
    m = crab_models()
    per_type = sum(stat_sum(crab.isel(event_type=k), m) for k in range(len(TYPES)))
    assert stat_sum(crab, m) == pytest.approx(per_type, rel=1e-10)


def test_stacking_keeps_event_types_apart(crab):
    two = xg.concat_obs([crab.assign_attrs(obs_id=1), crab.assign_attrs(obs_id=2)])
    st = xg.stack(two)
    assert st.sizes["event_type"] == 5
    np.testing.assert_allclose(st.counts.values, 2 * crab.counts.where(crab.mask_safe, 0).values)
    np.testing.assert_allclose(st.background.values, 2 * crab.background.where(crab.mask_safe, 0).values, rtol=1e-10)
    assert float(st.exposure.max()) == pytest.approx(2 * float(crab.exposure.max()), rel=1e-10)
    # asked for: the event types summed into one dataset (livetime unchanged: they share it)
    summed = xg.stack(two, event_types="sum")
    assert "event_type" not in summed.dims
    np.testing.assert_allclose(summed.counts.values, st.counts.sum("event_type").values)
    np.testing.assert_allclose(summed.exposure.values,
                               2 * crab.exposure.where(crab.mask_safe.any("energy"), 0).sum("event_type").values,
                               rtol=1e-10)
    assert summed.attrs["livetime"] == pytest.approx(st.attrs["livetime"], rel=1e-12)
    with pytest.raises(xg.errors.GeometryError, match="different event types"):
        xg.stack([crab.assign_attrs(obs_id=1), crab.isel(event_type=[0, 1]).assign_attrs(obs_id=2)])


def test_joint_fit_over_event_types_vs_hawc_flux_points(crab, data_path):
    res = xg.fit(crab, crab_models())
    assert res.success
    sp = res.models["crab"].spatial.parameters
    assert xg.sky.separation_deg(sp["lon_0"].value, sp["lat_0"].value, *CRAB) < 0.03
    # compare with HAWC's published points (Abeysekara et al. 2017; hawc/crab_flux): chi2 of the
    # points against the fitted spectrum, with the fit's uncertainty (covariance) on the model
    fp = xg.read_sed(data_path / "hawc/crab_flux/HAWC19_flux_points.fits")
    det = ~fp.is_ul.values
    e = fp.energy.values[det]
    dnde = (fp.norm * fp.ref_dnde).values[det]
    err = (fp.norm_err * fp.ref_dnde).values[det]
    spec = res.models["crab"].spectral
    model = spec.evaluate_values(e, list(spec.parameters.values))
    # model uncertainty from the fit covariance, propagated numerically
    cov = res.result["covariance"].values[:3, :3]
    names = [str(n) for n in res.result.param.values[:3]]
    assert names == ["crab.spectral.amplitude", "crab.spectral.alpha", "crab.spectral.beta"]
    base = np.array([spec.parameters[n.split(".")[-1]].value for n in names])
    grads = []
    for i in range(3):
        v = base.copy()
        h = 1e-4 * abs(base[i]) + 1e-8
        v[i] += h
        vals = dict(zip(["amplitude", "alpha", "beta"], v, strict=True))
        grads.append((spec.evaluate_values(e, [vals.get(n, p) for n, p in zip(
            spec.parameters.names, spec.parameters.values, strict=True)]) - model) / h)
    gmat = np.array(grads).T
    # the model errors are correlated between points: use the full covariance
    cmat = np.diag(err**2) + gmat @ cov @ gmat.T
    resid = dnde - model
    chi2 = float(resid @ np.linalg.solve(cmat, resid))
    ndf = int(det.sum())
    print(f"HAWC points vs fit: chi2 = {chi2:.2f} for {ndf} points, p = {chi2_dist.sf(chi2, ndf):.3f}")
    assert chi2_dist.sf(chi2, ndf) > 0.01, (chi2, ndf)
    # and the other way round: HAWC's published log parabola (2.35e-13 at 7 TeV, alpha 2.79, beta 0.10)
    # is within the statistical reach of these data
    p = res.models["crab"].spectral.parameters
    assert abs(p["amplitude"].value - 2.35e-13) < 3 * p["amplitude"].error
