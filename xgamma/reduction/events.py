"""Selections and field-of-view coordinates on event tables (pandas or dask DataFrames).

Every function is pure (returns a new frame or series) and works the same on a pandas
DataFrame and on a dask DataFrame (per partition, via ``map_partitions``). Columns follow the
event conventions: lower-case ``ra``, ``dec`` (deg, ICRS), ``energy`` (TeV), ``time``
(``datetime64[ns]`` UTC dates, the file's time reference in ``attrs``).

Examples
--------
>>> import pandas as pd
>>> ev = pd.DataFrame({"ra": [83.63, 84.63], "dec": [22.01, 22.01], "energy": [0.5, 2.0]})
>>> len(select_energy(ev, 1, 10))
1
"""

from __future__ import annotations

import warnings
from typing import Any

import astropy.units as u
import numpy as np
import pandas as pd
import xarray as xr
from astropy.coordinates import SkyCoord, angular_separation
from dask import is_dask_collection

from xgamma import sky
from xgamma.errors import GeometryError
from xgamma.reduction.binning import SkySpec, sky_index, sky_spec
from xgamma.times import seconds_to_datetime, to_datetime64

__all__ = ["select_energy", "select_time", "select_region", "fov_coords", "offset", "MJD_RANGE"]


def _value(x: Any, unit: str) -> float | None:
    if x is None:
        return None
    if isinstance(x, str):
        x = u.Quantity(x)
    if isinstance(x, u.Quantity):
        return float(x.to_value(unit))
    return float(x)


def _range_mask(col: Any, lo: Any, hi: Any) -> Any:
    mask = col == col  # True except NaN; same type (pandas or dask Series)
    if lo is not None:
        mask = mask & (col >= lo)
    if hi is not None:
        mask = mask & (col < hi)
    return mask


def select_energy(events: Any, emin: Any = None, emax: Any = None) -> Any:
    """Events with ``emin <= energy < emax`` (numbers in TeV, or Quantity/str).

    Examples
    --------
    >>> import pandas as pd
    >>> ev = pd.DataFrame({"energy": [0.5, 1.0, 10.0]})
    >>> select_energy(ev, "1 TeV", 10).energy.tolist()
    [1.0]
    """
    return events[_range_mask(events["energy"], _value(emin, "TeV"), _value(emax, "TeV"))]


#: Bare numbers in this range are read as MJD (TT) by :func:`select_time`: 1968-05-24 up to
#: 2132. Numbers outside it cannot be dates of gamma-ray data; they are read, deprecated, as
#: seconds since MJDREF (the old meaning).
MJD_RANGE = (40000.0, 100000.0)


def _limit(t: Any) -> Any:
    """A time limit as seconds since MJDREF (float: Quantity, ``"100 s"``, deprecated bare
    seconds) or an absolute time (astropy ``Time``: MJD numbers, ISO strings, dates)."""
    from astropy.time import Time

    if t is None or isinstance(t, Time):
        return t
    if isinstance(t, str):
        try:
            q = u.Quantity(t)
        except (TypeError, ValueError):
            q = None
        if q is not None and q.unit.physical_type == "time":
            return float(q.to_value("s"))
        if q is not None and q.unit == u.dimensionless_unscaled:
            t = float(q.value)
    if isinstance(t, u.Quantity):
        return float(t.to_value("s"))
    if isinstance(t, int | float | np.integer | np.floating) and not isinstance(t, bool):
        if MJD_RANGE[0] <= float(t) < MJD_RANGE[1]:
            return Time(float(t), format="mjd", scale="tt")
        warnings.warn(f"select_time: the number {t!r} is read as seconds since MJDREF (deprecated); "
                      "numbers mean MJD (TT) as in slice_time: pass seconds as a Quantity "
                      f"({t!r} * u.s or '{t} s') or a date", DeprecationWarning, stacklevel=4)
        return float(t)
    return Time(to_datetime64(t), format="datetime64", scale="utc")


def _time_value(t: Any, attrs: dict[str, Any]) -> float | None:
    """A limit on a float ``time`` column: seconds since the events' MJDREF."""
    from astropy.time import Time

    t = _limit(t)
    if not isinstance(t, Time):
        return t
    low = {str(k).lower(): v for k, v in attrs.items()}
    if "mjdref" in low:
        mjd = float(low["mjdref"])
    elif "mjdrefi" in low:
        mjd = float(low["mjdrefi"]) + float(low.get("mjdreff", 0.0))
    else:
        raise GeometryError("time limits as dates or MJD need MJDREF in events.attrs; pass seconds "
                            "since MJDREF as a Quantity (e.g. '100 s')")
    ref = Time(mjd, format="mjd", scale=str(low.get("timesys", "tt")).lower())
    return float((t - ref).to_value("s"))


def _date_value(t: Any, attrs: dict[str, Any]) -> pd.Timestamp | None:
    """A limit on a date ``time`` column: dates as they are, seconds since MJDREF converted."""
    t = _limit(t)
    if t is None:
        return None
    if isinstance(t, float):
        if not attrs:
            raise GeometryError("limits in seconds need MJDREF in events.attrs; pass dates "
                                "(ISO strings, datetime64, astropy Time or MJD numbers)")
        return pd.Timestamp(seconds_to_datetime([t], attrs)[0])
    return pd.Timestamp(to_datetime64(t))


def _frame_attrs(events: Any) -> dict[str, Any]:
    if is_dask_collection(events):
        return dict(getattr(events._meta, "attrs", {}) or {})
    return dict(getattr(events, "attrs", {}) or {})


def select_time(events: Any, tmin: Any = None, tmax: Any = None) -> Any:
    """Events with ``tmin <= time < tmax``.

    Limits are read as everywhere in xgamma (:meth:`Observation.slice_time
    <xgamma.io.store.Observation.slice_time>`, :func:`xgamma.io.timeslice.as_time`,
    :func:`xgamma.times.to_datetime64`): a bare number is an MJD (TT), astropy's
    ``Time(x, format="mjd", scale="tt")``; ISO strings, ``datetime64``/``Timestamp``/``datetime``
    (UTC) and astropy ``Time`` (any scale) are dates. Seconds since the events' MJDREF are given
    explicitly, as a Quantity or a string with a unit (``100 * u.s``, ``"100 s"``). Dates and
    MJDs on a float ``time`` column, and seconds on the column of dates, are converted with
    ``MJDREF``/``TIMESYS`` from ``events.attrs``.

    A bare number outside :data:`MJD_RANGE` (before 1968 or after 2132, so not a date of
    gamma-ray data) is still read as seconds since MJDREF, the meaning it had before, with a
    ``DeprecationWarning``; pass a Quantity instead.

    Examples
    --------
    >>> import pandas as pd, astropy.units as u
    >>> ev = pd.DataFrame({"time": pd.to_datetime(["2006-07-29T21:00", "2006-07-29T21:05"])})
    >>> len(select_time(ev, "2006-07-29T21:01", "2006-07-29T21:10"))
    1
    >>> len(select_time(ev, 53945.876, 53945.9))  # MJD (TT): from 21:00:21 UTC
    1
    >>> ev = pd.DataFrame({"time": [0.0, 10.0, 20.0]})
    >>> select_time(ev, 5 * u.s, "20 s").time.tolist()  # seconds since MJDREF
    [10.0]
    """
    attrs = _frame_attrs(events)
    if events["time"].dtype.kind == "M":
        dlo, dhi = _date_value(tmin, attrs), _date_value(tmax, attrs)
        return events[_range_mask(events["time"], dlo, dhi)]
    lo, hi = _time_value(tmin, attrs), _time_value(tmax, attrs)
    return events[_range_mask(events["time"], lo, hi)]


def _inside(df: pd.DataFrame, target: Any) -> np.ndarray:

    if isinstance(target, SkySpec):
        return sky_index(df, target)[1]
    c = SkyCoord(df["ra"].to_numpy(float), df["dec"].to_numpy(float), unit="deg")
    return sky.contains(target, c) if len(df) else np.zeros(0, bool)


def _select_part(df: pd.DataFrame, target: Any) -> pd.DataFrame:
    return df[_inside(df, target)]


def select_region(events: Any, region_or_geom: Any) -> Any:
    """Events inside a region (SkyRegion or region string) or a geometry's footprint.

    For a WCS geometry the footprint is the map's pixels, for HEALPix its pixels, for a
    region geometry its region.

    Examples
    --------
    >>> import pandas as pd
    >>> ev = pd.DataFrame({"ra": [83.63, 84.63], "dec": [22.01, 22.01]})
    >>> len(select_region(ev, "icrs;circle(83.63,22.01,0.5)"))
    1
    """

    target = region_or_geom
    if isinstance(target, xr.Dataset | xr.DataArray):
        target = sky_spec(sky.geom_of(target))
    if is_dask_collection(events):
        return events.map_partitions(_select_part, target, meta=events._meta)
    return _select_part(events, target)


def _pointing(df: pd.DataFrame, p: Any) -> np.ndarray:
    if isinstance(p, str) and p in df.columns:
        return df[p].to_numpy(float)
    return np.full(len(df), _value(p, "deg"))


def _fov_part(df: pd.DataFrame, pointing_ra: Any, pointing_dec: Any) -> pd.DataFrame:
    ra, dec = df["ra"].to_numpy(float), df["dec"].to_numpy(float)
    pra, pdec = _pointing(df, pointing_ra), _pointing(df, pointing_dec)
    lon = np.full(len(df), np.nan)
    lat = np.full(len(df), np.nan)
    if len(df):
        pairs, inv = np.unique(np.stack([pra, pdec], axis=1), axis=0, return_inverse=True)
        inv = np.ravel(inv)
        for k, (a, b) in enumerate(pairs):
            sel = inv == k
            frame = SkyCoord(a, b, unit="deg", frame="icrs").skyoffset_frame()
            c = SkyCoord(ra[sel], dec[sel], unit="deg", frame="icrs").transform_to(frame)
            lon[sel] = c.lon.wrap_at(180 * u.deg).deg
            lat[sel] = c.lat.deg
    return df.assign(fov_lon=lon, fov_lat=lat)


def fov_coords(events: Any, pointing_ra: Any, pointing_dec: Any) -> Any:
    """Add field-of-view coordinates ``fov_lon``, ``fov_lat`` (deg, RADEC-aligned).

    ``fov_lon``/``fov_lat`` are longitude and latitude in astropy's ``SkyOffsetFrame``
    centred on the pointing: ``(0, 0)`` at the pointing, ``fov_lat`` towards north and
    ``fov_lon`` increasing with RA (east), wrapped to ``[-180, 180)``. This is the frame in
    which :mod:`xgamma.background` evaluates BKG_3D templates (as read by
    :func:`xgamma.io.gadf.read_irf`), which reproduces Gammapy's FoV background.

    Parameters
    ----------
    events : pandas or dask DataFrame
    pointing_ra, pointing_dec : float, Quantity or str
        Pointing position (ICRS, deg), or names of columns holding it per event.

    Examples
    --------
    >>> import pandas as pd
    >>> ev = pd.DataFrame({"ra": [83.63], "dec": [23.01]})
    >>> out = fov_coords(ev, 83.63, 22.01)
    >>> round(float(out.fov_lon[0]), 9), round(float(out.fov_lat[0]), 9)
    (0.0, 1.0)
    """
    if is_dask_collection(events):
        meta = events._meta.assign(fov_lon=np.float64(0), fov_lat=np.float64(0)).iloc[:0]
        return events.map_partitions(_fov_part, pointing_ra, pointing_dec, meta=meta)
    return _fov_part(events, pointing_ra, pointing_dec)


def _offset_part(df: pd.DataFrame, ra: Any, dec: Any) -> pd.Series:
    r0, d0 = np.radians(_pointing(df, ra)), np.radians(_pointing(df, dec))
    sep = angular_separation(np.radians(df["ra"].to_numpy(float)),
                             np.radians(df["dec"].to_numpy(float)), r0, d0)
    return pd.Series(np.degrees(np.asarray(sep)), index=df.index, name="offset")


def offset(events: Any, ra: Any, dec: Any = None) -> Any:
    """Angular distance (deg) of each event from ``(ra, dec)`` (exact spherical, Vincenty).

    ``ra``/``dec`` may be numbers (deg), Quantities, a SkyCoord as ``ra`` (with ``dec=None``)
    or column names.

    Examples
    --------
    >>> import pandas as pd
    >>> ev = pd.DataFrame({"ra": [0.0, 90.0], "dec": [0.0, 0.0]})
    >>> offset(ev, 0, 0).tolist()
    [0.0, 90.0]
    """
    if isinstance(ra, SkyCoord):
        c = ra.icrs
        ra, dec = float(c.ra.deg), float(c.dec.deg)
    if is_dask_collection(events):
        return events.map_partitions(_offset_part, ra, dec, meta=("offset", "f8"))
    return _offset_part(events, ra, dec)
