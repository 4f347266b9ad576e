"""Stacking reduced datasets along ``obs``: counts, background and exposure summed inside each
observation's safe mask, PSF and energy dispersion exposure-weighted, livetime summed; ON/OFF
spectra go to :func:`xgamma.spectrum.stack_spectra`.

Examples
--------
>>> import xgamma as xg
>>> from xgamma import testing
>>> geom = testing.make_wcs_geom()
>>> dss = [xg.reduce(testing.make_observation(n_events=500, seed=s), geom) for s in (1, 2)]
>>> st = xg.stack(dss)
>>> float(st.counts.sum()) == sum(float((d.counts * d.mask_safe).sum()) for d in dss)
True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from xgamma import sky
from xgamma.obs import OBS_META, check_same_geometry, concat_obs, to_obs
from xgamma.reduction.spectrum import stack_spectra

__all__ = ["stack", "stack_obs", "stack_pair", "concat_obs", "OBS_META"]


def _coarse_index(ds: xr.Dataset) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fine-pixel index (iy, ix) of each coarse pixel centre and whether it is on the map."""
    frame = ds.attrs.get("frame", "icrs")
    lname, bname = ("ra", "dec") if frame == "icrs" else ("glon", "glat")
    lon = np.asarray(ds.coords[lname + "_irf"].values, dtype=float)
    lat = np.asarray(ds.coords[bname + "_irf"].values, dtype=float)
    px, py = sky.wcs_of(ds).world_to_pixel_values(lon, lat)
    with np.errstate(invalid="ignore"):
        ix, iy = np.floor(np.asarray(px) + 0.5), np.floor(np.asarray(py) + 0.5)
        ok = (ix >= 0) & (ix < ds.sizes["x"]) & (iy >= 0) & (iy < ds.sizes["y"])
    return np.where(ok, iy, 0).astype(int), np.where(ok, ix, 0).astype(int), ok


def stack_obs(ds: xr.Dataset, name: str) -> xr.Dataset:
    """Stack a map or 1D dataset with an ``obs`` dim: the sums of :func:`stack` (not for
    ON/OFF spectra), the result named ``name``.

    Examples
    --------
    >>> from xgamma import testing
    >>> a = testing.make_map_dataset(np.ones((2, 3, 3)), 0.5).assign_attrs(obs_id=1, livetime=10.0)
    >>> b = a.assign_attrs(obs_id=2, livetime=20.0)
    >>> b["mask_safe"] = b.mask_safe & False   # nothing of b is safe: it adds no counts
    >>> st = stack_obs(concat_obs([a, b]), "ab")
    >>> float(st.counts.sum()), st.attrs["obs_id"], st.attrs["livetime"], st.attrs["name"]
    (18.0, [1, 2], 30.0, 'ab')
    """
    m = ds["mask_safe"].astype(bool)
    out = xr.Dataset(coords={k: v for k, v in ds.coords.items() if "obs" not in v.dims})
    for var in ("counts", "background"):
        if var in ds:
            out[var] = ds[var].where(m, 0.0).sum("obs").assign_attrs(ds[var].attrs)
    img = m.any("energy") if "energy" in m.dims else m
    if "exposure" in ds:
        out["exposure"] = ds["exposure"].where(img, 0.0).sum("obs").assign_attrs(
            ds["exposure"].attrs)
    if "y_irf" in ds.dims:
        iy, ix, ok = _coarse_index(ds)
        m_irf = img.isel(y=xr.DataArray(iy, dims=("y_irf", "x_irf")),
                         x=xr.DataArray(ix, dims=("y_irf", "x_irf"))) & xr.DataArray(
            ok, dims=("y_irf", "x_irf"))
        m_irf = m_irf.drop_vars([c for c in m_irf.coords if c not in m_irf.dims and
                                 c not in ("obs",)], errors="ignore")
        if "exposure_irf" in ds:
            w = ds["exposure_irf"].where(m_irf, 0.0)
        else:
            w = m_irf.astype(float)
        wsum = w.sum("obs")
        if "exposure_irf" in ds:
            out["exposure_irf"] = wsum.assign_attrs(ds["exposure_irf"].attrs)
    elif "exposure_irf" in ds or "exposure" in ds:  # 1D: IRFs at the region centre
        wvar = "exposure_irf" if "exposure_irf" in ds else "exposure"
        w = ds[wvar].where(img, 0.0)
        wsum = w.sum("obs")
        if wvar == "exposure_irf":
            out["exposure_irf"] = wsum.assign_attrs(ds["exposure_irf"].attrs)
    else:
        w = img.astype(float)
        wsum = w.sum("obs")
    for var in ("psf", "edisp"):
        if var in ds:
            num = (ds[var] * w).sum("obs")
            dims = [d for d in ds[var].dims if d != "obs"]
            out[var] = xr.where(wsum > 0, num / wsum.where(wsum > 0), 0.0).transpose(
                *dims).assign_attrs(ds[var].attrs)
    out["mask_safe"] = m.any("obs")
    if "mask_fit" in ds:
        out["mask_fit"] = ds["mask_fit"].astype(bool).any("obs")
    out.attrs = _stacked_attrs(ds, name)
    order = [v for v in ("counts", "exposure", "background", "psf", "edisp", "exposure_irf",
                         "mask_safe", "mask_fit") if v in out]
    return out[order]


def _in_memory(ds: xr.Dataset) -> bool:
    return all(isinstance(v.data, np.ndarray) for v in ds.data_vars.values())


def _nansum_seq(arrays: list[Any]) -> Any:
    """The ``sum("obs")`` of xarray (NaN counted as 0) of arrays given one per observation,
    added in order as numpy's reduction over the outer ``obs`` axis adds them, so that the
    result equals the sum over the concatenated arrays bit for bit."""
    acc = None
    for a in arrays:
        v = np.asarray(a)
        if v.dtype.kind in "fc" and np.isnan(v).any():
            v = np.where(np.isnan(v), np.zeros_like(v), v)
        if acc is None:
            acc = v.copy()
        elif acc.dtype == np.result_type(acc, v) and acc.shape == np.broadcast_shapes(acc.shape, v.shape):
            np.add(acc, v, out=acc)
        else:
            acc = acc + v
    return acc


def _stack_eager(dss: list[xr.Dataset], name: str) -> xr.Dataset | None:
    """:func:`stack_obs` of ``concat_obs(dss)``, bit for bit, without concatenating the data:
    each observation's terms are formed on its own dataset and summed in order. ``None`` when
    the datasets do not allow it (lazy data, differing dims): the caller concatenates."""
    if len(dss) < 2 or not all(_in_memory(d) and "obs" not in d.dims for d in dss):
        return None
    first = dss[0]
    names = list(first.data_vars)
    for d in dss[1:]:
        if list(d.data_vars) != names or any(d[v].dims != first[v].dims for v in names):
            return None
    if "mask_safe" not in first:
        return None
    # the coordinates and attrs of the concatenation: concatenate without data variables
    meta = concat_obs([d.drop_vars(names) for d in dss])
    check_same_geometry(dss)
    ms = [d["mask_safe"].astype(bool) for d in dss]
    out = xr.Dataset(coords={k: v for k, v in meta.coords.items() if "obs" not in v.dims})

    def obs_sum(terms: list[xr.DataArray]) -> xr.DataArray:
        return xr.DataArray(_nansum_seq([t.data for t in terms]), dims=terms[0].dims)

    for var in ("counts", "background"):
        if var in first:
            out[var] = obs_sum([d[var].where(m, 0.0) for d, m in zip(dss, ms, strict=True)]
                               ).assign_attrs(first[var].attrs)
    imgs = [m.any("energy") if "energy" in m.dims else m for m in ms]
    if "exposure" in first:
        out["exposure"] = obs_sum([d["exposure"].where(i, 0.0) for d, i in zip(dss, imgs, strict=True)]
                                  ).assign_attrs(first["exposure"].attrs)
    ws: list[xr.DataArray]
    if "y_irf" in first.dims:
        iy, ix, ok = _coarse_index(meta)
        yi, xi, okd = (xr.DataArray(iy, dims=("y_irf", "x_irf")), xr.DataArray(ix, dims=("y_irf", "x_irf")),
                       xr.DataArray(ok, dims=("y_irf", "x_irf")))
        m_irfs = [(i.isel(y=yi, x=xi) & okd) for i in imgs]
        m_irfs = [m.drop_vars([c for c in m.coords if c not in m.dims], errors="ignore") for m in m_irfs]
        if "exposure_irf" in first:
            ws = [d["exposure_irf"].where(m, 0.0) for d, m in zip(dss, m_irfs, strict=True)]
        else:
            ws = [m.astype(float) for m in m_irfs]
        wsum = obs_sum(ws)
        if "exposure_irf" in first:
            out["exposure_irf"] = wsum.assign_attrs(first["exposure_irf"].attrs)
    elif "exposure_irf" in first or "exposure" in first:  # 1D: IRFs at the region centre
        wvar = "exposure_irf" if "exposure_irf" in first else "exposure"
        ws = [d[wvar].where(i, 0.0) for d, i in zip(dss, imgs, strict=True)]
        wsum = obs_sum(ws)
        if wvar == "exposure_irf":
            out["exposure_irf"] = wsum.assign_attrs(first["exposure_irf"].attrs)
    else:
        ws = [i.astype(float) for i in imgs]
        wsum = obs_sum(ws)
    wsum = wsum.assign_coords({k: v for k, v in out.coords.items() if set(v.dims) <= set(wsum.dims)})
    for var in ("psf", "edisp"):
        if var in first:
            num = obs_sum([d[var] * w for d, w in zip(dss, ws, strict=True)])
            num = num.assign_coords({k: v for k, v in out.coords.items() if set(v.dims) <= set(num.dims)})
            dims = list(first[var].dims)
            out[var] = xr.where(wsum > 0, num / wsum.where(wsum > 0), 0.0).transpose(
                *dims).assign_attrs(first[var].attrs)
    anys = ms[0].data.copy()
    for m in ms[1:]:
        anys = anys | m.data
    out["mask_safe"] = xr.DataArray(anys, dims=ms[0].dims)
    if "mask_fit" in first:
        fits = [d["mask_fit"].astype(bool).data for d in dss]
        acc = fits[0].copy()
        for f in fits[1:]:
            acc = acc | f
        out["mask_fit"] = xr.DataArray(acc, dims=first["mask_fit"].dims)
    out.attrs = _stacked_attrs(meta, name)
    order = [v for v in ("counts", "exposure", "background", "psf", "edisp", "exposure_irf",
                         "mask_safe", "mask_fit") if v in out]
    return out[order]


def _stacked_attrs(ds: xr.Dataset, name: str) -> dict[str, Any]:
    attrs = {k: v for k, v in ds.attrs.items() if k not in OBS_META}
    ids = ds["obs"].values.tolist()
    attrs["obs_id"] = [i for i in ids]
    attrs["name"] = name
    for key in ("livetime", "ontime"):
        if key in ds.coords:
            attrs[key] = float(ds.coords[key].sum())
    if "tstart" in ds.coords and "tstop" in ds.coords:
        attrs["tstart"] = float(ds.coords["tstart"].min())
        attrs["tstop"] = float(ds.coords["tstop"].max())
    return attrs


def stack(datasets: xr.Dataset | Sequence[xr.Dataset], name: str = "stacked") -> xr.Dataset:
    """Stack observations: sum over ``obs`` (or a list) with each observation's mask applied.

    Counts and background are summed where each observation's ``mask_safe`` is True;
    exposure is summed where its spatial mask (any energy) is True; PSF and edisp are
    averaged with the weights ``exposure_irf`` (inside the mask); ``mask_safe`` is the OR of
    the masks; livetime and ontime are summed and ``obs_id`` lists the observations. So the
    stacked counts, background and excess in the stacked mask equal the sums over the
    observations. ON/OFF spectra (with ``counts_off``) are stacked by
    :func:`xgamma.spectrum.stack_spectra`. Works lazily on dask-backed data.

    Parameters
    ----------
    datasets : Dataset with an ``obs`` dim, or a list of datasets of one geometry
    name : str
        Name of the stacked dataset.

    Examples
    --------
    >>> import xgamma as xg
    >>> from xgamma import testing
    >>> g = testing.make_wcs_geom(width=2.0, binsz=0.2)
    >>> dss = [xg.reduce(testing.make_observation(obs_id=i, seed=i, n_events=200), g) for i in (1, 2)]
    >>> st = stack(dss)
    >>> st.attrs["obs_id"], float(st.counts.sum()) == sum(float((d.counts * d.mask_safe).sum()) for d in dss)
    ([1, 2], True)
    """
    if isinstance(datasets, xr.Dataset):
        ds = datasets if "obs" in datasets.dims else to_obs(datasets)
    else:
        dss = list(datasets)
        if not dss:
            raise ValueError("nothing to stack")
        if any("counts_off" in d for d in dss):

            return stack_spectra(dss)
        eager = _stack_eager(dss, name)
        if eager is not None:
            return eager
        ds = concat_obs(dss)
    if "counts_off" in ds:

        return stack_spectra(ds)
    return stack_obs(ds, name)


def _ids(ds: xr.Dataset) -> list[Any]:
    ids = ds.attrs.get("obs_id")
    if "obs" in ds.dims:
        return list(ds["obs"].values.tolist())
    return list(ids) if isinstance(ids, list | tuple | np.ndarray) else [ids]


def stack_pair(a: xr.Dataset, b: xr.Dataset) -> xr.Dataset:
    """Stack two datasets (either may be a stack already); ``obs_id`` lists the
    observations of both, so a running stack keeps all its ids.

    Examples
    --------
    >>> from xgamma import testing
    >>> a = testing.make_map_dataset(np.ones((2, 3, 3)), 0.5).assign_attrs(obs_id=1, livetime=10.0)
    >>> ab = stack_pair(a, a.assign_attrs(obs_id=2))
    >>> ab.attrs["obs_id"], float(ab.counts.sum())
    ([1, 2], 36.0)
    >>> stack_pair(ab, a.assign_attrs(obs_id=3)).attrs["obs_id"]
    [1, 2, 3]
    """
    out = stack([a, b])
    out.attrs["obs_id"] = _ids(a) + _ids(b)
    return out
