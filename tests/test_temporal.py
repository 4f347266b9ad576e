"""Tests of the temporal models (xgamma.models.temporal): contract test over the registry,
analytic integrals against numerical quadrature, GTI normalisation, times and templates."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
import xarray as xr
import yaml
from astropy.table import Table
from astropy.time import Time
from scipy.integrate import quad

from xgamma.models import registry
from xgamma.models.temporal import (
    example_temporal_model,
    lightcurve_template_model,
    read_lightcurve_template,
    temporal_from_dict,
    temporal_model,
    to_mjd,
)

NAMES = registry.names("temporal")
T0 = 55000.0


def numerical_integral(m, t1, t2):
    vals = list(m.parameters.values)
    f = lambda t: float(m.evaluate_values(np.array(t), vals))  # noqa: E731
    brk = None
    if m.tag == "LightCurveTemplateTemporalModel":
        brk = list(m.data["time"] + m.parameters["t_ref"].value)
    return quad(f, t1, t2, points=[b for b in (brk or []) if t1 < b < t2] or None, limit=200,
                epsabs=1e-12, epsrel=1e-10)[0]


@pytest.mark.parametrize("name", NAMES)
def test_contract_analytic_integral_matches_quadrature(name):
    m = example_temporal_model(name)
    edges = T0 + np.array([-2.0, -0.3, 0.4, 1.3, 2.0, 3.7, 6.0])
    t1, t2 = edges[:-1], edges[1:]
    analytic = m.integral_values(t1, t2, list(m.parameters.values))
    numeric = np.array([numerical_integral(m, a, b) for a, b in zip(t1, t2, strict=True)])
    np.testing.assert_allclose(analytic, numeric, rtol=1e-7, atol=1e-12)
    # normalised: the sum over the intervals is the mean over them
    norm = m.integral(t1, t2)
    assert float(np.sum(norm)) == pytest.approx(numeric.sum() / (edges[-1] - edges[0]), rel=1e-7)


@pytest.mark.parametrize("name", NAMES)
def test_contract_broadcasting_and_dask(name):
    m = example_temporal_model(name)
    t = xr.DataArray(T0 + np.linspace(-1, 4, 12).reshape(3, 4), dims=("a", "b"))
    out = m(t)
    assert out.dims == ("a", "b")
    np.testing.assert_allclose(out.values, m(t.values), rtol=1e-14)
    lazy = m(t.chunk({"a": 1}))
    assert isinstance(lazy.data, da.Array)
    np.testing.assert_allclose(lazy.compute().values, out.values, rtol=1e-14)
    lazy_arr = m(da.from_array(t.values, chunks=2))
    assert isinstance(lazy_arr, da.Array)
    np.testing.assert_allclose(lazy_arr.compute(), out.values, rtol=1e-14)
    if len(m.parameters):
        p = m.parameters[0]
        samples = xr.DataArray(p.value + np.array([0.0, 0.1]), dims="sample")
        o2 = m(t, **{p.name: samples})
        assert set(o2.dims) == {"a", "b", "sample"}
    # integrals of dask-backed bins are lazy with the same values
    t1 = xr.DataArray(T0 + np.array([0.0, 1.0, 2.0]), dims="time")
    lazy_int = m.integral(t1.chunk(1), (t1 + 1).chunk(1))
    np.testing.assert_allclose(lazy_int.compute().values, m.integral(t1.values, t1.values + 1), rtol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_contract_finite_gradients_and_yaml(name):
    m = example_temporal_model(name)
    t = T0 + np.linspace(-0.9, 3.9, 9)
    base = m(t)
    assert np.all(np.isfinite(base))
    for p in m.parameters:
        h = 1e-6 * max(abs(p.value), 1.0)
        grad = (m(t, **{p.name: p.value + h}) - base) / h
        assert np.all(np.isfinite(grad)), p.name
        if name != "ConstantTemporalModel":
            assert np.any(grad != 0), p.name
    back = temporal_from_dict(yaml.safe_load(yaml.safe_dump(m.to_dict(full=True))))
    assert back == m
    np.testing.assert_allclose(back(t), base)


def test_values_and_units():
    lin = temporal_model("linear", alpha=2.0, beta="12 d-1", t_ref=T0)
    assert float(lin(T0 + 0.5)) == pytest.approx(8.0)
    sine = temporal_model("sinus", amp=0.5, omega="0.5 rad / h", t_ref=T0)
    assert sine.parameters["omega"].value == pytest.approx(12.0)  # rad / d
    assert float(sine(T0 + np.pi / 24)) == pytest.approx(1.5)
    gauss = temporal_model("GaussianTemporalModel", t_ref=Time(T0 + 1, format="mjd", scale="tt"), sigma="6 h")
    assert gauss.parameters["t_ref"].value == pytest.approx(T0 + 1)
    assert float(gauss(T0 + 1.25)) == pytest.approx(np.exp(-0.5))
    decay = temporal_model("exp-decay", t0="2 d", t_ref=T0)
    assert float(decay.integral_values(T0, T0 + 1e4, list(decay.parameters.values))) == pytest.approx(2.0)


def test_times_as_time_objects_or_seconds():
    m = example_temporal_model("exp-decay")
    t = Time([T0 + 0.5, T0 + 1.5], format="mjd", scale="tt")
    np.testing.assert_allclose(m(t), m(t.mjd))
    np.testing.assert_allclose(m(np.array([43200.0, 129600.0]), time_ref=T0), m(t.mjd))
    assert to_mjd(3600.0, time_ref=Time(T0, format="mjd", scale="tt")) == pytest.approx(T0 + 1 / 24)
    gti = m.integral(np.array([0.0, 86400.0]), np.array([43200.0, 129600.0]), time_ref=T0)
    ref = m.integral(np.array([T0, T0 + 1]), np.array([T0 + 0.5, T0 + 1.5]))
    np.testing.assert_allclose(gti, ref)


def test_gti_normalisation_constant_and_gaps():
    const = temporal_model("const")
    # two GTIs of different lengths: shares proportional to durations, sum 1
    np.testing.assert_allclose(const.integral([T0, T0 + 2], [T0 + 1, T0 + 5]), [0.25, 0.75])
    lc = lightcurve_template_model([T0, T0 + 1, T0 + 2], [0.0, 2.0, 0.0])
    assert float(np.sum(lc.integral([T0 - 1, T0 + 0.5], [T0, T0 + 1.5]))) == pytest.approx((0.0 + 1.5) / 2)


def test_lightcurve_template_io(tmp_path):
    tab = Table({"TIME": np.array([0.0, 43200.0, 86400.0, 172800.0]), "NORM": np.array([1.0, 4.0, 2.0, 2.0])})
    tab["TIME"].unit = "s"
    tab.meta.update({"MJDREFI": 55000, "MJDREFF": 0.5})
    path = tmp_path / "lc.fits"
    tab.write(path)
    m = read_lightcurve_template(path)
    assert m.parameters["t_ref"].value == pytest.approx(55000.5)
    assert float(m(55000.75)) == pytest.approx(2.5)
    assert float(m(55003.0)) == 0.0  # outside the table
    back = temporal_from_dict(yaml.safe_load(yaml.safe_dump(m.to_dict())))
    assert back.to_dict()["filename"] == str(path)
    np.testing.assert_allclose(back(55000.75), 2.5)
    # a shifted reference time shifts the template
    shifted = m.with_values(t_ref=55001.5)
    assert float(shifted(55001.75)) == pytest.approx(2.5)
