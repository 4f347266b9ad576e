"""Tests of xgamma.sky: geometries, solid angles, pixel <-> sky, cut-outs, regions, masks."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
import xarray as xr
from astropy.coordinates import SkyCoord
from regions import CircleSkyRegion

import xgamma as xg
from xgamma import sky
from xgamma.errors import GeometryError

CRAB = SkyCoord(83.633, 22.014, unit="deg")


def _rand_sky(n: int, seed: int = 0) -> SkyCoord:
    rng = np.random.default_rng(seed)
    return SkyCoord(rng.uniform(0, 360, n), np.degrees(np.arcsin(rng.uniform(-1, 1, n))),
                    unit="deg")


WCS_CASES = [("CAR", "icrs"), ("CAR", "galactic"), ("TAN", "icrs"), ("TAN", "galactic"),
             ("AIT", "galactic"), ("SIN", "icrs")]


# ----------------------------------------------------------------------------- construction
def test_wcs_geom_layout():
    e = xg.energy_axis(0.1, 100, 3)
    g = xg.wcs_geom(CRAB, (3, 2), 0.05, axes=[e])
    assert not g.data_vars
    assert list(g.sizes.items()) == [("energy", 3), ("y", 40), ("x", 60)]
    assert g.attrs["geom"] == "wcs" and g.attrs["frame"] == "icrs"
    assert g.ra.dims == ("y", "x") and g.ra.attrs["units"] == "deg"
    np.testing.assert_array_equal(g.x.values, np.arange(60))
    np.testing.assert_array_equal(g.energy_min.values, e.energy_min.values)
    # centre of the map is the requested position; CAR pixels are on constant latitude
    c = sky.center(g)
    assert c.separation(CRAB).deg < 1e-10
    np.testing.assert_allclose(g.dec.values[:, 0], g.dec.values[:, -1], atol=1e-12)
    np.testing.assert_allclose(np.diff(g.dec.values[:, 0]), 0.05, rtol=1e-10)
    assert sky.wcs_of(g).wcs.crval[1] == 0.0
    gal = xg.wcs_geom(CRAB, "2 deg", 1 * u.deg / 10, frame="galactic")
    assert set(gal.coords) == {"y", "x", "glon", "glat"}
    assert abs(float(gal.glon[10, 10]) - 184.5578) < 0.06
    with pytest.raises(GeometryError):
        xg.wcs_geom(CRAB, 1, 0.1, frame="fk4x")


def test_geometry_carried_by_coords_and_arithmetic():
    g = xg.wcs_geom(CRAB, 1, 0.1, proj="TAN")
    bare = xr.DataArray(np.ones((10, 10)), dims=("y", "x"), coords=g.coords)  # no attrs
    assert sky.geom_kind(bare) == "wcs"
    assert sky.wcs_of(bare).wcs.compare(sky.wcs_of(g).wcs)
    m = sky.empty(g, units="cm-2") + 2.0
    assert sky.geom_kind(m * 3) == "wcs" and (m * 3).attrs["units"] == "cm-2"
    assert sky.geom_of(m).equals(g) and sky.geom_of(m).attrs == g.attrs
    with pytest.raises(GeometryError):
        sky.make_map(np.zeros(3), g)
    with pytest.raises(GeometryError, match="no sky geometry"):
        sky.geom_kind(xr.DataArray([1.0]))


def test_to_image_and_drop_axes():
    g = xg.healpix_geom(2, axes=[xg.energy_axis(1, 10, 4)])
    m = sky.make_map(np.arange(4 * 48, dtype=float).reshape(4, 48), g)
    img = sky.to_image(m)
    assert img.dims == ("pix",)
    np.testing.assert_array_equal(img.values, m.values.sum(axis=0))
    assert dict(sky.to_image(g).sizes) == {"pix": 48}
    assert dict(sky.drop_axes(m).sizes) == {"pix": 48}


# ----------------------------------------------------------------------------- solid angles
@pytest.mark.parametrize("order", ["nested", "ring"])
def test_solid_angle_healpix_allsky(order):
    sa = sky.solid_angle(xg.healpix_geom(16, order=order))
    assert sa.attrs["units"] == "sr" and sa.dims == ("pix",)
    assert abs(float(sa.sum()) / (4 * np.pi) - 1) < 1e-12


@pytest.mark.parametrize("frame", ["icrs", "galactic"])
def test_solid_angle_car_allsky(frame):
    sa = sky.solid_angle(xg.wcs_geom((0, 0), (360, 180), 0.5, frame=frame))
    assert abs(float(sa.sum()) / (4 * np.pi) - 1) < 1e-6


def test_solid_angle_small_patch():
    binsz = 0.02
    g = xg.wcs_geom((30, 60), (1, 0.6), binsz)
    sa = sky.solid_angle(g).values
    approx = np.radians(binsz) ** 2 * np.cos(np.radians(g.dec.values))
    np.testing.assert_allclose(sa, approx, rtol=1e-6)
    # exact area of a lat/lon cell, d_lon * (sin(b2) - sin(b1)); the great-circle quad
    # differs from it at order binsz**2
    b = np.radians(g.dec.values)
    h = np.radians(binsz) / 2
    exact = np.radians(binsz) * (np.sin(b + h) - np.sin(b - h))
    np.testing.assert_allclose(sa, exact, rtol=3e-8)
    # TAN: pixels shrink away from the centre as cos^3 of the angle from the tangent point
    t = xg.wcs_geom((30, 60), 10, 0.5, proj="TAN")
    sa_t = sky.solid_angle(t)
    theta = np.radians(sky.separation(t, (30, 60)).values)
    np.testing.assert_allclose(sa_t.values, np.radians(0.5) ** 2 * np.cos(theta) ** 3, rtol=1e-4)


def test_solid_angle_region():
    r = 0.7
    sa = float(sky.solid_angle(xg.region_geom(f"icrs;circle(83.6,22.0,{r})")))
    assert sa == pytest.approx(2 * np.pi * (1 - np.cos(np.radians(r))), rel=1e-14)
    ann = float(sky.solid_angle(xg.region_geom("icrs;annulus(83.6,22.0,0.5,1.0)")))
    assert ann == pytest.approx(2 * np.pi * (np.cos(np.radians(0.5)) - np.cos(np.radians(1))))
    # two disjoint circles (numerical rasterisation) = sum of the exact areas
    two = float(sky.solid_angle(xg.region_geom("icrs;circle(83.6,22.0,0.3);circle(85.6,22.0,0.4)")))
    exact = 2 * np.pi * (2 - np.cos(np.radians(0.3)) - np.cos(np.radians(0.4)))
    assert two == pytest.approx(exact, rel=3e-3)
    box = float(sky.solid_angle(xg.region_geom("galactic;box(0,0,2,1,30)")))
    assert box == pytest.approx(np.radians(2) * np.radians(1), rel=3e-3)


# ----------------------------------------------------------------------------- pixel <-> sky
@pytest.mark.parametrize(("proj", "frame"), WCS_CASES)
def test_pix_sky_roundtrip(proj, frame):
    g = xg.wcs_geom(CRAB, (8, 6), 0.1, frame=frame, proj=proj)
    rng = np.random.default_rng(1)
    x, y = rng.uniform(-0.5, 79.5, 500), rng.uniform(-0.5, 59.5, 500)
    c = sky.pix_to_sky(g, x, y)
    assert c.frame.name == frame
    x2, y2 = sky.sky_to_pix(g, c.icrs)  # input in another frame is converted
    np.testing.assert_allclose(x2, x, atol=1e-7)
    np.testing.assert_allclose(y2, y, atol=1e-7)
    # stored pixel-centre coordinates are those of the WCS
    cc = sky.skycoord(g)
    lon, lat = sky.wcs_of(g).pixel_to_world_values(*np.meshgrid(np.arange(80), np.arange(60)))
    np.testing.assert_allclose(cc.spherical.lon.deg, np.mod(lon, 360), atol=1e-10)
    np.testing.assert_allclose(cc.spherical.lat.deg, lat, atol=1e-10)


def test_healpix_pix_roundtrip_and_partial():
    g = xg.healpix_geom(32, frame="galactic", order="ring", skydir=CRAB, width=4)
    pix = g.pix.values
    c = sky.pix_to_sky(g, pix)
    np.testing.assert_array_equal(sky.sky_to_pix(g, c.icrs), pix)
    # partial sky = exactly the pixels whose centre is within the radius
    full = xg.healpix_geom(32, frame="galactic", order="ring")
    inside = sky.separation(full, CRAB).values <= 4
    np.testing.assert_array_equal(np.flatnonzero(inside), pix)
    assert sky.center(g).separation(CRAB).deg < 0.5  # mean of 15 pixels of 1.8 deg


# ----------------------------------------------------------------------------- cut-outs
@pytest.mark.parametrize(("proj", "frame"), WCS_CASES[:4])
def test_cutout_keeps_geometry(proj, frame):
    g = xg.wcs_geom(CRAB, 6, 0.05, frame=frame, proj=proj, axes=[xg.energy_axis(1, 10, 2)])
    m = sky.make_map(np.random.default_rng(0).random((2, 120, 120)), g)
    pos = SkyCoord(84.5, 21.3, unit="deg")
    cut = sky.cutout(m, pos, (1.0, 0.5))
    assert dict(cut.sizes) == {"energy": 2, "y": 10, "x": 20}
    y0, x0 = int(cut.y[0]), int(cut.x[0])
    # wcs_of(cutout) maps its pixel (0, 0) to the parent's pixel at the cut
    c0 = sky.pix_to_sky(cut, 0, 0)
    c_parent = sky.pix_to_sky(m, x0, y0)
    assert c0.separation(c_parent).deg < 1e-10
    np.testing.assert_array_equal(cut.values, m.values[:, y0:y0 + 10, x0:x0 + 20])
    # the cut-out is centred on the position (within a pixel)
    assert sky.center(cut).separation(pos).deg < 0.05
    np.testing.assert_allclose(sky.solid_angle(cut).values,
                               sky.solid_angle(m).values[y0:y0 + 10, x0:x0 + 20], rtol=1e-12)
    # strided selection: the WCS is sliced (pixel 1 of the sub-grid = parent pixel x0 + 2)
    sub = m.isel(x=slice(x0, None, 2), y=slice(y0, None, 3))
    assert sky.pix_to_sky(sub, 1, 1).separation(sky.pix_to_sky(m, x0 + 2, y0 + 3)).deg < 1e-9
    # trimmed at the map edge
    edge = sky.cutout(m, sky.pix_to_sky(m, 0, 0), 1.0)
    assert edge.sizes["x"] in (10, 11) and edge.sizes["y"] in (10, 11)
    assert int(edge.x[0]) == 0 and int(edge.y[0]) == 0
    with pytest.raises(GeometryError):
        sky.cutout(m, SkyCoord(0, -80, unit="deg"), 1.0)


def test_cutout_healpix():
    g = xg.healpix_geom(64)
    cut = sky.cutout(g, CRAB, 2)
    off = sky.skycoord(cut).transform_to(CRAB.skyoffset_frame())
    assert np.all(np.abs(off.lon.wrap_at(180 * u.deg).deg) <= 1)
    assert np.all(np.abs(off.lat.deg) <= 1)
    assert cut.sizes["pix"] == pytest.approx(4 / (4 * np.pi * (180 / np.pi) ** 2 / (12 * 64**2)),
                                             rel=0.35)


# ----------------------------------------------------------------------------- regions and masks
@pytest.mark.parametrize("frame", ["icrs", "galactic"])
def test_region_mask_matches_separation(frame):
    g = xg.wcs_geom(CRAB, 3, 0.05, frame=frame, proj="CAR")
    r = 0.8
    mask = sky.region_mask(g, CircleSkyRegion(CRAB, r * u.deg))
    sep = sky.separation(g, CRAB)
    assert mask.dtype == bool and mask.dims == ("y", "x")
    np.testing.assert_array_equal(mask.values, sep.values < r)
    area = float(sky.solid_angle(g).where(mask).sum())
    assert area == pytest.approx(2 * np.pi * (1 - np.cos(np.radians(r))), rel=0.02)
    excl = sky.exclusion_mask(g, [f"icrs;circle(83.633,22.014,{r})"])
    np.testing.assert_array_equal(excl.values, ~mask.values)
    hp = xg.healpix_geom(128, frame=frame, skydir=CRAB, width=2)
    hmask = sky.region_mask(hp, "icrs;circle(83.633,22.014,0.8)")
    np.testing.assert_array_equal(hmask.values, sky.separation(hp, CRAB).values < r)


def test_region_strings_roundtrip():
    cases = [
        "icrs;circle(83.63,22.01,0.11)",
        "galactic;circle(184.5,-5.8,0.3)",
        "icrs;circle(1,2,0.5);galactic;box(10,0,2,1,30)",
        "icrs;circle(1,2,0.5);-circle(1,2,0.1)",
        "and(icrs;circle(1,2,0.5);circle(1.3,2,0.5))",
        "xor(icrs;circle(1,2,0.5);ellipse(1.3,2,0.5,0.2,45))",
        "icrs;polygon(1,1,2,1,2,2)",
        "icrs;annulus(1,2,0.2,0.5)",
    ]
    pts = SkyCoord(np.random.default_rng(3).uniform(-1, 4, 4000),
                   np.random.default_rng(4).uniform(-1, 4, 4000), unit="deg")
    pts = SkyCoord(np.concatenate([pts.ra.deg, [10.0]]), np.concatenate([pts.dec.deg, [0.0]]),
                   unit="deg")
    for s in cases:
        reg = sky.region_from_string(s)
        s2 = sky.region_to_string(reg)
        reg2 = sky.region_from_string(s2)
        assert sky.region_to_string(reg2) == s2
        np.testing.assert_array_equal(sky.contains(reg, pts), sky.contains(reg2, pts))
        geom = xg.region_geom(reg)
        assert sky.region_to_string(sky.region_of(geom)) == s2
    # exact semantics of the compound forms
    sep = pts.separation(SkyCoord(1, 2, unit="deg")).deg
    sep2 = pts.separation(SkyCoord(1.3, 2, unit="deg")).deg
    ring = sky.contains("icrs;circle(1,2,0.5);-circle(1,2,0.1)", pts)
    np.testing.assert_array_equal(ring, (sep < 0.5) & ~(sep < 0.1))
    both = sky.contains("and(icrs;circle(1,2,0.5);circle(1.3,2,0.5))", pts)
    np.testing.assert_array_equal(both, (sep < 0.5) & (sep2 < 0.5))
    assert 10 < both.sum() < ring.sum()
    # an operator outside the supported set is refused
    assert sky.region_to_string(sky.region_from_string("icrs;circle(1,2,0.123456789012)")) \
        == "icrs;circle(1,2,0.123456789012)"
    with pytest.raises(GeometryError):
        sky.region_from_string("icrs;blob(1,2)")


def test_region_geom_frame_and_center():
    g = xg.region_geom("galactic;circle(184.5578,-5.7847,0.2)", axes=[xg.energy_axis(1, 10, 2)])
    assert g.attrs["frame"] == "galactic" and dict(g.sizes) == {"energy": 2}
    assert sky.center(g).separation(CRAB).deg < 1e-3
    assert float(sky.separation(g, CRAB)) < 1e-3
    assert sky.sky_dims(g) == ()
    with pytest.raises(GeometryError):
        sky.wcs_of(g)
    with pytest.raises(GeometryError):
        sky.region_mask(g, "icrs;circle(0,0,1)")


@pytest.mark.parametrize("center,width,binsz,frame", [
    ((83.6, 22.0), 4.0, 0.02, "icrs"), ((359.99, -89.0), (10, 5), 0.05, "icrs"),
    ((0.0, 0.0), (360, 180), 0.5, "galactic"), ((266.4, -28.9), 360, 1.0, "galactic"),
])
def test_plate_carree_centres_equal_full_evaluation(center, width, binsz, frame):
    """The row/column shortcut for CAR maps gives exactly WCSLIB's per-pixel numbers (NaN
    beyond the poles included); the header string round-trips through wcs_from_header."""
    g = sky.wcs_geom(center, width, binsz, frame=frame)
    w = sky.wcs_of(g)
    ny, nx = g.sizes["y"], g.sizes["x"]
    yy, xx = np.mgrid[0:ny, 0:nx]
    lon, lat = w.pixel_to_world_values(xx, yy)
    lname, bname = ("ra", "dec") if frame == "icrs" else ("glon", "glat")
    np.testing.assert_array_equal(g[lname].values, np.mod(lon, 360.0))
    np.testing.assert_array_equal(g[bname].values, lat)
    assert sky.is_plate_carree(w)
    assert not sky.is_plate_carree(sky.wcs_of(sky.wcs_geom(center, 4.0, 0.1, frame=frame,
                                                         car_reference="center"))) or center[1] == 0
    w2 = sky.wcs_from_header(sky.wcs_header(w))
    np.testing.assert_array_equal(w2.pixel_to_world_values(xx[:3, :3], yy[:3, :3]),
                                  w.pixel_to_world_values(xx[:3, :3], yy[:3, :3]))


def test_wcs_geom_rejects_bad_latitude():
    with pytest.raises(GeometryError, match="latitude"):
        sky.wcs_geom((10.0, 95.0), 1.0, 0.1)
