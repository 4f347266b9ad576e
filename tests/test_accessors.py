"""Tests of the ``.xg`` accessors (one-line delegates) and of xgamma.plot."""

from __future__ import annotations

import subprocess
import sys

import dask.dataframe as dd
import matplotlib
import numpy as np
import pandas as pd
import pytest
import xarray as xr

import xgamma as xg
from xgamma import sky
from xgamma.reduction import binning, events

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def ev() -> pd.DataFrame:
    rng = np.random.default_rng(11)
    n = 3000
    return pd.DataFrame({"ra": 83.633 + rng.normal(0, 0.3, n), "dec": 22.014 + rng.normal(0, 0.3, n),
                         "energy": 10 ** rng.uniform(-1, 2, n), "time": rng.uniform(0, 100, n)})


@pytest.fixture(scope="module")
def geom() -> xr.Dataset:
    return xg.wcs_geom((83.633, 22.014), 2, 0.1, axes=[xg.energy_axis(0.1, 100, 3)])


def test_dataframe_accessor_pandas_and_dask(ev, geom):
    ref = binning.bin_events(ev, geom)
    xr.testing.assert_identical(ev.xg.bin(geom), ref)
    dev = dd.from_pandas(ev, npartitions=2)
    xr.testing.assert_identical(dev.xg.bin(geom).compute(), ref)
    assert float(ref.sum()) > 2000
    pd.testing.assert_frame_equal(ev.xg.select_energy(1, 10), events.select_energy(ev, 1, 10))
    pd.testing.assert_frame_equal(dev.xg.select_time("10 s", "20 s").compute(),
                                  events.select_time(ev, "10 s", "20 s"))
    pd.testing.assert_frame_equal(ev.xg.select_region("icrs;circle(83.633,22.014,0.2)"),
                                  events.select_region(ev, "icrs;circle(83.633,22.014,0.2)"))
    pd.testing.assert_frame_equal(ev.xg.fov_coords(83.633, 22.514),
                                  events.fov_coords(ev, 83.633, 22.514))
    pd.testing.assert_series_equal(dev.xg.offset(83.633, 22.514).compute(),
                                   events.offset(ev, 83.633, 22.514))


def test_dataarray_and_dataset_accessors(tmp_path, ev, geom):
    counts = ev.xg.bin(geom)
    assert counts.xg.geom.equals(geom) and counts.xg.geom_kind == "wcs"
    assert counts.xg.frame == "icrs"
    assert counts.xg.wcs.wcs.compare(sky.wcs_of(geom).wcs)
    np.testing.assert_array_equal(counts.xg.edges("energy"), [0.1, 1, 10, 100])
    np.testing.assert_allclose(counts.xg.widths("energy").values, [0.9, 9, 90])
    assert counts.xg.axis("energy").equals(xg.energy_axis(0.1, 100, 3))
    xr.testing.assert_identical(counts.xg.solid_angle(), sky.solid_angle(geom))
    xr.testing.assert_identical(counts.xg.separation((83.633, 22.014)),
                                sky.separation(geom, (83.633, 22.014)))
    assert counts.xg.center.separation(sky.center(geom)).deg == 0
    mask = counts.xg.region_mask("icrs;circle(83.633,22.014,0.3)")
    assert (counts.xg.exclusion_mask("icrs;circle(83.633,22.014,0.3)") == ~mask).all()
    assert dict(counts.xg.cutout((83.633, 22.014), 1).sizes) == {"energy": 3, "y": 10, "x": 10}
    np.testing.assert_array_equal(counts.xg.to_image().values, counts.sum("energy").values)
    assert counts.xg.skycoord.shape == (20, 20)
    x, y = counts.xg.sky_to_pix(counts.xg.pix_to_sky(3.0, 4.0))
    assert (round(float(x), 9), round(float(y), 9)) == (3.0, 4.0)
    counts.xg.to_zarr(tmp_path / "c.zarr")
    xr.testing.assert_identical(xg.io.zarr.open_zarr(tmp_path / "c.zarr").compute(), counts)
    ds = xr.Dataset({"counts": counts}, attrs=counts.attrs)
    assert ds.xg.geom.equals(geom)
    xr.testing.assert_identical(ds.xg.solid_angle(), sky.solid_angle(geom))
    assert xg.region_geom("icrs;circle(1,2,0.3)").xg.region.radius.value == 0.3


def test_plots(ev, geom):
    counts = ev.xg.bin(geom)
    ax = counts.xg.plot(sel={"energy": 0}, stretch="sqrt")
    img = ax.images[0].get_array()
    np.testing.assert_array_equal(np.asarray(img), counts.isel(energy=0).values)
    assert type(ax).__name__ == "WCSAxes"
    ax = counts.xg.plot()  # summed over energy
    np.testing.assert_array_equal(np.asarray(ax.images[0].get_array()), counts.sum("energy").values)
    # HEALPix: projected to an all-sky Mollweide image; every finite value is a pixel value
    hp = sky.make_map(np.arange(48.0), xg.healpix_geom(2, frame="galactic"), name="flux")
    img = xg.plot.healpix_to_image(hp, binsz=2)
    vals = img.values[np.isfinite(img.values)]
    assert set(np.unique(vals)) == set(np.arange(48.0))
    assert type(hp.xg.plot()).__name__ == "WCSAxes"
    # IRF curves: aeff vs energy_true for a few offsets, log x axis
    e = xg.energy_axis(0.1, 100, 8, name="energy_true")
    o = xg.axes.linear_axis(0, 2.5, 10, unit="deg", name="offset")
    aeff = xr.DataArray(np.outer(np.geomspace(1e4, 1e6, 8), np.linspace(1, 0.2, 10)),
                        dims=("energy_true", "offset"), coords={**e.coords, **o.coords},
                        name="aeff", attrs={"units": "cm2"})
    ax = aeff.xg.plot(max_lines=3)
    assert len(ax.lines) == 3 and ax.get_xscale() == "log" and ax.get_yscale() == "log"
    np.testing.assert_allclose(ax.lines[0].get_ydata(), aeff.isel(offset=0).values)
    spec = xg.sky.empty(xg.region_geom("icrs;circle(0,0,1)", axes=[xg.energy_axis(1, 10, 3)])) + 1
    assert spec.xg.plot().get_xscale() == "log"
    ds = xr.Dataset({"aeff": aeff})
    assert len(ds.xg.plot("aeff").lines) == 5
    import matplotlib.pyplot as plt

    plt.close("all")


def test_import_is_light_and_registers():
    code = ("import sys, pandas as pd, xarray as xr, xgamma; "
            "print('matplotlib' in sys.modules, hasattr(pd.DataFrame([]), 'xg'), "
            "hasattr(xr.DataArray(1.0), 'xg'), hasattr(xr.Dataset(), 'xg'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True", "True", "True"]
