"""Event times as UTC dates (issue 15, scope 2 "time as time"): the ``time`` column of events is
``datetime64[ns]`` UTC, converted from and back to the files' float seconds exactly, leap seconds
included (checked against astropy), selectable and resamplable as dates, identical on pandas and
dask input."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pandas as pd
import pytest
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.time import Time, TimeDelta

import xgamma as xg
from xgamma.estimators.core import time_axis
from xgamma.io import gadf
from xgamma.models.temporal import to_mjd
from xgamma.reduction.events import select_time
from xgamma.simulation import write_dl3
from xgamma.times import datetime_to_seconds, event_seconds, seconds_to_datetime, to_datetime64

HESS_TT = {"mjdrefi": 51910, "mjdreff": 0.000742870370370241, "timesys": "TT"}
NPIN = 2813
PKS_RUN = 33788  # PKS 2155-304 flare night, 2006-07-29 20:54-21:23 UTC


def _astropy_utc_ns(seconds, attrs):
    """astropy's UTC dates (int ns) of seconds since MJDREF; None inside a leap second."""
    ref = Time(attrs["mjdrefi"], attrs["mjdreff"], format="mjd", scale=attrs["timesys"].lower())
    t = (ref + TimeDelta(np.asarray(seconds, float), format="sec")).utc
    t.precision = 9
    iso = np.asarray(t.isot)
    inside = np.array([s[17:19] == "60" for s in iso])
    ns = np.array([np.datetime64(s, "ns") if not b else np.datetime64("NaT") for s, b in
                   zip(iso, inside, strict=True)], dtype="datetime64[ns]")
    return ns.astype(np.int64), inside


@pytest.fixture(scope="module")
def pks_run(hess_path):
    return xg.open_store(hess_path).observation(PKS_RUN)


def test_gadf_round_trip_bit_exact(hess_path, pks_run, tmp_path):
    """Real run -> DataFrame of dates -> GADF: the TIME column comes back bit for bit (error 0;
    the bound is 0.5 ns in general and 0 for |t| > 2**23 s, where float64 seconds are coarser
    than the 1 ns of the dates)."""
    ev = pks_run.events
    assert ev.time.dtype == np.dtype("datetime64[ns]") and ev.attrs["time_scale"] == "utc"
    assert {"mjdrefi", "mjdreff", "timesys", "timeunit", "timeref", "timezero"} <= set(ev.attrs)
    out = write_dl3([pks_run], tmp_path / "copy")
    src = hess_path / "data" / f"hess_dl3_dr1_obs_id_0{PKS_RUN}.fits.gz"
    with fits.open(src) as a, fits.open(out / "data" / f"obs_0{PKS_RUN}.fits") as b:
        ta, tb = a["EVENTS"].data["TIME"].astype(np.float64), b["EVENTS"].data["TIME"]
        assert tb.dtype.kind == "f" and np.array_equal(ta, tb)
        for k in ("MJDREFI", "MJDREFF", "TIMESYS", "TIMEUNIT", "TIMEREF"):
            assert a["EVENTS"].header[k] == b["EVENTS"].header[k]
        assert float(ta.min()) > 2**23  # why the round trip is exact, not only within 0.5 ns
    again = xg.open_store(out).observation(PKS_RUN).events
    pd.testing.assert_series_equal(again.time, ev.time)
    # the dates are astropy's UTC dates to its own nanosecond rounding
    want, inside = _astropy_utc_ns(ta, HESS_TT)
    assert not inside.any()
    assert np.abs(ev.time.to_numpy().astype(np.int64) - want).max() <= 1
    # small seconds (simulations from t = 0): within 0.5 ns
    s = np.random.default_rng(1).uniform(0.0, 1e6, 10_000)
    back = datetime_to_seconds(seconds_to_datetime(s, HESS_TT), HESS_TT)
    assert np.abs(back - s).max() <= 0.5e-9 + 1e-16 * s.max()


@pytest.mark.parametrize("leap", ["2005-12-31T23:59:60", "2008-12-31T23:59:60"])
@pytest.mark.parametrize("timesys", ["TT", "TAI", "UTC"])
def test_run_across_a_leap_second_matches_astropy(leap, timesys):
    """A 20-min synthetic run centred on a leap second: each date is astropy's (<= 1 ns) except
    inside the leap second (23:59:60.x, which datetime64 cannot hold: 23:59:59.999999999); the
    file's seconds come back exactly outside it and within 1 s inside."""
    ref = Time(HESS_TT["mjdrefi"], HESS_TT["mjdreff"], format="mjd", scale="tt")
    if timesys != "TT":
        ref = getattr(ref, timesys.lower())
    attrs = {"mjdrefi": ref.jd1 - 2400000.5, "mjdreff": ref.jd2, "timesys": timesys}
    t_leap = Time(leap, scale="utc")
    c = float((t_leap - ref).to_value("s"))
    s = np.sort(np.concatenate([c + np.linspace(-600, 600, 12_001),
                                c + np.array([0.0, 0.25, 0.999999, 1.0, 1.000001])]))
    d = seconds_to_datetime(s, attrs)
    want, inside = _astropy_utc_ns(s, attrs)
    assert inside.sum() == 13  # 0.0, 0.1, ... 0.9 s and the 0.0, 0.25, 0.999999 s extras
    assert np.abs(d.astype(np.int64)[~inside] - want[~inside]).max() <= 1
    day = leap[:10]
    assert (d[inside] == np.datetime64(f"{day}T23:59:59.999999999")).all()
    assert (np.diff(d.astype(np.int64)) >= 0).all()  # still sorted
    # TT - UTC steps by one second across the leap second
    after = d[s == c + 1.0][0]
    assert str(after).endswith("00:00:00.000000000")
    back = datetime_to_seconds(d, attrs)
    np.testing.assert_array_equal(back[~inside], s[~inside])
    assert np.abs(back[inside] - s[inside]).max() < 1.0
    # a run without a leap second uses one offset: TT - UTC = 65.184 s on the flare night
    night = seconds_to_datetime([0.0], {"mjdref": 53945.875, "timesys": "TT"})[0]
    assert str(night) == str(np.datetime64("2006-07-29T21:00:00", "ns") - np.timedelta64(65184, "ms"))


def test_date_selection_equals_float_seconds_mask(pks_run):
    ev = pks_run.events
    sec = event_seconds(ev)
    ref = Time(ev.attrs["mjdrefi"], ev.attrs["mjdreff"], format="mjd", scale="tt")
    t0 = float((Time("2006-07-29T21:00", scale="utc") - ref).to_value("s"))
    t1 = float((Time("2006-07-29T21:10", scale="utc") - ref).to_value("s"))
    closed = ev[(sec >= t0) & (sec <= t1)]
    assert len(closed) == NPIN  # ~10 min of the 28-min run
    # (a partial string end such as "21:10" covers its whole minute: Timestamps are exact)
    by_index = ev.set_index("time").loc[pd.Timestamp("2006-07-29T21:00"):pd.Timestamp("2006-07-29T21:10")]
    np.testing.assert_array_equal(by_index.event_id.to_numpy(), closed.event_id.to_numpy())
    half_open = ev[(sec >= t0) & (sec < t1)]
    pd.testing.assert_frame_equal(select_time(ev, "2006-07-29T21:00", "2006-07-29T21:10"), half_open)
    pd.testing.assert_frame_equal(select_time(ev, t0 * u.s, t1 * u.s), half_open)  # seconds since MJDREF
    mjd0, mjd1 = (Time(t, scale="utc").tt.mjd for t in ("2006-07-29T21:00", "2006-07-29T21:10"))
    pd.testing.assert_frame_equal(select_time(ev, mjd0, mjd1), half_open)  # numbers: MJD (TT)
    t_start = Time("2006-07-29T21:00", scale="utc")
    pd.testing.assert_frame_equal(select_time(ev, t_start.tt, t_start + TimeDelta(600, format="sec")),
                                  half_open)
    # a whole hour by partial string; 5-min resampling = a histogram of the seconds
    hour = ev.set_index("time").loc["2006-07-29T21"]
    t22 = t0 + 3600.0
    assert len(hour) == int(((sec >= t0) & (sec < t22)).sum())
    counts = ev.resample("5min", on="time").size()
    first = counts.index[0]
    e0 = float((Time(first.to_datetime64(), format="datetime64", scale="utc") - ref).to_value("s"))
    expected = np.histogram(sec, e0 + 300.0 * np.arange(counts.size + 1))[0]
    np.testing.assert_array_equal(counts.to_numpy(), expected)
    grouped = ev.groupby(pd.Grouper(key="time", freq="5min")).energy.count()
    np.testing.assert_array_equal(grouped.to_numpy(), expected)


def test_dask_events_match_pandas(hess_path):
    store = xg.open_store(hess_path)
    runs = [33787, PKS_RUN]
    dask_ev = store.events(runs)
    pandas_ev = pd.concat([store.observation(i).events for i in runs], ignore_index=True)
    pandas_ev.attrs = dict(store.observation(runs[0]).events.attrs)  # concat drops differing attrs
    assert dask_ev.time.dtype == np.dtype("datetime64[ns]")
    got = dask_ev.compute().reset_index(drop=True)
    np.testing.assert_array_equal(got.time.to_numpy(), pandas_ev.time.to_numpy())
    # selections by date and the file's seconds
    sel_d = select_time(dask_ev, "2006-07-29T20:50", "2006-07-29T21:00").compute()
    sel_p = select_time(pandas_ev, "2006-07-29T20:50", "2006-07-29T21:00")
    np.testing.assert_array_equal(sel_d.event_id.to_numpy(), sel_p.event_id.to_numpy())
    assert len(sel_p) > 1000
    np.testing.assert_array_equal(event_seconds(dask_ev).compute().to_numpy(),
                                  event_seconds(pandas_ev).to_numpy())
    # binning on a time axis of dates, on pandas and dask: the 5-min counts of resample
    edges = pd.date_range("2006-07-29T20:25", "2006-07-29T21:25", freq="5min").to_numpy()
    geom = xg.region_geom("icrs;circle(329.71694,-30.2255,10)",
                          axes=[xg.energy_axis(0.01, 1000, 1), time_axis(edges[:-1], edges[1:])])
    c_p = xg.bin_events(pandas_ev, geom).sum("energy").values
    c_d = xg.bin_events(dask_ev, geom).sum("energy").values
    np.testing.assert_array_equal(c_p, c_d)
    inside = SkyCoord(pandas_ev.ra, pandas_ev.dec, unit="deg").separation(
        SkyCoord(329.71694, -30.2255, unit="deg")).deg < 10
    expected = pandas_ev[inside].resample("5min", on="time", origin=pd.Timestamp(edges[0])).size()
    expected = expected.reindex(pd.DatetimeIndex(edges[:-1]), fill_value=0)
    np.testing.assert_array_equal(c_p, expected.to_numpy())
    # a time axis in seconds since MJDREF bins the same dates
    sec = event_seconds(pandas_ev).to_numpy()
    t_edges = datetime_to_seconds(edges, pandas_ev.attrs)
    g2 = xg.region_geom("icrs;circle(329.71694,-30.2255,10)", axes=[
        xg.energy_axis(0.01, 1000, 1),
        xg.axes.axis_from_edges(t_edges, "time", unit="s", interp="lin")])
    np.testing.assert_array_equal(xg.bin_events(pandas_ev, g2).sum("energy").values,
                                  np.histogram(sec[inside], t_edges)[0])


def test_temporal_models_and_helpers_at_event_times(pks_run):
    ev = pks_run.events.iloc[::500]
    mjd = gadf.events_time(ev).tt.mjd
    np.testing.assert_allclose(to_mjd(ev.time), mjd, rtol=0, atol=2e-11)  # ~2 us
    m = xg.temporal_model("linear", alpha=1.0, beta=2.0, t_ref=53945.0)
    np.testing.assert_allclose(m(ev.time), 1.0 + 2.0 * (mjd - 53945.0), rtol=1e-9)
    # the compatibility helper returns the column
    pd.testing.assert_series_equal(xg.event_datetimes(ev), ev.time.rename("time_utc"))
    assert to_datetime64(Time("2006-07-29T21:00:00", scale="utc").tt) == np.datetime64(
        "2006-07-29T21:00:00", "ns")
    with pytest.raises(ValueError, match="not a time"):
        to_datetime64("tomorrow-ish")


def test_binning_on_date_edges_is_exact_to_the_nanosecond():
    edge = np.datetime64("2006-07-29T21:00:00", "ns")
    t = np.array([edge - np.timedelta64(1, "ns"), edge, edge + np.timedelta64(1, "ns"), "NaT"],
                 dtype="datetime64[ns]")
    ev = pd.DataFrame({"ra": [329.7] * 4, "dec": [-30.2] * 4, "energy": [1.0] * 4, "time": t})
    edges = np.array([edge - np.timedelta64(60, "s"), edge, edge + np.timedelta64(60, "s")])
    geom = xg.region_geom("icrs;circle(329.71694,-30.2255,1)",
                          axes=[xg.energy_axis(0.1, 10, 1), time_axis(edges[:-1], edges[1:])])
    # left-closed bins: the event on the edge goes up; NaT is in no bin
    assert xg.bin_events(ev, geom).sum("energy").values.tolist() == [1.0, 2.0]
    ev.attrs = {"mjdref": 53945.0}  # and the seconds of a float-second axis place the same edge
    s_edge = float(datetime_to_seconds(np.array([edge]), ev.attrs)[0])
    g2 = xg.region_geom("icrs;circle(329.71694,-30.2255,1)", axes=[
        xg.energy_axis(0.1, 10, 1),
        xg.axes.axis_from_edges([s_edge - 60, s_edge, s_edge + 60], "time", unit="s", interp="lin")])
    assert xg.bin_events(ev.iloc[[0, 1, 3]], g2).sum("energy").values.tolist() == [1.0, 1.0]
