"""The output folder of ``xgamma run`` as a transaction (issue 14, scope 1).

Kill trials: a forked child writes a product set through :class:`OutputTransaction` (the same
calls as ``xgamma run``) and is killed with SIGKILL at a random moment; the folder must be the
complete old set or the complete new set, every leftover empty, marked ``.incomplete`` or
complete, and the next run must finish and remove the leftovers. One trial kills the real
command line (``cli.main`` in a forked child) during its run. ``benchmarks/bench_kill_trials.py``
runs 30 trials of ``python -m xgamma.cli run`` as a subprocess.
"""

from __future__ import annotations

import os
import random
import signal
import time
from pathlib import Path

import pytest

from xgamma import cli
from xgamma.io.transaction import (
    MANIFEST,
    MARKER,
    OutputLockedError,
    OutputTransaction,
    folder_state,
    sha256_tree,
)

NAMES = ["config.yaml", "models.yaml", "fit_result.yaml", "flux_points.ecsv", "sed.png"]


def _write_set(out: Path, tag: str, pause: float = 0.0, key: str = "") -> None:
    """What ``xgamma run`` does: a transaction, products written one by one, a commit."""
    with OutputTransaction(out, key=key) as tx:
        tx.clean()
        (tx.path / "datasets.zarr" / "stacked").mkdir(parents=True)
        for k in range(3):
            (tx.path / "datasets.zarr" / "stacked" / f"chunk{k}").write_text(f"{tag} {k}\n" * 500)
            time.sleep(pause)
        tx.meta["datasets"] = ["stacked"]
        tx.record("datasets.zarr")
        for name in NAMES:
            (tx.path / name).write_text(f"{tag}\n" * 2000)
            time.sleep(pause)
        tx.commit()


def _tag(out: Path) -> str:
    tags = {p.read_text().split()[0] for p in out.rglob("*") if p.is_file() and p.name != MANIFEST}
    assert len(tags) == 1, f"mixed set: {tags}"
    return tags.pop()


def _leftovers(out: Path) -> list[Path]:
    return [p for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.")]


def _fork(fn, *args) -> int:
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        code = 0
        try:
            fn(*args)
        except BaseException:  # noqa: BLE001
            code = 1
        os._exit(code)
    return pid


def test_commit_swaps_whole_set(tmp_path):
    out = tmp_path / "res"
    _write_set(out, "A")
    assert folder_state(out) == "complete" and _tag(out) == "A"
    _write_set(out, "B")
    assert folder_state(out) == "complete" and _tag(out) == "B"
    assert _leftovers(out) == []
    assert sorted(p.name for p in out.iterdir()) == sorted([*NAMES, MANIFEST, "datasets.zarr"])


def test_failed_run_keeps_old_set_and_releases_lock(tmp_path):
    out = tmp_path / "res"
    _write_set(out, "A")
    with pytest.raises(RuntimeError, match="boom"), OutputTransaction(out) as tx:
        (tx.path / "config.yaml").write_text("B\n")
        assert (tx.path / MARKER).is_file()
        raise RuntimeError("boom")
    assert folder_state(out) == "complete" and _tag(out) == "A"
    assert _leftovers(out) == []
    _write_set(out, "B")  # the lock was released
    assert _tag(out) == "B"


def test_second_run_fails_at_once(tmp_path):
    out = tmp_path / "res"
    with OutputTransaction(out):
        t0 = time.perf_counter()
        with pytest.raises(OutputLockedError, match=f"{out}: another xgamma run") as err:
            OutputTransaction(out).__enter__()
        assert time.perf_counter() - t0 < 1.0
        assert f"pid {os.getpid()}" in str(err.value) and "\n" not in str(err.value)


def test_lock_dies_with_its_process(tmp_path):
    out = tmp_path / "res"
    pid = _fork(lambda: (OutputTransaction(out).__enter__(), time.sleep(60)))
    deadline = time.time() + 20
    while not any(_leftovers(out)) and time.time() < deadline:
        time.sleep(0.02)
    time.sleep(0.1)
    with pytest.raises(OutputLockedError):
        OutputTransaction(out).__enter__()
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    _write_set(out, "A")  # kill -9 freed the lock; the killed run's folder is removed
    assert _tag(out) == "A" and _leftovers(out) == []


def test_half_done_swap_is_repaired(tmp_path):
    """Without an atomic exchange, a kill between the two renames leaves no target: the next
    run finishes the swap (complete new set) or puts the old set back."""
    out = tmp_path / "res"
    _write_set(out, "A")
    old = tmp_path / ".res.xgamma-old-1"
    out.rename(old)
    with OutputTransaction(out) as tx:
        assert folder_state(out) == "complete" and _tag(out) == "A"
        tx.clean()
    assert _leftovers(out) == []
    # new set complete (marker gone, manifest written) but not yet renamed
    _write_set(tmp_path / "other", "B")
    out.rename(tmp_path / ".res.xgamma-old-2")
    (tmp_path / "other").rename(tmp_path / ".res.xgamma-tmp-9-abc")
    with OutputTransaction(out) as tx:
        assert _tag(out) == "B"
        tx.clean()
    assert _leftovers(out) == []


def test_resume_only_verified_and_same_key(tmp_path):
    out = tmp_path / "res"
    _write_set(out, "A", key="k1")

    def reader(p, meta):
        return (meta["datasets"], sorted(sha256_tree(p)))

    with OutputTransaction(out, key="k1") as tx:
        assert tx.resume_datasets(reader) == (["stacked"], ["stacked/chunk0", "stacked/chunk1",
                                                            "stacked/chunk2"])
    with OutputTransaction(out, key="k2") as tx:  # other reduction settings
        assert tx.resume_datasets(reader) is None
    (out / "datasets.zarr" / "stacked" / "chunk1").write_text("A 1\n" * 499)
    with OutputTransaction(out, key="k1") as tx:  # checksum no longer matches
        assert tx.resume_datasets(reader) is None


def test_resume_from_killed_run(tmp_path):
    """The datasets recorded by a killed run (its folder kept until the next run) are reused."""
    out = tmp_path / "res"
    tx = OutputTransaction(out, key="k").__enter__()
    (tx.path / "datasets.zarr").mkdir()
    (tx.path / "datasets.zarr" / "x").write_text("reduced")
    tx.meta["datasets"] = ["x"]
    tx.record("datasets.zarr")
    tx._unlock()  # as if killed: the kernel drops the lock, the folder stays
    with OutputTransaction(out, key="k") as tx2:
        assert tx2.resume_datasets(lambda p, meta: (p / "x").read_text()) == "reduced"
        assert tx2.clean() == [tx.path]


def test_kill_trials(tmp_path):
    """10 kill -9 trials at random moments of a product write over an existing set."""
    rng = random.Random(14)
    out = tmp_path / "res"
    _write_set(out, "A")
    t0 = time.perf_counter()
    _write_set(tmp_path / "timing", "A", pause=0.01)
    full = time.perf_counter() - t0
    outcomes = []
    current = "A"
    for _ in range(10):
        new = "B" if current == "A" else "A"
        pid = _fork(_write_set, out, new, 0.01)
        time.sleep(rng.uniform(0, 1.2 * full))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        for p in _leftovers(out):
            assert p.name.endswith(".xgamma-lock") or folder_state(p) in (
                "empty", "incomplete", "complete"), p
        assert folder_state(out) == "complete"
        tag = _tag(out)
        outcomes.append("new" if tag == new else "old")
        _write_set(out, new)  # the rerun finishes and removes the leftovers
        assert _tag(out) == new and _leftovers(out) == []
        current = new
    assert len(outcomes) == 10


def test_cli_second_run_fails_fast_then_resume(tmp_path, data_path, capsys):
    """A run into a locked folder exits 1 at once with one line; then a run completes, and
    ``--resume`` reuses its verified datasets for identical fit results."""
    cfg = tmp_path / "c.yaml"
    cfg.write_text(FAST_CONFIG.format(models=Path(cli.__file__).parents[1] / "examples" / "crab_1d_models.yaml"))
    out = tmp_path / "out"
    with OutputTransaction(out):
        t0 = time.perf_counter()
        assert cli.main(["run", str(cfg), "--out", str(out), "-q"]) == 1
        assert time.perf_counter() - t0 < 5
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and str(out) in err and "another xgamma run" in err
    assert cli.main(["run", str(cfg), "--out", str(out), "-q"]) == 0
    first = (out / "fit_result.yaml").read_text()
    assert folder_state(out) == "complete"
    assert cli.main(["run", str(cfg), "--out", str(out), "-q", "--resume"]) == 0
    assert (out / "fit_result.yaml").read_text() == first
    assert folder_state(out) == "complete" and _leftovers(out) == []


def test_cli_killed_mid_run(tmp_path, data_path):
    """The real command killed at a random moment of its run: the old set or the new one."""
    cfg = tmp_path / "c.yaml"
    cfg.write_text(FAST_CONFIG.format(models=Path(cli.__file__).parents[1] / "examples" / "crab_1d_models.yaml"))
    out = tmp_path / "out"
    out.mkdir()
    (out / "config.yaml").write_text("old\n")
    pid = _fork(cli.main, ["run", str(cfg), "--out", str(out), "-q"])
    deadline = time.time() + 60
    while not (list(tmp_path.glob(".out.xgamma-tmp-*/datasets.zarr")) or time.time() > deadline):
        time.sleep(0.02)  # killed right after the reduction was recorded
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    assert (out / "config.yaml").read_text() == "old\n"
    assert all(folder_state(p) in ("incomplete", "empty") for p in _leftovers(out)
               if p.is_dir())
    assert cli.main(["run", str(cfg), "--out", str(out), "-q", "--resume"]) == 0
    assert folder_state(out) == "complete" and _leftovers(out) == []


FAST_CONFIG = """
general: {{log: {{level: error}}, models_file: {models}}}
observations:
  datastore: $XGAMMA_DATA/hess-dl3-dr1
  obs_ids: [23523]
  required_irf: [aeff, edisp, bkg]
datasets:
  type: 1d
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
