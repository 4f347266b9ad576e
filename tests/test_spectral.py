"""Spectral models: one contract test over the whole registry, plus analytic values."""

from __future__ import annotations

import math
import warnings

import astropy.units as u
import dask.array as da
import numpy as np
import pytest
import xarray as xr
import yaml
from scipy.integrate import quad

from xgamma.models import registry
from xgamma.models.params import Parameter
from xgamma.models.spectral import (
    FLUX_UNIT,
    CompoundSpectralModel,
    ScaleSpectralModel,
    example_spectral_model,
    spectral_from_dict,
    spectral_model,
)
from xgamma.models.spectral_tables import ebl_absorption, piecewise_norm_model, template_model

SPECTRAL = registry.names("spectral")
EDGES = np.geomspace(0.1, 100, 31)


@pytest.fixture(scope="module")
def models():
    """One example instance per registered type (None where shared data is missing)."""
    out = {}
    for name in SPECTRAL:
        try:
            out[name] = example_spectral_model(name)
        except (FileNotFoundError, ImportError):  # shared data or an optional package absent
            out[name] = None
    return out


def _get(models, name):
    m = models[name]
    if m is None:
        pytest.skip("shared data (EBL tables) or an optional package (naima) not found")
    return m


def _quad(f, a, b, nodes=()):
    """Adaptive quadrature, split at the model's kinks."""
    cuts = [a, *sorted(x for x in np.unique(nodes) if a < x < b), b]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return sum(quad(f, x0, x1, epsrel=1e-11, epsabs=0, limit=200)[0] for x0, x1 in zip(cuts[:-1], cuts[1:], strict=True))


# --- the contract, for every registered spectral model --------------------------------------


def test_registry_lists_gammapy_names_and_aliases():
    for tag, alias in [("PowerLawSpectralModel", "pl"), ("PowerLawSpectralModel", "PowerLaw"),
                       ("LogParabolaSpectralModel", "lp"), ("LogParabola10SpectralModel", "LogParabola10"),
                       ("ExpCutoffPowerLawSpectralModel", "ecpl"), ("EBLAbsorptionNormSpectralModel", "ebl-norm"),
                       ("SuperExpCutoffPowerLaw4FGLDR3SpectralModel", "secpl-4fgl-dr3"),
                       ("PowerLaw2SpectralModel", "pl-2"), ("PiecewiseNormSpectralModel", "piecewise-norm")]:
        assert registry.get_spec(alias, "spectral").tag == tag
    assert len(SPECTRAL) >= 20
    with pytest.raises(KeyError, match="known"):
        registry.get_spec("NoSuchSpectralModel", "spectral")


@pytest.mark.parametrize("name", SPECTRAL)
def test_contract_broadcasting(models, name):
    m = _get(models, name)
    e = np.geomspace(0.2, 50, 10).reshape(2, 5)
    ref = np.asarray(m(e))
    assert ref.shape == (2, 5) and np.all(np.isfinite(ref))
    ed = xr.DataArray(e, dims=("obs", "energy"), coords={"obs": [1, 2]})
    out = m(ed)
    assert out.dims == ("obs", "energy") and list(out.obs.values) == [1, 2]
    assert out.attrs["units"] == m.unit
    np.testing.assert_allclose(out.values, ref, rtol=1e-13)
    # a parameter given as a DataArray broadcasts along its own dim
    if len(m.parameters):
        p = m.parameters[0]
        vals = xr.DataArray([p.value, p.value * 1.1 + 0.01], dims="sample")
        b = m(ed, **{p.name: vals})
        assert set(b.dims) == {"obs", "energy", "sample"}
        alt = m.with_parameters(m.parameters.with_values({p.name: float(vals[1])}))
        np.testing.assert_allclose(b.isel(sample=1).transpose("obs", "energy").values, np.asarray(alt(e)), rtol=1e-12)


@pytest.mark.parametrize("name", SPECTRAL)
def test_contract_dask_lazy(models, name):
    m = _get(models, name)
    e = np.geomspace(0.2, 50, 12)
    lazy = xr.DataArray(e, dims="energy").chunk({"energy": 4})
    out = m(lazy)
    assert out.chunks is not None  # still lazy
    np.testing.assert_allclose(out.compute().values, np.asarray(m(e)), rtol=1e-13)
    raw = m(da.from_array(e, chunks=5))
    assert isinstance(raw, da.Array)
    np.testing.assert_allclose(raw.compute(), np.asarray(m(e)), rtol=1e-13)
    lo = xr.DataArray(EDGES[:-1], dims="energy").chunk({"energy": 10})
    hi = xr.DataArray(EDGES[1:], dims="energy").chunk({"energy": 10})
    integ = m.integral(lo, hi)
    assert integ.chunks is not None
    np.testing.assert_allclose(integ.values, np.asarray(m.integral(EDGES[:-1], EDGES[1:])), rtol=1e-12)


@pytest.mark.parametrize("name", SPECTRAL)
def test_contract_yaml_round_trip(models, name):
    m = _get(models, name)
    text = yaml.safe_dump(m.to_dict(), sort_keys=False)
    back = spectral_from_dict(yaml.safe_load(text))
    assert back.type == m.type
    assert back.parameters == m.parameters
    e = np.geomspace(0.2, 50, 7)
    np.testing.assert_allclose(np.asarray(back(e)), np.asarray(m(e)), rtol=1e-12)
    full = spectral_from_dict(yaml.safe_load(yaml.safe_dump(m.to_dict(full=True))))
    assert full.parameters == m.parameters


# (naima: its adaptive-quadrature reference takes 30 s at 25 ms a call; see test_model_zoo.py)
@pytest.mark.parametrize("name", [n for n in SPECTRAL if n != "NaimaSpectralModel"])
def test_contract_integrals(models, name):
    m = _get(models, name)
    lo, hi = EDGES[:-1], EDGES[1:]
    integ = np.asarray(m.integral(lo, hi))
    eflux = np.asarray(m.energy_flux(lo, hi))
    kinks = m.nodes(list(m.parameters.values))  # table nodes, breaks
    nodes = np.asarray([] if kinks is None else kinks)
    vals = list(m.parameters.values)
    f = lambda x: float(m.evaluate_values(np.asarray(x), vals))  # noqa: E731
    q = np.array([_quad(f, a, b, nodes) for a, b in zip(lo, hi, strict=True)])
    qe = np.array([_quad(lambda x: x * f(x), a, b, nodes) for a, b in zip(lo, hi, strict=True)])
    big = q > 1e-6 * q.max()
    assert big.sum() >= 5
    np.testing.assert_allclose(integ[big], q[big], rtol=1e-4)
    np.testing.assert_allclose(integ, q, rtol=0, atol=1e-6 * q.max())
    bige = qe > 1e-6 * qe.max()
    np.testing.assert_allclose(eflux[bige], qe[bige], rtol=1e-4)
    if registry.get_spec(name).integral is not None:  # analytic: agree to high precision
        np.testing.assert_allclose(integ[big], q[big], rtol=1e-8)


@pytest.mark.parametrize("name", SPECTRAL)
def test_contract_finite_gradients(models, name):
    m = _get(models, name)
    e = np.geomspace(0.3, 30, 6)
    vals = m.parameters.values
    for i, p in enumerate(m.parameters):
        for rel in (1e-4, 1e-5):
            h = rel * max(abs(p.value), 1e-3)
            up, dn = vals.copy(), vals.copy()
            up[i] += h
            dn[i] -= h
            g = (m.evaluate_values(e, list(up)) - m.evaluate_values(e, list(dn))) / (2 * h)
            assert np.all(np.isfinite(g)), (p.name, g)
            if rel == 1e-4:
                g1 = g
        scale = np.abs(g1).max()
        if scale > 0:
            np.testing.assert_allclose(g, g1, rtol=1e-3, atol=1e-6 * scale)


# --- analytic values ------------------------------------------------------------------------


def test_power_law_values():
    pl = spectral_model("pl", index=2.5, amplitude="3e-11 cm-2 s-1 TeV-1", reference="1000 GeV")
    assert pl.parameters["reference"].value == 1.0 and pl.parameters["reference"].frozen
    assert float(pl(2.0)) == pytest.approx(3e-11 * 2**-2.5)
    assert float(pl.integral(1, 10)) == pytest.approx(3e-11 / 1.5 * (1 - 10**-1.5))
    assert float(pl.energy_flux(1, 10)) == pytest.approx(3e-11 / 0.5 * (1 - 10**-0.5))
    # index 1 (integral) and 2 (energy flux): logarithms
    assert float(pl.integral(1, math.e, index=1.0)) == pytest.approx(3e-11)
    assert float(pl.energy_flux(1, math.e, index=2.0)) == pytest.approx(3e-11)
    assert pl.unit == FLUX_UNIT and pl.integral(xr.DataArray([1.0]), 2.0).attrs["units"] == "cm-2 s-1"
    pl2 = spectral_model("pl-2", amplitude=1e-12, index=2.3, emin=0.1, emax=100)
    assert float(pl2.integral(0.1, 100)) == pytest.approx(1e-12)
    assert float(pl2.integral(0.1, 100, index=1.0)) == pytest.approx(1e-12)
    assert float(pl2(1.0)) * 1.0 == pytest.approx(float(pl2.integral(1 - 1e-6, 1 + 1e-6)) / 2e-6, rel=1e-6)


def test_log_parabola_flavours():
    e = np.geomspace(0.1, 50, 9)
    lp10 = spectral_model("lp10", amplitude=4e-11, reference=1.0, alpha=2.5, beta=0.4)
    lp = spectral_model("lp", amplitude=4e-11, reference=1.0, alpha=2.5, beta=0.4 / np.log(10))
    np.testing.assert_allclose(np.asarray(lp10(e)), np.asarray(lp(e)), rtol=1e-13)
    assert float(lp10(10.0)) == pytest.approx(4e-11 * 10 ** (-2.9))
    assert spectral_model("lp").parameters["reference"].value == 10.0  # Gammapy default


def test_cutoff_models():
    ecpl = spectral_model("ecpl", index=2.0, amplitude=1e-12, lambda_=0.1)
    assert float(ecpl(10.0)) == pytest.approx(1e-12 * 0.01 * math.exp(-1))
    e3 = spectral_model("ecpl-3fgl", index=2.0, amplitude=1e-12, reference=1.0, ecut=5.0)
    assert float(e3(1.0)) == pytest.approx(1e-12) and float(e3(6.0)) == pytest.approx(1e-12 / 36 * math.exp(-1))
    # 4FGL-DR3: x^(d/b - G) exp(d/b^2 (1 - x^b)); Taylor branch continuous with it
    m = spectral_model("secpl-4fgl-dr3", amplitude=1e-12, reference=1.0, expfactor=0.3, index_1=1.8, index_2=0.6)
    x = 5.0
    full = 1e-12 * x ** (0.3 / 0.6 - 1.8) * math.exp(0.3 / 0.36 * (1 - x**0.6))
    assert float(m(x)) == pytest.approx(full, rel=1e-12)
    edge = math.exp(1e-2 / 0.6)
    left, right = float(m(edge * (1 - 1e-9))), float(m(edge * (1 + 1e-9)))
    assert left == pytest.approx(right, rel=1e-7)
    b0 = spectral_model("secpl-4fgl-dr3", amplitude=1.0, expfactor=0.3, index_1=1.8, index_2=1e-9)
    lnx = math.log(3.0)
    assert float(b0(3.0)) == pytest.approx(3.0 ** (-1.8 - 0.3 / 2 * lnx), rel=1e-6)
    # smooth broken power law: asymptotic slopes index1 / index2
    sb = spectral_model("sbpl", index1=1.5, index2=3.0, ebreak=1.0, beta=1.0)
    slope = lambda e: -math.log(float(sb(e * 1.01)) / float(sb(e))) / math.log(1.01)  # noqa: E731
    assert slope(1e-3) == pytest.approx(1.5, abs=1e-2) and slope(1e3) == pytest.approx(3.0, abs=1e-2)
    bpl = spectral_model("bpl", index1=1.5, index2=3.0, amplitude=1e-12, ebreak=2.0)
    assert float(bpl(2.0 * (1 - 1e-12))) == pytest.approx(float(bpl(2.0)))


def test_gaussian_line():
    g = spectral_model("gauss", amplitude=1e-12, mean=2.0, sigma=0.1)
    assert float(g.integral(0.5, 5.0)) == pytest.approx(1e-12, rel=1e-12)
    assert float(g.energy_flux(0.5, 5.0)) == pytest.approx(2e-12, rel=1e-12)
    assert float(g.integral(2.0, 2.1)) == pytest.approx(1e-12 * 0.3413447460685429, rel=1e-9)


def test_tabulated_models():
    t = template_model([1.0, 10.0, 100.0], [1e-12, 1e-14, 1e-17])
    assert float(t(10.0)) == pytest.approx(1e-14)
    assert float(t(math.sqrt(10))) == pytest.approx(1e-13)  # log-log midpoint
    assert float(t(1000.0)) == pytest.approx(1e-20)  # extrapolated power law
    assert not t.is_norm and template_model([1, 2], [1.0, 2.0], unit="").is_norm
    tq = template_model(u.Quantity([1.0, 10.0], "GeV"), u.Quantity([1e-9, 1e-11], "cm-2 s-1 GeV-1"))
    assert float(tq(0.001)) == pytest.approx(1e-6)
    pw = piecewise_norm_model([1.0, 10.0], [2.0, 8.0])
    assert float(pw(math.sqrt(10))) == pytest.approx(4.0)
    assert float(pw(0.01)) == pytest.approx(2.0) and float(pw(1e3)) == pytest.approx(8.0)  # constant outside
    assert pw.parameters.names == ("norm_0", "norm_1") and pw.is_norm


def test_ebl_absorption(data_path):
    from astropy.io import fits

    m = ebl_absorption("dominguez", redshift=0.3)
    with fits.open(data_path / "ebl" / "ebl_dominguez11.fits.gz") as h:
        e = np.sqrt(h["ENERGIES"].data["ENERG_LO"] * h["ENERGIES"].data["ENERG_HI"]) * 1e-9
        z = h["SPECTRA"].data["PARAMVAL"]
        row = h["SPECTRA"].data["INTPSPEC"][np.argmin(np.abs(z - 0.3))]
    k = np.argmin(np.abs(e - 1.0))
    assert float(m(e[k])) == pytest.approx(float(row[k]), rel=1e-5)  # exact at table nodes
    assert 0 < float(m(1.0)) < 1 and float(m(0.01)) > 0.99 and float(m(30.0)) < 1e-3
    assert float(m(1.0, alpha_norm=0.0)) == 1.0
    assert float(m(1.0, alpha_norm=2.0)) == pytest.approx(float(m(1.0)) ** 2, rel=1e-12)
    assert float(m(1.0, redshift=0.1)) > float(m(1.0, redshift=0.3)) > float(m(1.0, redshift=0.5))
    assert m.parameters["redshift"].frozen and m.parameters["redshift"].bounds == (pytest.approx(0.01), pytest.approx(3.99))
    d = m.to_dict()
    assert d["filename"].endswith("ebl_dominguez11.fits.gz")
    absorbed = spectral_model("pl", index=2.0) * m
    assert float(absorbed(1.0)) == pytest.approx(1e-12 * float(m(1.0)))


def test_compound_and_scale():
    a = spectral_model("pl", index=2.0)
    b = spectral_model("ecpl", index=1.5, lambda_=0.5)
    e = np.array([0.5, 3.0])
    s = a + b
    assert isinstance(s, CompoundSpectralModel)
    np.testing.assert_allclose(np.asarray(s(e)), np.asarray(a(e)) + np.asarray(b(e)))
    np.testing.assert_allclose(np.asarray((a - b)(e)), np.asarray(a(e)) - np.asarray(b(e)))
    assert float(s.integral(1, 10)) == pytest.approx(float(a.integral(1, 10)) + float(b.integral(1, 10)), rel=1e-12)
    s2 = s.with_values(**{"model2.index": 2.5})
    assert s2.model2.parameters["index"].value == 2.5 and s.model2.parameters["index"].value == 1.5
    sc = ScaleSpectralModel(b, Parameter("norm", 3.0))
    assert float(sc(2.0)) == pytest.approx(3 * float(b(2.0)))
    assert float(sc.integral(1, 2)) == pytest.approx(3 * float(b.integral(1, 2)))
    with pytest.raises(ValueError):
        CompoundSpectralModel(a, b, "pow")
