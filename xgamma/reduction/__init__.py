"""Data reduction (DL3 -> DL4): observations to reduced map and spectrum datasets.

Floors (each module imports only those before it): :mod:`~.observation` (the Observation
protocol, pointing and IRF access) -> :mod:`~.products` (counts, exposure, PSF, edisp maps) ->
:mod:`~.background`, :mod:`~.safe_mask`, :mod:`~.binning`, :mod:`~.events` ->
:mod:`~.reflected` -> :mod:`~.spectrum` (1D ON/OFF) -> :mod:`~.stacking` ->
:mod:`~.driver` (:func:`reduce`, one observation) -> :mod:`~.many` (one dask task per observation).

Examples
--------
>>> from xgamma import reduction, testing
>>> ds = reduction.reduce(testing.make_observation(n_events=50),
...                       testing.make_wcs_geom(width=1.0, binsz=0.2), products=["counts"])
>>> int(ds.counts.sum()) <= 50
True
"""

from __future__ import annotations

from xgamma.errors import ReductionError
from xgamma.reduction import (
    background,
    binning,
    driver,
    events,
    many,
    observation,
    products,
    safe_mask,
    slices,
    stacking,
)
from xgamma.reduction.background import fov_background, ring_background
from xgamma.reduction.binning import bin_events
from xgamma.reduction.driver import DEFAULT_PRODUCTS, reduce
from xgamma.reduction.many import reduce_many
from xgamma.reduction.observation import Observation
from xgamma.reduction.products import (
    irf_geom,
    make_edisp_map,
    make_exposure,
    make_psf_map,
    pixel_offsets,
)
from xgamma.reduction.safe_mask import make_safe_mask
from xgamma.reduction.slices import reduce_spectra
from xgamma.reduction.stacking import concat_obs, stack

__all__ = [
    "ReductionError", "Observation", "DEFAULT_PRODUCTS", "reduce", "reduce_many",
    "stack", "concat_obs", "fov_background", "ring_background", "bin_events", "make_safe_mask",
    "irf_geom", "make_exposure", "make_psf_map", "make_edisp_map", "pixel_offsets",
    "background", "binning", "driver", "events", "many", "observation", "products", "safe_mask",
    "stacking", "slices", "reduce_spectra",
]
