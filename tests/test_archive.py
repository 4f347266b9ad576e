"""reduce_many(..., store=): region writes into one zarr archive, resumable after a failure,
a SIGKILL or a corrupt chunk, on threads and on a distributed cluster (issue 11, scope 5)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xarray as xr

import xgamma as xg
from xgamma import testing
from xgamma.io.zarr import ArchiveIntegrityError, open_zarr
from xgamma.reduction.archive import ArchiveError, archive_status, reduce_to_archive

N_OBS = 6


class Broken:
    """An observation whose events cannot be read (same obs id as the good one)."""

    def __init__(self, obs: Any) -> None:
        self._obs = obs

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):  # unpickling looks attributes up before __init__
            raise AttributeError(name)
        if name == "events":
            raise OSError(f"events of observation {self._obs.obs_id} unreadable")
        return getattr(self._obs, name)


@pytest.fixture(scope="module")
def observations() -> list[Any]:
    return [testing.make_observation(obs_id=100 + i, seed=i, n_events=1500,
                                     pointing=(83.633 + 0.1 * i, 21.514))
            for i in range(N_OBS)]


@pytest.fixture(scope="module")
def geom() -> xr.Dataset:
    return testing.make_wcs_geom(width=1.5, binsz=0.1)


@pytest.fixture(scope="module")
def expected(observations, geom) -> xr.Dataset:
    return xg.reduce_many(observations, geom)


def test_archive_equals_in_memory_reduction(tmp_path, observations, geom, expected):
    path = tmp_path / "a.zarr"
    ds = xg.reduce_many(observations, geom, store=path)
    xr.testing.assert_identical(ds.compute(), expected)
    assert ds.counts.chunks[0] == (1,) * N_OBS  # one chunk per observation along obs
    assert archive_status(path) == {"n_obs": N_OBS, "written": expected.obs.values.tolist(),
                                    "missing": [], "complete": True}
    # a second run over a complete archive verifies and reduces nothing: all Broken is fine
    again = xg.reduce_many([Broken(o) for o in observations], geom, store=path)
    xr.testing.assert_identical(again.compute(), expected)


def test_failed_run_resumes_to_identical_contents(tmp_path, observations, geom, expected):
    path = tmp_path / "a.zarr"
    bad = 3
    first = [Broken(o) if i == bad else o for i, o in enumerate(observations)]
    with pytest.raises(xg.errors.ReductionError, match="observation 103 failed"):
        xg.reduce_many(first, geom, store=path)
    status = archive_status(path)
    assert 103 in status["missing"] and not status["complete"]
    assert 100 in status["written"]  # the first observation is written before the fan-out
    with pytest.raises(ArchiveIntegrityError, match="incomplete store"):
        open_zarr(path)
    # the restart must skip what is written: those are Broken now and would fail if reduced
    written = set(status["written"])
    second = [Broken(o) if o.obs_id in written else o for o in observations]
    ds = xg.reduce_many(second, geom, store=path)
    xr.testing.assert_identical(ds.compute(), expected)


def test_corrupt_chunk_is_redone_on_restart(tmp_path, observations, geom, expected):
    path = tmp_path / "a.zarr"
    xg.reduce_many(observations, geom, store=path)
    chunk = path / "exposure" / "c" / "2" / "0" / "0" / "0"  # obs index 2 (obs id 102)
    raw = bytearray(chunk.read_bytes())
    raw[len(raw) // 3] ^= 0x10
    chunk.write_bytes(bytes(raw))
    with pytest.raises(ArchiveIntegrityError, match="'exposure': chunk exposure/c/2/0/0/0 fails"):
        open_zarr(path).exposure.load()
    (path / "counts" / "c" / "4" / "0" / "0" / "0").unlink()  # obs id 104
    with pytest.raises(ArchiveIntegrityError, match="'counts': 1 of 6 chunks are missing"):
        open_zarr(path)
    # only 102 and 104 are redone: the others are Broken and verified, hence skipped
    redo = [o if o.obs_id in (102, 104) else Broken(o) for o in observations]
    ds = xg.reduce_many(redo, geom, store=path)
    xr.testing.assert_identical(ds.compute(), expected)


_KILLED_RUN = textwrap.dedent("""
    import sys, time
    import xgamma as xg
    from xgamma import testing
    from xgamma.reduction import archive

    slow = archive.reduce
    def reduce(*args, **kwargs):
        time.sleep(0.4)
        return slow(*args, **kwargs)
    archive.reduce = reduce  # slow tasks, so that the kill lands part-way
    obs = [testing.make_observation(obs_id=100 + i, seed=i, n_events=1500,
                                    pointing=(83.633 + 0.1 * i, 21.514)) for i in range(int(sys.argv[2]))]
    xg.reduce_many(obs, testing.make_wcs_geom(width=1.5, binsz=0.1), store=sys.argv[1])
""")


def test_sigkill_then_restart_gives_identical_contents(tmp_path, observations, geom, expected):
    path = tmp_path / "a.zarr"
    env = {**os.environ, "PYTHONPATH": str(Path(xg.__file__).parents[1]),
           "DASK_NUM_WORKERS": "1"}
    proc = subprocess.Popen([sys.executable, "-c", _KILLED_RUN, str(path), str(N_OBS)], env=env)
    try:
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            try:
                if len(archive_status(path)["written"]) >= 2:
                    break
            except Exception:  # not created yet
                pass
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    status = archive_status(path)
    assert 2 <= len(status["written"]) < N_OBS and not status["complete"]
    ds = reduce_to_archive(observations, geom, path)
    xr.testing.assert_identical(ds.compute(), expected)


def test_distributed_two_workers_resume(tmp_path, observations, geom, expected):
    distributed = pytest.importorskip("distributed")
    path = tmp_path / "a.zarr"
    # in-process workers keep the test short (worker processes each import xgamma); the
    # benchmark benchmarks/bench_archive.py runs the same path on 2 worker processes
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster):
        first = [Broken(o) if i == 4 else o for i, o in enumerate(observations)]
        with pytest.raises(xg.errors.ReductionError, match="observation 104"):
            xg.reduce_many(first, geom, store=path)
        ds = xg.reduce_many(observations, geom, store=path, progress=False)
        xr.testing.assert_identical(ds.compute(), expected)


def test_bad_stores(tmp_path, observations, geom):
    path = tmp_path / "a.zarr"
    xg.reduce_many(observations[:2], geom, store=path)
    with pytest.raises(ArchiveError, match=r"a\.zarr: holds a reduction of other observations"):
        xg.reduce_many(observations[:3], geom, store=path)
    with pytest.raises(ArchiveError, match="other observations or options"):
        xg.reduce_many(observations[:2], geom, store=path, products=["counts"])
    (tmp_path / "junk").mkdir()
    with pytest.raises(ArchiveError, match="junk: exists and is not an xgamma reduction archive"):
        xg.reduce_many(observations[:2], geom, store=tmp_path / "junk")
    with pytest.raises(ArchiveError, match="distinct obs ids"):
        xg.reduce_many([observations[0], observations[0]], geom, store=tmp_path / "b.zarr")
    with pytest.raises(ArchiveError, match="one geometry"):
        xg.reduce_many(observations[:2], lambda o: geom, store=tmp_path / "c.zarr")
    with pytest.raises(ValueError, match="no stack or postprocess"):
        xg.reduce_many(observations[:2], geom, store=tmp_path / "d.zarr", stack=True)
    assert not (tmp_path / "b.zarr").exists() and not (tmp_path / "c.zarr").exists()
    np.testing.assert_equal(archive_status(path)["written"], [100, 101])


@pytest.mark.filterwarnings("ignore:.*outside the field of view")
def test_chunks_equal_to_the_fill_value_are_written(tmp_path, observations, geom):
    # an all-False safe mask equals the bool fill value: it must still be written, or the
    # complete archive would read as missing chunks
    far = [testing.make_observation(obs_id=i, seed=i, n_events=200, pointing=(80.0, 20.0))
           for i in (1, 2, 3)]  # pointing off the map: every pixel beyond offset_max
    kw = {"products": ["counts"], "safe_mask": {"methods": ["offset-max"], "offset_max": 0.1}}
    ds = xg.reduce_many(far, geom, store=tmp_path / "a.zarr", **kw)
    assert not ds.mask_safe.values.any()
    assert len([p for p in (tmp_path / "a.zarr" / "mask_safe" / "c").rglob("*")
                if p.is_file()]) == 3
    xr.testing.assert_identical(ds.compute(), xg.reduce_many(far, geom, **kw))


def test_interrupted_preallocation_starts_afresh(tmp_path, observations, geom, expected):
    path = tmp_path / "a.zarr"
    xg.reduce_many(observations, geom, store=path)
    shutil.rmtree(path / "xgamma_archive")  # as if killed before the bookkeeping array existed
    ds = xg.reduce_many(observations, geom, store=path)
    xr.testing.assert_identical(ds.compute(), expected)
