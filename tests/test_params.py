"""Tests of xgamma.models.params: immutability, links, priors, free vectors, serialisation."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from xgamma.models.params import (
    GaussianPrior,
    LogUniformPrior,
    Parameter,
    Parameters,
    UniformPrior,
    prior_from_dict,
)


@pytest.fixture
def pars():
    return Parameters([
        Parameter("index", 2.5, min=1, max=5),
        Parameter("amplitude", 3e-11, "cm-2 s-1 TeV-1"),
        Parameter("reference", 1.0, "TeV", frozen=True),
    ])


def test_parameter_is_immutable(pars):
    p = pars["index"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.value = 3.0  # type: ignore[misc]
    new = pars.with_values({"index": 3.0})
    assert pars["index"].value == 2.5 and new["index"].value == 3.0
    assert new["amplitude"] is pars["amplitude"]  # untouched entries are shared, not copied
    with pytest.raises(KeyError):
        pars.with_values({"nope": 1.0})
    with pytest.raises(ValueError):
        Parameters([Parameter("a", 1), Parameter("a", 2)])


def test_functional_updates(pars):
    assert pars.with_frozen("index").free_names == ("amplitude",)
    assert pars.with_frozen(None, False).free_names == ("index", "amplitude", "reference")
    assert pars.with_values([2, 1e-12, 2]).values.tolist() == [2, 1e-12, 2]
    assert pars.with_errors({"index": 0.1})["index"].error == 0.1
    assert pars.with_bounds("amplitude", 0, 1)["amplitude"].bounds == (0, 1)
    assert pars["reference"].bounds == (None, None)
    assert pars.prefixed("crab.").names[0] == "crab.index"
    assert pars.prefixed("x.").unprefixed("x.") == pars
    df = pars.to_dataframe()
    assert df.loc["amplitude", "unit"] == "cm-2 s-1 TeV-1" and bool(df.loc["reference", "frozen"])


def test_unit_conversion():
    p = Parameter("reference", 1.0, "TeV", min=0.5, max=2, error=0.1)
    q = p.to_unit("GeV")
    assert (q.value, q.min, q.max, q.error, q.unit) == (1000.0, 500.0, 2000.0, 100.0, "GeV")
    assert p.quantity.to_value("MeV") == pytest.approx(1e6)
    with pytest.raises(ValueError):
        Parameter("x", 1.0, "not-a-unit")


def test_free_vector_with_links():
    p = Parameters([
        Parameter("a.index", 2.0, link="idx"),
        Parameter("a.amp", 1.0),
        Parameter("b.index", 2.2, link="idx"),  # linked to a.index
        Parameter("b.amp", 5.0, frozen=True),
        Parameter("c.x", 1.0, frozen=True, link="frozen-group"),
        Parameter("c.y", 7.0, link="frozen-group"),  # group frozen by its first member
    ])
    assert p.free_groups() == [[0, 2], [1]]
    assert p.free_group_names() == ("idx", "a.amp")
    np.testing.assert_array_equal(p.free_vector(), [2.0, 1.0])
    q = p.from_free_vector([2.7, 3.0], errors=[0.1, 0.2])
    assert q["a.index"].value == q["b.index"].value == 2.7
    assert q["b.index"].error == 0.1 and q["a.amp"].error == 0.2
    assert q["c.y"].value == 1.0  # follows the first member of its frozen group
    assert q["b.amp"].value == 5.0
    with pytest.raises(ValueError):
        p.from_free_vector([1.0])


def test_priors():
    g = GaussianPrior(mu=2.0, sigma=0.5)
    # -2 ln N(x; mu, sigma) = z^2 + ln(2 pi sigma^2)
    assert g(2.5) == pytest.approx(1 + math.log(2 * math.pi * 0.25))
    assert GaussianPrior(mu=0, sigma=1, weight=2.0)(1.0) == pytest.approx(2 * (1 + math.log(2 * math.pi)))
    u = UniformPrior(min=0, max=4)
    assert u(1.0) == pytest.approx(2 * math.log(4)) and u(5.0) == math.inf
    lu = LogUniformPrior(min=0.1, max=10)
    assert lu(1.0) - lu(0.1) == pytest.approx(2 * math.log(10))
    assert lu(0.01) == math.inf
    pars = Parameters([Parameter("a", 2.5, prior=g), Parameter("b", 1.0)])
    assert pars.prior_stat() == pytest.approx(g(2.5))
    for prior in (g, u, lu):
        assert prior_from_dict(prior.to_dict()) == prior


def test_dict_round_trip(pars):
    pars = pars.with_prior("index", GaussianPrior(mu=2.4, sigma=0.1)).with_link("amplitude", "shared-amp")
    back = Parameters.from_dict(pars.to_dict())
    assert back == pars
    full = Parameters.from_dict(pars.to_dict(full=True))
    assert full == pars
    # Gammapy's ``.nan`` bounds and missing keys
    p = Parameter.from_dict({"name": "alpha", "value": 1.6, "min": float("nan"), "max": None, "unit": ""})
    assert p.bounds == (None, None) and p.error == 0.0 and not p.frozen
