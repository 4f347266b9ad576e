"""Observations built from IRFs: a pointing, a livetime and a start time, events to come.

:func:`observation_from_irfs` reads the IRF HDUs of one file (a CTA prod5 file, or any GADF
file with AEFF/EDISP/PSF/BKG HDUs) or takes IRF DataArrays (the analytic demo instrument of
:mod:`xgamma.simulation.demo`), and returns a :class:`SimulatedObservation`: an object with
the attributes of :class:`xgamma.io.store.Observation` (``events``, ``gti``, ``aeff``,
``edisp``, ``psf``, ``bkg``, ``pointing``, ``livetime``, ``ontime``, ``deadc``, ``tstart``,
``tstop``, ``time_ref``, ``meta``...), so that :func:`xgamma.reduce` and the simulation and
writing functions take it as they take an observation of a data store. It is immutable:
:meth:`SimulatedObservation.with_events` returns a new observation.

Times are seconds since the reference time ``MJDREF`` (default MJD 51544.5, 2000-01-01 12:00
TT, the CTA convention); one GTI covers ``[tstart, tstart + ontime]`` with
``ontime = livetime / deadc``.

Examples
--------
>>> from xgamma.simulation import demo_irfs, observation_from_irfs
>>> obs = observation_from_irfs(demo_irfs(), pointing=(83.63, 22.51), livetime="30 min",
...                             tstart=0.0, obs_id=7)
>>> obs.obs_id, obs.livetime, obs.aeff.dims, len(obs.events)
(7, 1800.0, ('energy_true', 'offset'), 0)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import astropy.units as u
import numpy as np
import pandas as pd
import xarray as xr
from astropy.coordinates import SkyCoord
from astropy.time import Time

from xgamma.errors import XgammaError, XgammaIOError
from xgamma.io import gadf
from xgamma.io.store import HDULocation, Pointing

__all__ = [
    "SimulatedObservation",
    "observation_from_irfs",
    "empty_events",
    "IRF_CLASSES",
    "DEFAULT_MJDREF",
    "SimulationError",
    "events_header",
    "events_attrs",
    "read_irfs",
    "start_seconds",
]

#: Reference time of simulated observations (MJD, TT): 2000-01-01 12:00, as CTA files use.
DEFAULT_MJDREF = 51544.5

#: HDUCLAS2 keyword of each IRF kind (GADF).
IRF_CLASSES = {"aeff": "EFF_AREA", "edisp": "EDISP", "psf": "PSF", "bkg": "BKG", "rad_max": "RAD_MAX"}

#: Conventional HDU names of each IRF kind (looked up when HDUCLAS2 is absent).
_IRF_NAMES = {
    "aeff": ("EFFECTIVE AREA", "AEFF", "EFFECTIVE_AREA", "AEFF_2D"),
    "edisp": ("ENERGY DISPERSION", "EDISP", "ENERGY_DISPERSION", "EDISP_2D"),
    "psf": ("POINT SPREAD FUNCTION", "PSF", "POINT_SPREAD_FUNCTION", "PSF_2D"),
    "bkg": ("BACKGROUND", "BKG", "BKG_3D", "BKG_2D"),
    "rad_max": ("RAD_MAX", "RAD_MAX_2D"),
}

_EVENT_UNITS = {"time": "s", "ra": "deg", "dec": "deg", "energy": "TeV"}


class SimulationError(XgammaError, ValueError):
    """Bad input to a simulation (zero livetime, a model outside the field of view...)."""


def empty_events(obs_id: Any = None, mjdref: float = DEFAULT_MJDREF) -> pd.DataFrame:
    """An event list without rows, with the columns and attrs of a GADF events table.

    Examples
    --------
    >>> list(empty_events(1).columns)
    ['event_id', 'time', 'ra', 'dec', 'energy']
    """
    df = pd.DataFrame({"event_id": np.zeros(0, np.int64), "time": np.zeros(0, "datetime64[ns]"),
                       "ra": np.zeros(0),
                       "dec": np.zeros(0), "energy": np.zeros(0)})
    df.attrs = events_attrs(obs_id, mjdref)  # type: ignore[assignment]
    return df


def events_attrs(obs_id: Any, mjdref: float) -> dict[str, Any]:
    """The ``attrs`` of an events DataFrame (units and time reference, as the reader sets; the
    ``time`` column holds UTC dates, ``time_scale="utc"``, see :mod:`xgamma.times`).

    Examples
    --------
    >>> events_attrs(1, 51544.5)["units"]["energy"]
    'TeV'
    """
    mi = float(np.floor(mjdref))
    return {"units": dict(_EVENT_UNITS), "mjdref": float(mjdref), "mjdrefi": mi,
            "mjdreff": float(mjdref) - mi, "timesys": "TT", "timeunit": "s", "timeref": "LOCAL",
            "timezero": 0.0, "time_scale": "utc", "obs_id": obs_id}


@dataclass(frozen=True, eq=False)
class SimulatedObservation:
    """An observation defined by its IRFs, pointing and times (events optional).

    Has the attributes of :class:`xgamma.io.store.Observation` that reduction and writing use.
    ``irf_sources`` maps an IRF kind to the ``(file, HDU name)`` it was read from, so that
    :func:`xgamma.simulation.write_dl3` copies those HDUs byte for byte; IRFs without a
    source (analytic ones) are serialised from the DataArrays.

    Examples
    --------
    >>> from xgamma.simulation import demo_irfs, observation_from_irfs
    >>> obs = observation_from_irfs(demo_irfs(), (10.0, 20.0), 600.0, 0.0, deadc=0.9)
    >>> round(obs.ontime, 3), obs.pointing.ra, obs.is_point_like
    (666.667, 10.0, False)
    """

    obs_id: Any
    pointing_ra: float
    pointing_dec: float
    livetime: float
    tstart: float
    deadc: float = 1.0
    mjdref: float = DEFAULT_MJDREF
    aeff: xr.DataArray | None = None
    edisp: xr.DataArray | None = None
    psf: xr.DataArray | None = None
    bkg: xr.DataArray | None = None
    rad_max: xr.DataArray | None = None
    events_table: pd.DataFrame | None = None
    irf_sources: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    meta_extra: Mapping[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        n = 0 if self.events_table is None else len(self.events_table)
        return (f"SimulatedObservation(obs_id={self.obs_id!r}, pointing=({self.pointing_ra:.4f}, "
                f"{self.pointing_dec:.4f}), livetime={self.livetime:g} s, {n} events)")

    # -- times
    @property
    def ontime(self) -> float:
        """Observation time (s): ``livetime / deadc``."""
        return self.livetime / self.deadc

    @property
    def tstop(self) -> float:
        """Stop (s since MJDREF)."""
        return self.tstart + self.ontime

    @property
    def dead_time_fraction(self) -> float:
        return 1.0 - self.deadc

    @property
    def gti(self) -> pd.DataFrame:
        """One good time interval ``[tstart, tstop]`` (s since MJDREF)."""
        g = pd.DataFrame({"start": [self.tstart], "stop": [self.tstop]})
        g.attrs = {"units": {"start": "s", "stop": "s"}, "mjdref": self.mjdref}
        return g

    @property
    def meta_time(self) -> dict[str, Any]:
        mi = float(np.floor(self.mjdref))
        return {"mjdref": self.mjdref, "mjdrefi": mi, "mjdreff": self.mjdref - mi, "timesys": "TT"}

    @property
    def time_ref(self) -> Time:
        """MJDREF as an astropy Time (TT)."""
        mi = float(np.floor(self.mjdref))
        return Time(mi, self.mjdref - mi, format="mjd", scale="tt")

    # -- pointing
    @property
    def pointing(self) -> Pointing:
        return Pointing("pointing", self.pointing_ra, self.pointing_dec)

    @property
    def pointing_radec(self) -> SkyCoord:
        return SkyCoord(self.pointing_ra, self.pointing_dec, unit="deg", frame="icrs")

    # -- events and metadata
    @property
    def events(self) -> pd.DataFrame:
        """The event list (empty until simulated, see :func:`xgamma.simulation.simulate_events`)."""
        if self.events_table is None:
            return empty_events(self.obs_id, self.mjdref)
        return self.events_table

    def read_events(self) -> pd.DataFrame:
        return self.events

    @property
    def meta(self) -> dict[str, Any]:
        """Header cards an EVENTS HDU of this observation gets (see :func:`events_header`)."""
        return events_header(self)

    @property
    def info(self) -> dict[str, Any]:
        """The obs-index row of this observation (lower-case GADF column names)."""
        return {"obs_id": self.obs_id, "ra_pnt": self.pointing_ra, "dec_pnt": self.pointing_dec,
                "tstart": self.tstart, "tstop": self.tstop, "ontime": self.ontime,
                "livetime": self.livetime, "deadc": self.deadc}

    @property
    def is_point_like(self) -> bool:
        a = self.aeff
        return bool((a is not None and a.attrs.get("point_like")) or self.rad_max is not None)

    @property
    def hdus(self) -> tuple[HDULocation, ...]:
        """Index rows like a data store's (IRFs only: nothing is on disk as one file)."""
        out = []
        for kind in ("aeff", "edisp", "psf", "bkg", "rad_max"):
            da = getattr(self, kind)
            if da is not None:
                src = self.irf_sources.get(kind, ("", kind.upper()))
                out.append(HDULocation(kind, str(da.attrs.get("hdu_class", "")).lower(), src[0], src[1]))
        return tuple(out)

    def location(self, hdu_type: str) -> HDULocation | None:
        return next((h for h in self.hdus if h.hdu_type == hdu_type), None)

    def with_events(self, events: pd.DataFrame | None) -> SimulatedObservation:
        """A new observation with ``events`` (the IRFs are shared, not copied)."""
        return replace(self, events_table=events)

    def load(self) -> SimulatedObservation:
        return self


def events_header(obs: Any) -> dict[str, Any]:
    """GADF EVENTS header keywords of an observation (mandatory keywords of the spec).

    Examples
    --------
    >>> from xgamma.simulation import demo_irfs, observation_from_irfs
    >>> h = events_header(observation_from_irfs(demo_irfs(), (1.0, 2.0), 100.0, 0.0))
    >>> h["HDUCLAS1"], h["LIVETIME"], h["RA_PNT"]
    ('EVENTS', 100.0, 1.0)
    """
    mjdref = float(getattr(obs, "mjdref", None) or obs.meta_time["mjdref"])
    mi = float(np.floor(mjdref))
    t0, t1 = float(obs.tstart), float(obs.tstop)
    ref = Time(mi, mjdref - mi, format="mjd", scale="tt")
    start = (ref + t0 * u.s).utc.isot[:19]
    end = (ref + t1 * u.s).utc.isot[:19]
    aeff = getattr(obs, "aeff", None)
    telescop = str(aeff.attrs.get("telescop", "CTA")) if aeff is not None else "CTA"
    instrume = str(aeff.attrs.get("instrume", "")) if aeff is not None else ""
    p = obs.pointing
    h: dict[str, Any] = {
        "HDUCLASS": "GADF", "HDUDOC": "https://github.com/open-gamma-ray-astro/gamma-astro-data-formats",
        "HDUVERS": "0.3", "HDUCLAS1": "EVENTS", "HDUCLAS2": "ACCEPTED",
        "ORIGIN": "xgamma", "CREATOR": "xgamma.simulation", "TELESCOP": telescop,
        "INSTRUME": instrume, "OBSERVER": "xgamma", "OBJECT": "simulation", "OBS_MODE": "POINTING",
        "OBS_ID": int(obs.obs_id), "DATE-OBS": start, "DATE-END": end,
        "TSTART": t0, "TSTOP": t1, "TELAPSE": t1 - t0, "ONTIME": float(obs.ontime),
        "LIVETIME": float(obs.livetime), "DEADC": float(obs.deadc),
        "MJDREFI": int(mi), "MJDREFF": mjdref - mi, "TIMEUNIT": "s", "TIMESYS": "TT",
        "TIMEREF": "LOCAL", "EQUINOX": 2000.0, "RADECSYS": "ICRS",
        "RA_PNT": float(p.ra), "DEC_PNT": float(p.dec), "EVENT_CLASS": 0,
    }
    for k, v in dict(getattr(obs, "meta_extra", {}) or {}).items():
        h[str(k).upper()] = v
    return h


# ---------------------------------------------------------------------------------------------
# building an observation
# ---------------------------------------------------------------------------------------------


def _seconds(value: Any, what: str) -> float:
    if isinstance(value, str):
        try:
            value = u.Quantity(value)
        except (TypeError, ValueError) as exc:
            raise SimulationError(f"{what}: cannot read {value!r} as a time (e.g. '30 min')") from exc
    if isinstance(value, u.Quantity):
        if not value.unit.is_equivalent(u.s):
            raise SimulationError(f"{what}: {value} is not a time")
        return float(value.to_value(u.s))
    try:
        return float(value)
    except (TypeError, ValueError) as exc:
        raise SimulationError(f"{what}: cannot read {value!r} as seconds") from exc


def start_seconds(tstart: Any, mjdref: float) -> float:
    """``tstart`` as seconds since MJDREF: a number (s), a Quantity, an astropy Time or an ISO
    string.

    Examples
    --------
    >>> round(start_seconds("2000-01-01T12:00:00", 51544.5), 3)  # MJDREF in TT; TT - UTC = 64.184 s
    64.184
    """
    if isinstance(tstart, str):
        try:
            tstart = Time(tstart, scale="utc")
        except ValueError:
            return _seconds(tstart, "tstart")
    if isinstance(tstart, Time):
        mi = float(np.floor(mjdref))
        ref = Time(mi, mjdref - mi, format="mjd", scale="tt")
        return float((tstart - ref).to_value(u.s))
    return _seconds(tstart, "tstart")


def _radec(pointing: Any) -> tuple[float, float]:
    if isinstance(pointing, SkyCoord):
        c = pointing.icrs
        return float(c.ra.deg), float(c.dec.deg)
    if isinstance(pointing, Mapping):
        frame = str(pointing.get("frame", "icrs"))
        lon = pointing.get("ra", pointing.get("lon"))
        lat = pointing.get("dec", pointing.get("lat"))
        if lon is None or lat is None:
            raise SimulationError(f"pointing: need ra/dec or lon/lat, got {dict(pointing)}")
        return _radec(SkyCoord(u.Quantity(lon, "deg"), u.Quantity(lat, "deg"), frame=frame))
    try:
        ra, dec = pointing
        return float(u.Quantity(ra, "deg").value), float(u.Quantity(dec, "deg").value)
    except (TypeError, ValueError) as exc:
        raise SimulationError(f"pointing: expected (ra, dec) in deg or a SkyCoord, got {pointing!r}") from exc


def _find_hdu(raws: Sequence[gadf.RawHDU], kind: str) -> gadf.RawHDU | None:
    cls2 = IRF_CLASSES[kind]
    for r in raws:
        if str(r.header.get("HDUCLAS2", "")).strip().upper() == cls2:
            return r
    names = _IRF_NAMES[kind]
    return next((r for r in raws if r.name in names), None)


def read_irfs(path: str | Path, required: Sequence[str] = ("aeff", "edisp", "psf", "bkg")
              ) -> tuple[dict[str, xr.DataArray], dict[str, tuple[str, str]]]:
    """IRFs of one GADF file by kind, and the ``(file, HDU)`` each came from.

    HDUs are found by ``HDUCLAS2`` (``EFF_AREA``, ``EDISP``, ``PSF``, ``BKG``, ``RAD_MAX``),
    else by their conventional names. A missing required kind raises a one-line
    :class:`~xgamma.errors.XgammaIOError` naming the file and the HDU.

    Examples
    --------
    >>> import xgamma as xg
    >>> d = xg.data_dir(required=False)
    >>> if d is not None:
    ...     f = d / "cta-caldb/Prod5-South-20deg-AverageAz-14MSTs37SSTs.180000s-v0.1.fits.gz"
    ...     irfs, src = read_irfs(f)
    ...     assert sorted(irfs) == ["aeff", "bkg", "edisp", "psf"]
    """
    p = Path(path)
    if not p.is_file():
        raise XgammaIOError("IRF file not found", path=p, expected="an existing GADF IRF file")
    raws = gadf.read_hdus(p, whole=True)
    out: dict[str, xr.DataArray] = {}
    src: dict[str, tuple[str, str]] = {}
    for kind in ("aeff", "edisp", "psf", "bkg", "rad_max"):
        raw = _find_hdu(raws, kind)
        if raw is None:
            if kind in required:
                raise XgammaIOError(
                    f"no {_IRF_NAMES[kind][0]} HDU (HDUCLAS2={IRF_CLASSES[kind]})", path=p,
                    hdu=_IRF_NAMES[kind][0], expected=f"HDUs {[r.name for r in raws if r.name]}")
            continue
        out[kind] = gadf.irf_from_hdus(raw, None, "")
        src[kind] = (str(p), raw.name)
    return out, src


def observation_from_irfs(
    irf_file: str | Path | Mapping[str, xr.DataArray],
    pointing: Any,
    livetime: Any,
    tstart: Any = 0.0,
    obs_id: int = 1,
    deadc: float = 1.0,
    mjdref: float = DEFAULT_MJDREF,
    required_irf: Sequence[str] = ("aeff", "edisp", "psf", "bkg"),
    meta: Mapping[str, Any] | None = None,
) -> SimulatedObservation:
    """An observation from an IRF file (or IRF DataArrays), a pointing, a livetime and a start.

    Parameters
    ----------
    irf_file : str, Path or mapping
        A GADF IRF file (e.g. ``cta-caldb/Prod5-South-...fits.gz``) or a mapping ``kind ->
        DataArray`` (``aeff``, ``edisp``, ``psf``, ``bkg``, ``rad_max``), such as
        :func:`xgamma.simulation.demo_irfs`.
    pointing : (ra, dec), SkyCoord or dict
        Pointing direction (ICRS deg; a dict may give ``lon``, ``lat``, ``frame``).
    livetime : float, str or Quantity
        Live time (s, or e.g. ``"1 h"``); must be positive.
    tstart : float, str, Quantity or Time
        Start: seconds since ``mjdref``, or an astropy Time / ISO date (UTC).
    obs_id : int
    deadc : float
        Dead-time correction ``livetime / ontime`` in (0, 1].
    mjdref : float
        Reference MJD (TT) of the times.
    required_irf : sequence of str
        IRF kinds the file must have.
    meta : mapping, optional
        Extra EVENTS header keywords (``OBJECT``, ``GEOLON``...).

    Raises
    ------
    XgammaIOError
        The file lacks a required IRF HDU (one line naming file and HDU).
    SimulationError
        Zero or negative livetime, a dead-time factor outside (0, 1], a bad pointing.

    Examples
    --------
    >>> import xgamma as xg
    >>> d = xg.data_dir(required=False)
    >>> if d is not None:
    ...     f = d / "cta-caldb/Prod5-South-20deg-AverageAz-14MSTs37SSTs.180000s-v0.1.fits.gz"
    ...     obs = observation_from_irfs(f, (83.63, 22.51), "1 h", "2025-01-01T00:00:00")
    ...     assert obs.livetime == 3600.0 and obs.bkg.dims == ("energy", "fov_lon", "fov_lat")
    """
    lt = _seconds(livetime, "livetime")
    if not np.isfinite(lt) or lt <= 0:
        raise SimulationError(f"observation {obs_id}: livetime must be positive, got {lt:g} s")
    dc = float(deadc)
    if not 0 < dc <= 1:
        raise SimulationError(f"observation {obs_id}: deadc must be in (0, 1], got {dc:g}")
    ra, dec = _radec(pointing)
    t0 = start_seconds(tstart, float(mjdref))
    if isinstance(irf_file, Mapping):
        irfs = {k: v for k, v in irf_file.items() if v is not None}
        missing = [k for k in required_irf if k not in irfs]
        if missing:
            raise SimulationError(f"observation {obs_id}: IRFs {missing} missing from the mapping")
        sources: dict[str, tuple[str, str]] = {}
    else:
        irfs, sources = read_irfs(irf_file, required_irf)
    unknown = set(irfs) - set(IRF_CLASSES)
    if unknown:
        raise SimulationError(f"observation {obs_id}: unknown IRF kinds {sorted(unknown)}")
    return SimulatedObservation(
        obs_id=obs_id, pointing_ra=ra, pointing_dec=dec, livetime=lt, tstart=t0, deadc=dc,
        mjdref=float(mjdref), irf_sources=sources, meta_extra=dict(meta or {}),
        aeff=irfs.get("aeff"), edisp=irfs.get("edisp"), psf=irfs.get("psf"), bkg=irfs.get("bkg"),
        rad_max=irfs.get("rad_max"),
    )
