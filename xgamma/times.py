"""Event times as dates: seconds since a file's MJDREF <-> ``datetime64[ns]`` in UTC.

GADF files store times as float seconds since ``MJDREFI + MJDREFF`` in the time system
``TIMESYS`` (TT for every IACT data release). In memory, event times are ``datetime64[ns]`` UTC
dates, so that they select and resample as dates (``ev.set_index("time").loc["2006-07-29T21"]``,
``ev.resample("1min", on="time")``) and events of runs with different MJDREFs share one clock.

The conversion is exact integer arithmetic on nanoseconds. Elapsed seconds of TT, TAI and UTC
files are SI seconds (as astropy's ``Time + TimeDelta``), so the run's TAI dates are the
reference's TAI date (TT - 32.184 s) plus the seconds, and UTC is TAI minus TAI-UTC (the
leap-second table of ERFA, the one astropy's ``Time`` uses; tests check against astropy).
TAI-UTC is one number over a run unless a leap second falls inside it; only then is it looked up
per event (a ``searchsorted`` over the ~30 leap seconds). An event inside an inserted leap second
(``23:59:60.x``, which ``datetime64`` cannot hold) is shown at ``23:59:59.999999999`` (and is
written back up to 1 s early); every other time goes back to the same float seconds bit for bit
where the float's spacing is at least 1 ns (``abs(t) > 2**23`` s = 8.4e6 s: every real run),
else within 0.5 ns. Other time systems (TDB, TCG, ...) and times before 1972 are converted by
astropy per event. GTIs stay float seconds: their lengths are exposure in SI seconds, which UTC
date differences are not across a leap second.

Examples
--------
>>> import numpy as np
>>> attrs = {"mjdrefi": 51910, "mjdreff": 0.000742870370370241, "timesys": "TT"}
>>> d = seconds_to_datetime(np.array([207522262.0]), attrs)
>>> str(d[0])
'2007-07-30T21:04:21.000000000'
>>> datetime_to_seconds(d, attrs).tolist()
[207522262.0]
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["TIME_ATTRS", "seconds_to_datetime", "datetime_to_seconds", "time_reference",
           "to_datetime64", "event_seconds"]

#: ``attrs`` of an events DataFrame that say how its ``time`` column maps to the file's seconds.
TIME_ATTRS = ("mjdref", "mjdrefi", "mjdreff", "timesys", "timeunit", "timeref", "timezero",
              "time_scale")

_NS = 1_000_000_000
_FAST = ("tt", "tai", "utc")


def time_reference(attrs: Mapping[Any, Any]) -> tuple[float, float, str]:
    """``(mjdrefi, mjdreff, scale)`` from ``attrs`` (``mjdrefi``/``mjdreff`` or ``mjdref``,
    ``timesys``; TT when absent).

    Examples
    --------
    >>> time_reference({"mjdref": 53000.25})
    (53000.0, 0.25, 'tt')
    """
    low = {str(k).lower(): v for k, v in attrs.items()}
    if "mjdrefi" in low:
        mi = float(low["mjdrefi"])
        mf = float(low.get("mjdreff", 0.0) or 0.0)
    elif "mjdref" in low:
        mjd = float(low["mjdref"])
        mi = float(np.floor(mjd))
        mf = mjd - mi
    else:
        raise KeyError("no MJDREF in attrs (mjdref or mjdrefi/mjdreff): cannot place the event times")
    scale = str(low.get("timesys", "tt") or "tt").strip().lower()
    return mi, mf, scale


def _ref_tai_ns(mi: float, mf: float, scale: str, leap_utc: np.ndarray, dat: np.ndarray) -> int:
    """MJD ``mi + mf`` in ``scale`` (tt, tai or utc) as TAI nanoseconds since 1970-01-01."""
    whole = float(np.floor(mi))
    ns = (int(whole) - 40587) * 86400 * _NS + int(round(((mi - whole) + mf) * 86400 * _NS))
    if scale == "tt":
        return ns - 32_184_000_000  # TT - TAI
    if scale == "utc":
        k = int(np.searchsorted(leap_utc, ns, side="right")) - 1
        return ns + int(dat[max(k, 0)])
    return ns


def _leap_table() -> tuple[np.ndarray, np.ndarray]:
    """UTC instants (int ns since 1970) from which TAI-UTC (int ns) holds, from 1972 on."""
    import erfa

    tab = erfa.leap_seconds.get()
    tab = tab[tab["year"] >= 1972]
    months = (np.asarray(tab["year"], np.int64) - 1970) * 12 + np.asarray(tab["month"], np.int64) - 1
    utc = months.astype("datetime64[M]").astype("datetime64[ns]").astype(np.int64)
    dat = np.round(np.asarray(tab["tai_utc"], float) * _NS).astype(np.int64)
    return utc, dat


def _split_ns(seconds: np.ndarray) -> np.ndarray:
    """Float seconds as int64 nanoseconds, rounded to the nearest (``abs(s) < 9.2e9``)."""
    whole = np.floor(seconds)
    return whole.astype(np.int64) * _NS + np.round((seconds - whole) * _NS).astype(np.int64)


def _ns_to_seconds(ns: np.ndarray) -> np.ndarray:
    whole, rest = np.divmod(ns, _NS)
    return whole.astype(np.float64) + rest.astype(np.float64) / _NS


def seconds_to_datetime(seconds: Any, attrs: Mapping[Any, Any]) -> np.ndarray:
    """Seconds since ``attrs``' MJDREF (in its ``timesys``) as ``datetime64[ns]`` UTC dates.

    NaN gives NaT. See the module docstring for the method and its exactness.

    Examples
    --------
    >>> attrs = {"mjdref": 51544.0, "timesys": "TT"}
    >>> str(seconds_to_datetime([0.0], attrs)[0])
    '1999-12-31T23:58:55.816000000'
    """
    s = np.asarray(seconds, dtype=np.float64)
    shape = s.shape
    s = s.ravel()
    out = np.full(s.shape, np.datetime64("NaT"), dtype="datetime64[ns]")
    ok = np.isfinite(s)
    if not ok.any():
        return out.reshape(shape)
    from astropy.time import Time, TimeDelta

    mi, mf, scale = time_reference(attrs)
    leap_utc, dat = _leap_table()
    leap_tai = leap_utc + dat  # TAI instant at which each TAI-UTC starts
    tai = (_ref_tai_ns(mi, mf, scale, leap_utc, dat) + _split_ns(s[ok])) if scale in _FAST else None
    if tai is None or tai.min() < leap_tai[0]:  # other time systems, or before 1972
        t = Time(mi, mf, format="mjd", scale=scale) + TimeDelta(s[ok], format="sec")
        out[ok] = np.asarray(t.utc.datetime64, dtype="datetime64[ns]")
        return out.reshape(shape)
    lo, hi = np.searchsorted(leap_tai, [tai.min(), tai.max()], side="right") - 1
    if lo == hi and (lo + 1 == leap_tai.size or tai.max() < leap_utc[lo + 1] + dat[lo]):
        utc = tai - dat[lo]  # one TAI-UTC over the whole run, no leap second in it (usual)
    else:
        k = np.searchsorted(leap_tai, tai, side="right") - 1
        utc = tai - dat[k]
        # inside an inserted leap second (TAI in [next start - 1 s, next start)): held at the
        # last nanosecond before the UTC midnight, datetime64 has no 23:59:60
        nxt = np.minimum(k + 1, leap_tai.size - 1)
        inside = (k + 1 < leap_tai.size) & (tai >= leap_utc[nxt] + dat[k])
        utc = np.where(inside, leap_utc[nxt] - 1, utc)
    out[ok] = utc.astype("datetime64[ns]")
    return out.reshape(shape)


def datetime_to_seconds(dates: Any, attrs: Mapping[Any, Any]) -> np.ndarray:
    """``datetime64`` UTC dates as float seconds since ``attrs``' MJDREF in its ``timesys``
    (the inverse of :func:`seconds_to_datetime`). NaT gives NaN.

    Examples
    --------
    >>> import numpy as np
    >>> datetime_to_seconds(np.array(["2000-01-01T00:00"], "datetime64[ns]"),
    ...                     {"mjdref": 51544.0, "timesys": "TT"}).tolist()
    [64.184]
    """
    d = np.asarray(pd.to_datetime(np.asarray(dates).ravel()).to_numpy(dtype="datetime64[ns]"))
    shape = np.shape(dates)
    out = np.full(d.shape, np.nan)
    ok = ~np.isnat(d)
    if not ok.any():
        return out.reshape(shape)
    from astropy.time import Time

    mi, mf, scale = time_reference(attrs)
    utc = d[ok].astype(np.int64)
    leap_utc, dat = _leap_table()
    if scale not in _FAST or utc.min() < leap_utc[0]:  # other time systems, or before 1972
        t = Time(d[ok], format="datetime64", scale="utc")
        out[ok] = np.asarray((t - Time(mi, mf, format="mjd", scale=scale)).to_value("s"), float)
        return out.reshape(shape)
    lo, hi = np.searchsorted(leap_utc, [utc.min(), utc.max()], side="right") - 1
    tai = utc + dat[lo] if lo == hi else utc + dat[np.searchsorted(leap_utc, utc, side="right") - 1]
    out[ok] = _ns_to_seconds(tai - _ref_tai_ns(mi, mf, scale, leap_utc, dat))
    return out.reshape(shape)


def to_datetime64(value: Any) -> Any:
    """One time as ``datetime64[ns]`` UTC: an astropy ``Time`` (any scale), an ISO string,
    a ``datetime64``/``Timestamp``/``datetime`` (read as UTC) or an MJD float (TT).

    Examples
    --------
    >>> str(to_datetime64("2006-07-29T20:30"))
    '2006-07-29T20:30:00.000000000'
    >>> str(to_datetime64(53945.0))
    '2006-07-28T23:58:54.816000000'
    """
    from astropy.time import Time

    if isinstance(value, Time):
        mi, mf = value.tt.jd1 - 2400000.5, value.tt.jd2
        return seconds_to_datetime(0.0, {"mjdrefi": mi, "mjdreff": mf, "timesys": "TT"})[()]
    if isinstance(value, int | float | np.floating | np.integer) and not isinstance(value, bool):
        return seconds_to_datetime(0.0, {"mjdref": float(value), "timesys": "TT"})[()]
    try:
        ts = pd.Timestamp(value)
        if ts.tzinfo is not None:
            ts = ts.tz_convert("UTC").tz_localize(None)
        return ts.to_datetime64().astype("datetime64[ns]")
    except (TypeError, ValueError):
        raise ValueError(f"not a time: {value!r} (expected a Time, an ISO string such as "
                         "'2006-07-29T20:30:00', a datetime64 or an MJD float)") from None


def event_seconds(events: Any) -> Any:
    """The ``time`` column of an events frame as float seconds since its MJDREF (TIMESYS),
    the numbers of the file; pandas Series or, for a dask DataFrame, a dask Series.

    A float ``time`` column (seconds already) is returned as it is.

    Examples
    --------
    >>> ev = pd.DataFrame({"time": np.array(["2000-01-01T00:00"], "datetime64[ns]")})
    >>> ev.attrs = {"mjdref": 51544.0, "timesys": "TT"}
    >>> event_seconds(ev).tolist()
    [64.184]
    """
    col = events["time"]
    if col.dtype.kind != "M":
        return col
    attrs = dict(getattr(events, "attrs", {}) or {})
    if not attrs and hasattr(events, "_meta"):
        attrs = dict(events._meta.attrs)
    if hasattr(col, "map_partitions"):
        return col.map_partitions(lambda c: pd.Series(datetime_to_seconds(c.to_numpy(), attrs),
                                                      index=c.index, name="time"),
                                  meta=pd.Series([], dtype=float, name="time"))
    return pd.Series(datetime_to_seconds(col.to_numpy(), attrs), index=col.index, name="time")
