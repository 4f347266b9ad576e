"""Tests of xgamma.background: template evaluation, FoV frames, FoV normalisation, ring."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from astropy.coordinates import AltAz, SkyCoord
from astropy.time import Time, TimeDelta

import xgamma as xg
from xgamma import sky, testing
from xgamma.reduction.background import (
    _altaz_rotation,
    _ring_kernel,
    fov_background,
    fov_coordinates,
    integrate_loglog,
    make_background,
    ring_background,
)
from xgamma.reduction.events import fov_coords


def test_integrate_loglog_power_laws():
    x = np.geomspace(0.1, 100, 7)
    for index in (2.7, 1.0, 0.0, -1.5):
        y = 3.0 * x ** (-index)
        got = integrate_loglog(y, x)
        if index == 1.0:
            exact = 3.0 * np.log(x[1:] / x[:-1])
        else:
            exact = 3.0 * (x[1:] ** (1 - index) - x[:-1] ** (1 - index)) / (1 - index)
        np.testing.assert_allclose(got, exact, rtol=1e-10)
    # zero lower value -> 0, along another axis
    y2 = np.stack([x**-2.0, np.where(x < 1, 0.0, x**-2.0)], axis=1)
    out = integrate_loglog(y2, x, axis=0)
    assert out.shape == (6, 2) and (out[:2, 1] == 0).all() and (out[2:, 1] > 0).all()


def test_fov_coordinates_match_skyoffsetframe():
    """RADEC alignment: longitude and latitude of astropy's SkyOffsetFrame (Gammapy's map
    maker uses them without a sign flip; the flip of ``sky_to_fov`` is for ALTAZ)."""
    rng = np.random.default_rng(1)
    ra = 83.6 + rng.uniform(-3, 3, 200)
    dec = 22.0 + rng.uniform(-3, 3, 200)
    lon, lat = fov_coordinates(ra, dec, (83.6, 22.5))
    ref = SkyCoord(ra, dec, unit="deg").transform_to(
        SkyCoord(83.6, 22.5, unit="deg").skyoffset_frame())
    np.testing.assert_allclose(lon, ref.lon.wrap_at("180d").deg, atol=1e-9)
    np.testing.assert_allclose(lat, ref.lat.deg, atol=1e-9)
    assert lon[ra > 83.6 + 0.5].min() > 0  # east is positive
    # xgamma.events.fov_coords uses the opposite longitude sign
    ev = fov_coords(pd.DataFrame({"ra": ra, "dec": dec}), 83.6, 22.5)
    np.testing.assert_allclose(np.abs(lon), np.abs(ev.fov_lon.values), atol=1e-9)


def test_altaz_rotation_matches_direct_transform():
    """RADEC FoV coords rotated by the parallactic angle = Gammapy's ALTAZ FoV coords computed
    with a full astropy Alt/Az transform of every position (sky_to_fov with the lon flip)."""
    obs = testing.make_observation(n_events=1)
    loc = xg.background._location(obs)
    t = obs.time_ref + TimeDelta(obs.tstart + 600.0, format="sec")
    pnt = (obs.pointing["ra"], obs.pointing["dec"])
    rng = np.random.default_rng(2)
    ra = pnt[0] + rng.uniform(-2.5, 2.5, 100)
    dec = pnt[1] + rng.uniform(-2.5, 2.5, 100)
    angle = _altaz_rotation(pnt, Time([t]), loc)[0]
    lon, lat = fov_coordinates(ra, dec, pnt, rotation=angle)
    frame = AltAz(obstime=t, location=loc)
    aa = SkyCoord(ra, dec, unit="deg").transform_to(frame)
    p = SkyCoord(*pnt, unit="deg").transform_to(frame)
    off = SkyCoord(aa.az, aa.alt).transform_to(SkyCoord(p.az, p.alt).skyoffset_frame())
    np.testing.assert_allclose(lon, -off.lon.wrap_at("180d").deg, atol=2e-3)
    np.testing.assert_allclose(lat, off.lat.deg, atol=2e-3)


def test_altaz_background():
    """ALTAZ alignment: a radially symmetric template is unchanged; an asymmetric one rotates."""
    o = testing.make_observation(n_events=10, source=None)
    g = testing.make_wcs_geom(center=(83.633, 21.514), width=3.0, binsz=0.1)
    rad = make_background(o, g)
    o_az = replace(o, bkg=o.bkg.assign_attrs(fovalign="ALTAZ"))
    np.testing.assert_allclose(make_background(o_az, g), rad, rtol=5e-3)  # grid interpolation
    grad = testing.make_bkg(gradient=0.3, rate=1.0)
    a = make_background(replace(o, bkg=grad), g)
    b = make_background(replace(o, bkg=grad.assign_attrs(fovalign="ALTAZ")), g)
    assert np.abs(b / a - 1).max() > 0.05  # the gradient points elsewhere
    np.testing.assert_allclose(b.sum(), a.sum(), rtol=0.02)  # same total (rotation only)
    # no observatory location
    with pytest.raises(xg.ReductionError, match="observatory location"):
        make_background(replace(o, bkg=grad.assign_attrs(fovalign="ALTAZ"), meta={}), g)


@pytest.fixture(scope="module")
def ds():
    obs = testing.make_observation(n_events=20000, source=(83.633, 22.014), source_fraction=0.05,
                                   seed=5)
    g = testing.make_wcs_geom(center=(83.633, 21.514), width=4.0, binsz=0.05,
                              energy=xg.energy_axis(0.1, 30, 6))
    return xg.reduce(obs, g, products=["counts", "background"], offset_max=2.0)


def test_fov_scale_exact(ds):
    excl = sky.exclusion_mask(sky.drop_axes(ds), "icrs;circle(83.633,22.014,0.4)")
    out = fov_background(ds, exclusion_mask=excl)
    m = ds.mask_safe & excl
    norm = float((ds.counts * m).sum() / (ds.background * m).sum())
    assert float(out.fov_bkg_norm) == pytest.approx(norm, rel=1e-12)
    np.testing.assert_allclose(out.background.values, ds.background.values * norm)
    # background events follow the template: norm ~ 1
    assert abs(norm - 1) < 0.03
    # without the exclusion the source inflates the norm
    assert float(fov_background(ds).fov_bkg_norm) > norm + 0.02
    # fit without tilt = scale
    fit = fov_background(ds, exclusion_mask=excl, method="fit")
    assert float(fit.fov_bkg_norm) == pytest.approx(norm, rel=1e-9)
    # the input is untouched
    assert "fov_bkg_norm" not in ds


def test_exclusion_on_other_geometry(ds):
    big = sky.exclusion_mask(xg.wcs_geom((83.633, 22.0), 10.0, 0.02),
                             "icrs;circle(83.633,22.014,0.4)")
    same = sky.exclusion_mask(sky.drop_axes(ds), "icrs;circle(83.633,22.014,0.4)")
    a = fov_background(ds, exclusion_mask=big)
    b = fov_background(ds, exclusion_mask=same)
    assert float(a.fov_bkg_norm) == pytest.approx(float(b.fov_bkg_norm), rel=2e-3)


def test_fov_fit_recovers_tilt(ds):
    e = ds.energy
    truth = ds.background * 1.3 * (e / 1.0) ** -0.2
    d = ds.assign(counts=truth.transpose(*ds.counts.dims))
    out = fov_background(d, method="fit", spectral_tilt=True)
    assert float(out.fov_bkg_norm) == pytest.approx(1.3, rel=1e-4)
    assert float(out.fov_bkg_tilt) == pytest.approx(0.2, abs=1e-4)
    m = d.mask_safe
    np.testing.assert_allclose(float((out.background * m).sum()), float((truth * m).sum()),
                               rtol=1e-5)


def test_fov_obs_dim(ds):
    d2 = ds.assign(counts=ds.counts * 2)
    cat = xr.concat([ds, d2], dim="obs")
    out = fov_background(cat)
    n1 = float(fov_background(ds).fov_bkg_norm)
    np.testing.assert_allclose(out.fov_bkg_norm.values, [n1, 2 * n1], rtol=1e-12)
    assert out.background.dims == cat.background.dims


def test_fov_empty_exclusion_area(ds):
    everything = xr.zeros_like(ds.counts.isel(energy=0), dtype=bool)
    with pytest.warns(UserWarning, match="no counts outside the exclusion"):
        out = fov_background(ds, exclusion_mask=everything)
    assert float(out.fov_bkg_norm) == 1.0
    np.testing.assert_array_equal(out.background.values, ds.background.values)
    with pytest.raises(ValueError, match="method"):
        fov_background(ds, method="median")


def test_ring_kernel_area():
    g = testing.make_wcs_geom(width=4.0, binsz=0.02)
    k = _ring_kernel(g, 0.5, 0.3)
    area = k.sum() * 0.02**2
    assert area == pytest.approx(np.pi * (0.8**2 - 0.5**2), rel=0.01)


def test_ring_background_flat():
    """Counts equal to a smooth template: alpha * n_off reproduces it; an excluded source does
    not leak into the background."""
    g = testing.make_wcs_geom(width=4.0, binsz=0.05, energy=xg.energy_axis(1, 10, 2))
    yy, xx = np.mgrid[0:80, 0:80]
    tmpl = 50.0 * (1 + 0.002 * xx) * np.ones((2, 1, 1))
    d = xr.Dataset({"counts": (("energy", "y", "x"), tmpl.copy()),
                    "background": (("energy", "y", "x"), tmpl.copy(), {"units": ""}),
                    "mask_safe": (("energy", "y", "x"), np.ones(tmpl.shape, bool))},
                   coords=g.coords, attrs=g.attrs)
    rb = ring_background(d, r_in=0.4, width=0.3)
    inner = (slice(None), slice(20, 60), slice(20, 60))
    # n_off are integers (rounded); the template is linear so the ring average is exact
    np.testing.assert_allclose(rb.background.values[inner], tmpl[inner], rtol=2e-3)
    src = d.counts.copy()
    src[:, 38:42, 38:42] += 500.0
    excl = sky.exclusion_mask(sky.drop_axes(d), "icrs;circle(83.633,22.014,0.3)")
    with_src = ring_background(d.assign(counts=src), 0.4, 0.3, exclusion_mask=excl)
    np.testing.assert_allclose(with_src.background.values[inner], tmpl[inner], rtol=2e-3)
    leak = ring_background(d.assign(counts=src), 0.4, 0.3)
    assert (leak.background.values[inner] - tmpl[inner]).max() > 5
    assert set(("counts_off", "acceptance", "acceptance_off", "alpha")) <= set(rb.data_vars)
