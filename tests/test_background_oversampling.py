"""``background_oversampling``: the background template integrated over each reco-energy bin in
N log-spaced sub-bins (Gammapy's ``MapDatasetMaker(background_oversampling=N)``)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.interpolate import RegularGridInterpolator

import xgamma as xg
from xgamma import sky, testing
from xgamma.axes import axis_from_edges
from xgamma.config import AnalysisConfig, ConfigError
from xgamma.reduction.background import (
    fov_coordinates,
    make_background,
    oversampled_edges,
    pixel_icrs,
    pixel_solid_angle,
)
from xgamma.reduction.observation import pointing_radec

# Gammapy 2.1, MapDatasetMaker(selection=["background"], background_oversampling=N).run(...)
# on H.E.S.S. DR1 run 23523, WcsGeom.create(skydir=(83.633, 22.014), width=2 deg, binsz=0.02,
# frame="icrs", proj="CAR", 1-10 TeV in 3 log bins): background summed over the pixels per bin
# (measured with /tmp/bkgover/gp.py).
GP_DEFAULT = [444.2262768, 174.31332399, 72.60460943]
GP_N10 = [430.79093556, 175.83906143, 74.42904431]
GP_N200 = [430.66717331, 175.8530551, 74.4488821]


@pytest.fixture(scope="module")
def hess(data_path):
    obs = xg.open_store(data_path / "hess-dl3-dr1").observation(23523)
    e = axis_from_edges(np.geomspace(1.0, 10.0, 4), "energy", unit="TeV")
    geom = sky.wcs_geom((83.633, 22.014), width=2.0, binsz=0.02, frame="icrs", proj="CAR",
                        axes=[e], car_reference="center")
    bkg = {n: xg.reduce(obs, geom, products=["background"], background_oversampling=n).background.values
           for n in (None, 1, 10, 200)}
    return obs, geom, bkg


def test_edges():
    f = oversampled_edges(np.array([1.0, 10.0, 1000.0]), 4)
    assert f.size == 9 and f[0] == 1.0 and f[4] == 10.0 and f[8] == 1000.0
    np.testing.assert_allclose(np.diff(np.log10(f)), [0.25] * 4 + [0.5] * 4, rtol=1e-12)


def test_default_unchanged(hess):
    _, _, b = hess
    assert np.array_equal(b[None], b[1])  # N = 1 is today's integral, bit for bit
    # the default is Gammapy's edge-to-edge log-log integral (float32 rate: ~1e-7)
    np.testing.assert_allclose(b[None].sum(axis=(1, 2)), GP_DEFAULT, rtol=2e-6)


def test_oversampling_matches_gammapy(hess):
    _, _, b = hess
    np.testing.assert_allclose(b[10].sum(axis=(1, 2)), GP_N10, rtol=2e-6)
    np.testing.assert_allclose(b[200].sum(axis=(1, 2)), GP_N200, rtol=2e-6)
    # the edge-to-edge integral is off by +3.2 / -0.9 / -2.5 % in these 1/3-decade bins
    bias = b[None].sum(axis=(1, 2)) / b[200].sum(axis=(1, 2)) - 1
    np.testing.assert_allclose(bias, [0.0315, -0.0088, -0.0248], atol=1e-3)


def test_oversampling_converges_to_exact_integral(hess):
    """N = 10 within 0.2 % (here 0.03 %) of the quad integral of the log-log interpolated rate."""
    obs, geom, b = hess
    bkg = obs.bkg.transpose("energy", "fov_lon", "fov_lat")
    logv = np.log(np.clip(bkg.values.astype(float), 1e-300, None))
    le = np.log(bkg.energy.values)
    interp = RegularGridInterpolator((le, bkg.fov_lon.values, bkg.fov_lat.values), logv)
    ra, dec = pixel_icrs(geom)
    omega = pixel_solid_angle(geom)
    edges = np.geomspace(1.0, 10.0, 4)
    for iy, ix in [(50, 50), (10, 80), (90, 5), (30, 60)]:
        lon, lat = fov_coordinates(ra[iy:iy + 1, ix], dec[iy:iy + 1, ix], pointing_radec(obs))
        lon, lat = float(lon[0]), float(lat[0])

        def rate(e: float, lon: float = lon, lat: float = lat) -> float:
            return float(np.exp(interp([[np.log(e), lon, lat]])[0]))

        for k in range(3):
            lo, hi = edges[k], edges[k + 1]
            nodes = [x for x in bkg.energy.values if lo < x < hi]
            ref = quad(rate, lo, hi, points=nodes, epsrel=1e-10)[0] * omega[iy, ix] * obs.ontime
            assert abs(b[10][k, iy, ix] / ref - 1) < 2e-3
            assert abs(b[200][k, iy, ix] / ref - 1) < 2e-5
            assert abs(b[None][k, iy, ix] / ref - 1) > 5e-3  # the edge-to-edge bias is real


def test_sum_over_bins_consistent(hess):
    """One 1-10 TeV bin with 30 sub-bins has the sub-edges of 3 bins with 10: same total."""
    obs, geom, b = hess
    wide = geom.isel(energy=[0]).drop_vars([c for c in geom.coords if "energy" in str(c)])
    wide = wide.assign_coords(axis_from_edges(np.array([1.0, 10.0]), "energy", unit="TeV").coords)
    one = xg.reduce(obs, wide, products=["background"], background_oversampling=30).background.values
    np.testing.assert_allclose(one[0], b[10].sum(axis=0), rtol=1e-5)
    np.testing.assert_allclose(one.sum(), b[200].sum(), rtol=2e-4)


@pytest.mark.parametrize("kind,align", [("3d", "RADEC"), ("3d", "ALTAZ"), ("2d", "RADEC")])
def test_synthetic_paths(kind, align):
    """Power law in energy: the edge-to-edge integral is exact, oversampling changes nothing;
    a curved spectrum converges (every integration path: RADEC blocks, ALTAZ, BKG_2D)."""
    o = testing.make_observation(n_events=10, source=None, bkg_kind=kind, fovalign=align)
    e = axis_from_edges(np.geomspace(1.0, 10.0, 4), "energy", unit="TeV")
    g = sky.wcs_geom((83.633, 21.514), width=3.0, binsz=0.1, axes=[e])
    b1, b8 = make_background(o, g), make_background(o, g, background_oversampling=8)
    np.testing.assert_allclose(b8, b1, rtol=1e-4)
    en = o.bkg.energy
    curved = replace(o, bkg=(o.bkg * np.exp(-0.5 * np.log(en) ** 2)).assign_attrs(o.bkg.attrs))
    c1, c10, c100 = (make_background(curved, g, background_oversampling=n) for n in (None, 10, 100))
    tot = [c.sum(axis=(1, 2)) for c in (c1, c10, c100)]
    assert np.all(np.abs(tot[0] / tot[2] - 1) > 0.03)  # -4.7 / -4.4 / -4.3 %
    np.testing.assert_allclose(tot[1], tot[2], rtol=2e-3)  # -0.07 / -0.09 / -0.05 %


def test_healpix_and_many():
    """A rate separable in energy and FoV: the oversampled/default ratio is one number per bin,
    the same on HEALPix pixels as on a WCS map; reduce_many passes the option on."""
    o = testing.make_observation(n_events=10, source=None)
    en = o.bkg.energy
    o = replace(o, bkg=(o.bkg * np.exp(-0.5 * np.log(en) ** 2)).assign_attrs(o.bkg.attrs))
    e = axis_from_edges(np.geomspace(1.0, 10.0, 4), "energy", unit="TeV")
    hp = xg.healpix_geom(64, skydir=(83.633, 21.514), width=2.0, axes=[e])
    wcs = sky.wcs_geom((83.633, 21.514), width=2.0, binsz=0.2, axes=[e])
    h = [xg.reduce(o, hp, products=["background"], background_oversampling=n).background.values
         for n in (None, 10)]
    w = [xg.reduce(o, wcs, products=["background"], background_oversampling=n).background.values
         for n in (None, 10)]
    ratio = w[1][:, 5, 5] / w[0][:, 5, 5]
    assert np.all(np.abs(ratio - 1) > 0.03)
    np.testing.assert_allclose(h[1] / h[0], np.broadcast_to(ratio[:, None], h[0].shape), rtol=1e-5)
    np.testing.assert_allclose(w[1] / w[0], np.broadcast_to(ratio[:, None, None], w[0].shape), rtol=1e-5)
    m = xg.reduce_many([o], wcs, products=["background"], background_oversampling=10)
    np.testing.assert_array_equal(np.asarray(m.background.values).reshape(w[1].shape), w[1])


def test_errors_and_config():
    o = testing.make_observation(n_events=10)
    g = testing.make_wcs_geom(width=1.0, binsz=0.5)
    for bad in (0, 2.5, True, "10"):
        with pytest.raises(ValueError, match="background_oversampling"):
            xg.reduce(o, g, products=["background"], background_oversampling=bad)
    with pytest.raises(ValueError, match="background_oversampling"):
        xg.reduce(o, xg.region_geom("icrs;circle(83.633,22.014,0.1)"), background_oversampling=4)
    cfg = AnalysisConfig()
    assert cfg.datasets.background.oversampling is None
    cfg.datasets.background.oversampling = 10
    assert "oversampling" not in cfg.to_dict(gammapy=True)["datasets"]["background"]
    assert cfg.to_dict()["datasets"]["background"]["oversampling"] == 10
    with pytest.raises(Exception, match="oversampling"):
        cfg.datasets.background.oversampling = 0
    cfg.datasets.type = "1d"
    cfg.datasets.on_region.lon, cfg.datasets.on_region.lat = "83.6 deg", "22.0 deg"
    cfg.datasets.on_region.radius = "0.1 deg"
    with pytest.raises(ConfigError, match="datasets.background.oversampling"):
        xg.Analysis(cfg).validate()


def test_analysis_config_key_reaches_the_reduction(data_path, hess):
    """``datasets.background.oversampling`` in a 3d config gives the background of
    ``xg.reduce(..., background_oversampling=N)`` (run 23523, the map of the fixture)."""
    _, geom, bkg = hess
    cfg = AnalysisConfig()
    cfg.observations.datastore = str(data_path / "hess-dl3-dr1")
    cfg.observations.obs_ids = [23523]
    cfg.datasets.type = "3d"
    cfg.datasets.stack = False
    w = cfg.datasets.geom.wcs
    w.skydir.frame, w.skydir.lon, w.skydir.lat = "icrs", "83.633 deg", "22.014 deg"
    w.binsize, w.width.width, w.width.height = "0.02 deg", "2 deg", "2 deg"
    cfg.datasets.geom.axes.energy.min, cfg.datasets.geom.axes.energy.max = "1 TeV", "10 TeV"
    cfg.datasets.geom.axes.energy.nbins = 3
    cfg.datasets.map_selection = ["counts", "exposure", "background"]
    cfg.datasets.safe_mask.methods = []
    cfg.datasets.background.oversampling = 10
    ana = xg.Analysis(cfg)
    ana.get_observations()
    (ds,) = ana.get_datasets()
    got = ds["background"].values.reshape(bkg[10].shape)
    np.testing.assert_allclose(got.sum(axis=(-2, -1)), bkg[10].sum(axis=(-2, -1)), rtol=1e-6)
    np.testing.assert_allclose(got.sum(axis=(-2, -1)), GP_N10, rtol=1e-5)
