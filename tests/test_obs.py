"""The one ``concat_obs`` (xgamma.obs): behaviour pinned before the two old versions were merged
(the spectral one in ``fold`` and the map one in ``stacking``)."""

import numpy as np
import pytest
import xarray as xr

import xgamma as xg
from xgamma import testing
from xgamma.errors import GeometryError
from xgamma.fitting.fold import example_dataset
from xgamma.obs import OBS_META, concat_obs


def test_spectra_ids_livetimes_and_name():
    a = example_dataset()
    b = example_dataset().assign_attrs(obs_id=2, livetime=1000.0)
    ds = concat_obs([a, b], name="two")
    assert ds.sizes["obs"] == 2
    assert ds.obs.values.tolist() == [a.attrs["obs_id"], 2]
    assert ds.livetime.values.tolist() == [a.attrs["livetime"], 1000.0]
    assert ds.attrs["livetime"] == pytest.approx(a.attrs["livetime"] + 1000.0)
    assert ds.attrs["name"] == "two" and ds.attrs["obs_id"] == ds.obs.values.tolist()
    np.testing.assert_array_equal(ds.counts.isel(obs=1).values, b.counts.values)


def test_repeated_ids_fall_back_to_positions():
    a = example_dataset()
    ds = concat_obs([a, a])
    assert ds.obs.values.tolist() == [0, 1]


def test_maps_per_run_attrs_become_obs_coords():
    g = testing.make_wcs_geom(width=1.0, binsz=0.2)
    dss = [xg.reduce(testing.make_observation(obs_id=i, n_events=50, seed=i), g,
                     products=["counts", "exposure"]) for i in (3, 4)]
    cat = concat_obs(dss)
    assert cat.obs.values.tolist() == [3, 4]
    for key in ("livetime", "ontime", "pointing_ra", "pointing_dec"):
        assert key in OBS_META and cat[key].dims == ("obs",)
        assert cat[key].values.tolist() == [d.attrs[key] for d in dss]
    # summing over obs gives the stacked counts
    np.testing.assert_array_equal(cat.counts.sum("obs").values, dss[0].counts.values + dss[1].counts.values)


def test_geometry_mismatch_names_the_dim():
    a = example_dataset()
    b = a.isel(energy=slice(0, 5))
    with pytest.raises(GeometryError, match="'energy'"):
        concat_obs([a, b])
    with pytest.raises(ValueError, match="no datasets"):
        concat_obs([])


def test_old_path_is_the_same_function():
    from xgamma.fitting import fold
    from xgamma.reduction import stacking

    assert fold.concat_obs is stacking.concat_obs is concat_obs is xg.concat_obs
    assert isinstance(concat_obs([example_dataset()]), xr.Dataset)
