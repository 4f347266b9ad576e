"""DL3 writing and checking, the simulate command, the CTA example, and bad input
(one-line errors, nothing half-written).
"""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import pytest
import xarray as xr
from simulation_helpers import PNT, PROD5, SRC, sim_geom, sim_obs

import xgamma as xg
from xgamma.errors import XgammaIOError
from xgamma.models import SkyModel, spectral_model
from xgamma.simulation import (
    SimulationError,
    check_gadf,
    gadf_report,
    observation_from_irfs,
    simulate_events,
    simulate_from_config,
    simulate_observation,
    write_dl3,
)


def test_write_read_check_demo(sim_irfs, tmp_path):
    src = SkyModel("src", spectral_model("pl", amplitude=1e-11), xg.spatial_model("point", lon_0=SRC[0], lat_0=SRC[1]))
    obs = [simulate_observation(observation_from_irfs(sim_irfs, PNT, "5 min", tstart=300.0 * i, obs_id=i), [src], rng=i)
           for i in (1, 2)]
    out = write_dl3(obs, tmp_path / "store")
    assert check_gadf(out) == []
    assert gadf_report(out).warnings == []  # xgamma's own stores: not even a warning
    store = xg.open_store(out)
    assert sorted(store.obs_ids.tolist()) == [1, 2]
    back = store.observation(2)
    pd.testing.assert_frame_equal(back.events, obs[1].events, check_dtype=True)
    assert back.livetime == 300.0 and back.pointing.ra == PNT[0] and back.tstart == 600.0
    for kind in ("aeff", "edisp", "psf", "bkg"):
        xr.testing.assert_allclose(getattr(back, kind).drop_attrs(), getattr(obs[1], kind).drop_attrs())
    # same reduced counts as the in-memory observation
    geom = sim_geom()
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


def test_checker_finds_problems(sim_irfs, tmp_path):
    from astropy.io import fits

    obs = simulate_observation(sim_obs(sim_irfs, livetime=60.0), rng=0)
    out = write_dl3([obs], tmp_path / "s")
    f = out / "data" / "obs_000001.fits"
    with fits.open(f, mode="update") as hl:
        del hl["EVENTS"].header["LIVETIME"]
        hl["AEFF"].header["HDUCLAS2"] = "AREA"
        hl["EVENTS"].columns["ENERGY"].unit = "m"
    problems = check_gadf(out)
    assert any("column ENERGY has unit 'm', expected 'TeV'" in p for p in problems)
    assert any("missing header keyword LIVETIME" in p for p in problems)
    assert all(p.count("\n") == 0 for p in problems)
    # an HDUCLASn value other than the spec's is a warning (the HDU index says what it is)
    assert gadf_report(out).warnings == [f"{f} [HDU AEFF]: HDUCLAS2 = 'AREA', GADF: EFF_AREA"]


def test_observation_from_prod5(data_path):
    obs = observation_from_irfs(data_path / PROD5, SRC, "1 h", "2025-01-01T00:00:00", obs_id=3, deadc=0.95)
    assert obs.livetime == 3600.0 and obs.ontime == pytest.approx(3600 / 0.95)
    assert obs.psf.attrs["psf_class"] == "PSF_3GAUSS" and obs.bkg.attrs["fovalign"] == "RADEC"
    ds = xg.reduce(obs, sim_geom(), products=["counts", "exposure"])
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
        {"observations": {"datastore": str(store)}})
    analysis = xg.Analysis(cfg)
    analysis.get_observations()
    analysis.get_datasets()
    models = xg.read_models(ex / "simulate_cta_models.yaml")
    analysis.set_models(models)
    analysis.run_fit()
    r = analysis.fit_result.result
    index, err = float(r["value"].sel(param="source.spectral.index")), float(r["error"].sel(param="source.spectral.index"))
    assert abs(index - 2.5) < 3 * err and err < 0.1


def test_irf_file_without_hdu(tmp_path, data_path):
    from astropy.io import fits

    with fits.open(data_path / PROD5) as hl:
        fits.HDUList([h for h in hl if h.name != "POINT SPREAD FUNCTION"]).writeto(tmp_path / "nopsf.fits")
    with pytest.raises(XgammaIOError) as exc:
        observation_from_irfs(tmp_path / "nopsf.fits", SRC, "1 h")
    msg = str(exc.value)
    assert "nopsf.fits" in msg and "POINT SPREAD FUNCTION" in msg and "\n" not in msg


def test_zero_livetime(sim_irfs):
    with pytest.raises(SimulationError, match="livetime must be positive") as exc:
        observation_from_irfs(sim_irfs, PNT, 0.0)
    assert "\n" not in str(exc.value)


def test_model_outside_fov(sim_irfs, tmp_path):
    far = SkyModel("far", spectral_model("pl"), xg.spatial_model("point", lon_0=120.0, lat_0=-40.0))
    with pytest.raises(SimulationError, match="'far'.*outside the field of view") as exc:
        simulate_events(sim_obs(sim_irfs), [far], rng=0)
    assert "\n" not in str(exc.value)


def test_existing_output_folder(sim_irfs, tmp_path):
    obs = simulate_observation(sim_obs(sim_irfs, livetime=60.0), rng=0)
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


def test_failed_write_leaves_nothing(sim_irfs, tmp_path):
    good = simulate_observation(sim_obs(sim_irfs, livetime=60.0), rng=0)
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


def test_demo_example_offline(tmp_path, monkeypatch):
    """examples/demo_simulate.yaml + examples/demo.yaml: simulate and analyse with no data."""
    from pathlib import Path

    monkeypatch.setenv("XGAMMA_DATA", str(tmp_path / "no-data-here"))
    ex = Path(__file__).parent.parent / "examples"
    store = simulate_from_config(ex / "demo_simulate.yaml", tmp_path / "demo_dl3")
    assert check_gadf(store) == []
    cfg = xg.AnalysisConfig.read(ex / "demo.yaml").update({"observations": {"datastore": str(store)}})
    analysis = xg.Analysis(cfg)
    analysis.get_observations()
    analysis.get_datasets()
    analysis.set_models(xg.read_models(ex / "demo_models.yaml"))
    analysis.run_fit()
    r = analysis.fit_result.result
    index = float(r["value"].sel(param="source.spectral.index"))
    err = float(r["error"].sel(param="source.spectral.index"))
    assert abs(index - 2.3) < 3 * err and err < 0.05
