"""Tests of xgamma.io.zarr: maps and datasets round-trip with geometry, units and edges."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
import xarray as xr

import xgamma as xg
from xgamma import sky
from xgamma.io.zarr import open_zarr, to_zarr


@pytest.fixture(scope="module")
def counts() -> xr.DataArray:
    geom = xg.wcs_geom((83.633, 22.014), (3, 2), 0.1, frame="galactic", proj="TAN",
                       axes=[xg.energy_axis(0.1, 100, 5)])
    rng = np.random.default_rng(0)
    return sky.make_map(rng.poisson(3.0, (5, 20, 30)).astype(float), geom, name="counts")


def test_counts_map_roundtrip(tmp_path, counts):
    path = tmp_path / "counts.zarr"
    to_zarr(counts, path)
    back = open_zarr(path)
    assert isinstance(back, xr.DataArray)
    assert isinstance(back.data, da.Array)  # lazily opened
    assert back.name == "counts" and back.dims == counts.dims
    assert back.attrs == counts.attrs
    np.testing.assert_array_equal(back.values, counts.values)
    xr.testing.assert_identical(back.compute(), counts)
    for name, coord in counts.coords.items():
        assert back.coords[name].attrs == coord.attrs
    np.testing.assert_array_equal(back.xg.edges("energy"), counts.xg.edges("energy"))
    assert back.coords["energy"].attrs["interp"] == "log"
    assert sky.wcs_of(back).wcs.compare(sky.wcs_of(counts).wcs)
    assert sky.geom_of(back).equals(sky.geom_of(counts))
    # a cut-out written and read back keeps its place on the sky
    cut = sky.cutout(counts, (83.8, 22.3), 0.5)
    cut.xg.to_zarr(tmp_path / "cut.zarr")
    cut2 = open_zarr(tmp_path / "cut.zarr")
    assert sky.pix_to_sky(cut2, 0, 0).separation(sky.pix_to_sky(cut, 0, 0)).deg < 1e-12
    np.testing.assert_allclose(sky.solid_angle(cut2).values, sky.solid_angle(cut).values)


def test_other_geometries_and_datasets(tmp_path):
    e = xg.energy_axis(1, 10, 2)
    t = xg.axes.linear_axis(0, 3600, 2, unit="s", name="time")
    hp = sky.empty(xg.healpix_geom(4, order="ring", axes=[e]), name=None) + 1
    reg = sky.empty(xg.region_geom("icrs;circle(1,2,0.5);-circle(1,2,0.1)", axes=[e, t]),
                    units="cm-2 s-1")
    for obj, name in [(hp, "hp"), (reg, "reg")]:
        to_zarr(obj, tmp_path / f"{name}.zarr")
        back = open_zarr(tmp_path / f"{name}.zarr")
        xr.testing.assert_identical(back.compute(), obj)
    # a time axis in seconds stays float seconds (no CF timedelta decoding)
    assert open_zarr(tmp_path / "reg.zarr").time.dtype == np.float64
    assert sky.region_to_string(sky.region_of(back)) == reg.attrs["region"]
    ds = xr.Dataset({"counts": hp, "exposure": hp * 1e9}, attrs=hp.attrs)
    to_zarr(ds, tmp_path / "ds.zarr")
    ds2 = open_zarr(tmp_path / "ds.zarr")
    assert isinstance(ds2, xr.Dataset)
    xr.testing.assert_identical(ds2.compute(), ds)
    assert sky.geom_kind(ds2) == "healpix"
    # overwriting is the default; mode="w-" refuses
    to_zarr(ds, tmp_path / "ds.zarr")
    with pytest.raises(FileExistsError):
        to_zarr(ds, tmp_path / "ds.zarr", mode="w-")


def test_dates_come_back_as_dates(tmp_path):
    """CF-encoded datetime64 coordinates (light-curve times) open as datetime64 with the
    generic reader, so ``.sel`` by date works on what was written."""
    t = np.array(["2006-07-29T21:00", "2006-07-29T21:10"], dtype="datetime64[ns]")
    ds = xr.Dataset({"flux": ("time", [1.0, 2.0])}, coords={"time": t})
    to_zarr(ds, tmp_path / "lc.zarr")
    back = open_zarr(tmp_path / "lc.zarr")
    assert back["time"].dtype == np.dtype("datetime64[ns]")
    np.testing.assert_array_equal(back["time"].values, t)
    assert float(back.flux.sel(time="2006-07-29T21:10")) == 2.0
