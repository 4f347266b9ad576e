"""Stacking reduced datasets along ``obs``: counts, background and exposure summed inside each
observation's safe mask, PSF and energy dispersion exposure-weighted, livetime summed; ON/OFF
spectra go to :func:`xgamma.spectrum.stack_spectra`; ON/OFF maps (ring background) get their
OFF counts and acceptances stacked as Gammapy's ``MapDatasetOnOff.stack``
(:func:`xgamma.reduction.spectrum.stack_onoff`).

Event types (an ``event_type`` dim, e.g. HAWC's nHit bins) are kept apart by default: each
event type is stacked over ``obs`` on its own. ``stack(..., event_types="sum")`` also sums
them into one (counts, background and exposure summed, PSF and edisp exposure-weighted, the
livetime unchanged: the event types share it). Datasets to stack must carry the same event
types.

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
from astropy.coordinates import SkyCoord

from xgamma import sky
from xgamma.errors import GeometryError
from xgamma.obs import GTI_ATTRS, OBS_META, check_same_geometry, concat_obs, stacked_gti, to_obs
from xgamma.reduction.spectrum import contributing, stack_onoff, stack_spectra

__all__ = ["stack", "stack_obs", "stack_pair", "concat_obs", "OBS_META", "EVENT_TYPE_MODES"]

#: Values of ``stack(..., event_types=...)``: keep event types apart, or sum them.
EVENT_TYPE_MODES = ("keep", "sum")


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


def _coarse_index_hpx(ds: xr.Dataset) -> tuple[np.ndarray, np.ndarray]:
    """Position in ``pix`` of the HEALPix pixel of each coarse pixel centre, and whether the
    dataset has that pixel."""
    frame = sky.frame_of(ds)
    lname, bname = ("ra", "dec") if frame == "icrs" else ("glon", "glat")
    lon = np.asarray(ds.coords[lname + "_irf"].values, dtype=float)
    lat = np.asarray(ds.coords[bname + "_irf"].values, dtype=float)
    hp = np.asarray(sky.sky_to_pix(ds, SkyCoord(lon, lat, unit="deg", frame=frame)), dtype=np.int64)
    pix = np.asarray(ds["pix"].values, dtype=np.int64)
    srt = np.argsort(pix, kind="stable")
    pos = np.clip(np.searchsorted(pix[srt], hp), 0, max(pix.size - 1, 0))
    ok = pix[srt][pos] == hp if pix.size else np.zeros(hp.shape, bool)
    return np.where(ok, srt[pos], 0), ok


def stack_obs(ds: xr.Dataset, name: str, dim: str = "obs") -> xr.Dataset:
    """Stack a map or 1D dataset with an ``obs`` dim: the sums of :func:`stack` (not for
    ON/OFF spectra), the result named ``name``. Observations without a safe bin contribute
    nothing and are left out first (logged): ``livetime``, ``ontime`` and ``obs_id`` count the
    contributing ones only (:func:`xgamma.reduction.spectrum.contributing`; a
    :class:`~xgamma.errors.ReductionError` when none contributes). With ``dim="event_type"`` the
    same sums run over event types (livetime, ontime and ``obs_id`` are then kept as they are).

    Examples
    --------
    >>> from xgamma import testing
    >>> a = testing.make_map_dataset(np.ones((2, 3, 3)), 0.5).assign_attrs(obs_id=1, livetime=10.0)
    >>> b = a.assign_attrs(obs_id=2, livetime=20.0)
    >>> b["mask_safe"] = b.mask_safe & False   # nothing of b is safe: it adds no counts, no livetime
    >>> st = stack_obs(concat_obs([a, b]), "ab")
    >>> float(st.counts.sum()), st.attrs["obs_id"], st.attrs["livetime"], st.attrs["name"]
    (18.0, [1], 10.0, 'ab')
    """
    if dim == "obs" and "mask_safe" in ds:  # only observations with a safe bin count
        ds = contributing(ds)  # type: ignore[assignment]
    m = ds["mask_safe"].astype(bool)
    out = xr.Dataset(coords={k: v for k, v in ds.coords.items() if dim not in v.dims})
    for var in ("counts", "background"):
        if var in ds:
            out[var] = ds[var].where(m, 0.0).sum(dim).assign_attrs(ds[var].attrs)
    img = m.any("energy") if "energy" in m.dims else m
    if "exposure" in ds:
        out["exposure"] = ds["exposure"].where(img, 0.0).sum(dim).assign_attrs(
            ds["exposure"].attrs)
    if "y_irf" in ds.dims:
        if "pix" in ds.dims:  # HEALPix: the pixel of each coarse pixel centre
            ip, ok = _coarse_index_hpx(ds)
            m_irf = img.isel(pix=xr.DataArray(ip, dims=("y_irf", "x_irf"))) & xr.DataArray(ok, dims=("y_irf", "x_irf"))
        else:
            iy, ix, ok = _coarse_index(ds)
            m_irf = img.isel(y=xr.DataArray(iy, dims=("y_irf", "x_irf")),
                             x=xr.DataArray(ix, dims=("y_irf", "x_irf"))) & xr.DataArray(
                ok, dims=("y_irf", "x_irf"))
        m_irf = m_irf.drop_vars([c for c in m_irf.coords if c not in m_irf.dims and
                                 c not in (dim,)], errors="ignore")
        if "exposure_irf" in ds:
            w = ds["exposure_irf"].where(m_irf, 0.0)
        else:
            w = m_irf.astype(float)
        wsum = w.sum(dim)
        if "exposure_irf" in ds:
            out["exposure_irf"] = wsum.assign_attrs(ds["exposure_irf"].attrs)
    elif "exposure_irf" in ds or "exposure" in ds:  # 1D: IRFs at the region centre
        wvar = "exposure_irf" if "exposure_irf" in ds else "exposure"
        w = ds[wvar].where(img, 0.0)
        wsum = w.sum(dim)
        if wvar == "exposure_irf":
            out["exposure_irf"] = wsum.assign_attrs(ds["exposure_irf"].attrs)
    else:
        w = img.astype(float)
        wsum = w.sum(dim)
    for var in ("psf", "edisp"):
        if var in ds:
            num = (ds[var] * w).sum(dim)
            dims = [d for d in ds[var].dims if d != dim]
            out[var] = xr.where(wsum > 0, num / wsum.where(wsum > 0), 0.0).transpose(
                *dims).assign_attrs(ds[var].attrs)
    out["mask_safe"] = m.any(dim)
    if "mask_fit" in ds:
        out["mask_fit"] = ds["mask_fit"].astype(bool).any(dim)
    if dim != "obs":  # event types share the observations' livetime and ids
        out.attrs = {**ds.attrs, "name": name}
    else:
        out.attrs = _stacked_attrs(ds, name)
    if "counts_off" in ds:  # ON/OFF maps (ring background): Gammapy's MapDatasetOnOff.stack
        onoff = stack_onoff(ds.rename({dim: "obs"}) if dim != "obs" else ds,
                            m.rename({dim: "obs"}) if dim != "obs" else m)
        out.update(onoff)
        with np.errstate(divide="ignore", invalid="ignore"):
            out["alpha"] = (onoff["acceptance"] / onoff["acceptance_off"]).fillna(0.0).assign_attrs(units="")
    order = [v for v in ("counts", "exposure", "background", "counts_off", "acceptance", "acceptance_off",
                         "alpha", "psf", "edisp", "exposure_irf", "mask_safe", "mask_fit") if v in out]
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
    if "counts_off" in dss[0] or "pix" in dss[0].dims or "event_type" in dss[0].dims:
        # ON/OFF maps, HEALPix and event types take the concatenating path
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
    attrs = {k: v for k, v in ds.attrs.items() if k not in OBS_META and k not in GTI_ATTRS}
    ids = ds["obs"].values.tolist()
    attrs["obs_id"] = [i for i in ids]
    attrs["name"] = name
    for key in ("livetime", "ontime"):
        if key in ds.coords:
            attrs[key] = float(ds.coords[key].sum())
    attrs.update(stacked_gti(ds))
    return attrs



def _event_types(ds: xr.Dataset) -> list[Any] | None:
    return ds["event_type"].values.tolist() if "event_type" in ds.dims else None


def _check_event_types(dss: Sequence[xr.Dataset]) -> None:
    """One-line GeometryError naming the event types of the first dataset that differs."""
    ref = _event_types(dss[0])
    for i, d in enumerate(dss[1:], start=1):
        et = _event_types(d)
        if et != ref:
            n0, n1 = dss[0].attrs.get("name", 0), d.attrs.get("name", i)
            raise GeometryError(f"datasets to stack have different event types: {ref} ({n0!r}) vs {et} "
                                f"({n1!r}); stack each event type on its own or select common ones")


def stack(datasets: xr.Dataset | Sequence[xr.Dataset], name: str = "stacked",
          event_types: str = "keep") -> xr.Dataset:
    """Stack observations: sum over ``obs`` (or a list) with each observation's mask applied.

    Counts and background are summed where each observation's ``mask_safe`` is True;
    exposure is summed where its spatial mask (any energy) is True; PSF and edisp are
    averaged with the weights ``exposure_irf`` (inside the mask); ``mask_safe`` is the OR of
    the masks; livetime and ontime are summed and ``obs_id`` lists the observations, counting
    only those that contribute (any ``mask_safe`` bin True; the others, e.g. all outside
    ``offset_max`` or fully excluded, are left out and logged). So the stacked counts,
    background and excess in the stacked mask equal the sums over the observations. ON/OFF spectra (with ``counts_off``) are stacked by
    :func:`xgamma.spectrum.stack_spectra`; ON/OFF maps (ring background, per observation)
    get ``counts_off`` and ``acceptance`` summed and ``acceptance_off`` set so that the stacked
    ``alpha`` is the OFF-count weighted mean of the alphas (Gammapy's ``MapDatasetOnOff.stack``;
    the stacked ``background = alpha * counts_off`` is the sum of the observations'). Works
    lazily on dask-backed data.

    Parameters
    ----------
    datasets : Dataset with an ``obs`` dim, or a list of datasets of one geometry
    name : str
        Name of the stacked dataset.
    event_types : {"keep", "sum"}
        Datasets with an ``event_type`` dim: ``"keep"`` (default) stacks each event type over
        ``obs`` on its own, the result keeps the dim; ``"sum"`` then also sums the event types
        (as :func:`stack_obs` over ``event_type``; the livetime stays that of the
        observations). The datasets must carry the same event types.

    Raises
    ------
    GeometryError
        When the datasets differ in geometry or in their event types (named).
    ReductionError
        When no observation has a safe bin (their ids named).

    Examples
    --------
    >>> import xgamma as xg
    >>> from xgamma import testing
    >>> g = testing.make_wcs_geom(width=2.0, binsz=0.2)
    >>> dss = [xg.reduce(testing.make_observation(obs_id=i, seed=i, n_events=200), g) for i in (1, 2)]
    >>> st = stack(dss)
    >>> st.attrs["obs_id"], float(st.counts.sum()) == sum(float((d.counts * d.mask_safe).sum()) for d in dss)
    ([1, 2], True)
    >>> two = xr.concat([dss[0], dss[0]], dim="event_type").assign_coords(event_type=[1, 2])
    >>> kept, summed = stack([two]), stack([two], event_types="sum")
    >>> kept.sizes["event_type"], "event_type" in summed.dims
    (2, False)
    >>> bool(summed.counts.sum() == 2 * (dss[0].counts * dss[0].mask_safe).sum())
    True
    """
    if event_types not in EVENT_TYPE_MODES:
        raise ValueError(f"event_types must be one of {EVENT_TYPE_MODES}, got {event_types!r}")
    if isinstance(datasets, xr.Dataset):
        ds = datasets if "obs" in datasets.dims else to_obs(datasets)
    else:
        dss = list(datasets)
        if not dss:
            raise ValueError("nothing to stack")
        _check_event_types(dss)
        if any("counts_off" in d for d in dss) and not any("y" in d.dims for d in dss):
            return stack_spectra(dss, name=name)
        # the in-place sum when every observation contributes; else stack_obs leaves some out
        eager = _stack_eager(dss, name) if all(_contributes(d) for d in dss) else None
        if eager is not None:
            return eager
        ds = concat_obs(dss)
    if "counts_off" in ds and "y" not in ds.dims:
        return stack_spectra(ds, name=name)
    out = stack_obs(ds, name)
    if event_types == "sum" and "event_type" in out.dims:
        out = stack_obs(out, name, dim="event_type")
    return out


def _ids(ds: xr.Dataset) -> list[Any]:
    ids = ds.attrs.get("obs_id")
    if "obs" in ds.dims:
        return list(ds["obs"].values.tolist())
    return list(ids) if isinstance(ids, list | tuple | np.ndarray) else [ids]


def stack_pair(a: xr.Dataset, b: xr.Dataset) -> xr.Dataset:
    """Stack two datasets (either may be a stack already); ``obs_id`` lists the
    observations of both, so a running stack keeps all its ids. A dataset without a safe bin
    contributes nothing: it is left out, its ids, livetime and ontime with it. When neither
    contributes, the result is an empty stack (``mask_safe`` all False, ``obs_id`` ``[]``,
    zero livetime and ontime) that the next pair leaves out in turn, so a pairwise tree
    (``reduce_many(stack=True)``) needs to check only its final result.

    Examples
    --------
    >>> from xgamma import testing
    >>> a = testing.make_map_dataset(np.ones((2, 3, 3)), 0.5).assign_attrs(obs_id=1, livetime=10.0)
    >>> ab = stack_pair(a, a.assign_attrs(obs_id=2))
    >>> ab.attrs["obs_id"], float(ab.counts.sum())
    ([1, 2], 36.0)
    >>> stack_pair(ab, a.assign_attrs(obs_id=3)).attrs["obs_id"]
    [1, 2, 3]
    >>> none = a.assign_attrs(obs_id=4, livetime=99.0).assign(mask_safe=a.mask_safe & False)
    >>> abn = stack_pair(ab, none)
    >>> abn.attrs["obs_id"], abn.attrs["livetime"]
    ([1, 2], 20.0)
    """
    keep = [d for d in (a, b) if _contributes(d)]
    if not keep:
        attrs = {**a.attrs, "obs_id": []}
        attrs.update({k: 0.0 for k in ("livetime", "ontime") if k in a.attrs or k in b.attrs})
        return a.assign_attrs(attrs)
    out = stack(keep)
    out.attrs["obs_id"] = [i for d in keep for i in _ids(d)]
    return out


def _contributes(ds: xr.Dataset) -> bool:
    """Whether a dataset has a safe bin (or no ``mask_safe``): whether it adds to a stack."""
    return "mask_safe" not in ds or bool(ds["mask_safe"].astype(bool).any())
