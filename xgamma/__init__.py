"""xgamma: gamma-ray astronomy on the PyData stack.

DL3 events are pandas/dask DataFrames; IRFs, maps and reduced datasets are labelled xarray
objects; the ``.xg`` accessors give binning, folding, fitting and estimators.

The package is laid out in floors that import one way (``docs/architecture.rst``): the ground
modules (:mod:`~xgamma.errors`, :mod:`~xgamma.conventions`, :mod:`~xgamma.axes`,
:mod:`~xgamma.stats`, :mod:`~xgamma.obs`, :mod:`~xgamma.compute`, :mod:`~xgamma.config`) ->
:mod:`xgamma.sky` -> :mod:`xgamma.irf` -> :mod:`xgamma.models` -> :mod:`xgamma.io` ->
:mod:`xgamma.reduction` -> :mod:`xgamma.fitting` -> :mod:`xgamma.estimators` -> the workflow
(:mod:`~xgamma.analysis`, :mod:`~xgamma.cli`, :mod:`~xgamma.accessors`, :mod:`~xgamma.plot`).

``import xgamma`` loads xarray and registers the ``.xg`` accessors, nothing more: every other
name below is imported from its module on first access (PEP 562), so that a script or the
command line pays only for what it uses.

Examples
--------
>>> import xgamma as xg
>>> xg.energy_axis(0.1, 100, nbins=3).sizes["energy"]
3
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# the ``.xg`` accessors (thin: their methods import their implementation on first call)
from xgamma import accessors
from xgamma._paths import data_dir
from xgamma.errors import (
    ConventionError,
    GeometryError,
    ReductionError,
    XgammaError,
    XgammaIOError,
)
from xgamma.version import __version__

if TYPE_CHECKING:  # what type checkers and IDEs see; at run time these load on first access
    # ground
    from xgamma import axes, compute, conventions, errors, obs, stats
    from xgamma.axes import axis_from_edges, energy_axis, linear_axis, log_axis
    from xgamma.obs import concat_obs

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
        gadf_report,
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
    from xgamma import plot  # isort: skip
    from xgamma.analysis import Analysis
    from xgamma.config import AnalysisConfig, ConfigError

#: Public name -> (module, attribute); attribute None: the name is the module itself.
_LAZY: dict[str, tuple[str, str | None]] = {
    "axes": ("xgamma.axes", None),
    "compute": ("xgamma.compute", None),
    "conventions": ("xgamma.conventions", None),
    "obs": ("xgamma.obs", None),
    "stats": ("xgamma.stats", None),
    "axis_from_edges": ("xgamma.axes", "axis_from_edges"),
    "energy_axis": ("xgamma.axes", "energy_axis"),
    "linear_axis": ("xgamma.axes", "linear_axis"),
    "log_axis": ("xgamma.axes", "log_axis"),
    "concat_obs": ("xgamma.obs", "concat_obs"),
    "sky": ("xgamma.sky", None),
    "irf": ("xgamma.irf", None),
    "models": ("xgamma.models", None),
    "read_fermi": ("xgamma.io.fermi", "read_fermi"),
    "read_fermi_cubes": ("xgamma.io.fermi", "read_fermi_cubes"),
    "events_time": ("xgamma.io.gadf", "events_time"),
    "read_events": ("xgamma.io.gadf", "read_events"),
    "read_gti": ("xgamma.io.gadf", "read_gti"),
    "read_irf": ("xgamma.io.gadf", "read_irf"),
    "read_ogip": ("xgamma.io.ogip", "read_ogip"),
    "write_ogip": ("xgamma.io.ogip", "write_ogip"),
    "read_datasets": ("xgamma.io.spectrum_fits", "read_datasets"),
    "read_spectrum_fits": ("xgamma.io.spectrum_fits", "read_spectrum_fits"),
    "write_datasets": ("xgamma.io.spectrum_fits", "write_datasets"),
    "write_spectrum_fits": ("xgamma.io.spectrum_fits", "write_spectrum_fits"),
    "DataStore": ("xgamma.io.store", "DataStore"),
    "Observation": ("xgamma.io.store", "Observation"),
    "open_store": ("xgamma.io.store", "open_store"),
    "TimeSlice": ("xgamma.io.timeslice", "TimeSlice"),
    "event_datetimes": ("xgamma.io.timeslice", "event_datetimes"),
    "read_models": ("xgamma.io.yaml", "read_models"),
    "write_models": ("xgamma.io.yaml", "write_models"),
    "ArchiveIntegrityError": ("xgamma.io.zarr", "ArchiveIntegrityError"),
    "open_zarr": ("xgamma.io.zarr", "open_zarr"),
    "to_zarr": ("xgamma.io.zarr", "to_zarr"),
    "verify_zarr": ("xgamma.io.zarr", "verify_zarr"),
    "BackgroundModel": ("xgamma.models", "BackgroundModel"),
    "Models": ("xgamma.models", "Models"),
    "SkyModel": ("xgamma.models", "SkyModel"),
    "spectral_model": ("xgamma.models", "spectral_model"),
    "SpatialModel": ("xgamma.models.spatial", "SpatialModel"),
    "spatial_model": ("xgamma.models.spatial", "spatial_model"),
    "read_spatial_template": ("xgamma.models.spatial_template", "read_spatial_template"),
    "template_spatial_model": ("xgamma.models.spatial_template", "template_spatial_model"),
    "TemporalModel": ("xgamma.models.temporal", "TemporalModel"),
    "lightcurve_template_model": ("xgamma.models.temporal", "lightcurve_template_model"),
    "temporal_model": ("xgamma.models.temporal", "temporal_model"),
    "healpix_geom": ("xgamma.sky", "healpix_geom"),
    "region_geom": ("xgamma.sky", "region_geom"),
    "wcs_geom": ("xgamma.sky", "wcs_geom"),
    "reduction": ("xgamma.reduction", None),
    "background": ("xgamma.reduction.background", None),
    "binning": ("xgamma.reduction.binning", None),
    "events": ("xgamma.reduction.events", None),
    "reflected": ("xgamma.reduction.reflected", None),
    "safe_mask": ("xgamma.reduction.safe_mask", None),
    "spectrum": ("xgamma.reduction.spectrum", None),
    "archive_status": ("xgamma.reduction.archive", "archive_status"),
    "fov_background": ("xgamma.reduction.background", "fov_background"),
    "ring_background": ("xgamma.reduction.background", "ring_background"),
    "bin_events": ("xgamma.reduction.binning", "bin_events"),
    "reduce": ("xgamma.reduction.driver", "reduce"),
    "reduce_hawc": ("xgamma.reduction.hawc", "reduce_hawc"),
    "reduce_hawc_event_types": ("xgamma.reduction.hawc", "reduce_hawc_event_types"),
    "SkippedObservation": ("xgamma.reduction.many", "SkippedObservation"),
    "reduce_many": ("xgamma.reduction.many", "reduce_many"),
    "find_reflected_regions": ("xgamma.reduction.reflected", "find_reflected_regions"),
    "make_safe_mask": ("xgamma.reduction.safe_mask", "make_safe_mask"),
    "reduce_spectra": ("xgamma.reduction.slices", "reduce_spectra"),
    "reduce_spectrum": ("xgamma.reduction.spectrum", "reduce_spectrum"),
    "spectrum_info": ("xgamma.reduction.spectrum", "spectrum_info"),
    "stack_spectra": ("xgamma.reduction.spectrum", "stack_spectra"),
    "stack": ("xgamma.reduction.stacking", "stack"),
    "fitting": ("xgamma.fitting", None),
    "fold": ("xgamma.fitting.fold", None),
    "fold_map": ("xgamma.fitting.fold_map", None),
    "FitResult": ("xgamma.fitting.fitter", "FitResult"),
    "confidence": ("xgamma.fitting.fitter", "confidence"),
    "fit": ("xgamma.fitting.fitter", "fit"),
    "stat_contour": ("xgamma.fitting.fitter", "stat_contour"),
    "stat_profile": ("xgamma.fitting.fitter", "stat_profile"),
    "stat_sum": ("xgamma.fitting.fitter", "stat_sum"),
    "stat_surface": ("xgamma.fitting.fitter", "stat_surface"),
    "ts": ("xgamma.fitting.fitter", "ts"),
    "flux_points_dataset": ("xgamma.fitting.flux_points_dataset", "flux_points_dataset"),
    "fake": ("xgamma.fitting.fold", "fake"),
    "npred": ("xgamma.fitting.fold", "npred"),
    "npred_signal": ("xgamma.fitting.fold", "npred_signal"),
    "MapEvaluator": ("xgamma.fitting.fold_map", "MapEvaluator"),
    "npred_map": ("xgamma.fitting.fold_map", "npred_map"),
    "plot_fit": ("xgamma.fitting.plots", "plot_fit"),
    "plot_residuals": ("xgamma.fitting.plots", "plot_residuals"),
    "plot_significance_map": ("xgamma.fitting.plots", "plot_significance_map"),
    "residuals": ("xgamma.fitting.plots", "residuals"),
    "corner_plot": ("xgamma.fitting.sampling", "corner_plot"),
    "sample": ("xgamma.fitting.sampling", "sample"),
    "dm_profile": ("xgamma.models.dark_matter", "dm_profile"),
    "jfactor_map": ("xgamma.models.dark_matter", "jfactor_map"),
    "estimators": ("xgamma.estimators", None),
    "asmooth": ("xgamma.estimators.asmooth", "asmooth"),
    "excess_map": ("xgamma.estimators.excess_map", "excess_map"),
    "find_peaks": ("xgamma.estimators.excess_map", "find_peaks"),
    "significance_distribution": ("xgamma.estimators.excess_map", "significance_distribution"),
    "flux_points": ("xgamma.estimators.flux_points", "flux_points"),
    "light_curve": ("xgamma.estimators.light_curve", "light_curve"),
    "annulus_regions": ("xgamma.estimators.profile", "annulus_regions"),
    "box_profile_regions": ("xgamma.estimators.profile", "box_profile_regions"),
    "flux_profile": ("xgamma.estimators.profile", "flux_profile"),
    "read_sed": ("xgamma.estimators.sed", "read_sed"),
    "write_sed": ("xgamma.estimators.sed", "write_sed"),
    "sensitivity": ("xgamma.estimators.sensitivity", "sensitivity"),
    "ts_map": ("xgamma.estimators.ts_map", "ts_map"),
    "chi2_constancy": ("xgamma.estimators.variability", "chi2_constancy"),
    "doubling_time": ("xgamma.estimators.variability", "doubling_time"),
    "fractional_variance": ("xgamma.estimators.variability", "fractional_variance"),
    "point_to_point_variance": ("xgamma.estimators.variability", "point_to_point_variance"),
    "simulation": ("xgamma.simulation", None),
    "EventSampler": ("xgamma.simulation", "EventSampler"),
    "SimulatedObservation": ("xgamma.simulation", "SimulatedObservation"),
    "SimulationError": ("xgamma.simulation", "SimulationError"),
    "check_gadf": ("xgamma.simulation", "check_gadf"),
    "gadf_report": ("xgamma.simulation", "gadf_report"),
    "demo_irfs": ("xgamma.simulation", "demo_irfs"),
    "observation_from_irfs": ("xgamma.simulation", "observation_from_irfs"),
    "simulate_dataset": ("xgamma.simulation", "simulate_dataset"),
    "simulate_events": ("xgamma.simulation", "simulate_events"),
    "simulate_from_config": ("xgamma.simulation", "simulate_from_config"),
    "simulate_observation": ("xgamma.simulation", "simulate_observation"),
    "write_dl3": ("xgamma.simulation", "write_dl3"),
    "catalogs": ("xgamma.catalogs", None),
    "catalog_models": ("xgamma.catalogs", "catalog_models"),
    "read_catalog": ("xgamma.catalogs", "read_catalog"),
    "accessors": ("xgamma.accessors", None),
    "plot": ("xgamma.plot", None),
    "Analysis": ("xgamma.analysis", "Analysis"),
    "AnalysisConfig": ("xgamma.config", "AnalysisConfig"),
    "ConfigError": ("xgamma.config", "ConfigError"),
}


if not TYPE_CHECKING:  # type checkers see the imports above (and flag unknown names)

    def __getattr__(name: str) -> Any:
        """Import a public name's module on first access and bind the name here (PEP 562)."""
        try:
            module, attr = _LAZY[name]
        except KeyError:
            raise AttributeError(f"module 'xgamma' has no attribute {name!r}") from None
        mod = importlib.import_module(module)
        value = mod if attr is None else getattr(mod, attr)
        globals()[name] = value
        return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


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
    "simulation", "EventSampler", "SimulatedObservation", "SimulationError", "check_gadf", "gadf_report",
    "demo_irfs", "observation_from_irfs", "simulate_dataset", "simulate_events",
    "simulate_from_config", "simulate_observation", "write_dl3",
    # catalogs
    "catalogs", "catalog_models", "read_catalog",
    # workflow
    "accessors", "plot", "Analysis", "AnalysisConfig", "ConfigError",
]
