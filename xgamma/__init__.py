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
# isort: split
from . import irf
from .io.gadf import events_time, read_events, read_gti, read_irf
from .io.store import DataStore, Observation, open_store

# --- end block: data access ---

# --- block: geometry and binning (sky.py, binning.py, events.py, io/zarr.py, accessors.py) ---
# isort: split
from . import accessors, binning, events, plot, sky  # accessors registers ``.xg``
from .binning import bin_events
from .sky import healpix_geom, region_geom, wcs_geom

# --- end block: geometry and binning ---

# --- block: spatial/temporal models and map folding (models/spatial.py, models/temporal.py, fold_map.py) ---
# isort: split
from . import fold_map
from .fold_map import MapEvaluator, npred_map
from .models.spatial import (
    SpatialModel,
    read_spatial_template,
    spatial_model,
    template_spatial_model,
)
from .models.temporal import TemporalModel, lightcurve_template_model, temporal_model

# --- end block: spatial/temporal models and map folding ---

# --- block: modeling and fitting (stats.py, models/, fold.py, fit.py, io/ogip.py) ---
# isort: split
from . import fold, models, stats
from .fit import FitResult, confidence, fit, stat_contour, stat_profile, stat_sum, stat_surface, ts
from .fold import fake, npred, npred_signal
from .io.ogip import read_ogip, write_ogip
from .io.yaml import read_models, write_models
from .models import BackgroundModel, Models, SkyModel, spectral_model

# --- end block: modeling and fitting ---

# --- block: reduction (reduce.py, safe_mask.py, background.py, io/dl4.py, testing.py) ---
# isort: split
from . import background, safe_mask
from .background import fov_background, ring_background
from .reduce import ReductionError, reduce, reduce_many, stack
from .safe_mask import make_safe_mask

# --- end block: reduction ---

# --- block: spectrum extraction (spectrum.py, reflected.py) ---
# reflected, spectrum and their functions are imported on first use: see __getattr__ at the end

# --- end block: spectrum extraction ---

# --- block: high-level interface (config.py, analysis.py) ---
# isort: split
from .analysis import Analysis
from .config import AnalysisConfig, ConfigError

# --- end block: high-level interface ---

# --- block: estimators (maps) (estimators/excess_map.py, estimators/ts_map.py) ---
# isort: split
from .estimators.excess_map import excess_map, find_peaks, significance_distribution  # noqa: E402
from .estimators.ts_map import ts_map  # noqa: E402

# --- end block: estimators (maps) ---

# --- block: estimators (flux points, light curves) (estimators/core.py, flux_points.py, light_curve.py, sensitivity.py, io/sed.py) ---
# isort: split
from . import estimators  # noqa: E402
from .estimators.flux_points import flux_points  # noqa: E402
from .estimators.light_curve import light_curve  # noqa: E402
from .estimators.sensitivity import sensitivity  # noqa: E402
from .io.sed import read_sed, write_sed  # noqa: E402

# --- end block: estimators (flux points, light curves) ---

# --- block: estimators (asmooth, profiles) (estimators/asmooth.py, estimators/profile.py) ---
# isort: split
from .estimators.asmooth import asmooth  # noqa: E402
from .estimators.profile import annulus_regions, box_profile_regions, flux_profile  # noqa: E402

# --- end block: estimators (asmooth, profiles) ---

# --- block: catalogs (catalogs/) ---
# isort: split
from . import catalogs  # noqa: E402
from .catalogs import catalog_models, read_catalog  # noqa: E402

# --- end block: catalogs ---

__version__ = "0.1.0.dev0"

__all__ = [
    "__version__",
    "Analysis",
    "AnalysisConfig",
    "ConfigError",
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
    # data access
    "irf", "events_time", "read_events", "read_gti", "read_irf", "DataStore", "Observation", "open_store",
    # geometry and binning
    "accessors", "binning", "events", "plot", "sky", "bin_events", "healpix_geom", "region_geom", "wcs_geom",
    # spatial/temporal models and map folding
    "fold_map", "MapEvaluator", "npred_map", "SpatialModel", "read_spatial_template", "spatial_model",
    "template_spatial_model", "TemporalModel", "lightcurve_template_model", "temporal_model",
    # modeling and fitting
    "fold", "models", "stats", "FitResult", "confidence", "fit", "stat_contour", "stat_profile", "stat_sum",
    "stat_surface", "ts", "fake", "npred", "npred_signal", "read_ogip", "write_ogip", "read_models",
    "write_models", "BackgroundModel", "Models", "SkyModel", "spectral_model",
    # reduction
    "background", "safe_mask", "fov_background", "ring_background", "ReductionError", "reduce",
    "reduce_many", "stack", "make_safe_mask",
    # spectrum extraction
    "reflected", "spectrum", "find_reflected_regions", "reduce_spectrum", "spectrum_info", "stack_spectra",
    # estimators (maps)
    "excess_map", "find_peaks", "significance_distribution", "ts_map",
    # estimators (flux points, light curves)
    "estimators", "flux_points", "light_curve", "sensitivity", "read_sed", "write_sed",
    # estimators (asmooth, profiles)
    "asmooth", "flux_profile", "box_profile_regions", "annulus_regions",
    # catalogs
    "catalogs", "read_catalog", "catalog_models",
]


# Imported on first use (PEP 562 ``__getattr__`` below): they need astropy-regions at import
# time, which loads matplotlib; ``import xgamma`` stays light without them.
_LAZY = {
    "reflected": ("reflected", None),
    "spectrum": ("spectrum", None),
    "find_reflected_regions": ("reflected", "find_reflected_regions"),
    "reduce_spectrum": ("spectrum", "reduce_spectrum"),
    "spectrum_info": ("spectrum", "spectrum_info"),
    "stack_spectra": ("spectrum", "stack_spectra"),
}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        mod = importlib.import_module(f".{module}", __name__)
        return mod if attr is None else getattr(mod, attr)
    raise AttributeError(f"module 'xgamma' has no attribute {name!r}")
