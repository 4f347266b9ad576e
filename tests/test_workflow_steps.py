"""`xgamma run` with workflow mistakes (issue 15, scope 6): steps with nothing to do are skipped
with a message, a failing step after the fit does not lose the products already computed, and the
stacked 1D livetime counts only the observations that contribute (MSH 15-52 with an exclusion)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import yaml

import xgamma as xg
from xgamma.analysis import AnalysisStepError
from xgamma.cli import main

ROOT = Path(__file__).resolve().parents[1]
CRAB_1D = {
    "observations": {"datastore": "$XGAMMA_DATA/hess-dl3-dr1", "obs_ids": [23523, 23526]},
    "datasets": {"type": "1d", "stack": True,
                 "on_region": {"frame": "icrs", "lon": "83.633 deg", "lat": "22.014 deg", "radius": "0.11 deg"},
                 "background": {"method": "reflected"}, "safe_mask": {"methods": ["aeff-default"]},
                 "geom": {"axes": {"energy": {"min": "0.5 TeV", "max": "30 TeV", "nbins": 8},
                                   "energy_true": {"min": "0.3 TeV", "max": "50 TeV", "nbins": 16}}}},
    "output": {"plots": True},
}


def test_no_flux_points_section_and_no_model_named_source(hess_path, tmp_path, capsys, caplog):
    """The config has no flux_points section (null energy edges, as in the established tool)
    and the model is 'Crab': the run succeeds, says why flux points were skipped and writes
    every product; with energy bins but the default source 'source' the run is refused first."""
    cfg = tmp_path / "crab.yaml"
    cfg.write_text(yaml.safe_dump({**CRAB_1D, "general": {"models_file": str(ROOT / "examples" / "crab_1d_models.yaml")}}))
    out = tmp_path / "out"
    with caplog.at_level(logging.INFO, logger="xgamma.analysis"):
        assert main(["run", str(cfg), "--out", str(out)]) == 0, capsys.readouterr().err
    for name in ("config.yaml", "models.yaml", "fit_result.yaml", "datasets.zarr", "spectrum.png"):
        assert (out / name).exists(), name
    assert not (out / "flux_points.ecsv").exists()
    err = caplog.text
    assert "flux_points: skipped (no flux_points.energy: set min, max and nbins)" in err
    assert "light_curve: skipped (no light_curve.time_intervals)" in err
    fit = yaml.safe_load((out / "fit_result.yaml").read_text())
    assert fit["success"] and 2.3 < fit["parameters"]["Crab.spectral.index"]["value"] < 2.9
    # flux points asked for (energy bins) of a source that is not in the models: refused before
    # any work, naming the key (issue 14's validation), not skipped at the end
    ana = xg.Analysis({**CRAB_1D, "flux_points": {"energy": {"min": "1 TeV", "max": "10 TeV", "nbins": 2}}})
    with pytest.raises(xg.ConfigError, match=r"^flux_points.source: no model component 'source'"):
        ana.run(models=ROOT / "examples" / "crab_1d_models.yaml")


def test_failing_step_after_fit_keeps_products(hess_path, tmp_path, caplog):
    """A light curve whose intervals miss the data fails; the fit, flux points and datasets are
    still written, and write() then raises one error naming the step."""
    cfg = {**CRAB_1D,
           "flux_points": {"source": "Crab", "energy": {"min": "1 TeV", "max": "10 TeV", "nbins": 2}},
           "light_curve": {"source": "Crab", "energy_edges": {"min": "1 TeV", "max": "10 TeV", "nbins": 1},
                           "time_intervals": {"start": ["2010-01-01T00:00"], "stop": ["2010-01-01T01:00"]}}}
    ana = xg.Analysis(cfg)
    with caplog.at_level(logging.ERROR, logger="xgamma.analysis"):
        ana.run(models=ROOT / "examples" / "crab_1d_models.yaml")
    assert list(ana.step_errors) == ["light_curve"]
    assert "no time bin overlaps the observations" in ana.step_errors["light_curve"]
    assert "light_curve: failed" in caplog.text
    assert ana.flux_points is not None and ana.fit_result is not None
    out = tmp_path / "out"
    with pytest.raises(AnalysisStepError, match=r"^light_curve: ValueError: light_curve: no time bin"):
        ana.write(out)
    for name in ("models.yaml", "fit_result.yaml", "flux_points.ecsv", "sed.png", "datasets.zarr"):
        assert (out / name).exists(), name
    # through the command line: exit 1 with one line, products written
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump({**cfg, "general": {"models_file": str(ROOT / "examples" / "crab_1d_models.yaml")}}))
    out2 = tmp_path / "out2"
    assert main(["run", str(path), "--out", str(out2), "--quiet"]) == 1
    assert (out2 / "flux_points.ecsv").exists() and (out2 / "fit_result.yaml").exists()


def test_stacked_livetime_counts_only_contributing_observations(hess_path):
    """MSH 15-52 (20 runs within 3 deg, 29971 s): with a 0.7 deg exclusion around the source the
    runs pointed 0.38 deg from it get no reflected OFF region; the 9 others (13106 s) make the
    stack, whose counts are unchanged."""
    from astropy.coordinates import SkyCoord

    from xgamma.reduction.spectrum import stack_spectra

    c = SkyCoord(320.33, -1.19, unit="deg", frame="galactic").icrs
    lon, lat = f"{c.ra.deg} deg", f"{c.dec.deg} deg"
    cfg = {"observations": {"datastore": "$XGAMMA_DATA/hess-dl3-dr1",
                            "obs_cone": {"frame": "icrs", "lon": lon, "lat": lat, "radius": "3 deg"}},
           "datasets": {"type": "1d", "stack": False,
                        "on_region": {"frame": "icrs", "lon": lon, "lat": lat, "radius": "0.2 deg"},
                        "background": {"method": "reflected",
                                       "exclusion": f"icrs;circle({c.ra.deg},{c.dec.deg},0.7)"},
                        "safe_mask": {"methods": ["aeff-default"]},
                        "geom": {"axes": {"energy": {"min": "0.5 TeV", "max": "30 TeV", "nbins": 6},
                                          "energy_true": {"min": "0.3 TeV", "max": "50 TeV", "nbins": 12}}}},
           "general": {"log": {"level": "error"}}}
    ana = xg.Analysis(cfg)
    obs = ana.get_observations()
    assert len(obs) == 20
    np.testing.assert_allclose(sum(o.livetime for o in obs), 29971.38, atol=0.01)
    with pytest.warns(UserWarning, match="no reflected OFF region"):
        per_obs = ana.get_datasets()
    contributing = [d for d in per_obs if d.attrs["n_off_regions"] > 0]
    assert len(contributing) == 9
    ana.config = ana.config.update({"datasets": {"stack": True}})
    with pytest.warns(UserWarning, match="no reflected OFF region"):
        (stacked,) = ana.get_datasets()
    np.testing.assert_allclose(stacked.attrs["livetime"], 13106.19, atol=0.01)
    np.testing.assert_allclose(stacked.attrs["ontime"], sum(d.attrs["ontime"] for d in contributing), rtol=1e-12)
    assert sorted(stacked.attrs["obs_id"]) == sorted(d.attrs["obs_id"] for d in contributing)
    # stack_spectra itself leaves the runs without OFF region out (no counts, no livetime)
    everything = stack_spectra(per_obs)
    np.testing.assert_allclose(everything.attrs["livetime"], 13106.19, atol=0.01)
    assert sorted(everything.attrs["obs_id"]) == sorted(stacked.attrs["obs_id"])
    for v in ("counts", "counts_off", "exposure"):
        np.testing.assert_array_equal(stacked[v].values, everything[v].values)
