"""Tests of DL4 archives: Gammapy MapDataset FITS (xgamma.io.dl4) and zarr (xgamma.io.zarr)."""

from __future__ import annotations

import dask.array
import numpy as np
import pytest
from astropy.io import fits

import xgamma as xg
from xgamma import sky, testing
from xgamma.errors import XgammaIOError
from xgamma.io.dl4 import read_dl4, to_hdulist, write_dl4
from xgamma.io.zarr import open_zarr, to_zarr


@pytest.fixture(scope="module")
def geom():
    return testing.make_wcs_geom(width=2.0, binsz=0.1, energy=xg.energy_axis(0.5, 20, 5))


@pytest.fixture(scope="module")
def dss(geom):
    obs = [testing.make_observation(obs_id=i, seed=i, n_events=1500) for i in (1, 2, 3)]
    return xg.reduce_many(obs, geom, energy_true=xg.energy_axis(0.3, 30, 8, name="energy_true"),
                          safe_mask={"methods": ["offset-max"], "offset_max": 1.8},
                          background_method="fov")


def _assert_equal(a, b, rtol=0.0):
    assert set(a.data_vars) == set(b.data_vars)
    for v in a.data_vars:
        assert a[v].dims == b[v].dims, v
        if a[v].dtype == bool:
            np.testing.assert_array_equal(a[v].values, b[v].values)
        else:
            np.testing.assert_allclose(a[v].values, b[v].values, rtol=rtol, atol=0)
        assert a[v].attrs.get("units", "") == b[v].attrs.get("units", ""), v
    for c in ("energy", "energy_min", "energy_max", "energy_true_min", "rad_max", "ra", "dec"):
        if c in a.coords:
            np.testing.assert_allclose(a[c].values, b[c].values, rtol=1e-12)


def test_fits_round_trip_one(dss, tmp_path):
    ds = dss.isel(obs=0)
    ds = ds.drop_vars([c for c in ds.coords if "obs" in ds[c].dims or c == "obs"])
    ds.attrs.update(obs_id=1, livetime=1600.0, ontime=float(dss.ontime[0]),
                    pointing_ra=83.633, pointing_dec=21.514, name="obs_1")
    p = tmp_path / "one.fits"
    write_dl4(ds, p)
    back = read_dl4(p)
    _assert_equal(ds, back)
    assert back.attrs["obs_id"] == 1 and back.attrs["livetime"] == 1600.0
    assert back.attrs["pointing_ra"] == 83.633 and back.attrs["name"] == "obs_1"
    assert sky.wcs_of(back).wcs.compare(sky.wcs_of(ds).wcs, tolerance=1e-12)
    assert back.attrs["wcs_irf"] and back.psf.attrs["units"] == "sr-1"


def test_fits_round_trip_stacked(dss, tmp_path):
    st = xg.stack(dss)
    p = tmp_path / "stacked.fits"
    write_dl4(st, p)
    back = read_dl4(p)
    _assert_equal(st, back, rtol=1e-15)
    assert back.attrs["obs_id"] == [1, 2, 3]
    assert back.attrs["livetime"] == pytest.approx(4800.0)


def test_fits_layout(dss):
    hdul = to_hdulist(xg.stack(dss))
    names = [h.name for h in hdul]
    for n in ("COUNTS", "COUNTS_BANDS", "EXPOSURE", "EXPOSURE_BANDS", "BACKGROUND", "EDISP",
              "EDISP_BANDS", "EDISP_EXPOSURE", "PSF", "PSF_BANDS", "PSF_EXPOSURE", "MASK_SAFE",
              "GTI", "META_TABLE"):
        assert n in names, n
    c = hdul["COUNTS"].header
    assert c["BANDSHDU"] == "COUNTS_BANDS" and c["AXCOLS1"] == "E_MIN,E_MAX"
    assert c["CTYPE1"].startswith("RA---") and c["NAXIS3"] == 5
    bands = hdul["COUNTS_BANDS"].data
    assert list(bands.names) == ["CHANNEL", "ENERGY", "E_MIN", "E_MAX"]
    ed = hdul["EDISP_BANDS"]
    assert ed.header["AXCOLS1"] == "E_MIN,E_MAX"
    assert ed.header["AXCOLS2"] == "ENERGY_TRUE_MIN,ENERGY_TRUE_MAX"
    # first axis fastest: the reco energy cycles within each true energy
    assert ed.data["E_MIN"][1] > ed.data["E_MIN"][0]
    assert ed.data["ENERGY_TRUE_MIN"][1] == ed.data["ENERGY_TRUE_MIN"][0]
    assert hdul["PSF_BANDS"].header["AXCOLS1"] == "RAD_MIN,RAD_MAX"
    assert hdul["PSF"].data.shape == (8, 66, 10, 10)


def test_obs_dim_rejected(dss, tmp_path):
    with pytest.raises(ValueError, match="one dataset"):
        write_dl4(dss, tmp_path / "x.fits")


def test_missing_file_and_bad_bands(tmp_path, dss):
    with pytest.raises(XgammaIOError, match="file not found"):
        read_dl4(tmp_path / "nope.fits")
    hdul = to_hdulist(xg.stack(dss))
    del hdul["COUNTS_BANDS"]
    p = tmp_path / "bad.fits"
    hdul.writeto(p)
    with pytest.raises(XgammaIOError, match="COUNTS_BANDS"):
        read_dl4(p)


def test_read_gammapy_file(data, tmp_path):
    """A MapDataset written by Gammapy (Fermi-LAT 3FHL Crab): values as in the file."""
    path = data / "fermi-3fhl-crab" / "Fermi-LAT-3FHL_data_Fermi-LAT.fits"
    ds = read_dl4(path)
    with fits.open(path) as h:
        np.testing.assert_array_equal(ds.counts.values, h["COUNTS"].data)
        f = {"cm2 s": 1.0, "m2 s": 1e4}[h["EXPOSURE"].header["BUNIT"].strip()]
        np.testing.assert_allclose(ds.exposure.values, h["EXPOSURE"].data * f, rtol=1e-12)
        e_min = h["COUNTS_BANDS"].data["E_MIN"]
    np.testing.assert_allclose(ds.energy_min.values, e_min, rtol=1e-6)
    assert ds.counts.dims == ("energy", "y", "x") and sky.frame_of(ds) == "galactic"
    assert ds.exposure.dims == ("energy_true", "y", "x")
    assert ds.psf.dims[1:] == ("rad", "y_irf", "x_irf") and ds.rad.attrs["units"] == "deg"
    assert ds.mask_safe.dtype == bool
    # round trip of what was read
    write_dl4(ds, tmp_path / "fermi.fits")
    back = read_dl4(tmp_path / "fermi.fits")
    for v in ("counts", "exposure", "background", "mask_safe"):
        np.testing.assert_allclose(back[v].values, ds[v].values)


# ----------------------------------------------------------------------------- zarr
def test_zarr_round_trips(dss, tmp_path):
    one = xg.reduce(testing.make_observation(n_events=300), testing.make_wcs_geom(
        width=1.0, binsz=0.1), background_method="fov")
    st = xg.stack(dss)
    for name, ds in (("one", one), ("many", dss), ("stacked", st)):
        p = tmp_path / f"{name}.zarr"
        to_zarr(ds, p)
        back = open_zarr(p)
        assert isinstance(back.counts.data, dask.array.Array)  # lazily opened
        back = back.compute()
        _assert_equal(ds, back)
        assert back.attrs["wcs"] == ds.attrs["wcs"] and back.attrs["wcs_irf"] == ds.attrs["wcs_irf"]
        assert sky.wcs_of(back).wcs.compare(sky.wcs_of(ds).wcs)
        assert back.mask_safe.dtype == bool
    many = open_zarr(tmp_path / "many.zarr")
    assert many.obs.values.tolist() == [1, 2, 3]
    np.testing.assert_allclose(many.livetime.values, dss.livetime.values)
    # stacking the lazily opened archive gives the in-memory result
    lazy = xg.stack(many)
    np.testing.assert_allclose(lazy.counts.values, st.counts.values)
    assert open_zarr(tmp_path / "stacked.zarr").attrs["obs_id"] == [1, 2, 3]
