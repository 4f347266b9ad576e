"""Tests of xgamma.estimators.excess_map: correlated excess/significance maps, peaks, significance
distribution. Analytic cases on synthetic maps; the H.E.S.S. Crab runs against Gammapy's
reference numbers (``analysis_3d.excess_map`` in gammapy_crab.json)."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from astropy.coordinates import SkyCoord

import xgamma as xg
from xgamma import sky, stats
from xgamma.estimators.excess_map import (
    correlate,
    energy_groups,
    excess_map,
    find_peaks,
    significance_distribution,
    tophat_kernel,
)
from xgamma.testing import make_map_dataset as flat_dataset

CRAB_RUNS = [23523, 23526, 23559, 23592]


def test_tophat_kernel_matches_disk_count():
    # Gauss circle problem: 81 lattice points within radius 5, 29 within 3, 1 within 0.5
    assert tophat_kernel(5.0).sum() == 81
    assert tophat_kernel(3.0).sum() == 29
    assert tophat_kernel(0.5).sum() == 1
    assert tophat_kernel(5.0).shape == (11, 11)


def test_correlate_sums_counts_in_disk():
    rng = np.random.default_rng(0)
    img = rng.poisson(1.0, (40, 40)).astype(float)
    k = tophat_kernel(3.0)
    out = correlate(img, k, integer=True)
    yy, xx = np.mgrid[:40, :40]
    for j, i in [(20, 20), (0, 5), (39, 39)]:
        direct = img[(yy - j) ** 2 + (xx - i) ** 2 <= 9].sum()
        assert out[j, i] == direct


@pytest.mark.parametrize("radius", [0.5, 1.0, 2.5, 5.0, 7.3])
def test_correlate_run_sums_match_fft(radius):
    # the top-hat is summed from cumulative sums along x; the FFT path (any kernel) agrees
    from scipy.signal import fftconvolve

    rng = np.random.default_rng(1)
    k = tophat_kernel(radius)
    for shape in [(2, 60, 45), (7, 9), (3, 4)]:
        img = rng.poisson(0.5, shape) * rng.uniform(0.5, 2.0, shape)
        fft = fftconvolve(img, k[(None,) * (img.ndim - 2)][..., ::-1, ::-1], mode="same", axes=(-2, -1))
        np.testing.assert_allclose(correlate(img, k), fft, rtol=0, atol=1e-12)
    # a kernel that is not one run of ones per row goes through the FFT
    ring = tophat_kernel(3.0) - np.pad(tophat_kernel(1.0), 2)
    img = rng.poisson(2.0, (30, 30)).astype(float)
    yy, xx = np.mgrid[:30, :30]
    r2 = (yy - 15) ** 2 + (xx - 12) ** 2
    assert correlate(img, ring, integer=True)[15, 12] == img[(r2 <= 9) & (r2 > 1)].sum()


def test_constant_map_zero_excess():
    ds = flat_dataset(np.full((2, 30, 30), 3.0), 3.0)
    res = excess_map(ds, correlation_radius=0.1)
    assert np.allclose(res.npred_excess, 0.0, atol=1e-9)
    assert np.allclose(res.sqrt_ts, 0.0, atol=1e-6)
    # interior pixels: 81 pixels x 2 energies x 3 counts
    assert float(res.counts[0, 15, 15]) == 81 * 2 * 3
    # norm error: sqrt(N) / reference counts of a pixel (flux 0.9e-12 x exposure 1e10 per bin... summed)
    ref = float(res.npred_ref[0, 15, 15])
    assert ref == pytest.approx(1e10 * 0.9e-12, rel=1e-6)
    assert float(res.norm_err[0, 15, 15]) == pytest.approx(np.sqrt(486) / ref, rel=1e-9)


def test_injected_source_significance_and_limits():
    rng = np.random.default_rng(2)
    bkg = 0.5
    counts = rng.poisson(bkg, (2, 40, 40)).astype(float)
    counts[:, 20, 20] += 40  # point source, 80 counts
    res = excess_map(flat_dataset(counts, bkg), correlation_radius=0.1)
    n = float(res.counts[0, 20, 20])
    b = float(res.npred_background[0, 20, 20])
    assert b == pytest.approx(81 * 2 * bkg)
    assert float(res.npred_excess[0, 20, 20]) == pytest.approx(n - b)
    assert float(res.sqrt_ts[0, 20, 20]) == pytest.approx(float(stats.cash_significance(n, b)), rel=1e-9)
    assert float(res.npred_excess[0, 20, 20]) == pytest.approx(80, abs=3 * np.sqrt(n))
    ul = float(res.norm_ul[0, 20, 20] * res.npred_ref[0, 20, 20])
    assert ul == pytest.approx(float(stats.counts_ul(n, mu_bkg=b, n_sigma=2)), rel=1e-9)
    # errn < err < errp for Poisson
    errn, errp = float(res.norm_errn[0, 20, 20]), float(res.norm_errp[0, 20, 20])
    assert errn < float(res.norm_err[0, 20, 20]) < errp
    # the peak is the source (the correlated map is flat within the 5-pixel disk around it)
    peaks = find_peaks(res.sqrt_ts, threshold=5, min_distance=0.2)
    assert np.hypot(peaks.x.iloc[0] - 20, peaks.y.iloc[0] - 20) <= 5


def test_energy_bands_add_up():
    rng = np.random.default_rng(3)
    ds = flat_dataset(rng.poisson(2.0, (2, 20, 20)), 2.0)
    one = excess_map(ds, 0.06)
    two = excess_map(ds, 0.06, energy_edges=[1, 3.2, 10])
    assert two.sizes["energy"] == 2
    assert np.allclose(two.counts.sum("energy"), one.counts[0])
    assert np.allclose(two.energy_max.values, [np.sqrt(10), 10])
    groups, _ = energy_groups(ds, [1, 3.2, 10])
    assert [g.tolist() for g in groups] == [[0], [1]]


def test_mask_gives_nan_and_excludes_counts():
    ds = flat_dataset(np.full((2, 20, 20), 1.0), 1.0)
    m = np.ones((2, 20, 20), bool)
    m[:, :, :5] = False
    ds["mask_safe"] = (("energy", "y", "x"), m)
    res = excess_map(ds, 0.06)
    assert np.isnan(res.sqrt_ts[0, 10, 2])
    assert float(res.counts[0, 10, 5]) == 2 * 18  # the 29-pixel disk (r = 3 px) cut to 7 + 5 + 5 + 1


def test_onoff_ring_matches_li_ma():
    from xgamma import testing

    ds = xg.reduce(testing.make_observation(n_events=3000, seed=4), testing.make_wcs_geom(width=3.0, binsz=0.1))
    rb = xg.ring_background(ds, r_in=0.5, width=0.3)
    res = excess_map(rb, correlation_radius=0.2)
    ok = np.isfinite(res.sqrt_ts.values[0]) & (res.counts_off.values[0] > 0)
    s = np.asarray(stats.li_ma_significance(res.counts.values[0][ok], res.counts_off.values[0][ok],
                                            res.alpha.values[0][ok]))
    assert np.allclose(res.sqrt_ts.values[0][ok], s, atol=1e-6)


def test_significance_distribution_gaussian():
    rng = np.random.default_rng(5)
    m = sky.make_map(rng.normal(0.1, 1.2, (120, 120)), xg.wcs_geom((0, 0), 12, 0.1))
    d = significance_distribution(m)
    assert d["mean"] == pytest.approx(0.1, abs=0.03)
    assert d["sigma"] == pytest.approx(1.2, rel=0.03)
    excl = xr.zeros_like(m, dtype=bool)
    excl[:60] = True
    assert significance_distribution(m, excl)["n"] == 60 * 120


# ----------------------------------------------------------------------------- real data
@pytest.fixture(scope="module")
def crab3d(crab3d_stacked, crab_reference):
    return crab_reference["analysis_3d"], crab3d_stacked


def test_crab_excess_map_reference(crab3d):
    ref, st = crab3d
    r = ref["excess_map"]
    res = excess_map(st, correlation_radius=0.1)
    x, y = sky.sky_to_pix(st, SkyCoord(83.633, 22.014, unit="deg"))
    i, j = int(np.floor(float(x) + 0.5)), int(np.floor(float(y) + 0.5))  # Gammapy's nearest pixel
    at = res.isel(energy=0, y=j, x=i)
    assert float(at.counts) == r["at_crab_position"]["counts"]  # 311
    assert float(at.sqrt_ts) == pytest.approx(r["at_crab_position"]["sqrt_ts"], rel=0.02)  # 34.53 vs 34.67
    assert float(at.npred_excess) == pytest.approx(r["at_crab_position"]["npred_excess"], rel=0.02)
    assert float(res.sqrt_ts.max()) == pytest.approx(r["max_sqrt_ts"], rel=0.02)  # 35.11 vs 35.25
    peaks = find_peaks(res.sqrt_ts, threshold=5, min_distance=0.5)
    assert abs(peaks.x.iloc[0] - float(x)) <= 1 and abs(peaks.y.iloc[0] - float(y)) <= 1
    # background-only pixels (outside 0.5 deg of the Crab): mean ~ 0, width ~ 1
    keep = sky.exclusion_mask(sky.drop_axes(st), "icrs;circle(83.633,22.014,0.5)")
    d = significance_distribution(res.sqrt_ts, keep)
    assert abs(d["mean"]) < 0.15 and d["sigma"] == pytest.approx(1.0, abs=0.15)
    # flux norm: positive at the Crab, flux map in physical units
    from xgamma.estimators.core import to_sed_type

    assert float(to_sed_type(res, "flux").flux.isel(energy=0, y=j, x=i)) > 0
