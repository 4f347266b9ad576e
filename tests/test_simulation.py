"""Simulation: sampled events against npred, fit-back pulls, DL3 writing, the command, bad input.

The chi2 tests sum the binned counts of R realisations and compare them with R * npred of the
reduced dataset (xg.reduce + xg.npred_map: an independent path through exposure, PSF and edisp
maps). With the total of R Poisson realisations, ``chi2 = sum (N - R mu)^2 / (R mu)`` follows
a chi2 law with one degree of freedom per bin; the tests require a p-value above 1e-3, i.e.
they fail on a systematic difference of a few per cent in any bin.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy import stats

import xgamma as xg
from xgamma.errors import XgammaIOError
from xgamma.models import Models, SkyModel, spectral_model
from xgamma.simulation import (
    SimulationError,
    check_gadf,
    demo_irfs,
    observation_from_irfs,
    simulate_dataset,
    simulate_events,
    simulate_from_config,
    simulate_observation,
    write_dl3,
)
from xgamma.simulation.events import EventSampler, fov_to_radec, radec_to_fov

PNT = (83.633, 22.514)
SRC = (83.633, 22.014)
PROD5 = "cta-caldb/Prod5-South-20deg-AverageAz-14MSTs37SSTs.180000s-v0.1.fits.gz"


@pytest.fixture(scope="module")
def irfs() -> dict[str, xr.DataArray]:
    return demo_irfs()


def _obs(irfs, livetime=600.0, **kw):
    return observation_from_irfs(irfs, PNT, livetime, tstart=1000.0, **kw)


def _geom(width=1.2, binsz=0.1, center=SRC, emin=1.0, emax=10.0, nbins=3):
    return xg.wcs_geom(center, width, binsz, axes=[xg.energy_axis(emin, emax, nbins)])


def _dataset(obs, geom):
    # 36 true-energy bins per decade: with 12, npred's forward folding (exposure and edisp at
    # the bin centres) is 0.3 % high for these spectra, which 500 realisations would resolve
    et = xg.energy_axis(0.3, 30, 72, name="energy_true")
    return xg.reduce(obs, geom, energy_true=et)


def _summed(obs, models, geom, n, seed, background):
    rng = np.random.default_rng(seed)
    sampler = EventSampler(obs)
    total = np.zeros(tuple(geom.sizes[d] for d in ("energy", "y", "x")))
    for _ in range(n):
        ev = sampler.sample(models, rng=rng, background=background)
        total += np.asarray(xg.bin_events(ev, geom).transpose("energy", "y", "x").values)
    return total


def _chi2_pvalue(total, mu, n):
    m = mu > 0
    chi2 = float(np.sum((total[m] - n * mu[m]) ** 2 / (n * mu[m])))
    return chi2, int(m.sum()), float(stats.chi2.sf(chi2, int(m.sum())))


def _signal(ds, models):
    return np.asarray((xg.npred_map(ds, models) - xg.npred_map(ds, models, component="background"))
                      .transpose("energy", "y", "x").values)


@pytest.mark.parametrize("spatial", [
    {"name": "point"},
    {"name": "gauss", "sigma": 0.15, "e": 0.6, "phi": 30.0},
    {"name": "disk", "r_0": 0.25},
])
def test_source_counts_match_npred(irfs, spatial):
    kw = dict(spatial)
    name = kw.pop("name")
    src = SkyModel("src", spectral_model("pl", index=2.2, amplitude=2e-12),
                   xg.spatial_model(name, lon_0=SRC[0], lat_0=SRC[1], **kw))
    obs = _obs(irfs)
    geom = _geom()
    mu = _signal(_dataset(obs, geom), Models([src]))
    n = 500
    total = _summed(obs, [src], geom, n, 11, background=False)
    chi2, ndf, p = _chi2_pvalue(total, mu, n)
    assert p > 1e-3, (chi2, ndf)
    assert total.sum() / n == pytest.approx(mu.sum(), rel=3 * np.sqrt(1 / total.sum()) + 0.01)


def test_variable_source_counts_and_times(irfs):
    obs = _obs(irfs, livetime=3600.0)
    t_ref = obs.mjdref + (obs.tstart + 1200.0) / 86400.0
    flare = xg.temporal_model("gauss", t_ref=t_ref, sigma=600.0 / 86400.0)
    src = SkyModel("src", spectral_model("pl", index=2.2, amplitude=4e-12),
                   xg.spatial_model("point", lon_0=SRC[0], lat_0=SRC[1]), temporal=flare)
    geom = _geom()
    mu = _signal(_dataset(obs, geom), Models([src]))
    n = 500
    rng = np.random.default_rng(5)
    sampler = EventSampler(obs)
    total = np.zeros_like(mu)
    times = []
    for _ in range(n):
        ev = sampler.sample([src], rng=rng, background=False)
        total += np.asarray(xg.bin_events(ev, geom).transpose("energy", "y", "x").values)
        times.append(ev.time.to_numpy() - obs.tstart)
    chi2, ndf, p = _chi2_pvalue(total, mu, n)
    assert p > 1e-3, (chi2, ndf)
    # times follow the Gaussian flare truncated to the GTI
    t = np.concatenate(times)
    edges = np.linspace(0, obs.ontime, 13)
    cdf = stats.norm.cdf(edges, 1200.0, 600.0)
    expected = np.diff(cdf) / (cdf[-1] - cdf[0]) * t.size
    counts = np.histogram(t, edges)[0]
    assert stats.chisquare(counts, expected).pvalue > 1e-3


def test_background_counts_match_template(irfs):
    obs = _obs(irfs, livetime=300.0)
    geom = _geom(width=4.0, binsz=0.4, center=PNT, emin=0.5, emax=5.0, nbins=3)
    mu = np.asarray(_dataset(obs, geom).background.transpose("energy", "y", "x").values)
    n = 500
    total = _summed(obs, None, geom, n, 3, background=True)
    chi2, ndf, p = _chi2_pvalue(total, mu, n)
    assert p > 1e-3, (chi2, ndf)


def test_fov_coordinates_round_trip():
    rng = np.random.default_rng(0)
    lon, lat = rng.uniform(-4, 4, 100), rng.uniform(-4, 4, 100)
    ra, dec = fov_to_radec(lon, lat, 83.6, -60.0)
    assert np.allclose(radec_to_fov(ra, dec, 83.6, -60.0), (lon, lat), atol=1e-9)
    from xgamma.background import fov_coordinates

    assert np.allclose(fov_coordinates(ra, dec, (83.6, -60.0)), (lon, lat), atol=1e-9)


def test_seeded_and_sorted(irfs):
    obs = _obs(irfs, livetime=60.0)
    a = simulate_events(obs, rng=7)
    b = simulate_events(obs, rng=np.random.default_rng(7))
    pd.testing.assert_frame_equal(a, b)
    assert a.time.is_monotonic_increasing and a.time.between(obs.tstart, obs.tstop).all()
    assert list(a.event_id) == list(range(1, len(a) + 1))


def test_fit_pulls(irfs):
    """Index and amplitude fitted back on 300 event realisations (~200 source counts each)
    binned on a small geometry: pulls with mean 0 and width 1. Standard errors of the mean and
    width are 0.058 and 0.041; the bounds are about 2.5 of them."""
    truth = {"index": 2.4, "amplitude": 3e-12}
    src = SkyModel("src", spectral_model("pl", **truth), xg.spatial_model("point", lon_0=SRC[0], lat_0=SRC[1]))
    obs = _obs(irfs, livetime=1200.0)
    geom = _geom(width=0.6, binsz=0.1, emin=0.5, emax=20.0, nbins=5)
    ds = _dataset(obs, geom)
    ds = ds.assign(counts=(("energy", "y", "x"), np.zeros(ds.background.shape)),
                   mask_safe=(("energy", "y", "x"), np.ones(ds.background.shape, bool)))
    models = Models([src.with_parameters(src.parameters.with_frozen(["spatial.lon_0", "spatial.lat_0"]))])
    rng = np.random.default_rng(2024)
    sampler = EventSampler(obs)
    pulls: dict[str, list[float]] = {"index": [], "amplitude": []}
    for _ in range(300):
        ev = sampler.sample([src], rng=rng)
        counts = xg.bin_events(ev, geom).transpose("energy", "y", "x").values
        res = xg.fit(ds.assign(counts=(("energy", "y", "x"), counts)), models).result
        for k in pulls:
            p = f"src.spectral.{k}"
            pulls[k].append((float(res["value"].sel(param=p)) - truth[k]) / float(res["error"].sel(param=p)))
    for k, v in pulls.items():
        v = np.asarray(v)
        assert abs(v.mean()) < 0.15, (k, v.mean())
        assert abs(v.std() - 1) < 0.1, (k, v.std())


def test_simulate_dataset_is_fake():
    from xgamma.fold import example_dataset

    ds = example_dataset()
    m = spectral_model("pl")
    a = simulate_dataset(ds, m, rng=3)
    b = xg.fake(ds, m, seed=np.random.default_rng(3))
    assert (a.counts == b.counts).all()


# ---------------------------------------------------------------------------------------------
# DL3 writing


def test_write_read_check_demo(irfs, tmp_path):
    src = SkyModel("src", spectral_model("pl", amplitude=1e-11), xg.spatial_model("point", lon_0=SRC[0], lat_0=SRC[1]))
    obs = [simulate_observation(observation_from_irfs(irfs, PNT, "5 min", tstart=300.0 * i, obs_id=i), [src], rng=i)
           for i in (1, 2)]
    out = write_dl3(obs, tmp_path / "store")
    assert check_gadf(out) == []
    store = xg.open_store(out)
    assert sorted(store.obs_ids.tolist()) == [1, 2]
    back = store.observation(2)
    pd.testing.assert_frame_equal(back.events, obs[1].events, check_dtype=True)
    assert back.livetime == 300.0 and back.pointing.ra == PNT[0] and back.tstart == 600.0
    for kind in ("aeff", "edisp", "psf", "bkg"):
        xr.testing.assert_allclose(getattr(back, kind).drop_attrs(), getattr(obs[1], kind).drop_attrs())
    # same reduced counts as the in-memory observation
    geom = _geom()
    assert (xg.reduce(back, geom, products=["counts"]).counts == xg.reduce(obs[1], geom, products=["counts"]).counts).all()


def test_round_trip_of_a_real_store(tmp_path, data_path):
    store = xg.open_store(data_path / "hess-dl3-dr1")
    obs = store.observations([23523, 23526])
    out = write_dl3(obs, tmp_path / "copy")
    again = xg.open_store(out)
    for o in obs:
        b = again.observation(o.obs_id)
        pd.testing.assert_frame_equal(b.events.reset_index(drop=True), o.events.reset_index(drop=True))
        pd.testing.assert_frame_equal(b.gti, o.gti)
        for kind in ("aeff", "edisp", "psf", "bkg"):
            xr.testing.assert_identical(getattr(b, kind).drop_attrs(), getattr(o, kind).drop_attrs())
        assert (b.livetime, b.ontime, b.deadc, b.tstart, b.tstop) == (o.livetime, o.ontime, o.deadc, o.tstart, o.tstop)
    # and a second round gives identical files' contents
    out2 = write_dl3([again.observation(i) for i in again.obs_ids], tmp_path / "copy2")
    b2 = xg.open_store(out2).observation(23523)
    pd.testing.assert_frame_equal(b2.events, again.observation(23523).events)


def test_checker_finds_problems(irfs, tmp_path):
    from astropy.io import fits

    obs = simulate_observation(_obs(irfs, livetime=60.0), rng=0)
    out = write_dl3([obs], tmp_path / "s")
    f = out / "data" / "obs_000001.fits"
    with fits.open(f, mode="update") as hl:
        del hl["EVENTS"].header["LIVETIME"]
        hl["AEFF"].header["HDUCLAS2"] = "AREA"
        hl["GTI"].columns.change_unit("START", "d") if hasattr(hl["GTI"].columns, "change_unit") else None
    problems = check_gadf(out)
    assert any("missing header keyword LIVETIME" in p for p in problems)
    assert any("HDUCLAS2 = 'AREA'" in p for p in problems)
    assert all(p.count("\n") == 0 for p in problems)


# ---------------------------------------------------------------------------------------------
# CTA prod5, the command and the example


def test_observation_from_prod5(data_path):
    obs = observation_from_irfs(data_path / PROD5, SRC, "1 h", "2025-01-01T00:00:00", obs_id=3, deadc=0.95)
    assert obs.livetime == 3600.0 and obs.ontime == pytest.approx(3600 / 0.95)
    assert obs.psf.attrs["psf_class"] == "PSF_3GAUSS" and obs.bkg.attrs["fovalign"] == "RADEC"
    ds = xg.reduce(obs, _geom(), products=["counts", "exposure"])
    assert float(ds.counts.sum()) == 0 and float(ds.exposure.max()) > 1e13


def test_cta_example_recovers_truth(tmp_path, data_path, monkeypatch):
    monkeypatch.setenv("XGAMMA_DATA", str(data_path))
    import shutil
    from pathlib import Path

    ex = Path(__file__).parent.parent / "examples"
    shutil.copy(ex / "simulate_cta.yaml", tmp_path)
    shutil.copy(ex / "simulate_cta_models.yaml", tmp_path)
    store = simulate_from_config(tmp_path / "simulate_cta.yaml", tmp_path / "dl3")
    assert check_gadf(store) == []
    cfg = xg.AnalysisConfig.read(ex / "simulate_cta_run.yaml").update(
        {"observations": {"datastore": str(store)}, "flux_points": None, "excess_map": None}
        if False else {"observations": {"datastore": str(store)}})
    analysis = xg.Analysis(cfg)
    analysis.get_observations()
    analysis.get_datasets()
    models = xg.read_models(ex / "simulate_cta_models.yaml")
    analysis.set_models(models)
    analysis.run_fit()
    r = analysis.fit_result.result
    index, err = float(r["value"].sel(param="source.spectral.index")), float(r["error"].sel(param="source.spectral.index"))
    assert abs(index - 2.5) < 3 * err and err < 0.1


# ---------------------------------------------------------------------------------------------
# bad input: one-line errors, nothing written


def test_irf_file_without_hdu(tmp_path, data_path):
    from astropy.io import fits

    with fits.open(data_path / PROD5) as hl:
        fits.HDUList([h for h in hl if h.name != "POINT SPREAD FUNCTION"]).writeto(tmp_path / "nopsf.fits")
    with pytest.raises(XgammaIOError) as exc:
        observation_from_irfs(tmp_path / "nopsf.fits", SRC, "1 h")
    msg = str(exc.value)
    assert "nopsf.fits" in msg and "POINT SPREAD FUNCTION" in msg and "\n" not in msg


def test_zero_livetime(irfs):
    with pytest.raises(SimulationError, match="livetime must be positive") as exc:
        observation_from_irfs(irfs, PNT, 0.0)
    assert "\n" not in str(exc.value)


def test_model_outside_fov(irfs, tmp_path):
    far = SkyModel("far", spectral_model("pl"), xg.spatial_model("point", lon_0=120.0, lat_0=-40.0))
    with pytest.raises(SimulationError, match="'far'.*outside the field of view") as exc:
        simulate_events(_obs(irfs), [far], rng=0)
    assert "\n" not in str(exc.value)


def test_existing_output_folder(irfs, tmp_path):
    obs = simulate_observation(_obs(irfs, livetime=60.0), rng=0)
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "keep.txt").write_text("x")
    with pytest.raises(XgammaIOError, match="output folder exists") as exc:
        write_dl3([obs], tmp_path / "s")
    assert "\n" not in str(exc.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s"]
    assert [p.name for p in (tmp_path / "s").iterdir()] == ["keep.txt"]
    write_dl3([obs], tmp_path / "s", overwrite=True)
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == ["data", "hdu-index.fits.gz", "obs-index.fits.gz"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s"]


def test_failed_write_leaves_nothing(irfs, tmp_path):
    good = simulate_observation(_obs(irfs, livetime=60.0), rng=0)
    bad = replace(good, obs_id="x")  # not an integer: fails after the first file is written
    with pytest.raises(ValueError):
        write_dl3([good, bad], tmp_path / "s")
    assert list(tmp_path.iterdir()) == []


def test_cli_simulate(tmp_path, capsys):
    from xgamma.cli import main

    cfg = tmp_path / "sim.yaml"
    cfg.write_text("simulation:\n  irf: demo\n  seed: 1\n  observations:\n"
                   "    - {obs_id: 4, pointing: {ra: 10 deg, dec: -5 deg}, livetime: 2 min, tstart: 0}\n")
    assert main(["simulate", str(cfg), "--out", str(tmp_path / "out")]) == 0
    assert check_gadf(tmp_path / "out") == []
    assert main(["simulate", str(cfg), "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("xgamma: error:") and "output folder exists" in err and "\n" not in err
    cfg.write_text("simulation:\n  irf: demo\n  observations:\n    - {pointing: {ra: 1, dec: 2}, livetime: 0 s}\n")
    assert main(["simulate", str(cfg), "--out", str(tmp_path / "o2")]) == 1
    assert "livetime must be positive" in capsys.readouterr().err
    assert not (tmp_path / "o2").exists()
