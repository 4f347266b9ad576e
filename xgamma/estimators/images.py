"""Shared helpers of the image estimators (excess, TS, ASmooth, profiles): the fit mask, map
values as numpy in a dim order, sky coordinates and geometry attrs to carry over, ON/OFF
detection and the background prediction of a map dataset.

Examples
--------
>>> import numpy as np, xarray as xr
>>> da = xr.DataArray(np.zeros((2, 3, 4)), dims=("x", "energy", "y"))
>>> map_values(da).shape
(3, 4, 2)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from xgamma import sky
from xgamma.fitting.fold_map import npred_map

__all__ = ["dataset_mask", "map_values", "sky_coords", "geometry_attrs", "is_onoff",
           "map_npred_background"]


def dataset_mask(dataset: xr.Dataset) -> np.ndarray:
    """``mask_safe & mask_fit`` as ``(energy, y, x)`` bool."""
    shape = tuple(dataset.sizes[d] for d in ("energy", "y", "x"))
    m = np.ones(shape, bool)
    for k in ("mask_safe", "mask_fit"):
        if k in dataset:
            v = dataset[k]
            dims = [d for d in ("energy", "y", "x") if d in v.dims]
            arr = np.asarray(v.transpose(*dims).values, bool)
            if "energy" not in dims:
                arr = arr[None]
            m &= np.broadcast_to(arr, shape)
    return m


def map_values(da: xr.DataArray, dims: Sequence[str] = ("energy", "y", "x")) -> np.ndarray:
    return np.asarray(da.transpose(*dims).values, float)


def sky_coords(dataset: xr.Dataset) -> dict[str, Any]:
    return {str(k): c.variable for k, c in dataset.coords.items() if c.dims and set(c.dims) <= {"y", "x"}}


def geometry_attrs(dataset: xr.Dataset) -> dict[str, Any]:
    return {k: v for k, v in dataset.attrs.items() if k in sky.GEOM_KEYS}


def is_onoff(dataset: xr.Dataset) -> bool:
    return "counts_off" in dataset and ("alpha" in dataset or "acceptance_off" in dataset)


def map_npred_background(dataset: xr.Dataset, model: Any) -> np.ndarray:
    """Background counts, plus the model's predicted counts when given."""
    if model is None:
        return map_values(dataset["background"]) if "background" in dataset else np.zeros(
            tuple(dataset.sizes[d] for d in ("energy", "y", "x")))

    return map_values(npred_map(dataset, model))
