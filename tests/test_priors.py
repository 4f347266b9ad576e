"""Priors (xgamma.models.params + xgamma.models.priors): values against scipy.stats, Gammapy's
YAML layout, use in fits (one- and multi-parameter)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

import xgamma as xg
from xgamma.fitting.fitter import Likelihood
from xgamma.fitting.fold import example_dataset, fake
from xgamma.models import (
    GaussianPrior,
    LogUniformPrior,
    Models,
    SkyModel,
    UniformPrior,
    spectral_model,
)
from xgamma.models.params import prior_from_dict
from xgamma.models.priors import (
    GeneralizedGaussianPrior,
    LogNormalPrior,
    MultiVariateGaussianPrior,
    SamplesKDEPrior,
    multivariate_gaussian_prior,
    prior_distribution,
    prior_terms,
)

X = np.array([0.3, 1.0, 2.2, 4.0])
SAMPLES = tuple(np.random.default_rng(7).normal(2.0, 0.3, 3000))


@pytest.mark.parametrize(("prior", "dist"), [
    (GaussianPrior(mu=1.0, sigma=0.5), sps.norm(1.0, 0.5)),
    (UniformPrior(min=0.1, max=5.0), sps.uniform(0.1, 4.9)),
    (LogUniformPrior(min=0.1, max=5.0), sps.loguniform(0.1, 5.0)),
    (GeneralizedGaussianPrior(mu=1.0, sigma=0.7, eta=0.8), sps.gennorm(1 / 0.8, 1.0, 0.7 * math.sqrt(2))),
    (GeneralizedGaussianPrior(mu=1.0, sigma=0.7, eta=0.5), sps.norm(1.0, 0.7)),
    (LogNormalPrior(mu=1.5, sigma=0.4), sps.lognorm(s=0.4, scale=1.5)),
    (SamplesKDEPrior(samples=SAMPLES), sps.gaussian_kde(np.array(SAMPLES))),
])
def test_prior_is_minus_two_log_pdf(prior, dist):
    logpdf = dist.logpdf(X)
    np.testing.assert_allclose(prior(X), -2 * logpdf, rtol=1e-10)
    if not isinstance(prior, SamplesKDEPrior):
        np.testing.assert_allclose(prior_distribution(prior).ppf([0.1, 0.5, 0.9]), dist.ppf([0.1, 0.5, 0.9]),
                                   rtol=1e-10)
    else:  # the KDE of N(2, 0.3) samples: quantiles of a slightly wider normal
        q = prior_distribution(prior).ppf(np.array([0.1, 0.5, 0.9]))
        np.testing.assert_allclose(q, sps.norm(2.0, 0.3).ppf([0.1, 0.5, 0.9]), atol=0.03)


def test_weight_scales_the_statistic():
    p = LogNormalPrior(mu=1.5, sigma=0.4, weight=3.0)
    assert float(p(2.0)) == pytest.approx(3 * float(LogNormalPrior(mu=1.5, sigma=0.4)(2.0)))
    assert LogNormalPrior()(-1.0) == math.inf


def test_multivariate_prior_joint_and_marginal():
    mean, cov = [2.5, 1.0], [[0.04, 0.018], [0.018, 0.09]]
    dist = sps.multivariate_normal(mean, cov)
    p0 = MultiVariateGaussianPrior(mean=tuple(mean), covariance=tuple(map(tuple, cov)), index=0)
    v = np.array([[2.6, 0.8], [2.4, 1.3]])
    np.testing.assert_allclose(p0.joint(v), -2 * dist.logpdf(v), rtol=1e-12)
    np.testing.assert_allclose(p0(2.7), -2 * sps.norm(2.5, 0.2).logpdf(2.7), rtol=1e-12)
    with pytest.raises(ValueError, match="positive definite"):
        MultiVariateGaussianPrior(mean=(0.0, 0.0), covariance=((1.0, 2.0), (2.0, 1.0)))
    with pytest.raises(ValueError, match="index 2"):
        MultiVariateGaussianPrior(mean=(0.0, 0.0), covariance=((1.0, 0.0), (0.0, 1.0)), index=2)


GAMMAPY_PRIORS = """
components:
- name: crab
  type: SkyModel
  spectral:
    type: PowerLawSpectralModel
    parameters:
    - name: index
      value: 2.5
      prior:
        type: GeneralizedGaussianPrior
        parameters:
        - {name: mu, value: 2.6, unit: ''}
        - {name: sigma, value: 0.1, unit: ''}
        - {name: eta, value: 0.7, unit: ''}
        weight: 1
    - name: amplitude
      value: 4.0e-11
      unit: TeV-1 s-1 cm-2
      prior:
        type: LogNormalPrior
        parameters:
        - {name: mu, value: 4.0e-11, unit: ''}
        - {name: sigma, value: 0.2, unit: ''}
        weight: 2
    - {name: reference, value: 1.0, unit: TeV}
  spatial:
    type: PointSpatialModel
    frame: icrs
    parameters:
    - name: lon_0
      value: 83.63
      unit: deg
      prior:
        type: SamplesKDEPrior
        samples: [83.62, 83.63, 83.64, 83.63]
        weights: [0.25, 0.25, 0.25, 0.25]
    - name: lat_0
      value: 22.01
      unit: deg
      prior:
        type: UniformPrior
        parameters:
        - {name: min, value: 21.0, unit: ''}
        - {name: max, value: 23.0, unit: ''}
        weight: 1
"""


def test_gammapy_prior_layout_round_trip(tmp_path):
    m = xg.read_models(GAMMAPY_PRIORS)
    pars = m.parameters
    gg = pars["crab.spectral.index"].prior
    assert isinstance(gg, GeneralizedGaussianPrior) and (gg.mu, gg.sigma, gg.eta) == (2.6, 0.1, 0.7)
    ln = pars["crab.spectral.amplitude"].prior
    assert isinstance(ln, LogNormalPrior) and ln.weight == 2.0 and ln.mu == 4e-11
    assert isinstance(pars["crab.spatial.lon_0"].prior, SamplesKDEPrior)
    assert isinstance(pars["crab.spatial.lat_0"].prior, UniformPrior)
    mv = multivariate_gaussian_prior(pars, ["crab.spectral.index", "crab.spectral.amplitude"], [2.6, 4e-11],
                                     [[0.01, 1e-13], [1e-13, 4e-24]], label="crab-pl")
    m2 = m.with_parameters(mv)
    path = tmp_path / "m.yaml"
    xg.write_models(m2, path)
    back = xg.read_models(path)
    for name in pars.names:
        assert back.parameters[name].prior == m2.parameters[name].prior, name
    assert prior_from_dict(SamplesKDEPrior(samples=(1.0, 2.0, 3.0)).to_dict()) == SamplesKDEPrior(samples=(1.0, 2.0, 3.0))
    with pytest.raises(ValueError, match="unknown prior type 'CauchyPrior'"):
        prior_from_dict({"type": "CauchyPrior"})


def test_fit_uses_one_and_multi_parameter_priors():
    ds = fake(example_dataset(livetime=600.0), spectral_model("pl", index=2.6, amplitude=4e-11), seed=5)
    m = Models([SkyModel("s", spectral_model("pl", index=2.6, amplitude=4e-11))])
    free = xg.fit(ds, m)
    # a generalized-Gaussian prior much narrower than the data pins the index
    pinned = m.with_parameters(m.parameters.with_prior("s.spectral.index",
                                                       GeneralizedGaussianPrior(mu=2.9, sigma=1e-4, eta=0.6)))
    assert float(xg.fit(ds, pinned).result.value[0]) == pytest.approx(2.9, abs=1e-3)
    # multivariate: the statistic gets the joint term once, and a tight prior pins both
    cov = np.array([[1e-8, 0.0], [0.0, 1e-32]])
    mv = m.with_parameters(multivariate_gaussian_prior(m.parameters, ["s.spectral.index", "s.spectral.amplitude"],
                                                       [2.4, 5e-11], cov))
    like, like0 = Likelihood(ds, mv), Likelihood(ds, m)
    x = np.array([2.5, 4.5e-11])
    var = np.diag(cov)  # (diagonal: scipy's multivariate_normal calls this scale singular)
    joint = np.sum((x - [2.4, 5e-11]) ** 2 / var + np.log(2 * np.pi * var))
    assert like(x) == pytest.approx(like0(x) + joint, rel=1e-12)
    assert len(prior_terms(like.parameters)) == 1
    r = xg.fit(ds, mv)
    np.testing.assert_allclose(r.result.value.values, [2.4, 5e-11], rtol=1e-3)
    # a weak correlated prior: the fit lands where the Gaussian approximation puts the product of
    # likelihood and prior, (H + P)^-1 (H x + P mu), H and P the inverse covariances
    err = free.result.error.values
    x_hat = free.result.value.values
    cov_data = free.result.covariance.values
    wide = np.diag(err**2) * 4
    wide[0, 1] = wide[1, 0] = 0.5 * math.sqrt(wide[0, 0] * wide[1, 1])
    mu = x_hat + np.array([2.0, -2.0]) * err
    shifted = xg.fit(ds, m.with_parameters(multivariate_gaussian_prior(
        m.parameters, ["s.spectral.index", "s.spectral.amplitude"], mu, wide)))
    h, p = np.linalg.inv(cov_data), np.linalg.inv(wide)
    expected = np.linalg.solve(h + p, h @ x_hat + p @ mu)
    got = shifted.result.value.values
    assert np.all(np.abs(expected - x_hat) > 0.3 * err)  # the prior matters
    np.testing.assert_allclose((got - expected) / err, 0.0, atol=0.1)
