"""Tests of xgamma.estimators.profile (flux profiles): additivity over disjoint boxes, a radial
profile of an injected Gaussian against the analytic one, agreement with the excess map, region
strings, and the Crab flux from the H.E.S.S. runs against the reference 3D fit."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from astropy import units as u
from astropy.coordinates import SkyCoord
from scipy.special import erf
from scipy.stats import chi2

from xgamma import sky, stats
from xgamma.estimators import to_sed_type
from xgamma.estimators.core import read_zarr, write_zarr
from xgamma.estimators.excess_map import excess_map
from xgamma.estimators.profile import (
    annulus_regions,
    box_profile_regions,
    flux_profile,
    plot_profile,
    profile_distances,
)
from xgamma.testing import make_map_dataset

CRAB_RUNS = [23523, 23526, 23559, 23592]
CENTER = (10.0, 0.0)  # on the equator a CAR grid is locally flat: pixel offsets = sky offsets


def flat_dataset(counts, background, binsz=0.01, skydir=CENTER, exposure=1e10):
    return make_map_dataset(counts, background, binsz=binsz, skydir=skydir, exposure=exposure)


SIGMA, N_SRC, BKG, NPIX, BINSZ = 0.1, 3000.0, 0.3, 120, 0.01


def gaussian_expectation():
    """Expected counts of a symmetric Gaussian (sigma 0.1 deg, 3000 counts) integrated over the
    0.01 deg pixels of a 120 x 120 map centred on it, plus a flat background of 0.3."""
    off = (np.arange(NPIX) - (NPIX - 1) / 2) * BINSZ
    p = 0.5 * (erf((off + BINSZ / 2) / (np.sqrt(2) * SIGMA)) - erf((off - BINSZ / 2) / (np.sqrt(2) * SIGMA)))
    return N_SRC * p[:, None] * p[None, :] + BKG


@pytest.fixture(scope="module")
def gauss_counts():
    return np.random.default_rng(0).poisson(gaussian_expectation())[None].astype(float)


RADII = np.arange(0, 0.55, 0.05)
ANALYTIC = N_SRC * (np.exp(-RADII[:-1] ** 2 / (2 * SIGMA**2)) - np.exp(-RADII[1:] ** 2 / (2 * SIGMA**2)))


def test_annuli_match_analytic_gaussian(gauss_counts):
    regs = annulus_regions(CENTER, RADII)
    # noise-free: only the pixelisation of the annuli (pixel centres) separates the two
    exact = flux_profile(flat_dataset(gaussian_expectation()[None], BKG), regs)
    assert np.allclose(exact.npred_excess.values[:, 0], ANALYTIC, rtol=0.03, atol=0.01)
    assert exact.npred_excess.sum() == pytest.approx(ANALYTIC.sum(), rel=2e-3)
    # Poisson realisation: pulls against the analytic profile
    prof = flux_profile(flat_dataset(gauss_counts, BKG), regs)
    excess = prof.npred_excess.values[:, 0]
    err = np.sqrt(ANALYTIC + prof.npred_background.values[:, 0])
    pulls = (excess - ANALYTIC) / err
    assert (pulls**2).sum() < chi2.ppf(0.999, len(pulls))
    assert np.abs(pulls).max() < 3.5
    # errors: profile-likelihood errn < sqrt(N) < errp; flux = excess / exposure
    assert np.all(prof.norm_errn < prof.norm_err) and np.all(prof.norm_err < prof.norm_errp)
    flux = to_sed_type(prof, "flux")
    assert np.allclose(flux.flux.values[:, 0], excess / 1e10, rtol=1e-9)
    assert flux.flux.attrs["units"] == "cm-2 s-1"
    # distances: mid radii with the annulus edges; solid angle: pixel count x pixel area
    assert np.allclose(prof.distance, 0.5 * (RADII[1:] + RADII[:-1]))
    assert np.allclose(prof.distance_min, RADII[:-1]) and np.allclose(prof.distance_max, RADII[1:])
    assert np.allclose(prof.solid_angle, prof.n_pixels[:, 0] * np.radians(BINSZ) ** 2, rtol=1e-4)


def test_boxes_add_up_to_whole_region(gauss_counts):
    ds = flat_dataset(gauss_counts, BKG)
    start, stop = (CENTER[0], CENTER[1] - 0.45), (CENTER[0], CENTER[1] + 0.45)
    boxes = box_profile_regions(start, stop, 9, 0.105)
    prof = flux_profile(ds, boxes)
    whole = flux_profile(ds, box_profile_regions(start, stop, 1, 0.105))
    union = flux_profile(ds, ";".join(sky.region_to_string(b) for b in boxes))
    masks = np.stack([sky.region_mask(ds, b).values for b in boxes])
    assert masks.sum(axis=0).max() == 1  # disjoint
    assert prof.n_pixels.sum() == whole.n_pixels.sum() == union.n_pixels.sum() == 90 * 10
    for v in ("counts", "npred_background", "npred_excess"):
        assert float(prof[v].sum()) == pytest.approx(float(whole[v].sum()), rel=1e-12)
        assert float(union[v].sum()) == pytest.approx(float(whole[v].sum()), rel=1e-12)
    # along the line the distances are the box centres' offsets from the start
    assert np.allclose(prof.distance, 0.05 + 0.1 * np.arange(9), atol=1e-9)
    # the peak of the profile is the source at the middle box; the profile is symmetric (noise)
    ex = prof.npred_excess.values[:, 0]
    assert int(np.argmax(ex)) == 4
    assert np.abs(ex - ex[::-1]).max() < 4 * np.sqrt(prof.counts.values[:, 0] + prof.counts.values[::-1, 0]).max()


def test_box_geometry_galactic_and_diagonal():
    boxes = box_profile_regions(SkyCoord(184.0, -6.0, unit="deg", frame="galactic"),
                                SkyCoord(185.0, -5.0, unit="deg", frame="galactic"), 5, 0.2, frame="galactic")
    assert all(b.center.frame.name == "galactic" for b in boxes)
    centres = SkyCoord([b.center for b in boxes])
    step = centres[:-1].separation(centres[1:]).deg
    assert np.allclose(step, step[0], rtol=1e-6)
    length = float(SkyCoord(184.0, -6.0, unit="deg", frame="galactic").separation(
        SkyCoord(185.0, -5.0, unit="deg", frame="galactic")).deg)
    assert boxes[0].width.to_value("deg") == pytest.approx(length / 5, rel=1e-9)
    assert step == pytest.approx(length / 5, rel=1e-6)
    # points on the line between two centres are in a box; points 0.15 deg across it are not
    mid = centres[1].directional_offset_by(centres[1].position_angle(centres[2]), boxes[1].width * 0.4)
    assert sky.contains(boxes[1], mid)
    across = centres[1].directional_offset_by(centres[1].position_angle(centres[2]) + 90 * u.deg, 0.15 * u.deg)
    assert not sky.contains(boxes[1], across)
    d, lo, hi = profile_distances(boxes)
    assert np.allclose(d, (np.arange(5) + 0.5) * length / 5, rtol=1e-6)
    assert np.allclose(hi - lo, length / 5)


def test_region_strings_round_trip(tmp_path, gauss_counts):
    regs = annulus_regions(CENTER, [0, 0.1, 0.2]) + box_profile_regions((10, -0.2), (10.2, 0.2), 2, 0.05)
    prof = flux_profile(flat_dataset(gauss_counts, BKG), regs)
    for r, s in zip(regs, prof.region.values, strict=True):
        back = sky.region_from_string(str(s))
        assert type(back) is type(r)
        assert back.center.separation(r.center).deg < 1e-9
        assert sky.region_to_string(back) == s
    # the region strings select the same pixels
    again = flux_profile(flat_dataset(gauss_counts, BKG), list(prof.region.values))
    xr.testing.assert_allclose(again.counts, prof.counts)
    write_zarr(prof, tmp_path / "prof.zarr")
    back = read_zarr(tmp_path / "prof.zarr")
    assert list(back.region.values) == list(prof.region.values)
    assert np.allclose(back.distance, prof.distance) and back.distance.attrs["units"] == "deg"


def test_matches_excess_map_disk(gauss_counts):
    """A circle of the correlation radius around a pixel centre holds the same pixels as the
    excess map's top-hat disk there: same counts, background, significance, norm and limits."""
    ds = flat_dataset(gauss_counts, BKG)
    em = excess_map(ds, correlation_radius=0.05)
    c = sky.pix_to_sky(ds, 59, 59)
    prof = flux_profile(ds, f"icrs;circle({c.ra.deg},{c.dec.deg},0.0500001)")
    assert int(prof.n_pixels[0, 0]) == 81
    for v in ("counts", "npred_background", "npred_excess", "sqrt_ts", "norm", "norm_errn", "norm_errp",
              "norm_ul", "npred_ref"):
        assert float(prof[v][0, 0]) == pytest.approx(float(em[v][0, 59, 59]), rel=1e-6), v
    assert float(prof.sqrt_ts[0, 0]) == pytest.approx(
        float(stats.cash_significance(prof.counts[0, 0], prof.npred_background[0, 0])), rel=1e-12)


def test_bands_mask_dask_and_plot(gauss_counts):
    import matplotlib

    matplotlib.use("Agg")
    c2 = np.concatenate([gauss_counts, gauss_counts]) / 1.0
    ds = flat_dataset(c2, BKG)
    m = np.ones(c2.shape, bool)
    m[1] = False
    ds["mask_safe"] = (("energy", "y", "x"), m)
    regs = annulus_regions(CENTER, RADII)
    prof = flux_profile(ds, regs, energy_edges=[1, 3.2, 10])
    assert prof.sizes["energy"] == 2
    assert np.isnan(prof.counts.values[:, 1]).all() and not prof.valid.values[:, 1].any()
    one = flux_profile(flat_dataset(gauss_counts, BKG), regs)
    assert np.allclose(prof.counts.values[:, 0], one.counts.values[:, 0])
    # a region outside the map is invalid, not an error
    out = flux_profile(ds, "icrs;circle(50,50,0.1)")
    assert not bool(out.valid[0, 0]) and np.isnan(float(out.norm[0, 0]))
    lazy = flux_profile(ds.chunk({"y": 60}), regs, energy_edges=[1, 3.2, 10])
    xr.testing.assert_identical(lazy, prof)
    for q in ("flux", "excess", "sqrt_ts", "e2dnde"):
        ax = plot_profile(prof, q)
        assert len(ax.containers) == 1
    y = ax.containers[0].lines[0].get_ydata()
    assert np.allclose(y, to_sed_type(prof, "e2dnde").e2dnde.values[:, 0], equal_nan=True)


# ----------------------------------------------------------------------------- real data
def test_crab_profile_flux(crab3d_stacked, crab_reference):
    """The Crab's flux inside 0.3 deg (1-10 TeV, with the fitted spectral index as reference)
    against the reference 3D fit (Gammapy, gammapy_crab.json): equal up to the PSF containment
    beyond 0.3 deg (a few per cent) and the statistical error (~4 %)."""
    from xgamma.models import spectral_model

    ref = crab_reference["analysis_3d"]["fit"]["parameters"]
    st = crab3d_stacked
    crab = (ref["lon_0"]["value"], ref["lat_0"]["value"])
    pl = spectral_model("pl", index=ref["index"]["value"], amplitude=ref["amplitude"]["value"], reference=1.0)
    expected = float(pl.integral_values(np.array([1.0]), np.array([10.0]), list(pl.parameters.values))[0])
    prof = flux_profile(st, annulus_regions(crab, [0, 0.1, 0.2, 0.3, 0.5, 0.8]), spectral_model=pl)
    flux = to_sed_type(prof, "flux")
    inside = float(flux.flux.values[:3, 0].sum())  # measured: 0.959 x the fitted flux
    assert inside == pytest.approx(expected, rel=0.1)
    assert inside < expected * 1.02  # PSF tails beyond 0.3 deg
    total = float(flux.flux.values[:, 0].sum())  # measured: 1.048 (statistical error ~4 %)
    assert total == pytest.approx(expected, rel=0.12)
    # a point source: the significance falls with radius; nothing beyond 0.5 deg
    sig = prof.sqrt_ts.values[:, 0]
    assert sig[0] > 30 and np.all(np.diff(sig) < 0)  # measured: 34.8, 13.0, 7.5, 3.3, -0.4
    assert abs(sig[-1]) < 2
    ex = prof.npred_excess.values[:, 0]
    assert ex[0] > 0.5 * ex[:3].sum()
