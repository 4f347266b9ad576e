import astropy.units as u
import numpy as np
import pytest
import xarray as xr

import xgamma as xg
from xgamma import axes
from xgamma.errors import ConventionError


def test_energy_axis_log_centres_and_edges():
    e = xg.energy_axis(0.1, 100, nbins=6, unit="TeV")
    np.testing.assert_allclose(axes.edges(e), np.geomspace(0.1, 100, 7), rtol=1e-12)
    np.testing.assert_allclose(e.values, np.sqrt(e.energy_min * e.energy_max), rtol=1e-12)
    assert e.attrs == {"units": "TeV", "interp": "log"}
    assert e.energy.attrs["interp"] == "log"


def test_energy_axis_from_quantity_strings_and_per_decade():
    e = xg.energy_axis("100 GeV", "10 TeV", nbins=5, per_decade=True)
    assert e.sizes["energy"] == 10
    np.testing.assert_allclose(axes.edges(e)[[0, -1]], [0.1, 10.0])
    e2 = xg.energy_axis(0.1 * u.TeV, 1e6 * u.MeV, nbins=2, name="energy_true")
    np.testing.assert_allclose(axes.edges(e2), [0.1, np.sqrt(0.1), 1.0], rtol=1e-12)
    assert "energy_true_min" in e2.coords


def test_linear_axis_and_widths():
    o = xg.linear_axis(0, 2, 4, unit="deg", name="offset")
    np.testing.assert_allclose(o.values, [0.25, 0.75, 1.25, 1.75])
    np.testing.assert_allclose(axes.widths(o).values, 0.5)
    assert axes.widths(o).attrs["units"] == "deg"


@pytest.mark.parametrize(
    "edges, kwargs",
    [([1.0], {}), ([2.0, 1.0], {}), ([0.0, 1.0], {"interp": "log"}), ([1, 2], {"interp": "cubic"})],
)
def test_bad_axes_raise(edges, kwargs):
    with pytest.raises(ConventionError):
        axes.axis_from_edges(edges, "energy", unit="TeV", **kwargs)


def test_bad_ranges_raise():
    with pytest.raises(ConventionError, match="min < max"):
        xg.energy_axis(10, 1, 3)
    with pytest.raises(ConventionError, match="nbins"):
        xg.energy_axis(1, 10, 0)


def test_edges_survive_selection_and_concat():
    e = xg.energy_axis(1, 1000, 3)
    da = xr.DataArray(np.arange(3.0), dims="energy", coords=e.coords)
    sub = da.isel(energy=slice(1, 3))
    np.testing.assert_allclose(axes.edges(sub, "energy"), [10, 100, 1000])
    back = xr.concat([da.isel(energy=[0]), sub], dim="energy")
    assert axes.axis_of(back, "energy").equals(e)


def test_axis_of_non_contiguous():
    lo, hi = np.array([0.0, 10.0]), np.array([5.0, 20.0])
    da = xr.DataArray(
        [1.0, 2.0], dims="time",
        coords={"time": ("time", (lo + hi) / 2), "time_min": ("time", lo), "time_max": ("time", hi)},
    )
    ax = axes.axis_of(da, "time")
    np.testing.assert_allclose(ax.time_min, lo)
    np.testing.assert_allclose(ax.time_max, hi)


def test_interp_axis_log_energy_linear_values():
    e = xg.energy_axis(1, 100, 2)
    da = xr.DataArray([2.0, 4.0], dims="energy", coords=e.coords)
    # centres at 10**0.5 and 10**1.5: 10 TeV is halfway in log
    assert float(axes.interp_axis(da, {"energy": 10.0})) == pytest.approx(3.0)
    # log of values: geometric mean
    assert float(axes.interp_axis(da, {"energy": 10.0}, log_values=True)) == pytest.approx(np.sqrt(8))
    # outside the grid: fill value, or linear extrapolation
    assert np.isnan(float(axes.interp_axis(da, {"energy": 1000.0})))
    assert float(axes.interp_axis(da, {"energy": 1000.0}, fill_value=None)) == pytest.approx(7.0)


def test_interp_axis_two_dims_pointwise():
    e = xg.energy_axis(1, 100, 2)
    o = xg.linear_axis(0, 2, 2, unit="deg", name="offset")
    da = xr.DataArray([[1.0, 3.0], [5.0, 7.0]], dims=("energy", "offset"), coords={**e.coords, **o.coords})
    pts = xr.DataArray([10.0, 10.0], dims="evt")
    off = xr.DataArray([0.5, 1.0], dims="evt")
    out = axes.interp_axis(da, {"energy": pts, "offset": off})
    np.testing.assert_allclose(out.values, [3.0, 4.0])
