"""xgamma: gamma-ray astronomy on the PyData stack.

DL3 events are pandas/dask DataFrames; IRFs, maps and reduced datasets are labelled xarray
objects; the ``.xg`` accessors give binning, folding, fitting and estimators.

Examples
--------
>>> import xgamma as xg
>>> xg.energy_axis(0.1, 100, nbins=3).sizes["energy"]
3
"""

from __future__ import annotations

from . import axes, conventions, errors
from ._paths import data_dir
from .axes import axis_from_edges, energy_axis, linear_axis, log_axis
from .errors import ConventionError, GeometryError, XgammaError, XgammaIOError

# --- block: data access (io/gadf.py, io/store.py, irf.py) ---
# --- end block: data access ---

# --- block: geometry and binning (sky.py, binning.py, events.py, io/zarr.py, accessors.py) ---
# --- end block: geometry and binning ---

# --- block: modeling and fitting (stats.py, models/, fold.py, fit.py, io/ogip.py) ---
# --- end block: modeling and fitting ---

__version__ = "0.1.0.dev0"

__all__ = [
    "__version__",
    "axes",
    "conventions",
    "errors",
    "data_dir",
    "axis_from_edges",
    "energy_axis",
    "linear_axis",
    "log_axis",
    "ConventionError",
    "GeometryError",
    "XgammaError",
    "XgammaIOError",
]
