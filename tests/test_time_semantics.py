"""One reading of time limits: a bare number is an MJD (TT) in select_time, slice_time and as_time;
seconds since MJDREF only as a Quantity (bare seconds deprecated)."""

import warnings

import astropy.units as u
import numpy as np
import pandas as pd
import pytest
from astropy.time import Time

from xgamma import testing
from xgamma.errors import GeometryError
from xgamma.io.timeslice import TimeSlice, as_time
from xgamma.reduction.events import select_time
from xgamma.times import event_seconds, to_datetime64


@pytest.fixture(scope="module")
def obs():
    return testing.make_observation(n_events=600, seed=5)


def test_numbers_are_mjd_tt_everywhere(obs):
    ev = obs.events
    ref = obs.time_ref
    sec = event_seconds(ev).to_numpy()
    s0, s1 = sec.min() + 300.0, sec.min() + 900.0
    m0, m1 = [float((ref + s * u.s).tt.mjd) for s in (s0, s1)]
    assert 53000 < m0 < 53400  # December 2004
    # as_time and to_datetime64 read a number as MJD (TT), as astropy's Time(x, format="mjd")
    assert abs((as_time(m0) - Time(m0, format="mjd", scale="tt")).to_value("s")) < 1e-6
    assert abs((Time(to_datetime64(m0), scale="utc") - Time(m0, format="mjd", scale="tt")).to_value("s")) < 1e-6
    # the slice_time reading (seconds from as_time) selects what select_time does with the same MJDs
    t0, t1 = [float((as_time(m) - ref).to_value("s")) for m in (m0, m1)]
    np.testing.assert_allclose([t0, t1], [s0, s1], atol=1e-5)
    want = TimeSlice(obs, t0, t1).events
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # MJD numbers, dates and Quantities warn about nothing
        by_mjd = select_time(ev, m0, m1)
        by_time = select_time(ev, Time(m0, format="mjd", scale="tt"), Time(m1, format="mjd", scale="tt").utc)
        by_dt64 = select_time(ev, to_datetime64(m0), to_datetime64(m1))
        by_iso = select_time(ev, Time(m0, format="mjd", scale="tt").utc.isot, str(to_datetime64(m1)))
        by_sec = select_time(ev, t0 * u.s, f"{t1!r} s")
    n = int(((sec >= s0) & (sec < s1)).sum())
    assert 100 < n < 500 and len(want) == n
    for got in (by_mjd, by_time, by_dt64, by_sec):
        np.testing.assert_array_equal(got.event_id.to_numpy(), want.event_id.to_numpy())
    # ISO strings are rounded to the millisecond by isot: at most an event at the edge differs
    assert abs(len(by_iso) - n) <= 1
    # on a float column of seconds (with MJDREF in attrs) MJD numbers are converted the same way
    fl = pd.DataFrame({"event_id": ev.event_id.to_numpy(), "time": sec})
    fl.attrs = dict(ev.attrs)
    np.testing.assert_array_equal(select_time(fl, m0, m1).event_id.to_numpy(), want.event_id.to_numpy())
    bare = pd.DataFrame({"time": sec})
    with pytest.raises(GeometryError, match="MJDREF"):
        select_time(bare, m0, m1)


def test_bare_seconds_are_deprecated_but_still_work(obs):
    ev = obs.events
    sec = event_seconds(ev).to_numpy()
    s0, s1 = float(sec.min() + 300.0), float(sec.min() + 900.0)  # ~1.2e8: no MJD of any data
    with pytest.warns(DeprecationWarning, match=r"read as seconds since MJDREF \(deprecated\).*MJD \(TT\)"):
        old = select_time(ev, s0, s1)
    np.testing.assert_array_equal(old.event_id.to_numpy(), select_time(ev, s0 * u.s, s1 * u.s).event_id.to_numpy())
    assert len(old) == int(((sec >= s0) & (sec < s1)).sum()) > 100
    fl = pd.DataFrame({"time": [0.0, 10.0, 20.0]})
    with pytest.warns(DeprecationWarning):
        assert select_time(fl, 5, 20).time.tolist() == [10.0]
    assert select_time(fl, 5 * u.s, "20 s").time.tolist() == [10.0]
