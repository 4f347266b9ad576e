"""Shared test fixtures.

The real data are found through ``XGAMMA_DATA`` (falling back to ``../shared/data``); tests
that need them are skipped when the folder is absent.
"""

from __future__ import annotations

import matplotlib
import pytest

from xgamma._paths import data_dir as _data_dir

matplotlib.use("Agg")


@pytest.fixture(scope="session")
def data_path():
    d = _data_dir(required=False)
    if d is None:
        pytest.skip("shared data not found (set XGAMMA_DATA)")
    return d


@pytest.fixture(scope="session")
def hess_path(data_path):
    return data_path / "hess-dl3-dr1"


CRAB_RUNS = [23523, 23526, 23559, 23592]


@pytest.fixture(scope="session")
def crab3d_stacked(data_path):
    """The stacked 4-run H.E.S.S. Crab 3D dataset of Gammapy's ``analysis_3d`` reference
    (5 x 5 deg, 0.02 deg, energy 1-10 TeV in 10 bins, energy_true 0.5-20 TeV in 20 bins,
    offset-max 2.5 deg, FoV background scaled outside 0.3 deg around the Crab); ~3 s."""
    import xgamma as xg
    from xgamma import sky
    from xgamma.testing import crab_reference_geom

    geom = crab_reference_geom(xg.energy_axis(1, 10, 10))
    store = xg.open_store(data_path / "hess-dl3-dr1")
    excl = sky.exclusion_mask(sky.drop_axes(geom), "icrs;circle(83.633,22.014,0.3)")
    dss = xg.reduce_many([store.observation(i) for i in CRAB_RUNS], geom,
                         energy_true=xg.energy_axis(0.5, 20, 20, name="energy_true"),
                         safe_mask={"methods": ["offset-max"], "offset_max": 2.5},
                         background_method="fov", exclusion_mask=excl)
    return xg.stack(dss)


@pytest.fixture(scope="session")
def crab_reference(data_path):
    """``gammapy_crab.json`` (the reference numbers of the Crab analyses)."""
    import json

    return json.loads((data_path.parent / "reference" / "gammapy_crab.json").read_text())


@pytest.fixture(scope="session")
def data(data_path):
    """The shared data folder (alias of ``data_path``)."""
    return data_path


@pytest.fixture(params=["eager", "dask"])
def backend(request):
    """Runs a test on eager (numpy/pandas) and on dask-chunked inputs: ``backend(obj)``
    returns ``obj`` unchanged or chunked (DataArray/Dataset: ``.chunk()`` along its first dim
    in pieces of 2; DataFrame: a 2-partition dask DataFrame). Results must be identical."""
    import dask.dataframe as dd
    import pandas as pd
    import xarray as xr

    def convert(obj):
        if request.param == "eager":
            return obj
        if isinstance(obj, pd.DataFrame):
            out = dd.from_pandas(obj, npartitions=2)
            out.attrs = dict(obj.attrs)
            return out
        if isinstance(obj, xr.DataArray | xr.Dataset):
            dims = [d for d in obj.dims if obj.sizes[d] > 1]
            return obj.chunk({dims[0]: 2}) if dims else obj.chunk()
        return obj

    convert.name = request.param
    return convert


@pytest.fixture(scope="session")
def sim_irfs():
    """The analytic demo instrument's IRFs (xgamma.simulation.demo_irfs)."""
    from xgamma.simulation import demo_irfs

    return demo_irfs()
