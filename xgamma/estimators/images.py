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
           "map_npred_background", "image_sky_dims"]


def image_sky_dims(dataset: xr.Dataset | xr.DataArray) -> tuple[str, ...]:
    """The sky dims of a map dataset: ``("pix",)`` on a HEALPix geometry, else ``("y", "x")``.

    Examples
    --------
    >>> import xgamma as xg
    >>> image_sky_dims(xg.sky.healpix_geom(1)), image_sky_dims(xg.wcs_geom((0, 0), 1, 0.5))
    (('pix',), ('y', 'x'))
    """
    return ("pix",) if "pix" in dataset.dims else ("y", "x")


def dataset_mask(dataset: xr.Dataset) -> np.ndarray:
    """``mask_safe & mask_fit`` as ``(energy, y, x)`` bool (``(energy, pix)`` on HEALPix).

    Masks without an energy dim apply to all energies; a missing mask counts as all True.

    Examples
    --------
    >>> from xgamma import testing
    >>> ds = testing.make_map_dataset(np.ones((2, 3, 4)), 0.5)
    >>> ds["mask_fit"] = (("y", "x"), np.eye(3, 4, dtype=bool))
    >>> dataset_mask(ds).shape, int(dataset_mask(ds).sum())
    ((2, 3, 4), 6)
    """
    order = ("energy", *image_sky_dims(dataset))
    shape = tuple(dataset.sizes[d] for d in order)
    m = np.ones(shape, bool)
    for k in ("mask_safe", "mask_fit"):
        if k in dataset:
            v = dataset[k]
            dims = [d for d in order if d in v.dims]
            arr = np.asarray(v.transpose(*dims).values, bool)
            if "energy" not in dims:
                arr = arr[None]
            m &= np.broadcast_to(arr, shape)
    return m


def map_values(da: xr.DataArray, dims: Sequence[str] = ("energy", "y", "x")) -> np.ndarray:
    """Values of ``da`` as float numpy, its dims in the order ``dims``.

    Examples
    --------
    >>> da = xr.DataArray(np.zeros((2, 3, 4), int), dims=("x", "energy", "y"))
    >>> v = map_values(da)
    >>> v.shape, v.dtype.name, map_values(da, ("x", "y", "energy")).shape
    ((3, 4, 2), 'float64', (2, 4, 3))
    """
    return np.asarray(da.transpose(*dims).values, float)


def sky_coords(dataset: xr.Dataset) -> dict[str, Any]:
    """The coordinate variables of ``dataset`` along the sky dims ``y``/``x`` (or ``pix``) only
    (pixel indices and pixel centres), to carry over to an estimator's output maps.

    Examples
    --------
    >>> from xgamma import testing
    >>> sorted(sky_coords(testing.make_map_dataset(np.ones((2, 3, 4)), 0.5)))
    ['dec', 'ra', 'x', 'y']
    """
    dims = set(image_sky_dims(dataset))
    return {str(k): c.variable for k, c in dataset.coords.items() if c.dims and set(c.dims) <= dims}


def geometry_attrs(dataset: xr.Dataset) -> dict[str, Any]:
    """The sky-geometry attrs of ``dataset`` (those in :data:`xgamma.sky.GEOM_KEYS`).

    Examples
    --------
    >>> from xgamma import testing
    >>> ds = testing.make_map_dataset(np.ones((2, 3, 4)), 0.5)
    >>> sorted(ds.attrs), sorted(geometry_attrs(ds))
    (['frame', 'geom', 'name', 'wcs'], ['frame', 'geom', 'wcs'])
    """
    return {k: v for k, v in dataset.attrs.items() if k in sky.GEOM_KEYS}


def is_onoff(dataset: xr.Dataset) -> bool:
    """Whether ``dataset`` is an ON/OFF dataset: ``counts_off`` with ``alpha`` or
    ``acceptance_off``.

    Examples
    --------
    >>> from xgamma import testing
    >>> ds = testing.make_map_dataset(np.ones((2, 3, 4)), 0.5)
    >>> is_onoff(ds), is_onoff(ds.assign(counts_off=ds.counts, alpha=0.2))
    (False, True)
    """
    return "counts_off" in dataset and ("alpha" in dataset or "acceptance_off" in dataset)


def map_npred_background(dataset: xr.Dataset, model: Any) -> np.ndarray:
    """Background counts, plus the model's predicted counts when given.

    Parameters
    ----------
    dataset : Dataset
        A map dataset (``background`` optional: zeros without it).
    model : SkyModel, list of models, Models or None
        The models to add (through :func:`xgamma.fitting.fold_map.npred_map`).

    Returns
    -------
    numpy.ndarray
        ``(energy, y, x)`` (``(energy, pix)`` on HEALPix) float counts.

    Examples
    --------
    >>> from xgamma import testing
    >>> from xgamma.models import SkyModel, spectral_model
    >>> from xgamma.models.spatial import spatial_model
    >>> ds = testing.make_map_dataset(np.ones((2, 5, 5)), 0.5, exposure=1e12)
    >>> src = SkyModel("src", spectral_model("pl"),
    ...                spatial_model("point", lon_0=83.633, lat_0=22.014))
    >>> float(map_npred_background(ds, None).sum()), round(float(map_npred_background(ds, src).sum()), 6)
    (25.0, 25.9)
    """
    dims = ("energy", *image_sky_dims(dataset))
    if model is None:
        return map_values(dataset["background"], dims) if "background" in dataset else np.zeros(
            tuple(dataset.sizes[d] for d in dims))

    return map_values(npred_map(dataset, model), dims)
