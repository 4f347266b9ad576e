"""1D datasets in the established tool's FITS layout (region maps as tables) and datasets YAML.

Gammapy writes a ``SpectrumDataset`` / ``SpectrumDatasetOnOff`` with ``format="gadf"`` as one
FITS file of region maps: for each quantity an HDU ``<NAME>`` (columns ``CHANNEL`` and ``DATA``,
``DATA`` shaped ``(..., 1, 1)`` with the first axis of the ``AXCOLS`` cards varying fastest), a
``<NAME>_BANDS`` table of the axes (``ENERGY, E_MIN, E_MAX`` for reconstructed energy,
``ENERGY_TRUE, ENERGY_TRUE_MIN, ENERGY_TRUE_MAX`` for true energy) and a ``<NAME>_REGION`` table
(the ON region in pixel coordinates of a small TAN WCS in its header). The quantities:

==================  =======================  =================================================
HDU                 axes                     xgamma variable
==================  =======================  =================================================
``COUNTS``          energy                   ``counts``
``EXPOSURE``        energy_true              ``exposure`` [m2 s on disk, cm2 s in xgamma]
``BACKGROUND``      energy                   ``background`` (not for ON/OFF)
``EDISP``           energy, energy_true      ``edisp`` (rows: true energy)
``EDISP_EXPOSURE``  one energy, energy_true  ``edisp_exposure`` (the kernel's stacking weight)
``MASK_SAFE``       energy                   ``mask_safe``
``MASK_FIT``        energy                   ``mask_fit``
``COUNTS_OFF``      energy                   ``counts_off``
``ACCEPTANCE``      energy                   ``acceptance``
``ACCEPTANCE_OFF``  energy                   ``acceptance_off``
==================  =======================  =================================================

plus ``GTI`` (``START``, ``STOP`` [s] since ``MJDREFI + MJDREFF``) and ``META_TABLE`` (one row,
vector columns ``TELESCOP``, ``OBS_ID``, ``OBS_MODE``, ``RA_PNT``, ``DEC_PNT``). The file holds no
livetime (the exposure includes it): reading sets ``livetime`` and ``ontime`` to the summed GTI.

A datasets YAML (``datasets: [{name, type, filename}]``) lists such files; :func:`read_datasets`
and :func:`write_datasets` read and write it.

Examples
--------
>>> import os, tempfile
>>> from xgamma.fitting.fold import example_dataset
>>> ds = example_dataset(livetime=3600.0)
>>> p = os.path.join(tempfile.mkdtemp(), "pha_obs1.fits")
>>> _ = write_spectrum_fits(ds, p)
>>> back = read_spectrum_fits(p)
>>> bool((back.counts == ds.counts).all()), back.sizes["energy_true"] == ds.sizes["energy_true"]
(True, True)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import astropy.units as u
import numpy as np
import xarray as xr
import yaml
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.wcs import WCS

from xgamma import sky
from xgamma.axes import axis_from_edges, edges
from xgamma.conventions import validate
from xgamma.errors import ConventionError, XgammaIOError
from xgamma.io.dl4 import read_dl4

__all__ = ["read_spectrum_fits", "write_spectrum_fits", "read_datasets", "write_datasets"]

#: (HDU name, xgamma variable, axes fastest first, unit on disk, unit in xgamma)
_MAPS: tuple[tuple[str, str, tuple[str, ...], str, str], ...] = (
    ("COUNTS", "counts", ("energy",), "", ""),
    ("EXPOSURE", "exposure", ("energy_true",), "m2 s", "cm2 s"),
    ("BACKGROUND", "background", ("energy",), "", ""),
    ("EDISP", "edisp", ("energy", "energy_true"), "", ""),
    ("EDISP_EXPOSURE", "edisp_exposure", ("energy", "energy_true"), "m2 s", "cm2 s"),
    ("MASK_SAFE", "mask_safe", ("energy",), "", ""),
    ("MASK_FIT", "mask_fit", ("energy",), "", ""),
)
_ONOFF = (
    ("COUNTS_OFF", "counts_off", ("energy",), "", ""),
    ("ACCEPTANCE", "acceptance", ("energy",), "", ""),
    ("ACCEPTANCE_OFF", "acceptance_off", ("energy",), "", ""),
)
_AXCOLS = {"energy": ("ENERGY", "E_MIN", "E_MAX"),
           "energy_true": ("ENERGY_TRUE", "ENERGY_TRUE_MIN", "ENERGY_TRUE_MAX")}
_DIM_OF = {v[1]: k for k, v in _AXCOLS.items()}
_TYPE_ONOFF, _TYPE_SPEC = "SpectrumDatasetOnOff", "SpectrumDataset"


# ----------------------------------------------------------------------------------- reading

def _band_axes(bands: Any, path: Path, hdu: str) -> list[xr.DataArray]:
    h = bands.header
    axes = []
    stride = 1
    i = 1
    while f"AXCOLS{i}" in h:
        lo_name, hi_name = (c.strip() for c in str(h[f"AXCOLS{i}"]).split(","))
        dim = _DIM_OF.get(lo_name)
        if dim is None:
            raise XgammaIOError(f"unknown axis columns {lo_name},{hi_name}", path=path, hdu=f"{hdu}_BANDS",
                                expected="E_MIN,E_MAX or ENERGY_TRUE_MIN,ENERGY_TRUE_MAX")
        col_unit = bands.columns[lo_name].unit or "TeV"
        factor = u.Unit(col_unit).to("TeV")
        lo = np.asarray(bands.data[lo_name], float) * factor
        hi = np.asarray(bands.data[hi_name], float) * factor
        n = len(np.unique(lo))
        lo, hi = lo[::stride][:n], hi[::stride][:n]
        stride *= n
        axes.append(axis_from_edges(np.append(lo, hi[-1]), dim, unit="TeV",
                                    interp=str(h.get(f"INTERP{i}", "log")).strip()))
        i += 1
    return axes


def _region_string(hdul: fits.HDUList, name: str) -> str | None:
    if f"{name}_REGION" not in hdul:
        return None
    hdu = hdul[f"{name}_REGION"]
    if len(hdu.data) != 1 or str(hdu.data["SHAPE"][0]).strip().lower() != "circle":
        return None
    wcs = WCS(hdu.header, naxis=2)
    c = wcs.pixel_to_world(float(hdu.data["X"][0]), float(hdu.data["Y"][0]))
    r = float(hdu.data["R"][0]) * abs(float(wcs.wcs.cdelt[1]))
    frame = "galactic" if c.frame.name == "galactic" else "icrs"
    lon, lat = (c.l.deg, c.b.deg) if frame == "galactic" else (c.ra.deg, c.dec.deg)
    return f"{frame};circle({round(lon, 10):g},{round(lat, 10):g},{round(r, 10):g})"


def read_spectrum_fits(path: str | Path) -> xr.Dataset:
    """Read a 1D dataset written by the established tool's ``SpectrumDataset(OnOff).write``.

    Parameters
    ----------
    path : str or Path
        The FITS file (``format="gadf"``: region maps as tables, see the module docstring).

    Returns
    -------
    xarray.Dataset
        A spectrum (or ON/OFF) dataset following :data:`xgamma.conventions.DATASET_SCHEMAS`.

    Examples
    --------
    >>> import xgamma as xg
    >>> d = xg.data_dir(required=False)
    >>> p = None if d is None else d.parent / "reference/gammapy-written/pha_obsstacked.fits"
    >>> if p is not None and p.exists():
    ...     ds = read_spectrum_fits(p)
    ...     assert int(ds.counts.where(ds.mask_safe).sum()) == 389
    """
    p = Path(path)
    if not p.is_file():
        raise XgammaIOError("file not found", path=p)
    try:
        hdul = fits.open(p, memmap=False)
    except OSError as exc:
        raise XgammaIOError(f"not a FITS file: {exc}", path=p) from None
    with hdul:
        if "COUNTS" not in hdul or not isinstance(hdul["COUNTS"], fits.BinTableHDU):
            raise XgammaIOError("no COUNTS region table", path=p, hdu="COUNTS",
                                expected="a 1D dataset (COUNTS, COUNTS_BANDS, ...)")
        data_vars: dict[str, Any] = {}
        coords: dict[str, Any] = {}
        for hname, var, _axes, _disk, unit in _MAPS + _ONOFF:
            if not var or hname not in hdul:
                continue
            if f"{hname}_BANDS" not in hdul:
                raise XgammaIOError("missing the axes table", path=p, hdu=f"{hname}_BANDS")
            axes = _band_axes(hdul[f"{hname}_BANDS"], p, hname)
            hdu = hdul[hname]
            raw = np.asarray(hdu.data["DATA"])
            shape = tuple(a.size for a in axes[::-1])
            if raw.size != math.prod(shape):
                raise XgammaIOError(f"DATA has {raw.size} values, the axes {shape}", path=p, hdu=hname)
            vals = raw.reshape(shape)
            if vals.dtype.kind == "b" or var.startswith("mask"):
                vals = vals.astype(bool)
            else:
                vals = vals.astype(float)
                disk = hdu.columns["DATA"].unit or ""
                if unit or disk:
                    vals = vals * u.Unit(disk or "").to(unit or "")
            if var == "edisp_exposure":  # one reconstructed-energy bin: drop it
                axes, vals = axes[1:], vals[:, 0]
            for a in axes:
                coords.update({str(k): v.variable for k, v in a.coords.items()})
            data_vars[var] = (tuple(str(a.name) for a in axes[::-1]), vals, {} if vals.dtype == bool
                              else {"units": unit})
        attrs: dict[str, Any] = {"name": str(hdul[0].header.get("NAME", p.stem)), "instrument": "",
                                 "geom": "region"}
        region = _region_string(hdul, "COUNTS")
        if region is not None:
            attrs["region"] = region
        if "GTI" in hdul:
            g = hdul["GTI"]
            start = np.asarray(g.data["START"], float)
            stop = np.asarray(g.data["STOP"], float)
            ontime = float(np.sum(stop - start))
            attrs.update(ontime=ontime, livetime=ontime, tstart=float(start.min()) if start.size else 0.0,
                         tstop=float(stop.max()) if stop.size else 0.0,
                         gti_start=start.tolist(), gti_stop=stop.tolist(),
                         mjdref=float(g.header.get("MJDREFI", 0)) + float(g.header.get("MJDREFF", 0.0)))
        if "META_TABLE" in hdul:
            m = hdul["META_TABLE"].data
            if "OBS_ID" in m.columns.names:
                ids = [int(i) for i in np.ravel(m["OBS_ID"])]
                attrs["obs_id"] = ids[0] if len(ids) == 1 else ids
            for col, key in (("RA_PNT", "ra_pnt"), ("DEC_PNT", "dec_pnt")):
                if col in m.columns.names:
                    attrs[key] = [float(v) for v in np.ravel(m[col])]
            if "TELESCOP" in m.columns.names:
                attrs["instrument"] = str(np.ravel(m["TELESCOP"])[0]).strip()
    ds = xr.Dataset(data_vars, coords=coords, attrs=attrs)
    try:
        validate(ds, "dataset")
    except ConventionError as exc:
        raise XgammaIOError(str(exc), path=p) from None
    return ds


# ----------------------------------------------------------------------------------- writing

def _bands_hdu(name: str, axes: Sequence[xr.DataArray]) -> fits.BinTableHDU:
    grids = np.meshgrid(*[np.arange(a.size) for a in axes], indexing="ij")
    flat = [g.ravel(order="F") for g in grids]  # first axis fastest
    cols = [fits.Column("CHANNEL", "K", array=np.arange(flat[0].size))]
    for a, idx in zip(axes, flat, strict=True):
        e = edges(a)
        names = _AXCOLS[str(a.name)]
        centre = np.asarray(a.values, float)
        for cname, arr in zip(names, (centre, e[:-1], e[1:]), strict=True):
            cols.append(fits.Column(cname, "D", unit="TeV", array=arr[idx]))
    hdu = fits.BinTableHDU.from_columns(cols, name=f"{name}_BANDS")
    _axcards(hdu.header, axes)
    return hdu


def _axcards(h: fits.Header, axes: Sequence[xr.DataArray]) -> None:
    for i, a in enumerate(axes, 1):
        _c, lo, hi = _AXCOLS[str(a.name)]
        h[f"AXCOLS{i}"] = f"{lo},{hi}"
        h[f"INTERP{i}"] = str(a.attrs.get("interp", "log"))


def _map_hdu(name: str, vals: np.ndarray, axes: Sequence[xr.DataArray], unit: str) -> fits.BinTableHDU:
    n_rows = axes[-1].size
    inner = tuple(a.size for a in axes[:-1][::-1])  # numpy order after the row axis
    data = np.asarray(vals).reshape((n_rows, *inner, 1, 1))
    if data.dtype == bool:
        fmt = f"{math.prod(inner) or 1}L"
    else:
        data = data.astype(np.float32)
        fmt = f"{math.prod(inner) or 1}E"
    dim = "(" + ",".join(str(s) for s in (1, 1, *inner[::-1])) + ")"
    cols = [fits.Column("CHANNEL", "I", array=np.arange(n_rows, dtype=np.int16)),
            fits.Column("DATA", fmt, unit=unit if data.dtype != bool else None, dim=dim, array=data)]
    hdu = fits.BinTableHDU.from_columns(cols, name=name)
    _axcards(hdu.header, axes)
    return hdu


def _region_hdu(name: str, region: str | None) -> fits.BinTableHDU | None:
    if not region:
        return None
    reg = sky.region_from_string(region)
    leaves = sky.region_leaves(reg)
    if len(leaves) != 1 or not hasattr(leaves[0], "radius"):
        return None
    c: SkyCoord = leaves[0].center
    r = float(leaves[0].radius.to_value("deg"))
    binsz = 0.1
    npix = math.ceil(2 * r / binsz) + 1
    frame = "galactic" if c.frame.name == "galactic" else "icrs"
    lon, lat = (c.l.deg, c.b.deg) if frame == "galactic" else (c.icrs.ra.deg, c.icrs.dec.deg)
    w = WCS(naxis=2)
    w.wcs.ctype = ["GLON-TAN", "GLAT-TAN"] if frame == "galactic" else ["RA---TAN", "DEC--TAN"]
    w.wcs.crval = [lon, lat]
    w.wcs.crpix = [(npix + 1) / 2, (npix + 1) / 2]
    w.wcs.cdelt = [-binsz, binsz]
    w.wcs.cunit = ["deg", "deg"]
    if frame == "icrs":
        w.wcs.radesys = "ICRS"
    cols = [fits.Column("SHAPE", "6A", array=np.array(["circle"])),
            fits.Column("X", "D", unit="pix", array=np.array([(npix - 1) / 2])),
            fits.Column("Y", "D", unit="pix", array=np.array([(npix - 1) / 2])),
            fits.Column("R", "D", unit="pix", array=np.array([r / binsz])),
            fits.Column("ROTANG", "D", unit="deg", array=np.array([0.0]))]
    hdu = fits.BinTableHDU.from_columns(cols, name=f"{name}_REGION")
    hdu.header.update(w.to_header())
    hdu.header["WCSSHAPE"] = f"({npix},{npix})"
    return hdu


def write_spectrum_fits(dataset: xr.Dataset, path: str | Path, overwrite: bool = True) -> Path:
    """Write a 1D (ON/OFF) dataset in the established tool's FITS layout (see the module docstring).

    Parameters
    ----------
    dataset : xarray.Dataset
        A spectrum or ON/OFF dataset without an ``obs`` dim (stack first).
    path : str or Path
        Output file.
    overwrite : bool
        Replace an existing file.

    Examples
    --------
    >>> import os, tempfile
    >>> from astropy.io import fits
    >>> from xgamma.fitting.fold import example_dataset
    >>> p = write_spectrum_fits(example_dataset(), os.path.join(tempfile.mkdtemp(), "pha.fits"))
    >>> fits.open(p)["COUNTS_BANDS"].header["AXCOLS1"]
    'E_MIN,E_MAX'
    """
    p = Path(path)
    if "obs" in dataset.dims:
        raise XgammaIOError("dataset has an obs dim; stack it or write one file per observation", path=p)
    if p.exists() and not overwrite:
        raise XgammaIOError("file exists; pass overwrite=True", path=p)
    region = dataset.attrs.get("region")
    prim = fits.PrimaryHDU()
    prim.header["NAME"] = str(dataset.attrs.get("name", "dataset"))
    hdus: list[Any] = [prim]
    onoff = "counts_off" in dataset

    def add(hname: str, vals: np.ndarray, axes: list[xr.DataArray], unit: str) -> None:
        hdus.append(_map_hdu(hname, vals, axes, unit))
        hdus.append(_bands_hdu(hname, axes))
        reg = _region_hdu(hname, region)
        if reg is not None:
            hdus.append(reg)

    def axis(dim: str) -> xr.DataArray:
        return axis_from_edges(edges(dataset[dim]), dim, unit="TeV",
                               interp=str(dataset[dim].attrs.get("interp", "log")))

    for hname, var, dims, disk, unit in _MAPS + (_ONOFF if onoff else ()):
        if hname == "BACKGROUND" and onoff:
            reg = _region_hdu(hname, region)  # as the established tool writes it for ON/OFF
            if reg is not None:
                hdus.append(reg)
            continue
        if hname == "EDISP_EXPOSURE":
            if "edisp" not in dataset or "exposure" not in dataset:
                continue
            e = edges(dataset["energy"])
            one = axis_from_edges(np.array([e[0], e[-1]]), "energy", unit="TeV")
            src = dataset["edisp_exposure" if "edisp_exposure" in dataset else "exposure"]
            vals = np.asarray(src.values, float)[:, None] * u.Unit(src.attrs.get("units", "cm2 s")).to(disk)
            add(hname, vals, [one, axis("energy_true")], disk)
            continue
        if var in dataset:
            da = dataset[var].transpose(*dims[::-1])
            vals = np.asarray(da.values)
            if vals.dtype != bool and disk:
                vals = vals * u.Unit(da.attrs.get("units", unit) or "").to(disk)
            add(hname, vals, [axis(d) for d in dims], disk)
        if hname == "MASK_FIT":  # GTI and META_TABLE follow the masks, as in the established tool's files
            hdus.extend(_time_hdus(dataset))
    fits.HDUList(hdus).writeto(p, overwrite=True)
    return p


def _time_hdus(dataset: xr.Dataset) -> list[fits.BinTableHDU]:
    a = dataset.attrs
    out = []
    if "tstart" in a and "tstop" in a:
        start = np.atleast_1d(np.asarray(a.get("gti_start", a["tstart"]), float))
        stop = np.atleast_1d(np.asarray(a.get("gti_stop", a["tstop"]), float))
        gti = fits.BinTableHDU.from_columns(
            [fits.Column("START", "D", unit="s", array=start),
             fits.Column("STOP", "D", unit="s", array=stop)], name="GTI")
        mjd = float(a.get("mjdref", 0.0))
        gti.header["MJDREFI"] = int(np.floor(mjd))
        gti.header["MJDREFF"] = mjd - np.floor(mjd)
        gti.header["TIMESYS"] = "tt"
        out.append(gti)
    ids = np.atleast_1d(np.asarray(a.get("obs_id", []), dtype=np.int64))
    if ids.size:
        n = ids.size
        tel = str(a.get("instrument", "") or "")
        cols = [fits.Column("TELESCOP", f"{16 * n}A", dim=f"(16,{n})", array=np.array([[tel] * n])),
                fits.Column("OBS_ID", f"{n}K", dim=f"({n})", array=ids[None, :]),
                fits.Column("OBS_MODE", f"{32 * n}A", dim=f"(32,{n})", array=np.array([["POINTING"] * n])),
                fits.Column("RA_PNT", f"{n}D", dim=f"({n})", array=_pnt(a, "ra_pnt", n)),
                fits.Column("DEC_PNT", f"{n}D", dim=f"({n})", array=_pnt(a, "dec_pnt", n))]
        out.append(fits.BinTableHDU.from_columns(cols, name="META_TABLE"))
    return out


def _pnt(attrs: Any, key: str, n: int) -> np.ndarray:
    v = np.atleast_1d(np.asarray(attrs.get(key, np.nan), float))
    return (v if v.size == n else np.full(n, np.nan))[None, :]


# ----------------------------------------------------------------------------------- datasets YAML

def read_datasets(path: str | Path) -> list[xr.Dataset]:
    """Read a datasets YAML (``datasets: [{name, type, filename}]``) and the files it lists.

    1D datasets (``SpectrumDataset``, ``SpectrumDatasetOnOff``) are read with
    :func:`read_spectrum_fits`, map datasets with :func:`xgamma.io.dl4.read_dl4`; file names are
    relative to the YAML file.

    Examples
    --------
    >>> import os, tempfile
    >>> from xgamma.fitting.fold import example_dataset
    >>> d = tempfile.mkdtemp()
    >>> p = write_datasets([example_dataset().assign_attrs(name="a")], os.path.join(d, "datasets.yaml"))
    >>> [ds.attrs["name"] for ds in read_datasets(p)]
    ['a']
    """
    p = Path(path)
    if not p.is_file():
        raise XgammaIOError("file not found", path=p)
    try:
        data = yaml.safe_load(p.read_text())
    except yaml.YAMLError as exc:
        raise XgammaIOError(f"not valid YAML: {str(exc).splitlines()[0]}", path=p) from None
    if not isinstance(data, dict) or not isinstance(data.get("datasets"), list):
        raise XgammaIOError("no 'datasets' list", path=p, expected="datasets: [{name, type, filename}]")
    out = []
    for i, entry in enumerate(data["datasets"]):
        if not isinstance(entry, dict) or "filename" not in entry:
            raise XgammaIOError(f"datasets[{i}]: no filename", path=p)
        f = Path(str(entry["filename"]))
        f = f if f.is_absolute() else p.parent / f
        kind = str(entry.get("type", _TYPE_SPEC))
        ds = read_spectrum_fits(f) if kind.startswith("Spectrum") else read_dl4(f)
        if entry.get("name"):
            ds = ds.assign_attrs(name=str(entry["name"]))
        out.append(ds)
    return out


def write_datasets(datasets: Sequence[xr.Dataset], path: str | Path, overwrite: bool = True) -> Path:
    """Write 1D datasets as ``pha_obs<name>.fits`` files and the datasets YAML that lists them.

    Examples
    --------
    >>> import os, tempfile, yaml
    >>> from xgamma.fitting.fold import example_dataset
    >>> p = write_datasets([example_dataset().assign_attrs(name="s")], os.path.join(tempfile.mkdtemp(), "d.yaml"))
    >>> yaml.safe_load(open(p))["datasets"][0]
    {'name': 's', 'type': 'SpectrumDatasetOnOff', 'filename': 'pha_obss.fits'}
    """
    p = Path(path)
    if p.exists() and not overwrite:
        raise XgammaIOError("file exists; pass overwrite=True", path=p)
    entries = []
    for i, ds in enumerate(datasets):
        name = str(ds.attrs.get("name", i))
        if {"y", "x"} <= set(ds.dims):
            raise XgammaIOError(f"dataset {name!r} is a map dataset; write it with write_dl4", path=p)
        fname = f"pha_obs{name}.fits"
        write_spectrum_fits(ds, p.parent / fname, overwrite=overwrite)
        entries.append({"name": name, "type": _TYPE_ONOFF if "counts_off" in ds else _TYPE_SPEC,
                        "filename": fname})
    p.write_text(yaml.safe_dump({"datasets": entries}, sort_keys=False))
    return p
