"""Self-verifying zarr trees (``datasets.zarr``: one group per dataset): every child's chunks
carry crc32c checksums and the root's manifest, written last, lists every child; a deleted
chunk, variable or child and a flipped byte raise an error naming the store, the dataset and
the variable, while ``xr.open_datatree(engine="zarr")`` still opens the tree."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import zarr

import xgamma as xg
from xgamma import sky
from xgamma.io.zarr import MANIFEST_KEY, ArchiveIntegrityError, open_zarr, to_zarr, verify_zarr


@pytest.fixture
def datasets() -> dict[str, xr.Dataset]:
    geom = xg.wcs_geom((83.633, 22.014), 1, 0.1, axes=[xg.energy_axis(1, 10, 3)])
    out = {}
    for i, name in enumerate(["obs1", "obs2"]):
        rng = np.random.default_rng(i)
        counts = sky.make_map(rng.poisson(2.0, (3, 10, 10)).astype(float), geom, name="counts")
        expo = sky.make_map(np.full((3, 10, 10), 1e11 * (i + 1)), geom, name="exposure")
        # chunked along energy: three chunk files per variable
        out[name] = xr.Dataset({"counts": counts, "exposure": expo},
                               attrs={"name": name}).chunk({"energy": 1})
    return out


def _chunk_files(path: Path, var: str) -> list[Path]:
    return sorted(p for p in (path / var / "c").rglob("*") if p.is_file())


def _codecs(path: Path) -> list[str]:
    meta = json.loads((path / "zarr.json").read_text())
    return [c["name"] for c in meta["codecs"]]


def test_clean_tree_roundtrips_and_carries_checksums(tmp_path, datasets):
    path = tmp_path / "datasets.zarr"
    to_zarr(datasets, path)
    man = verify_zarr(path)
    assert man is not None and man["complete"] and sorted(man["children"]) == ["obs1", "obs2"]
    assert man["children"]["obs2"]["path"] == "obs2"
    assert man["children"]["obs2"]["variables"]["counts"] == {
        "dims": ["energy", "y", "x"], "shape": [3, 10, 10], "dtype": "float64", "nchunks": 3}
    for name in datasets:  # every array of every child: zstd then crc32c
        for var in ("counts", "exposure", "energy"):
            assert _codecs(path / name / var)[-2:] == ["zstd", "crc32c"]
        assert len(_chunk_files(path / name, "counts")) == 3
        # each child verifies on its own too (Analysis.read_datasets opens them one by one)
        assert sorted(verify_zarr(path / name)["variables"]) == sorted(
            zarr.open_group(path / name, mode="r").array_keys())
    back = open_zarr(path)
    assert isinstance(back, xr.DataTree) and MANIFEST_KEY not in back.attrs
    for name, ds in datasets.items():
        got = back[name].to_dataset()
        assert MANIFEST_KEY not in got.attrs
        xr.testing.assert_identical(got.compute(), ds.compute())
        xr.testing.assert_identical(open_zarr(path / name).compute(), ds.compute())
    # xarray's own reader opens the same tree: values intact (CF bounds are xgamma's additions)
    raw = xr.open_datatree(path, engine="zarr")
    assert sorted(raw.children) == ["obs1", "obs2"]
    np.testing.assert_array_equal(raw["obs2"]["counts"].values, datasets["obs2"].counts.values)
    np.testing.assert_allclose(raw["obs2"]["exposure"].values, 2e11)


def test_deleted_chunk_in_a_child_raises(tmp_path, datasets):
    path = tmp_path / "datasets.zarr"
    to_zarr(datasets, path)
    _chunk_files(path / "obs2", "exposure")[1].unlink()
    with pytest.raises(ArchiveIntegrityError,
                       match=r"datasets\.zarr: dataset 'obs2': variable 'exposure': 1 of 3 chunks "
                             r"are missing \(first: obs2/exposure/c/1"):
        open_zarr(path)


def test_deleted_variable_in_a_child_raises(tmp_path, datasets):
    path = tmp_path / "datasets.zarr"
    to_zarr(datasets, path)
    shutil.rmtree(path / "obs1" / "counts")
    with pytest.raises(ArchiveIntegrityError,
                       match=r"datasets\.zarr: dataset 'obs1': variable 'counts' is missing"):
        verify_zarr(path)


def test_missing_child_raises(tmp_path, datasets):
    path = tmp_path / "datasets.zarr"
    to_zarr(datasets, path)
    shutil.rmtree(path / "obs2")
    with pytest.raises(ArchiveIntegrityError,
                       match=r"datasets\.zarr: dataset 'obs2' is missing \(the manifest lists "
                             r"\['obs1', 'obs2'\]\)"):
        open_zarr(path)


def test_flipped_byte_in_a_child_raises_on_read(tmp_path, datasets):
    path = tmp_path / "datasets.zarr"
    to_zarr(datasets, path)
    chunk = _chunk_files(path / "obs2", "counts")[2]
    raw = bytearray(chunk.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    chunk.write_bytes(bytes(raw))
    tree = open_zarr(path)  # structure intact: opens
    np.testing.assert_array_equal(tree["obs2"]["counts"].isel(energy=0).values,
                                  datasets["obs2"].counts.isel(energy=0).values)
    xr.testing.assert_identical(tree["obs1"].to_dataset().compute(), datasets["obs1"].compute())
    with pytest.raises(ArchiveIntegrityError,
                       match=r"datasets\.zarr: dataset 'obs2': variable 'counts': chunk "
                             r"obs2/counts/c/2/0/0 fails its crc32c"):
        tree["obs2"]["counts"].load()


def test_flipped_byte_in_a_child_index_coordinate_raises_on_open(tmp_path, datasets):
    path = tmp_path / "datasets.zarr"
    to_zarr(datasets, path)
    chunk = _chunk_files(path / "obs1", "energy")[0]
    raw = bytearray(chunk.read_bytes())
    raw[0] ^= 0xFF
    chunk.write_bytes(bytes(raw))
    with pytest.raises(ArchiveIntegrityError, match=r"dataset 'obs1': variable 'energy'"):
        open_zarr(path)


def test_interrupted_tree_write_is_refused(tmp_path, datasets):
    path = tmp_path / "datasets.zarr"
    to_zarr(datasets, path)
    zarr.open_group(path, mode="r+", use_consolidated=False).attrs[MANIFEST_KEY] = \
        '{"complete": false}'
    with pytest.raises(ArchiveIntegrityError, match="incomplete store"):
        open_zarr(path)


def test_memory_url_tree_roundtrips(datasets):
    url = "memory://xgamma-tree-test/datasets.zarr"
    to_zarr(datasets, url)
    back = open_zarr(url)
    assert sorted(back.children) == ["obs1", "obs2"]
    xr.testing.assert_identical(back["obs2"].to_dataset().compute(), datasets["obs2"].compute())


def test_resume_verifies_the_tree_child_by_child(tmp_path, datasets, caplog):
    """``xgamma run --resume`` reads ``datasets.zarr`` with :meth:`Analysis.read_datasets`: a
    tree whose file checksums match the run's manifest but whose child fails its own zarr
    checks (here: damaged before the run recorded it) is not reused."""
    from xgamma.analysis import Analysis
    from xgamma.io.transaction import OutputTransaction

    def reader(p, meta):
        return Analysis.read_datasets(p, meta.get("datasets"))

    # another test's Analysis may have set the analysis logger's level (config general.log)
    caplog.set_level(logging.WARNING, logger="xgamma.analysis")

    out = tmp_path / "res"
    for damage in (None, "chunk", "child"):
        shutil.rmtree(out, ignore_errors=True)
        with OutputTransaction(out, key="k") as tx:
            to_zarr(datasets, tx.path / "datasets.zarr")
            if damage == "chunk":
                chunk = _chunk_files(tx.path / "datasets.zarr" / "obs2", "counts")[1]
                raw = bytearray(chunk.read_bytes())
                raw[len(raw) // 2] ^= 0x01
                chunk.write_bytes(bytes(raw))
            elif damage == "child":
                shutil.rmtree(tx.path / "datasets.zarr" / "obs2")
            tx.meta["datasets"] = ["obs1", "obs2"] if damage != "child" else ["obs1"]
            tx.record("datasets.zarr")
            tx.commit()
        with OutputTransaction(out, key="k") as tx:
            got = tx.resume_datasets(reader)
        if damage is None:
            assert [ds.attrs["name"] for ds in got] == ["obs1", "obs2"]
            xr.testing.assert_identical(got[1], datasets["obs2"].compute())
        else:
            assert got is None
    assert "dataset 'obs2' is missing" in caplog.text
    # each child is read as a store of its own: the path names the tree and the child
    assert "datasets.zarr/obs2: variable 'counts': chunk counts/c/1/0/0 fails its crc32c" \
        in caplog.text
