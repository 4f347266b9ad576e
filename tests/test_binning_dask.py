"""bin_events on dask DataFrames equals the pandas result in every regime of the partition
histogram (dense bincount, sort and run lengths, weighted unique; empty partitions)."""

from __future__ import annotations

import dask
import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest
from dask.task_spec import Alias

import xgamma as xg
from xgamma.reduction import binning
from xgamma.reduction.binning import bin_events


def _events(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"ra": rng.uniform(82.6, 84.6, n), "dec": rng.uniform(21.0, 23.0, n),
                         "energy": rng.uniform(0.5, 20.0, n), "w": rng.uniform(0, 2, n)})


@pytest.mark.parametrize("binsz, npart", [(0.5, 3), (0.01, 7), (0.01, 40), (0.2, 12)])
@pytest.mark.parametrize("weights", [None, "w"])
def test_dask_equals_pandas(binsz, npart, weights):
    # binsz 0.5: cube (3x4x4=48 bins) smaller than the events per partition -> dense bincount;
    # binsz 0.01: 120k bins, a few hundred events per partition -> sorted run lengths
    ev = _events(3000)
    geom = xg.wcs_geom((83.6, 22.0), 2.0, binsz, axes=[xg.energy_axis(1, 10, 3)])
    eager = bin_events(ev, geom, weights=weights)
    with dask.config.set(scheduler="sync"):
        lazy = bin_events(dd.from_pandas(ev, npartitions=npart), geom, weights=weights)
        assert lazy.chunks is not None
        values = lazy.values
    np.testing.assert_allclose(values, eager.values, rtol=1e-12, atol=0)
    if weights is None:
        assert values.sum() == eager.values.sum() > 1000  # whole counts, none lost


def test_empty_partitions_and_no_event_inside():
    ev = _events(400)
    far = ev.assign(ra=ev.ra + 90.0)  # every event off the map
    geom = xg.wcs_geom((83.6, 22.0), 2.0, 0.01, axes=[xg.energy_axis(1, 10, 3)])
    both = pd.concat([far, ev.iloc[:0], ev], ignore_index=True)
    lazy = bin_events(dd.from_pandas(both, npartitions=9, sort=False), geom)
    np.testing.assert_array_equal(lazy.values, bin_events(both, geom).values)
    assert bin_events(dd.from_pandas(far, npartitions=4), geom).values.sum() == 0


def test_only_the_binned_columns_are_read():
    ev = _events(500).assign(extra=np.arange(500.0))
    geom = xg.wcs_geom((83.6, 22.0), 2.0, 0.1, axes=[xg.energy_axis(1, 10, 3)])
    seen: list[list[str]] = []

    def part(i: int, columns: list[str] | None = None) -> pd.DataFrame:
        df = ev.iloc[i * 100:(i + 1) * 100]
        df = df if columns is None else df[list(columns)]
        seen.append(list(df.columns))
        return df

    ddf = dd.from_map(part, range(5), meta=ev.iloc[:0], enforce_metadata=False)
    with dask.config.set(scheduler="sync"):
        got = bin_events(ddf, geom).values
    np.testing.assert_array_equal(got, bin_events(ev, geom).values)
    assert seen and all(cols == ["ra", "dec", "energy"] for cols in seen)


@pytest.mark.parametrize("weights", [None, "w"])
@pytest.mark.parametrize("batch_rows, group_entries", [(1 << 17, 1 << 22), (25, 30)])
def test_many_small_partitions_grouped_per_task(monkeypatch, weights, batch_rows, group_entries):
    # 600 partitions of 0-20 events (some empty): 16 per task, 38 tasks, then a sum tree; the
    # small limits force several concatenated batches and reductions inside one task
    monkeypatch.setattr(binning, "_BATCH_ROWS", batch_rows)
    monkeypatch.setattr(binning, "_GROUP_ENTRIES", group_entries)
    ev = _events(6000, seed=4)
    sizes = np.random.default_rng(5).integers(0, 21, 600)
    sizes[[0, 17, 18, 599]] = 0
    ev = ev.iloc[:sizes.sum()]
    stops = np.cumsum(sizes)
    ddf = dd.from_map(lambda i: ev.iloc[stops[i] - sizes[i]:stops[i]], range(600), meta=ev.iloc[:0])
    for binsz in (0.5, 0.01):  # dense bincount and sorted run lengths
        geom = xg.wcs_geom((83.6, 22.0), 2.0, binsz, axes=[xg.energy_axis(1, 10, 3)])
        eager = bin_events(ev, geom, weights=weights).values
        with dask.config.set(scheduler="sync"):
            got = bin_events(ddf, geom, weights=weights).values
        np.testing.assert_allclose(got, eager, rtol=1e-12, atol=0)
        if weights is None:
            np.testing.assert_array_equal(got, eager)
            assert got.sum() == eager.sum() > 2000


def test_small_partitions_share_tasks():
    # 105 partitions are binned by 27 tasks (4 partitions each), not one task per partition
    ev = _events(2100)
    geom = xg.wcs_geom((83.6, 22.0), 2.0, 0.1, axes=[xg.energy_axis(1, 10, 3)])
    eager = bin_events(ev, geom).values
    for ddf in (dd.from_pandas(ev, npartitions=105), dd.from_pandas(ev, npartitions=105).persist()):
        lazy = bin_events(ddf, geom)
        layer = lazy.data.dask.layers[lazy.data.name]
        tasks = [v for k, v in layer.items() if isinstance(k, tuple) and k[0].endswith("-part")]
        assert len(tasks) == 27
        # persisted partitions are read at their data, not through dask-expr's aliases
        graph = lazy.data.dask
        assert not any(isinstance(graph[a], Alias) for t in tasks for a in t[4:])
        np.testing.assert_array_equal(lazy.values, eager)


@pytest.mark.parametrize("weights", [None, "w"])
def test_persisted_partitions_with_other_columns(weights):
    # persisted partitions are not projected by dask (a task each): the binned columns are
    # gathered in the task (picked one by one: over twice as many columns as binned); a date
    # column with a time zone rides along unread
    ev = _events(3000, seed=6).assign(
        t=pd.date_range("2024-01-01", periods=3000, freq="s", tz="UTC"),
        **{f"extra{i}": np.arange(3000.0) + i for i in range(4)})
    geom = xg.wcs_geom((83.6, 22.0), 2.0, 0.02, axes=[xg.energy_axis(1, 10, 3)])
    ddf = dd.from_pandas(ev, npartitions=120).persist()
    eager = bin_events(ev, geom, weights=weights).values
    with dask.config.set(scheduler="threads"):
        got = bin_events(ddf, geom, weights=weights).values
    np.testing.assert_allclose(got, eager, rtol=1e-12, atol=0)
    assert eager.sum() > 1000
