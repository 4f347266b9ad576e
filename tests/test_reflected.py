"""Tests of the reflected-regions finder (xgamma.reflected)."""

from __future__ import annotations

import itertools

import astropy.units as u
import numpy as np
import pandas as pd
import pytest
from astropy.coordinates import SkyCoord
from regions import (
    CircleSkyRegion,
    EllipseSkyRegion,
    PixCoord,
    PointSkyRegion,
    PolygonSkyRegion,
    RectangleSkyRegion,
)

import xgamma as xg
from xgamma.errors import GeometryError
from xgamma.reduction.reflected import (
    events_in_regions,
    find_reflected_regions,
    reference_wcs,
    region_angular_size,
)

CRAB_ON = "icrs;circle(83.63,22.01,0.11)"
ON_CENTER = SkyCoord(83.63, 22.01, unit="deg")
# H.E.S.S. DL3 DR1 Crab runs: 23523/23526 wobble 0.5 deg, 23559/23592 1.5 deg
POINTINGS = {
    23523: (83.63333, 21.514444),
    23526: (83.63333, 22.514444),
    23559: (85.253334, 22.014444),
    23592: (82.013336, 22.014444),
}
REFERENCE_N_OFF = {23523: 12, 23526: 12, 23559: 41, 23592: 41}  # gammapy_crab.json


@pytest.mark.parametrize("obs_id", sorted(POINTINGS))
def test_crab_wobble_region_numbers(obs_id):
    regs = find_reflected_regions(CRAB_ON, POINTINGS[obs_id])
    assert len(regs) == REFERENCE_N_OFF[obs_id]


@pytest.mark.parametrize("obs_id", [23523, 23559])
def test_circles_same_offset_radius_and_disjoint(obs_id):
    pnt = SkyCoord(*POINTINGS[obs_id], unit="deg")
    regs = find_reflected_regions(CRAB_ON, pnt)
    off_on = float(pnt.separation(ON_CENTER).deg)
    centers = SkyCoord([r.center for r in regs])
    # rotation about the pointing keeps the offset (TAN is azimuthal) and the size
    np.testing.assert_allclose(pnt.separation(centers).deg, off_on, atol=1e-9)
    radii = np.array([r.radius.to_value("deg") for r in regs])
    np.testing.assert_allclose(radii, 0.11, rtol=1e-3)
    # no overlap with the ON region; OFF regions touch within one reference pixel (0.01 deg)
    # at most, as the angular size is measured on pixel centres (Gammapy semantics)
    assert np.all(ON_CENTER.separation(centers).deg > 2 * 0.11)
    for a, b in itertools.combinations(range(len(regs)), 2):
        assert centers[a].separation(centers[b]).deg > radii[a] + radii[b] - 0.01
    w, shape = reference_wcs(CRAB_ON, pnt)
    masks = [_raster(r, w, shape) for r in regs]
    n_shared = int((np.sum(masks, axis=0) > 1).sum())
    assert n_shared < 0.02 * masks[0].sum() * len(regs)  # thin slivers only
    # the first and last regions keep min_distance_input = 0.1 rad from the ON region
    size = region_angular_size(CRAB_ON, pnt)
    pa_on = pnt.position_angle(ON_CENTER).rad
    dpa = np.mod(pnt.position_angle(centers).rad - pa_on, 2 * np.pi)
    gap = np.minimum(dpa, 2 * np.pi - dpa)
    assert gap.min() >= size + 0.1 - 1e-9
    # consecutive regions are one angular size apart
    np.testing.assert_allclose(np.diff(np.sort(dpa)), size, rtol=1e-9)


def test_angular_size_analytic():
    # pixel-centre based size is a little below the exact 2 asin(r / d), by < 2 pixels
    for pnt in POINTINGS.values():
        c = SkyCoord(*pnt, unit="deg")
        d = float(c.separation(ON_CENTER).rad)
        exact = 2 * np.arcsin(np.radians(0.11) / d)
        size = region_angular_size(CRAB_ON, c)
        assert exact - 2 * np.radians(0.01) / d < size < exact


def test_reference_wcs_layout():
    w, shape = reference_wcs(CRAB_ON, POINTINGS[23559])
    sep = SkyCoord(*POINTINGS[23559], unit="deg").separation(ON_CENTER).deg
    assert shape == (int(np.rint((4 * sep + 0.3) / 0.01)),) * 2
    assert w.wcs.ctype[0] == "RA---TAN"
    x, y = w.world_to_pixel(SkyCoord(*POINTINGS[23559], unit="deg"))
    np.testing.assert_allclose([x, y], [(shape[1] - 1) / 2] * 2, atol=1e-9)


def test_parameters_change_the_number():
    pnt = POINTINGS[23559]
    assert len(find_reflected_regions(CRAB_ON, pnt, max_region_number=5)) == 5
    # a larger gap to the ON region leaves fewer regions
    n1 = len(find_reflected_regions(CRAB_ON, pnt, min_distance_input=1.0))
    assert n1 < 41
    # extra spacing between OFF regions: expected count from the step arithmetic
    size = region_angular_size(CRAB_ON, pnt)
    step = size + 0.05
    n_exp = int(np.floor((2 * np.pi - 2 * step - 0.2) / step + 1e-12)) + 1
    regs = find_reflected_regions(CRAB_ON, pnt, min_distance=0.05)
    assert len(regs) == n_exp
    # Quantity inputs
    regs_q = find_reflected_regions(CRAB_ON, pnt, min_distance=0.05 * u.rad,
                                    min_distance_input="0.1 rad")
    assert len(regs_q) == n_exp
    assert find_reflected_regions(CRAB_ON, pnt, max_region_number=0) == []


def test_pointing_inside_region_gives_none():
    assert find_reflected_regions(CRAB_ON, (83.63, 22.01)) == []
    assert find_reflected_regions(CRAB_ON, (83.63, 22.06)) == []


def test_bad_input():
    with pytest.raises(GeometryError):
        find_reflected_regions(PointSkyRegion(ON_CENTER), POINTINGS[23523])
    with pytest.raises(GeometryError):
        find_reflected_regions(CRAB_ON, POINTINGS[23523], angle_increment=0)
    with pytest.raises(GeometryError, match="binsz"):
        find_reflected_regions("icrs;circle(83.63,22.01,0.001)", POINTINGS[23523])
    with pytest.raises(GeometryError):
        find_reflected_regions("icrs;circle(83.63,22.01,0.1);circle(84,22,0.1)", POINTINGS[23523])


def test_exclusion_mask_avoided():
    pnt = SkyCoord(*POINTINGS[23559], unit="deg")
    free = find_reflected_regions(CRAB_ON, pnt)
    # exclude a 0.3 deg circle on the ring of OFF regions, opposite the ON region
    pa = pnt.position_angle(ON_CENTER) + 180 * u.deg
    excl_c = pnt.directional_offset_by(pa, pnt.separation(ON_CENTER))
    geom = xg.wcs_geom(pnt, 4.0, 0.02)
    excl_reg = CircleSkyRegion(excl_c, 0.3 * u.deg)
    mask = xg.sky.exclusion_mask(geom, [excl_reg])
    regs = find_reflected_regions(CRAB_ON, pnt, exclusion_mask=mask)
    assert 0 < len(regs) < len(free)
    # no OFF region contains an excluded map pixel centre
    excl_pix = xg.sky.skycoord(geom)[~mask.values]
    w, _ = reference_wcs(CRAB_ON, pnt)
    px = PixCoord(*w.world_to_pixel(excl_pix))
    for r in regs:
        assert not np.any(r.to_pixel(w).contains(px))
    # the excluded area costs regions; regions far from it are unchanged in position
    sep_free = SkyCoord([r.center for r in free]).separation(excl_c).deg
    assert np.any(sep_free < 0.3 + 0.11)
    sep = SkyCoord([r.center for r in regs]).separation(excl_c).deg
    assert np.all(sep > 0.3 + 0.11 - 0.03)  # pixelised mask: up to ~1 pixel each


def test_exclusion_everything_and_empty_and_galactic_mask():
    pnt = SkyCoord(*POINTINGS[23523], unit="deg")
    geom = xg.wcs_geom(pnt, 3.0, 0.05)
    all_excl = xg.sky.exclusion_mask(geom, ["icrs;circle(83.633,21.514,5)"])
    assert find_reflected_regions(CRAB_ON, pnt, exclusion_mask=all_excl) == []
    none_excl = xg.sky.exclusion_mask(geom, ["icrs;circle(0,0,0.1)"])
    assert len(find_reflected_regions(CRAB_ON, pnt, exclusion_mask=none_excl)) == 12
    # a galactic exclusion map excluding the whole ring
    g = pnt.galactic
    ggeom = xg.wcs_geom((g.l.deg, g.b.deg), 3.0, 0.05, frame="galactic")
    gmask = xg.sky.exclusion_mask(ggeom, [CircleSkyRegion(g, 2.0 * u.deg)])
    assert find_reflected_regions(CRAB_ON, pnt, exclusion_mask=gmask) == []


def _raster(region, w, shape):
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]]
    return np.asarray(region.to_pixel(w).contains(PixCoord(xx.ravel(), yy.ravel()))).reshape(shape)


@pytest.mark.parametrize(
    "on",
    [
        RectangleSkyRegion(ON_CENTER, 0.3 * u.deg, 0.1 * u.deg, angle=20 * u.deg),
        EllipseSkyRegion(ON_CENTER, 0.3 * u.deg, 0.12 * u.deg, angle=60 * u.deg),
        PolygonSkyRegion(SkyCoord([83.5, 83.75, 83.6], [21.95, 21.98, 22.12], unit="deg")),
    ],
    ids=["rectangle", "ellipse", "polygon"],
)
def test_other_shapes(on):
    pnt = SkyCoord(*POINTINGS[23559], unit="deg")
    regs = find_reflected_regions(on, pnt)
    assert len(regs) >= 8
    assert all(type(r) is type(on) for r in regs)
    w, shape = reference_wcs(on, pnt)
    masks = [_raster(on, w, shape)] + [_raster(r, w, shape) for r in regs]
    total = np.sum(masks, axis=0)
    assert not np.any(masks[0] & (total > 1))  # nothing shared with the ON region
    assert (total > 1).sum() < 0.03 * masks[0].sum() * len(regs)  # sub-pixel slivers only
    n_on = masks[0].sum()
    for m in masks[1:]:  # same area
        assert abs(int(m.sum()) - int(n_on)) <= 0.05 * n_on


def test_galactic_region():
    pnt = SkyCoord(*POINTINGS[23523], unit="deg").galactic
    on = CircleSkyRegion(ON_CENTER.galactic, 0.11 * u.deg)
    regs = find_reflected_regions(on, pnt)
    # the pixel grid is oriented differently than in icrs: the count follows the pixelised size
    size = region_angular_size(on, pnt)
    assert len(regs) == int(np.floor((2 * np.pi - 2 * size - 0.2) / size + 1e-12)) + 1
    assert len(regs) in (12, 13)
    assert regs[0].center.frame.name == "galactic"
    w, _ = reference_wcs(on, pnt)
    assert w.wcs.ctype[0] == "GLON-TAN"


def test_events_in_regions():
    pnt = POINTINGS[23523]
    regs = find_reflected_regions(CRAB_ON, pnt)
    rng = np.random.default_rng(1)
    c = SkyCoord(*pnt, unit="deg")
    # random events in a 1 deg disc around the pointing
    n = 20000
    r = np.degrees(np.sqrt(rng.uniform(0, 1, n)) * np.radians(1.0))
    pa = rng.uniform(0, 360, n)
    ev_c = c.directional_offset_by(pa * u.deg, r * u.deg)
    ev = pd.DataFrame({"ra": ev_c.ra.deg, "dec": ev_c.dec.deg})
    inside = events_in_regions(ev, regs, CRAB_ON, pnt)
    centers = SkyCoord([q.center for q in regs])
    sep = ev_c[:, None].separation(centers[None, :]).deg.min(axis=1)
    # agree with exact separations except within 1e-4 deg of a boundary
    clear = np.abs(sep - 0.11) > 1e-4
    np.testing.assert_array_equal(inside[clear], (sep < 0.11)[clear])
    # expected number: 12 circles of 0.11 deg in a uniform 1 deg disc
    assert abs(inside.sum() - n * 12 * 0.11**2) < 5 * np.sqrt(n * 12 * 0.11**2)
    assert not events_in_regions(ev.iloc[:0], regs, CRAB_ON, pnt).any()
    assert events_in_regions(ev, [], CRAB_ON, pnt).sum() == 0
