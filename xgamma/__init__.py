"""xgamma: gamma-ray astronomy on the PyData stack.

DL3 events are pandas/dask DataFrames; IRFs, maps and reduced datasets are labelled xarray
objects; the ``.xg`` accessors give binning, folding, fitting and estimators.

The package is laid out in floors that import one way (``docs/architecture.rst``): the ground
modules (:mod:`~xgamma.errors`, :mod:`~xgamma.conventions`, :mod:`~xgamma.axes`,
:mod:`~xgamma.stats`, :mod:`~xgamma.obs`, :mod:`~xgamma.compute`, :mod:`~xgamma.config`) ->
:mod:`xgamma.sky` -> :mod:`xgamma.irf` -> :mod:`xgamma.models` -> :mod:`xgamma.io` ->
:mod:`xgamma.reduction` -> :mod:`xgamma.fitting` -> :mod:`xgamma.estimators` -> the workflow
(:mod:`~xgamma.analysis`, :mod:`~xgamma.cli`, :mod:`~xgamma.accessors`, :mod:`~xgamma.plot`).

Examples
--------
>>> import xgamma as xg
>>> xg.energy_axis(0.1, 100, nbins=3).sizes["energy"]
3
"""

from __future__ import annotations

# ground
from xgamma import axes, compute, conventions, errors, obs, stats
from xgamma._paths import data_dir
from xgamma.axes import axis_from_edges, energy_axis, linear_axis, log_axis
from xgamma.errors import (
    ConventionError,
    GeometryError,
    ReductionError,
    XgammaError,
    XgammaIOError,
)
from xgamma.obs import concat_obs
from xgamma.version import __version__

# sky, IRFs, models, files
from xgamma import sky  # isort: skip
from xgamma import irf, models  # isort: skip
from xgamma.io.fermi import read_fermi, read_fermi_cubes
from xgamma.io.gadf import events_time, read_events, read_gti, read_irf
from xgamma.io.ogip import read_ogip, write_ogip
from xgamma.io.spectrum_fits import (
    read_datasets,
    read_spectrum_fits,
    write_datasets,
    write_spectrum_fits,
)
from xgamma.io.store import DataStore, Observation, open_store
from xgamma.io.timeslice import TimeSlice, event_datetimes
from xgamma.io.yaml import read_models, write_models
from xgamma.io.zarr import ArchiveIntegrityError, open_zarr, to_zarr, verify_zarr
from xgamma.models import BackgroundModel, Models, SkyModel, spectral_model
from xgamma.models.spatial import SpatialModel, spatial_model
from xgamma.models.spatial_template import read_spatial_template, template_spatial_model
from xgamma.models.temporal import TemporalModel, lightcurve_template_model, temporal_model
from xgamma.sky import healpix_geom, region_geom, wcs_geom

# reduction
from xgamma import reduction  # isort: skip
from xgamma.reduction import background, binning, events, reflected, safe_mask, spectrum
from xgamma.reduction.archive import archive_status
from xgamma.reduction.background import fov_background, ring_background
from xgamma.reduction.binning import bin_events
from xgamma.reduction.driver import reduce
from xgamma.reduction.hawc import reduce_hawc, reduce_hawc_event_types
from xgamma.reduction.many import SkippedObservation, reduce_many
from xgamma.reduction.reflected import find_reflected_regions
from xgamma.reduction.safe_mask import make_safe_mask
from xgamma.reduction.slices import reduce_spectra
from xgamma.reduction.spectrum import reduce_spectrum, spectrum_info, stack_spectra
from xgamma.reduction.stacking import stack

# fitting
from xgamma import fitting  # isort: skip
from xgamma.fitting import fold, fold_map
from xgamma.fitting.fitter import (
    FitResult,
    confidence,
    fit,
    stat_contour,
    stat_profile,
    stat_sum,
    stat_surface,
    ts,
)
from xgamma.fitting.flux_points_dataset import flux_points_dataset
from xgamma.fitting.fold import fake, npred, npred_signal
from xgamma.fitting.fold_map import MapEvaluator, npred_map
from xgamma.fitting.plots import plot_fit, plot_residuals, plot_significance_map, residuals
from xgamma.fitting.sampling import corner_plot, sample
from xgamma.models.dark_matter import dm_profile, jfactor_map

# estimators
from xgamma import estimators  # isort: skip
from xgamma.estimators.asmooth import asmooth
from xgamma.estimators.excess_map import excess_map, find_peaks, significance_distribution
from xgamma.estimators.flux_points import flux_points
from xgamma.estimators.light_curve import light_curve
from xgamma.estimators.profile import annulus_regions, box_profile_regions, flux_profile
from xgamma.estimators.sed import read_sed, write_sed
from xgamma.estimators.sensitivity import sensitivity
from xgamma.estimators.ts_map import ts_map
from xgamma.estimators.variability import (
    chi2_constancy,
    doubling_time,
    fractional_variance,
    point_to_point_variance,
)

# simulation
from xgamma import simulation  # isort: skip
from xgamma.simulation import (
    EventSampler,
    SimulatedObservation,
    SimulationError,
    check_gadf,
    demo_irfs,
    observation_from_irfs,
    simulate_dataset,
    simulate_events,
    simulate_from_config,
    simulate_observation,
    write_dl3,
)

# catalogs (flux points and light curves use the estimators' result form)
from xgamma import catalogs  # isort: skip
from xgamma.catalogs import catalog_models, read_catalog

# workflow (accessors registers the ``.xg`` accessors)
from xgamma import accessors, plot  # isort: skip
from xgamma.analysis import Analysis
from xgamma.config import AnalysisConfig, ConfigError

__all__ = [
    "__version__",
    # ground
    "axes", "compute", "conventions", "errors", "obs", "stats", "data_dir", "axis_from_edges",
    "energy_axis", "linear_axis", "log_axis", "ConventionError", "GeometryError",
    "ReductionError", "XgammaError", "XgammaIOError", "concat_obs",
    # sky, IRFs, models, files
    "sky", "irf", "models", "events_time", "read_events", "read_gti", "read_irf", "read_ogip",
    "write_ogip", "open_zarr", "to_zarr", "verify_zarr", "ArchiveIntegrityError", "archive_status",
    "DataStore", "Observation", "open_store", "read_models", "write_models",
    "BackgroundModel", "Models", "SkyModel", "spectral_model", "SpatialModel", "spatial_model",
    "read_spatial_template", "template_spatial_model", "TemporalModel",
    "lightcurve_template_model", "temporal_model", "healpix_geom", "region_geom", "wcs_geom",
    # reduction
    "reduction", "background", "binning", "events", "reflected", "safe_mask", "spectrum",
    "fov_background", "ring_background", "bin_events", "reduce", "reduce_many",
    "find_reflected_regions", "make_safe_mask", "SkippedObservation", "reduce_spectrum", "spectrum_info",
    "stack_spectra", "stack", "reduce_spectra", "TimeSlice", "event_datetimes",
    # fitting
    "fitting", "fold", "fold_map", "FitResult", "confidence", "fit", "stat_contour",
    "stat_profile", "stat_sum", "stat_surface", "ts", "fake", "npred", "npred_signal",
    "MapEvaluator", "npred_map", "plot_fit", "plot_residuals", "plot_significance_map",
    "residuals", "read_datasets", "read_spectrum_fits", "write_datasets", "write_spectrum_fits", "flux_points_dataset", "read_fermi", "read_fermi_cubes",
    "reduce_hawc", "reduce_hawc_event_types", "sample", "corner_plot", "dm_profile", "jfactor_map",
    # estimators
    "estimators", "asmooth", "excess_map", "find_peaks", "significance_distribution",
    "flux_points", "light_curve", "annulus_regions", "box_profile_regions", "flux_profile",
    "read_sed", "write_sed", "sensitivity", "ts_map", "chi2_constancy", "doubling_time",
    "fractional_variance", "point_to_point_variance",
    # simulation
    "simulation", "EventSampler", "SimulatedObservation", "SimulationError", "check_gadf",
    "demo_irfs", "observation_from_irfs", "simulate_dataset", "simulate_events",
    "simulate_from_config", "simulate_observation", "write_dl3",
    # catalogs
    "catalogs", "catalog_models", "read_catalog",
    # workflow
    "accessors", "plot", "Analysis", "AnalysisConfig", "ConfigError",
]
