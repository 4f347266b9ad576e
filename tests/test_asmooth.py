"""Tests of xgamma.estimators.asmooth (adaptive smoothing). Synthetic Poisson maps with known
content (flat background, injected point source) and the H.E.S.S. Crab runs."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from astropy.coordinates import SkyCoord

from xgamma import sky, stats
from xgamma.estimators.asmooth import asmooth, asmooth_kernel, asmooth_scales, plot_asmooth
from xgamma.testing import make_map_dataset as flat_dataset

CRAB_RUNS = [23523, 23526, 23559, 23592]
SCALES = [0.04, 0.08, 0.16]  # deg: 2, 4, 8 pixels of 0.02 deg


@pytest.fixture(scope="module")
def poisson_maps():
    """Flat Poisson background (2 per pixel and bin) on 100 x 100 pixels, with and without a
    60-count point source at the centre pixel (50, 50)."""
    rng = np.random.default_rng(11)
    c = rng.poisson(2.0, (2, 100, 100)).astype(float)
    src = c.copy()
    src[:, 50, 50] += 30
    return c, src


def test_kernels():
    g = asmooth_kernel(2.0, "gauss")
    assert g.shape == (17, 17) and g.max() == 1.0 and g[8, 8] == 1.0
    # pixel-integrated Gaussian: sum / peak ~ 2 pi sigma^2 (1 + O(1 / (12 sigma^2)))
    assert g.sum() == pytest.approx(2 * np.pi * 4 * (1 + 1 / (12 * 4)), rel=3e-3)
    t = asmooth_kernel(5.0, "tophat")
    assert t.sum() == pytest.approx(np.pi * 25, rel=0.02)  # disk area in pixels
    assert np.allclose(g, g[::-1, ::-1]) and np.allclose(t, t.T)
    s = asmooth_scales(4, kernel="gauss", pixel_size=0.02)
    assert s[0] == pytest.approx(0.02 / np.sqrt(9 * np.pi)) and np.allclose(s[1:] / s[:-1], np.sqrt(2))
    with pytest.raises(ValueError):
        asmooth_kernel(1.0, "box")


def test_flat_map_gives_largest_scale(poisson_maps):
    c, _ = poisson_maps
    res = asmooth(flat_dataset(c, 2.0), SCALES, threshold=5)
    scale = res.scale.values[0]
    assert np.mean(scale == SCALES[-1]) > 0.99
    assert np.mean(~res.significant.values[0]) > 0.99  # flagged: no scale reached 5 sigma
    assert res.scale.attrs["units"] == "deg" and dict(res.scale.sizes) == {"energy": 1, "y": 100, "x": 100}
    # interior: the smoothed background is the mean (4 per pixel, 2 bins) and the smoothed counts
    # are within a few per cent of it (Gaussian sigma 8 px: ~ 400 effective pixels)
    inner = np.s_[0, 33:-33, 33:-33]  # the 65-pixel kernel lies inside the map
    assert np.allclose(res.background.values[inner], 4.0, rtol=1e-9)
    assert np.abs(res.counts.values[inner] / 4.0 - 1).max() < 0.1
    # sqrt_ts at the largest scale is the Cash significance of the convolved maps
    k = asmooth_kernel(8.0)
    from xgamma.estimators.excess_map import correlate

    n_c = correlate(c.sum(0), k)[50, 50]
    assert float(res.sqrt_ts[0, 50, 50]) == pytest.approx(float(stats.cash_significance(n_c, 4.0 * k.sum())), rel=1e-9)


def test_point_source_gets_smallest_scale(poisson_maps):
    _, src = poisson_maps
    res = asmooth(flat_dataset(src, 2.0), SCALES, threshold=5)
    scale = res.scale.values[0]
    assert scale[50, 50] == SCALES[0]
    assert bool(res.significant[0, 50, 50]) and float(res.sqrt_ts[0, 50, 50]) > 5
    assert np.mean(scale == SCALES[-1]) > 0.98  # the rest stays at the largest scale
    # the smallest scale is used only close to the source
    jj, ii = np.nonzero(scale == SCALES[0])
    assert np.hypot(jj - 50, ii - 50).max() <= 3
    # the smoothed flux at the source: excess / exposure smoothed by the smallest normalised kernel
    k = asmooth_kernel(2.0)
    excess = src.sum(0) - 4.0
    expect = float((excess[42:59, 42:59] * k).sum() / k.sum()) / 1e10
    assert float(res.flux[0, 50, 50]) == pytest.approx(expect, rel=1e-6)
    assert res.flux.attrs["units"] == "cm-2 s-1"


def test_counts_conserved():
    """A unit-sum kernel keeps the total: counts confined to the centre (zero border wider than
    the largest kernel) are conserved by the smoothing at any single scale."""
    rng = np.random.default_rng(3)
    c = np.zeros((2, 140, 140))
    c[:, 40:-40, 40:-40] = rng.poisson(2.0, (2, 60, 60))
    for thr in (5.0, 1e9, -1e9):  # all largest, all largest, all smallest
        res = asmooth(flat_dataset(c, 2.0), SCALES, threshold=thr)
        assert len(np.unique(res.scale.values)) == 1
        assert float(res.counts.sum()) == pytest.approx(c.sum(), rel=1e-3)
        assert float(res.counts.sum()) == pytest.approx(c.sum(), rel=1e-8)
    # mixed scales (a faint source at the smallest scale) conserve it only approximately
    c[:, 70, 70] += 30
    res = asmooth(flat_dataset(c, 2.0), SCALES, threshold=5)
    assert len(np.unique(res.scale.values)) > 1
    assert float(res.counts.sum()) == pytest.approx(c.sum(), rel=5e-3)


def test_counts_conserved_away_from_edges(poisson_maps):
    """On the open flat Poisson map the interior sum matches the raw counts within the
    boundary fluctuations (< 1e-3 on a 94 x 94 interior of a high-count map; the interior starts
    beyond the reach of the largest kernel, 32 pixels, from the map edge)."""
    rng = np.random.default_rng(5)
    c = rng.poisson(50.0, (1, 160, 160)).astype(float)
    res = asmooth(flat_dataset(c, 50.0), SCALES, threshold=5)
    assert (res.scale.values == SCALES[-1]).all()
    inner = np.s_[33:-33, 33:-33]
    assert float(res.counts.values[0][inner].sum()) == pytest.approx(c[0][inner].sum(), rel=1e-3)


def test_threshold_monotonic(poisson_maps):
    _, src = poisson_maps
    ds = flat_dataset(src, 2.0)
    prev = None
    n_small = []
    for thr in (2.0, 3.0, 5.0, 8.0, 20.0):
        scale = asmooth(ds, SCALES, threshold=thr).scale.values[0]
        if prev is not None:
            assert np.all(scale >= prev)
        prev = scale
        n_small.append(int((scale == SCALES[0]).sum()))
    assert n_small[0] > n_small[2] > 0 and n_small[-1] == 0


def test_tophat_method_energy_bands_mask_and_dask(poisson_maps):
    _, src = poisson_maps
    ds = flat_dataset(src, 2.0)
    m = np.ones(src.shape, bool)
    m[:, :, :10] = False
    ds["mask_safe"] = (("energy", "y", "x"), m)
    res = asmooth(ds, SCALES, kernel="tophat", threshold=3, energy_edges=[1, 3.2, 10])
    assert res.sizes["energy"] == 2
    assert np.isnan(res.counts.values[:, :, :10]).all() and not res.significant.values[:, :, :10].any()
    assert (res.scale.values[:, 50, 50] == SCALES[0]).all()
    alt = asmooth(ds, SCALES, kernel="tophat", threshold=3, energy_edges=[1, 3.2, 10], method="asmooth")
    # (N - B) / sqrt(N + B) is below the Cash significance for an excess
    assert float(alt.sqrt_ts[0, 50, 50]) < float(res.sqrt_ts[0, 50, 50])
    lazy = asmooth(ds.chunk({"y": 50}), SCALES, kernel="tophat", threshold=3, energy_edges=[1, 3.2, 10])
    xr.testing.assert_identical(lazy, res)
    with pytest.raises(ValueError, match="increasing"):
        asmooth(ds, [0.1, 0.05])


def test_plot(poisson_maps):
    import matplotlib

    matplotlib.use("Agg")
    _, src = poisson_maps
    res = asmooth(flat_dataset(src, 2.0), SCALES, threshold=5)
    ax = plot_asmooth(res, "flux")
    img = ax.images[0].get_array()
    assert img.shape == (100, 100) and np.nanmax(img) == pytest.approx(float(res.flux.max()))


# ----------------------------------------------------------------------------- real data
def test_crab_asmooth(crab3d_stacked):
    st = crab3d_stacked
    res = asmooth(st, [0.02, 0.04, 0.08, 0.16, 0.32], kernel="gauss", threshold=5)
    x, y = sky.sky_to_pix(st, SkyCoord(83.633, 22.014, unit="deg"))
    i, j = int(np.rint(float(x))), int(np.rint(float(y)))
    at = res.isel(energy=0, y=j, x=i)
    assert float(at.scale) == 0.02 and bool(at.significant)  # the Crab: the smallest scale
    assert float(at.sqrt_ts) > 5
    # the brightest smoothed-flux pixel is the Crab
    f = res.flux.values[0]
    jm, im = np.unravel_index(np.nanargmax(f), f.shape)
    assert abs(jm - j) <= 2 and abs(im - i) <= 2
    # background-only pixels (beyond 0.5 deg from the Crab): almost all at the largest scale
    far = sky.separation(sky.drop_axes(st), (83.633, 22.014)).values > 0.5
    ok = far & np.isfinite(res.scale.values[0])
    assert np.mean(res.scale.values[0][ok] == 0.32) > 0.95
    # the smoothed background at the Crab (sigma = 1 pixel) is the local mean of the smooth
    # background model: the mean over the pixels within 0.1 deg
    near = sky.separation(sky.drop_axes(st), (83.633, 22.014)).values < 0.1
    b_raw = (st.background * st.mask_safe).sum("energy").values
    assert float(at.background) == pytest.approx(float(b_raw[near].mean()), rel=0.02)
