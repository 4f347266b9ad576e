"""Tests of xgamma.events: selections, FoV coordinates and offsets on pandas and dask."""

from __future__ import annotations

import astropy.units as u
import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest
from astropy.coordinates import SkyCoord
from astropy.time import Time

import xgamma as xg
from xgamma import sky
from xgamma.reduction import events as xev

PNT = (83.633, 22.514)


@pytest.fixture(scope="module")
def ev() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    n = 5000
    c = SkyCoord(*PNT, unit="deg").directional_offset_by(
        rng.uniform(0, 360, n) * u.deg, 2.5 * np.sqrt(rng.uniform(0, 1, n)) * u.deg)
    df = pd.DataFrame({"ra": c.ra.deg, "dec": c.dec.deg,
                       "energy": 10 ** rng.uniform(-1, 2, n),
                       "time": np.sort(rng.uniform(0, 1800, n))})
    df.attrs = {"MJDREFI": 51910, "MJDREFF": 7.428703703703703e-4, "TIMESYS": "TT"}
    return df


def _both(df: pd.DataFrame):
    return [df, dd.from_pandas(df, npartitions=3)]


def _pd(x):
    return x.compute() if hasattr(x, "compute") else x


def test_select_energy(ev):
    ref = ev[(ev.energy >= 1) & (ev.energy < 10)]
    for df in _both(ev):
        out = _pd(xev.select_energy(df, 1, "10 TeV"))
        pd.testing.assert_frame_equal(out, ref)
        assert len(_pd(xev.select_energy(df, 1000 * u.GeV))) == int((ev.energy >= 1).sum())
    # pure: the input is unchanged, an event at the upper edge is excluded
    edge = pd.DataFrame({"energy": [1.0, 10.0]})
    assert xev.select_energy(edge, 1, 10).energy.tolist() == [1.0]
    assert edge.energy.tolist() == [1.0, 10.0]


def test_select_time(ev):
    ref = ev[(ev.time >= 100) & (ev.time < 200)]
    for df in _both(ev):
        pd.testing.assert_frame_equal(_pd(xev.select_time(df, 100 * u.s, "200 s")), ref)
    # astropy Time limits go through MJDREF/TIMESYS of the events
    t0 = Time(51910 + 7.428703703703703e-4, format="mjd", scale="tt")
    out = xev.select_time(ev, t0 + 100 * u.s, t0 + 200 * u.s)
    assert len(out) == len(ref) and len(ref) > 100


def test_select_region(ev):
    c = SkyCoord(ev.ra.to_numpy(), ev.dec.to_numpy(), unit="deg")
    sep = c.separation(SkyCoord(*PNT, unit="deg")).deg
    for df in _both(ev):
        out = _pd(xev.select_region(df, "icrs;circle(83.633,22.514,1.0)"))
        pd.testing.assert_frame_equal(out, ev[sep < 1.0])
        # a WCS geometry: the events that bin_events puts on the map
        geom = xg.wcs_geom(PNT, 2, 0.1, proj="TAN")
        inside = _pd(xev.select_region(df, geom))
        assert len(inside) == float(xg.bin_events(ev, geom).sum())
        hp = xg.healpix_geom(64, skydir=PNT, width=1.5)
        assert len(_pd(df.xg.select_region(hp))) == float(xg.bin_events(ev, hp).sum())
    assert 0.1 * len(ev) < len(ev[sep < 1.0]) < 0.25 * len(ev)


def test_fov_coords_basic():
    pra, pdec = 83.633, 22.014
    p = SkyCoord(pra, pdec, unit="deg")
    east = p.directional_offset_by(90 * u.deg, 1 * u.deg)
    pts = SkyCoord([pra, pra, east.ra.deg], [pdec, pdec + 1, east.dec.deg], unit="deg")
    df = pd.DataFrame({"ra": pts.ra.deg, "dec": pts.dec.deg})
    out = xev.fov_coords(df, pra, pdec)
    np.testing.assert_allclose(out.fov_lon, [0, 0, 1], atol=1e-10)  # lon increases with RA
    np.testing.assert_allclose(out.fov_lat, [0, 1, 0], atol=1e-10)
    assert "fov_lon" not in df.columns  # pure
    # exact spherical relation with the offset: cos(offset) = cos(fov_lon) cos(fov_lat)
    rng = np.random.default_rng(2)
    df = pd.DataFrame({"ra": pra + rng.uniform(-4, 4, 1000), "dec": pdec + rng.uniform(-4, 4, 1000)})
    out = xev.fov_coords(df, pra, pdec)
    off = xev.offset(df, pra, pdec)
    np.testing.assert_allclose(
        np.cos(np.radians(off)),
        np.cos(np.radians(out.fov_lon)) * np.cos(np.radians(out.fov_lat)), rtol=0, atol=1e-14)
    ref_sep = SkyCoord(df.ra.to_numpy(), df.dec.to_numpy(), unit="deg").separation(p).deg
    np.testing.assert_allclose(off, ref_sep, rtol=0, atol=1e-10)
    # near the pole: offsets are not differences of RA/Dec
    near = pd.DataFrame({"ra": [0.0, 180.0], "dec": [89.0, 89.0]})
    f = xev.fov_coords(near, 90.0, 89.5)
    # pointing 0.5 deg from the pole along RA=90; the points 1 deg from the pole on either side
    np.testing.assert_allclose(xev.offset(near, 90, 89.5), np.hypot(0.5, 1.0), atol=1e-3)
    np.testing.assert_allclose(f.fov_lon, [-1.0, 1.0], atol=1e-3)  # RA 0 is west of RA 90
    np.testing.assert_allclose(f.fov_lat, 0.5, atol=1e-2)


def test_fov_coords_dask_and_columns(ev):
    ref = xev.fov_coords(ev, *PNT)
    lazy = xev.fov_coords(dd.from_pandas(ev, npartitions=4), *PNT)
    pd.testing.assert_frame_equal(lazy.compute(), ref)
    # a per-event pointing given as column names (two observations in one frame)
    two = pd.concat([ev.assign(pra=PNT[0], pdec=PNT[1]),
                     ev.assign(pra=PNT[0] + 1.0, pdec=PNT[1])], ignore_index=True)
    out = xev.fov_coords(two, "pra", "pdec")
    np.testing.assert_allclose(out.fov_lon[: len(ev)], ref.fov_lon, atol=1e-12)
    second = xev.fov_coords(ev, PNT[0] + 1.0, PNT[1])
    np.testing.assert_allclose(out.fov_lon[len(ev):], second.fov_lon, atol=1e-12)
    offl = xev.offset(dd.from_pandas(two, npartitions=2), "pra", "pdec").compute()
    np.testing.assert_allclose(offl, xev.offset(two, "pra", "pdec"), atol=0)
    via_sky = xev.offset(ev, SkyCoord(*PNT, unit="deg").galactic)
    np.testing.assert_allclose(via_sky, xev.offset(ev, *PNT), atol=1e-10)
    assert via_sky.max() < 2.5 + 1e-9 and via_sky.name == "offset"
    assert sky.frame_of(xg.region_geom("icrs;circle(0,0,1)")) == "icrs"
