"""Reduced map datasets (DL4) in the FITS layout of Gammapy's ``MapDataset``.

One file holds one dataset (no ``obs`` dim: stack first, or write one file per observation):

=====================  =========================================================================
HDU                    content
=====================  =========================================================================
``PRIMARY``            header ``NAME``
``COUNTS``             image ``(energy, y, x)`` with the WCS, ``BANDSHDU = 'COUNTS_BANDS'``
``COUNTS_BANDS``       bin table ``CHANNEL, ENERGY, E_MIN, E_MAX`` (header ``AXCOLS1``/``INTERP1``)
``EXPOSURE``           ``(energy_true, y, x)``, ``BUNIT``, ``META`` (JSON, livetime)
``BACKGROUND``         ``(energy, y, x)``
``EDISP``              kernel, axes ``[energy, energy_true]`` on the coarse IRF grid
``EDISP_EXPOSURE``     its exposure, axes ``[energy (one bin), energy_true]``
``PSF``                ``sr-1``, axes ``[rad, energy_true]`` on the coarse IRF grid
``PSF_EXPOSURE``       its exposure, axes ``[rad (one bin), energy_true]``
``MASK_SAFE``          ``(energy, y, x)`` as integers; ``MASK_FIT`` likewise
``GTI``                ``START, STOP`` [s] since ``MJDREFI + MJDREFF``, one row per interval
``META_TABLE``         ``OBS_ID, RA_PNT, DEC_PNT, LIVETIME, ONTIME`` per observation
=====================  =========================================================================

A stacked dataset writes the union of its runs' GTIs (attrs ``gti_start``/``gti_stop``), one row
per interval, as Gammapy does; several rows read back as those attrs (sorted, overlaps merged).

On a HEALPix geometry (sky dim ``pix``) ``COUNTS``, ``EXPOSURE``, ``BACKGROUND`` and the masks are
GADF HEALPix tables (:mod:`xgamma.io.healpix`: ``PIXTYPE = 'HEALPIX'``, ``IMPLICIT`` all-sky or
``EXPLICIT`` with a ``PIX`` column); ``PSF`` and ``EDISP`` stay images on their coarse WCS grid.

A dataset with an ``event_type`` dim (e.g. :func:`xgamma.reduction.hawc.reduce_hawc_event_types`)
goes into one file with one set of HDUs per event type: the HDUs above (but ``PRIMARY``, ``GTI``
and ``META_TABLE``, which are shared) of the ``i``-th event type are named ``<HDU>_ET<i>``
(``COUNTS_ET0``, ``COUNTS_BANDS_ET0``, ``PSF_ET1``, ...; header ``EVTYPE`` = the event type's
value), and the ``PRIMARY`` header card ``EVTYPES`` holds a JSON record of the event-type values,
the coords along ``event_type``, each variable's dims and the other dataset attrs, so that
:func:`read_dl4` returns the same dataset.

Each map HDU has a ``*_BANDS`` table describing its non-spatial axes: one row per combination
of bins (first axis fastest) with columns ``<AXIS>``, ``<AXIS>_MIN``, ``<AXIS>_MAX`` (``ENERGY``
uses ``E_MIN``/``E_MAX``) and header cards ``AXCOLS<i>`` and ``INTERP<i>``. Reading also accepts
older Gammapy files (a ``THETA`` axis in rad, energies in GeV, an exposure with an ``energy``
axis, PSF and edisp on different coarse grids: the edisp grid is then ``y_edisp``/``x_edisp``).

Examples
--------
>>> import os, tempfile, xgamma as xg
>>> from xgamma import testing
>>> ds = xg.reduce(testing.make_observation(n_events=200), testing.make_wcs_geom(width=1.0, binsz=0.2))
>>> path = os.path.join(tempfile.mkdtemp(), "dataset.fits")
>>> write_dl4(ds, path)
>>> back = read_dl4(path)
>>> bool((back.counts == ds.counts).all()), back.attrs["obs_id"]
(True, 1)
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import astropy.units as u
import numpy as np
import xarray as xr
from astropy.io import fits
from astropy.wcs import WCS, FITSFixedWarning

from xgamma import sky
from xgamma.axes import axis_from_edges, edges
from xgamma.conventions import validate
from xgamma.errors import ConventionError, XgammaIOError
from xgamma.io.healpix import healpix_hdus, is_healpix_hdu, read_healpix_hdu
from xgamma.obs import gti_table, merge_gti

__all__ = ["write_dl4", "read_dl4", "to_hdulist", "from_hdulist"]

_AXIS_UNIT = {"energy": "TeV", "energy_true": "TeV", "rad": "deg", "migra": ""}


# ----------------------------------------------------------------------------- writing
def _colnames(dim: str) -> tuple[str, str, str]:
    if dim == "energy":
        return "ENERGY", "E_MIN", "E_MAX"
    name = dim.upper()
    return name, f"{name}_MIN", f"{name}_MAX"


def _axis_arrays(obj: xr.DataArray | xr.Dataset, dim: str) -> tuple[np.ndarray, np.ndarray,
                                                                     np.ndarray, str, str]:
    lo = np.asarray(obj.coords[f"{dim}_min"].values, dtype=float)
    hi = np.asarray(obj.coords[f"{dim}_max"].values, dtype=float)
    c = np.asarray(obj.coords[dim].values, dtype=float)
    unit = str(obj.coords[f"{dim}_min"].attrs.get("units", _AXIS_UNIT.get(dim, "")))
    interp = str(obj.coords[dim].attrs.get("interp", "log" if dim.startswith("energy") else "lin"))
    return c, lo, hi, unit, interp


def _bands_hdu(axes: list[tuple[str, np.ndarray, np.ndarray, np.ndarray, str, str]],
               name: str) -> fits.BinTableHDU:
    grids = [np.meshgrid(*[a[k] for a in axes]) for k in (1, 2, 3)]  # centre, min, max
    n = int(np.prod([a[1].size for a in axes]))
    cols = [fits.Column("CHANNEL", "J", array=np.arange(n, dtype=np.int32))]
    header = fits.Header()
    for i, (dim, _c, _lo, _hi, unit, interp) in enumerate(axes):
        names = _colnames(dim)
        for cname, grid in zip(names, grids, strict=True):
            cols.append(fits.Column(cname, "D", unit=unit or None, array=np.ravel(grid[i])))
        header[f"AXCOLS{i + 1}"] = f"{names[1]},{names[2]}"
        header[f"INTERP{i + 1}"] = interp
    hdu = fits.BinTableHDU.from_columns(cols, header=header, name=name)
    return hdu


def _image_hdu(data: np.ndarray, wcs: WCS, axes: list[Any], name: str, unit: str,
               meta: dict[str, Any] | None = None) -> list[fits.hdu.base.ExtensionHDU]:
    header = wcs.to_header()
    for i, (dim, *_rest) in enumerate(axes):
        names = _colnames(dim)
        header[f"AXCOLS{i + 1}"] = f"{names[1]},{names[2]}"
        header[f"INTERP{i + 1}"] = _rest[-1]
    shape = data.shape[::-1]
    header["WCSSHAPE"] = "(" + ",".join(str(s) for s in shape) + ")"
    header["BANDSHDU"] = f"{name}_BANDS"
    header["META"] = json.dumps(meta or {})
    header["BUNIT"] = unit
    img = fits.ImageHDU(data=np.ascontiguousarray(data), header=header, name=name)
    return [img, _bands_hdu(axes, f"{name}_BANDS")]


def _table_map_hdu(data: np.ndarray, axes: list[Any], name: str, unit: str) -> list[fits.BinTableHDU]:
    """A map without sky pixels in table form: ``CHANNEL, DATA`` rows, first axis fastest."""
    flat = np.asarray(data, dtype=float).ravel()
    cols = [fits.Column("CHANNEL", "K", array=np.arange(flat.size)),
            fits.Column("DATA", "D", unit=unit or None, array=flat)]
    hdu = fits.BinTableHDU.from_columns(cols, name=name)
    for i, (dim, *_rest) in enumerate(axes):
        names = _colnames(dim)
        hdu.header[f"AXCOLS{i + 1}"] = f"{names[1]},{names[2]}"
        hdu.header[f"INTERP{i + 1}"] = _rest[-1]
    hdu.header["BANDSHDU"] = f"{name}_BANDS"
    return [hdu, _bands_hdu(axes, f"{name}_BANDS")]


def _wcs_grid(ds: xr.Dataset, suffix: str) -> WCS:
    """WCS of a coarse grid (``attrs["wcs" + suffix]``) shifted to its own pixel coords."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        w = WCS(fits.Header.fromstring(ds.attrs[f"wcs{suffix}"]))
    x0 = int(ds[f"x{suffix}"].values[0]) if f"x{suffix}" in ds.coords else 0
    y0 = int(ds[f"y{suffix}"].values[0]) if f"y{suffix}" in ds.coords else 0
    w.wcs.crpix = np.asarray(w.wcs.crpix) - np.array([x0, y0], dtype=float)
    return w


def _canonical(dim: str) -> str:
    for s in ("_psf", "_edisp"):
        if dim.endswith(s):
            return dim[: -len(s)]
    return dim


def _meta_table(ds: xr.Dataset) -> fits.BinTableHDU:
    ids = ds.attrs.get("obs_id")
    ids = list(ids) if isinstance(ids, list | tuple | np.ndarray) else [ids]
    n = len(ids)

    def col(key: str) -> np.ndarray:
        v = ds.attrs.get(key)
        if n == 1 and v is not None and np.ndim(v) == 0:
            return np.array([float(v)])
        return np.full(n, np.nan)

    cols = [
        fits.Column("OBS_ID", "K", array=np.array([int(i) if i is not None else -1 for i in ids])),
        fits.Column("RA_PNT", "D", unit="deg", array=col("pointing_ra")),
        fits.Column("DEC_PNT", "D", unit="deg", array=col("pointing_dec")),
        fits.Column("LIVETIME", "D", unit="s", array=col("livetime")),
        fits.Column("ONTIME", "D", unit="s", array=col("ontime")),
    ]
    hdu = fits.BinTableHDU.from_columns(cols, name="META_TABLE")
    if ds.attrs.get("instrument"):
        hdu.header["TELESCOP"] = str(ds.attrs["instrument"])
    return hdu


def _squashed(ds: xr.Dataset, dim: str) -> tuple[str, np.ndarray, np.ndarray, np.ndarray, str, str]:
    c, lo, hi, unit, interp = _axis_arrays(ds, dim)
    a, b = lo[:1], hi[-1:]
    centre = np.sqrt(a * b) if interp == "log" and a[0] > 0 else 0.5 * (a + b)
    return dim, centre, a, b, unit, interp


def to_hdulist(dataset: xr.Dataset) -> fits.HDUList:
    """The dataset as a FITS ``HDUList`` in the Gammapy ``MapDataset`` layout.

    Examples
    --------
    >>> import xgamma as xg
    >>> from xgamma import testing
    >>> ds = xg.reduce(testing.make_observation(n_events=50), testing.make_wcs_geom(width=1.0, binsz=0.5))
    >>> [h.name for h in to_hdulist(ds)][:4]
    ['PRIMARY', 'COUNTS', 'COUNTS_BANDS', 'EXPOSURE']
    """
    if "obs" in dataset.dims:
        raise ValueError("one DL4 file holds one dataset: stack the observations (xg.stack) "
                         "or write one file per observation")
    if _EVT in dataset.dims:
        return _event_type_hdulist(dataset)
    kind = sky.geom_kind(dataset)
    if kind not in ("wcs", "healpix"):
        raise ValueError("write_dl4 writes WCS or HEALPix map datasets (1D spectra: xgamma.io.ogip)")
    primary = fits.PrimaryHDU()
    primary.header["NAME"] = str(dataset.attrs.get("name", ""))
    hdus: list[Any] = [primary]
    wcs = sky.wcs_of(dataset) if kind == "wcs" else None
    ax = {d: (d, *_axis_arrays(dataset, d)) for d in ("energy", "energy_true", "rad")
          if d in dataset.coords and f"{d}_min" in dataset.coords}

    def img(var: str, axes: list[str], name: str, meta: dict[str, Any] | None = None) -> None:
        da = dataset[var]
        if wcs is None:  # HEALPix: the GADF HEALPix table (xgamma.io.healpix)
            hdus.extend(healpix_hdus(da.transpose(*axes, "pix"), name, {"META": json.dumps(meta or {})}))
            return
        data = da.transpose(*axes[::-1], "y", "x").values
        if data.dtype == bool:
            data = data.astype(np.uint8)
        hdus.extend(_image_hdu(data, wcs, [ax[a] for a in axes], name,
                               str(da.attrs.get("units", "")), meta))

    if "counts" in dataset:
        img("counts", ["energy"], "COUNTS")
    if "exposure" in dataset:
        img("exposure", ["energy_true"], "EXPOSURE", {"livetime": f"{dataset.attrs.get('livetime', 0.0)!r} s"})
    if "background" in dataset:
        meta = {}
        for key in ("fov_bkg_norm", "fov_bkg_tilt"):
            if key in dataset and dataset[key].ndim == 0:
                meta[key] = float(dataset[key])
        img("background", ["energy"], "BACKGROUND", meta)
    for var, name, squash in (("edisp", "EDISP", "energy"), ("psf", "PSF", "rad")):
        if var not in dataset:
            continue
        da = dataset[var]
        if not str(da.dims[-1]).startswith("x"):  # no sky dims: the table form (Fermi-LAT)
            adims = [str(d) for d in da.dims][::-1]
            axes = [(_canonical(d), *_axis_arrays(dataset, d)) for d in adims]
            hdus.extend(_table_map_hdu(da.values, axes, name, str(da.attrs.get("units", ""))))
            exp_irf = dataset["exposure_irf"] if "exposure_irf" in dataset else None
            if exp_irf is not None and exp_irf.dims == (adims[-1],):
                sq = _squashed(dataset, next(d for d in adims if _canonical(d) == squash))
                hdus.extend(_table_map_hdu(exp_irf.values[:, None], [(squash, *sq[1:]), axes[-1]],
                                           f"{name}_EXPOSURE", str(exp_irf.attrs.get("units", ""))))
            continue
        ydim, xdim = str(da.dims[-2]), str(da.dims[-1])
        suffix = ydim[1:]
        wirf = _wcs_grid(dataset, suffix)
        adims = [str(d) for d in da.dims[:-2]][::-1]  # FITS order: fastest axis first
        axes = [(_canonical(d), *_axis_arrays(dataset, d)) for d in adims]
        hdus.extend(_image_hdu(da.values, wirf, axes, name, str(da.attrs.get("units", ""))))
        exp_irf = dataset["exposure_irf"] if "exposure_irf" in dataset else None
        if exp_irf is not None and exp_irf.dims == (adims[-1], ydim, xdim):
            sq = _squashed(dataset, next(d for d in adims if _canonical(d) == squash))
            d = exp_irf.values[:, None]
            hdus.extend(_image_hdu(d, wirf, [(squash, *sq[1:]), axes[-1]], f"{name}_EXPOSURE",
                                   str(exp_irf.attrs.get("units", ""))))
    if "mask_safe" in dataset:
        img("mask_safe", ["energy"], "MASK_SAFE")
    if "mask_fit" in dataset:
        img("mask_fit", ["energy"], "MASK_FIT")
    a = dataset.attrs
    table = gti_table(dataset)  # a stack's list of GTIs (the union of its runs'), else tstart/tstop
    if table is not None:
        gti = fits.BinTableHDU.from_columns(
            [fits.Column("START", "D", unit="s", array=table[0]),
             fits.Column("STOP", "D", unit="s", array=table[1])],
            name="GTI")
        mjd = float(a.get("mjdref", 0.0))
        gti.header["MJDREFI"] = int(np.floor(mjd))
        gti.header["MJDREFF"] = mjd - np.floor(mjd)
        gti.header["TIMESYS"] = "TT"
        gti.header["TIMEUNIT"] = "s"
        hdus.append(gti)
    hdus.append(_meta_table(dataset))
    return fits.HDUList(hdus)


_EVT = "event_type"
_SHARED = ("PRIMARY", "GTI", "META_TABLE")
#: attrs that the HDUs themselves carry back (not repeated in the ``EVTYPES`` record)
_HDU_ATTRS = ("geom", "frame", "nside", "order", "wcs", "wcs_irf", "wcs_psf", "wcs_edisp")


def _json_value(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    return v


def _event_type_hdulist(dataset: xr.Dataset) -> fits.HDUList:
    """One set of HDUs per event type (suffix ``_ET<i>``), shared PRIMARY/GTI/META_TABLE."""
    n = dataset.sizes[_EVT]
    values = [_json_value(v) for v in dataset[_EVT].values]
    record: dict[str, Any] = {
        "values": values,
        "coords": {str(k): [_json_value(v) for v in c.values] for k, c in dataset.coords.items()
                   if k != _EVT and c.dims == (_EVT,)},
        "dims": {str(k): [str(d) for d in v.dims] for k, v in dataset.data_vars.items()},
        "attrs": {str(k): _json_value(v) for k, v in dataset.attrs.items() if k not in _HDU_ATTRS},
    }
    out: list[Any] = []
    for i in range(n):
        sub = to_hdulist(dataset.isel({_EVT: i}, drop=True))
        for h in sub:
            if h.name in _SHARED:
                if i == 0:
                    out.append(h)
                continue
            h.name = f"{h.name}_ET{i}"
            if "BANDSHDU" in h.header:
                h.header["BANDSHDU"] = f"{h.header['BANDSHDU']}_ET{i}"
            h.header["EVTYPE"] = str(values[i])
            out.append(h)
    out[0].header["EVTYPES"] = json.dumps(record)
    return fits.HDUList(out)


def _from_event_type_hdulist(hdul: fits.HDUList, path: Any) -> xr.Dataset:
    try:
        record = json.loads(hdul[0].header["EVTYPES"])
        values = list(record["values"])
    except (ValueError, KeyError, TypeError) as exc:
        raise XgammaIOError(f"unreadable EVTYPES record ({exc})", path=path, hdu="PRIMARY") from exc
    primary = fits.PrimaryHDU(header=hdul[0].header.copy())
    del primary.header["EVTYPES"]
    shared = [primary] + [h for h in hdul if h.name in _SHARED and h.name != "PRIMARY"]
    subs = []
    for i in range(len(values)):
        suffix = f"_ET{i}"
        hdus = list(shared)
        for h in hdul:
            if not h.name.endswith(suffix):
                continue
            header = h.header.copy()
            header["EXTNAME"] = h.name[: -len(suffix)]
            if str(header.get("BANDSHDU", "")).endswith(suffix):
                header["BANDSHDU"] = str(header["BANDSHDU"])[: -len(suffix)]
            hdus.append(type(h)(data=h.data, header=header))
        if len(hdus) == len(shared):
            raise XgammaIOError(f"no HDUs of event type {values[i]!r}", path=path,
                                expected=f"HDUs named <NAME>{suffix}")
        subs.append(from_hdulist(fits.HDUList(hdus), path))
    dims = {str(k): tuple(v) for k, v in record.get("dims", {}).items()}
    per_type = [v for v in subs[0].data_vars if _EVT in dims.get(str(v), (_EVT,))]
    ds = xr.concat([d[per_type] for d in subs], dim=_EVT, coords="minimal", compat="override",
                   combine_attrs="override")
    ds = ds.merge(subs[0][[v for v in subs[0].data_vars if v not in per_type]])
    ds = ds.assign_coords({_EVT: (_EVT, np.asarray(values))})
    ds = ds.assign_coords({k: (_EVT, np.asarray(v)) for k, v in record.get("coords", {}).items()})
    for v in ds.data_vars:
        ds[v].attrs = dict(subs[0][v].attrs)
        if str(v) in dims and set(dims[str(v)]) == set(ds[v].dims):
            ds[v] = ds[v].transpose(*dims[str(v)])
    ds.attrs.update(record.get("attrs", {}))
    return ds


def write_dl4(dataset: xr.Dataset, path: str | Path, overwrite: bool = True) -> None:
    """Write a reduced map dataset to a FITS file (Gammapy ``MapDataset`` layout).

    Examples
    --------
    >>> import os, tempfile, xgamma as xg
    >>> from xgamma import testing
    >>> ds = xg.reduce(testing.make_observation(n_events=50), testing.make_wcs_geom(width=1.0, binsz=0.5))
    >>> write_dl4(ds, os.path.join(tempfile.mkdtemp(), "d.fits"))
    """
    to_hdulist(dataset).writeto(str(path), overwrite=overwrite)


# ----------------------------------------------------------------------------- reading
_NAMES = {"E": "energy", "ENERGY": "energy", "ENERGY_TRUE": "energy_true", "THETA": "rad",
          "RAD": "rad", "MIGRA": "migra"}


def _to_unit(values: np.ndarray, unit: str | None, dim: str) -> tuple[np.ndarray, str]:
    target = _AXIS_UNIT.get(dim)
    if not unit or target is None:
        return values, unit or (target or "")
    return values * u.Unit(unit).to(target), target


def _read_axes(bands: fits.BinTableHDU, header: fits.Header, path: Any) -> list[xr.DataArray]:
    """Axes of a map from its bands table (``AXCOLS<i>``; first axis varies fastest)."""
    data = bands.data
    specs = []
    i = 1
    while f"AXCOLS{i}" in bands.header or f"AXCOLS{i}" in header:
        cols = str(bands.header.get(f"AXCOLS{i}", header.get(f"AXCOLS{i}"))).split(",")
        interp = str(bands.header.get(f"INTERP{i}", header.get(f"INTERP{i}", "lin"))).strip()
        first = cols[0].strip().upper()
        base = first[:-4] if first.endswith("_MIN") else first
        dim = _NAMES.get(base, base.lower())
        lo_name, hi_name = ("E_MIN", "E_MAX") if base in ("E", "ENERGY") else \
            (f"{base}_MIN", f"{base}_MAX")
        if lo_name not in data.names or hi_name not in data.names:
            raise XgammaIOError(f"bands table lacks {lo_name}/{hi_name}", path=path,
                                hdu=bands.name, expected=f"columns {lo_name}, {hi_name}")
        lo = np.asarray(data[lo_name], dtype=float)
        hi = np.asarray(data[hi_name], dtype=float)
        specs.append((dim, lo, hi, bands.columns[lo_name].unit,
                      interp if interp in ("log", "lin") else "lin"))
        i += 1
    sizes = [np.unique(np.stack([lo, hi], 1), axis=0).shape[0] for _d, lo, hi, _u, _i in specs]
    axes = []
    for k, (dim, lo, hi, unit, interp) in enumerate(specs):
        idx: list[Any] = [0] * len(sizes)
        idx[len(sizes) - 1 - k] = slice(None)
        lo1 = lo.reshape(sizes[::-1])[tuple(idx)]
        hi1 = hi.reshape(sizes[::-1])[tuple(idx)]
        lo1, unit_out = _to_unit(lo1, unit, dim)
        hi1, _ = _to_unit(hi1, unit, dim)
        if dim == "rad" and lo1[0] < 0:  # node-type rad axis: first edge below 0
            lo1 = lo1.copy()
            lo1[0] = 0.0
        axes.append(axis_from_edges(np.append(lo1, hi1[-1]), dim, unit=unit_out,
                                    interp=interp if lo1[0] > 0 or interp == "lin" else "lin"))
    return axes


def _read_map(hdul: fits.HDUList, name: str, path: Any) -> tuple[np.ndarray, WCS | None, list[xr.DataArray],
                                                                  fits.Header]:
    hdu = hdul[name]
    header = hdu.header
    bands_name = header.get("BANDSHDU", f"{name}_BANDS")
    if bands_name not in hdul:
        raise XgammaIOError("missing bands table", path=path, hdu=bands_name,
                            expected=f"a {bands_name} HDU describing the axes of {name}")
    axes = _read_axes(hdul[bands_name], header, path)
    if isinstance(hdu, fits.BinTableHDU):
        # table form (a map without sky pixels, e.g. Fermi-LAT PSF/EDISP): one row per
        # CHANNEL, first axis fastest; there is no WCS to read (WCS() of a table header is
        # what failed in WCSLIB)
        if "DATA" not in hdu.columns.names:
            raise XgammaIOError("table-form map without a DATA column", path=path, hdu=name,
                                expected="columns CHANNEL, DATA")
        rows = np.asarray(hdu.data["DATA"], dtype=float)
        if "CHANNEL" in hdu.columns.names:
            rows = rows[np.argsort(np.asarray(hdu.data["CHANNEL"]), kind="stable")]
        shape = tuple(int(a.size) for a in axes[::-1])
        if rows.size != int(np.prod(shape)):
            raise XgammaIOError(f"table-form map has {rows.size} rows for axes of shape {shape}",
                                path=path, hdu=name)
        return rows.reshape(shape), None, axes, header
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        wcs = WCS(header).celestial
    data = np.asarray(hdu.data)
    return data, wcs, axes, header


def _read_hpx(hdul: fits.HDUList, name: str, path: Any) -> tuple[np.ndarray, list[xr.DataArray], fits.Header]:
    """A HEALPix map HDU as ``(values (axis, pix), [axis], header)``."""
    m = read_healpix_hdu(hdul, name, path)
    dims = [str(d) for d in m.dims if d != "pix"]
    if len(dims) != 1:
        raise XgammaIOError(f"HEALPix map with axes {dims}", path=path, hdu=name, expected="one energy axis")
    dim = dims[0]
    ax = axis_from_edges(edges(m, dim), dim, unit=str(m.coords[f"{dim}_min"].attrs.get("units", "")),
                         interp=str(m.coords[dim].attrs.get("interp", "log")))
    return np.asarray(m.transpose(dim, "pix").values), [ax], hdul[name].header


def _unit_factor(header: fits.Header, target: str) -> tuple[float, str]:
    bunit = str(header.get("BUNIT", "")).strip()
    if not bunit or not target:
        return 1.0, bunit or target
    try:
        return float(u.Unit(bunit).to(target)), target
    except (ValueError, u.UnitConversionError):
        return 1.0, bunit


def from_hdulist(hdul: fits.HDUList, path: Any = None) -> xr.Dataset:
    """Build the dataset from an ``HDUList`` in the MapDataset layout (see :func:`read_dl4`).

    Examples
    --------
    >>> import xgamma as xg
    >>> from xgamma import testing
    >>> ds = xg.reduce(testing.make_observation(n_events=50), testing.make_wcs_geom(width=1.0, binsz=0.5))
    >>> sorted(from_hdulist(to_hdulist(ds)).data_vars)[:3]
    ['background', 'counts', 'edisp']
    """
    if "EVTYPES" in hdul[0].header:  # one set of HDUs per event type
        return _from_event_type_hdulist(hdul, path)
    names = {h.name for h in hdul}
    main = next((n for n in ("COUNTS", "BACKGROUND", "EXPOSURE", "MASK_SAFE") if n in names), None)
    if main is None:
        raise XgammaIOError("no map HDU found", path=path, expected="COUNTS, EXPOSURE or BACKGROUND")
    hpx = is_healpix_hdu(hdul[main])
    if hpx:
        geom = sky.drop_axes(read_healpix_hdu(hdul, main, path))
    else:
        data, wcs, axes, _ = _read_map(hdul, main, path)
        if wcs is None:
            raise XgammaIOError("map HDU without sky pixels", path=path, hdu=main, expected="an image HDU")
        geom = sky.geom_from_wcs(wcs, data.shape[-2:])
    sdims = sky.sky_dims(geom)
    coords: dict[str, Any] = {str(k): v.variable for k, v in geom.coords.items()}
    out_vars: dict[str, Any] = {}
    attrs: dict[str, Any] = dict(geom.attrs)
    spec = {"COUNTS": ("counts", "energy", ""), "EXPOSURE": ("exposure", "energy_true", "cm2 s"),
            "BACKGROUND": ("background", "energy", ""), "MASK_SAFE": ("mask_safe", "energy", None),
            "MASK_FIT": ("mask_fit", "energy", None)}
    for hname, (var, dim, unit) in spec.items():
        if hname not in names:
            continue
        if hpx:
            d, axs, header = _read_hpx(hdul, hname, path)
        else:
            d, _w, axs, header = _read_map(hdul, hname, path)
        ax = axs[0]
        if hname == "EXPOSURE" and ax.dims[0] == "energy":
            ax = axis_from_edges(edges(ax), "energy_true", unit=ax.attrs["units"])
        coords.update({str(k): v.variable for k, v in ax.coords.items()})
        if unit is None:
            out_vars[var] = ((dim, *sdims), np.asarray(d).astype(bool), {})
            continue
        f, unit_out = _unit_factor(header, unit)
        vals = np.asarray(d, dtype=float) * f if f != 1.0 else np.asarray(d, dtype=float)
        out_vars[var] = ((ax.dims[0], *sdims), vals, {"units": unit_out})
        meta = json.loads(header.get("META", "{}") or "{}")
        if hname == "EXPOSURE" and "livetime" in meta:
            attrs["livetime"] = float(u.Quantity(meta["livetime"]).to_value("s"))
        if hname == "BACKGROUND":
            for key in ("fov_bkg_norm", "fov_bkg_tilt"):
                if key in meta:
                    out_vars[key] = ((), float(meta[key]), {"units": ""})
    irf_grid: tuple[WCS, tuple[int, ...]] | None = None
    for hname, var in (("PSF", "psf"), ("EDISP", "edisp")):
        if hname not in names:
            continue
        d, w, axs, header = _read_map(hdul, hname, path)
        suffix = "_irf"
        if w is None:  # table form: the same IRF everywhere, no sky dims
            ydim = xdim = ""
        elif irf_grid is None:
            irf_grid = (w, d.shape[-2:])
        elif not (w.wcs.compare(irf_grid[0].wcs, tolerance=1e-9) and d.shape[-2:] == irf_grid[1]):
            suffix = f"_{var}"
        if w is not None:
            ig = sky.geom_from_wcs(w, d.shape[-2:])
            lname, bname = ("ra", "dec") if ig.attrs["frame"] == "icrs" else ("glon", "glat")
            ydim, xdim = "y" + suffix, "x" + suffix
        if w is not None and ydim not in coords:
            coords[ydim] = (ydim, ig["y"].values)
            coords[xdim] = (xdim, ig["x"].values)
            coords[f"{lname}{suffix}"] = ((ydim, xdim), ig[lname].values, {"units": "deg"})
            coords[f"{bname}{suffix}"] = ((ydim, xdim), ig[bname].values, {"units": "deg"})
            attrs[f"wcs{suffix}"] = ig.attrs["wcs"]
        dims = []
        for a in axs:
            dim = str(a.dims[0])
            if dim in coords and f"{dim}_min" in coords:
                old = coords[f"{dim}_min"]
                old_v = np.asarray(getattr(old, "values", old[1] if isinstance(old, tuple) else old))
                same = old_v.shape == a[f"{dim}_min"].shape and np.allclose(
                    old_v, a[f"{dim}_min"].values, rtol=1e-6)
                if not same:
                    new = f"{dim}_{var}"
                    a = axis_from_edges(edges(a), new, unit=a.attrs["units"],
                                        interp=a.attrs["interp"])
                    dim = new
            if dim not in coords:
                coords.update({str(k): v.variable for k, v in a.coords.items()})
            dims.append(dim)
        if var == "edisp" and "migra" in dims:
            var = "edisp_migra"
        unit = "sr-1" if var == "psf" else ""
        f, unit_out = _unit_factor(header, unit)
        sky_dims = (ydim, xdim) if w is not None else ()
        out_vars[var] = ((*dims[::-1], *sky_dims), np.asarray(d, dtype=float) * f,
                         {"units": unit_out})
        ename = f"{hname}_EXPOSURE"
        if ename in names and "exposure_irf" not in out_vars and suffix == "_irf":
            de, _we, axe, he = _read_map(hdul, ename, path)
            fe, ue = _unit_factor(he, "cm2 s")
            out_vars["exposure_irf"] = ((dims[-1], *sky_dims),
                                        np.asarray(de, dtype=float)[:, 0] * fe, {"units": ue})
    ds = xr.Dataset(out_vars, coords=coords, attrs=attrs)
    prim = hdul[0].header
    ds.attrs["name"] = str(prim.get("NAME", "")) or ds.attrs.get("name", "")
    if "META_TABLE" in names:
        t = hdul["META_TABLE"].data
        ids = [int(i) for i in t["OBS_ID"]] if "OBS_ID" in t.names else []
        ds.attrs["obs_id"] = ids[0] if len(ids) == 1 else ids
        if len(ids) == 1:
            for col, key in (("RA_PNT", "pointing_ra"), ("DEC_PNT", "pointing_dec"),
                             ("LIVETIME", "livetime"), ("ONTIME", "ontime")):
                if col in t.names and np.isfinite(t[col][0]):
                    ds.attrs[key] = float(t[col][0])
        elif "LIVETIME" in t.names and np.isfinite(t["LIVETIME"]).all():
            ds.attrs["livetime"] = float(np.sum(t["LIVETIME"]))
        if "TELESCOP" in hdul["META_TABLE"].header:
            ds.attrs["instrument"] = str(hdul["META_TABLE"].header["TELESCOP"])
    if "GTI" in names and len(hdul["GTI"].data):
        g = hdul["GTI"]
        ds.attrs["tstart"] = float(np.min(g.data["START"]))
        ds.attrs["tstop"] = float(np.max(g.data["STOP"]))
        if len(g.data) > 1:  # a stack: the union of its runs' GTIs, the gaps not good time
            start, stop = merge_gti(g.data["START"], g.data["STOP"])
            ds.attrs["gti_start"], ds.attrs["gti_stop"] = start.tolist(), stop.tolist()
        ds.attrs["mjdref"] = float(g.header.get("MJDREFI", 0)) + float(g.header.get("MJDREFF", 0.0))
    order = [v for v in ("counts", "exposure", "background", "psf", "edisp", "edisp_migra",
                         "exposure_irf", "mask_safe", "mask_fit", "fov_bkg_norm", "fov_bkg_tilt")
             if v in ds]
    return ds[order]


def read_dl4(path: str | Path) -> xr.Dataset:
    """Read a reduced map dataset written by :func:`write_dl4` or by Gammapy (``MapDataset``).

    Units are converted to xgamma's internal ones (TeV, deg, cm2 s, sr-1); masks become bool.

    Raises
    ------
    XgammaIOError
        Missing file, no map HDU or a bands table without the expected columns.

    Examples
    --------
    >>> import xgamma as xg
    >>> d = xg.data_dir(required=False)
    >>> if d is not None:
    ...     ds = read_dl4(d / "fermi-3fhl-crab/Fermi-LAT-3FHL_data_Fermi-LAT.fits")
    ...     assert ds.counts.dims == ("energy", "y", "x")
    """
    p = Path(path)
    if not p.exists():
        raise XgammaIOError("file not found", path=p)
    with fits.open(p, memmap=False) as hdul:
        ds = from_hdulist(hdul, path=p)
    try:
        validate(ds, "dataset")
    except ConventionError as exc:
        raise XgammaIOError(str(exc), path=p) from exc
    return ds
