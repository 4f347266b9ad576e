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

Stores verify themselves: every chunk carries a crc32c checksum (zarr v3 ``crc32c`` codec),
and a manifest of the variables (dims, shape, dtype, chunk count) is written last into the
group's attrs. :func:`open_zarr` checks the manifest against the store (a missing variable or
chunk raises instead of reading the fill value) and reads every chunk through a check that
turns a checksum mismatch into an :class:`ArchiveIntegrityError` naming the store and the
variable (see :func:`verify_zarr`). A tree of datasets verifies the same way: every child's
chunks carry crc32c, every child has its own manifest (so ``path/<name>`` verifies alone), and
the root's manifest, written last, lists every child (``{"complete": true, "children": {name:
{"path", "variables"}}}``); errors then name the store, the dataset and the variable.

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
import math
import os
import warnings
from collections.abc import Mapping
from typing import Any

import dask.array as da
import numpy as np
import xarray as xr
import zarr
from dask.base import tokenize
from zarr.codecs import Crc32cCodec, ZstdCodec

from xgamma.errors import XgammaIOError
from xgamma.io.fits import is_url

__all__ = ["to_zarr", "open_zarr", "cf_encode", "cf_decode", "ArchiveIntegrityError", "MANIFEST_KEY", "checksum_encoding",
           "manifest_of", "write_manifest", "verify_zarr", "checked_dataset"]

#: Group attribute holding the manifest (a JSON string): ``{"complete": bool, "variables":
#: {name: {"dims", "shape", "dtype", "nchunks"}}}``.
MANIFEST_KEY = "xgamma_manifest"

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
            # datetime bounds: xarray writes their CF time units itself
            battrs = {"units": ds[lo].attrs.get("units", "")} if b.dtype.kind in "iuf" else {}
            new[f"{d}_bounds"] = xr.Variable((d, "bounds"), b, battrs)
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


def to_zarr(obj: xr.DataArray | xr.Dataset | xr.DataTree | Mapping[str, xr.Dataset], store: Any,
            mode: Any = "w", *, checksum: bool = True, **kwargs: Any) -> None:
    """Write ``obj`` to a zarr store (``mode="w"`` overwrites; other kwargs go to
    :meth:`xarray.Dataset.to_zarr`).

    With ``checksum`` (default) every chunk gets a crc32c checksum, empty chunks are written
    too, and the manifest (:func:`write_manifest`) is written last: a store whose writer
    stopped part-way is refused by :func:`open_zarr`.

    Examples
    --------
    >>> import tempfile, os, numpy as np, xarray as xr
    >>> to_zarr(xr.DataArray(np.ones(2), dims="x", name="a"), os.path.join(tempfile.mkdtemp(), "a.zarr"))
    """
    if isinstance(obj, xr.DataTree) or (isinstance(obj, Mapping) and not isinstance(obj, xr.Dataset)):
        _tree_to_zarr(obj, store, mode=mode, checksum=checksum, **kwargs)
        return
    if isinstance(obj, xr.DataArray):
        name = _NONAME if obj.name is None else str(obj.name)
        ds = obj.to_dataset(name=name)
        ds.attrs = {**obj.attrs, _DA_KEY: name}
    else:
        ds = obj
    ds = cf_encode(ds)
    checksum = checksum and not is_url(str(store))  # remote stores: fsspec keeps its own checks
    if checksum:
        if mode in ("w", "w-"):  # new arrays; appended/region writes reuse the stored codecs
            kwargs["encoding"] = checksum_encoding(ds, kwargs.get("encoding"))
        kwargs.setdefault("write_empty_chunks", True)  # every chunk on disk: none is "missing"
        kwargs.setdefault("consolidated", False)  # write_manifest consolidates, once, at the end
        ds = ds.assign_attrs({MANIFEST_KEY: json.dumps({"complete": False})})
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*[Cc]onsolidated metadata.*")
        ds.to_zarr(store, mode=mode, **kwargs)
    if checksum:
        write_manifest(store)


def _tree_to_zarr(obj: xr.DataTree | Mapping[str, xr.Dataset], store: Any, mode: Any = "w", *,
                  checksum: bool = True, **kwargs: Any) -> None:
    """One group per dataset; with ``checksum`` every child's chunks carry crc32c, each child
    gets its own manifest, and the root's manifest (all children) is written last."""
    items = ({str(k): v.to_dataset() for k, v in obj.children.items()} if isinstance(obj, xr.DataTree)
             else {str(k): v for k, v in obj.items()})
    for k, v in items.items():
        if not isinstance(v, xr.Dataset) or "/" in k or not k:
            raise TypeError(f"to_zarr: expected name -> xarray.Dataset (names without '/'), got {k!r}")
    checksum = checksum and not is_url(str(store))  # remote stores: fsspec keeps its own checks
    root_attrs: dict[str, Any] = {_TREE_KEY: list(items)}
    nodes: dict[str, Any] = {f"/{k}": cf_encode(v) for k, v in items.items()}
    if checksum:
        root_attrs[MANIFEST_KEY] = json.dumps({"complete": False})
        nodes = {k: v.assign_attrs({MANIFEST_KEY: json.dumps({"complete": False})})
                 for k, v in nodes.items()}
        if mode in ("w", "w-"):
            given = kwargs.get("encoding") or {}
            kwargs["encoding"] = {k: checksum_encoding(v, given.get(k)) for k, v in nodes.items()}
        kwargs.setdefault("write_empty_chunks", True)
    tree = xr.DataTree.from_dict({"/": xr.Dataset(attrs=root_attrs), **nodes})
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*[Cc]onsolidated metadata.*")
        tree.to_zarr(store, mode=mode, **kwargs)
    if checksum:
        root = _open_group(store, mode="r+")
        children: dict[str, Any] = {}
        for name in items:
            variables = _group_manifest(root[name])
            root[name].attrs.update({MANIFEST_KEY: json.dumps({"complete": True, "variables": variables})})
            children[name] = {"path": name, "variables": variables}
        root.attrs.update({MANIFEST_KEY: json.dumps({"complete": True, "children": children})})
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*[Cc]onsolidated metadata.*")
            zarr.consolidate_metadata(store)


def open_zarr(store: Any, *, verify: bool = True,
              **kwargs: Any) -> xr.DataArray | xr.Dataset | xr.DataTree:
    """Open a store written by :func:`to_zarr` lazily (dask-backed).

    Returns a DataArray if a DataArray was written, a :class:`xarray.DataTree` (one child per
    dataset) if several datasets were written, else the Dataset. ``kwargs`` go to
    :func:`xarray.open_zarr` (e.g. ``storage_options`` for an fsspec URL). With ``verify``
    (default) and a manifest in the store, the store is checked first (:func:`verify_zarr`:
    variables, shapes, dtypes, chunks present) and every chunk read later is checked against its
    crc32c checksum (:func:`checked_dataset`).

    Raises
    ------
    ArchiveIntegrityError
        A variable or chunk is missing, the write never finished, or (when the values are
        read) a chunk fails its checksum; the message names the store and the variable.

    Examples
    --------
    >>> import tempfile, os, numpy as np, xarray as xr
    >>> p = os.path.join(tempfile.mkdtemp(), "a.zarr")
    >>> to_zarr(xr.DataArray(np.ones(2), dims="x", name="a", attrs={"units": "s"}), p)
    >>> da = open_zarr(p)
    >>> da.name, da.attrs["units"], da.chunks is not None
    ('a', 's', True)
    """
    opts: dict[str, Any] = {"decode_times": True, "decode_timedelta": False}  # CF dates -> datetime64
    opts.update(kwargs)
    manifest = verify_zarr(store) if verify and not is_url(str(store)) else None
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*[Cc]onsolidated metadata.*")
        ds = xr.open_zarr(store, **opts)
        if _TREE_KEY in ds.attrs and not ds.data_vars:
            tree = xr.open_datatree(store, engine="zarr", chunks={}, **opts)
            return _decode_tree(tree, store, manifest)
    ds.attrs.pop(MANIFEST_KEY, None)
    if manifest is not None:
        ds = checked_dataset(ds, store)
    ds = cf_decode(ds)
    name = ds.attrs.get(_DA_KEY)
    if name is None or name not in ds.data_vars:
        return ds
    da = ds[name]
    da.attrs = {k: v for k, v in ds.attrs.items() if k != _DA_KEY}
    return da.rename(None if name == _NONAME else name)


def _decode_tree(tree: xr.DataTree, store: Any, manifest: dict[str, Any] | None) -> xr.DataTree:
    """The datasets of an opened tree: CF additions and manifests off, chunks read through the
    checksum check when the tree has a (verified) manifest."""
    root = tree.to_dataset()
    root.attrs = {k: v for k, v in root.attrs.items() if k != MANIFEST_KEY}
    g = _open_group(store) if manifest is not None and "children" in manifest else None
    nodes: dict[str, Any] = {"/": root}
    for name, node in tree.children.items():
        ds = node.to_dataset(inherit=False)
        ds.attrs.pop(MANIFEST_KEY, None)
        if g is not None:
            ds = _checked(ds, g[str(name)], _path_of(store), str(name))
        nodes[f"/{name}"] = cf_decode(ds)
    return xr.DataTree.from_dict(nodes)


class ArchiveIntegrityError(XgammaIOError):
    """A zarr store does not match its manifest or a chunk fails its checksum (names the store
    and the variable)."""


def _path_of(store: Any) -> str:
    return os.fspath(store) if isinstance(store, str | os.PathLike) else repr(store)


def _open_group(store: Any, mode: Any = "r") -> Any:
    try:
        return zarr.open_group(store, mode=mode, use_consolidated=False)
    except (FileNotFoundError, zarr.errors.GroupNotFoundError) as exc:
        raise XgammaIOError("not a zarr store (no group metadata)", path=_path_of(store)) from exc


def checksum_encoding(ds: xr.Dataset, encoding: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """An ``encoding`` for :meth:`xarray.Dataset.to_zarr` that adds a crc32c checksum (after
    zstd compression) to every variable's chunks; ``encoding`` given by the caller is kept.

    Examples
    --------
    >>> ds = xr.Dataset({"a": ("x", np.ones(3))})
    >>> [type(c).__name__ for c in checksum_encoding(ds)["a"]["compressors"]]
    ['ZstdCodec', 'Crc32cCodec']
    """
    out: dict[str, Any] = {str(k): dict(v) for k, v in (encoding or {}).items()}
    for name in ds.variables:
        enc = out.setdefault(str(name), {})
        comps = enc.get("compressors", ds[name].encoding.get("compressors"))
        comps = (ZstdCodec(),) if comps is None else tuple(comps)
        if not any(isinstance(c, Crc32cCodec) for c in comps):
            comps = (*comps, Crc32cCodec())
        enc["compressors"] = comps
    return out


def manifest_of(store: Any) -> dict[str, Any]:
    """The manifest of what a zarr group holds now: per array its dims, shape, dtype and
    number of chunks.

    Examples
    --------
    >>> import tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), "m.zarr")
    >>> to_zarr(xr.Dataset({"a": ("x", np.ones(3))}), p)
    >>> manifest_of(p)["a"]
    {'dims': ['x'], 'shape': [3], 'dtype': 'float64', 'nchunks': 1}
    """
    return _group_manifest(_open_group(store))


def _group_manifest(g: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, arr in sorted(g.arrays()):
        dims = getattr(arr.metadata, "dimension_names", None)
        out[name] = {"dims": list(dims) if dims else None, "shape": list(arr.shape),
                     "dtype": str(arr.dtype), "nchunks": int(arr.nchunks)}
    return out


def write_manifest(store: Any, **extra: Any) -> None:
    """Write the manifest of ``store`` (:func:`manifest_of`, marked complete) into its group's
    attrs, and re-consolidate the metadata; call it after the last chunk is written.

    Examples
    --------
    >>> import tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), "m.zarr")
    >>> _ = xr.Dataset({"a": ("x", np.ones(3))}).to_zarr(p, consolidated=False)
    >>> write_manifest(p)
    >>> sorted(verify_zarr(p)["variables"])
    ['a']
    """
    man = {"complete": True, "variables": manifest_of(store), **extra}
    g = _open_group(store, mode="r+")
    g.attrs.update({MANIFEST_KEY: json.dumps(man)})
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*[Cc]onsolidated metadata.*")
        zarr.consolidate_metadata(store)


def _missing_chunk(store: Any, name: str, arr: Any) -> str:
    """The first missing chunk key of a local store (for the message), else ''."""
    if not isinstance(store, str | os.PathLike):
        return ""
    for idx in np.ndindex(*arr.cdata_shape):
        key = arr.metadata.encode_chunk_key(idx)
        if not os.path.exists(os.path.join(os.fspath(store), name, key)):
            return f" (first: {name}/{key})"
    return ""


def verify_zarr(store: Any) -> dict[str, Any] | None:
    """Check a zarr store against its manifest; the manifest, or None if it has none.

    Checks that the write finished (manifest complete), every variable of the manifest (of
    every child group, for a tree of datasets) is present with its dims, shape and dtype, and
    every chunk exists (a missing chunk would
    otherwise read as the fill value); dimension coordinates (read at once on open) are
    checked against their checksums. Chunk contents are checked by their crc32c checksums
    when read (:func:`checked_dataset`).

    Raises
    ------
    ArchiveIntegrityError
        Naming the store and the first variable that does not match.

    Examples
    --------
    >>> import tempfile, shutil
    >>> p = os.path.join(tempfile.mkdtemp(), "v.zarr")
    >>> to_zarr(xr.Dataset({"a": ("x", np.ones(3)), "b": ("x", np.zeros(3))}), p)
    >>> shutil.rmtree(os.path.join(p, "b"))
    >>> try:
    ...     verify_zarr(p)
    ... except ArchiveIntegrityError as err:
    ...     print(err.reason)
    variable 'b' is missing (the manifest lists ['a', 'b'])
    """
    path = _path_of(store)
    g = _open_group(store)
    raw = g.attrs.get(MANIFEST_KEY)
    if raw is None:
        return None
    try:
        man = json.loads(str(raw))
    except json.JSONDecodeError as exc:
        raise ArchiveIntegrityError("the manifest is not valid JSON", path=path) from exc
    if not man.get("complete"):
        raise ArchiveIntegrityError(
            "incomplete store: its writer stopped before the manifest was written"
            + (f" ({man['note']})" if man.get("note") else ""), path=path)
    if "children" in man:  # a tree: every child group against the root's manifest
        groups = dict(g.groups())
        for child, entry in man["children"].items():
            sub = entry.get("path", child)
            if sub not in groups:
                raise ArchiveIntegrityError(
                    f"dataset {sub!r} is missing (the manifest lists {sorted(man['children'])})",
                    path=path)
            _verify_arrays(groups[sub], entry.get("variables", {}), store, path, sub)
    else:
        _verify_arrays(g, man.get("variables", {}), store, path, "")
    return dict(man)


def _verify_arrays(g: Any, expected: dict[str, Any], store: Any, path: str, child: str) -> None:
    """Check the arrays of group ``g`` (the tree child ``child``, or '' for a plain store)."""
    where = f"dataset {child!r}: " if child else ""
    arrays = dict(g.arrays())
    for name, want in expected.items():
        if name not in arrays:
            raise ArchiveIntegrityError(
                f"{where}variable {name!r} is missing (the manifest lists {sorted(expected)})",
                path=path)
        arr = arrays[name]
        if list(arr.shape) != want["shape"] or str(arr.dtype) != want["dtype"]:
            raise ArchiveIntegrityError(
                f"{where}variable {name!r} is {str(arr.dtype)}{list(arr.shape)}, the manifest says "
                f"{want['dtype']}{want['shape']}", path=path)
        have = int(arr.nchunks_initialized)
        if have < want["nchunks"]:
            key = f"{child}/{name}" if child else name
            raise ArchiveIntegrityError(
                f"{where}variable {name!r}: {want['nchunks'] - have} of {want['nchunks']} chunks are "
                f"missing{_missing_chunk(store, key, arr)}", path=path)
        if want["dims"] == [name]:  # dimension coordinates are read eagerly on open: check now
            _CheckedArray(arr, path, name, child)[tuple(slice(0, n) for n in arr.shape)]


class _CheckedArray:
    """Reads one zarr array; a chunk that fails its checksum raises a named error."""

    def __init__(self, arr: Any, path: str, name: str, child: str = "") -> None:
        self.arr, self.path, self.name, self.child = arr, path, name, child
        self.shape, self.dtype, self.ndim = arr.shape, arr.dtype, arr.ndim
        self.chunks = arr.chunks

    def __getitem__(self, key: Any) -> np.ndarray:
        try:
            return np.asarray(self.arr[key])
        except ValueError as exc:
            if "checksum" not in str(exc):
                raise
            keys = key if isinstance(key, tuple) else (key,)
            idx = tuple((k.start or 0) // c if isinstance(k, slice) else int(k) // c
                        for k, c in zip(keys, self.chunks, strict=False))
            where, key = ((f"dataset {self.child!r}: ", f"{self.child}/{self.name}") if self.child
                          else ("", self.name))
            raise ArchiveIntegrityError(
                f"{where}variable {self.name!r}: chunk {key}/"
                f"{self.arr.metadata.encode_chunk_key(idx)} fails its crc32c checksum "
                "(corrupt data)", path=self.path) from exc


def checked_dataset(ds: xr.Dataset, store: Any) -> xr.Dataset:
    """``ds`` (opened from ``store``) with every dask-backed variable read through a checksum
    check that names the store and variable (index coordinates: :func:`verify_zarr`).

    Variables that xarray decodes (scale/offset, non-NaN fill values, a changed dtype) keep
    xarray's reader; zarr's own checksum error still stops them.

    Examples
    --------
    >>> import tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), "c.zarr")
    >>> to_zarr(xr.Dataset({"a": ("x", np.arange(3.0))}), p)
    >>> checked_dataset(xr.open_zarr(p), p)["a"].values.tolist()
    [0.0, 1.0, 2.0]
    """
    return _checked(ds, _open_group(store), _path_of(store), "")


def _checked(ds: xr.Dataset, g: Any, path: str, child: str) -> xr.Dataset:
    arrays = dict(g.arrays())
    new_vars: dict[str, Any] = {}
    new_coords: dict[str, Any] = {}
    for name, var in ds.variables.items():
        arr = arrays.get(str(name))
        if arr is None:
            continue
        checked = _CheckedArray(arr, path, str(name), child)
        fill = var.encoding.get("_FillValue")
        decoded = ("scale_factor" in var.encoding or "add_offset" in var.encoding
                   or var.dtype != arr.dtype
                   or (fill is not None and not (isinstance(fill, float) and math.isnan(fill))))
        if not isinstance(var.data, da.Array) or decoded:
            continue
        data = da.from_array(checked, chunks=var.data.chunks, lock=False,
                             meta=np.empty((0,) * var.ndim, dtype=var.dtype),
                             name=f"open-zarr-checked-{name}-{tokenize(path, child, name, var.data.name)}")
        target = new_coords if name in ds.coords else new_vars
        target[str(name)] = var.copy(deep=False, data=data)
    out = ds.assign_coords(new_coords) if new_coords else ds
    return out.assign(new_vars) if new_vars else out
