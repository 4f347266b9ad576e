"""Events to counts: a histogram on any geometry that keeps the geometry's edges.

Events are pandas or dask DataFrames with lower-case columns ``ra``, ``dec`` (deg, ICRS) and
``energy`` (TeV); every non-sky dim of the geometry is binned from the column of the same
name (``energy``, ``energy_true``, ``time``, ``offset``, ...). Bins are left-closed
``[min, max)``; events outside every bin are dropped.

For dask input the histogram is computed per task of a few consecutive partitions (small ones
binned together; kept sparse: only the occupied bins) and summed in a tree, so the result is a
lazy dask-backed DataArray identical to the eager one after ``.compute()``.

Examples
--------
>>> import pandas as pd, xgamma as xg
>>> ev = pd.DataFrame({"ra": [83.63, 83.63, 90.0], "dec": [22.01, 22.01, 0.0],
...                    "energy": [1.5, 20.0, 1.0]})
>>> geom = xg.wcs_geom((83.63, 22.01), 1, 0.5, axes=[xg.energy_axis(1, 100, 2)])
>>> bin_events(ev, geom).sum("energy").values.tolist()
[[0.0, 0.0], [0.0, 2.0]]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import astropy.units as u
import numpy as np
import pandas as pd
import xarray as xr
from astropy.coordinates import SkyCoord
from dask import is_dask_collection

from xgamma import sky
from xgamma.conventions import UNITS
from xgamma.errors import GeometryError
from xgamma.times import datetime_to_seconds

__all__ = ["bin_events"]

_SKY_DIMS = {"wcs": ("y", "x"), "healpix": ("pix",), "region": ()}


@dataclass(frozen=True)
class _Axis:
    dim: str
    column: str
    mins: np.ndarray
    maxs: np.ndarray
    factor: float  # column unit -> axis unit
    #: a column of dates: None, else the time attrs placing float-second edges (or {} when the
    #: edges are dates too, both then compared as integer nanoseconds)
    dates: dict[str, Any] | None = None


@dataclass(frozen=True)
class SkySpec:
    kind: str
    frame: str
    wcs: Any = None
    shape: tuple[int, ...] = ()
    region: Any = None
    nside: int = 0
    order: str = "nested"
    pix_sorted: np.ndarray | None = None
    pix_pos: np.ndarray | None = None


@dataclass(frozen=True)
class _Spec:
    dims: tuple[str, ...]
    shape: tuple[int, ...]
    axes: tuple[_Axis, ...]
    sky: SkySpec


def sky_spec(geom: xr.Dataset) -> SkySpec:
    kind, frame = sky.geom_kind(geom), sky.frame_of(geom)
    if kind == "wcs":
        return SkySpec(kind, frame, wcs=sky.wcs_of(geom),
                        shape=(int(geom.sizes["y"]), int(geom.sizes["x"])))
    if kind == "region":
        return SkySpec(kind, frame, region=sky.region_of(geom))
    pix = np.asarray(geom.coords["pix"].values, dtype=np.int64)
    order = np.argsort(pix, kind="stable")
    return SkySpec(kind, frame, shape=(pix.size,), nside=int(geom.attrs["nside"]),
                    order=str(geom.attrs["order"]), pix_sorted=pix[order], pix_pos=order)


def _column_unit(events: Any, column: str, axis_unit: str) -> str:
    units = events.attrs.get("units") if isinstance(getattr(events, "attrs", None), dict) else None
    if isinstance(units, dict) and units.get(column):
        return str(units[column])
    return UNITS.get(column, axis_unit)


def _date_axis(events: Any, d: str, geom: xr.Dataset) -> _Axis:
    """A dim binned from a column of UTC dates: date edges, or seconds since the events' MJDREF."""
    lo, hi = geom.coords[f"{d}_min"].values, geom.coords[f"{d}_max"].values
    if np.asarray(lo).dtype.kind == "M":
        return _Axis(d, d, _ns(lo), _ns(hi), 1.0, {})
    attrs = dict(getattr(events._meta if hasattr(events, "_meta") else events, "attrs", {}) or {})
    if not any(k in attrs for k in ("mjdref", "mjdrefi")):
        raise GeometryError(f"column {d!r} holds dates: bin it on date edges, or give the events "
                            "attrs MJDREF/TIMESYS to place the axis' seconds")
    unit = str(geom.coords[f"{d}_min"].attrs.get("units", "") or "s")
    f = float(u.Unit(unit).to(u.s))
    return _Axis(d, d, np.asarray(lo, float) * f, np.asarray(hi, float) * f, 1.0, attrs)


def _ns(dates: Any) -> np.ndarray:
    return np.asarray(dates, dtype="datetime64[ns]").astype(np.int64)


def _column_values(df: pd.DataFrame, ax: _Axis) -> np.ndarray:
    if ax.dates is None:
        return df[ax.column].to_numpy(dtype=float)
    dates = df[ax.column].to_numpy(dtype="datetime64[ns]")
    return datetime_to_seconds(dates, ax.dates) if ax.dates else _ns(dates)


def _spec(events: Any, geom: xr.Dataset) -> _Spec:
    skydims = sky.sky_dims(geom)
    dims = sky.sky_and_axis_dims(geom)
    shape = tuple(int(geom.sizes[d]) for d in dims)
    axes = []
    for d in dims:
        if d in skydims:
            continue
        if f"{d}_min" not in geom.coords:
            raise GeometryError(f"dim {d!r} has no bin edges ({d}_min/{d}_max): cannot bin it")
        if d not in events.columns:
            raise GeometryError(
                f"geometry dim {d!r} needs an event column {d!r}; columns: {list(events.columns)}")
        ax_unit = str(geom.coords[f"{d}_min"].attrs.get("units", ""))
        if events[d].dtype.kind == "M":
            axes.append(_date_axis(events, d, geom))
            continue
        col_unit = _column_unit(events, d, ax_unit)
        try:
            factor = float(u.Unit(col_unit).to(u.Unit(ax_unit))) if col_unit != ax_unit else 1.0
        except (u.UnitConversionError, ValueError) as exc:
            raise GeometryError(f"column {d!r} in {col_unit!r} cannot be binned on an axis in "
                                f"{ax_unit!r}") from exc
        axes.append(_Axis(d, d, np.asarray(geom.coords[f"{d}_min"].values, float),
                          np.asarray(geom.coords[f"{d}_max"].values, float), factor))
    return _Spec(dims, shape, tuple(axes), sky_spec(geom))


def _event_lonlat(df: pd.DataFrame, frame: str) -> tuple[np.ndarray, np.ndarray]:
    ra = df["ra"].to_numpy(dtype=float)
    dec = df["dec"].to_numpy(dtype=float)
    if frame == "icrs":
        return ra, dec
    c = SkyCoord(ra, dec, unit="deg", frame="icrs").transform_to(frame).spherical
    return np.asarray(c.lon.deg), np.asarray(c.lat.deg)


def sky_index(df: pd.DataFrame, s: SkySpec) -> tuple[list[np.ndarray], np.ndarray]:
    """Per-event index along each sky dim, and the mask of events inside the geometry."""
    n = len(df)
    if s.kind == "region":
        c = SkyCoord(df["ra"].to_numpy(float), df["dec"].to_numpy(float), unit="deg",
                     frame="icrs")
        return [], sky.contains(s.region, c) if n else np.zeros(0, bool)
    lon, lat = _event_lonlat(df, s.frame)
    if s.kind == "wcs":
        x, y = s.wcs.world_to_pixel_values(lon, lat)
        with np.errstate(invalid="ignore"):
            ix = np.floor(np.asarray(x) + 0.5)
            iy = np.floor(np.asarray(y) + 0.5)
            ok = (ix >= 0) & (ix < s.shape[1]) & (iy >= 0) & (iy < s.shape[0])
        ix = np.where(ok, ix, 0).astype(np.int64)
        iy = np.where(ok, iy, 0).astype(np.int64)
        return [iy, ix], ok
    from astropy_healpix import HEALPix

    good = np.isfinite(lon) & np.isfinite(lat)
    hp = HEALPix(nside=s.nside, order=s.order)
    ipix = np.full(n, -1, dtype=np.int64)
    ipix[good] = hp.lonlat_to_healpix(lon[good] * u.deg, lat[good] * u.deg)
    assert s.pix_sorted is not None and s.pix_pos is not None
    pos = np.clip(np.searchsorted(s.pix_sorted, ipix), 0, max(s.pix_sorted.size - 1, 0))
    ok = good & (s.pix_sorted[pos] == ipix) if s.pix_sorted.size else np.zeros(n, bool)
    return [np.where(ok, s.pix_pos[pos], 0)], ok


def _axis_index(values: np.ndarray, ax: _Axis) -> tuple[np.ndarray, np.ndarray]:
    v = values * ax.factor if ax.factor != 1.0 else values
    idx = np.searchsorted(ax.mins, v, side="right") - 1
    safe = np.clip(idx, 0, ax.mins.size - 1)
    with np.errstate(invalid="ignore"):
        ok = (idx >= 0) & (v < ax.maxs[safe])
    return safe, ok


def _flat_index(df: pd.DataFrame, spec: _Spec, weights: Any = None) -> tuple[np.ndarray, Any]:
    """Flat bin index (into ``spec.shape``) of the events inside, and their weights."""
    n = len(df)
    ok = np.ones(n, dtype=bool)
    index: dict[str, np.ndarray] = {}
    for ax in spec.axes:
        idx, good = _axis_index(_column_values(df, ax), ax)
        index[ax.dim] = idx
        ok &= good
    sky_idx, sky_ok = sky_index(df, spec.sky)
    ok &= sky_ok
    for d, idx in zip(_SKY_DIMS[spec.sky.kind], sky_idx, strict=True):
        index[d] = idx
    if spec.dims:
        flat = np.ravel_multi_index(tuple(index[d][ok] for d in spec.dims), spec.shape)
    else:
        flat = np.zeros(int(ok.sum()), dtype=np.int64)
    w = None
    if weights is not None:
        w = df[weights].to_numpy(float) if isinstance(weights, str) else np.asarray(weights, float)
        w = w[ok]
    return np.asarray(flat, dtype=np.int64), w


def _histogram(df: pd.DataFrame, spec: _Spec, weights: Any = None) -> np.ndarray:
    """Histogram of one pandas partition on ``spec`` (a numpy array of ``spec.shape``)."""
    flat, w = _flat_index(df, spec, weights)
    size = int(np.prod(spec.shape))
    return np.bincount(flat, weights=w, minlength=size).astype(float).reshape(spec.shape)


def _sparse_histogram(df: pd.DataFrame, spec: _Spec, weights: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """Histogram of one partition as (occupied flat bins, their sums): memory ~ events, not bins."""
    flat, w = _flat_index(df, spec, weights)
    return _sparse_of([(flat, w)], int(np.prod(spec.shape)))


def _sparse_of(parts: list[tuple[np.ndarray, Any]], size: int) -> tuple[np.ndarray, np.ndarray]:
    """One sparse histogram of (flat bins, weights or None for one count each) pairs."""
    if any(w is not None for _, w in parts):
        return _sparse_sum([(f, np.ones(len(f)) if w is None else w) for f, w in parts], size)
    flat = np.concatenate([f for f, _ in parts]) if parts else np.zeros(0, np.int64)
    if size <= 4 * flat.size or flat.size == 0:
        return _sparse_sum([(flat, np.ones(len(flat)))], size)
    srt = np.sort(flat)  # counts: a sort and run lengths (cheaper than unique's argsort)
    starts = np.flatnonzero(np.r_[True, srt[1:] != srt[:-1]])
    return srt[starts], np.diff(np.r_[starts, srt.size]).astype(float)


#: flat indices a grouped task gathers before it reduces them to a sparse histogram
_GROUP_ENTRIES = 1 << 22


def _group_histogram(spec: _Spec, weights: Any, columns: list[str],
                     *dfs: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Sparse histogram of several partitions in one task: one reduction for all of them
    (the per-partition sort and the tree of sums cost more than the binning of small
    partitions); the gathered indices are reduced whenever they exceed ``_GROUP_ENTRIES``."""
    size = int(np.prod(spec.shape))
    parts: list[tuple[np.ndarray, Any]] = []
    n = 0
    for df in _batches(dfs, columns):
        flat, w = _flat_index(df, spec, weights)
        parts.append((flat, w))
        n += flat.size
        if n > _GROUP_ENTRIES and len(parts) > 1:
            idx, val = _sparse_of(parts, size)
            parts, n = [(idx, val)], idx.size
    return _sparse_of(parts, size)


#: rows of small partitions concatenated to be binned in one call (fixed costs per call)
_BATCH_ROWS = 1 << 17


def _batches(dfs: tuple[pd.DataFrame, ...], columns: list[str]) -> list[pd.DataFrame]:
    """Consecutive partitions concatenated into frames of up to ``_BATCH_ROWS`` rows of the
    ``columns`` binned (a larger partition stays alone, uncopied); the events keep their order."""
    out: list[pd.DataFrame] = []
    batch: list[pd.DataFrame] = []
    rows = 0
    for df in dfs:
        if batch and rows + len(df) > _BATCH_ROWS:
            out.append(_concat(batch, columns))
            batch, rows = [], 0
        batch.append(df)
        rows += len(df)
    if batch:
        out.append(_concat(batch, columns))
    return out


def _concat(batch: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    """One frame of ``columns`` from consecutive partitions (with other columns, column by
    column: a column selection of each partition costs more than the concatenation)."""
    if len(batch) == 1:
        return batch[0]
    if len(batch[0].columns) <= 2 * len(columns):  # a few more: copied, cheaper than picked
        return pd.concat(batch, ignore_index=True)
    out: dict[str, Any] = {}
    for c in columns:
        if isinstance(batch[0][c].dtype, np.dtype):
            out[c] = np.concatenate([df[c].to_numpy() for df in batch])
        else:  # extension dtypes (dates with a time zone, ...) keep their type
            out[c] = pd.concat([df[c] for df in batch], ignore_index=True)
    return pd.DataFrame(out, copy=False)


def _source_key(graph: Any, key: Any) -> Any:
    """The key an alias chain in ``graph`` ends at (``key`` itself if it is no alias)."""
    try:
        from dask.task_spec import Alias  # dask >= 2024.12; older graphs have no Alias nodes
    except ImportError:
        return key

    node = graph.get(key)
    while isinstance(node, Alias) and node.target != key and node.target in graph:
        key = node.target
        node = graph.get(key)
    return key


def _project(events: Any, columns: list[str]) -> Any:
    """The dask DataFrame optimized, projected on ``columns`` where that adds no task (the
    selection reaches the reader, or fuses with a computation): else, e.g. on persisted
    partitions, a selection task per partition costs more than the binning of a small one,
    and the binning tasks pick the columns."""
    full = events.optimize()
    if len(columns) == len(events.columns):
        return full
    projected = events[columns].optimize()
    return projected if len(projected.__dask_graph__()) <= len(full.__dask_graph__()) else full


def _partitions_per_task(npartitions: int) -> int:
    """Partitions binned in one task: about 32 tasks (parallel enough; 1e6 events in 105
    partitions cost as much CPU as with 16), at most 16 partitions each (a task holds its
    partitions in memory at once). The sizes of partitions are unknown before they are read."""
    return max(1, min(16, -(-npartitions // 32)))


def _sparse_sum(parts: list[tuple[np.ndarray, np.ndarray]], size: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Sum sparse histograms. With ``size`` (the number of bins) no larger than a few times the
    entries, a dense ``bincount`` (memory ~ entries, no sort) replaces the sort of ``unique``."""
    idx = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, np.int64)
    val = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0)
    if 0 < size <= 4 * idx.size:
        dense = np.bincount(idx, weights=val, minlength=size)
        occupied = np.flatnonzero(dense)
        return occupied, dense[occupied]
    uniq, inv = np.unique(idx, return_inverse=True)
    return uniq, np.bincount(inv.ravel(), weights=val, minlength=len(uniq))


def _dense_sum(parts: list[tuple[np.ndarray, np.ndarray]], shape: tuple[int, ...]) -> np.ndarray:
    """Sum sparse histograms into the dense cube of ``shape`` (one ``bincount``)."""
    idx = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, np.int64)
    val = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0)
    size = int(np.prod(shape))
    return np.bincount(idx, weights=val, minlength=size).astype(float).reshape(shape)


def bin_events(events: Any, geom: Any, weights: Any = None) -> xr.DataArray:
    """Bin events into counts on a geometry.

    Parameters
    ----------
    events : pandas.DataFrame or dask.dataframe.DataFrame
        Columns ``ra``, ``dec`` (deg, ICRS) and one column per non-sky dim of ``geom``
        (``energy`` in TeV, ...). The unit of a column is ``events.attrs["units"][col]`` if
        given, else xgamma's internal unit (:data:`xgamma.conventions.UNITS`).
    geom : Dataset or DataArray
        Any object that has a geometry (:mod:`xgamma.sky`).
    weights : str or array-like, optional
        Column name (or, for pandas, an array) of per-event weights.

    Returns
    -------
    xarray.DataArray
        ``"counts"`` on the geometry's coords (float64), dims in the geometry's order; numpy
        for pandas input, a lazy dask array (histogram per partition, then a sum) for dask.

    Notes
    -----
    WCS pixel ``i`` covers ``[i - 0.5, i + 0.5)`` in pixel coordinates; region membership
    uses :func:`xgamma.sky.contains`; HEALPix uses ``lonlat_to_healpix``. Non-sky bins are
    left-closed ``[min, max)``.

    Examples
    --------
    >>> import pandas as pd, xgamma as xg
    >>> ev = pd.DataFrame({"ra": [83.6, 83.7, 10.0], "dec": [22.0] * 3, "energy": [1.0, 3.0, 1.0]})
    >>> geom = xg.region_geom("icrs;circle(83.63,22.01,0.2)", axes=[xg.energy_axis(1, 10, 1)])
    >>> bin_events(ev, geom).values.tolist()
    [2.0]
    """
    g = sky.geom_of(geom)
    spec = _spec(events, g)
    if not is_dask_collection(events):
        return sky.make_map(_histogram(events, spec, weights), g, name="counts")
    import dask.array as da
    from dask.base import tokenize
    from dask.highlevelgraph import HighLevelGraph

    if weights is not None and not isinstance(weights, str):
        raise GeometryError("for dask events, weights must be a column name")
    # One sparse histogram (occupied bins only) per task of k consecutive partitions (about 32
    # tasks: a task per small partition cost more than binning it), summed in a tree of fan-in
    # 32, densified once at the end: memory scales with the events, not with the cube size.
    # Only the columns binned are read (the projection reaches the reader, e.g. from_map; where
    # it would add a task per partition, as on persisted ones, the task picks the columns).
    needed = list(dict.fromkeys(["ra", "dec", *(ax.column for ax in spec.axes),
                                 *([weights] if weights else [])]))
    events = _project(events, needed)
    # The graph is written directly (one layer, the spec stored once): building it through
    # dask.delayed merged a graph per call and cost as much CPU as binning 1e6 events.
    parts = events.to_delayed(optimize_graph=False)  # optimized by _project
    # A partition key that only renames another (dask-expr aliases persisted partitions) is
    # read at its source: else each alias is fused with its data into a subgraph, and running
    # those subgraphs cost a quarter of the binning of 1e6 events in 105 partitions.
    keys = [_source_key(parts[0].dask, p.key) for p in parts] if parts else []
    name = "bin-events-" + tokenize(events, g, weights)
    size = int(np.prod(spec.shape))
    dsk: dict[Any, Any] = {f"{name}-spec": spec}
    level = []
    k = _partitions_per_task(len(parts))
    for i in range(0, len(parts), k):
        key = (f"{name}-part", i // k)
        dsk[key] = (_group_histogram, f"{name}-spec", weights, needed, *keys[i:i + k])
        level.append(key)
    depth = 0
    while len(level) > 32:
        depth += 1
        nxt = []
        for j in range(0, len(level), 32):
            dsk[(f"{name}-sum{depth}", j // 32)] = (_sparse_sum, level[j:j + 32], size)
            nxt.append((f"{name}-sum{depth}", j // 32))
        level = nxt
    dsk[(name, *(0,) * len(spec.shape))] = (_dense_sum, level, spec.shape)
    graph = HighLevelGraph.from_collections(name, dsk, dependencies=parts[:1])
    data = da.Array(graph, name, chunks=tuple((n,) for n in spec.shape), dtype=float)
    return sky.make_map(data, g, name="counts")
