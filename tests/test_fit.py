"""Fits: joint Crab (Nigro et al. 2019), simulated datasets, pull studies, profiles, speed."""

from __future__ import annotations

import numpy as np
import pytest

import xgamma as xg
from xgamma import stats
from xgamma.fitting.fitter import (
    Likelihood,
    confidence,
    stat_contour,
    stat_profile,
    stat_sum,
    stat_surface,
    ts,
)
from xgamma.fitting.fold import (
    alpha,
    example_dataset,
    fake,
    npred,
    npred_background,
    npred_signal,
    spectrum_dataset,
    with_fit_range,
)
from xgamma.models import BackgroundModel, GaussianPrior, Models, SkyModel, spectral_model
from xgamma.obs import concat_obs

# Nigro et al. 2019, log10 log-parabola, E0 = 1 TeV: phi0 [1e-11 cm-2 s-1 TeV-1], alpha, beta (value, error)
PUBLISHED = {
    "magic": ((4.15, 0.30), (2.60, 0.10), (0.44, 0.11), (0.08, 30)),
    "veritas": ((3.76, 0.36), (2.44, 0.09), (0.26, 0.17), (0.16, 30)),
    "fact": ((3.49, 0.30), (2.54, 0.22), (0.42, 0.31), (0.45, 30)),
    "hess": ((4.47, 0.29), (2.39, 0.18), (0.37, 0.22), (0.71, 30)),
}
FIT_RANGE = {"fermi": (0.03, 2.0), **{k: v[3] for k, v in PUBLISHED.items()}}


@pytest.fixture(scope="module")
def crab(data):
    base = data / "joint-crab" / "spectra"
    return {inst: with_fit_range(xg.read_ogip(sorted((base / inst).glob("pha_*.fits")), name=inst), *rng, select="centre")
            for inst, rng in FIT_RANGE.items()}


def _lp10():
    return Models([SkyModel("crab", spectral_model("lp10", amplitude=3e-11, reference=1.0, alpha=2.5, beta=0.1))])


# --- joint Crab --------------------------------------------------------------------------------


@pytest.mark.parametrize("inst", sorted(PUBLISHED))
def test_joint_crab_per_instrument(crab, inst):
    res = xg.fit(crab[inst], _lp10())
    assert res.success
    v = res.result["value"].values
    e = res.result["error"].values
    (p0, dp0), (a, da), (b, db), _ = PUBLISHED[inst]
    assert abs(v[0] * 1e11 - p0) < 0.5 * dp0
    assert abs(v[1] - a) < 0.5 * da
    assert abs(v[2] - b) < 0.5 * db
    # errors comparable with the paper's
    np.testing.assert_allclose(e * [1e11, 1, 1], [dp0, da, db], rtol=0.15)


def test_joint_crab_five_instruments(crab):
    res = xg.fit(list(crab.values()), _lp10())
    assert res.success
    v, e = res.result["value"].values, res.result["error"].values
    # sensible: between the single-instrument results and more precise than any of them
    assert 3.5 < v[0] * 1e11 < 4.3 and 2.4 < v[1] < 2.6 and 0.15 < v[2] < 0.35
    assert e[0] * 1e11 < 0.2 and e[1] < 0.05 and e[2] < 0.05
    # the joint statistic is the sum of the per-dataset statistics at the same parameters
    parts = sum(stat_sum(d, res.models) for d in crab.values())
    assert res.stat_sum == pytest.approx(parts, rel=1e-10)
    # and equals the likelihood of the obs-stacked + list structure evaluated directly
    like = Likelihood(list(crab.values()), res.models)
    assert like(like.x0) == pytest.approx(res.stat_sum, rel=1e-10)


# --- simulated datasets -------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["PL", "ECPL"])
def test_simulated_spectrum_recovers_truth(data, kind):
    base = data / "datasets" / "simulations" / f"simulated_spectrum_dataset_{kind}"
    truth = xg.read_models(f"{base}_model.yaml")
    ds = xg.read_ogip(f"{base}.fits")
    start = truth.with_values({n: truth.parameters[n].value * 1.3 for n in truth.parameters.free_names})
    res = xg.fit(ds, start)
    assert res.success
    for name in res.result.param.values:
        v = float(res.result.value.sel(param=name))
        err = float(res.result.error.sel(param=name))
        assert abs(v - truth.parameters[str(name)].value) < 3 * err, name


PULL_TRUTHS = {
    "pl": spectral_model("pl", index=2.6, amplitude=4e-11),
    "lp": spectral_model("lp", amplitude=4e-11, reference=1.0, alpha=2.4, beta=0.1),
    "ecpl": spectral_model("ecpl", index=2.2, amplitude=4e-11, lambda_=0.1),
}


@pytest.mark.parametrize("name", sorted(PULL_TRUTHS))
def test_pulls_of_fake_onoff_datasets(name):
    ds = example_dataset()
    mu_b = alpha(ds) * ds.counts_off  # the true ON-region background, fixed
    truth = Models([SkyModel("s", PULL_TRUTHS[name])])
    x_true = truth.parameters.free_vector()
    rng = np.random.default_rng(20240601)
    pulls = []
    for _ in range(200):
        res = xg.fit(fake(ds, truth, seed=rng, background=mu_b), truth)
        assert res.success
        pulls.append((res.result["value"].values - x_true) / res.result["error"].values)
    pulls = np.array(pulls)
    assert np.all(np.abs(pulls.mean(axis=0)) < 0.15), pulls.mean(axis=0)
    assert np.all(np.abs(pulls.std(axis=0, ddof=1) - 1) < 0.15), pulls.std(axis=0, ddof=1)


# --- backends, profiles, intervals ----------------------------------------------------------------


def test_backends_agree():
    ds = fake(example_dataset(), spectral_model("lp", amplitude=4e-11, reference=1.0, alpha=2.4, beta=0.1), seed=5)
    m = Models([SkyModel("s", spectral_model("lp", amplitude=1e-11, reference=1.0, alpha=2.0, beta=0.2))])
    a = xg.fit(ds, m, backend="minuit")
    b = xg.fit(ds, m, backend="scipy")
    assert np.all(np.abs(b.result.value.values - a.result.value.values) < 0.02 * a.result.error.values)
    np.testing.assert_allclose(b.result.error.values, a.result.error.values, rtol=0.03)
    assert b.stat_sum == pytest.approx(a.stat_sum, abs=1e-4)
    with pytest.raises(ValueError, match="backend"):
        xg.fit(ds, m, backend="nope")


def test_profile_confidence_contour_consistent():
    ds = fake(example_dataset(livetime=600.0), spectral_model("pl", index=2.6, amplitude=4e-11), seed=11)
    m = Models([SkyModel("s", spectral_model("pl", index=2.6, amplitude=4e-11))])
    best = xg.fit(ds, m, minos=True)
    idx = "s.spectral.index"
    v0 = float(best.result.value.sel(param=idx))
    err = float(best.result.error.sel(param=idx))
    prof = stat_profile(ds, best.models, idx, [v0 - err, v0, v0 + err], reoptimize=True)
    d = prof.stat_scan.values - best.stat_sum
    assert d[1] == pytest.approx(0, abs=1e-3)
    assert d[0] == pytest.approx(1, abs=0.15) and d[2] == pytest.approx(1, abs=0.15)
    fixed = stat_profile(ds, best.models, idx, [v0 - err, v0 + err], reoptimize=False)
    assert np.all(fixed.stat_scan.values - best.stat_sum >= d[[0, 2]] - 1e-6)  # profiling lowers the stat
    ci = confidence(ds, m, idx)
    assert ci["success"]
    assert ci["errn"] == pytest.approx(float(best.result.errn.sel(param=idx)), rel=0.02)
    assert ci["errp"] == pytest.approx(float(best.result.errp.sel(param=idx)), rel=0.02)
    c = stat_contour(ds, m, idx, "s.spectral.amplitude", npoints=24)
    # the contour's projection is the 1D profile interval (sampled by 24 rays: slightly inside)
    assert 0.9 * ci["errp"] < float(c.x.max()) - v0 < 1.001 * ci["errp"]
    assert 0.9 * ci["errn"] < v0 - float(c.x.min()) < 1.001 * ci["errn"]
    like = Likelihood(ds, best.models)
    for x, y in zip(c.x.values[:3], c.y.values[:3], strict=True):
        sub = like.fixed([idx, "s.spectral.amplitude"], [x, y])
        assert sub(sub.x0) - best.stat_sum == pytest.approx(1.0, abs=1e-3)
    surf = stat_surface(ds, best.models, idx, [v0 - err, v0, v0 + err], "s.spectral.amplitude",
                        [float(best.result.value[1])])
    assert int(np.argmin(surf.values[:, 0])) == 1


def test_ts_equals_li_ma_for_one_bin():
    e = xg.energy_axis(1, 10, 1)
    et = xg.energy_axis(1, 10, 1, name="energy_true")
    ds = spectrum_dataset(e, et, exposure=1e10, counts=[40], counts_off=[60], acceptance=0.2, acceptance_off=1.0)
    m = Models([SkyModel("s", spectral_model("pl", amplitude=1e-13).with_frozen("index"))])
    assert ts(ds, m, "s") == pytest.approx(float(stats.li_ma_significance(40, 60, 0.2)) ** 2, rel=1e-6)


def test_mask_fit_and_safe_are_respected():
    ds = fake(example_dataset(), spectral_model("pl", index=2.6, amplitude=4e-11), seed=2)
    m = Models([SkyModel("s", spectral_model("pl", index=2.3, amplitude=2e-11))])
    r1 = xg.fit(with_fit_range(ds, 0.5, 20), m)
    outside = (ds.energy < 0.5) | (ds.energy > 20)
    crazy = ds.assign(counts=ds.counts.where(~outside, 1e6))
    r2 = xg.fit(with_fit_range(crazy, 0.5, 20), m)
    np.testing.assert_allclose(r2.result.value.values, r1.result.value.values, rtol=1e-6)
    r3 = xg.fit(crazy.assign(mask_safe=~outside), m)
    np.testing.assert_allclose(r3.result.value.values, r1.result.value.values, rtol=1e-6)


def test_cash_dataset_with_background_model():
    ds = example_dataset(onoff=False)
    truth = Models([SkyModel("s", spectral_model("pl", index=2.6, amplitude=4e-11)),
                    BackgroundModel(("example",), spectral_model("pl-norm", norm=1.3))])
    f = fake(ds, truth, seed=4)
    assert float(f.counts.sum()) == pytest.approx(float(npred(ds, truth).sum()), rel=0.05)
    start = truth.with_values({"s.spectral.index": 2.3, "example-bkg.spectral.norm": 1.0})
    res = xg.fit(f, start)
    norm = res.result.sel(param="example-bkg.spectral.norm")
    assert abs(float(norm.value) - 1.3) < 3 * float(norm.error)
    # without the background model the background is fixed
    assert "example-bkg.spectral.norm" not in xg.fit(f, start.without("example-bkg")).result.param.values


def test_links_obs_stack_and_dataset_names():
    truth = spectral_model("pl", index=2.6, amplitude=4e-11)
    a = fake(example_dataset(), truth, seed=7).assign_attrs(name="a", obs_id=1)
    b = fake(example_dataset(), truth, seed=8).assign_attrs(name="b", obs_id=2)
    one = Models([SkyModel("s", spectral_model("pl", index=2.2, amplitude=1e-11))])
    r_list = xg.fit([a, b], one)
    r_obs = xg.fit(concat_obs([a, b], name="ab"), one)
    np.testing.assert_allclose(r_obs.result.value.values, r_list.result.value.values, rtol=1e-6)
    assert r_obs.stat_sum == pytest.approx(r_list.stat_sum, rel=1e-10)
    # one source per dataset with the index linked: same index as the joint fit, separate amplitudes
    two = Models([SkyModel("sa", spectral_model("pl", index=2.2, amplitude=1e-11), datasets_names=("a",)),
                  SkyModel("sb", spectral_model("pl", index=2.2, amplitude=1e-11), datasets_names=("b",))])
    two = two.with_parameters(two.parameters.with_link(["sa.spectral.index", "sb.spectral.index"], "index"))
    r_two = xg.fit([a, b], two)
    assert list(r_two.result.param.values) == ["index", "sa.spectral.amplitude", "sb.spectral.amplitude"]
    fitted = r_two.models
    assert fitted["sa"].spectral.parameters["index"].value == fitted["sb"].spectral.parameters["index"].value
    assert float(r_two.result.value[0]) == pytest.approx(float(r_list.result.value[0]), abs=0.3 * float(r_list.result.error[0]))


def test_prior_pins_parameter():
    ds = fake(example_dataset(livetime=300.0), spectral_model("pl", index=2.6, amplitude=4e-11), seed=3)
    m = Models([SkyModel("s", spectral_model("pl", index=2.6, amplitude=4e-11))])
    free = xg.fit(ds, m)
    pinned = m.with_parameters(m.parameters.with_prior("s.spectral.index", GaussianPrior(mu=3.0, sigma=1e-4)))
    r = xg.fit(ds, pinned)
    assert float(r.result.value[0]) == pytest.approx(3.0, abs=1e-3)
    assert float(r.result.error[0]) < 1.1e-4 < float(free.result.error[0])


def test_fake_is_pure_and_npred_consistent():
    ds = example_dataset()
    before = ds.counts.values.copy()
    m = spectral_model("pl", index=2.6, amplitude=4e-11)
    f1, f2, f3 = fake(ds, m, seed=1), fake(ds, m, seed=1), fake(ds, m, seed=2)
    np.testing.assert_array_equal(ds.counts.values, before)
    np.testing.assert_array_equal(f1.counts.values, f2.counts.values)
    assert not np.array_equal(f1.counts.values, f3.counts.values)
    sig = npred_signal(ds, m)
    np.testing.assert_allclose(npred(ds, m), sig + npred_background(ds, m), rtol=1e-12)
    stacked = concat_obs([ds, ds.assign_attrs(obs_id=2)])
    assert npred_signal(stacked, m).dims == ("obs", "energy")
    lazy = stacked.chunk({"obs": 1})
    out = npred_signal(lazy, m)
    assert out.chunks is not None
    np.testing.assert_allclose(out.values, npred_signal(stacked, m).values, rtol=1e-12)


def test_obs_dim_fit_equals_list_fit():
    # (its speed is printed by benchmarks/bench_fit.py, not asserted here)
    ds = fake(example_dataset(), spectral_model("pl", index=2.6, amplitude=4e-11), seed=9)
    runs = [ds.assign_attrs(obs_id=i, name=f"r{i}") for i in range(4)]
    m = Models([SkyModel("s", spectral_model("pl", index=2.0, amplitude=1e-11))])
    r = xg.fit(concat_obs(runs), m)  # 4 obs x 20 bins
    r_list = xg.fit(runs, m)
    assert r.success and abs(r.models.parameters["s.spectral.index"].value - 2.6) < 0.2
    np.testing.assert_allclose(r.models.parameters.values, r_list.models.parameters.values,
                               rtol=1e-4)


def test_energy_scale_nuisance_recovers_shift():
    truth = spectral_model("pl", index=2.6, amplitude=4e-11)
    f = 1.1  # instrument b labels photons of energy E as 1.1 E: dN/dE'(E') = phi(E'/f) / f
    shifted = truth.with_values(amplitude=4e-11 * f ** (2.6 - 1))
    a = fake(example_dataset(), truth, seed=21).assign_attrs(name="a")
    b = fake(example_dataset(), shifted, seed=22).assign_attrs(name="b")
    m = Models([SkyModel("s", spectral_model("pl", index=2.4, amplitude=2e-11))])
    res = xg.fit([a, b], m, energy_scale={"b": 0.3})
    delta = res.result.sel(param="b.energy_scale")
    assert abs(float(delta.value) - 0.1) < 3 * float(delta.error) and float(delta.error) < 0.03
    assert "b.energy_scale" not in res.models.parameters.names
    # a vanishing prior width gives back the fit without nuisance parameters
    pinned = xg.fit([a, b], m, energy_scale={"b": 1e-8})
    plain = xg.fit([a, b], m)
    np.testing.assert_allclose(pinned.result.value.values[:2], plain.result.value.values, rtol=1e-5)
    with pytest.raises(KeyError):
        xg.fit([a, b], m, energy_scale={"c": 0.1})
