"""Time-sliced observations: an observation cut to a time interval, and time parsing.

:class:`TimeSlice` is what :meth:`xgamma.io.store.Observation.slice_time` and a data store
selected with a list of time intervals (``DataStore.select(time=[(t0, t1), ...])``, the
established tool's ``observations.obs_time`` lists) give: the run's events, GTIs and live time
restricted to the interval, everything else (IRFs, pointing, ``obs_id``) the run's.

Examples
--------
>>> from xgamma import testing
>>> obs = testing.make_observation(n_events=500)
>>> g = obs.gti
>>> t0 = float(g.start.iloc[0])
>>> sl = TimeSlice(obs, t0, t0 + 600.0)
>>> sl.obs_id == obs.obs_id, round(sl.ontime)
(True, 600)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from xgamma.times import seconds_to_datetime

__all__ = ["TimeSlice", "as_time", "time_intervals", "event_datetimes"]


def as_time(value: Any) -> Any:
    """An astropy ``Time`` from a ``Time``, an ISO string, a ``datetime64``/``Timestamp``/``datetime``
    (these three read as UTC) or an MJD float (TT).

    Examples
    --------
    >>> as_time("2006-07-29T20:30").scale, round(float(as_time(53945.0).mjd), 3)
    ('utc', 53945.0)
    """
    from astropy.time import Time

    if isinstance(value, Time):
        return value
    if isinstance(value, np.datetime64 | pd.Timestamp):
        return Time(np.asarray(value, dtype="datetime64[ns]"), format="datetime64", scale="utc")
    if isinstance(value, int | float | np.floating | np.integer) and not isinstance(value, bool):
        return Time(float(value), format="mjd", scale="tt")
    try:
        return Time(value, scale="utc")
    except (TypeError, ValueError):
        raise ValueError(f"not a time: {value!r} (expected a Time, an ISO string such as "
                         "'2006-07-29T20:30:00', a datetime64 or an MJD float)") from None


def time_intervals(intervals: Any) -> list[tuple[Any, Any]]:
    """``[(start, stop), ...]`` as astropy ``Time`` pairs from pairs of times (see :func:`as_time`)
    or from a ``(starts, stops)`` pair of ``Time`` arrays; each start must precede its stop.

    Examples
    --------
    >>> [(a.isot, b.isot) for a, b in time_intervals([("2006-07-29T20:30", "2006-07-29T20:40")])]
    [('2006-07-29T20:30:00.000', '2006-07-29T20:40:00.000')]
    """
    from astropy.time import Time

    if (isinstance(intervals, tuple) and len(intervals) == 2 and isinstance(intervals[0], Time)
            and not intervals[0].isscalar):
        intervals = list(zip(intervals[0], intervals[1], strict=True))
    out = []
    for pair in intervals:
        try:
            a, b = pair
        except (TypeError, ValueError):
            raise ValueError(f"time interval {pair!r}: expected a (start, stop) pair") from None
        ta, tb = as_time(a), as_time(b)
        if not ta < tb:
            raise ValueError(f"time interval ({ta.isot}, {tb.isot}): start must be before stop")
        out.append((ta, tb))
    return out


class TimeSlice:
    """An observation cut to the time interval ``[t_start, t_stop)`` (seconds since its MJDREF).

    Everything not overridden (IRFs, pointing, ``obs_id``, metadata) is the observation's, so the
    slice stays traceable to its run. ``events`` are those with ``t_start <= time < t_stop`` (not
    cut by the GTIs, whose ends are often rounded to the second, so that slices partitioning a run
    keep all its events: the established tool's ``select_time``); ``gti`` is the intersection of
    the run's GTIs with the interval; ``ontime`` their total length; ``livetime`` is ``ontime``
    times the run's ``livetime / (total GTI time)`` (the dead-time fraction is taken as constant
    over the run). Slices of slices compose.

    Examples
    --------
    >>> from xgamma import testing
    >>> obs = testing.make_observation(n_events=1000)
    >>> g = obs.gti
    >>> t0 = float(g.start.iloc[0]); t1 = t0 + 0.5 * float(g.stop.iloc[0] - g.start.iloc[0])
    >>> sl = TimeSlice(obs, t0, t1)
    >>> round(sl.livetime / obs.livetime, 6) if len(g) == 1 else 0.5
    0.5
    """

    def __init__(self, observation: Any, t_start: float, t_stop: float) -> None:
        self._obs = observation
        self.t_start = float(t_start)
        self.t_stop = float(t_stop)
        gdf = observation.gti
        g = np.column_stack([np.asarray(gdf["start"], float), np.asarray(gdf["stop"], float)])
        lo = np.maximum(g[:, 0], self.t_start)
        hi = np.minimum(g[:, 1], self.t_stop)
        keep = hi > lo
        self._gti = np.column_stack([lo[keep], hi[keep]])
        self._gti_total = float((g[:, 1] - g[:, 0]).sum())

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name == "_obs":
            raise AttributeError(name)
        return getattr(self._obs, name)

    def __repr__(self) -> str:
        return f"TimeSlice({self._obs!r}, {self.t_start}, {self.t_stop})"

    @property
    def observation(self) -> Any:
        """The observation this slice was cut from."""
        return self._obs

    @property
    def time_start(self) -> Any:
        """Start of the interval as an astropy ``Time`` (the run's time scale)."""
        from astropy.time import TimeDelta

        return self._obs.time_ref + TimeDelta(self.t_start, format="sec")

    @property
    def time_stop(self) -> Any:
        """Stop of the interval as an astropy ``Time``."""
        from astropy.time import TimeDelta

        return self._obs.time_ref + TimeDelta(self.t_stop, format="sec")

    @property
    def gti(self) -> pd.DataFrame:
        """The GTIs intersected with the interval (s since MJDREF)."""
        g = pd.DataFrame({"start": self._gti[:, 0], "stop": self._gti[:, 1]})
        g.attrs = dict(getattr(self._obs.gti, "attrs", {}))
        return g

    @property
    def ontime(self) -> float:
        """Total GTI time inside the interval (s)."""
        return float((self._gti[:, 1] - self._gti[:, 0]).sum())

    @property
    def livetime(self) -> float:
        """Live time inside the interval (s)."""
        if self._gti_total <= 0:
            return 0.0
        return float(self._obs.livetime) * self.ontime / self._gti_total

    @property
    def deadc(self) -> float:
        """``livetime / ontime`` (the run's)."""
        return self.livetime / self.ontime if self.ontime > 0 else 1.0

    @property
    def tstart(self) -> float:
        """First GTI start inside the interval (s since MJDREF)."""
        return float(self._gti[:, 0].min()) if len(self._gti) else self.t_start

    @property
    def tstop(self) -> float:
        """Last GTI stop inside the interval (s since MJDREF)."""
        return float(self._gti[:, 1].max()) if len(self._gti) else self.t_stop

    @property
    def events(self) -> pd.DataFrame:
        """Events with ``t_start <= time < t_stop``.

        The bounds (seconds since the run's MJDREF) become UTC dates by the conversion of the
        event times (:func:`xgamma.times.seconds_to_datetime`), a monotonic map to whole
        nanoseconds: the cut is the one on the file's float seconds (distinct floats of a run
        differ by more than 1 ns).
        """
        ev = self._obs.events
        col = ev["time"]
        if col.dtype.kind == "M":
            lo, hi = seconds_to_datetime([self.t_start, self.t_stop], ev.attrs)
            t = col.to_numpy()
        else:
            lo, hi = self.t_start, self.t_stop
            t = np.asarray(col, float)
        out = ev.loc[(t >= lo) & (t < hi)]
        out.attrs = dict(ev.attrs)
        return out

    def read_events(self) -> pd.DataFrame:
        """Same as :attr:`events` (the run's events are read once)."""
        return self.events

    def slice_time(self, t_start: Any, t_stop: Any) -> TimeSlice:
        """A slice of this slice (see :meth:`Observation.slice_time`)."""
        ref = self._obs.time_ref
        t0 = float((as_time(t_start) - ref).to_value("s"))
        t1 = float((as_time(t_stop) - ref).to_value("s"))
        return TimeSlice(self, t0, t1)


def event_datetimes(events: pd.DataFrame) -> pd.Series:
    """The events' times as ``datetime64[ns]`` in UTC (a Series aligned with ``events``).

    Kept for compatibility: the ``time`` column itself now holds these dates (select or resample
    with ``ev.set_index("time").loc["2006-07-29T21:00":"2006-07-29T21:10"]``); this returns it
    (renamed ``time_utc``), or converts a float ``time`` column (seconds since ``attrs``' MJDREF).

    Examples
    --------
    >>> ev = pd.DataFrame({"time": [0.0, 86400.0]})
    >>> ev.attrs = {"mjdref": 53945.0, "timesys": "TT"}
    >>> [str(t) for t in event_datetimes(ev)]
    ['2006-07-28 23:58:54.816000', '2006-07-29 23:58:54.816000']
    """
    col = events["time"]
    if col.dtype.kind == "M":
        return col.rename("time_utc")
    t = seconds_to_datetime(np.asarray(col, float), events.attrs) if len(events) else \
        np.array([], dtype="datetime64[ns]")
    return pd.Series(t, index=events.index, name="time_utc")
