"""Time-sliced observations (issue 15, scope 1): ``DataStore.select(time=[...])`` and
``Observation.slice_time`` against slicing by hand on the PKS 2155-304 flare night (H.E.S.S. DR1
runs 33787-33801), the per-run reuse of the reduction and of the reflected-region search, and the
light curve of slices against the one binned in the same intervals from whole runs."""

from __future__ import annotations

import sys
import warnings

import astropy.units as u
import numpy as np
import pandas as pd
import pytest
from astropy.time import Time

import xgamma as xg
from xgamma.errors import XgammaError
from xgamma.estimators.light_curve import light_curve
from xgamma.io.store import TimeSlice
from xgamma.io.timeslice import event_datetimes
from xgamma.models import Models, SkyModel, spectral_model
from xgamma.reduction import slices as slices_mod
from xgamma.reduction.slices import prepare_runs, reduce_spectra, run_of
from xgamma.times import event_seconds

FLARE_RUNS = list(range(33787, 33802))
EDGES = pd.date_range("2006-07-29T20:30", periods=35, freq="10min")  # the example's 34 bins (UTC)
INTERVALS = list(zip(EDGES[:-1], EDGES[1:], strict=True))
PKS_REGION = "icrs;circle(329.71694,-30.2255,0.11)"


@pytest.fixture(scope="module")
def store(hess_path):
    return xg.open_store(hess_path).select(obs_ids=FLARE_RUNS)


@pytest.fixture(scope="module")
def sliced(store):
    return store.select(time=INTERVALS).observations(required_irf="full-enclosure")


@pytest.fixture(scope="module")
def setup():
    geom = xg.region_geom(PKS_REGION, axes=[xg.energy_axis(0.4, 20, 10)])
    rk = {"energy_true": xg.energy_axis(0.1, 40, 20, name="energy_true"), "containment_correction": True,
          "safe_mask": ["aeff-max"], "safe_mask_params": {"aeff_percent": 10}}
    models = Models([SkyModel("pks", spectral_model("pl", index=3.4, amplitude=2e-11).with_frozen("index"))])
    return geom, rk, models


def _by_hand(run, start, stop):
    """Events, GTIs and live time of ``run`` in ``[start, stop)`` computed here from the files'
    columns (no xgamma slicing code): seconds since the run's MJDREF (TT)."""
    ref = Time(run.meta_time["mjdrefi"], run.meta_time["mjdreff"], format="mjd", scale="tt")
    t0 = (Time(start.to_datetime64(), format="datetime64", scale="utc") - ref).to_value("s")
    t1 = (Time(stop.to_datetime64(), format="datetime64", scale="utc") - ref).to_value("s")
    ev = run.events
    sec = event_seconds(ev)  # the file's TIME column (float seconds), back from the UTC dates
    events = ev[(sec >= t0) & (sec < t1)]
    g = run.gti
    lo, hi = np.maximum(g["start"].to_numpy(), t0), np.minimum(g["stop"].to_numpy(), t1)
    keep = hi > lo
    gti = np.column_stack([lo[keep], hi[keep]])
    ontime = float((gti[:, 1] - gti[:, 0]).sum())
    livetime = ontime * run.livetime / float((g["stop"] - g["start"]).sum())
    return events, gti, ontime, livetime


def test_select_time_cuts_runs_as_by_hand(store, sliced):
    s = store.select(time=INTERVALS)
    assert s.time_intervals is not None and len(s.time_intervals) == 34
    assert sorted(s.obs_ids) == list(range(33787, 33799))  # 12 runs overlap 20:30-02:10 UTC
    assert len(sliced) == 44 and all(isinstance(o, TimeSlice) for o in sliced)
    runs = {o.obs_id: run_of(o) for o in sliced}
    n = 0
    for start, stop in INTERVALS:  # interval-major, as the established tool's select_time
        for oid in sorted(runs):
            events, gti, ontime, livetime = _by_hand(runs[oid], start, stop)
            if ontime <= 0:
                continue
            sl = sliced[n]
            n += 1
            assert sl.obs_id == oid  # traceable to its run
            pd.testing.assert_frame_equal(sl.events, events)
            np.testing.assert_array_equal(sl.gti[["start", "stop"]].to_numpy(), gti)
            assert sl.ontime == ontime
            np.testing.assert_allclose(sl.livetime, livetime, rtol=1e-14)
            # DEADC of the header: live time = ontime x DEADC (float32 header values)
            np.testing.assert_allclose(sl.livetime, ontime * runs[oid].deadc, rtol=1e-6)
    assert n == len(sliced)
    # every event of the 12 runs between 20:30 and 02:10 UTC is in exactly one slice
    total = sum(len(_by_hand(r, EDGES[0], EDGES[-1])[0]) for r in runs.values())
    assert sum(len(o.events) for o in sliced) == total
    # a 10-minute slice inside a run: 600 s
    inner = [o for o in sliced if o.ontime == 600.0]
    assert len(inner) >= 20


def test_slice_time_and_tuple_select(store):
    run = store.observation(33790)
    sl = run.slice_time("2006-07-29T22:10", "2006-07-29T22:20")
    ev, gti, ontime, live = _by_hand(run, pd.Timestamp("2006-07-29T22:10"), pd.Timestamp("2006-07-29T22:20"))
    assert ontime == 600.0 and len(sl.events) == len(ev) and sl.livetime == pytest.approx(live, rel=1e-14)
    # the same interval as datetime64, MJD (TT) or astropy Time
    t0 = Time("2006-07-29T22:10", scale="utc")
    for a, b in ((np.datetime64("2006-07-29T22:10"), np.datetime64("2006-07-29T22:20")),
                 (float(t0.tt.mjd), float((t0 + 600 * u.s).tt.mjd)),
                 (t0, t0 + 600 * u.s)):
        other = run.slice_time(a, b)
        assert len(other.events) == len(sl.events)
        np.testing.assert_allclose(other.livetime, sl.livetime, rtol=1e-9)
    # the events' UTC dates select the same events as the slice
    dates = event_datetimes(run.events)
    assert dates.dtype == np.dtype("datetime64[ns]")
    by_date = run.events[(dates >= "2006-07-29T22:10") & (dates < "2006-07-29T22:20")]
    pd.testing.assert_frame_equal(by_date, sl.events)
    # a slice of a slice is a slice of the run
    half = sl.slice_time("2006-07-29T22:10", "2006-07-29T22:15")
    assert run_of(half) is run and half.ontime == 300.0
    np.testing.assert_allclose(half.livetime, 0.5 * sl.livetime, rtol=1e-12)
    # one (start, stop) pair keeps whole runs (unchanged behaviour)
    whole = store.select(time=("2006-07-29T22:10", "2006-07-29T22:20"))
    assert whole.time_intervals is None and list(whole.obs_ids) == [33790]
    with pytest.raises(ValueError, match="start must be before stop"):
        store.select(time=[("2006-07-29T22:20", "2006-07-29T22:10")])
    with pytest.raises(ValueError, match="not a time: 'yesterday'"):
        run.slice_time("yesterday", "2006-07-29T22:20")


def test_slices_reduce_once_per_run_as_per_slice(sliced, setup, monkeypatch):
    geom, rk, _ = setup
    some = sliced[:6]
    calls = []
    real = slices_mod.find_pixel_regions
    monkeypatch.setattr(slices_mod, "find_pixel_regions", lambda *a, **k: calls.append(1) or real(*a, **k))
    fast = reduce_spectra(some, geom, **rk)
    assert len(calls) == len({id(run_of(o)) for o in some}) < len(some)  # one search per run
    slow = [xg.reduce_spectrum(o, geom, **rk) for o in some]
    for a, b in zip(fast, slow, strict=True):
        assert a.attrs == b.attrs
        for v in b.data_vars:
            np.testing.assert_allclose(a[v].values, b[v].values, rtol=1e-12, atol=0, err_msg=v)
    assert sum(float(d.counts.sum()) for d in fast) > 100


def test_light_curve_of_slices_equals_whole_runs(store, sliced, setup, monkeypatch):
    geom, rk, models = setup
    n_bins = 8  # 20:30-21:50 UTC: runs 33787-33790
    bins = (np.array([Time(a.to_datetime64(), scale="utc").tt.mjd for a, _ in INTERVALS[:n_bins]]),
            np.array([Time(b.to_datetime64(), scale="utc").tt.mjd for _, b in INTERVALS[:n_bins]]))
    end = Time(EDGES[n_bins].to_datetime64(), format="datetime64", scale="utc")
    these = [o for o in sliced if (o.time_start - end).to_value("s") < -1]  # slices of the 8 intervals
    runs = sorted({o.obs_id for o in these})
    whole = [store.observation(i) for i in runs]
    counted = []
    real = slices_mod.prepare_runs
    lc_module = sys.modules["xgamma.estimators.light_curve"]  # the package exports a function of that name
    monkeypatch.setattr(lc_module, "prepare_runs",
                        lambda obs, *a, **k: counted.append(len(obs)) or real(obs, *a, **k))
    kw = {"reduce_kwargs": rk, "selection_optional": ()}
    lc_slices = light_curve(these, models, "pks", [0.7, 20], geom, bins, **kw)
    lc_runs = light_curve(whole, models, "pks", [0.7, 20], geom, bins, **kw)
    assert counted == [len(these), len(whole)]  # the runs prepared once, before the time bins
    assert lc_slices.sizes["time"] == n_bins
    for v in ("norm", "norm_err", "ts", "counts", "livetime"):
        np.testing.assert_allclose(lc_slices[v].values, lc_runs[v].values, rtol=1e-6, err_msg=v)
    np.testing.assert_array_equal(lc_slices.time_min.values, lc_runs.time_min.values)
    # the bins are dates: the first starts at 20:30 UTC
    assert str(lc_slices.time_min.values[0])[:16] == "2006-07-29T20:30"
    assert float(lc_slices.norm.sel(time="2006-07-29T21:15", method="nearest")[0]) == float(lc_slices.norm[4, 0])


def test_prepare_runs_skips_whole_runs(store, setup):
    geom, rk, _ = setup
    run = store.observation(33790)
    assert prepare_runs([run], geom, **rk) == [None]


def test_config_obs_time_lists_run_unchanged(tmp_path, capsys, monkeypatch):
    """The example light-curve config with ``observations.obs_time`` given as the established
    tool's lists of 10-minute intervals runs in ``xgamma run``; the stacked dataset is the sum of
    the 44 slices and the light curve has the 34 bins."""
    from pathlib import Path

    import yaml

    from xgamma.cli import main
    from xgamma.estimators.sed import read_sed
    from xgamma.io.zarr import open_zarr

    root = Path(__file__).resolve().parents[1]
    cfg = yaml.safe_load((root / "examples" / "pks2155_light_curve.yaml").read_text())
    ti = cfg["light_curve"]["time_intervals"]
    cfg["observations"]["obs_time"] = {"start": list(ti["start"]), "stop": list(ti["stop"])}
    cfg["general"]["models_file"] = str(root / "examples" / "pks2155_models.yaml")
    path = tmp_path / "pks_obs_time.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out), "--quiet"]) == 0, capsys.readouterr().err
    lc = read_sed(out / "light_curve.ecsv")
    assert lc.sizes["time"] == 34 and np.all(lc["ts"].values > 25)
    used = yaml.safe_load((out / "config.yaml").read_text())["observations"]["obs_time"]
    assert len(used["start"]) == 34 and used["start"][0].startswith("2006-07-29T20:30")
    stacked = open_zarr(out / "datasets.zarr" / "stacked")
    # 44 slices of 12 runs: 600 s each inside a run, the run's edges in the first/last bins
    assert len(stacked.attrs["obs_id"]) == 44 and sorted(set(stacked.attrs["obs_id"])) == list(range(33787, 33799))
    np.testing.assert_allclose(stacked.attrs["livetime"], float(lc["livetime"].sum()), rtol=1e-9)
    # a bad interval names the key
    cfg["observations"]["obs_time"]["stop"][0] = "2006-07-29T20:00:00"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    assert main(["run", str(path), "--out", str(out), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "observations.obs_time" in err and "must be before stop" in err
    with pytest.raises(XgammaError, match=r"observations\.obs_time: start and stop must have the same length"):
        xg.AnalysisConfig.from_dict({"observations": {"obs_time": {"start": ["2006-07-29T20:30"] * 2,
                                                                   "stop": ["2006-07-29T20:40"]}}})


def test_config_obs_time_single_interval_slices(hess_path):
    """One start/stop pair: the runs are cut to it too (the established tool's select_time)."""
    ana = xg.Analysis({"observations": {"datastore": str(hess_path), "obs_ids": FLARE_RUNS,
                                        "obs_time": {"start": "2006-07-29T21:00", "stop": "2006-07-29T21:45"}},
                       "general": {"log": {"level": "error"}}})
    obs = ana.get_observations()
    assert all(isinstance(o, TimeSlice) for o in obs)
    assert [o.obs_id for o in obs] == [33788, 33789]
    a, b = pd.Timestamp("2006-07-29T21:00"), pd.Timestamp("2006-07-29T21:45")
    by_hand = [_by_hand(run_of(o), a, b) for o in obs]
    assert [o.ontime for o in obs] == [h[2] for h in by_hand]
    assert sum(o.ontime for o in obs) == 2572.0  # 45 min less the 128 s between the two runs
    assert [len(o.events) for o in obs] == [len(h[0]) for h in by_hand]


def test_point_like_slices_share_the_run_search(data, monkeypatch):
    """Point-like IRFs (MAGIC, RAD_MAX): each run is searched for OFF regions once (circles of the
    largest RAD_MAX) and its slices count their events within RAD_MAX of the ON and OFF centres:
    the same datasets as ``reduce_spectrum`` per slice."""
    store = xg.open_store(data / "magic" / "rad_max" / "data")
    runs = [store.observation(i) for i in store.obs_ids]
    assert all(r.is_point_like for r in runs)
    some = []
    for r in runs:
        g = r.gti
        t0, t1 = float(g["start"].min()), float(g["stop"].max())
        cut = np.linspace(t0, t1, 4)
        some += [TimeSlice(r, a, b) for a, b in zip(cut[:-1], cut[1:], strict=True)]
    geom = xg.region_geom("icrs;circle(83.633,22.014,0.1)", axes=[xg.energy_axis(0.1, 10, 8)])
    rk = {"energy_true": xg.energy_axis(0.05, 20, 16, name="energy_true"), "safe_mask": ["aeff-max"],
          "safe_mask_params": {"aeff_percent": 10}}
    calls = []
    real = slices_mod.find_pixel_regions
    monkeypatch.setattr(slices_mod, "find_pixel_regions", lambda *a, **k: calls.append(1) or real(*a, **k))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the ON radius differs from RAD_MAX: RAD_MAX is used (both paths)
        fast = reduce_spectra(some, geom, **rk)
        slow = [xg.reduce_spectrum(o, geom, **rk) for o in some]
    assert len(calls) == len(runs) < len(some)  # one search per run
    for a, b in zip(fast, slow, strict=True):
        assert a.attrs == b.attrs and a.attrs["point_like"] == 1 and a.attrs["n_off_regions"] > 0
        assert set(a.data_vars) == set(b.data_vars)  # (the order differs, as for full enclosure)
        for v in ("counts", "counts_off", "acceptance_off", "mask_safe"):
            np.testing.assert_array_equal(a[v].values, b[v].values, err_msg=v)
        for v in b.data_vars:
            np.testing.assert_allclose(a[v].values, b[v].values, rtol=1e-12, atol=0, err_msg=v)
    on, off = sum(float(d.counts.sum()) for d in fast), sum(float(d.counts_off.sum()) for d in fast)
    assert on == sum(float(xg.reduce_spectrum(r, geom, **rk).counts.sum()) for r in runs) > 100
    assert off > 0
