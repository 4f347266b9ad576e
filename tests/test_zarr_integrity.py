"""Self-verifying zarr stores: a deleted chunk, a deleted variable or a flipped byte raises a
named error; a clean store round-trips identically (issue 14, scope 2)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import xgamma as xg
from xgamma import sky
from xgamma.io.zarr import MANIFEST_KEY, ArchiveIntegrityError, open_zarr, to_zarr, verify_zarr


@pytest.fixture
def dataset() -> xr.Dataset:
    geom = xg.wcs_geom((83.633, 22.014), 1, 0.1, axes=[xg.energy_axis(1, 10, 3)])
    rng = np.random.default_rng(1)
    counts = sky.make_map(rng.poisson(2.0, (3, 10, 10)).astype(float), geom, name="counts")
    expo = sky.make_map(np.full((3, 10, 10), 1e11), geom, name="exposure")
    # chunked along energy: three chunk files per variable
    return xr.Dataset({"counts": counts, "exposure": expo}).chunk({"energy": 1})


def _chunk_files(path: Path, var: str) -> list[Path]:
    return sorted(p for p in (path / var / "c").rglob("*") if p.is_file())


def test_clean_store_roundtrips(tmp_path, dataset):
    path = tmp_path / "ds.zarr"
    to_zarr(dataset, path)
    man = verify_zarr(path)
    assert man is not None and man["complete"]
    assert man["variables"]["counts"] == {"dims": ["energy", "y", "x"], "shape": [3, 10, 10],
                                          "dtype": "float64", "nchunks": 3}
    back = open_zarr(path)
    assert MANIFEST_KEY not in back.attrs
    xr.testing.assert_identical(back.compute(), dataset.compute())
    assert len(_chunk_files(path, "counts")) == 3


def test_deleted_chunk_raises(tmp_path, dataset):
    path = tmp_path / "ds.zarr"
    to_zarr(dataset, path)
    _chunk_files(path, "exposure")[1].unlink()
    with pytest.raises(ArchiveIntegrityError, match=r"ds\.zarr: variable 'exposure': 1 of 3 "
                                                    r"chunks are missing \(first: exposure/c/1"):
        open_zarr(path)


def test_deleted_variable_raises(tmp_path, dataset):
    path = tmp_path / "ds.zarr"
    to_zarr(dataset, path)
    shutil.rmtree(path / "counts")
    with pytest.raises(ArchiveIntegrityError, match=r"ds\.zarr: variable 'counts' is missing"):
        open_zarr(path)


def test_chunks_equal_to_the_fill_value_are_not_missing(tmp_path, dataset):
    # zarr skips chunks equal to the fill value (NaN, False) unless told otherwise: they must
    # be written, or the manifest check would call them missing
    path = tmp_path / "ds.zarr"
    filled = dataset.assign(counts=dataset.counts * np.nan, mask=dataset.counts < -1)
    to_zarr(filled, path)
    assert len(_chunk_files(path, "counts")) == 3 and len(_chunk_files(path, "mask")) == 3
    xr.testing.assert_identical(open_zarr(path).compute(), filled.compute())


@pytest.mark.parametrize("var", ["counts", "exposure"])
def test_flipped_byte_raises_on_read(tmp_path, dataset, var):
    path = tmp_path / "ds.zarr"
    to_zarr(dataset, path)
    chunk = _chunk_files(path, var)[2]
    raw = bytearray(chunk.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    chunk.write_bytes(bytes(raw))
    ds = open_zarr(path)  # structure intact: opens
    np.testing.assert_array_equal(ds[var].isel(energy=0).values,
                                  dataset[var].isel(energy=0).values)  # other chunks fine
    with pytest.raises(ArchiveIntegrityError,
                       match=rf"ds\.zarr: variable '{var}': chunk {var}/c/2/0/0 fails its crc32c"):
        ds[var].load()


def test_flipped_byte_in_index_coordinate_raises_on_open(tmp_path, dataset):
    path = tmp_path / "ds.zarr"
    to_zarr(dataset, path)
    chunk = _chunk_files(path, "energy")[0]
    raw = bytearray(chunk.read_bytes())
    raw[0] ^= 0xFF
    chunk.write_bytes(bytes(raw))
    with pytest.raises(ArchiveIntegrityError, match=r"variable 'energy'"):
        open_zarr(path)


def test_interrupted_write_is_refused(tmp_path, dataset):
    path = tmp_path / "ds.zarr"
    to_zarr(dataset, path)
    import zarr

    zarr.open_group(path, mode="r+", use_consolidated=False).attrs[MANIFEST_KEY] = \
        '{"complete": false}'
    with pytest.raises(ArchiveIntegrityError, match="incomplete store"):
        open_zarr(path)


def test_dataarray_and_unverified_stores(tmp_path, dataset):
    to_zarr(dataset.counts, tmp_path / "c.zarr")
    xr.testing.assert_identical(open_zarr(tmp_path / "c.zarr").compute(),
                                dataset.counts.compute())
    # a store written without checksums (or by another tool) has no manifest: opens as before
    dataset.to_zarr(tmp_path / "plain.zarr")
    assert verify_zarr(tmp_path / "plain.zarr") is None
    xr.testing.assert_identical(open_zarr(tmp_path / "plain.zarr").compute(), dataset.compute())


def test_not_a_store(tmp_path):
    with pytest.raises(xg.errors.XgammaIOError, match="nothing.zarr: not a zarr store"):
        verify_zarr(tmp_path / "nothing.zarr")
