"""Estimators (DL4 -> DL5): flux points, light curves, sensitivity, maps; results as xarray Datasets.

The common result form is described in :mod:`xgamma.estimators.core`.

Examples
--------
>>> from xgamma.estimators import flux_points, to_sed_type
>>> callable(flux_points) and callable(to_sed_type)
True
"""

from __future__ import annotations

from xgamma.estimators.core import (
    estimator_result,
    plot_light_curve,
    plot_sed,
    plot_stat_scan,
    read_zarr,
    reference_fluxes,
    reference_models,
    time_axis,
    to_sed_type,
    write_zarr,
)
from xgamma.estimators.flux_points import flux_points
from xgamma.estimators.light_curve import light_curve, time_bins
from xgamma.estimators.sensitivity import crab_reference, sensitivity

__all__ = [
    "estimator_result",
    "plot_light_curve",
    "plot_sed",
    "plot_stat_scan",
    "read_zarr",
    "reference_fluxes",
    "reference_models",
    "time_axis",
    "to_sed_type",
    "write_zarr",
    "flux_points",
    "light_curve",
    "time_bins",
    "sensitivity",
    "crab_reference",
]
