import subprocess
import sys

from xgamma.cli import main


def test_info_prints_version_and_data(capsys, data_path):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("xgamma ")
    assert str(data_path) in out


def test_config_prints_valid_commented_yaml(capsys):
    from xgamma.config import AnalysisConfig

    assert main(["config"]) == 0
    text = capsys.readouterr().out
    assert text.count("\n# ") >= 8
    assert AnalysisConfig.from_yaml(text) == AnalysisConfig()


def test_check_good_and_bad(tmp_path, capsys, data_path):
    good = data_path.parent / "reference" / "crab_1d_config.yaml"
    assert main(["check", str(good)]) == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text("datasets:\n  geom:\n    axes:\n      energy: {min: 1 TeV, max: 0.1 TeV}\n")
    assert main(["check", str(bad)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert "datasets.geom.axes.energy: min (1.0 TeV) must be below max (0.1 TeV)" in err


def test_console_script_exit_code(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("datasets: {tpye: 1d}\n")
    proc = subprocess.run(
        [sys.executable, "-m", "xgamma.cli", "check", str(bad)], capture_output=True, text=True
    )
    assert proc.returncode == 1
    assert "datasets.tpye: unknown key" in proc.stderr


def test_crab_example_without_data_says_how_to_get_it(tmp_path, monkeypatch, capsys):
    from pathlib import Path

    from xgamma.cli import main

    monkeypatch.setenv("XGAMMA_DATA", str(tmp_path / "nothing-here"))
    example = Path(__file__).resolve().parents[1] / "examples" / "crab_1d.yaml"
    assert main(["run", str(example), "--out", str(tmp_path / "out"), "--quiet"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "observations.datastore" in err[0] and "xgamma download" in err[0]
