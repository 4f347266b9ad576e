"""Tests of xgamma.estimators.ts_map: the per-pixel norm fit (analytic cases, simulation
recovery, TS of empty maps), tiling with dask, and the H.E.S.S. Crab field against xgamma's
own 3D fit with the same point-source kernel."""

from __future__ import annotations

import dask
import numpy as np
import pytest
from astropy.coordinates import SkyCoord

import xgamma as xg
from xgamma import sky, stats
from xgamma.estimators.ts_map import solve_ts, ts_kernel, ts_map
from xgamma.testing import make_map_dataset as flat_dataset


@pytest.fixture(scope="module")
def crab3d(crab3d_stacked, crab_reference):
    return crab_reference["analysis_3d"], crab3d_stacked


def gauss_kernel(sigma=1.5, half=5):
    yy, xx = np.mgrid[-half:half + 1, -half:half + 1]
    k = np.exp(-0.5 * (xx**2 + yy**2) / sigma**2)
    return k / k.sum()


def cash_at(n, b, x, k, j, i, s):
    """Direct Cash statistic of the model b + s x K(. - p) around pixel (j, i)."""
    h = k.shape[0] // 2
    sl = (slice(j - h, j + h + 1), slice(i - h, i + h + 1))
    mu = b[sl] + s * x[sl] * k
    return float(np.sum(stats.cash(n[sl], mu)))


def test_single_pixel_kernel_analytic():
    n = np.array([[0.0, 3.0, 10.0]])
    b = np.full((1, 3), 4.0)
    x = np.full((1, 3), 2.0)
    k = np.zeros((1, 1)) + 1.0
    r = solve_ts(n, b, x, k)
    assert np.allclose(r["norm"][0, 1:], (n[0, 1:] - 4.0) / 2.0, rtol=1e-7)
    ts = 2 * (n * np.log(np.where(n > 0, n, 1) / 4.0) - (n - 4.0))
    assert np.allclose(r["ts"][0, 1:], ts[0, 1:], rtol=1e-7)
    # zero counts: the norm sits at the bound mu = 0 (s = -b / x), TS = 2 b
    assert r["norm"][0, 0] == pytest.approx(-2.0)
    assert r["ts"][0, 0] == pytest.approx(8.0)
    # error: 1 / sqrt(n x^2 / mu^2) = sqrt(n) / x
    assert r["norm_err"][0, 2] == pytest.approx(np.sqrt(10) / 2, rel=1e-6)


def test_fit_matches_direct_likelihood_and_upper_limit():
    rng = np.random.default_rng(1)
    k = gauss_kernel()
    b = np.full((40, 40), 0.8)
    x = np.full((40, 40), 50.0)
    mu = b.copy()
    mu[15:26, 15:26] += 1.0 * x[15:26, 15:26] * k  # source of norm 1 (50 counts) at (20, 20)
    n = rng.poisson(mu).astype(float)
    r = solve_ts(n, b, x, k, n_sigma_ul=2.0)
    for j, i in [(20, 20), (10, 30), (25, 12)]:
        s = r["norm"][j, i]
        grid = np.linspace(s - 0.3, s + 0.3, 7)
        stat = [cash_at(n, b, x, k, j, i, v) for v in grid]
        assert np.argmin(stat) == 3  # the minimum of the direct statistic
        assert r["ts"][j, i] == pytest.approx(cash_at(n, b, x, k, j, i, 0) - cash_at(n, b, x, k, j, i, s), rel=1e-8)
        ul = r["norm_ul"][j, i]
        assert cash_at(n, b, x, k, j, i, ul) - cash_at(n, b, x, k, j, i, s) == pytest.approx(4.0, abs=1e-4)
    assert r["norm"][20, 20] == pytest.approx(1.0, abs=3 * r["norm_err"][20, 20])
    assert r["ts"][20, 20] > 25


def test_recovered_amplitude_pulls():
    """Many simulated sources: pull (norm - 1) / norm_err has mean ~0 and width ~1."""
    rng = np.random.default_rng(7)
    k = gauss_kernel(1.2, 4)
    pulls = []
    for _ in range(150):
        b = np.full((9, 9), 2.0)
        x = np.full((9, 9), 40.0)
        n = rng.poisson(b + x * k).astype(float)
        r = solve_ts(n, b, x, k, out=(slice(4, 5), slice(4, 5)), n_sigma_ul=None)
        pulls.append((r["norm"][0, 0] - 1.0) / r["norm_err"][0, 0])
    pulls = np.array(pulls)
    assert abs(pulls.mean()) < 0.25
    assert pulls.std() == pytest.approx(1.0, abs=0.2)


def test_empty_map_ts_is_chi2():
    """Pure background: TS follows chi2(1) (norm may be negative), sqrt_ts ~ N(0, 1)."""
    rng = np.random.default_rng(3)
    k = gauss_kernel(1.0, 3)
    b = np.full((120, 120), 3.0)
    x = np.full((120, 120), 30.0)
    n = rng.poisson(b).astype(float)
    r = solve_ts(n, b, x, k, n_sigma_ul=None)
    inner = (slice(3, -3), slice(3, -3))
    ts = r["ts"][inner]
    sq = np.sign(r["norm"][inner]) * np.sqrt(ts)
    assert ts.mean() == pytest.approx(1.0, abs=0.15)
    assert abs(sq.mean()) < 0.1 and sq.std() == pytest.approx(1.0, abs=0.1)
    assert r["success"].all()


def test_ts_map_flat_dataset_point_source():
    rng = np.random.default_rng(5)
    counts = rng.poisson(0.5, (2, 30, 30)).astype(float)
    counts[:, 12, 17] += 20
    ds = flat_dataset(counts, 0.5)
    res = ts_map(ds, kernel_width=0.1, selection_optional=["ul"])
    j, i = np.unravel_index(int(np.nanargmax(res.ts.values[0])), (30, 30))
    assert (j, i) == (12, 17)
    # no PSF: a one-pixel kernel, norm = excess / reference counts
    ref = 1e10 * 0.9e-12
    assert float(res.norm[0, 12, 17]) == pytest.approx((counts[:, 12, 17].sum() - 1.0) / ref, rel=1e-6)
    assert float(res.norm_ul[0, 12, 17]) > float(res.norm[0, 12, 17])


def test_tiles_equal_serial_and_threads(crab3d):
    _, st = crab3d
    sub = sky.cutout(st, SkyCoord(83.633, 22.014, unit="deg"), 1.6)
    one = ts_map(sub, tile_size=None, selection_optional="all")
    with dask.config.set(scheduler="threads", num_workers=2):
        tiled = ts_map(sub, tile_size=24, selection_optional="all")
    with dask.config.set(scheduler="sync"):
        tiled_sync = ts_map(sub, tile_size=24, selection_optional="all")
    for v in ("norm", "ts", "norm_err", "norm_ul", "npred", "counts"):
        np.testing.assert_allclose(tiled[v].values, one[v].values, rtol=1e-9, atol=1e-9)
        np.testing.assert_array_equal(tiled[v].values, tiled_sync[v].values)


def test_crab_ts_map(crab3d):
    from xgamma.models import BackgroundModel, Models, SkyModel, spectral_model
    from xgamma.models.spatial import spatial_model

    _, st = crab3d
    ts_map(st, tile_size=64)  # warm-up (imports, FFT plans)
    res = ts_map(st)
    v = res.ts.values[0]
    j, i = np.unravel_index(int(np.nanargmax(v)), v.shape)
    # the fitted Crab position (reference fit: 83.619, 22.025) within one pixel
    x, y = sky.sky_to_pix(st, SkyCoord(83.619, 22.0248, unit="deg"))
    assert abs(i - float(x)) <= 1 and abs(j - float(y)) <= 1
    # the 3D fit with the same kernel (point source, PL index 2, background fixed)
    spec = spectral_model("pl", index=2.0, amplitude=3e-11).with_frozen("index")
    src = SkyModel("crab", spec, spatial_model("point", lon_0=83.62, lat_0=22.02))
    bkg = BackgroundModel(("stacked",), spectral_model("pl-norm").with_frozen(["norm", "tilt"]))
    ts_fit = xg.ts(st, Models([src, bkg]), "crab")
    assert v[j, i] == pytest.approx(ts_fit, rel=0.05)  # 1573.6 vs 1552.2
    assert float(res.norm[0, j, i]) > 0 and bool(res.success[0, j, i])
    # downsampled by 2: same peak within 2 fine pixels, TS within 10 %
    res2 = ts_map(st, downsampling_factor=2)
    v2 = res2.ts.values[0]
    j2, i2 = np.unravel_index(int(np.nanargmax(v2)), v2.shape)
    assert abs(j2 - j) <= 2 and abs(i2 - i) <= 2
    assert v2[j2, i2] == pytest.approx(v[j, i], rel=0.1)


def test_kernel_normalised_and_centred(crab3d):
    _, st = crab3d
    k = ts_kernel(st, kernel_width=0.5)
    assert k.shape == (1, 25, 25) or k.shape == (1, 27, 27)
    assert k.sum() == pytest.approx(1.0)
    h = k.shape[-1] // 2
    assert k[0, h, h] == k.max()
