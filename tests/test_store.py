"""Tests of xgamma.io.store against the published H.E.S.S. DL3 DR1 numbers and the other
instruments' data stores (CTA 1DC, MAGIC, VERITAS, HAWC)."""

from __future__ import annotations

import json
import pickle
import warnings

import astropy.units as u
import numpy as np
import pandas as pd
import pytest
from astropy.coordinates import SkyCoord
from astropy.time import Time

import xgamma as xg
from xgamma.conventions import validate
from xgamma.errors import XgammaIOError

CRAB_RUNS = [23523, 23526, 23559, 23592]


@pytest.fixture(scope="module")
def ref(data):
    p = data.parent / "reference" / "hess_dl3_dr1.json"
    if not p.is_file():
        pytest.skip("reference numbers not found")
    return json.loads(p.read_text())


@pytest.fixture(scope="module")
def hess(data):
    return xg.open_store(data / "hess-dl3-dr1")


def test_obs_table(hess, ref):
    t = hess.obs_table
    assert len(t) == ref["n_observations"] == 105
    assert t.index.name == "obs_id" and all(c == c.lower() for c in t.columns)
    assert t.attrs["units"]["ra_pnt"] == "deg" and t.attrs["meta"]["MJDREFI"] == 51910
    assert t.livetime.sum() / 3600 == pytest.approx(ref["total_livetime_h"], rel=1e-6)
    for obj, r in ref["objects"].items():
        sel = t[t.object == obj]
        assert len(sel) == r["n_obs"], obj
        assert sel.livetime.sum() / 3600 == pytest.approx(r["livetime_h"], abs=6e-5), obj
    h = hess.hdu_table
    assert {"obs_id", "hdu_type", "hdu_class", "path"} <= set(h.columns)
    assert len(h) == 6 * 105


@pytest.mark.parametrize("obs_id", ["23523", "33787", "47802"])
def test_observation_reference(hess, ref, obs_id):
    r = ref["observations"][obs_id]
    obs = hess.observation(int(obs_id))
    ev = obs.events
    assert len(ev) == r["n_events"]
    assert ev.energy.sum() == pytest.approx(r["events_energy_sum_TeV"], rel=1e-6)
    assert int(((ev.energy >= 1) & (ev.energy <= 10)).sum()) == r["n_events_energy_1_10TeV"]
    assert obs.livetime == pytest.approx(r["livetime_s"], rel=1e-6)
    assert obs.ontime == pytest.approx(r["ontime_s"], rel=1e-9)
    # the reference's "deadc" is the dead-time fraction; GADF DEADC = livetime / ontime
    assert obs.dead_time_fraction == pytest.approx(r["deadc"], abs=1e-7)
    assert len(obs.gti) == r["n_gti"]
    assert [obs.pointing.ra, obs.pointing.dec] == pytest.approx(r["pointing_radec_deg"], abs=1e-9)
    assert obs.pointing.mode == "pointing"
    sep = obs.pointing_radec.separation(SkyCoord(*r["pointing_radec_deg"], unit="deg"))
    assert sep.to_value("deg") < 1e-9
    assert list(obs.aeff.shape) == r["aeff_shape_energy_true_offset"]
    assert list(obs.edisp.shape) == r["edisp_shape_energy_true_migra_offset"]
    assert list(obs.bkg.dims) == r["bkg_axes"]
    assert u.Unit(r["bkg_unit"]).to(obs.bkg.attrs["units"]) == pytest.approx(1e6)
    assert obs.psf.attrs["psf_class"] == "PSF_TABLE"  # Gammapy's PSF3D
    for kind in ("aeff", "edisp", "psf", "bkg"):
        validate(getattr(obs, kind), kind)
    assert obs.rad_max is None and obs.is_point_like is False
    assert obs.time_ref.mjd == pytest.approx(51910.000742870370370241, abs=1e-12)
    assert obs.tstart == 123890826.0 if obs_id == "23523" else obs.tstart > 0


def test_observation_reads_each_file_once(hess, monkeypatch):
    from xgamma.io import gadf

    calls = []
    orig = gadf.read_hdus
    monkeypatch.setattr(gadf, "read_hdus", lambda *a, **k: calls.append(a[0]) or orig(*a, **k))
    obs = hess.observation(23523)
    _ = (obs.events, obs.aeff, obs.edisp, obs.psf, obs.bkg, obs.gti)
    assert len(calls) == 1


def test_select(hess):
    crab = hess.select(query="object == 'Crab Nebula'")
    assert sorted(crab.obs_ids) == CRAB_RUNS
    assert len(hess) == 105  # pure: the original store is unchanged
    assert set(crab.hdu_table.obs_id) == set(CRAB_RUNS)
    cone = hess.select(cone=(83.633, 22.014, 2.0, "icrs"))  # wobble offsets 0.5 and 1.5 deg
    assert sorted(cone.obs_ids) == CRAB_RUNS
    crab_gal = SkyCoord(83.633, 22.014, unit="deg").galactic
    cone2 = hess.select(cone=(crab_gal.l.deg, crab_gal.b.deg, 2.0, "galactic"))
    assert sorted(cone2.obs_ids) == CRAB_RUNS
    assert sorted(hess.select(cone=(crab_gal, 1 * u.deg)).obs_ids) == CRAB_RUNS[:2]
    assert len(hess.select(cone=(crab_gal, 0.1 * u.deg))) == 0
    # time: a window inside run 23523 (TSTART = 123890826 s after MJDREF, TT)
    t0 = hess.time_ref + 123891000 * u.s
    sel = hess.select(time=(t0, t0 + 10 * u.s))
    assert list(sel.obs_ids) == [23523]
    sel = hess.select(time=("2004-12-04T00:00:00", "2004-12-05T12:00:00"))
    assert 23523 in sel.obs_ids and len(sel) < 10
    both = hess.select(obs_ids=[23523, 20136], query="object == 'Crab Nebula'")
    assert list(both.obs_ids) == [23523]


def test_observations_required_irf(hess):
    obs = hess.select(obs_ids=CRAB_RUNS).observations(required_irf="full-enclosure")
    assert [o.obs_id for o in obs] == CRAB_RUNS
    with pytest.warns(UserWarning, match="missing IRF"):
        assert hess.observations(CRAB_RUNS[:2], required_irf=["rad_max"]) == []
    with pytest.raises(XgammaIOError, match="missing IRF"):
        hess.observations(CRAB_RUNS[:1], required_irf="point-like", strict=True)
    with pytest.raises(KeyError):
        hess.observation(1)


def test_events_dask(hess):
    ddf = hess.events(CRAB_RUNS)
    assert ddf.npartitions == 4
    assert list(ddf.columns) == ["event_id", "time", "ra", "dec", "energy", "obs_id"]
    df = ddf.compute()
    assert dict(df.dtypes) == dict(ddf._meta.dtypes)
    ref = pd.concat([hess.observation(i).events.assign(obs_id=i) for i in CRAB_RUNS])
    assert len(df) == len(ref)
    assert df.groupby("obs_id").size().to_dict() == ref.groupby("obs_id").size().to_dict()
    assert np.array_equal(df.energy.to_numpy(), ref.energy.to_numpy())
    assert ddf.energy.sum().compute() == pytest.approx(ref.energy.sum(), rel=1e-12)


def test_pickle(hess):
    obs = hess.observation(23523)
    assert len(obs.events) == 7613
    obs2 = pickle.loads(pickle.dumps(obs))
    assert obs2._products == {} and len(obs2.events) == 7613
    assert obs2.aeff.identical(obs.aeff)


def test_cta_1dc(data):
    store = xg.open_store(data / "cta-1dc/index/gps")
    assert list(store.obs_ids) == [110380, 111140, 111159, 111630]
    obs = store.observation(110380)
    ev = obs.events
    assert len(ev) == 106217 == store.obs_table.loc[110380, "event_count"]
    assert {"detx", "dety", "mc_id"} <= set(ev.columns) and ev.event_id.dtype == np.int64
    assert obs.psf.attrs["psf_class"] == "PSF_3GAUSS"
    for kind in ("aeff", "edisp", "psf", "bkg"):
        validate(getattr(obs, kind), kind)
    assert obs.livetime == pytest.approx(1764.0) and obs.deadc == pytest.approx(0.98)
    assert obs.events.attrs["mjdref"] == 51544.5


def test_point_like_stores(data):
    magic = xg.open_store(data / "magic/rad_max/data")  # hdu index with EXTNAME OBS_INDEX
    obs = magic.observations(required_irf="point-like")
    assert len(obs) == 2 and all(o.is_point_like for o in obs)
    assert obs[0].rad_max.attrs["hdu_class"] == "RAD_MAX_2D"
    assert obs[0].events.attrs["timesys"] == "UTC"
    veritas = xg.open_store(data / "veritas/crab-point-like-ED")
    o = veritas.observation(64080)
    assert o.rad_max.attrs["hdu_class"] == "RAD_MAX_HEADER"
    assert float(o.rad_max.max()) == pytest.approx(0.08944271909999159)
    assert o.pointing.dec == pytest.approx(22.514470438447226)
    assert list(o.events.columns[-2:]) == ["xoff", "yoff"]
    # joint-crab MAGIC: the index names a run whose file is not in the release
    jc = xg.open_store(data / "joint-crab/dl3/magic")
    assert float(jc.observation(5029748).rad_max.max()) == pytest.approx(0.1414213)
    with pytest.raises(XgammaIOError, match="run_05029747_DL3.fits: file not found"):
        _ = jc.observation(5029747).events


def test_hawc(data):
    folder = data / "hawc/crab_events_pass4"
    with pytest.raises(XgammaIOError, match="several hdu-index candidates"):
        xg.open_store(folder)
    kw = {"hdu_index": "hdu-index-table-GP-Crab.fits.gz", "obs_index": "obs-index-table-GP-Crab.fits.gz"}
    first = xg.open_store(folder, **kw)  # first table: fHit bin 1, whose files are absent
    with pytest.raises(XgammaIOError, match="fHitbin1GP.fits.gz: file not found"):
        _ = first.observation(first.obs_ids[0]).events
    store = xg.open_store(folder, hdu_index_hdu=5, **kw)
    obs = store.observation(store.obs_ids[0])
    assert obs.pointing.mode == "drift" and obs.pointing_radec is None
    assert len(obs.events) == 13985 and len(obs.gti) == 39250
    assert obs.aeff.dims == ("energy_true", "y", "x") and obs.bkg.dims == ("energy", "y", "x")
    assert obs.edisp.dims == ("energy_true", "energy", "y", "x")
    ev = store.events().compute()
    assert len(ev) == 13985 and (ev.obs_id == store.obs_ids[0]).all()


def test_bad_store(tmp_path, data):
    with pytest.raises(XgammaIOError, match="data store folder not found"):
        xg.open_store(tmp_path / "nope")
    with pytest.raises(XgammaIOError, match="no HDU index"):
        xg.open_store(tmp_path)
    with pytest.raises(XgammaIOError, match="hdu-index file not found"):
        xg.open_store(data / "hess-dl3-dr1", hdu_index="missing.fits")
    # an index whose rows point at files that are not there
    import shutil

    shutil.copy(data / "hess-dl3-dr1/hdu-index.fits.gz", tmp_path / "hdu-index.fits.gz")
    store = xg.open_store(tmp_path)
    with pytest.raises(XgammaIOError, match="file not found"):
        _ = store.observation(23523).aeff
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(store) == 105  # obs table built from the HDU index when absent


def test_time_selection_in_utc_strings(hess):
    t = Time("2004-12-04T22:20:00", scale="utc")
    assert list(hess.select(time=(t, t + 1 * u.min)).obs_ids) == [23523]
