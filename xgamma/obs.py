"""The ``obs`` dim: the one way datasets of many observations are concatenated.

:func:`concat_obs` puts datasets of one geometry (map or spectrum) side by side along a new
``obs`` dim. Per-observation attrs (:data:`OBS_META`: livetime, ontime, pointing, GTI start
and stop) become coordinates along ``obs``; the ``obs`` coordinate holds the observation ids.
The result's attrs keep the first dataset's shared attrs plus ``name``, ``obs_id`` (the list)
and the total ``livetime``/``ontime``. Joint likelihoods sum over ``obs``;
:func:`xgamma.reduction.stack` sums the data over it.

Examples
--------
>>> import numpy as np, xarray as xr
>>> e = xr.DataArray(np.arange(2.0), dims="energy", coords={"energy": [1.0, 2.0]})
>>> a = xr.Dataset({"counts": e}, attrs={"obs_id": 1, "livetime": 10.0})
>>> b = a.assign_attrs(obs_id=2, livetime=20.0)
>>> ds = concat_obs([a, b])
>>> ds.obs.values.tolist(), ds.livetime.values.tolist(), ds.attrs["livetime"]
([1, 2], [10.0, 20.0], 30.0)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from xgamma.errors import GeometryError

__all__ = ["GTI_ATTRS", "OBS_META", "concat_obs", "gti_table", "gti_list_attrs", "merge_gti", "stacked_gti", "to_obs"]

#: Per-observation attrs that become coordinates along ``obs``.
OBS_META = ("livetime", "ontime", "pointing_ra", "pointing_dec", "tstart", "tstop")
_DROP = ("energy_threshold_low", "energy_threshold_high")
#: Attrs of the good-time list: starts and stops [s since ``mjdref``] and, with an ``obs`` dim,
#: the ``obs`` coordinate value each interval belongs to.
GTI_ATTRS = ("gti_start", "gti_stop", "gti_obs")


def to_obs(ds: xr.Dataset, obs_id: Any = None) -> xr.Dataset:
    """Give a one-observation dataset an ``obs`` dim (per-obs attrs become ``obs`` coords).

    Parameters
    ----------
    ds : Dataset
        One observation's dataset; returned as it is when it has an ``obs`` dim already.
    obs_id : optional
        The ``obs`` coordinate (default: ``attrs["obs_id"]``, lists joined by ``+``, else 0).

    Returns
    -------
    xarray.Dataset
        ``ds`` with an ``obs`` dim of size 1; the attrs lose ``obs_id``, ``name`` and
        those of :data:`OBS_META`.

    Examples
    --------
    >>> e = xr.DataArray(np.arange(2.0), dims="energy", coords={"energy": [1.0, 2.0]})
    >>> ds = to_obs(xr.Dataset({"counts": e}, attrs={"obs_id": 7, "livetime": 10.0}))
    >>> dict(ds.sizes), ds.obs.values.tolist(), ds.livetime.values.tolist(), ds.attrs
    ({'obs': 1, 'energy': 2}, [7], [10.0], {})
    """
    if "obs" in ds.dims:
        return ds
    if obs_id is None:
        obs_id = ds.attrs.get("obs_id")
        if isinstance(obs_id, list | tuple | np.ndarray):
            obs_id = "+".join(str(o) for o in obs_id)
    out = ds.expand_dims(obs=[obs_id if obs_id is not None else 0])
    meta = {k: ("obs", [ds.attrs[k]], {"units": "deg" if k.startswith("pointing") else "s"})
            for k in OBS_META if k in ds.attrs}
    out = out.assign_coords(meta)
    out.attrs = {k: v for k, v in ds.attrs.items() if k not in OBS_META and k not in ("obs_id",
                                                                                       "name")}
    if "gti_start" in ds.attrs and "gti_stop" in ds.attrs:
        start, stop, _ = gti_table(ds)  # type: ignore[misc]
        out.attrs.update(gti_start=start.tolist(), gti_stop=stop.tolist(),
                         gti_obs=[out["obs"].values.tolist()[0]] * len(start))
    return out


def merge_gti(start: Any, stop: Any) -> tuple[np.ndarray, np.ndarray]:
    """Union of time intervals: sorted, overlapping or touching ones merged, empty ones dropped.

    Examples
    --------
    >>> [a.tolist() for a in merge_gti([50.0, 0.0, 5.0], [60.0, 10.0, 20.0])]
    [[0.0, 50.0], [20.0, 60.0]]
    """
    t1 = np.atleast_1d(np.asarray(start, dtype=float)).ravel()
    t2 = np.atleast_1d(np.asarray(stop, dtype=float)).ravel()
    keep = t2 > t1
    t1, t2 = t1[keep], t2[keep]
    order = np.argsort(t1, kind="stable")
    t1, t2 = t1[order], t2[order]
    out1: list[float] = []
    out2: list[float] = []
    for a, b in zip(t1.tolist(), t2.tolist(), strict=True):
        if out2 and a <= out2[-1]:
            out2[-1] = max(out2[-1], b)
        else:
            out1.append(a)
            out2.append(b)
    return np.asarray(out1, dtype=float), np.asarray(out2, dtype=float)


def stacked_gti(ds: xr.Dataset) -> dict[str, Any]:
    """The good time of a stack of the observations along ``obs``: the union of their GTIs
    (sorted, overlaps merged) as attrs ``gti_start``/``gti_stop`` [s since ``mjdref``], with
    ``tstart``/``tstop`` the first start and the last stop; empty when a GTI is missing. The
    gaps between the runs are not good time, so a temporal model's mean runs over the runs only.

    Examples
    --------
    >>> a = xr.Dataset(attrs={"obs_id": 1, "tstart": 0.0, "tstop": 10.0})
    >>> stacked_gti(concat_obs([a, a.assign_attrs(obs_id=2, tstart=20.0, tstop=30.0)]))
    {'tstart': 0.0, 'tstop': 30.0, 'gti_start': [0.0, 20.0], 'gti_stop': [10.0, 30.0]}
    """
    g = gti_table(ds)
    if g is None:
        return {}
    start, stop = merge_gti(g[0], g[1])
    if not len(start):
        return {}
    return {"tstart": float(start[0]), "tstop": float(stop[-1]), "gti_start": start.tolist(),
            "gti_stop": stop.tolist()}


def gti_list_attrs(gti: Any) -> dict[str, Any]:
    """Attrs ``gti_start``/``gti_stop`` of one observation's GTI table (columns ``START``/
    ``STOP`` [s], any case) when it has gaps (several intervals once merged); else empty: a
    single interval is the dataset's ``tstart``/``tstop``.

    Examples
    --------
    >>> import pandas as pd
    >>> gti_list_attrs(pd.DataFrame({"start": [0.0, 20.0], "stop": [10.0, 30.0]}))
    {'gti_start': [0.0, 20.0], 'gti_stop': [10.0, 30.0]}
    >>> gti_list_attrs(pd.DataFrame({"start": [0.0, 10.0], "stop": [10.0, 30.0]}))
    {}
    """
    names = list(getattr(gti, "columns", []) if gti is not None else [])
    cols = {str(c).lower(): c for c in names}
    if "start" not in cols or "stop" not in cols:
        return {}
    start, stop = merge_gti(np.asarray(gti[cols["start"]], dtype=float), np.asarray(gti[cols["stop"]], dtype=float))
    if len(start) < 2:
        return {}
    return {"gti_start": start.tolist(), "gti_stop": stop.tolist()}


def gti_table(ds: xr.Dataset) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """The good time intervals of a dataset: ``(start, stop, index)`` [s since ``mjdref``],
    ``index`` the position along ``obs`` of each interval (all 0 without an ``obs`` dim).

    From the list attrs :data:`GTI_ATTRS` (a stacked dataset: the union of its observations'
    GTIs; with ``gti_obs`` the intervals of the observations present), else one interval
    per observation from ``tstart``/``tstop`` (attrs or ``obs`` coordinates). None when an
    observation has neither.

    Examples
    --------
    >>> ds = xr.Dataset(attrs={"tstart": 0.0, "tstop": 30.0, "gti_start": [0.0, 20.0], "gti_stop": [10.0, 30.0]})
    >>> [a.tolist() for a in gti_table(ds)]
    [[0.0, 20.0], [10.0, 30.0], [0, 0]]
    """
    n = ds.sizes.get("obs", 1)
    ids = np.atleast_1d(ds["obs"].values).tolist() if "obs" in ds.coords else None
    a = ds.attrs
    start: list[float] = []
    stop: list[float] = []
    index: list[int] = []
    have = np.zeros(n, bool)
    if "gti_start" in a and "gti_stop" in a:
        t1 = np.atleast_1d(np.asarray(a["gti_start"], dtype=float)).ravel()
        t2 = np.atleast_1d(np.asarray(a["gti_stop"], dtype=float)).ravel()
        owner = a.get("gti_obs")
        if owner is None:
            if n == 1:
                start, stop, index = t1.tolist(), t2.tolist(), [0] * len(t1)
                have[:] = len(t1) > 0
        elif ids is not None:
            pos = {str(v): i for i, v in enumerate(ids)}
            for x, y, o in zip(t1.tolist(), t2.tolist(), list(np.atleast_1d(owner)), strict=True):
                k = pos.get(str(o))
                if k is not None:
                    start.append(x)
                    stop.append(y)
                    index.append(k)
                    have[k] = True
    if not have.all():
        vals = {}
        for key in ("tstart", "tstop"):
            v = ds.coords[key].values if key in ds.coords else a.get(key)
            if v is None:
                return None
            vals[key] = np.broadcast_to(np.asarray(v, dtype=float).reshape(-1), (n,))
        for i in np.flatnonzero(~have):
            start.append(float(vals["tstart"][i]))
            stop.append(float(vals["tstop"][i]))
            index.append(int(i))
    order = np.lexsort((np.asarray(start), np.asarray(index)))
    return (np.asarray(start, dtype=float)[order], np.asarray(stop, dtype=float)[order],
            np.asarray(index, dtype=int)[order])


def check_same_geometry(datasets: Sequence[xr.Dataset]) -> None:
    """Raise :class:`~xgamma.errors.GeometryError` naming the first dim or axis that differs."""
    ref = datasets[0]
    for ds in datasets[1:]:
        for dim in ("energy", "y", "x", "pix", "energy_true", "y_irf", "x_irf", "rad"):
            if ref.sizes.get(dim) != ds.sizes.get(dim):
                raise GeometryError(f"datasets differ along {dim!r}: {ref.sizes.get(dim)} vs "
                                    f"{ds.sizes.get(dim)}; stack or concatenate needs one geometry")
        if ref.attrs.get("wcs") != ds.attrs.get("wcs") or ref.attrs.get("region") != \
                ds.attrs.get("region"):
            raise GeometryError("datasets have different sky geometries")
        for dim in ("energy", "energy_true"):
            lo = f"{dim}_min"
            if lo in ref.coords and lo in ds.coords and not np.allclose(
                    ref[lo].values, ds[lo].values, rtol=1e-6):
                raise GeometryError(f"datasets have different {dim!r} binning; pass them as a "
                                    "list instead")


def _ids(datasets: Sequence[xr.Dataset]) -> list[Any]:
    ids: list[Any] = []
    for i, d in enumerate(datasets):
        oid = d.attrs.get("obs_id", d.attrs.get("name", i))
        ids.append(oid if not isinstance(oid, list | tuple | np.ndarray) else d.attrs.get("name", i))
    if len(set(map(str, ids))) != len(ids):
        ids = list(range(len(datasets)))
    return ids


def concat_obs(datasets: Sequence[xr.Dataset], name: str | None = None) -> xr.Dataset:
    """Concatenate datasets of one geometry (maps or spectra) along a new ``obs`` dim.

    Parameters
    ----------
    datasets : sequence of Dataset
        One-observation datasets (or datasets that already have an ``obs`` dim).
    name : str, optional
        Name of the result (default: the first dataset's name, else ``"stacked"``).

    Returns
    -------
    xarray.Dataset
        ``obs`` holds the obs ids (names, or 0..n-1 where ids repeat); :data:`OBS_META`
        attrs are coordinates along ``obs``; attrs ``obs_id`` (list), ``name`` and the total
        ``livetime``/``ontime``.

    Raises
    ------
    GeometryError
        When the datasets differ in a dim size, sky geometry or energy binning.

    Examples
    --------
    >>> e = xr.DataArray(np.arange(2.0), dims="energy", coords={"energy": [1.0, 2.0]})
    >>> a = xr.Dataset({"counts": e}, attrs={"obs_id": 1, "livetime": 10.0})
    >>> ds = concat_obs([a, a.assign_attrs(obs_id=2, livetime=20.0)], name="both")
    >>> dict(ds.sizes), ds.attrs["obs_id"], ds.attrs["livetime"], ds.attrs["name"]
    ({'obs': 2, 'energy': 2}, [1, 2], 30.0, 'both')
    """
    if not datasets:
        raise ValueError("concat_obs: no datasets")
    single = [d for d in datasets if "obs" not in d.dims]
    ids = iter(_ids(single))
    dss = [d if "obs" in d.dims else to_obs(d, next(ids)) for d in datasets]
    check_same_geometry(dss)
    keys = {k for d in dss for k in OBS_META if k in d.coords}
    dss = [d.assign_coords({k: ("obs", np.full(d.sizes["obs"], np.nan)) for k in keys
                            if k not in d.coords}) for d in dss]
    out = xr.concat(dss, dim="obs", data_vars="all", coords="minimal", compat="override",
                    join="override", combine_attrs="override")
    attrs = {k: v for k, v in dss[0].attrs.items() if k not in _DROP and k not in GTI_ATTRS}
    if any("gti_obs" in d.attrs for d in dss):  # keep each observation's list of GTIs
        gtis = [gti_table(d) for d in dss]
        if all(g is not None for g in gtis):
            attrs["gti_start"] = [x for g in gtis for x in g[0].tolist()]  # type: ignore[index]
            attrs["gti_stop"] = [x for g in gtis for x in g[1].tolist()]  # type: ignore[index]
            attrs["gti_obs"] = [np.atleast_1d(d["obs"].values).tolist()[i] for d, g in zip(dss, gtis, strict=True)
                                for i in g[2].tolist()]  # type: ignore[index]
    attrs["name"] = name or str(datasets[0].attrs.get("name", "stacked"))
    attrs["obs_id"] = out["obs"].values.tolist()
    for key in ("livetime", "ontime"):
        if key in out.coords:
            attrs[key] = float(np.nansum(out.coords[key].values))
    out.attrs = attrs
    return out
