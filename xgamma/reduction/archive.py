"""Reduce many observations straight into one zarr archive, resumably.

:func:`reduce_to_archive` (``xg.reduce_many(..., store=path)``) preallocates one zarr group
whose variables have an ``obs`` dim of the number of observations (one chunk per observation
along ``obs``), then runs one dask task per observation that reduces it and writes its
dataset into its own region along ``obs`` as soon as it is done: nothing travels back to the
client but a short status, so memory stays bounded by the tasks in flight, on the threaded
scheduler or any ``dask.distributed`` cluster.

Each task writes its data, then (last) a per-observation digest into the archive's
``xgamma_archive/written`` array. A restart with the same observations, geometry and options
skips every observation whose data are present and match their digest (every chunk also
carries a crc32c checksum, :mod:`xgamma.io.zarr`), and redoes the others. When all are
written the group's attrs (as :func:`xgamma.obs.concat_obs` would set them) and the manifest
(:func:`xgamma.io.zarr.write_manifest`) are written; until then :func:`xgamma.io.zarr.open_zarr`
refuses the archive as incomplete.

The archive's contents equal ``reduce_many(observations, geom, **kwargs)`` (the in-memory
concatenation along ``obs``).

Examples
--------
>>> import tempfile, os, xgamma as xg
>>> from xgamma import testing
>>> from xgamma.io.zarr import open_zarr
>>> obs = [testing.make_observation(obs_id=i, seed=i, n_events=100) for i in (1, 2, 3)]
>>> path = os.path.join(tempfile.mkdtemp(), "archive.zarr")
>>> ds = reduce_to_archive(obs, testing.make_wcs_geom(width=1.0, binsz=0.2), path,
...                        products=["counts"])
>>> ds.obs.values.tolist(), ds.attrs["obs_id"], float(ds.counts.sum()) > 0
([1, 2, 3], [1, 2, 3], True)
>>> archive_status(path)["written"]
[1, 2, 3]
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import traceback
import uuid
import warnings
import zlib
from collections.abc import Iterable
from typing import Any

import dask
import dask.array as da
import numpy as np
import xarray as xr
import zarr
from dask.base import tokenize

from xgamma.compute import active_client, compute
from xgamma.errors import ReductionError, XgammaIOError
from xgamma.io.zarr import MANIFEST_KEY, checksum_encoding, open_zarr, write_manifest
from xgamma.obs import OBS_META, concat_obs, to_obs
from xgamma.reduction.driver import reduce
from xgamma.reduction.observation import obs_id

__all__ = ["reduce_to_archive", "archive_status", "ArchiveError"]

_GROUP = "xgamma_archive"  # subgroup: bookkeeping that is not part of the dataset
_ATTR = "xgamma_archive"  # group attr: {"n_obs", "token"}
_DONE = np.uint64(1) << np.uint64(32)  # digests are stored as crc32 | 2**32 (0 = not written)


class ArchiveError(XgammaIOError):
    """An archive cannot be written or resumed (names the store)."""


def _detached(obs: Any) -> Any:
    """A copy that reads lazily without filling the caller's caches (as in ``reduce_many``)."""
    if callable(getattr(obs, "detached", None)):
        return obs.detached()
    if getattr(type(obs), "__getstate__", None) is not getattr(object, "__getstate__", None):
        return copy.copy(obs)
    return obs


def _reduce_one(obs: Any, geom: Any, kwargs: dict[str, Any]) -> xr.Dataset:
    obs = _detached(obs)
    try:
        return reduce(obs, geom, **kwargs).load()
    except Exception as exc:
        tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        raise ReductionError(f"observation {obs_id(obs)} failed: {type(exc).__name__}: {exc}\n"
                             f"--- original traceback ---\n{tb}") from exc


def _obs_vars(g: Any) -> list[str]:
    """Names of the archive's arrays along ``obs`` (the index excluded), sorted."""
    out = []
    for name, arr in g.arrays():
        dims = list(arr.metadata.dimension_names or [])
        if "obs" in dims and name != "obs":
            out.append(name)
    return sorted(out)


def _read(store: str, name: str, sel: Any = slice(None)) -> np.ndarray:
    return np.asarray(zarr.open_array(store, path=name, mode="r")[sel])


def _digest(values: Iterable[np.ndarray]) -> np.uint64:
    crc = 0
    for v in values:
        crc = zlib.crc32(np.ascontiguousarray(v).tobytes(), crc)
    return np.uint64(crc) | _DONE


def _one_obs(ds: xr.Dataset, oid: Any, names: list[str]) -> dict[str, np.ndarray]:
    """The arrays of one reduced observation, as stored (``obs`` first, size 1)."""
    one = to_obs(ds, oid)
    out = {}
    for name in names:
        if name in one.variables:
            out[name] = np.asarray(one.variables[name].transpose("obs", ...).values)
        elif name in OBS_META:  # concat_obs fills a missing per-obs value with NaN
            out[name] = np.full(1, np.nan)
        else:
            raise ReductionError(f"observation {oid}: its dataset has no variable {name!r} "
                                 "that the archive holds")
    return out


def _group(store: str, mode: Any) -> Any:
    """The archive's group, from its consolidated metadata (one read for all arrays)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*[Cc]onsolidated metadata.*")
        return zarr.open_group(store, mode=mode, use_consolidated=None)


def _write_obs(store: str, i: int, ds: xr.Dataset, oid: Any, names: list[str]) -> None:
    arrays = _one_obs(ds, oid, names)
    g = _group(store, "r+")
    for name in names:
        arr = g[name].with_config({"write_empty_chunks": True})  # none may read as missing
        val = arrays[name]
        if val.shape[1:] != arr.shape[1:] or val.dtype != arr.dtype:
            raise ReductionError(
                f"observation {oid}: {name!r} is {val.dtype}{list(val.shape[1:])}, the archive "
                f"{store} holds {arr.dtype}{list(arr.shape[1:])} (one geometry for all)")
        arr[i:i + 1] = val
    g[f"{_GROUP}/written"][i] = _digest(arrays[n] for n in names)  # last: marks the observation written


def _verified(store: str, i: int, names: list[str]) -> bool:
    """Whether observation ``i`` is written and its data match their digest and checksums."""
    g = _group(store, "r")
    want = g[f"{_GROUP}/written"][i]
    if want == 0:
        return False
    try:
        got = _digest(np.asarray(g[name][i:i + 1]) for name in names)
    except (ValueError, KeyError, FileNotFoundError):  # a chunk fails its checksum, array gone
        return False
    return bool(got == want)


def _archive_task(obs: Any, geom: Any, kwargs: dict[str, Any], store: str, i: int,
                  names: list[str], resume: bool) -> str:
    if resume and _verified(store, i, names):
        return "skipped"
    _write_obs(store, i, _reduce_one(obs, geom, kwargs), obs_id(obs), names)
    return "written"


def _run(tasks: list[Any], progress: bool) -> None:
    """Run the tasks; on a distributed client a window of twice the worker threads is in
    flight and each finished task is released at once, so that neither the client nor the
    cluster keeps state for all observations."""
    client = active_client()
    if client is None:
        compute(tasks, progress, "reduce->archive")
        return
    from distributed import as_completed  # lazy: optional dependency

    window = max(2, 2 * sum(client.nthreads().values()))
    pending = iter(tasks)
    running = as_completed(client.compute([t for _, t in zip(range(window), pending, strict=False)]))
    bar = None
    if progress:
        from tqdm.auto import tqdm  # lazy: loads only with a bar

        bar = tqdm(total=len(tasks), desc="reduce->archive")
    try:
        for fut in running:
            fut.result()  # a failed observation raises its ReductionError here
            nxt = next(pending, None)
            if nxt is not None:
                running.add(client.compute(nxt))
            fut.release()
            if bar is not None:
                bar.update(1)
    except BaseException:
        client.cancel(list(running.futures))
        raise
    finally:
        if bar is not None:
            bar.close()


def _preallocate(store: str, first: xr.Dataset, ids: list[Any], token: str) -> None:
    """Write the archive's metadata and the coordinates that do not depend on ``obs``."""
    n = len(ids)
    one = to_obs(first, ids[0])
    for k in OBS_META:  # every per-obs value concat_obs would give, NaN where absent
        if k not in one.coords:
            one = one.assign_coords({k: ("obs", [np.nan])})
    variables: dict[str, Any] = {}
    encoding: dict[str, Any] = {}
    for name, var in one.variables.items():
        if "obs" not in var.dims or name == "obs":
            continue
        var = var.transpose("obs", ...)
        shape = (n, *var.shape[1:])
        chunks = (1, *var.shape[1:])
        variables[str(name)] = xr.Variable(var.dims, da.zeros(shape, dtype=var.dtype,
                                                              chunks=chunks), var.attrs)
        encoding[str(name)] = {"chunks": chunks}
    template = xr.Dataset(coords={k: v for k, v in one.coords.items()
                                  if "obs" not in one[k].dims})
    template = template.assign_coords(obs=("obs", np.asarray(ids), one["obs"].attrs))
    template = template.assign({k: v for k, v in variables.items() if k not in one.coords})
    template = template.assign_coords({k: v for k, v in variables.items() if k in one.coords})
    attrs = dict(concat_obs([first]).attrs)
    attrs.pop("obs_id", None)
    attrs[MANIFEST_KEY] = json.dumps({"complete": False, "note": f"archive of {n} observations "
                                      "being written; rerun the reduction to finish it"})
    attrs[_ATTR] = json.dumps({"n_obs": n, "token": token})
    template.attrs = attrs
    template.to_zarr(store, mode="w-", compute=False, consolidated=False,
                     write_empty_chunks=True,
                     encoding=checksum_encoding(template, encoding))
    g = zarr.open_group(store, mode="r+", use_consolidated=False)
    g.create_group(_GROUP).create_array("written", shape=(n,), chunks=(1,), dtype="uint64",
                                        fill_value=0)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*[Cc]onsolidated metadata.*")
        zarr.consolidate_metadata(store)


def _finalize(store: str) -> None:
    g = zarr.open_group(store, mode="r+", use_consolidated=False)
    ids = _read(store, "obs").tolist()
    attrs: dict[str, Any] = {"obs_id": ids}
    for key in ("livetime", "ontime"):
        if key in g:
            attrs[key] = float(np.nansum(_read(store, key)))
    g.attrs.update(attrs)
    write_manifest(store)


def archive_status(store: str | os.PathLike[str]) -> dict[str, Any]:
    """Which observations an archive holds written: ``{"n_obs", "written", "missing",
    "complete"}`` (obs ids; written means the digest marker is set, not yet re-verified).

    Examples
    --------
    >>> import tempfile, os
    >>> from xgamma import testing
    >>> p = os.path.join(tempfile.mkdtemp(), "a.zarr")
    >>> _ = reduce_to_archive([testing.make_observation(obs_id=5, n_events=50)],
    ...                       testing.make_wcs_geom(width=1.0, binsz=0.5), p, products=["counts"])
    >>> archive_status(p)
    {'n_obs': 1, 'written': [5], 'missing': [], 'complete': True}
    """
    path = os.fspath(store)
    g = zarr.open_group(path, mode="r", use_consolidated=False)
    if _ATTR not in g.attrs:
        raise ArchiveError("not an xgamma reduction archive", path=path)
    ids = _read(path, "obs").tolist()
    done = _read(path, f"{_GROUP}/written") != 0
    man = json.loads(str(g.attrs.get(MANIFEST_KEY, "{}")))
    return {"n_obs": len(ids), "written": [o for o, d in zip(ids, done, strict=True) if d],
            "missing": [o for o, d in zip(ids, done, strict=True) if not d],
            "complete": bool(man.get("complete"))}


def reduce_to_archive(
    observations: Iterable[Any],
    geom: Any,
    store: str | os.PathLike[str],
    *,
    progress: bool = False,
    **kwargs: Any,
) -> xr.Dataset:
    """Reduce observations into one zarr archive along ``obs``, one dask task each, resumably.

    Parameters
    ----------
    observations : iterable of Observation
        Each with a distinct ``obs_id``.
    geom : Dataset
        One geometry for all observations.
    store : path
        The archive (a folder). If it exists it must be an archive of the same observations,
        geometry and options: the observations already written and verified are skipped.
    progress : bool
        Show a progress bar.
    **kwargs
        Passed to :func:`xgamma.reduction.driver.reduce`.

    Returns
    -------
    xarray.Dataset
        The archive opened lazily (:func:`xgamma.io.zarr.open_zarr`, verified); equal to
        ``reduce_many(observations, geom, **kwargs)``.

    Raises
    ------
    ArchiveError
        ``store`` holds something else (another archive, other observations or options).
    ReductionError
        An observation fails (named); those written before stay in the archive and a rerun
        resumes.

    Examples
    --------
    >>> import tempfile, os
    >>> from xgamma import testing
    >>> obs = [testing.make_observation(obs_id=i, n_events=50) for i in (1, 2)]
    >>> p = os.path.join(tempfile.mkdtemp(), "a.zarr")
    >>> geom = testing.make_wcs_geom(width=1.0, binsz=0.5)
    >>> reduce_to_archive(obs, geom, p, products=["counts"]).counts.dims
    ('obs', 'energy', 'y', 'x')
    """
    path = os.fspath(store)
    obs_list = list(observations)
    if not obs_list:
        raise ValueError("no observations to reduce")
    if callable(geom):
        raise ArchiveError("an archive needs one geometry for all observations, not a callable",
                           path=path)
    ids = [obs_id(o) for o in obs_list]
    if None in ids or len({str(i) for i in ids}) != len(ids):
        raise ArchiveError(f"an archive needs distinct obs ids, got {ids}", path=path)
    token = tokenize(geom, sorted(kwargs.items()), [str(i) for i in ids])
    start = 0
    if os.path.exists(path):
        try:
            g = zarr.open_group(path, mode="r", use_consolidated=False)
            meta = json.loads(str(g.attrs[_ATTR]))
        except Exception as exc:
            raise ArchiveError("exists and is not an xgamma reduction archive; remove it or "
                               "choose another path", path=path) from exc
        if meta.get("token") != token:
            stored = _read(path, "obs").tolist() if "obs" in g else []
            raise ArchiveError(
                f"holds a reduction of other observations or options (obs ids {stored[:5]}"
                f"{'...' if len(stored) > 5 else ''}); remove it or choose another path",
                path=path)
        if f"{_GROUP}/written" not in g:  # killed while preallocating: ours, start afresh
            shutil.rmtree(path)
    if not os.path.exists(path):
        task0 = dask.delayed(_reduce_one, pure=True)(obs_list[0], geom, kwargs,
                                                     dask_key_name=f"reduce-{ids[0]}-0")
        first = compute([task0], False, "reduce")[0]
        _preallocate(path, first, ids, token)
        names = _obs_vars(zarr.open_group(path, mode="r", use_consolidated=False))
        _write_obs(path, 0, first, ids[0], names)
        del first
        start = 1
    names = _obs_vars(zarr.open_group(path, mode="r", use_consolidated=False))
    task = dask.delayed(_archive_task, pure=True)
    resume = start == 0  # a fresh archive has nothing to verify
    run = uuid.uuid4().hex[:12]  # tasks write: a rerun is new work, never a cached result
    tasks = [task(o, geom, kwargs, path, i, names, resume,
                  dask_key_name=f"archive-{ids[i]}-{i}-{run}")
             for i, o in enumerate(obs_list) if i >= start]
    if tasks:
        _run(tasks, progress)
    _finalize(path)
    out = open_zarr(path)
    assert isinstance(out, xr.Dataset)
    out.attrs.pop(_ATTR, None)
    return out
