"""GADF data stores (obs-index + hdu-index) and observations.

:func:`open_store` reads the two index tables of a folder; :class:`DataStore` selects
observations and gives :class:`Observation` objects, whose events, GTIs and IRFs are read on
first use, each FITS file once for all the HDUs of the observation that it holds.
:meth:`DataStore.events` gives the events of many observations as a dask DataFrame, one
partition per observation.

Examples
--------
>>> import xgamma as xg
>>> d = xg.data_dir(required=False)
>>> if d is not None:
...     store = xg.open_store(d / "hess-dl3-dr1")
...     obs = store.observation(23523)
...     assert len(obs.events) == 7613 and obs.aeff.dims == ("energy_true", "offset")
"""

from __future__ import annotations

import os
import posixpath
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fsspec
import numpy as np
import pandas as pd
import xarray as xr

from xgamma.errors import XgammaIOError
from xgamma.io import fits, gadf
from xgamma.io.fits import is_url
from xgamma.io.timeslice import TimeSlice, as_time, time_intervals

__all__ = ["open_store", "DataStore", "Observation", "Pointing", "HDULocation"]

_REQUIRED = {
    "full-enclosure": ("aeff", "edisp", "psf", "bkg"),
    "point-like": ("aeff", "edisp", "rad_max"),
}
_IRF_TYPES = ("aeff", "edisp", "psf", "bkg", "rad_max")


@dataclass(frozen=True)
class HDULocation:
    """Where one HDU of an observation lives (a row of the HDU index).

    Examples
    --------
    >>> [f for f in HDULocation.__dataclass_fields__][:2]
    ['hdu_type', 'hdu_class']
    """

    hdu_type: str
    hdu_class: str
    path: str
    hdu_name: str


@dataclass(frozen=True)
class Pointing:
    """Pointing of an observation: ``mode`` is ``"pointing"`` or ``"drift"``; angles in deg.

    Examples
    --------
    >>> import xgamma as xg
    >>> xg.open_store(xg.data_dir() / "hess-dl3-dr1").observation(23523).pointing.mode
    'pointing'
    """

    mode: str
    ra: float | None
    dec: float | None
    alt: float | None = None
    az: float | None = None


def _num(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if np.isfinite(f) else None


class Observation:
    """One observation: events, GTIs, IRFs and header metadata, read lazily.

    Built by :meth:`DataStore.observation`. Picklable (the cached content is not pickled).

    Examples
    --------
    >>> import xgamma as xg
    >>> d = xg.data_dir(required=False)
    >>> if d is not None:
    ...     obs = xg.open_store(d / "hess-dl3-dr1").observation(23523)
    ...     assert obs.pointing.mode == "pointing" and round(obs.pointing.ra, 4) == 83.6333
    """

    def __init__(self, obs_id: Any, hdus: Sequence[HDULocation], info: dict[str, Any] | None = None,
                 index_meta: dict[str, Any] | None = None) -> None:
        self.obs_id = obs_id
        self.hdus = tuple(hdus)
        self.info = dict(info or {})
        self.index_meta = dict(index_meta or {})
        self._products: dict[str, Any] = {}
        self._loaded: set[str] = set()

    def __getstate__(self) -> dict[str, Any]:
        return {"obs_id": self.obs_id, "hdus": self.hdus, "info": self.info,
                "index_meta": self.index_meta}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["obs_id"], state["hdus"], state["info"], state["index_meta"])  # type: ignore[misc]

    def detached(self) -> Observation:
        """A copy that shares the products read so far and reads anything else into itself
        only: a task reducing the copy neither reads a file again that this observation has
        read nor fills this observation with what it reads (the products are not modified by
        xgamma's reductions).

        Examples
        --------
        >>> import xgamma as xg
        >>> d = xg.data_dir(required=False)
        >>> if d is not None:
        ...     obs = xg.open_store(d / "hess-dl3-dr1").observation(23523)
        ...     _ = obs.livetime  # reads the run's file
        ...     copy = obs.detached()
        ...     assert copy.events is obs.events and copy is not obs
        """
        new = Observation(self.obs_id, self.hdus, self.info, self.index_meta)
        new._products = dict(self._products)
        new._loaded = set(self._loaded)
        return new

    def __repr__(self) -> str:
        types = ", ".join(h.hdu_type for h in self.hdus)
        return f"Observation(obs_id={self.obs_id!r}, hdus=[{types}])"

    # -- reading ------------------------------------------------------------------------------

    def location(self, hdu_type: str) -> HDULocation | None:
        """The index row of ``hdu_type`` (first one if several)."""
        return next((h for h in self.hdus if h.hdu_type == hdu_type), None)

    def _load(self, hdu_type: str) -> Any:
        loc = self.location(hdu_type)
        if loc is None:
            return None
        if loc.path not in self._loaded:
            self._read_file(loc.path)
        return self._products.get(hdu_type)

    def _read_file(self, path: str) -> None:
        in_file = [h for h in self.hdus if h.path == path]
        wanted: list[str | int] | None = [h.hdu_name for h in in_file]
        if any("map" in h.hdu_class for h in in_file):
            wanted = None  # map IRFs need their BANDS tables too
        raws = gadf.read_hdus(path, wanted, whole=True)
        by_name = {r.name: r for r in raws}
        for loc in in_file:
            if loc.hdu_type in self._products:
                continue
            raw = by_name.get(loc.hdu_name.strip().upper())
            if raw is None:
                raise XgammaIOError(f"no HDU {loc.hdu_name} (index row {loc.hdu_type})",
                                    path=path, hdu=loc.hdu_name,
                                    expected=f"one of {[r.name for r in raws]}")
            self._products[loc.hdu_type] = self._build(loc, raw, raws)
        self._loaded.add(path)

    def _build(self, loc: HDULocation, raw: gadf.RawHDU, raws: list[gadf.RawHDU]) -> Any:
        if loc.hdu_type == "events":
            return gadf.events_from_hdu(raw, obs_id=self.obs_id)
        if loc.hdu_type == "gti":
            return gadf.gti_from_hdu(raw)
        if loc.hdu_type in _IRF_TYPES or loc.hdu_class in gadf._IRF_SPEC or "map" in loc.hdu_class:
            return gadf.irf_from_hdus(raw, gadf._bands_of(raw, raws), loc.hdu_class)
        return raw

    def read_events(self) -> pd.DataFrame:
        """Read the events afresh, decoding only the EVENTS HDU (no caching).

        Examples
        --------
        >>> import xgamma as xg
        >>> d = xg.data_dir(required=False)
        >>> if d is not None:
        ...     obs = xg.open_store(d / "hess-dl3-dr1").observation(23523)
        ...     assert len(obs.read_events()) == 7613
        """
        if "events" in self._products:
            return self._products["events"]
        return self._events_fresh()

    def _events_fresh(self) -> pd.DataFrame:
        loc = self.location("events")
        if loc is None:
            raise XgammaIOError(f"observation {self.obs_id} has no events HDU in the index",
                                expected="an 'events' row in the HDU index")
        return gadf.events_from_hdu(gadf.read_hdus(loc.path, [loc.hdu_name])[0],
                                    obs_id=self.obs_id)

    def load(self) -> Observation:
        """Read every HDU of the observation now (each file once); returns ``self``."""
        for loc in self.hdus:
            self._load(loc.hdu_type)
        return self

    # -- data -----------------------------------------------------------------------------

    @property
    def events(self) -> pd.DataFrame:
        """Event list (see :func:`xgamma.io.gadf.read_events`)."""
        ev = self._load("events")
        if ev is None:
            raise XgammaIOError(f"observation {self.obs_id} has no events HDU in the index",
                                expected="an 'events' row in the HDU index")
        return ev

    @property
    def gti(self) -> pd.DataFrame:
        """Good time intervals (``start``, ``stop`` in s since MJDREF); TSTART-TSTOP if absent."""
        g = self._load("gti")
        if g is None:
            g = pd.DataFrame({"start": [self.tstart], "stop": [self.tstop]})
            g.attrs = {"units": {"start": "s", "stop": "s"}, "mjdref": self.meta_time["mjdref"]}
        return g

    @property
    def aeff(self) -> xr.DataArray | None:
        """Effective area ``(energy_true, offset)`` in cm2, or None."""
        return self._load("aeff")

    @property
    def edisp(self) -> xr.DataArray | None:
        """Energy dispersion ``(energy_true, migra, offset)``, or None."""
        return self._load("edisp")

    @property
    def psf(self) -> xr.DataArray | None:
        """PSF table ``(energy_true, offset, rad)`` in sr-1 (parametric PSFs evaluated), or None."""
        return self._load("psf")

    @property
    def bkg(self) -> xr.DataArray | None:
        """Background rate ``(energy, fov_lon, fov_lat)`` or ``(energy, offset)``, or None."""
        return self._load("bkg")

    @property
    def rad_max(self) -> xr.DataArray | None:
        """RAD_MAX ``(energy, offset)`` in deg: the HDU, else the RAD_MAX header keyword of the
        effective area (point-like IRFs of MAGIC/VERITAS), else None."""
        r = self._load("rad_max")
        if r is None and self.location("aeff") is not None:
            a = self.aeff
            if a is not None and "rad_max_deg" in a.attrs:
                r = gadf.rad_max_from_header(a, float(a.attrs["rad_max_deg"]))
        return r

    @property
    def is_point_like(self) -> bool:
        """True for point-like IRFs (HDUCLAS3 = POINT-LIKE, or a RAD_MAX)."""
        a = self.aeff
        return bool((a is not None and a.attrs.get("point_like")) or self.rad_max is not None)

    # -- metadata ---------------------------------------------------------------------------

    @property
    def meta(self) -> dict[str, Any]:
        """Header cards of the EVENTS HDU."""
        return dict(self.events.attrs.get("meta", {}))

    @property
    def meta_time(self) -> dict[str, Any]:
        """MJDREF and time system, from the EVENTS header (obs-index header as fallback)."""
        if self.location("events") is not None:
            a = self.events.attrs
            return {k: a[k] for k in ("mjdref", "mjdrefi", "mjdreff", "timesys") if k in a}
        return gadf._time_attrs(self.index_meta)

    @property
    def time_ref(self) -> Any:
        """MJDREF as an :class:`astropy.time.Time`."""
        from astropy.time import Time

        m = self.meta_time
        return Time(m.get("mjdrefi", m["mjdref"]), m.get("mjdreff", 0.0), format="mjd",
                    scale=str(m.get("timesys", "TT")).lower())

    def _get(self, col: str, key: str) -> Any:
        """Header keyword ``key`` of the EVENTS HDU, else obs-index column ``col``."""
        v = self.meta.get(key) if self.location("events") is not None else None
        if v is None or (isinstance(v, str) and not v.strip()):
            v = self.info.get(col)
        return v

    def _value(self, col: str, key: str) -> float | None:
        v = _num(self._get(col, key))
        if v is None:
            v = _num(self.info.get(col))
        return v

    @property
    def tstart(self) -> float | None:
        """Start (s since MJDREF). Times, pointing and livetime come from the EVENTS header,
        with the obs index as fallback."""
        return self._value("tstart", "TSTART")

    @property
    def tstop(self) -> float | None:
        """Stop (s since MJDREF)."""
        return self._value("tstop", "TSTOP")

    @property
    def ontime(self) -> float:
        """Observation time (s): ONTIME, else the sum of the GTIs."""
        v = self._value("ontime", "ONTIME")
        if v is None:
            g = self.gti
            v = float((g["stop"] - g["start"]).sum())
        return v

    @property
    def deadc(self) -> float:
        """Dead-time correction factor DEADC = livetime / ontime (GADF meaning; 1 if unknown)."""
        v = self._value("deadc", "DEADC")
        if v is None:
            lt = self._value("livetime", "LIVETIME")
            v = lt / self.ontime if lt is not None and self.ontime else 1.0
        return v

    @property
    def dead_time_fraction(self) -> float:
        """``1 - deadc``."""
        return 1.0 - self.deadc

    @property
    def livetime(self) -> float:
        """Live time (s): LIVETIME, else ontime * DEADC."""
        v = self._value("livetime", "LIVETIME")
        return v if v is not None else self.ontime * self.deadc

    @property
    def pointing(self) -> Pointing:
        """Pointing from the EVENTS header (obs index as fallback); drift scans have no RA/Dec."""
        mode = str(self._get("obs_mode", "OBS_MODE") or "").strip().upper()
        kind = "drift" if mode == "DRIFT" else "pointing"
        ra, dec = self._value("ra_pnt", "RA_PNT"), self._value("dec_pnt", "DEC_PNT")
        if kind == "drift":
            ra = dec = None
        return Pointing(kind, ra, dec, self._value("alt_pnt", "ALT_PNT"),
                        self._value("az_pnt", "AZ_PNT"))

    @property
    def pointing_radec(self) -> Any:
        """Pointing as an ICRS :class:`~astropy.coordinates.SkyCoord` (None for drift scans)."""
        from astropy.coordinates import SkyCoord

        p = self.pointing
        if p.ra is None or p.dec is None:
            return None
        return SkyCoord(p.ra, p.dec, unit="deg", frame="icrs")

    def slice_time(self, t_start: Any, t_stop: Any) -> TimeSlice:
        """The observation cut to ``[t_start, t_stop)`` (see :class:`TimeSlice`).

        ``t_start``/``t_stop``: astropy ``Time``, ISO strings or ``numpy.datetime64`` (UTC, as
        in the established tool's configs), or MJD floats (TT). The slice keeps the ``obs_id``.

        Examples
        --------
        >>> import xgamma as xg
        >>> d = xg.data_dir(required=False)
        >>> if d is not None:
        ...     obs = xg.open_store(d / "hess-dl3-dr1").observation(33787)
        ...     sl = obs.slice_time("2006-07-29T20:30", "2006-07-29T20:40")
        ...     assert sl.obs_id == 33787 and round(sl.ontime) == 600
        """
        ref = self.time_ref
        t0 = float((as_time(t_start) - ref).to_value("s"))
        t1 = float((as_time(t_stop) - ref).to_value("s"))
        return TimeSlice(self, t0, t1)


# ---------------------------------------------------------------------------------------------
# data store
# ---------------------------------------------------------------------------------------------


class _RemoteFolder:
    """The few :class:`pathlib.Path` operations :func:`open_store` needs, on an fsspec URL."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self.fs, self.root = fsspec.core.url_to_fs(self.url)
        self.protocol = self.url.split("://", 1)[0]

    def __str__(self) -> str:
        return self.url

    def __truediv__(self, other: Any) -> _RemoteFolder:
        o = str(other)
        return _RemoteFolder(o if is_url(o) else posixpath.join(self.url, o) if o else self.url)

    @property
    def parent(self) -> _RemoteFolder:
        head, rest = self.url.split("://", 1)
        return _RemoteFolder(f"{head}://{posixpath.dirname(rest)}")

    @property
    def name(self) -> str:
        return posixpath.basename(self.url)

    def normpath(self) -> str:
        head, rest = self.url.split("://", 1)
        return f"{head}://{posixpath.normpath(rest)}"

    def is_absolute(self) -> bool:
        return True

    def exists(self) -> bool:
        return bool(self.fs.exists(self.root))

    def is_dir(self) -> bool:
        return bool(self.fs.isdir(self.root))

    def is_file(self) -> bool:
        return bool(self.fs.isfile(self.root))

    def glob(self, pattern: str) -> list[_RemoteFolder]:
        found = self.fs.glob(posixpath.join(self.root, pattern))
        return [_RemoteFolder(self.fs.unstrip_protocol(f)) for f in found]

    def __lt__(self, other: _RemoteFolder) -> bool:
        return self.url < other.url


def _find(folder: Any, explicit: str | Path | None, names: tuple[str, ...], pattern: str,
          what: str) -> Any:
    if explicit is not None:
        p = folder / explicit if isinstance(folder, _RemoteFolder) else Path(explicit)
        p = p if p.is_absolute() or p.exists() else folder / p
        if not p.is_file():
            raise XgammaIOError(f"{what} file not found", path=p, expected=f"an existing {what}")
        return p
    for n in names:
        if (folder / n).is_file():
            return folder / n
    cands = sorted(p for p in folder.glob(pattern) if p.is_file())
    if len(cands) == 1:
        return cands[0]
    if len(cands) > 1:
        raise XgammaIOError(
            f"several {what} candidates: {[c.name for c in cands]}", path=folder,
            expected=f"choose one with {what.replace('-', '_')}=...")
    return None


def _index_frame(path: Path | str, hdu: str | int | None) -> pd.DataFrame:
    raws = gadf.read_hdus(path)
    tables = [r for r in raws if str(r.header.get("XTENSION", "")).strip() == "BINTABLE"]
    if hdu is None:
        raw = tables[0] if tables else None
    else:
        w = hdu.strip().upper() if isinstance(hdu, str) else hdu
        raw = next((r for r in raws if r.name == w or r.number == w), None)
    if raw is None:
        raise XgammaIOError("no table HDU", path=path, hdu=hdu,
                            expected=f"a binary table among {[r.name or r.number for r in raws]}")
    df = fits._frame(fits.table_from_hdu(raw), raw)
    for c in df.columns:
        if df[c].dtype == object:
            df[c] = df[c].map(lambda v: v.strip() if isinstance(v, str) else v)
    return df


def open_store(path: str | Path, obs_index: str | Path | None = None,
               hdu_index: str | Path | None = None,
               hdu_index_hdu: str | int | None = None) -> DataStore:
    """Open a GADF data store: a folder with an observation index and an HDU index.

    Parameters
    ----------
    path : str or Path
        The folder. Index files are found as ``obs-index.fits[.gz]`` / ``hdu-index.fits[.gz]``,
        or the only file matching ``*obs-index*.fits*`` / ``*hdu-index*.fits*``.
    obs_index, hdu_index : str or Path, optional
        Explicit index files (relative to ``path`` or absolute). The obs index is optional.
    hdu_index_hdu : str or int, optional
        Table HDU of the HDU-index file to use (HAWC keeps one per event type); default: the
        first table.

    Examples
    --------
    >>> import xgamma as xg
    >>> d = xg.data_dir(required=False)
    >>> if d is not None:
    ...     assert len(xg.open_store(d / "hess-dl3-dr1").obs_ids) == 105
    """
    remote = is_url(path)
    folder: Any = _RemoteFolder(str(path)) if remote else Path(path)
    if not folder.is_dir():
        raise XgammaIOError("data store folder not found", path=folder, expected="a folder")
    hp = _find(folder, hdu_index, ("hdu-index.fits.gz", "hdu-index.fits"), "*hdu-index*.fits*",
               "hdu-index")
    if hp is None:
        raise XgammaIOError("no HDU index", path=folder,
                            expected="hdu-index.fits[.gz] or pass hdu_index=")
    op = _find(folder, obs_index, ("obs-index.fits.gz", "obs-index.fits"), "*obs-index*.fits*",
               "obs-index")
    hdu_table = _index_frame(str(hp) if remote else hp, hdu_index_hdu)
    need = {"obs_id", "hdu_type", "hdu_class", "file_name", "hdu_name"}
    if need - set(hdu_table.columns):
        raise XgammaIOError(f"HDU index lacks columns {sorted(need - set(hdu_table.columns))}",
                            path=hp, expected=str(sorted(need)))
    base = hp.parent / str(hdu_table.attrs["meta"].get("BASE_DIR", "") or "")
    fdir = hdu_table["file_dir"] if "file_dir" in hdu_table else pd.Series("", index=hdu_table.index)
    hdu_table["path"] = [
        (base / (d if isinstance(d, str) else "") / str(f)).normpath() if remote
        else os.path.normpath(base / (d if isinstance(d, str) else "") / str(f))
        for d, f in zip(fdir, hdu_table["file_name"], strict=True)
    ]
    for c in ("hdu_type", "hdu_class"):
        hdu_table[c] = hdu_table[c].astype(str).str.strip().str.lower()
    if op is not None:
        obs_table = _index_frame(str(op) if remote else op, None)
        if "obs_id" not in obs_table:
            raise XgammaIOError("obs index lacks OBS_ID", path=op, expected="an OBS_ID column")
    else:
        obs_table = pd.DataFrame({"obs_id": pd.unique(hdu_table["obs_id"])})
        obs_table.attrs = {"units": {}, "meta": {}}
    attrs = dict(obs_table.attrs)
    obs_table = obs_table.set_index("obs_id", drop=True)
    obs_table.attrs = attrs
    return DataStore(obs_table, hdu_table, base_dir=folder)


def _is_interval_list(time: Any) -> bool:
    """True for ``[(start, stop), ...]`` or ``(starts, stops)`` Time arrays; False for one
    ``(start, stop)`` pair of scalars."""
    from astropy.time import Time

    if isinstance(time, tuple) and len(time) == 2:
        first = time[0]
        if isinstance(first, Time):
            return not first.isscalar
        return isinstance(first, list | tuple | np.ndarray)
    return True


def _slice_runs(runs: Sequence[Observation], intervals: Sequence[tuple[Any, Any]]) -> list[Any]:
    """One :class:`TimeSlice` per (interval, run) with GTI overlap, interval-major."""
    out: list[Any] = []
    for start, stop in intervals:
        for obs in runs:
            sl = obs.slice_time(start, stop)
            if sl.ontime > 0:
                out.append(sl)
    return out


def _events_partition(obs: Observation, schema: dict[str, Any],
                      columns: list[str] | None = None) -> pd.DataFrame:
    """One partition of :meth:`DataStore.events`: conformed to ``schema``; dask may project
    ``columns``."""
    df = obs._events_fresh()
    df.attrs = {}  # a fresh frame: drop attrs first, pandas deep-copies them on every operation
    df["obs_id"] = np.full(len(df), obs.obs_id)
    if list(df.columns) != list(schema):
        df = df.reindex(columns=list(schema))
    for c, t in schema.items():
        if df[c].dtype != t:
            try:
                df[c] = df[c].astype(t)
            except (TypeError, ValueError):
                pass
    return df if columns is None else df[list(columns)]


class DataStore:
    """Observation and HDU index tables of a GADF data store (see :func:`open_store`).

    ``obs_table`` is indexed by ``obs_id`` (lower-case columns, units in
    ``attrs["units"]``, index header in ``attrs["meta"]``); ``hdu_table`` has lower-case columns
    plus the resolved file ``path``. Selections return new stores; nothing is mutated.

    Examples
    --------
    >>> import xgamma as xg
    >>> d = xg.data_dir(required=False)
    >>> if d is not None:
    ...     crab = xg.open_store(d / "hess-dl3-dr1").select(query="object == 'Crab Nebula'")
    ...     assert sorted(crab.obs_ids) == [23523, 23526, 23559, 23592]
    """

    def __init__(self, obs_table: pd.DataFrame, hdu_table: pd.DataFrame,
                 base_dir: str | Path | None = None,
                 time_intervals: Sequence[tuple[Any, Any]] | None = None) -> None:
        self.obs_table = obs_table
        self.hdu_table = hdu_table
        self.base_dir: Any = (None if base_dir is None else str(base_dir) if is_url(str(base_dir))
                              else Path(base_dir))
        #: ``[(Time, Time), ...]`` set by ``select(time=[...])``: :meth:`observations` cuts the
        #: runs into one :class:`TimeSlice` per overlapping interval; None: whole runs.
        self.time_intervals = None if time_intervals is None else list(time_intervals)

    def __repr__(self) -> str:
        cut = f", {len(self.time_intervals)} time intervals" if self.time_intervals else ""
        return f"DataStore({self.base_dir}, {len(self.obs_table)} observations{cut})"

    def __len__(self) -> int:
        return len(self.obs_table)

    @property
    def obs_ids(self) -> np.ndarray:
        """Observation ids of the obs table, in table order."""
        return np.asarray(self.obs_table.index)

    def _subset(self, ids: Iterable[Any]) -> DataStore:
        keep = pd.Index(list(ids))
        obs = self.obs_table.loc[self.obs_table.index.isin(keep)]
        obs.attrs = dict(self.obs_table.attrs)
        hdu = self.hdu_table.loc[self.hdu_table["obs_id"].isin(keep)]
        hdu.attrs = dict(self.hdu_table.attrs)
        return DataStore(obs, hdu, self.base_dir, self.time_intervals)

    @property
    def time_ref(self) -> Any:
        """MJDREF of the obs-index TSTART/TSTOP columns (astropy Time)."""
        from astropy.time import Time

        t = gadf._time_attrs(self.obs_table.attrs.get("meta", {}))
        return Time(t["mjdrefi"], t["mjdreff"], format="mjd", scale=t["timesys"].lower())

    def select(self, obs_ids: Iterable[Any] | None = None, cone: tuple[Any, ...] | None = None,
               time: Any = None, query: str | None = None) -> DataStore:
        """Select observations; all given criteria must hold.

        Parameters
        ----------
        obs_ids : iterable, optional
            Keep these ids.
        cone : tuple, optional
            ``(lon_deg, lat_deg, radius_deg, frame)`` (frame ``"icrs"`` or ``"galactic"``) or
            ``(SkyCoord, radius)`` (radius in deg or a Quantity): the pointing within radius.
        time : tuple or list of tuples, optional
            ``(start, stop)``: the whole observations overlapping this interval (``tstart < stop``
            and ``tstop > start``). A list ``[(start, stop), ...]`` (or a ``(starts, stops)``
            pair of ``Time`` arrays, the established tool's ``obs_time``) also keeps the
            observations overlapping any interval, and :meth:`observations` then cuts them into
            one :class:`TimeSlice` per (interval, observation), as the established tool's
            ``select_time`` does. Times: astropy ``Time``, ISO strings and ``datetime64`` (UTC),
            MJD floats (TT).
        query : str, optional
            A :meth:`pandas.DataFrame.query` string on ``obs_table`` (backquote names such as
            ```date-obs```).

        Examples
        --------
        >>> import xgamma as xg
        >>> d = xg.data_dir(required=False)
        >>> if d is not None:
        ...     s = xg.open_store(d / "hess-dl3-dr1").select(cone=(83.633, 22.014, 2.0, "icrs"))
        ...     assert len(s) == 4
        """
        t = self.obs_table
        mask = np.ones(len(t), dtype=bool)
        if obs_ids is not None:
            mask &= t.index.isin(list(np.atleast_1d(np.asarray(list(obs_ids), dtype=object))))
        if query is not None:
            mask &= t.index.isin(t.query(query).index)
        if cone is not None:
            mask &= self._cone_mask(cone)
        intervals = None
        if time is not None:
            sliced = _is_interval_list(time)
            pairs = time_intervals(time if sliced else [time])
            if "tstart" not in t or "tstop" not in t:
                raise XgammaIOError("obs index lacks TSTART/TSTOP for a time selection",
                                    expected="TSTART and TSTOP columns")
            ref = self.time_ref
            ts, te = t["tstart"].to_numpy(float), t["tstop"].to_numpy(float)
            any_overlap = np.zeros(len(t), dtype=bool)
            for start, stop in pairs:
                t0, t1 = (start - ref).to_value("s"), (stop - ref).to_value("s")
                any_overlap |= (ts < t1) & (te > t0)
            mask &= any_overlap
            if sliced:
                intervals = pairs
        out = self._subset(t.index[mask])
        if intervals is not None:
            out.time_intervals = intervals
        return out

    def _cone_mask(self, cone: tuple[Any, ...]) -> np.ndarray:
        import astropy.units as u
        from astropy.coordinates import SkyCoord

        if isinstance(cone[0], SkyCoord):
            center, radius = cone[0], cone[1]
        else:
            lon, lat, radius = cone[:3]
            frame = cone[3] if len(cone) > 3 else "icrs"
            center = SkyCoord(lon, lat, unit="deg", frame=frame)
        r = radius.to_value("deg") if isinstance(radius, u.Quantity) else float(radius)
        t = self.obs_table
        if "ra_pnt" not in t or "dec_pnt" not in t:
            return np.zeros(len(t), dtype=bool)
        ra = pd.to_numeric(t["ra_pnt"], errors="coerce").to_numpy(float)
        dec = pd.to_numeric(t["dec_pnt"], errors="coerce").to_numpy(float)
        ok = np.isfinite(ra) & np.isfinite(dec)
        pnt = SkyCoord(np.where(ok, ra, 0.0), np.where(ok, dec, 0.0), unit="deg", frame="icrs")
        sep = pnt.separation(center).to_value("deg")
        return ok & (sep <= r)

    def observation(self, obs_id: Any) -> Observation:
        """The :class:`Observation` with this id (KeyError if it is not in the store).

        Examples
        --------
        >>> import xgamma as xg
        >>> d = xg.data_dir(required=False)
        >>> if d is not None:
        ...     assert xg.open_store(d / "hess-dl3-dr1").observation(23523).obs_id == 23523
        """
        if isinstance(obs_id, np.generic):
            obs_id = obs_id.item()
        rows = self.hdu_table.loc[self.hdu_table["obs_id"] == obs_id]
        if rows.empty:
            raise KeyError(f"observation {obs_id!r} not in the data store HDU index")
        hdus = [HDULocation(str(r.hdu_type), str(r.hdu_class), str(r.path), str(r.hdu_name))
                for r in rows.itertuples(index=False)]
        info: dict[str, Any] = {}
        if obs_id in self.obs_table.index:
            row = self.obs_table.loc[obs_id]
            if isinstance(row, pd.DataFrame):
                row = row.iloc[0]
            info = {str(k): v for k, v in row.items()}
        return Observation(obs_id, hdus, info, self.obs_table.attrs.get("meta", {}))

    def _ids(self, obs_ids: Iterable[Any] | None) -> list[Any]:
        if obs_ids is None:
            ids = list(self.obs_ids) if len(self.obs_table) else list(
                pd.unique(self.hdu_table["obs_id"]))
            return [i.item() if isinstance(i, np.generic) else i for i in ids]
        return list(obs_ids)

    def observations(self, obs_ids: Iterable[Any] | None = None,
                     required_irf: str | Sequence[str] | None = None,
                     strict: bool = False) -> list[Observation]:
        """Observations, optionally only those that have the required IRFs.

        Parameters
        ----------
        required_irf : str or list of str, optional
            IRF types (``"aeff"``, ``"edisp"``, ``"psf"``, ``"bkg"``, ``"rad_max"``) or
            ``"full-enclosure"`` (aeff, edisp, psf, bkg) / ``"point-like"`` (aeff, edisp,
            rad_max, which may be a RAD_MAX header keyword).
        strict : bool
            Raise :class:`~xgamma.errors.XgammaIOError` on a missing IRF instead of skipping the
            observation with a warning.

        Returns
        -------
        list
            :class:`Observation` objects; :class:`TimeSlice` objects (interval-major, each with
            its run's ``obs_id``, empty slices left out) when the store was selected with a list
            of time intervals.

        Examples
        --------
        >>> import xgamma as xg
        >>> d = xg.data_dir(required=False)
        >>> if d is not None:
        ...     obs = xg.open_store(d / "hess-dl3-dr1").observations(required_irf="full-enclosure")
        ...     assert len(obs) == 105
        """
        if self.time_intervals is not None:
            whole = DataStore(self.obs_table, self.hdu_table, self.base_dir)
            runs = whole.observations(obs_ids, required_irf, strict)
            return _slice_runs(runs, self.time_intervals)
        req: tuple[str, ...] = ()
        if isinstance(required_irf, str):
            req = _REQUIRED.get(required_irf, (required_irf,))
        elif required_irf is not None:
            req = tuple(required_irf)
        out = []
        for oid in self._ids(obs_ids):
            obs = self.observation(oid)
            missing = [k for k in req if obs.location(k) is None and not (
                k == "rad_max" and obs.location("aeff") is not None and obs.rad_max is not None)]
            if missing:
                msg = f"observation {oid}: missing IRF(s) {missing}"
                if strict:
                    raise XgammaIOError(msg, expected=f"IRFs {list(req)}")
                warnings.warn(msg + "; skipped", UserWarning, stacklevel=2)
                continue
            out.append(obs)
        return out

    def events(self, obs_ids: Iterable[Any] | None = None) -> Any:
        """Events of many observations as a dask DataFrame, one partition per observation.

        Columns are those of the first observation's event list plus ``obs_id``; other
        partitions are conformed to them (missing columns become NaN). ``time`` holds UTC dates,
        one clock for runs of different MJDREFs; the frame's ``attrs`` (on its ``_meta``) are
        the first run's time reference. Nothing is read except the first event list, until
        computed.

        Examples
        --------
        >>> import xgamma as xg
        >>> d = xg.data_dir(required=False)
        >>> if d is not None:
        ...     ev = xg.open_store(d / "hess-dl3-dr1").events([23523, 23526])
        ...     assert ev.npartitions == 2 and "obs_id" in ev.columns
        """
        import dask.dataframe as dd

        obs = [self.observation(i) for i in self._ids(obs_ids)]
        if not obs:
            raise XgammaIOError("no observations selected", expected="at least one obs_id")
        first = obs[0].read_events()
        meta = first.iloc[:0].assign(obs_id=np.array([], dtype=np.asarray([obs[0].obs_id]).dtype))
        schema = dict(meta.dtypes)
        meta.attrs = {k: v for k, v in first.attrs.items() if k not in ("meta", "obs_id")}
        return dd.from_map(_events_partition, obs, schema=schema, meta=meta,
                           label="read-events", enforce_metadata=False)
