"""Posterior sampling (xgamma.fitting.sampling): emcee agrees with MINUIT on the H.E.S.S. Crab 1D fit,
the vectorised log-posterior equals the one-walker path, priors act on the samples, UltraNest
gives the evidence of a case with a closed form, ArviZ-style output and a corner plot."""

from __future__ import annotations

import math

import numpy as np
import pytest

import xgamma as xg
from xgamma.fitting.fitter import Likelihood
from xgamma.fitting.fold import example_dataset, fake, with_fit_range
from xgamma.fitting.sampling import corner_plot, log_posterior, sample
from xgamma.models import GaussianPrior, Models, SkyModel, UniformPrior, spectral_model
from xgamma.models.priors import LogNormalPrior, multivariate_gaussian_prior

emcee = pytest.importorskip("emcee")


@pytest.fixture(scope="module")
def hess_crab(data):
    """The four H.E.S.S. Crab runs of the joint-Crab release (Nigro et al. 2019), 0.71-30 TeV."""
    base = data / "joint-crab" / "spectra" / "hess"
    return with_fit_range(xg.read_ogip(sorted(base.glob("pha_*.fits")), name="hess"), 0.71, 30.0, select="centre")


def test_emcee_posterior_agrees_with_minuit_on_hess_crab(hess_crab):
    """Power law: posterior means within 0.15 sigma of the MINUIT values (and within 10 %),
    posterior widths within 10 % of the HESSE errors (32 walkers x 1500 steps, ~1000 independent
    draws: the widths are known to ~2 %)."""
    models = Models([SkyModel("crab", spectral_model("pl", index=2.5, amplitude=3e-11))])
    best = xg.fit(hess_crab, models)
    post = sample(hess_crab, models, n_walkers=32, n_steps=1500, seed=1)
    assert post.attrs["vectorized"] and 0.5 < post.attrs["acceptance_fraction"] < 0.9
    assert dict(post.sizes) == {"chain": 32, "draw": 1125}
    for name in ("crab.spectral.index", "crab.spectral.amplitude"):
        value = float(best.result["value"].sel(param=name))
        error = float(best.result["error"].sel(param=name))
        mean, std = float(post[name].mean()), float(post[name].std())
        assert abs(mean - value) < 0.15 * error, name
        assert mean == pytest.approx(value, rel=0.1)
        assert std == pytest.approx(error, rel=0.1), name
    assert post["crab.spectral.amplitude"].attrs["units"] == "cm-2 s-1 TeV-1"
    # the published H.E.S.S. numbers of Nigro et al. (2019) are for a log-parabola; the power-law
    # index of these runs is 2.68 +- 0.07 (MINUIT): the posterior agrees
    assert float(post["crab.spectral.index"].mean()) == pytest.approx(2.68, abs=0.02)


def test_vectorised_log_posterior_equals_loop():
    ds = fake(example_dataset(), spectral_model("lp", amplitude=4e-11, alpha=2.5, beta=0.1, reference=1.0), seed=4)
    m = Models([SkyModel("s", spectral_model("lp", amplitude=4e-11, alpha=2.5, beta=0.1, reference=1.0))])
    m = m.with_parameters(m.parameters.with_prior("s.spectral.beta", LogNormalPrior(mu=0.1, sigma=0.5)))
    like = Likelihood(ds, m)
    x = like.x0 * (1 + 0.05 * np.random.default_rng(0).standard_normal((20, 3)))
    fast, slow = log_posterior(like, check=x[:3]), log_posterior(like, vectorize=False)
    assert fast.vectorized and not slow.vectorized
    np.testing.assert_allclose(fast(x), slow(x), rtol=1e-10)
    np.testing.assert_allclose(slow(x[:1]), -0.5 * like(x[0]), rtol=1e-12)
    # outside a bound: -inf
    bounded = Likelihood(ds, m.with_parameters(m.parameters.with_bounds("s.spectral.alpha", 2.0, 2.2)))
    assert log_posterior(bounded)(np.array([[4e-11, 2.5, 0.1]]))[0] == -np.inf


def test_priors_shape_the_posterior():
    """Little data (5 min) and a Gaussian prior on the index: the posterior of the index is the
    product of likelihood and prior (Gaussian approximation: precision-weighted mean)."""
    ds = fake(example_dataset(livetime=300.0), spectral_model("pl", index=2.6, amplitude=4e-11), seed=3)
    m = Models([SkyModel("s", spectral_model("pl", index=2.6, amplitude=4e-11))])
    free = xg.fit(ds, m)
    s_data = float(free.result["error"][0])
    prior = GaussianPrior(mu=2.3, sigma=s_data)
    post = sample(ds, m.with_parameters(m.parameters.with_prior("s.spectral.index", prior)),
                  n_walkers=16, n_steps=1200, seed=5)
    x_data = float(free.result["value"][0])
    # (the amplitude is correlated with the index: the conditional width is what the prior meets;
    # the marginal posterior mean lies between the data and the prior, nearer the narrower)
    got = float(post["s.spectral.index"].mean())
    assert min(x_data, 2.3) < got < max(x_data, 2.3)
    assert float(post["s.spectral.index"].std()) < s_data
    # a multivariate prior on both parameters, much narrower than the data: the posterior is it
    cov = np.array([[1e-4, 0.5 * 1e-2 * 4e-13], [0.5 * 1e-2 * 4e-13, 1.6e-25]])
    tight = m.with_parameters(multivariate_gaussian_prior(m.parameters, ["s.spectral.index", "s.spectral.amplitude"],
                                                          [2.5, 4.2e-11], cov))
    post = sample(ds, tight, n_walkers=16, n_steps=800, seed=6)
    np.testing.assert_allclose([float(post[n].mean()) for n in post.data_vars], [2.5, 4.2e-11], rtol=3e-3)
    assert float(post["s.spectral.index"].std()) == pytest.approx(1e-2, rel=0.15)
    c = np.corrcoef(post["s.spectral.index"].values.ravel(), post["s.spectral.amplitude"].values.ravel())[0, 1]
    assert c == pytest.approx(0.5, abs=0.1)


def test_ultranest_evidence_and_posterior():
    """One free parameter (the amplitude) with a uniform prior of width W much wider than the
    likelihood: Z = int L dtheta / W = L_max sqrt(2 pi) sigma / W (Gaussian likelihood), so
    log Z = -stat_min / 2 + log(sqrt(2 pi) sigma / W)."""
    pytest.importorskip("ultranest")
    ds = fake(example_dataset(), spectral_model("pl", index=2.6, amplitude=4e-11), seed=8)
    m = Models([SkyModel("s", spectral_model("pl", index=2.6, amplitude=4e-11).with_frozen("index"))])
    best = xg.fit(ds, m)
    sigma = float(best.result["error"][0])
    width = 2e-11
    prior = UniformPrior(min=3e-11, max=5e-11)
    mp = m.with_parameters(m.parameters.with_prior("s.spectral.amplitude", prior))
    post = sample(ds, mp, backend="ultranest", seed=1, min_num_live_points=200)
    expected = -0.5 * best.stat_sum + math.log(math.sqrt(2 * math.pi) * sigma / width)
    assert post.attrs["logz"] == pytest.approx(expected, abs=max(3 * post.attrs["logz_err"], 0.2))
    a = post["s.spectral.amplitude"]
    assert a.dims == ("chain", "draw") and a.sizes["chain"] == 1
    assert float(a.mean()) == pytest.approx(float(best.result["value"][0]), abs=0.15 * sigma)
    assert float(a.std()) == pytest.approx(sigma, rel=0.15)


def test_bad_input_and_corner_plot():
    import matplotlib

    matplotlib.use("Agg")
    ds = example_dataset()
    m = Models([SkyModel("s", spectral_model("pl"))])
    with pytest.raises(xg.XgammaError, match="unknown sampling backend 'pymc'"):
        sample(ds, m, backend="pymc")
    with pytest.raises(xg.XgammaError, match="'s.spectral.index' needs a prior or finite min/max"):
        pytest.importorskip("ultranest")
        sample(ds, m, backend="ultranest")
    with pytest.raises(xg.XgammaError, match="at least 4 walkers"):
        sample(ds, m, n_walkers=3, n_steps=10)
    post = sample(ds, m, n_walkers=8, n_steps=100, seed=0)
    fig = corner_plot(post)
    assert len(fig.axes) == 4
    arr = post.to_array("param")
    assert arr.dims == ("param", "chain", "draw") and list(arr.param.values) == list(post.data_vars)


def test_arviz_reads_the_posterior():
    az = pytest.importorskip("arviz")
    ds = fake(example_dataset(), spectral_model("pl", index=2.6, amplitude=4e-11), seed=2)
    m = Models([SkyModel("s", spectral_model("pl", index=2.6, amplitude=4e-11))])
    post = sample(ds, m, n_walkers=8, n_steps=400, seed=3)
    summary = az.summary(az.convert_to_inference_data(post))
    assert list(summary.index) == ["s.spectral.index", "s.spectral.amplitude"]
    assert float(summary.loc["s.spectral.index", "mean"]) == pytest.approx(float(post["s.spectral.index"].mean()),
                                                                           abs=1e-3)


def test_map_dataset_samples_through_the_loop():
    """3D datasets are not vectorised: the walkers loop over the map likelihood (still exact)."""
    from test_spatial_pulls import make_dataset

    from xgamma.fitting.fold_map import npred_map
    from xgamma.models.spatial import spatial_model

    ds = make_dataset(nx=10)
    c = ds.sizes["x"] // 2
    src = SkyModel("src", spectral_model("pl", index=2.5, amplitude=1e-10).with_frozen("index"),
                   spatial_model("point", lon_0=float(ds.ra.values[c, c]), lat_0=float(ds.dec.values[c, c]))
                   .with_frozen())
    truth = Models([src])
    ds = ds.assign(counts=(ds.counts.dims, np.random.default_rng(1).poisson(npred_map(ds, truth).values) * 1.0))
    post = sample(ds, truth, n_walkers=4, n_steps=150, seed=2)
    assert not post.attrs["vectorized"]
    best = xg.fit(ds, truth)
    assert float(post["src.spectral.amplitude"].mean()) == pytest.approx(float(best.result["value"][0]),
                                                                         abs=0.5 * float(best.result["error"][0]))
