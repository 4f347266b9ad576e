"""Write and read xgamma maps and datasets as zarr stores, geometry and edges intact.

A DataArray is stored as a one-variable Dataset whose attrs name the variable
(``attrs["xgamma_dataarray"]``), so :func:`open_zarr` gives back a DataArray with its name,
attrs (units, geometry), coordinates (bin edges, sky coordinates) and dims. Values are
opened lazily (dask). Attributes are stored verbatim: CF decoding of units (e.g. a ``time``
axis in ``s``) is switched off on reading so that nothing is reinterpreted.

Several datasets (a mapping ``name -> Dataset`` or an :class:`xarray.DataTree`) are written as
one zarr group per dataset under a root group (attrs ``xgamma_datasets``: the names), so that
``xr.open_datatree(path, engine="zarr")`` and :func:`open_zarr` (which then returns a
:class:`xarray.DataTree`) both open the archive, and ``path/<name>`` opens one dataset.

On disk the archive follows the CF conventions where xgamma's differ: each binned dim ``d``
(with ``d_min``/``d_max``) gets a CF bounds variable ``d_bounds`` of shape ``(d, 2)`` named by
``d.attrs["bounds"]``, and every numeric coordinate carries a ``units`` attribute (``"pixel"``
for pixel indices, ``"1"`` for other unitless numbers). The unit strings are astropy's
(``"TeV"``, ``"cm2 s"``, ``"deg"``) and parse with pint through cf-xarray's registry
(``from cf_xarray.units import units; units.parse_units("cm2 s")``), so
``pint_xarray``'s ``ds.pint.quantify(unit_registry=cf_xarray.units.units)`` works on what
``xr.open_zarr`` gives. :func:`open_zarr` takes these additions off again (the root attr
``xgamma_cf`` lists them), so a round trip is identical.

Paths may be fsspec URLs (``memory://``, ``s3://bucket/key``, ``https://`` for reading);
``storage_options`` go to fsspec.

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

import json
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import xarray as xr

__all__ = ["to_zarr", "open_zarr", "cf_encode", "cf_decode"]

_DA_KEY = "xgamma_dataarray"
_NONAME = "__xgamma_unnamed__"
_TREE_KEY = "xgamma_datasets"
_CF_KEY = "xgamma_cf"
_PIXEL_DIMS = ("x", "y", "pix")


def cf_encode(ds: xr.Dataset) -> xr.Dataset:
    """The CF form of a dataset written to zarr: bounds variables and units on every numeric
    coordinate (see the module docstring); :func:`cf_decode` undoes it.

    Examples
    --------
    >>> import xgamma as xg
    >>> ds = xg.energy_axis(1, 100, 2).to_dataset(name="e").drop_vars("e")
    >>> enc = cf_encode(ds)
    >>> enc["energy"].attrs["bounds"], enc["energy_bounds"].shape
    ('energy_bounds', (2, 2))
    >>> cf_decode(enc).identical(ds)
    True
    """
    bounds: list[str] = []
    units: list[str] = []
    new: dict[str, Any] = {}
    for dim in ds.dims:
        d = str(dim)
        lo, hi = f"{d}_min", f"{d}_max"
        if d in ds.coords and lo in ds.coords and hi in ds.coords and f"{d}_bounds" not in ds.variables \
                and ds[lo].dims == (d,) and ds[hi].dims == (d,):
            b = np.stack([np.asarray(ds[lo].values), np.asarray(ds[hi].values)], axis=-1)
            new[f"{d}_bounds"] = xr.Variable((d, "bounds"), b, {"units": ds[lo].attrs.get("units", "")})
            new[d] = ds[d].variable.copy(deep=False)
            new[d].attrs = {**ds[d].attrs, "bounds": f"{d}_bounds"}
            bounds.append(d)
    for name, c in ds.coords.items():
        if "units" in c.attrs or c.dtype.kind not in "iuf":
            continue
        v = new.get(str(name), c.variable.copy(deep=False))
        base = str(name).removesuffix("_irf").removesuffix("_edisp")
        v.attrs = {**v.attrs, "units": "pixel" if base in _PIXEL_DIMS else "1"}
        new[str(name)] = v
        units.append(str(name))
    if not new:
        return ds
    out = ds.assign_coords(new)
    out.attrs = {**ds.attrs, _CF_KEY: json.dumps({"bounds": bounds, "units": units})}
    return out


def cf_decode(ds: xr.Dataset) -> xr.Dataset:
    """Undo :func:`cf_encode` (nothing to do for stores written without it).

    Examples
    --------
    >>> import xgamma as xg
    >>> ds = xg.energy_axis(1, 10, 3).to_dataset(name="e").drop_vars("e")
    >>> sorted(cf_decode(cf_encode(ds)).coords)
    ['energy', 'energy_max', 'energy_min']
    """
    raw = ds.attrs.get(_CF_KEY)
    if raw is None:
        return ds
    info = json.loads(raw) if isinstance(raw, str) else dict(raw)
    out = ds.drop_vars([f"{d}_bounds" for d in info.get("bounds", []) if f"{d}_bounds" in ds.variables])
    fixed: dict[str, Any] = {}
    for d in info.get("bounds", []):
        if d in out.coords:
            v = out[d].variable.copy(deep=False)
            v.attrs = {k: a for k, a in v.attrs.items() if k != "bounds"}
            fixed[d] = v
    for name in info.get("units", []):
        if name in out.coords:
            v = fixed.get(name, out[name].variable.copy(deep=False))
            v.attrs = {k: a for k, a in v.attrs.items() if k != "units"}
            fixed[name] = v
    out = out.assign_coords(fixed) if fixed else out
    out.attrs = {k: a for k, a in ds.attrs.items() if k != _CF_KEY}
    return out


def to_zarr(obj: xr.DataArray | xr.Dataset | xr.DataTree | Mapping[str, xr.Dataset], store: Any, mode: Any = "w", **kwargs: Any) -> None:
    """Write ``obj`` to a zarr store (``mode="w"`` overwrites; other kwargs go to
    :meth:`xarray.Dataset.to_zarr`).

    Examples
    --------
    >>> import tempfile, os, numpy as np, xarray as xr
    >>> to_zarr(xr.DataArray(np.ones(2), dims="x", name="a"), os.path.join(tempfile.mkdtemp(), "a.zarr"))
    """
    if isinstance(obj, xr.DataTree) or (isinstance(obj, Mapping) and not isinstance(obj, xr.Dataset)):
        _tree_to_zarr(obj, store, mode=mode, **kwargs)
        return
    if isinstance(obj, xr.DataArray):
        name = _NONAME if obj.name is None else str(obj.name)
        ds = obj.to_dataset(name=name)
        ds.attrs = {**obj.attrs, _DA_KEY: name}
    else:
        ds = obj
    ds = cf_encode(ds)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*[Cc]onsolidated metadata.*")
        ds.to_zarr(store, mode=mode, **kwargs)


def _tree_to_zarr(obj: xr.DataTree | Mapping[str, xr.Dataset], store: Any, mode: Any = "w",
                  **kwargs: Any) -> None:
    items = ({str(k): v.to_dataset() for k, v in obj.children.items()} if isinstance(obj, xr.DataTree)
             else {str(k): v for k, v in obj.items()})
    for k, v in items.items():
        if not isinstance(v, xr.Dataset) or "/" in k or not k:
            raise TypeError(f"to_zarr: expected name -> xarray.Dataset (names without '/'), got {k!r}")
    nodes: dict[str, Any] = {"/": xr.Dataset(attrs={_TREE_KEY: list(items)})}
    nodes.update({f"/{k}": cf_encode(v) for k, v in items.items()})
    tree = xr.DataTree.from_dict(nodes)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*[Cc]onsolidated metadata.*")
        tree.to_zarr(store, mode=mode, **kwargs)


def open_zarr(store: Any, **kwargs: Any) -> xr.DataArray | xr.Dataset | xr.DataTree:
    """Open a store written by :func:`to_zarr` lazily (dask-backed).

    Returns a DataArray if a DataArray was written, a :class:`xarray.DataTree` (one child per
    dataset) if several datasets were written, else the Dataset. ``kwargs`` go to
    :func:`xarray.open_zarr` (e.g. ``storage_options`` for an fsspec URL).

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
        if _TREE_KEY in ds.attrs and not ds.data_vars:
            tree = xr.open_datatree(store, engine="zarr", chunks={}, **opts)
            return tree.map_over_datasets(cf_decode)
    ds = cf_decode(ds)
    name = ds.attrs.get(_DA_KEY)
    if name is None or name not in ds.data_vars:
        return ds
    da = ds[name]
    da.attrs = {k: v for k, v in ds.attrs.items() if k != _DA_KEY}
    return da.rename(None if name == _NONAME else name)
