"""Archives as real zarr (one group per dataset, CF bounds, pint-parseable units) and remote
paths (``memory://``, ``s3://`` against a local moto server)."""

from __future__ import annotations

import os
import socket

import numpy as np
import pytest
import xarray as xr

import xgamma as xg
from xgamma import sky, testing
from xgamma.io.zarr import open_zarr, to_zarr


@pytest.fixture(scope="module")
def dataset():
    return xg.reduce(testing.make_observation(n_events=300), testing.make_wcs_geom(width=1.0, binsz=0.2))


def test_datasets_archive_is_one_group_per_dataset(tmp_path, dataset):
    b = dataset.assign(counts=dataset.counts + 1).assign_attrs(name="b")
    p = tmp_path / "datasets.zarr"
    to_zarr({"a": dataset, "b": b}, p)
    tree = xr.open_datatree(p, engine="zarr")
    assert sorted(tree.children) == ["a", "b"]
    assert tree.attrs["xgamma_datasets"] == ["a", "b"]
    mine = open_zarr(p)
    assert isinstance(mine, xr.DataTree)
    xr.testing.assert_identical(mine["a"].to_dataset().compute(), dataset)
    np.testing.assert_array_equal(mine["b"].to_dataset().counts.values, b.counts.values)
    # one dataset alone, as before
    xr.testing.assert_identical(open_zarr(p / "a").compute(), dataset)
    with pytest.raises(TypeError, match="names without '/'"):
        to_zarr({"a/b": dataset}, tmp_path / "bad.zarr")


def test_cf_bounds_and_units_on_disk(tmp_path, dataset):
    from cf_xarray.units import units as ureg

    p = tmp_path / "d.zarr"
    to_zarr(dataset, p)
    raw = xr.open_zarr(p)
    for dim in ("energy", "energy_true", "rad"):
        assert raw[dim].attrs["bounds"] == f"{dim}_bounds"
        b = raw[f"{dim}_bounds"].values
        np.testing.assert_array_equal(b[:, 0], dataset[f"{dim}_min"].values)
        np.testing.assert_array_equal(b[:, 1], dataset[f"{dim}_max"].values)
    numeric = [k for k, c in raw.coords.items() if c.dtype.kind in "iuf"]
    assert set(numeric) >= {"energy", "x", "y", "ra", "dec", "energy_true_bounds"}
    for k in numeric:
        unit = ureg.parse_units(raw[k].attrs["units"])
        assert unit is not None, k
    assert raw["x"].attrs["units"] == "pixel" and raw["energy"].attrs["units"] == "TeV"
    assert ureg.Quantity(1, raw["energy"].attrs["units"]).to("GeV").magnitude == pytest.approx(1000)
    for v in raw.data_vars.values():
        if "units" in v.attrs:
            ureg.parse_units(v.attrs["units"] or "1")
    # and nothing of it comes back through open_zarr
    xr.testing.assert_identical(open_zarr(p).compute(), dataset)


def test_memory_url_round_trip(dataset):
    to_zarr(dataset, "memory://xgamma-test/d.zarr")
    xr.testing.assert_identical(open_zarr("memory://xgamma-test/d.zarr").compute(), dataset)


# ------------------------------------------------------------------------------------ S3

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def s3():
    """A local S3-compatible server (moto's server mode) on 127.0.0.1, and fsspec pointed at it."""
    pytest.importorskip("s3fs")
    server_mod = pytest.importorskip("moto.server")
    import fsspec

    port = _free_port()
    server = server_mod.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    saved_env = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")}
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1")
    saved_conf = fsspec.config.conf.get("s3")
    fsspec.config.conf["s3"] = {"endpoint_url": endpoint, "key": "testing", "secret": "testing"}
    fs = fsspec.filesystem("s3", skip_instance_cache=True)
    fs.mkdir("xgamma-bucket")
    yield fs
    server.stop()
    for k, v in saved_env.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    if saved_conf is None:
        fsspec.config.conf.pop("s3", None)
    else:
        fsspec.config.conf["s3"] = saved_conf


def test_s3_zarr_round_trip(s3, dataset):
    url = "s3://xgamma-bucket/archive/datasets.zarr"
    to_zarr({"stacked": dataset}, url)
    assert s3.exists("xgamma-bucket/archive/datasets.zarr/stacked")
    back = open_zarr(url)
    xr.testing.assert_identical(back["stacked"].to_dataset().compute(), dataset)
    m = dataset.counts
    to_zarr(m, "s3://xgamma-bucket/counts.zarr")
    da = open_zarr("s3://xgamma-bucket/counts.zarr")
    assert da.name == "counts" and sky.geom_of(da).equals(sky.geom_of(m))


def test_s3_data_store_and_config(s3, hess_path, tmp_path):
    for f in ("hdu-index.fits.gz", "obs-index.fits.gz", "data/hess_dl3_dr1_obs_id_023523.fits.gz"):
        s3.put(str(hess_path / f), f"xgamma-bucket/hess-dl3-dr1/{f}")
    store = xg.open_store("s3://xgamma-bucket/hess-dl3-dr1")
    local = xg.open_store(hess_path)
    assert len(store.obs_ids) == len(local.obs_ids) == 105
    obs, ref = store.observation(23523), local.observation(23523)
    assert len(obs.events) == len(ref.events) == 7613
    np.testing.assert_array_equal(obs.aeff.values, ref.aeff.values)
    cfg = xg.AnalysisConfig.from_dict({"observations": {"datastore": "s3://xgamma-bucket/hess-dl3-dr1"}})
    assert cfg.datastore_path() == "s3://xgamma-bucket/hess-dl3-dr1"
    with pytest.raises(xg.errors.XgammaIOError, match="data store folder not found"):
        xg.open_store("s3://xgamma-bucket/nothing-here")
