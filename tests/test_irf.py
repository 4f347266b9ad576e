"""Tests of xgamma.irf: IRF evaluation against the H.E.S.S. DL3 DR1 reference values and
analytic cases (Gaussian / King PSFs, Gaussian energy dispersion), numpy and dask alike."""

from __future__ import annotations

import json

import astropy.units as u
import numpy as np
import pytest
import xarray as xr
from scipy.special import erf

import xgamma as xg
from xgamma import irf
from xgamma.errors import ConventionError


@pytest.fixture(scope="module")
def hess_ref(data):
    p = data.parent / "reference" / "hess_dl3_dr1.json"
    if not p.is_file():
        pytest.skip("reference numbers not found")
    return json.loads(p.read_text())["observations"]


@pytest.fixture(scope="module")
def hess_obs(data):
    return xg.open_store(data / "hess-dl3-dr1").observation(23523).load()


def _params(sigmas, ampls):
    e = xg.axis_from_edges([0.1, 100.0], "energy_true", unit="TeV")
    o = xg.axis_from_edges([0.0, 2.0], "offset", unit="deg", interp="lin")
    dims = ("energy_true", "offset")
    v = {"scale": 1.0, "sigma_1": sigmas[0], "ampl_2": ampls[0], "sigma_2": sigmas[1],
         "ampl_3": ampls[1], "sigma_3": sigmas[2]}
    return xr.Dataset({k: (dims, np.full((1, 1), x)) for k, x in v.items()},
                      coords={**e.coords, **o.coords}, attrs={"psf_class": "PSF_3GAUSS"})


# ---------------------------------------------------------------------------------------------
# reference values (hess_dl3_dr1.json, an established reader)
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("obs_id", ["23523", "33787", "47802"])
def test_hess_reference_values(data, hess_ref, obs_id):
    r = hess_ref[obs_id]
    obs = xg.open_store(data / "hess-dl3-dr1").observation(int(obs_id))
    # values at grid nodes agree exactly; between nodes within 1 % (interpolation scheme)
    assert float(irf.aeff_at(obs.aeff, 1.0, 0.5)) / 1e4 == pytest.approx(r["aeff_m2_at_1TeV_0.5deg"], rel=1e-3)
    assert float(irf.aeff_at(obs.aeff, 10.0, 1.0)) / 1e4 == pytest.approx(r["aeff_m2_at_10TeV_1.0deg"], rel=1e-3)
    assert float(irf.edisp_at(obs.edisp, 1.0, 1.0, 0.5)) == pytest.approx(
        r["edisp_pdf_at_1TeV_migra1_0.5deg"], rel=1e-3)
    r68 = float(irf.psf_containment_radius(obs.psf, 1.0, 0.5, 0.68))
    assert r68 == pytest.approx(r["psf_containment_radius_68_deg_at_1TeV_0.5deg"], rel=0.01)
    # background in 1/(MeV s sr) there, s-1 TeV-1 sr-1 here
    b = float(irf.bkg_at(obs.bkg, 1.0, fov_lon=0.0, fov_lat=0.0)) / 1e6
    assert b == pytest.approx(r["bkg_at_1TeV_fov_0_0"], rel=1e-3)


def test_hess_psf_normalised(hess_obs):
    integ = float(irf.psf_integral(irf.evaluate(hess_obs.psf, energy_true=1.0, offset=0.5)))
    assert integ == pytest.approx(1.0, abs=0.01)
    c = irf.psf_containment(hess_obs.psf, [0.05, 0.1226, 0.5], 1.0, 0.5)
    assert c.dims == ("rad",) and np.all(np.diff(c.values) > 0)
    assert float(c[1]) == pytest.approx(0.68, abs=0.005)


# ---------------------------------------------------------------------------------------------
# analytic PSFs
# ---------------------------------------------------------------------------------------------


def test_triple_gauss_containment():
    s, a = (0.05, 0.1, 0.3), (0.5, 0.1)
    p = irf.psf_from_params(_params(s, a))
    xg.conventions.validate(p, "psf")
    w = np.array([1.0, *a]) * np.array(s) ** 2
    w /= w.sum()

    def exact(r):
        return float(np.sum(w * (1 - np.exp(-(r**2) / (2 * np.array(s) ** 2)))))

    assert float(irf.psf_integral(p).squeeze()) == pytest.approx(1.0, abs=1e-4)
    for r in (0.03, 0.1, 0.4, 1.0):
        assert float(irf.psf_containment(p, r).squeeze()) == pytest.approx(exact(r), abs=1e-3)
    r68 = float(irf.psf_containment_radius(p, fraction=0.68).squeeze())
    assert exact(r68) == pytest.approx(0.68, abs=1e-3)
    # the PSF is a density per steradian: the centre value of the mixture
    centre = float(np.sum(w / (2 * np.pi * np.array(s) ** 2))) / (np.pi / 180) ** 2
    assert float(irf.psf_at(p, 1.0, 0.5, 0.0)) == pytest.approx(centre, rel=1e-3)


def test_containment_radius_unreachable_is_nan():
    p = irf.psf_from_params(_params((0.3, 0, 0), (0, 0)), rad=xg.linear_axis(0, 0.2, 20, unit="deg", name="rad"))
    assert np.isnan(float(irf.psf_containment_radius(p, fraction=0.9).squeeze()))


# ---------------------------------------------------------------------------------------------
# interpolation scheme
# ---------------------------------------------------------------------------------------------


def _bkg2d():
    e = xg.energy_axis(1, 100, 2)
    o = xg.linear_axis(0, 2, 2, unit="deg", name="offset")
    return xr.DataArray([[1e-2, 1e-3], [1e-6, 1e-7]], dims=("energy", "offset"),
                        coords={**e.coords, **o.coords}, attrs={"units": "s-1 TeV-1 sr-1", "irf": "bkg"})


def test_evaluate_scheme():
    b = _bkg2d()
    # log of the value, linear in log(energy): the geometric mean between the nodes
    assert float(irf.evaluate(b, energy=10.0, offset=0.5)) == pytest.approx(1e-4, rel=1e-9)
    # linear in offset (of the log value) between the nodes 0.5 and 1.5
    assert float(irf.evaluate(b, energy=np.sqrt(10), offset=1.0)) == pytest.approx(np.sqrt(1e-2 * 1e-3))
    # between the outer node and the outer edge: extrapolated; beyond the edges: 0
    assert float(irf.evaluate(b, energy=np.sqrt(10), offset=0.0)) == pytest.approx(10**-1.5)
    assert float(irf.evaluate(b, energy=np.sqrt(10), offset=2.01)) == 0.0
    assert float(irf.evaluate(b, energy=0.9, offset=0.5)) == 0.0
    # BKG_2D from FoV coordinates; Quantity and string coordinates
    assert float(irf.bkg_at(b, 10.0, fov_lon=0.3, fov_lat=0.4)) == pytest.approx(
        float(irf.evaluate(b, energy=10.0, offset=0.5)))
    assert float(irf.evaluate(b, energy=10 * u.TeV, offset="30 arcmin")) == pytest.approx(1e-4)
    with pytest.raises(ConventionError):
        irf.evaluate(b, energy_true=1.0)
    with pytest.raises(ConventionError):
        irf.bkg_at(b, 1.0)


def test_evaluate_broadcasting(hess_obs):
    off = xr.DataArray(np.array([[0.0, 0.5], [1.0, 1.5]]), dims=("y", "x"))
    e = xg.energy_axis(0.5, 50, 4, name="energy_true")
    out = irf.aeff_at(hess_obs.aeff, e, off)
    assert out.dims == ("energy_true", "y", "x") and out.shape == (4, 2, 2)
    ref = [[float(irf.aeff_at(hess_obs.aeff, float(ei), float(oi))) for oi in off.values.ravel()]
           for ei in e.values]
    assert np.allclose(out.values.reshape(4, 4), ref, rtol=1e-12)
    assert "energy_true_min" in out.coords  # the axis' edges travel with the result
    e_gev = xg.energy_axis(500, 50000, 4, unit="GeV", name="energy_true")
    assert np.allclose(irf.aeff_at(hess_obs.aeff, e_gev, off).values, out.values, rtol=1e-12)


def test_single_offset_bin(data):
    """MAGIC point-like IRFs have one offset bin, [0.39, 0.41] deg: constant inside, 0 outside."""
    obs = xg.open_store(data / "magic/rad_max/data").observation(5029747)
    a = obs.aeff
    out = irf.aeff_at(a, [0.5, 1.0, 2.0], np.array([0.2, 0.4, 0.405, 3.0]))
    assert out.dims == ("energy_true", "offset") and out.shape == (3, 4)
    assert np.all(out.values[:, [0, 3]] == 0)
    assert np.array_equal(out.values[:, 1], out.values[:, 2])
    # on the energy nodes the table values come back
    e = a.energy_true.values[10:13]
    assert np.allclose(irf.aeff_at(a, e, 0.4).values, a.values[10:13, 0], rtol=1e-12)


def test_dask_matches_numpy(hess_obs):
    off = xr.DataArray(np.linspace(0, 2, 8), dims="obs")
    e = xg.energy_axis(0.5, 50, 6, name="energy_true")
    eager = irf.aeff_at(hess_obs.aeff, e, off)
    lazy = irf.aeff_at(hess_obs.aeff.chunk(), e, off.chunk({"obs": 4}))
    assert np.array_equal(eager.values, lazy.compute().values)
    b_eager = irf.bkg_at(hess_obs.bkg, 1.0, fov_lon=off, fov_lat=0.3)
    b_lazy = irf.bkg_at(hess_obs.bkg, 1.0, fov_lon=off.chunk({"obs": 4}), fov_lat=0.3)
    assert np.allclose(b_eager.values, b_lazy.compute().values, rtol=1e-12)
    rm = xr.DataArray([0.05, 0.1, 0.2, 0.3], dims="obs")
    c_eager = irf.psf_containment(hess_obs.psf, rm, 1.0, 0.5)
    c_lazy = irf.psf_containment(hess_obs.psf.chunk(), rm.chunk({"obs": 2}), 1.0, 0.5)
    assert np.allclose(c_eager.values, c_lazy.compute().values, rtol=1e-12)
    m_eager = irf.edisp_matrix(hess_obs.edisp, e, xg.energy_axis(0.3, 80, 5), off)
    m_lazy = irf.edisp_matrix(hess_obs.edisp, e, xg.energy_axis(0.3, 80, 5), off.chunk({"obs": 4}))
    assert m_eager.dims == ("energy_true", "energy", "obs")
    assert np.allclose(m_eager.values, m_lazy.compute().values, rtol=1e-12)


# ---------------------------------------------------------------------------------------------
# energy dispersion matrix
# ---------------------------------------------------------------------------------------------


def _gauss_edisp(sigma=0.1, bias=0.0):
    et = xg.energy_axis(0.1, 100, 30, name="energy_true")
    m = xg.linear_axis(0.2, 2.0, 180, name="migra")
    o = xg.linear_axis(0, 2, 1, unit="deg", name="offset")
    lo, hi = m.migra_min.values, m.migra_max.values
    s = np.sqrt(2) * sigma
    pdf = (erf((hi - 1 - bias) / s) - erf((lo - 1 - bias) / s)) / 2 / (hi - lo)
    data = np.broadcast_to(pdf[None, :, None], (30, 180, 1)).copy()
    return xr.DataArray(data, dims=("energy_true", "migra", "offset"),
                        coords={**et.coords, **m.coords, **o.coords}, attrs={"irf": "edisp", "units": ""})


def test_edisp_matrix_gaussian():
    sigma, bias = 0.1, 0.05
    ed = _gauss_edisp(sigma, bias)
    et = xg.energy_axis(0.3, 30, 8, name="energy_true")
    ereco = xg.energy_axis(0.1, 100, 24)
    mat = irf.edisp_matrix(ed, et, ereco, offset=0.5)
    xg.conventions.validate(mat)
    assert mat.dims == ("energy_true", "energy") and mat.shape == (8, 24)
    assert np.array_equal(mat.energy_true_min.values, et.energy_true_min.values)
    edges = xg.axes.edges(ereco)
    s = np.sqrt(2) * sigma
    for i, etrue in enumerate(et.values):
        cdf = 0.5 * (1 + erf((edges / etrue - 1 - bias) / s))
        assert np.allclose(mat.values[i], np.diff(cdf), atol=2e-3)
    assert np.all(mat.sum("energy").values <= 1 + 1e-12)
    assert np.allclose(mat.sum("energy").values, 1.0, atol=1e-6)


def test_edisp_matrix_hess(hess_obs):
    et = xg.energy_axis(0.1, 100, 30, name="energy_true")
    ereco = xg.energy_axis(0.01, 1000, 50)
    mat = irf.edisp_matrix(hess_obs.edisp, et, ereco, offset=0.5)
    rows = mat.sum("energy").values
    assert np.all(rows <= 1 + 1e-12)
    # well inside both ranges, all events are reconstructed somewhere
    mid = (et.values > 1) & (et.values < 30)
    assert np.allclose(rows[mid], 1.0, atol=0.02)
    # the matrix peaks near the diagonal
    i = int(np.argmin(abs(et.values - 3)))
    assert abs(np.log10(ereco.values[int(mat[i].argmax("energy"))] / 3)) < 0.15
