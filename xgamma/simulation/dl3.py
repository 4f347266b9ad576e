"""Write GADF DL3 data stores, and check a store against the GADF specification.

:func:`write_dl3` writes one FITS file per observation (``data/obs_<id>.fits``) with the HDUs
``EVENTS``, ``GTI``, ``POINTING`` and the IRFs (``AEFF``, ``EDISP``, ``PSF``, ``BKG``,
``RAD_MAX``), plus ``obs-index.fits.gz`` and ``hdu-index.fits.gz``. IRFs read from a file (a
data-store observation, or one built by :func:`~xgamma.simulation.observation_from_irfs`
from an IRF file) are copied HDU for HDU; IRFs given as DataArrays (the demo instrument) are
serialised as AEFF_2D, EDISP_2D, PSF_TABLE, BKG_3D/BKG_2D or RAD_MAX_2D tables. Writing is
atomic: everything goes into a hidden sibling folder that is renamed at the end, so a failure
leaves nothing behind, and an existing output folder is an error unless ``overwrite=True``.

:func:`check_gadf` reads a store (or an HDU index, or one DL3 file) and returns the list of its
errors against the GADF spec (v0.3: mandatory columns with their units, the time-reference and
exposure keywords, index tables, and consistency such as ``DEADC = LIVETIME / ONTIME``); an
empty list means the store can be read as GADF says. :func:`gadf_report` adds the warnings:
departures from the spec's wording that readers tolerate and that the public H.E.S.S., CTA,
MAGIC, VERITAS and HAWC files show (a missing ``OBS_MODE``, ``HDUCLASS = 'OGIP'``, ...).

Examples
--------
>>> import tempfile, pathlib
>>> from xgamma.simulation import demo_irfs, observation_from_irfs, simulate_observation
>>> obs = simulate_observation(observation_from_irfs(demo_irfs(), (83.6, 22.5), "1 min"), rng=0)
>>> out = pathlib.Path(tempfile.mkdtemp()) / "store"
>>> write_dl3([obs], out).name
'store'
>>> check_gadf(out)
[]
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import astropy.units as u
import numpy as np
import pandas as pd
import xarray as xr
from astropy.io import fits
from astropy.time import Time

from xgamma.errors import XgammaIOError
from xgamma.simulation.observation import IRF_CLASSES, events_header
from xgamma.times import datetime_to_seconds

__all__ = ["write_dl3", "check_gadf", "gadf_report", "GadfReport", "irf_to_hdu", "write_observation", "start_store", "finish_store",
           "check_ids", "WrittenObservation", "HDUDOC", "HDUVERS"]

HDUDOC = "https://github.com/open-gamma-ray-astro/gamma-astro-data-formats"
HDUVERS = "0.3"

_HDU_NAMES = {"aeff": "AEFF", "edisp": "EDISP", "psf": "PSF", "bkg": "BKG", "rad_max": "RAD_MAX"}
_STRUCT = ("XTENSION", "BITPIX", "NAXIS", "PCOUNT", "GCOUNT", "TFIELDS", "TTYPE", "TFORM", "TUNIT",
           "TDIM", "EXTNAME", "TNULL", "TSCAL", "TZERO", "TDISP", "THEAP", "SIMPLE", "EXTEND")
_GADF = {"HDUCLASS": "GADF", "HDUDOC": HDUDOC, "HDUVERS": HDUVERS}


# ---------------------------------------------------------------------------------------------
# IRF serialisation
# ---------------------------------------------------------------------------------------------


def _edges(da: xr.DataArray, dim: str) -> tuple[np.ndarray, np.ndarray]:
    return (np.asarray(da.coords[f"{dim}_min"].values, float),
            np.asarray(da.coords[f"{dim}_max"].values, float))


def _axis_cols(da: xr.DataArray, dim: str, prefix: str, unit: str) -> list[fits.Column]:
    lo, hi = _edges(da, dim)
    n = lo.size
    return [fits.Column(f"{prefix}_LO", f"{n}D", unit=unit or None, array=lo[None]),
            fits.Column(f"{prefix}_HI", f"{n}D", unit=unit or None, array=hi[None])]


def _value_col(name: str, vals: np.ndarray, unit: str) -> fits.Column:
    return fits.Column(name, f"{vals.size}D", unit=unit or None, dim=str(vals.shape[::-1]).replace(" ", ""),
                       array=vals[None])


def _in(da: xr.DataArray, unit: str) -> np.ndarray:
    src = str(da.attrs.get("units", "") or "")
    f = u.Unit(src).to(unit) if src and src != unit else 1.0
    return np.asarray(da.values, float) * f


def irf_to_hdu(da: xr.DataArray, kind: str) -> fits.BinTableHDU:
    """Serialise an IRF DataArray as a GADF table HDU (``AEFF_2D``, ``EDISP_2D``,
    ``PSF_TABLE``, ``BKG_3D``, ``BKG_2D``, ``RAD_MAX_2D``); :func:`xgamma.io.gadf.read_irf`
    reads it back to the same DataArray.

    Examples
    --------
    >>> from xgamma.simulation.demo import demo_aeff
    >>> irf_to_hdu(demo_aeff(), "aeff").header["HDUCLAS4"]
    'AEFF_2D'
    """
    point_like = bool(da.attrs.get("point_like", False))
    h = fits.Header()
    h.update(_GADF)
    h["HDUCLAS1"] = "RESPONSE"
    h["HDUCLAS2"] = IRF_CLASSES[kind]
    h["HDUCLAS3"] = "POINT-LIKE" if point_like else "FULL-ENCLOSURE"
    for key in ("telescop", "instrume"):
        if key in da.attrs:
            h[key.upper()] = str(da.attrs[key])
    for key, card in (("lo_threshold", "LO_THRES"), ("hi_threshold", "HI_THRES")):
        if key in da.attrs:
            h[card] = float(da.attrs[key])
    if kind == "aeff":
        h["HDUCLAS4"] = "AEFF_2D"
        vals = _in(da.transpose("offset", "energy_true"), "m2")
        cols = [*_axis_cols(da, "energy_true", "ENERG", "TeV"), *_axis_cols(da, "offset", "THETA", "deg"),
                _value_col("EFFAREA", vals, "m2")]
    elif kind == "edisp":
        h["HDUCLAS4"] = "EDISP_2D"
        vals = np.asarray(da.transpose("offset", "migra", "energy_true").values, float)
        cols = [*_axis_cols(da, "energy_true", "ENERG", "TeV"), *_axis_cols(da, "migra", "MIGRA", ""),
                *_axis_cols(da, "offset", "THETA", "deg"), _value_col("MATRIX", vals, "")]
    elif kind == "psf":
        h["HDUCLAS4"] = "PSF_TABLE"
        vals = _in(da.transpose("rad", "offset", "energy_true"), "sr-1")
        cols = [*_axis_cols(da, "energy_true", "ENERG", "TeV"), *_axis_cols(da, "offset", "THETA", "deg"),
                *_axis_cols(da, "rad", "RAD", "deg"), _value_col("RPSF", vals, "sr-1")]
    elif kind == "bkg" and "fov_lon" in da.dims:
        h["HDUCLAS4"] = "BKG_3D"
        h["FOVALIGN"] = str(da.attrs.get("fovalign", "RADEC"))
        m = _in(da.transpose("energy", "fov_lon", "fov_lat"), "s-1 MeV-1 sr-1")
        # xgamma.io.gadf reads square BKG_3D grids with the FoV axes swapped (as Gammapy does):
        # lay the values out so that reading gives them back
        vals = m.transpose(1, 2, 0) if m.shape[1] == m.shape[2] else m.transpose(2, 1, 0)
        cols = [*_axis_cols(da, "energy", "ENERG", "TeV"), *_axis_cols(da, "fov_lon", "DETX", "deg"),
                *_axis_cols(da, "fov_lat", "DETY", "deg"), _value_col("BKG", vals, "s-1 MeV-1 sr-1")]
    elif kind == "bkg":
        h["HDUCLAS4"] = "BKG_2D"
        h["FOVALIGN"] = str(da.attrs.get("fovalign", "RADEC"))
        vals = _in(da.transpose("offset", "energy"), "s-1 MeV-1 sr-1")
        cols = [*_axis_cols(da, "energy", "ENERG", "TeV"), *_axis_cols(da, "offset", "THETA", "deg"),
                _value_col("BKG", vals, "s-1 MeV-1 sr-1")]
    elif kind == "rad_max":
        h["HDUCLAS4"] = "RAD_MAX_2D"
        vals = _in(da.transpose("offset", "energy"), "deg")
        cols = [*_axis_cols(da, "energy", "ENERG", "TeV"), *_axis_cols(da, "offset", "THETA", "deg"),
                _value_col("RAD_MAX", vals, "deg")]
    else:
        raise XgammaIOError(f"cannot serialise IRF kind {kind!r}", expected=f"one of {sorted(IRF_CLASSES)}")
    return fits.BinTableHDU.from_columns(cols, header=h, name=_HDU_NAMES[kind])


# ---------------------------------------------------------------------------------------------
# events, GTI, pointing
# ---------------------------------------------------------------------------------------------

_FORMAT = {"f8": "D", "f4": "E", "i8": "K", "i4": "J", "i2": "I", "u1": "B", "b1": "L", "i1": "B"}


def _file_times(dates: Any, h: fits.Header) -> np.ndarray:
    """``datetime64`` UTC event dates as the TIME numbers of header ``h`` (MJDREF, TIMESYS,
    TIMEUNIT, TIMEZERO)."""
    ref = {"mjdrefi": h["MJDREFI"], "mjdreff": h["MJDREFF"], "timesys": h.get("TIMESYS", "TT")}
    sec = datetime_to_seconds(dates, ref)
    unit = str(h.get("TIMEUNIT", "s") or "s").strip()
    if unit != "s":
        sec = sec / float(u.Unit(unit).to(u.s))
    tz = float(h.get("TIMEZERO", 0) or 0)
    return sec - tz if tz else sec


def _events_hdu(obs: Any) -> fits.BinTableHDU:
    ev = obs.events
    units = dict(ev.attrs.get("units", {}))
    h = fits.Header()
    meta = {k: v for k, v in dict(getattr(obs, "meta", {}) or {}).items()
            if not str(k).startswith(_STRUCT) and isinstance(v, str | int | float | bool)}
    base = events_header(obs)
    h.update({k: v for k, v in {**base, **meta}.items() if len(str(k)) <= 8})
    cols = []
    for c in ev.columns:
        if c == "obs_id":
            continue
        arr = np.asarray(ev[c].to_numpy())
        tunit = None
        if arr.dtype.kind == "M":  # UTC dates (the time column) -> the header's seconds
            arr = _file_times(arr, h)
            tunit = str(h.get("TIMEUNIT", "s") or "s").strip()
        code = _FORMAT.get(arr.dtype.str[1:])
        if code is None:
            if arr.dtype.kind in "OUS":
                s = arr.astype(str)
                n = max(1, max((len(x) for x in s), default=1))
                cols.append(fits.Column(str(c).upper(), f"{n}A", array=s))
            continue
        unit = tunit or units.get(c) or {"time": "s", "ra": "deg", "dec": "deg", "energy": "TeV",
                                "detx": "deg", "dety": "deg"}.get(str(c))
        cols.append(fits.Column(str(c).upper(), code, unit=unit, array=arr))
    h.update(_GADF)
    h["HDUCLAS1"] = "EVENTS"
    return fits.BinTableHDU.from_columns(cols, header=h, name="EVENTS")


def _time_header(obs: Any) -> dict[str, Any]:
    mt = obs.meta_time
    mjd = float(mt["mjdref"])
    mi = float(mt.get("mjdrefi", np.floor(mjd)))
    return {"MJDREFI": int(mi), "MJDREFF": float(mt.get("mjdreff", mjd - mi)), "TIMEUNIT": "s",
            "TIMESYS": str(mt.get("timesys", "TT")).upper(), "TIMEREF": "LOCAL"}


def _gti_hdu(obs: Any) -> fits.BinTableHDU:
    g = obs.gti
    h = fits.Header()
    h.update(_GADF)
    h["HDUCLAS1"] = "GTI"
    h.update(_time_header(obs))
    h["TSTART"], h["TSTOP"] = float(obs.tstart), float(obs.tstop)
    cols = [fits.Column("START", "D", unit="s", array=np.asarray(g["start"], float)),
            fits.Column("STOP", "D", unit="s", array=np.asarray(g["stop"], float))]
    return fits.BinTableHDU.from_columns(cols, header=h, name="GTI")


def _pointing_hdu(obs: Any) -> fits.BinTableHDU:
    p = obs.pointing
    h = fits.Header()
    h.update(_GADF)
    h["HDUCLAS1"] = "POINTING"
    h["OBS_MODE"] = "POINTING"
    h.update(_time_header(obs))
    h["RA_PNT"], h["DEC_PNT"] = float(p.ra), float(p.dec)
    cols = [fits.Column("TIME", "D", unit="s", array=np.array([float(obs.tstart)])),
            fits.Column("RA_PNT", "D", unit="deg", array=np.array([float(p.ra)])),
            fits.Column("DEC_PNT", "D", unit="deg", array=np.array([float(p.dec)]))]
    return fits.BinTableHDU.from_columns(cols, header=h, name="POINTING")


def _irf_source(obs: Any, kind: str) -> tuple[str, str] | None:
    src = dict(getattr(obs, "irf_sources", {}) or {}).get(kind)
    if src:
        return src
    loc = obs.location(kind) if hasattr(obs, "location") else None
    if loc is not None and loc.path and os.path.isfile(loc.path):
        return loc.path, loc.hdu_name
    return None


def _irf_hdus(obs: Any, opened: dict[str, fits.HDUList]) -> list[tuple[str, str, fits.BinTableHDU]]:
    """``(kind, hdu_class, HDU)`` of each IRF of ``obs``: copied from its file, else serialised."""
    out = []
    for kind in IRF_CLASSES:
        if not _has(obs, kind):
            continue
        src = _irf_source(obs, kind)
        if src is not None:
            path, name = src
            if path not in opened:
                opened[path] = fits.open(path, memmap=False)
            hdu = opened[path][name].copy()
            hdu.header["EXTNAME"] = _HDU_NAMES[kind]
        else:
            hdu = irf_to_hdu(getattr(obs, kind), kind)
        cls = str(hdu.header.get("HDUCLAS4", "") or getattr(obs, kind).attrs.get("hdu_class", ""))
        out.append((kind, cls.strip().lower() or kind, hdu))
    return out


# ---------------------------------------------------------------------------------------------
# the store
# ---------------------------------------------------------------------------------------------


def _utc(obs: Any, t: float) -> Time:
    mt = _time_header(obs)
    ref = Time(mt["MJDREFI"], mt["MJDREFF"], format="mjd", scale=mt["TIMESYS"].lower())
    return (ref + t * u.s).utc


def _index_hdu(frame: pd.DataFrame, name: str, header: Mapping[str, Any],
               units: Mapping[str, str]) -> fits.BinTableHDU:
    cols = []
    for c in frame.columns:
        arr = frame[c].to_numpy()
        if arr.dtype.kind in "OUS":
            s = arr.astype(str)
            cols.append(fits.Column(c, f"{max(1, max((len(x) for x in s), default=1))}A", array=s))
        elif arr.dtype.kind in "iu":
            cols.append(fits.Column(c, "K", unit=units.get(c), array=arr.astype(np.int64)))
        else:
            cols.append(fits.Column(c, "D", unit=units.get(c), array=arr.astype(float)))
    h = fits.Header()
    h.update(_GADF)
    h.update(dict(header))
    return fits.BinTableHDU.from_columns(cols, header=h, name=name)


@dataclass(frozen=True)
class WrittenObservation:
    """What writing one observation file produced: its index rows and time reference.

    Examples
    --------
    >>> WrittenObservation({"OBS_ID": 1}, [], {}).obs_row
    {'OBS_ID': 1}
    """

    obs_row: dict[str, Any]
    hdu_rows: list[dict[str, Any]]
    time_header: dict[str, Any]


def write_observation(obs: Any, folder: str | Path, compress: bool = False,
                      opened: dict[str, fits.HDUList] | None = None) -> WrittenObservation:
    """Write one observation as ``folder/data/obs_<id>.fits`` and return its index rows.

    The building block of :func:`write_dl3` (and of one dask task per observation in
    :func:`~xgamma.simulation.run.simulate_to_store`); ``opened`` caches IRF source files
    within one caller.

    Examples
    --------
    >>> import tempfile
    >>> from xgamma.simulation import demo_irfs, observation_from_irfs
    >>> w = write_observation(observation_from_irfs(demo_irfs(), (0.0, 0.0), "1 min"), tempfile.mkdtemp())
    >>> w.obs_row["OBS_ID"], [r["HDU_TYPE"] for r in w.hdu_rows][:3]
    (1, ['events', 'gti', 'pointing'])
    """
    own = opened is None
    cache: dict[str, fits.HDUList] = {} if opened is None else opened
    try:
        name = f"obs_{int(obs.obs_id):06d}.fits" + (".gz" if compress else "")
        data = Path(folder) / "data"
        data.mkdir(parents=True, exist_ok=True)
        events = _events_hdu(obs)
        hdus: list[tuple[str, str, fits.BinTableHDU]] = [
            ("events", "events", events), ("gti", "gti", _gti_hdu(obs)),
            ("pointing", "pointing", _pointing_hdu(obs))]
        hdus += _irf_hdus(obs, cache)
        fits.HDUList([fits.PrimaryHDU(), *[h for _, _, h in hdus]]).writeto(data / name)
    finally:
        if own:
            for h in cache.values():
                h.close()
    size = (data / name).stat().st_size
    rows = [{"OBS_ID": int(obs.obs_id), "HDU_TYPE": kind, "HDU_CLASS": cls, "FILE_DIR": "data",
             "FILE_NAME": name, "HDU_NAME": h.name, "SIZE": size} for kind, cls, h in hdus]
    return WrittenObservation(_obs_row(obs, events.header, len(obs.events)), rows, _time_header(obs))


def start_store(outdir: str | Path, overwrite: bool = False) -> Path:
    """Check ``outdir`` and create the hidden temporary sibling folder a store is written into.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> start_store(pathlib.Path(tempfile.mkdtemp()) / "s").name.startswith(".s.tmp-")
    True
    """
    out = Path(outdir)
    if out.exists() and not overwrite:
        raise XgammaIOError("output folder exists (pass overwrite=True to replace it)", path=out,
                            expected="a new folder")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{uuid.uuid4().hex[:8]}"
    (tmp / "data").mkdir(parents=True)
    return tmp


def finish_store(tmp: str | Path, outdir: str | Path, written: Iterable[WrittenObservation]) -> Path:
    """Write the index files into ``tmp`` and move it to ``outdir`` (replacing an old one last).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from xgamma.simulation import demo_irfs, observation_from_irfs
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "s"
    >>> tmp = start_store(out)
    >>> w = write_observation(observation_from_irfs(demo_irfs(), (0.0, 0.0), "1 min"), tmp)
    >>> finish_store(tmp, out, [w]).name
    's'
    """
    out, tmp = Path(outdir), Path(tmp)
    items = list(written)
    time_header = items[0].time_header if items else {}
    for w in items[1:]:
        th = w.time_header
        if abs((th["MJDREFI"] + th["MJDREFF"]) - (time_header["MJDREFI"] + time_header["MJDREFF"])) > 1e-9:
            raise XgammaIOError(f"observation {w.obs_row['OBS_ID']}: MJDREF differs from the first "
                                "observation's", path=out, expected="one time reference")
    obs_h = {"HDUCLAS1": "INDEX", "HDUCLAS2": "OBS", **time_header}
    units = {"RA_PNT": "deg", "DEC_PNT": "deg", "ZEN_PNT": "deg", "ALT_PNT": "deg", "AZ_PNT": "deg",
             "ONTIME": "s", "LIVETIME": "s", "TSTART": "s", "TSTOP": "s"}
    _index_hdu(pd.DataFrame([w.obs_row for w in items]), "OBS_INDEX", obs_h, units).writeto(
        tmp / "obs-index.fits.gz")
    _index_hdu(pd.DataFrame([r for w in items for r in w.hdu_rows]), "HDU_INDEX",
               {"HDUCLAS1": "INDEX", "HDUCLAS2": "HDU"}, {"SIZE": "byte"}).writeto(tmp / "hdu-index.fits.gz")
    if out.exists():  # overwrite: swap the folders, then remove the old one
        old = out.parent / f".{out.name}.old-{uuid.uuid4().hex[:8]}"
        out.rename(old)
        tmp.rename(out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        tmp.rename(out)
    return out


def check_ids(ids: Iterable[Any], out: str | Path) -> None:
    """Raise a one-line error when observation ids repeat.

    Examples
    --------
    >>> check_ids([1, 2], "s")
    """
    ids = list(ids)
    if len(set(ids)) != len(ids):
        dup = sorted({i for i in ids if ids.count(i) > 1})
        raise XgammaIOError(f"observation ids repeat: {dup}", path=out, expected="unique obs ids")


def write_dl3(observations: Iterable[Any], outdir: str | Path, overwrite: bool = False,
              compress: bool = False) -> Path:
    """Write observations as a GADF DL3 data store (see the module docstring).

    Parameters
    ----------
    observations : iterable of Observation
        Simulated observations (:func:`~xgamma.simulation.simulate_observation`) or data-store
        observations (their events, GTIs and IRF HDUs are copied).
    outdir : str or Path
        The store folder to create.
    overwrite : bool
        Replace an existing folder (the old one is removed only after the new one is complete).
    compress : bool
        Gzip the observation files (``.fits.gz``; slower to write).

    Returns
    -------
    Path
        ``outdir``, readable with :func:`xgamma.open_store`.

    Raises
    ------
    XgammaIOError
        ``outdir`` exists and ``overwrite`` is False; two observations share an id.

    Examples
    --------
    >>> import tempfile, pathlib, xgamma as xg
    >>> from xgamma.simulation import demo_irfs, observation_from_irfs, simulate_observation
    >>> obs = [simulate_observation(observation_from_irfs(demo_irfs(), (0.0, 0.0), "1 min", obs_id=i), rng=i)
    ...        for i in (1, 2)]
    >>> out = write_dl3(obs, pathlib.Path(tempfile.mkdtemp()) / "s")
    >>> sorted(xg.open_store(out).obs_ids.tolist())
    [1, 2]
    """
    out = Path(outdir)
    obs_list = list(observations)
    if out.exists() and not overwrite:
        start_store(out, overwrite)  # raises the one-line error
    check_ids([o.obs_id for o in obs_list], out)
    tmp = start_store(out, overwrite)
    opened: dict[str, fits.HDUList] = {}
    try:
        written = [write_observation(o, tmp, compress, opened) for o in obs_list]
        return finish_store(tmp, out, written)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        for h in opened.values():
            h.close()


def _has(obs: Any, kind: str) -> bool:
    if kind == "rad_max" and hasattr(obs, "index_meta"):  # a store observation: only a real HDU
        return obs.location("rad_max") is not None
    return getattr(obs, kind, None) is not None


def _obs_row(obs: Any, h: fits.Header, n_events: int) -> dict[str, Any]:
    t0, t1 = float(obs.tstart), float(obs.tstop)
    start, end = _utc(obs, t0).isot, _utc(obs, t1).isot
    info = dict(getattr(obs, "info", {}) or {})
    p = obs.pointing

    def num(key: str) -> float:
        v = info.get(key)
        try:
            return float(v) if v is not None else float("nan")
        except (TypeError, ValueError):
            return float("nan")

    alt = p.alt if p.alt is not None else num("alt_pnt")
    return {
        "OBS_ID": int(obs.obs_id), "RA_PNT": float(p.ra), "DEC_PNT": float(p.dec),
        "ZEN_PNT": 90.0 - alt if np.isfinite(alt) else float("nan"), "ALT_PNT": alt,
        "AZ_PNT": p.az if p.az is not None else num("az_pnt"),
        "ONTIME": float(obs.ontime), "LIVETIME": float(obs.livetime), "DEADC": float(obs.deadc),
        "TSTART": t0, "TSTOP": t1, "DATE-OBS": start[:10], "TIME-OBS": start[11:19],
        "DATE-END": end[:10], "TIME-END": end[11:19],
        "OBS_MODE": str(h.get("OBS_MODE", "POINTING") or "POINTING"),
        "N_TELS": int(info.get("n_tels", -1) or -1) if str(info.get("n_tels", "")).strip().lstrip("-").isdigit() else -1,
        "TELLIST": str(info.get("tellist", "") or ""), "QUALITY": int(info.get("quality", 0) or 0)
        if str(info.get("quality", "0")).strip().lstrip("-").isdigit() else 0,
        "OBJECT": str(h.get("OBJECT", "")), "EVENT_COUNT": int(n_events),
    }


# ---------------------------------------------------------------------------------------------
# the format checker
# ---------------------------------------------------------------------------------------------

#: Mandatory columns (name -> unit, ``None``: dimensionless or any) of each HDU class.
COLUMNS: dict[str, dict[str, str | None]] = {
    "events": {"EVENT_ID": None, "TIME": "s", "RA": "deg", "DEC": "deg", "ENERGY": "TeV"},
    "gti": {"START": "s", "STOP": "s"},
    "aeff_2d": {"ENERG_LO": "TeV", "ENERG_HI": "TeV", "THETA_LO": "deg", "THETA_HI": "deg",
                "EFFAREA": "m2"},
    "edisp_2d": {"ENERG_LO": "TeV", "ENERG_HI": "TeV", "MIGRA_LO": None, "MIGRA_HI": None,
                 "THETA_LO": "deg", "THETA_HI": "deg", "MATRIX": None},
    "psf_table": {"ENERG_LO": "TeV", "ENERG_HI": "TeV", "THETA_LO": "deg", "THETA_HI": "deg",
                  "RAD_LO": "deg", "RAD_HI": "deg", "RPSF": "sr-1"},
    "psf_3gauss": {"ENERG_LO": "TeV", "ENERG_HI": "TeV", "THETA_LO": "deg", "THETA_HI": "deg",
                   "SCALE": None, "SIGMA_1": "deg", "AMPL_2": None, "SIGMA_2": "deg",
                   "AMPL_3": None, "SIGMA_3": "deg"},
    "psf_king": {"ENERG_LO": "TeV", "ENERG_HI": "TeV", "THETA_LO": "deg", "THETA_HI": "deg",
                 "GAMMA": None, "SIGMA": "deg"},
    "bkg_3d": {"ENERG_LO": "TeV", "ENERG_HI": "TeV", "DETX_LO": "deg", "DETX_HI": "deg",
               "DETY_LO": "deg", "DETY_HI": "deg", "BKG": "s-1 MeV-1 sr-1"},
    "bkg_2d": {"ENERG_LO": "TeV", "ENERG_HI": "TeV", "THETA_LO": "deg", "THETA_HI": "deg",
               "BKG": "s-1 MeV-1 sr-1"},
    "rad_max_2d": {"ENERG_LO": "TeV", "ENERG_HI": "TeV", "THETA_LO": "deg", "THETA_HI": "deg",
                   "RAD_MAX": "deg"},
    # GADF obs-index "Required columns" (ALT_PNT / AZ_PNT: only for OBS_MODE = DRIFT, below)
    "obs_index": {"OBS_ID": None, "OBS_MODE": None, "RA_PNT": "deg", "DEC_PNT": "deg",
                  "TSTART": "s", "TSTOP": "s"},
    "hdu_index": {"OBS_ID": None, "HDU_TYPE": None, "HDU_CLASS": None, "FILE_DIR": None,
                  "FILE_NAME": None, "HDU_NAME": None},
}
#: Optional columns whose unit is checked when they are present.
OPTIONAL_COLUMNS: dict[str, dict[str, str | None]] = {
    "obs_index": {"ZEN_PNT": "deg", "ALT_PNT": "deg", "AZ_PNT": "deg", "ONTIME": "s",
                  "LIVETIME": "s"},
}
#: Column names of older files that readers accept in place of the GADF name (a warning):
#: ``ETRUE_LO``/``ETRUE_HI`` and ``BGD`` (CTA first data challenge IRFs).
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {"ENERG_LO": ("ETRUE_LO",), "ENERG_HI": ("ETRUE_HI",),
                                              "BKG": ("BGD",)}
#: Mandatory columns whose absence is only a warning (nothing in xgamma needs them to read the
#: file): the observation mode of the obs index.
_SOFT_COLUMNS = ("OBS_MODE",)

_TIME_KEYS = ("MJDREFI", "MJDREFF", "TIMEUNIT", "TIMESYS")
#: Mandatory header keywords of an EVENTS HDU (GADF events spec, "Mandatory header keywords",
#: and the time keywords of the GADF time page; ``RADECSYS``/``RADESYS`` checked apart).
EVENTS_KEYS = ("HDUCLASS", "HDUDOC", "HDUVERS", "HDUCLAS1", "ORIGIN", "CREATOR", "TELESCOP",
               "INSTRUME", "OBS_MODE", "OBS_ID", "TSTART", "TSTOP", *_TIME_KEYS, "TIMEREF",
               "EQUINOX", "ONTIME", "LIVETIME", "DEADC", "RA_PNT", "DEC_PNT")
#: Mandatory keywords without which a file cannot be read (an error; the others are warnings):
#: "No defaults exist for MJDREFI, MJDREFF and TIMESYS, if those are missing science tools
#: should raise an error" (GADF time page); TIMEUNIT / TIMEREF default to 's' / 'LOCAL'.
_HARD_KEYS = ("OBS_ID", "TSTART", "TSTOP", "MJDREFI", "MJDREFF", "TIMESYS", "ONTIME", "LIVETIME",
              "DEADC", "RA_PNT", "DEC_PNT")
_HDU_TYPES = ("events", "gti", "aeff", "psf", "edisp", "bkg", "rad_max", "pointing")
_HDU_CLASSES = ("events", "gti", "aeff_2d", "edisp_2d", "psf_table", "psf_3gauss", "psf_king",
                "bkg_2d", "bkg_3d", "rad_max_2d", "pointing")
#: HDUCLAS2 of each IRF type. The PSF is 'RPSF' in the spec's HDU-class table and 'PSF' on its
#: PSF format pages: both are accepted.
_CLAS2 = {"aeff": ("EFF_AREA",), "edisp": ("EDISP",), "psf": ("PSF", "RPSF"), "bkg": ("BKG",),
          "rad_max": ("RAD_MAX",)}
#: Prefix of a warning (a departure from the spec that readers tolerate) in the internal lists.
_WARN = "\x00warning\x00"


def _warn(msg: str) -> str:
    return _WARN + msg


def _unit(text: str) -> u.UnitBase | None:
    """The unit of a FITS column string (FITS standard, else the OGIP convention); None if neither."""
    for fmt in ("fits", "ogip", None):
        try:
            unit = u.Unit(text, format=fmt, parse_strict="raise")
        except (ValueError, TypeError):
            continue
        if not isinstance(unit, u.UnrecognizedUnit):
            return unit
    return None


def _check_columns(hdu: Any, cls: str, where: str, soft: bool = False) -> list[str]:
    """Required columns and their units. With ``soft`` (index tables: a summary of what the
    data HDUs carry) a missing column other than ``OBS_ID`` or a column without unit is a
    warning; a wrong unit is always an error."""
    out = []
    names = {c.name.upper(): c for c in hdu.columns}
    cols = [(col, unit, True) for col, unit in COLUMNS[cls].items()]
    cols += [(col, unit, False) for col, unit in OPTIONAL_COLUMNS.get(cls, {}).items()]
    for col, unit, required in cols:
        c = names.get(col)
        if c is None:
            alias = next((a for a in COLUMN_ALIASES.get(col, ()) if a in names), None)
            if alias is not None:
                out.append(_warn(f"{where}: column {alias} in place of the GADF column {col}"))
                c = names[alias]
            elif not required:
                continue
            elif col in _SOFT_COLUMNS or (soft and col != "OBS_ID"):
                out.append(_warn(f"{where}: missing column {col} (a GADF required column)"))
                continue
            else:
                out.append(f"{where}: missing column {col}")
                continue
        if unit is not None:
            have = (c.unit or "").strip()
            if not have and (soft or unit == "s"):  # times without a unit are read in TIMEUNIT
                out.append(_warn(f"{where}: column {c.name} has no unit (GADF: unit {unit})"))
                continue
            parsed = _unit(have) if have else None
            ok = parsed is not None and parsed.is_equivalent(u.Unit(unit))
            if not ok:
                out.append(f"{where}: column {c.name} has unit {have!r}, expected {unit!r}")
            elif _unit_is_fits(have) is False:
                out.append(_warn(f"{where}: column {c.name} has unit {have!r}, not a FITS-standard "
                                 f"unit string (read as {parsed}; GADF: unit {unit})"))
    return out


def _unit_is_fits(text: str) -> bool:
    try:
        return not isinstance(u.Unit(text, format="fits", parse_strict="raise"), u.UnrecognizedUnit)
    except (ValueError, TypeError):
        try:  # the generic format (``m2``, ``s-1 MeV-1 sr-1``) that xgamma and Gammapy write
            return not isinstance(u.Unit(text, parse_strict="raise"), u.UnrecognizedUnit)
        except (ValueError, TypeError):
            return False


def _check_keys(h: Mapping[str, Any], keys: Iterable[str], where: str,
                hard: Iterable[str] | None = None) -> list[str]:
    """Missing keywords: errors for those in ``hard`` (all when None), else warnings."""
    hard = set(keys if hard is None else hard)
    return [f"{where}: missing header keyword {k}" if k in hard
            else _warn(f"{where}: missing header keyword {k} (a GADF mandatory keyword)")
            for k in keys if k not in h]


def _check_value(h: Mapping[str, Any], key: str, allowed: Iterable[str], where: str) -> list[str]:
    """An ``HDUCLASn`` value other than the spec's: a warning (the HDU index says what the HDU
    is); a missing keyword is reported by :func:`_check_keys`."""
    v = str(h.get(key, "")).strip().upper()
    allowed = [a.upper() for a in allowed]
    if key not in h or v in allowed:
        return []
    return [_warn(f"{where}: {key} = {v!r}, GADF: {' or '.join(allowed)}")]


def _check_events(hdu: Any, where: str, obs_id: Any = None) -> list[str]:
    h = hdu.header
    drift = str(h.get("OBS_MODE", "")).strip().upper() == "DRIFT"
    keys = [k for k in EVENTS_KEYS if not (drift and k in ("RA_PNT", "DEC_PNT"))]
    keys += ["ALT_PNT", "AZ_PNT"] if drift else []
    out = _check_columns(hdu, "events", where)
    out += _check_keys(h, keys, where, hard=[*_HARD_KEYS, "ALT_PNT", "AZ_PNT"])
    if "RADECSYS" not in h and "RADESYS" not in h:
        out.append(_warn(f"{where}: missing header keyword RADECSYS (a GADF mandatory keyword)"))
    out += _check_value(h, "HDUCLASS", ["GADF"], where) + _check_value(h, "HDUCLAS1", ["EVENTS"], where)
    if obs_id is not None and "OBS_ID" in h and int(h["OBS_ID"]) != int(obs_id):
        out.append(f"{where}: OBS_ID = {h['OBS_ID']} but the index says {obs_id}")
    try:
        on, live, dc = float(h["ONTIME"]), float(h["LIVETIME"]), float(h["DEADC"])
        if not 0 <= dc <= 1:
            out.append(f"{where}: DEADC = {dc:g} outside [0, 1]")
        if on > 0 and abs(live / on - dc) > 1e-4 * max(dc, 1e-9):
            out.append(f"{where}: DEADC = {dc:g} but LIVETIME / ONTIME = {live / on:g}")
        t0, t1 = float(h["TSTART"]), float(h["TSTOP"])
        if not t1 > t0:
            out.append(f"{where}: TSTOP <= TSTART")
        if "TIME" in [c.name.upper() for c in hdu.columns] and len(hdu.data):
            t = np.asarray(hdu.data["TIME"], float)
            early, late = t0 - t.min(), t.max() - t1
            if early > 1e-6 or late > 1e-6:  # TSTART / TSTOP: start / end time of observation
                out.append(_warn(f"{where}: event times outside [TSTART, TSTOP] (by up to "
                                 f"{max(early, late):.3g} s)"))
    except (KeyError, TypeError, ValueError):
        pass
    return out


def _check_irf(hdu: Any, hdu_type: str, hdu_class: str, where: str) -> list[str]:
    h = hdu.header
    out = _check_keys(h, ("HDUCLASS", "HDUDOC", "HDUVERS", "HDUCLAS1", "HDUCLAS2", "HDUCLAS3",
                          "HDUCLAS4"), where, hard=())
    out += _check_value(h, "HDUCLASS", ["GADF"], where) + _check_value(h, "HDUCLAS1", ["RESPONSE"], where)
    out += _check_value(h, "HDUCLAS2", _CLAS2[hdu_type], where)
    out += _check_value(h, "HDUCLAS3", ["FULL-ENCLOSURE", "POINT-LIKE"], where)
    out += _check_value(h, "HDUCLAS4", [hdu_class], where)
    if hdu_class in COLUMNS:
        out += _check_columns(hdu, hdu_class, where)
    if hdu_class in ("bkg_3d", "bkg_2d") and str(h.get("FOVALIGN", "RADEC")).strip().upper() not in ("RADEC", "ALTAZ"):
        out.append(f"{where}: FOVALIGN = {h.get('FOVALIGN')!r}, expected RADEC or ALTAZ")
    return out


@dataclass
class GadfReport:
    """What :func:`gadf_report` found: ``errors`` (the file cannot be read as GADF says, or is
    inconsistent: a missing required column or time-reference keyword, a wrong unit, a missing
    file or HDU, ``DEADC != LIVETIME / ONTIME``) and ``warnings`` (departures from the spec's
    wording that readers tolerate: a missing descriptive keyword such as ``OBS_MODE``, an
    ``HDUCLASn`` value or column name of an older convention, a time column without unit,
    event times past ``TSTOP``, an HDU class outside GADF that is not checked further).

    Examples
    --------
    >>> r = GadfReport(errors=[], warnings=["obs index: no OBS_MODE column"])
    >>> bool(r.errors), len(r.warnings)
    (False, 1)
    """

    errors: list[str]
    warnings: list[str]


def gadf_report(path: str | Path, obs_ids: Iterable[int] | None = None) -> GadfReport:
    """Check a GADF data store, an HDU index file or one DL3 file; errors and warnings apart.

    ``path`` is a folder with ``hdu-index.fits[.gz]`` (and ``obs-index.fits[.gz]``), an HDU
    index file of another name (its obs index: the same name with ``hdu-index`` replaced by
    ``obs-index``, when it exists), or a DL3 file (its HDUs classified by ``HDUCLASn``). With
    ``obs_ids`` only the HDU-index rows of those observations are checked (the index tables
    themselves always are). See :class:`GadfReport` for what is an error and what a warning.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from xgamma.simulation import demo_irfs, observation_from_irfs, simulate_observation
    >>> obs = simulate_observation(observation_from_irfs(demo_irfs(), (83.6, 22.5), "1 min"), rng=0)
    >>> out = write_dl3([obs], pathlib.Path(tempfile.mkdtemp()) / "store")
    >>> f = next((out / "data").iterdir())
    >>> with fits.open(f, mode="update") as hl:
    ...     del hl["EVENTS"].header["OBS_MODE"]
    >>> report = gadf_report(out)
    >>> report.errors, [w.split(": ", 1)[1] for w in report.warnings]
    ([], ['missing header keyword OBS_MODE (a GADF mandatory keyword)'])
    """
    lines = _check_path(Path(path), None if obs_ids is None else {int(i) for i in obs_ids})
    return GadfReport([x for x in lines if not x.startswith(_WARN)],
                      [x[len(_WARN):] for x in lines if x.startswith(_WARN)])


def check_gadf(path: str | Path, obs_ids: Iterable[int] | None = None) -> list[str]:
    """Check a GADF data store (a folder with the index files), an HDU index or one DL3 file.

    Returns one line per error (``file [HDU name]: what``); an empty list means the store
    follows the GADF spec as far as these checks go: index tables (header classes, required
    columns, valid HDU types and classes, files and HDUs that exist), EVENTS (mandatory
    columns with units and header keywords, ``DEADC = LIVETIME / ONTIME``, ``OBS_ID``
    matching the index), GTI (columns, time keywords) and IRFs (axis and value columns with
    their units). Tolerated departures (e.g. ``OBS_MODE`` missing, as in the public H.E.S.S.,
    MAGIC and VERITAS files) are warnings: :func:`gadf_report` lists them.

    Examples
    --------
    >>> check_gadf("/nonexistent")
    ['/nonexistent: not found']
    """
    return gadf_report(path, obs_ids).errors


def _check_obs_index(t: Any, w: str) -> list[str]:
    cols = [c.upper() for c in t.columns.names]
    drift = False
    if "OBS_MODE" in cols and len(t.data):
        modes = np.char.upper(np.char.strip(np.asarray(t.data["OBS_MODE"]).astype(str)))
        drift = bool((modes == "DRIFT").all())
    # RA_PNT / DEC_PNT "Not mandatory if OBS_MODE=DRIFT"; ALT_PNT / AZ_PNT "Only mandatory if
    # OBS_MODE=DRIFT"
    out = [x for x in _check_columns(t, "obs_index", w, soft=True)
           if not (drift and ("column RA_PNT (" in x or "column DEC_PNT (" in x))]
    out += [_warn(f"{w}: missing column {c} (a GADF required column for OBS_MODE = DRIFT)")
            for c in ("ALT_PNT", "AZ_PNT") if drift and c not in cols]
    return out


def _is_hdu_index(p: Path) -> bool:
    try:
        with fits.open(p) as hl:
            return len(hl) > 1 and "HDU_TYPE" in [c.upper() for c in getattr(hl[1], "columns", fits.ColDefs([])).names]
    except (OSError, ValueError):
        return False


def _check_path(p: Path, obs_ids: set[int] | None) -> list[str]:
    if not p.exists():
        return [f"{p}: not found"]
    if p.is_file() and not _is_hdu_index(p):
        return _check_file(p, None, None)
    out: list[str] = []
    if p.is_file():
        hdu_file: Path | None = p
        other = p.with_name(p.name.replace("hdu-index", "obs-index"))
        obs_file = other if other != p and other.is_file() else None
        if obs_file is None:
            out.append(_warn(f"{p}: no obs index beside it (GADF: obs-index.fits.gz)"))
    else:
        hdu_file = next((p / n for n in ("hdu-index.fits.gz", "hdu-index.fits") if (p / n).is_file()), None)
        obs_file = next((p / n for n in ("obs-index.fits.gz", "obs-index.fits") if (p / n).is_file()), None)
        if obs_file is None:
            out.append(f"{p}: no obs-index.fits[.gz]")
    if obs_file is not None:
        with fits.open(obs_file) as hl:
            t = hl[1]
            w = f"{obs_file} [HDU {t.name}]"
            # "The standard FITS reference time header keywords should be used"
            out += _check_keys(t.header, ("HDUCLASS", "HDUDOC", "HDUVERS", "HDUCLAS1", "HDUCLAS2", *_TIME_KEYS),
                               w, hard=())
            out += _check_value(t.header, "HDUCLAS1", ["INDEX"], w) + _check_value(t.header, "HDUCLAS2", ["OBS"], w)
            out += _check_obs_index(t, w)
    if hdu_file is None:
        return [*out, f"{p}: no hdu-index.fits[.gz]"]
    with fits.open(hdu_file) as hl:
        t = hl[1]
        w = f"{hdu_file} [HDU {t.name}]"
        out += _check_keys(t.header, ("HDUCLASS", "HDUDOC", "HDUVERS", "HDUCLAS1", "HDUCLAS2"), w, hard=())
        out += _check_value(t.header, "HDUCLAS1", ["INDEX"], w) + _check_value(t.header, "HDUCLAS2", ["HDU"], w)
        cols = _check_columns(t, "hdu_index", w, soft=True)
        out += cols
        if any(not c.startswith(_WARN) for c in cols):
            return out
        base = hdu_file.parent / str(t.header.get("BASE_DIR", "") or "")
        rows = [{k: (v.strip() if isinstance(v, str) else v) for k, v in zip(t.columns.names, r, strict=True)}
                for r in t.data.tolist()]
    by_file: dict[Path, list[dict[str, Any]]] = {}
    for r in rows:
        if obs_ids is not None and int(r["OBS_ID"]) not in obs_ids:
            continue
        typ, cls = str(r["HDU_TYPE"]).lower(), str(r["HDU_CLASS"]).lower()
        if typ not in _HDU_TYPES:
            out.append(f"{hdu_file}: obs {r['OBS_ID']}: invalid HDU_TYPE {typ!r}")
        if cls not in _HDU_CLASSES:
            out.append(_warn(f"{hdu_file}: obs {r['OBS_ID']}: HDU_CLASS {cls!r} is not a GADF class "
                             "(its HDU is not checked)"))
        by_file.setdefault(base / str(r["FILE_DIR"]) / str(r["FILE_NAME"]), []).append(r)
    for f, rs in by_file.items():
        out += _check_file(f, rs, None)
    return out


def _check_file(f: Path, rows: list[dict[str, Any]] | None, _: Any) -> list[str]:
    if not f.is_file():
        return [f"{f}: file not found (listed in the HDU index)"]
    out: list[str] = []
    with fits.open(f) as hl:
        names = {h.name.upper(): h for h in hl}
        if rows is None:  # a lone file: classify by HDUCLASn
            rows = []
            for h in hl[1:]:
                c1 = str(h.header.get("HDUCLAS1", "")).strip().upper()
                if c1 in ("EVENTS", "GTI", "POINTING"):
                    rows.append({"HDU_TYPE": c1.lower(), "HDU_CLASS": c1.lower(), "HDU_NAME": h.name, "OBS_ID": None})
                elif c1 == "RESPONSE":
                    typ = next((k for k, v in _CLAS2.items() if str(h.header.get("HDUCLAS2", "")).strip().upper() in v), "")
                    rows.append({"HDU_TYPE": typ, "HDU_CLASS": str(h.header.get("HDUCLAS4", "")).strip().lower(),
                                 "HDU_NAME": h.name, "OBS_ID": None})
            for r in [r for r in rows if r["HDU_TYPE"] in _CLAS2 and r["HDU_CLASS"] not in _HDU_CLASSES]:
                out.append(_warn(f"{f} [HDU {r['HDU_NAME']}]: HDUCLAS4 = {r['HDU_CLASS'].upper()!r} is not a "
                                 "GADF class (its HDU is not checked)"))
        for r in rows:
            name = str(r["HDU_NAME"]).upper()
            w = f"{f} [HDU {name}]"
            hdu = names.get(name)
            if hdu is None:
                out.append(f"{f}: no HDU {name} (listed in the HDU index)")
                continue
            typ, cls = str(r["HDU_TYPE"]).lower(), str(r["HDU_CLASS"]).lower()
            if typ == "events":
                out += _check_events(hdu, w, r.get("OBS_ID"))
            elif typ == "gti":
                out += _check_columns(hdu, "gti", w)
                out += _check_keys(hdu.header, _TIME_KEYS, w, hard=("MJDREFI", "MJDREFF", "TIMESYS"))
                out += _check_value(hdu.header, "HDUCLAS1", ["GTI"], w)
            elif typ == "pointing":
                out += _check_value(hdu.header, "HDUCLAS1", ["POINTING"], w)
            elif typ in _CLAS2 and cls in _HDU_CLASSES:
                out += _check_irf(hdu, typ, cls, w)
    return out
