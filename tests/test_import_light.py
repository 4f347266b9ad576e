"""``import xgamma`` stays light (issue 15): it loads xarray and registers the ``.xg`` accessors,
and every public name loads from its module on first access (PEP 562). Structural checks on
``sys.modules`` in a fresh interpreter; the timings are in ``benchmarks/bench_edges.py``."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import xgamma as xg

HEAVY = ("astropy.coordinates", "astropy.units", "scipy.stats", "scipy.optimize", "dask.dataframe",
         "distributed", "regions", "matplotlib", "zarr", "astropy.io.fits")


def _fresh(code: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_import_xgamma_loads_nothing_heavy():
    r = _fresh("import sys, json, xarray, pandas as pd\n"
               "import xgamma\n"
               f"print(json.dumps({{'heavy': [m for m in {HEAVY!r} if m in sys.modules],\n"
               "  'accessors': [hasattr(xarray.DataArray, 'xg'), hasattr(xarray.Dataset, 'xg'),\n"
               "                hasattr(pd.DataFrame, 'xg')]}))")
    assert r == {"heavy": [], "accessors": [True, True, True]}


def test_gadf_engine_loads_no_readers():
    # xarray's engine discovery loads every backend class on the first open_dataset
    r = _fresh("import sys, json\n"
               "from xgamma.io.gadf_backend import GADFBackendEntrypoint\n"
               f"print(json.dumps([m for m in {HEAVY!r} + ('xgamma.io.gadf',) if m in sys.modules]))")
    assert r == []


def test_every_public_name_resolves():
    missing = [n for n in xg.__all__ if getattr(xg, n, None) is None]
    assert missing == []
    assert set(xg.__all__) <= set(dir(xg))
    ns: dict = {}
    exec("from xgamma import *", ns)  # noqa: S102
    assert set(xg.__all__) <= set(ns)
    with pytest.raises(AttributeError, match="no attribute 'no_such_name'"):
        _ = xg.no_such_name


def test_from_import_and_functions_stay_functions_in_a_fresh_interpreter():
    # the submodules first, then the package's names: reduce/fit/reduce_many are the functions
    r = _fresh("import json, types\n"
               "import xgamma.reduction.driver, xgamma.reduction.many, xgamma.fitting.fitter\n"
               "import xgamma as xg\n"
               "from xgamma import reduce, fit, reduce_many, excess_map, events, background\n"
               "print(json.dumps([isinstance(f, types.FunctionType) for f in (xg.reduce, xg.fit,\n"
               "  xg.reduce_many, reduce, fit, reduce_many, excess_map)]\n"
               "  + [events.__name__, background.__name__, xg.sky.__name__]))")
    assert r == [True] * 7 + ["xgamma.reduction.events", "xgamma.reduction.background", "xgamma.sky"]


def test_accessor_methods_load_their_module():
    r = _fresh("import json, pandas as pd, xgamma as xg\n"
               "ev = pd.DataFrame({'ra': [0.0], 'dec': [1.0], 'energy': [1.0]})\n"
               "print(json.dumps(ev.xg.offset(0, 0).round(9).tolist()))")
    assert r == [1.0]
