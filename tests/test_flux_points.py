"""Flux points: Crab 1D (4 H.E.S.S. runs) vs independent per-bin fits and the likelihood profile,
analytic Poisson upper limits, simulated pulls, joint/obs-dim/dask equivalence, 3D datasets."""

from __future__ import annotations

import math

import dask
import numpy as np
import pytest
import xarray as xr

import xgamma as xg
from xgamma.estimators.core import to_sed_type
from xgamma.estimators.flux_points import BinLikelihood, flux_points, snap_edges
from xgamma.fitting.fold import example_dataset, fake, npred_signal, spectrum_dataset
from xgamma.models import Models, SkyModel, spectral_model
from xgamma.models.params import Parameter
from xgamma.models.spectral import ScaleSpectralModel
from xgamma.obs import concat_obs

CRAB_RUNS = [23523, 23526, 23559, 23592]
EDGES = np.geomspace(0.4, 20, 11)  # the reference config's flux_points binning


def _fit_range(ds: xr.Dataset, lo: float = 0.6, hi: float = 20.0) -> xr.Dataset:
    m = (ds.energy_min >= lo * (1 - 1e-9)) & (ds.energy_max <= hi * (1 + 1e-9))
    return ds.assign(mask_fit=m)


@pytest.fixture(scope="module")
def crab(data):
    """The reference recipe of tests/test_crab_1d_reduction.py (crab_1d_config.yaml)."""
    from xgamma.reduction.spectrum import reduce_spectrum, stack_spectra

    store = xg.open_store(data / "hess-dl3-dr1")
    geom = xg.region_geom("icrs;circle(83.63,22.01,0.11)", axes=[xg.energy_axis(0.2, 30, 15)])
    et = xg.energy_axis(0.1, 60, 30, name="energy_true")
    runs = [reduce_spectrum(store.observation(o), geom, energy_true=et, containment_correction=True,
                            safe_mask=["aeff-default", "aeff-max"], safe_mask_params={"aeff_percent": 10})
            for o in CRAB_RUNS]
    runs = [_fit_range(d) for d in runs]
    stacked = _fit_range(stack_spectra(runs))
    res = xg.fit(stacked, Models([SkyModel("Crab", spectral_model("pl", index=2.5, amplitude=3e-11))]))
    assert res.success
    return runs, stacked, res.models


@pytest.fixture(scope="module")
def crab_fp(crab):
    _, stacked, models = crab
    return flux_points(stacked, models, "Crab", EDGES)


def _bin_models(models: Models, norm: float = 1.0) -> Models:
    src = models["Crab"]
    scaled = ScaleSpectralModel(src.spectral.with_frozen(), Parameter("norm", norm))
    return Models([SkyModel("Crab", scaled)])


def _bin_dataset(ds: xr.Dataset, lo: float, hi: float) -> xr.Dataset:
    inside = (ds.energy >= lo) & (ds.energy < hi)
    return ds.assign(mask_fit=ds.mask_fit & inside)


def test_flagged_bins_outside_fit_range(crab_fp):
    fp = crab_fp
    assert fp.sizes["energy"] == 10
    # edges snap to the dataset's reco edges (15 log bins 0.2-30 TeV)
    reco = np.geomspace(0.2, 30, 16)
    assert np.allclose(np.append(fp.energy_min.values, fp.energy_max.values[-1]), snap_edges(EDGES, reco))
    # 0.39-0.54, 0.54-0.76 and 15.4-21.5 TeV lie outside the 0.6-20 TeV fit range: flagged, not silent
    bad = ~fp.valid.values
    assert bad.tolist() == [True, True] + [False] * 7 + [True]
    assert not fp.success.values[bad].any() and np.isnan(fp.norm.values[bad]).all()
    assert fp.success.values[~bad].all()


def test_norms_match_independent_fits(crab, crab_fp):
    """Each bin's norm and Hesse error vs xg.fit of a fresh norm model on that bin alone."""
    _, stacked, models = crab
    fp = crab_fp
    for i in np.flatnonzero(fp.valid.values):
        lo, hi = float(fp.energy_min[i]), float(fp.energy_max[i])
        r = xg.fit(_bin_dataset(stacked, lo, hi), _bin_models(models), optimize_opts={"tol": 1e-4})
        p = r.models.parameters["Crab.spectral.norm"]
        np.testing.assert_allclose(fp.norm.values[i], p.value, rtol=1e-3)
        np.testing.assert_allclose(fp.norm_err.values[i], p.error, rtol=1e-2)
    # the Crab is detected in every valid bin, with norms near 1 for a power-law fit
    ok = fp.valid.values
    assert (fp.ts.values[ok] > 25).all()
    assert np.all(np.abs(fp.norm.values[ok] - 1) < 4 * fp.norm_err.values[ok])


def test_errors_match_likelihood_profile(crab, crab_fp):
    """stat(norm + errp) - stat_min = stat(norm - errn) - stat_min = 1, and the UL at 4."""
    _, stacked, models = crab
    fp = crab_fp
    for i in np.flatnonzero(fp.valid.values)[::2]:
        lo, hi = float(fp.energy_min[i]), float(fp.energy_max[i])
        d = _bin_dataset(stacked, lo, hi)
        n, ep, en, ul = (float(fp[v][i]) for v in ("norm", "norm_errp", "norm_errn", "norm_ul"))
        prof = xg.stat_profile(d, _bin_models(models), "Crab.spectral.norm", [n, n + ep, n - en, ul])
        s = prof.stat_scan.values
        np.testing.assert_allclose(s[1] - s[0], 1.0, atol=1e-3)
        np.testing.assert_allclose(s[2] - s[0], 1.0, atol=1e-3)
        np.testing.assert_allclose(s[3] - s[0], 4.0, atol=1e-3)
        np.testing.assert_allclose(s[0], float(fp.stat[i]), atol=1e-6)
        # xgamma.fit.confidence (MINOS-like profile with refit) agrees
        ci = xg.confidence(d, _bin_models(models, n), "Crab.spectral.norm")
        np.testing.assert_allclose([ci["errp"], ci["errn"]], [ep, en], rtol=2e-3)
        # errors are asymmetric the Poisson way: errp > errn
        assert ep > en


def test_scan_and_ts(crab, crab_fp):
    fp = crab_fp
    i = int(np.flatnonzero(fp.valid.values)[0])
    scan = fp.stat_scan.isel(energy=i)
    assert np.all(np.isfinite(scan))
    # the scan minimum is at the scan value nearest to the best norm, never below stat
    assert float(scan.min()) >= float(fp.stat[i]) - 1e-9
    np.testing.assert_allclose(fp.ts.values[i], fp.stat_null.values[i] - fp.stat.values[i])
    np.testing.assert_allclose(fp.sqrt_ts.values[i], math.sqrt(fp.ts.values[i]))
    sed = to_sed_type(fp, "e2dnde")
    # Crab e2dnde near 1 TeV ~ 4e-11 TeV cm-2 s-1
    assert 2e-11 < float(sed.e2dnde[i]) < 6e-11


def test_joint_list_obs_dim_and_stacked(crab):
    runs, stacked, models = crab
    fp_list = flux_points(runs, models, "Crab", EDGES)
    fp_obs = flux_points(concat_obs(runs), models, "Crab", EDGES)
    xr.testing.assert_allclose(fp_list, fp_obs, rtol=1e-10)
    fp_st = flux_points(stacked, models, "Crab", EDGES)
    ok = fp_st.valid.values
    # joint (WStat per run) and stacked (WStat on sums) differ a little, not more than 0.3 sigma
    d = (fp_list.norm - fp_st.norm).values[ok] / fp_st.norm_err.values[ok]
    assert np.all(np.abs(d) < 0.3)


def test_dask_schedulers_identical(crab):
    _, stacked, models = crab
    with dask.config.set(scheduler="synchronous"):
        a = flux_points(stacked, models, "Crab", EDGES)
    with dask.config.set(scheduler="threads", num_workers=2):
        b = flux_points(stacked, models, "Crab", EDGES, progress=True)
    xr.testing.assert_identical(a, b)  # timings: benchmarks/bench_estimators.py


def test_reoptimize_matches_fast_path_when_nothing_else_is_free(crab):
    _, stacked, models = crab
    fast = flux_points(stacked, models, "Crab", EDGES[4:7])
    slow = flux_points(stacked, models, "Crab", EDGES[4:7], reoptimize=True, selection_optional=("ul",))
    np.testing.assert_allclose(slow.norm, fast.norm, rtol=2e-3)
    np.testing.assert_allclose(slow.norm_ul, fast.norm_ul, rtol=2e-3)


# ---------------------------------------------------------------------------------------------
# analytic Poisson upper limits


def _zero_count_dataset(kind: str) -> xr.Dataset:
    e = xg.energy_axis(1, 10, 1)
    et = xg.energy_axis(1, 10, 1, name="energy_true")
    if kind == "cash":
        return spectrum_dataset(e, et, exposure=1e9, counts=[0.0], background=[3.0], name="zero")
    return spectrum_dataset(e, et, exposure=1e9, counts=[0.0], counts_off=[30.0], acceptance=0.1, name="zero")


@pytest.mark.parametrize("kind", ["cash", "wstat"])
@pytest.mark.parametrize("n_sigma_ul", [2.0, 3.0])
def test_upper_limit_zero_counts_analytic(kind, n_sigma_ul):
    """n = 0: stat = 2 mu_s + const, so the profile UL is mu_s = n_sigma_ul^2 / 2 signal counts."""
    ds = _zero_count_dataset(kind)
    ref = spectral_model("pl", index=2.0, amplitude=1e-12)
    m = Models([SkyModel("src", ref)])
    fp = flux_points(ds, m, "src", [1, 10], n_sigma_ul=n_sigma_ul)
    ref_counts = float(npred_signal(ds, ref).sum())  # exposure-weighted reference flux in the bin
    expected = n_sigma_ul**2 / 2 / ref_counts
    ul = float(fp.norm_ul[0])
    assert np.isfinite(ul) and ul > 0
    np.testing.assert_allclose(ul, expected, rtol=1e-6)
    assert bool(fp.is_ul[0]) and bool(fp.success[0])
    # flux UL = signal-count UL divided by the exposure times the bin's reference flux
    flux_ul = float(to_sed_type(fp, "flux").flux_ul[0])
    np.testing.assert_allclose(flux_ul, n_sigma_ul**2 / 2 / 1e9, rtol=1e-6)


def test_bin_likelihood_gaussian_limit():
    # many counts, no background: norm = n / s, Hesse error sqrt(n) / s
    b = BinLikelihood(n=np.array([400.0, 600.0]), s=np.array([500.0, 500.0]), k=np.zeros(2))
    r = b.solve()
    np.testing.assert_allclose(r["norm"], 1.0, rtol=1e-10)
    np.testing.assert_allclose(r["norm_err"], math.sqrt(1000) / 1000, rtol=1e-8)


# ---------------------------------------------------------------------------------------------
# simulation


def test_pulls_on_simulations():
    """Fake ON/OFF datasets with a known flux: norm pulls have mean 0 and width 1."""
    truth = Models([SkyModel("src", spectral_model("pl", index=2.6, amplitude=4e-11))])
    base = example_dataset(livetime=1800.0)
    edges = [0.3, 1, 3]  # >= ~25 counts per bin (the pull is Gaussian only with enough counts)
    pulls = []
    for seed in range(200):
        ds = fake(base, truth, seed=seed)
        fp = flux_points(ds, truth, "src", edges, selection_optional=())
        pulls.append(((fp.norm - 1) / fp.norm_err).values)
    p = np.concatenate(pulls)
    assert np.isfinite(p).all()
    assert abs(p.mean()) < 0.15, p.mean()
    assert abs(p.std() - 1) < 0.15, p.std()


# ---------------------------------------------------------------------------------------------
# 3D


def test_map_dataset_recovers_norm():
    from xgamma import testing
    from xgamma.fitting.fold_map import npred_map
    from xgamma.models.spatial import spatial_model

    ds = xg.reduce(testing.make_observation(n_events=500), testing.make_wcs_geom(width=1.0, binsz=0.05))
    src = SkyModel("src", spectral_model("pl", index=2.5, amplitude=3e-11),
                   spatial_model("point", lon_0=83.633, lat_0=22.014))
    models = Models([src])
    mu = 1.5 * npred_map(ds, models, component="src") + npred_map(ds, models, component="background")
    ds = ds.assign(counts=mu)  # Asimov counts of a source 1.5 x the reference
    e = np.append(ds.energy_min.values, ds.energy_max.values[-1])
    fp = flux_points(ds, models, "src", e[::2])
    ok = fp.valid.values
    assert ok.any()
    np.testing.assert_allclose(fp.norm.values[ok], 1.5, rtol=1e-6)
