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

__all__ = ["OBS_META", "concat_obs", "to_obs"]

#: Per-observation attrs that become coordinates along ``obs``.
OBS_META = ("livetime", "ontime", "pointing_ra", "pointing_dec", "tstart", "tstop")
_DROP = ("energy_threshold_low", "energy_threshold_high")


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
    return out


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
    attrs = {k: v for k, v in dss[0].attrs.items() if k not in _DROP}
    attrs["name"] = name or str(datasets[0].attrs.get("name", "stacked"))
    attrs["obs_id"] = out["obs"].values.tolist()
    for key in ("livetime", "ontime"):
        if key in out.coords:
            attrs[key] = float(np.nansum(out.coords[key].values))
    out.attrs = attrs
    return out
