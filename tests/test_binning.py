"""Tests of xgamma.binning: counts equal an independent numpy.histogramdd on every geometry."""

from __future__ import annotations

import astropy.units as u
import astropy_healpix
import dask.array as da
import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest
from astropy.coordinates import SkyCoord
from astropy.io import fits

import xgamma as xg
from xgamma import sky
from xgamma.errors import GeometryError
from xgamma.reduction.binning import bin_events

CENTER = (83.633, 22.014)
CRAB_RUN = "hess-dl3-dr1/data/hess_dl3_dr1_obs_id_023523.fits.gz"


@pytest.fixture(scope="module")
def events() -> pd.DataFrame:
    """20000 events in a 6-deg disc around the Crab, plus 2000 all-sky ones."""
    rng = np.random.default_rng(42)
    c = SkyCoord(*CENTER, unit="deg")
    n = 20000
    pa = rng.uniform(0, 360, n) * u.deg
    sep = 3 * np.sqrt(rng.uniform(0, 1, n)) * u.deg
    near = c.directional_offset_by(pa, sep)
    m = 2000
    ra_all = rng.uniform(0, 360, m)
    dec_all = np.degrees(np.arcsin(rng.uniform(-1, 1, m)))
    ra = np.concatenate([near.ra.deg, ra_all])
    dec = np.concatenate([near.dec.deg, dec_all])
    energy = 10 ** rng.uniform(-1.5, 2.5, n + m)
    return pd.DataFrame({"ra": ra, "dec": dec, "energy": energy,
                         "w": rng.uniform(0.5, 2.0, n + m)})


EAXIS = xg.energy_axis(0.1, 100, nbins=6)

GEOMS = {
    "car-icrs": lambda: xg.wcs_geom(CENTER, (4, 3), 0.1, axes=[EAXIS]),
    "car-galactic": lambda: xg.wcs_geom(SkyCoord(*CENTER, unit="deg"), 4, 0.2, frame="galactic",
                                        axes=[EAXIS]),
    "tan-icrs": lambda: xg.wcs_geom(CENTER, 5, 0.1, proj="TAN", axes=[EAXIS]),
    "tan-galactic": lambda: xg.wcs_geom(SkyCoord(*CENTER, unit="deg"), (5, 3), 0.25,
                                        frame="galactic", proj="TAN", axes=[EAXIS]),
    "car-allsky": lambda: xg.wcs_geom((0, 0), (360, 180), 2, frame="galactic", axes=[EAXIS]),
    "ait-allsky": lambda: xg.wcs_geom((0, 0), (360, 180), 2, proj="AIT", axes=[EAXIS]),
    "region-circle": lambda: xg.region_geom("icrs;circle(83.633,22.014,0.5)", axes=[EAXIS]),
    "region-compound": lambda: xg.region_geom(
        "icrs;circle(83.633,22.014,0.5);galactic;box(184.5,-5.8,1,0.6,20);icrs;-circle(83.633,22.014,0.2)",
        axes=[EAXIS]),
    "hpx-nested-allsky": lambda: xg.healpix_geom(8, order="nested", axes=[EAXIS]),
    "hpx-ring-allsky": lambda: xg.healpix_geom(8, order="ring", frame="galactic", axes=[EAXIS]),
    "hpx-nested-partial": lambda: xg.healpix_geom(64, order="nested", skydir=CENTER, width=2,
                                                  axes=[EAXIS]),
    "hpx-ring-partial": lambda: xg.healpix_geom(32, order="ring", frame="galactic",
                                                skydir=SkyCoord(*CENTER, unit="deg"), width=3,
                                                axes=[EAXIS]),
}


def _expected(ev: pd.DataFrame, geom, weights=None) -> np.ndarray:
    """Independent reference: sky index by astropy directly, then numpy.histogramdd."""
    edges = xg.axes.edges(geom, "energy")
    e = ev["energy"].to_numpy()
    coords = SkyCoord(ev["ra"].to_numpy(), ev["dec"].to_numpy(), unit="deg", frame="icrs")
    kind = sky.geom_kind(geom)
    keep = e < edges[-1]  # histogramdd closes its last bin; bin_events does not
    w = None if weights is None else ev[weights].to_numpy()
    if kind == "wcs":
        wcs = sky.wcs_of(geom)
        x, y = wcs.world_to_pixel(coords)
        ix, iy = np.floor(x + 0.5), np.floor(y + 0.5)
        keep &= np.isfinite(ix) & np.isfinite(iy)
        ny, nx = geom.sizes["y"], geom.sizes["x"]
        sample = (e[keep], iy[keep], ix[keep])
        bins = [edges, np.arange(ny + 1) - 0.5, np.arange(nx + 1) - 0.5]
    elif kind == "healpix":
        frame = sky.frame_of(geom)
        c = coords.transform_to(frame).spherical
        ipix = astropy_healpix.lonlat_to_healpix(c.lon, c.lat, geom.attrs["nside"],
                                                 order=geom.attrs["order"])
        pos = {int(p): i for i, p in enumerate(geom.pix.values)}
        ipos = np.array([pos.get(int(p), -1) for p in ipix], dtype=float)
        keep &= ipos >= 0
        sample = (e[keep], ipos[keep])
        bins = [edges, np.arange(geom.sizes["pix"] + 1) - 0.5]
    else:
        r1 = coords.separation(SkyCoord(*CENTER, unit="deg")).deg
        if "box" in geom.attrs["region"]:
            box = sky.region_from_string("galactic;box(184.5,-5.8,1,0.6,20)")
            tan = xg.wcs_geom((184.5, -5.8), 3, 0.01, frame="galactic", proj="TAN")
            inbox = box.contains(coords, sky.wcs_of(tan))
            keep &= ((r1 < 0.5) | inbox) & ~(r1 < 0.2)
        else:
            keep &= r1 < 0.5
        sample = (e[keep],)
        bins = [edges]
    hist, _ = np.histogramdd(sample, bins=bins, weights=None if w is None else w[keep])
    return hist


@pytest.mark.parametrize("name", list(GEOMS))
def test_bin_events_equals_histogramdd(events, name):
    geom = GEOMS[name]()
    counts = bin_events(events, geom)
    assert counts.name == "counts"
    assert counts.dims == (("energy", *sky.sky_dims(geom)))
    assert counts.attrs["geom"] == geom.attrs["geom"]
    expected = _expected(events, geom)
    assert expected.sum() > 20  # the test sees events
    np.testing.assert_array_equal(counts.values, expected)
    # dask: one histogram per partition, then a sum -> lazy, identical after compute
    devents = dd.from_pandas(events, npartitions=3)
    lazy = bin_events(devents, geom)
    assert isinstance(lazy.data, da.Array)
    np.testing.assert_array_equal(lazy.compute().values, counts.values)
    xg_counts = devents.xg.bin(geom).compute()
    np.testing.assert_array_equal(xg_counts.values, counts.values)


@pytest.mark.parametrize("name", ["car-icrs", "hpx-nested-partial", "region-circle"])
def test_weights(events, name):
    geom = GEOMS[name]()
    counts = bin_events(events, geom, weights="w")
    np.testing.assert_allclose(counts.values, _expected(events, geom, weights="w"), rtol=1e-12)
    lazy = bin_events(dd.from_pandas(events, npartitions=4), geom, weights="w").compute()
    np.testing.assert_allclose(lazy.values, counts.values, rtol=1e-12)


def test_energy_edges_left_closed():
    geom = xg.region_geom("icrs;circle(83.633,22.014,0.5)", axes=[EAXIS])
    edges = xg.axes.edges(EAXIS)
    ev = pd.DataFrame({"ra": CENTER[0], "dec": CENTER[1],
                       "energy": np.concatenate([edges, [0.0999, 100.001]])})
    counts = bin_events(ev, geom).values
    # each edge opens its bin; the last max and values outside are dropped
    np.testing.assert_array_equal(counts, np.ones(6))


def test_pixel_half_open_and_centres():
    # CAR at the equator with a power-of-two pixel size: world <-> pixel is exact in floats
    geom = xg.wcs_geom((0, 0), (2, 1), 0.25)  # x: lon 0.875 ... -0.875, y: lat -0.375 ... 0.375
    # events at every pixel centre (from the ra/dec coordinates): one count per pixel
    ev = pd.DataFrame({"ra": geom.ra.values.ravel(), "dec": geom.dec.values.ravel()})
    np.testing.assert_array_equal(bin_events(ev, geom).values, np.ones((4, 8)))
    # pixel i covers [i - 0.5, i + 0.5): an event on the boundary goes to the upper pixel
    lon_edge = 0.0  # boundary between x=3 (lon 0.125) and x=4 (lon -0.125)
    lat_edge = 0.0  # boundary between y=1 (lat -0.125) and y=2 (lat 0.125)
    x, y = sky.wcs_of(geom).world_to_pixel_values(lon_edge, lat_edge)
    assert (float(x), float(y)) == (3.5, 1.5)
    c = bin_events(pd.DataFrame({"ra": [lon_edge], "dec": [lat_edge]}), geom)
    assert float(c.isel(y=2, x=4)) == 1.0 and float(c.sum()) == 1.0


def test_other_axes_and_units(events):
    # an energy axis in GeV bins TeV energies; a time axis bins the "time" column
    ev = events.assign(time=np.linspace(0.0, 99.9, len(events)))
    e_gev = xg.energy_axis(100, 100000, nbins=6, unit="GeV")
    t = xg.axes.linear_axis(0, 100, 4, unit="s", name="time")
    g1 = xg.region_geom("icrs;circle(83.633,22.014,1)", axes=[EAXIS, t])
    g2 = xg.region_geom("icrs;circle(83.633,22.014,1)", axes=[e_gev, t])
    c1, c2 = bin_events(ev, g1), bin_events(ev, g2)
    assert c1.dims == ("energy", "time")
    np.testing.assert_array_equal(c1.values, c2.values)
    inside = sky.contains("icrs;circle(83.633,22.014,1)",
                          SkyCoord(ev.ra.to_numpy(), ev.dec.to_numpy(), unit="deg"))
    sel = inside & (ev.energy.to_numpy() >= 0.1) & (ev.energy.to_numpy() < 100)
    expected = np.histogram(ev.time.to_numpy()[sel], bins=[0, 25, 50, 75, 100])[0]
    np.testing.assert_array_equal(c1.sum("energy").values, expected)
    with pytest.raises(GeometryError, match="offset"):
        bin_events(ev, xg.region_geom("icrs;circle(0,0,1)",
                                      axes=[xg.axes.linear_axis(0, 2, 2, name="offset")]))


def test_crab_run_23523(data):
    path = data / CRAB_RUN
    with fits.open(path) as hdul:
        t = hdul["EVENTS"].data
        ev = pd.DataFrame({"ra": t["RA"].astype(float), "dec": t["DEC"].astype(float),
                           "energy": t["ENERGY"].astype(float)})
    geom = xg.wcs_geom(CENTER, 2, 0.1, axes=[xg.energy_axis(0.01, 1000, 10)])
    counts = bin_events(ev, geom)
    # CAR with CRVAL2 = 0: the map covers ra in (83.633 - 1, 83.633 + 1], dec in [21.014, 23.014)
    ra, dec = ev.ra.to_numpy(), ev.dec.to_numpy()
    direct = np.sum((ra > CENTER[0] - 1) & (ra <= CENTER[0] + 1)
                    & (dec >= CENTER[1] - 1) & (dec < CENTER[1] + 1))
    assert float(counts.sum()) == direct
    assert direct > 1000
    image = counts.sum("energy")
    iy, ix = np.unravel_index(int(np.argmax(image.values)), image.shape)
    peak = SkyCoord(float(image.ra[iy, ix]), float(image.dec[iy, ix]), unit="deg")
    assert peak.separation(SkyCoord(*CENTER, unit="deg")).deg < 0.1
    lazy = bin_events(dd.from_pandas(ev, npartitions=2), geom).compute()
    np.testing.assert_array_equal(lazy.values, counts.values)
