"""End-to-end: the config-driven analyses against the reference numbers."""

import json

import numpy as np
import pytest
import xarray as xr
import yaml

import xgamma as xg
from xgamma.cli import main


@pytest.fixture(scope="module")
def reference(data_path):
    ref = data_path.parent / "reference"
    return ref, json.loads((ref / "gammapy_crab.json").read_text())["spectrum_1d"]


def _check_pl(params: dict, expected: dict) -> None:
    for name in ("index", "amplitude"):
        exp = expected["parameters"][name]
        got = params[f"Crab.spectral.{name}"]
        assert abs(got["value"] - exp["value"]) < 0.1 * exp["error"], name
        np.testing.assert_allclose(got["error"], exp["error"], rtol=0.05)


def test_gammapy_config_runs_unchanged(reference, data_path, tmp_path, monkeypatch, capsys):
    """`xgamma run crab_1d_config.yaml --models crab_1d_models.yaml` with GAMMAPY_DATA set."""
    ref, values = reference
    monkeypatch.setenv("GAMMAPY_DATA", str(data_path))
    out = tmp_path / "out"
    rc = main(["run", str(ref / "crab_1d_config.yaml"), "--models", str(ref / "crab_1d_models.yaml"),
               "--out", str(out), "--quiet"])
    assert rc == 0, capsys.readouterr().err
    fit = yaml.safe_load((out / "fit_result.yaml").read_text())
    assert fit["success"]
    _check_pl(fit["parameters"], values["fits"]["A_stacked_pl"])
    np.testing.assert_allclose(fit["stat_sum"], values["fits"]["A_stacked_pl"]["total_stat"], atol=0.01)
    for name in ("config.yaml", "models.yaml", "fit_result.yaml", "datasets.zarr"):
        assert (out / name).exists(), name
    # the written models read back, with the fitted values and errors
    models = xg.read_models(out / "models.yaml")
    index = models["Crab"].spectral.parameters["index"]
    assert index.value == pytest.approx(fit["parameters"]["Crab.spectral.index"]["value"])
    assert index.error == pytest.approx(fit["parameters"]["Crab.spectral.index"]["error"])
    # the reduced dataset archive opens back with the reference counts
    back = xg.io.zarr.open_zarr(out / "datasets.zarr" / "stacked")
    # one zarr group per dataset under one root: xarray's DataTree opens the archive
    assert list(xr.open_datatree(out / "datasets.zarr", engine="zarr").children) == ["stacked"]
    assert int(back["counts"].where(back["mask_safe"], 0).sum()) == values["stacked"]["counts"]
    # no temporary files are left behind
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def test_analysis_steps_in_python(reference):
    ref, values = reference
    ana = xg.Analysis(ref / "crab_1d_config.yaml")
    obs = ana.get_observations()
    assert sorted(o.obs_id for o in obs) == [23523, 23526, 23559, 23592]
    ana = ana  # steps are usable one by one
    ana.config = ana.config.update({"datasets": {"stack": False}})
    datasets = ana.get_datasets()
    assert len(datasets) == 4
    assert [int(d["mask_fit"].sum()) for d in datasets] == [int(datasets[0]["mask_fit"].sum())] * 4
    ana.set_models(ref / "crab_1d_models.yaml")
    res = ana.run_fit()
    params = {str(n): {"value": float(res.result["value"].sel(param=n)),
                       "error": float(res.result["error"].sel(param=n))} for n in res.result["param"].values}
    _check_pl(params, values["fits"]["A_joint_pl"])


def test_run_errors_are_one_line(tmp_path, capsys, data_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"observations: {{datastore: {data_path}/hess-dl3-dr1, obs_ids: [1]}}\n")
    assert main(["run", str(cfg), "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("xgamma: error:")
    assert main(["run", str(cfg), "--models", str(tmp_path / "nope.yaml")]) == 1
    assert "--models: file not found" in capsys.readouterr().err


def test_crab_3d_example_against_reference(data_path):
    """examples/crab_3d.yaml: the analysis_3d reference (index, amplitude, position within
    0.2 sigma, background norm, TS of the source within 2 %)."""
    from pathlib import Path

    from xgamma.fitting.fitter import ts

    ref = json.loads((data_path.parent / "reference" / "gammapy_crab.json").read_text())["analysis_3d"]
    root = Path(__file__).resolve().parents[1]
    ana = xg.Analysis(root / "examples" / "crab_3d.yaml")
    ana.get_observations()
    (ds,) = ana.get_datasets()
    mask = ds["mask_safe"]
    assert int(ds["counts"].where(mask, 0).sum()) == ref["stacked"]["counts"]
    np.testing.assert_allclose(float(ds["background"].where(mask, 0).sum()),
                               ref["stacked"]["background"], rtol=2e-3)
    ana.set_models(root / "examples" / "crab_3d_models.yaml")
    res = ana.run_fit()
    assert res.success
    names = {"index": "crab.spectral.index", "amplitude": "crab.spectral.amplitude",
             "lon_0": "crab.spatial.lon_0", "lat_0": "crab.spatial.lat_0",
             "norm": "stacked-bkg.spectral.norm"}
    for key, name in names.items():
        exp = ref["fit"]["parameters"][key]
        got = float(res.result["value"].sel(param=name))
        err = float(res.result["error"].sel(param=name))
        assert abs(got - exp["value"]) < 0.2 * exp["error"], (key, got, exp["value"])
        np.testing.assert_allclose(err, exp["error"], rtol=0.15)
    np.testing.assert_allclose(ts(ana.datasets, ana.models, "crab"), ref["fit"]["ts_source"], rtol=0.02)


def test_pks2155_light_curve_example(tmp_path, capsys):
    """examples/pks2155_light_curve.yaml: 34 ten-minute bins of the 2006 flare, written as ECSV."""
    from pathlib import Path

    from xgamma.estimators.sed import read_sed

    root = Path(__file__).resolve().parents[1]
    out = tmp_path / "pks"
    assert main(["run", str(root / "examples" / "pks2155_light_curve.yaml"), "--out", str(out),
                 "--quiet"]) == 0, capsys.readouterr().err
    for name in ("light_curve.ecsv", "light_curve.png", "flux_points.ecsv", "sed.png", "models.yaml"):
        assert (out / name).exists(), name
    lc = read_sed(out / "light_curve.ecsv")
    assert lc.sizes["time"] == 34
    norm = lc["norm"].values.ravel()
    assert np.all(np.isfinite(norm)) and np.all(lc["ts"].values > 25)
    # the flare: the brightest ten minutes are more than twice the faintest
    assert norm.max() > 2.5 * norm.min()
    # bins are 10 minutes long (UTC dates) and contiguous
    assert (lc["time_max"].values - lc["time_min"].values == np.timedelta64(10, "m")).all()
    assert (lc["time_min"].values[1:] == lc["time_max"].values[:-1]).all()
    assert str(lc["time_min"].values[0])[:19] == "2006-07-29T20:30:00"


def test_crab_1d_example(reference, tmp_path, capsys):
    """examples/crab_1d.yaml (the README quickstart): fit within 0.1 sigma of spectrum_1d, the
    printed summary, and the SED products."""
    from pathlib import Path

    from xgamma.estimators.sed import read_sed

    _, values = reference
    root = Path(__file__).resolve().parents[1]
    out = tmp_path / "crab_1d"
    assert main(["run", str(root / "examples" / "crab_1d.yaml"), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "Crab.spectral.index" in printed and "Crab.spectral.amplitude" in printed
    fit = yaml.safe_load((out / "fit_result.yaml").read_text())
    _check_pl(fit["parameters"], values["fits"]["A_stacked_pl"])
    fp = read_sed(out / "flux_points.ecsv")
    assert fp.sizes["energy"] == 10 and int(fp["valid"].sum()) == 7
    assert (out / "sed.png").stat().st_size > 10_000
