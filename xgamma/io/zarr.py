"""Write and read xgamma maps and datasets as zarr stores, geometry and edges intact.

A DataArray is stored as a one-variable Dataset whose attrs name the variable
(``attrs["xgamma_dataarray"]``), so :func:`open_zarr` gives back a DataArray with its name,
attrs (units, geometry), coordinates (bin edges, sky coordinates) and dims. Values are
opened lazily (dask). Attributes are stored verbatim: CF decoding of units (e.g. a ``time``
axis in ``s``) is switched off on reading so that nothing is reinterpreted.

Examples
--------
>>> import tempfile, os, xgamma as xg
>>> from xgamma.io.zarr import to_zarr, open_zarr
>>> m = xg.sky.empty(xg.wcs_geom((0, 0), 1, 0.5, axes=[xg.energy_axis(1, 10, 2)]))
>>> path = os.path.join(tempfile.mkdtemp(), "counts.zarr")
>>> to_zarr(m, path)
>>> back = open_zarr(path)
>>> back.name, back.dims, xg.sky.wcs_of(back).wcs.compare(xg.sky.wcs_of(m).wcs)
('counts', ('energy', 'y', 'x'), True)
"""

from __future__ import annotations

import warnings
from typing import Any

import xarray as xr

__all__ = ["to_zarr", "open_zarr"]

_DA_KEY = "xgamma_dataarray"
_NONAME = "__xgamma_unnamed__"


def to_zarr(obj: xr.DataArray | xr.Dataset, store: Any, mode: Any = "w", **kwargs: Any) -> None:
    """Write ``obj`` to a zarr store (``mode="w"`` overwrites; other kwargs go to
    :meth:`xarray.Dataset.to_zarr`).

    Examples
    --------
    >>> import tempfile, os, numpy as np, xarray as xr
    >>> to_zarr(xr.DataArray(np.ones(2), dims="x", name="a"), os.path.join(tempfile.mkdtemp(), "a.zarr"))
    """
    if isinstance(obj, xr.DataArray):
        name = _NONAME if obj.name is None else str(obj.name)
        ds = obj.to_dataset(name=name)
        ds.attrs = {**obj.attrs, _DA_KEY: name}
    else:
        ds = obj
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*[Cc]onsolidated metadata.*")
        ds.to_zarr(store, mode=mode, **kwargs)


def open_zarr(store: Any, **kwargs: Any) -> xr.DataArray | xr.Dataset:
    """Open a store written by :func:`to_zarr` lazily (dask-backed).

    Returns a DataArray if a DataArray was written, else the Dataset. ``kwargs`` go to
    :func:`xarray.open_zarr`.

    Examples
    --------
    >>> import tempfile, os, numpy as np, xarray as xr
    >>> p = os.path.join(tempfile.mkdtemp(), "a.zarr")
    >>> to_zarr(xr.DataArray(np.ones(2), dims="x", name="a", attrs={"units": "s"}), p)
    >>> da = open_zarr(p)
    >>> da.name, da.attrs["units"], da.chunks is not None
    ('a', 's', True)
    """
    opts: dict[str, Any] = {"decode_times": False, "decode_timedelta": False}
    opts.update(kwargs)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*[Cc]onsolidated metadata.*")
        ds = xr.open_zarr(store, **opts)
    name = ds.attrs.get(_DA_KEY)
    if name is None or name not in ds.data_vars:
        return ds
    da = ds[name]
    da.attrs = {k: v for k, v in ds.attrs.items() if k != _DA_KEY}
    return da.rename(None if name == _NONAME else name)
