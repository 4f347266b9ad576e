"""HEALPix sky maps in FITS: the GADF HEALPix format (a BINTABLE, ``PIXTYPE = 'HEALPIX'``).

A map on a HEALPix geometry (:func:`xgamma.sky.healpix_geom`, sky dim ``pix``) is written as

- a BINTABLE HDU (default name ``SKYMAP``) with header ``PIXTYPE = 'HEALPIX'``, ``ORDERING``
  (``NESTED``/``RING``), ``COORDSYS`` (``CEL``/``GAL``), ``NSIDE``, ``ORDER``
  (``log2 NSIDE``), ``FIRSTPIX``/``LASTPIX``, ``INDXSCHM``, ``BUNIT`` and ``BANDSHDU``;
  one column per band ``CHANNEL1 ... CHANNELn`` (bands = combinations of the non-spatial bins,
  first axis fastest), one row per pixel: ``INDXSCHM = 'IMPLICIT'`` for an all-sky map (the row
  is the pixel index), ``'EXPLICIT'`` with a ``PIX`` column for a partial-sky map;
- a bands table (``<NAME>_BANDS``; ``EBOUNDS`` when read from other files) with ``CHANNEL`` and,
  per axis, ``<AXIS>``, ``<AXIS>_MIN``, ``<AXIS>_MAX`` (``E_MIN``/``E_MAX`` for ``energy``),
  header ``AXCOLS<i>``/``INTERP<i>``, as the WCS maps of :mod:`xgamma.io.dl4`.

Reading accepts ``IMPLICIT``, ``EXPLICIT`` and the sparse forms (``SPARSE``: ``KEY``/``VALUE``
columns of the GADF text, or ``PIX``/``CHANNEL``/``VALUE`` rows), channel columns numbered from
0 or 1, and a bands table named by ``BANDSHDU`` or called ``EBOUNDS``/``ENERGIES`` (energies
without a unit are taken in keV, the Fermi-LAT convention); without an ``NSIDE``/``ORDER`` header
the ``NSIDE`` column of the bands table gives it (as in the GADF sample files; energy-dependent
pixel sizes are refused). Values round-trip exactly (float64, int64, bool as FITS logical).

Examples
--------
>>> import os, tempfile, numpy as np, xgamma as xg
>>> g = xg.sky.healpix_geom(64, skydir=(83.63, 22.01), width=2.0, axes=[xg.energy_axis(1, 10, 2)])
>>> m = xg.sky.make_map(np.arange(2.0 * g.sizes["pix"]).reshape(2, -1), g, units="cm-2 s-1")
>>> path = os.path.join(tempfile.mkdtemp(), "m.fits")
>>> write_healpix_map(m, path)
>>> back = read_healpix_map(path)
>>> bool((back == m).all()), back.attrs["nside"], back.attrs["units"]
(True, 64, 'cm-2 s-1')
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import astropy.units as u
import numpy as np
import xarray as xr
from astropy.io import fits

from xgamma import sky
from xgamma.axes import axis_from_edges
from xgamma.errors import GeometryError, XgammaIOError

__all__ = ["healpix_hdus", "read_healpix_hdu", "write_healpix_map", "read_healpix_map", "is_healpix_hdu"]

_COORDSYS = {"icrs": "CEL", "galactic": "GAL"}
_FRAMES = {"CEL": "icrs", "C": "icrs", "EQU": "icrs", "GAL": "galactic", "G": "galactic"}
_AXIS_UNIT = {"energy": "TeV", "energy_true": "TeV"}
_NAMES = {"E": "energy", "ENERGY": "energy", "ENERGY_TRUE": "energy_true"}


def _colnames(dim: str) -> tuple[str, str, str]:
    if dim == "energy":
        return "ENERGY", "E_MIN", "E_MAX"
    name = dim.upper()
    return name, f"{name}_MIN", f"{name}_MAX"


def _bands(da: xr.DataArray, axes: list[str], name: str) -> fits.BinTableHDU:
    lists = []
    for d in axes:
        lo = np.asarray(da.coords[f"{d}_min"].values, float)
        hi = np.asarray(da.coords[f"{d}_max"].values, float)
        c = np.asarray(da.coords[d].values, float) if d in da.coords else 0.5 * (lo + hi)
        lists.append((c, lo, hi))
    n = int(np.prod([len(x[0]) for x in lists])) if lists else 1
    cols = [fits.Column("CHANNEL", "J", array=np.arange(n, dtype=np.int32))]
    header = fits.Header()
    if lists:
        grids = [np.meshgrid(*[x[k] for x in lists]) for k in range(3)]  # first axis fastest
        for i, d in enumerate(axes):
            unit = str(da.coords[f"{d}_min"].attrs.get("units", _AXIS_UNIT.get(d, "")))
            for cname, grid in zip(_colnames(d), grids, strict=True):
                cols.append(fits.Column(cname, "D", unit=unit or None, array=np.ravel(grid[i])))
            names = _colnames(d)
            header[f"AXCOLS{i + 1}"] = f"{names[1]},{names[2]}"
            header[f"INTERP{i + 1}"] = str(da.coords[d].attrs.get("interp", "log" if d.startswith("energy") else "lin")) \
                if d in da.coords else "lin"
    return fits.BinTableHDU.from_columns(cols, header=header, name=name)


def _format(dtype: np.dtype) -> str:
    if np.issubdtype(dtype, np.bool_):
        return "L"
    if np.issubdtype(dtype, np.integer):
        return "K"
    if dtype == np.float32:
        return "E"
    return "D"


def healpix_hdus(da: xr.DataArray, name: str = "SKYMAP", meta: dict[str, Any] | None = None) -> list[fits.BinTableHDU]:
    """A map on a HEALPix geometry as GADF HEALPix HDUs: the map table and its bands table.

    ``meta``: extra header cards of the map HDU.

    Examples
    --------
    >>> import numpy as np, xgamma as xg
    >>> g = xg.sky.healpix_geom(2)
    >>> hdus = healpix_hdus(xg.sky.make_map(np.arange(48.0), g))
    >>> h = hdus[0].header
    >>> h["PIXTYPE"], h["INDXSCHM"], h["NSIDE"], h["ORDERING"], h["COORDSYS"], hdus[0].columns.names
    ('HEALPIX', 'IMPLICIT', 2, 'NESTED', 'CEL', ['CHANNEL1'])
    """
    a = sky.geom_attrs(da)
    if a["geom"] != "healpix":
        raise GeometryError(f"healpix_hdus needs a map on a HEALPix geometry, got {a['geom']!r}")
    axes = [str(d) for d in da.dims if d != "pix"]
    for d in axes:
        if f"{d}_min" not in da.coords:
            raise GeometryError(f"dim {d!r} has no bin edges ({d}_min/{d}_max): cannot write it")
    nside = int(a["nside"])
    npix = 12 * nside * nside
    pix = np.asarray(da["pix"].values, dtype=np.int64)
    # bands: first axis fastest -> the FITS band index runs over the reversed dims
    data = np.asarray(da.transpose(*axes[::-1], "pix").values) if axes else np.asarray(da.values)[None]
    planes = data.reshape(-1, pix.size)
    implicit = pix.size == npix and bool(np.all(pix == np.arange(npix)))
    fmt = _format(planes.dtype)
    cols = [] if implicit else [fits.Column("PIX", "K", array=pix)]
    cols += [fits.Column(f"CHANNEL{k + 1}", fmt, array=planes[k]) for k in range(planes.shape[0])]
    hdu = fits.BinTableHDU.from_columns(cols, name=name)
    h = hdu.header
    h["PIXTYPE"] = ("HEALPIX", "HEALPix pixelisation")
    h["ORDERING"] = "NESTED" if a["order"] == "nested" else "RING"
    h["COORDSYS"] = _COORDSYS[str(a["frame"])]
    h["NSIDE"] = nside
    h["ORDER"] = int(round(np.log2(nside)))
    h["FIRSTPIX"] = 0
    h["LASTPIX"] = npix - 1
    h["INDXSCHM"] = "IMPLICIT" if implicit else "EXPLICIT"
    h["HPX_CONV"] = "GADF"
    h["BANDSHDU"] = f"{name}_BANDS"
    h["BUNIT"] = str(da.attrs.get("units", ""))
    for i, d in enumerate(axes):
        names = _colnames(d)
        h[f"AXCOLS{i + 1}"] = f"{names[1]},{names[2]}"
    for k, v in (meta or {}).items():
        h[k] = v
    return [hdu, _bands(da, axes, f"{name}_BANDS")]


def is_healpix_hdu(hdu: Any) -> bool:
    """True for a BINTABLE HDU of a HEALPix map (``PIXTYPE = 'HEALPIX'``).

    Examples
    --------
    >>> import numpy as np, xgamma as xg
    >>> is_healpix_hdu(healpix_hdus(xg.sky.make_map(np.zeros(12), xg.sky.healpix_geom(1)))[0])
    True
    """
    return isinstance(hdu, fits.BinTableHDU) and str(hdu.header.get("PIXTYPE", "")).strip().upper() == "HEALPIX"


def _read_bands(hdul: fits.HDUList, hdu: fits.BinTableHDU, path: Any) -> list[xr.DataArray]:
    h = hdu.header
    names = {x.name for x in hdul}
    bname = str(h.get("BANDSHDU", "")).strip()
    if not bname:
        bname = next((n for n in ("EBOUNDS", "ENERGIES", f"{hdu.name}_BANDS") if n in names), "")
    if not bname:
        return []
    if bname not in names:
        raise XgammaIOError("missing bands table", path=path, hdu=bname,
                            expected=f"a {bname} HDU describing the axes of {hdu.name}")
    bands = hdul[bname]
    data = bands.data
    specs = []
    i = 1
    while f"AXCOLS{i}" in bands.header or f"AXCOLS{i}" in h:
        cols = str(bands.header.get(f"AXCOLS{i}", h.get(f"AXCOLS{i}"))).split(",")
        interp = str(bands.header.get(f"INTERP{i}", h.get(f"INTERP{i}", "lin"))).strip()
        first = cols[0].strip().upper()
        base = first[:-4] if first.endswith("_MIN") else first
        specs.append((_NAMES.get(base, base.lower()), cols[0].strip(), cols[1].strip(),
                      interp if interp in ("log", "lin") else "lin"))
        i += 1
    if not specs and "E_MIN" in data.names:  # EBOUNDS of the Fermi STs
        specs.append(("energy", "E_MIN", "E_MAX", "log"))
    if not specs and "ENERGY" in data.names:  # ENERGIES: node values, a differential map
        e = np.asarray(data["ENERGY"], float)
        unit = bands.columns["ENERGY"].unit or "MeV"
        e = e * u.Unit(unit).to("TeV")
        le = np.log(e)
        mid = np.exp(0.5 * (le[1:] + le[:-1])) if e.size > 1 else e * 1.01
        lo = np.r_[e[0] ** 2 / mid[0] if e.size > 1 else e[0] / 1.01, mid]
        hi = np.r_[mid, e[-1] ** 2 / mid[-1] if e.size > 1 else e[0] * 1.01]
        return [axis_from_edges(np.append(lo, hi[-1]), "energy", unit="TeV")]
    for lo_name, hi_name in ((s[1], s[2]) for s in specs):
        if lo_name not in data.names or hi_name not in data.names:
            raise XgammaIOError(f"bands table lacks {lo_name}/{hi_name}", path=path, hdu=bname,
                                expected=f"columns {lo_name}, {hi_name}")
    lows = [np.asarray(data[s[1]], float) for s in specs]
    sizes = [np.unique(np.stack([lo, np.asarray(data[s[2]], float)], 1), axis=0).shape[0]
             for lo, s in zip(lows, specs, strict=True)]
    axes = []
    for k, (dim, lo_name, hi_name, interp) in enumerate(specs):
        idx: list[Any] = [0] * len(sizes)
        idx[len(sizes) - 1 - k] = slice(None)
        lo = np.asarray(data[lo_name], float).reshape(sizes[::-1])[tuple(idx)]
        hi = np.asarray(data[hi_name], float).reshape(sizes[::-1])[tuple(idx)]
        unit = bands.columns[lo_name].unit
        target = _AXIS_UNIT.get(dim)
        if target is not None:
            f = u.Unit(unit or ("keV" if bname == "EBOUNDS" else "TeV")).to(target)
            lo, hi, unit = lo * f, hi * f, target
        axes.append(axis_from_edges(np.append(lo, hi[-1]), dim, unit=unit or "",
                                    interp=interp if lo[0] > 0 or interp == "lin" else "lin"))
    return axes


def _bands_nside(hdul: fits.HDUList, hdu: fits.BinTableHDU) -> np.ndarray | None:
    """The ``NSIDE`` column of the bands table, if any (GADF: per-band pixel size)."""
    bname = str(hdu.header.get("BANDSHDU", "")).strip() or "EBOUNDS"
    if bname not in {x.name for x in hdul}:
        return None
    bands = hdul[bname]
    if not isinstance(bands, fits.BinTableHDU) or "NSIDE" not in bands.columns.names:
        return None
    return np.asarray(bands.data["NSIDE"], dtype=np.int64)


def read_healpix_hdu(hdul: fits.HDUList, name: str | int = "SKYMAP", path: Any = None) -> xr.DataArray:
    """The HEALPix map in HDU ``name`` of an open FITS file, on its HEALPix geometry.

    Raises
    ------
    XgammaIOError
        Not a HEALPix table, no ``NSIDE``/``ORDER``, an unknown ``ORDERING``/``COORDSYS``/
        ``INDXSCHM``, or columns that do not match the bands (one line naming file and HDU).

    Examples
    --------
    >>> import numpy as np, xgamma as xg
    >>> from astropy.io import fits
    >>> m = xg.sky.make_map(np.arange(12.0), xg.sky.healpix_geom(1, frame="galactic"))
    >>> back = read_healpix_hdu(fits.HDUList([fits.PrimaryHDU(), *healpix_hdus(m)]))
    >>> back.values.tolist() == m.values.tolist(), back.attrs["frame"]
    (True, 'galactic')
    """
    try:
        hdu = hdul[name]
    except KeyError as exc:
        raise XgammaIOError("no such HDU", path=path, hdu=name) from exc
    h = hdu.header
    hname = hdu.name or name
    if not isinstance(hdu, fits.BinTableHDU):
        raise XgammaIOError("not a HEALPix map table", path=path, hdu=hname, expected="a BINTABLE HDU")
    bands_nside = _bands_nside(hdul, hdu)
    if "NSIDE" in h:
        nside = int(h["NSIDE"])
    elif "ORDER" in h and int(h["ORDER"]) >= 0:
        nside = 2 ** int(h["ORDER"])
    elif bands_nside is not None and np.unique(bands_nside).size == 1:  # GADF: an NSIDE column in the bands
        nside = int(bands_nside[0])
    elif bands_nside is not None:
        raise XgammaIOError(f"energy-dependent NSIDE {bands_nside.tolist()} is not supported", path=path,
                            hdu=hname, expected="one NSIDE for all bands")
    else:
        raise XgammaIOError("HEALPix map without NSIDE", path=path, hdu=hname, expected="header NSIDE or ORDER")
    ordering = str(h.get("ORDERING", "RING")).strip().upper()
    if ordering not in ("NESTED", "NEST", "RING"):
        raise XgammaIOError(f"unknown ORDERING {ordering!r}", path=path, hdu=hname, expected="NESTED or RING")
    order = "ring" if ordering == "RING" else "nested"
    coordsys = str(h.get("COORDSYS", "CEL")).strip().upper()
    if coordsys not in _FRAMES:
        raise XgammaIOError(f"unknown COORDSYS {coordsys!r}", path=path, hdu=hname, expected="CEL or GAL")
    frame = _FRAMES[coordsys]
    scheme = str(h.get("INDXSCHM", "IMPLICIT")).strip().upper()
    axes = _read_bands(hdul, hdu, path)
    nband = int(np.prod([a.size for a in axes])) if axes else 1
    try:
        g0 = sky.healpix_geom(nside, frame=frame, order=order, pix=[])
    except GeometryError as exc:
        raise XgammaIOError(str(exc), path=path, hdu=hname) from exc
    npix = 12 * nside * nside
    data = hdu.data
    cols = data.columns.names if data is not None else []
    if scheme in ("IMPLICIT", "EXPLICIT"):
        chan = sorted((int(m.group(1)), c) for c in cols if (m := re.fullmatch(r"CHANNEL(\d+)", c.upper())))
        if not chan and len([c for c in cols if c.upper() != "PIX"]) == 1:
            chan = [(0, next(c for c in cols if c.upper() != "PIX"))]  # one-plane maps (e.g. T, VALUE)
        if len(chan) != nband:
            raise XgammaIOError(f"{len(chan)} CHANNEL columns for {nband} bands", path=path, hdu=hname,
                                expected=f"CHANNEL1 ... CHANNEL{nband}")
        planes = np.stack([np.asarray(data[c]) for _, c in chan]) if chan else np.zeros((0, 0))
        if scheme == "EXPLICIT":
            if "PIX" not in [c.upper() for c in cols]:
                raise XgammaIOError("EXPLICIT HEALPix map without a PIX column", path=path, hdu=hname)
            pix = np.asarray(data["PIX"], dtype=np.int64)
        else:
            pix = np.arange(planes.shape[1], dtype=np.int64)
            if pix.size != npix:
                raise XgammaIOError(f"IMPLICIT HEALPix map with {pix.size} rows for NSIDE {nside}", path=path,
                                    hdu=hname, expected=f"{npix} rows (all-sky)")
    elif scheme == "SPARSE":
        upper = {c.upper(): c for c in cols}
        val = np.asarray(data[upper["VALUE"]]) if "VALUE" in upper else None
        if val is None or not ("KEY" in upper or "PIX" in upper):
            raise XgammaIOError("SPARSE HEALPix map without KEY/PIX and VALUE columns", path=path, hdu=hname)
        if "KEY" in upper:
            key = np.asarray(data[upper["KEY"]], dtype=np.int64).ravel()
            band, hp = key // npix, key % npix
        else:
            hp = np.asarray(data[upper["PIX"]], dtype=np.int64).ravel()
            band = np.asarray(data[upper["CHANNEL"]], dtype=np.int64).ravel() if "CHANNEL" in upper \
                else np.zeros(hp.size, np.int64)
        val = val.ravel()
        pix = np.unique(hp)
        planes = np.zeros((nband, pix.size), dtype=val.dtype)
        planes[band, np.searchsorted(pix, hp)] = val
    else:
        raise XgammaIOError(f"unsupported INDXSCHM {scheme!r}", path=path, hdu=hname,
                            expected="IMPLICIT, EXPLICIT or SPARSE")
    srt = np.argsort(pix, kind="stable")
    pix, planes = pix[srt], planes[:, srt]
    if pix.size and (pix[0] < 0 or pix[-1] >= npix or np.any(np.diff(pix) == 0)):
        raise XgammaIOError(f"HEALPix pixel indices out of [0, {npix}) or repeated", path=path, hdu=hname)
    geom = sky.healpix_geom(nside, frame=frame, order=order, pix=pix, axes=axes) if pix.size else g0
    dims = sky.sky_and_axis_dims(geom)
    values = planes[0]
    if axes:  # bands run first axis fastest: the stored array is (axis_n, ..., axis_1, pix)
        values = planes.reshape(*[a.size for a in axes[::-1]], pix.size)
        values = np.moveaxis(values, list(range(len(axes))), list(range(len(axes)))[::-1])
    unit = str(h.get("BUNIT", "")).strip()
    return sky.make_map(values, geom, name=str(hname).lower(), units=unit).transpose(*dims)


def write_healpix_map(da: xr.DataArray, path: str | Path, name: str = "SKYMAP", overwrite: bool = True) -> None:
    """Write a map on a HEALPix geometry to a FITS file (GADF HEALPix format, see the module).

    Examples
    --------
    >>> import os, tempfile, numpy as np, xgamma as xg
    >>> m = xg.sky.make_map(np.ones(12), xg.sky.healpix_geom(1))
    >>> write_healpix_map(m, os.path.join(tempfile.mkdtemp(), "m.fits"))
    """
    fits.HDUList([fits.PrimaryHDU(), *healpix_hdus(da, name)]).writeto(str(path), overwrite=overwrite)


def read_healpix_map(path: str | Path, hdu: str | int | None = None) -> xr.DataArray:
    """Read a HEALPix map from a FITS file: HDU ``hdu``, or the first HEALPix table
    (``PIXTYPE = 'HEALPIX'``), or ``SKYMAP``.

    Raises
    ------
    XgammaIOError
        Missing file, no HEALPix HDU, or a malformed one (see :func:`read_healpix_hdu`).

    Examples
    --------
    >>> read_healpix_map("/nonexistent.fits")
    Traceback (most recent call last):
    ...
    xgamma.errors.XgammaIOError: /nonexistent.fits: file not found
    """
    p = Path(path)
    if not p.exists():
        raise XgammaIOError("file not found", path=p)
    with fits.open(p, memmap=False) as hdul:
        if hdu is None:
            hdu = next((h.name for h in hdul if is_healpix_hdu(h)), None)
            if hdu is None:
                names = [h.name for h in hdul]
                if "SKYMAP" not in names:
                    raise XgammaIOError("no HEALPix map HDU", path=p, expected="a BINTABLE with PIXTYPE = 'HEALPIX'")
                hdu = "SKYMAP"
        return read_healpix_hdu(hdul, hdu, path=p).load()
