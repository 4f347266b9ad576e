"""Fault policy for many observations (issue 14, scope 3): ``on_error: raise | skip``."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import yaml

from xgamma import cli, testing
from xgamma.config import AnalysisConfig, ConfigError
from xgamma.errors import ReductionError, XgammaIOError
from xgamma.reduction.many import SkippedObservation, reduce_many

GEOM = testing.make_wcs_geom(width=1.0, binsz=0.2)
KW = {"products": ["counts", "exposure"]}


class _Truncated:
    """A fake observation whose event file is broken (as a truncated gzip stream reads)."""

    def __init__(self, obs):
        self._obs = obs

    def __getattr__(self, name):
        if name.startswith("__") or name == "_obs":  # pickling (distributed workers)
            raise AttributeError(name)
        if name == "events":
            raise XgammaIOError("corrupt or truncated gzip stream", path=f"run_{self._obs.obs_id}.fits.gz",
                                hdu="EVENTS")
        return getattr(self._obs, name)


@pytest.fixture(scope="module")
def twenty():
    return [testing.make_observation(obs_id=100 + i, seed=i, n_events=150) for i in range(20)]


def test_skip_one_of_twenty_is_identical_to_a_clean_run(caplog, twenty):
    obs = twenty
    bad = list(obs)
    bad[7] = _Truncated(obs[7])
    with caplog.at_level("WARNING", logger="xgamma.reduction"):
        got = reduce_many(bad, GEOM, on_error="skip", **KW)
    clean = reduce_many(obs[:7] + obs[8:], GEOM, **KW)
    assert got.sizes["obs"] == 19 and 107 not in got.obs.values.tolist()
    assert got.attrs.pop("skipped") == [{"obs_id": 107, "file": "run_107.fits.gz", "hdu": "EVENTS",
                                         "reason": "run_107.fits.gz [HDU EVENTS]: corrupt or "
                                                   "truncated gzip stream"}]
    xr.testing.assert_identical(got, clean)
    assert "skipped observation 107 (file run_107.fits.gz, HDU EVENTS)" in caplog.text
    # stacked: the same pairwise tree over the 19
    st = reduce_many(bad, GEOM, on_error="skip", stack=True, **KW)
    st_clean = reduce_many(obs[:7] + obs[8:], GEOM, stack=True, **KW)
    assert [s["obs_id"] for s in st.attrs.pop("skipped")] == [107]
    xr.testing.assert_identical(st, st_clean)
    np.testing.assert_allclose(float(st["counts"].sum()), float(clean["counts"].sum()))


def test_raise_names_the_observation(twenty):
    bad = twenty[:3]
    bad[1] = _Truncated(bad[1])
    with pytest.raises(ReductionError, match=r"^observation 101 failed: XgammaIOError: run_101.fits.gz"):
        reduce_many(bad, GEOM, **KW)


def test_list_results_keep_records_in_place(twenty):
    bad = twenty[:3]
    bad[2] = _Truncated(bad[2])
    out = reduce_many(bad, GEOM, on_error="skip", postprocess=lambda ds: int(ds["counts"].sum()), **KW)
    assert isinstance(out[2], SkippedObservation) and out[2].obs_id == 102
    assert all(isinstance(v, int) for v in out[:2])


def test_all_failing_and_bad_policy_raise(twenty):
    bad = [_Truncated(o) for o in twenty[:2]]
    with pytest.raises(ReductionError, match="every observation failed; first: observation 100"):
        reduce_many(bad, GEOM, on_error="skip", **KW)
    with pytest.raises(ReductionError, match="on_error: expected 'raise' or 'skip', got 'ignore'"):
        reduce_many(twenty[:1], GEOM, on_error="ignore", **KW)
    with pytest.raises(ConfigError, match=r"^observations.on_error: input should be 'raise' or 'skip'"):
        AnalysisConfig.from_dict({"observations": {"on_error": "continue"}})


RUNS = [23523, 23526, 23559, 23592]
CONFIG = """
general: {{log: {{level: warning}}, models_file: {models}}}
observations:
  datastore: {store}
  obs_ids: {ids}
  required_irf: [aeff, edisp, bkg]
  on_error: {policy}
datasets:
  type: 1d
  stack: false
  geom:
    axes:
      energy: {{min: 0.2 TeV, max: 30.0 TeV, nbins: 15}}
      energy_true: {{min: 0.1 TeV, max: 60.0 TeV, nbins: 30}}
  background: {{method: reflected}}
  on_region: {{frame: icrs, lon: 83.63 deg, lat: 22.01 deg, radius: 0.11 deg}}
fit:
  fit_range: {{min: 0.6 TeV, max: 20.0 TeV}}
output: {{plots: false}}
"""


@pytest.fixture
def broken_store(tmp_path, hess_path):
    """A copy of the H.E.S.S. store (index files copied, event files linked) whose run 23526
    file is truncated."""
    store = tmp_path / "store"
    (store / "data").mkdir(parents=True)
    for f in hess_path.glob("*.fits.gz"):
        shutil.copy(f, store / f.name)
    for f in (hess_path / "data").iterdir():
        (store / "data" / f.name).symlink_to(f)
    victim = store / "data" / "hess_dl3_dr1_obs_id_023526.fits.gz"
    victim.unlink()
    victim.write_bytes((hess_path / "data" / victim.name).read_bytes()[:30000])
    return store


def _run(tmp_path, store, ids, policy, out, capsys):
    cfg = tmp_path / f"{out}.yaml"
    models = Path(cli.__file__).parents[1] / "examples" / "crab_1d_models.yaml"
    cfg.write_text(CONFIG.format(models=models, store=store, ids=ids, policy=policy))
    code = cli.main(["run", str(cfg), "--out", str(tmp_path / out), "-q"])
    return code, capsys.readouterr().err


def test_cli_skip_and_raise(tmp_path, broken_store, hess_path, capsys):
    code, err = _run(tmp_path, broken_store, RUNS, "skip", "skip", capsys)
    assert code == 0, err
    skipped = yaml.safe_load((tmp_path / "skip" / "skipped.yaml").read_text())["skipped_observations"]
    assert [(s["obs_id"], Path(s["file"]).name) for s in skipped] == [
        (23526, "hess_dl3_dr1_obs_id_023526.fits.gz")]
    assert "truncated gzip stream" in skipped[0]["reason"]
    fit = yaml.safe_load((tmp_path / "skip" / "fit_result.yaml").read_text())
    assert fit.pop("skipped_observations") == skipped
    names = sorted(p.name for p in (tmp_path / "skip" / "datasets.zarr").iterdir() if p.is_dir())
    assert names == ["obs_23523", "obs_23559", "obs_23592"]
    # the clean run of the three good observations from the original store: same results
    code, err = _run(tmp_path, hess_path, [23523, 23559, 23592], "raise", "clean", capsys)
    assert code == 0, err
    clean = yaml.safe_load((tmp_path / "clean" / "fit_result.yaml").read_text())
    assert clean.pop("skipped_observations") == []
    assert fit == clean
    # raise: one line naming the observation and the file
    code, err = _run(tmp_path, broken_store, RUNS, "raise", "raise", capsys)
    assert code == 1
    assert err.count("\n") == 1
    assert err.startswith("xgamma: error: observation 23526: ") and "obs_id_023526.fits.gz" in err
    assert not (tmp_path / "raise").exists()


def _lose_worker_once(marker: str):
    """A postprocess whose first run closes the worker it runs on (a worker lost mid-task)."""
    import os
    import time

    import distributed

    def post(ds):
        if not os.path.exists(marker):
            open(marker, "w").close()
            worker = distributed.get_worker()
            worker.loop.add_callback(worker.close)
            time.sleep(3)  # the worker goes away under the task
        return int(ds["counts"].sum())
    return post


def test_lost_worker_is_retried_and_skip_still_applies(tmp_path, twenty):
    """On a ``distributed`` cluster a task whose worker is lost is rerun on another worker; the
    broken observation is still skipped and reported."""
    distributed = pytest.importorskip("distributed")
    obs = twenty[:4]
    bad = [obs[0], _Truncated(obs[1]), obs[2], obs[3]]
    expected = [int(reduce_many([o], GEOM, **KW)["counts"].sum()) for o in (obs[0], obs[2], obs[3])]
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                      dashboard_address=None) as cluster, distributed.Client(cluster):
            out = reduce_many(bad, GEOM, on_error="skip",
                              postprocess=_lose_worker_once(str(tmp_path / "lost")), **KW)
            assert len(cluster.scheduler.workers) == 1  # one worker was lost
    assert (tmp_path / "lost").exists()
    assert isinstance(out[1], SkippedObservation) and out[1].obs_id == 101
    assert [out[0], out[2], out[3]] == expected
