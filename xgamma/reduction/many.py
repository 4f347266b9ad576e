"""Reduction of many observations: one dask task per observation, concatenated or stacked.

:func:`reduce_many` reduces each observation with :func:`xgamma.reduce.reduce` in its own
dask task (threaded scheduler, or a ``dask.distributed.Client`` when one is active), from a
detached copy of the observation so that the caller's objects do not fill with data, and
concatenates the datasets along ``obs`` (:func:`xgamma.stacking.concat_obs`) or stacks them
pairwise in a tree. Failures name the observation (:class:`xgamma.reduce.ReductionError`).

:func:`reduce_many` is re-exported by :mod:`xgamma.reduce` and :mod:`xgamma`.

Examples
--------
>>> import xgamma as xg
>>> from xgamma import testing
>>> obs = [testing.make_observation(obs_id=i, seed=i, n_events=100) for i in (1, 2)]
>>> ds = xg.reduce_many(obs, testing.make_wcs_geom(width=1.0, binsz=0.2), stack=True,
...                     products=["counts"])
>>> ds.attrs["obs_id"]
[1, 2]
"""

from __future__ import annotations

import copy
import traceback
from collections.abc import Callable, Iterable
from typing import Any

import xarray as xr

from xgamma.compute import compute
from xgamma.errors import ReductionError
from xgamma.reduction.archive import reduce_to_archive
from xgamma.reduction.driver import reduce
from xgamma.reduction.observation import obs_id
from xgamma.reduction.stacking import concat_obs, stack_obs, stack_pair

__all__ = ["reduce_many"]


def _detached(obs: Any) -> Any:
    """A copy of an observation that reads lazily without filling the caller's caches (for
    classes that define ``__getstate__``, like ``xgamma.io.store.Observation``)."""
    if getattr(type(obs), "__getstate__", None) is not getattr(object, "__getstate__", None):
        return copy.copy(obs)
    return obs


def _reduce_task(obs: Any, geom: Any, kwargs: dict[str, Any],
                 postprocess: Callable[[xr.Dataset], Any] | None) -> Any:

    obs = _detached(obs)
    try:
        g = geom(obs) if callable(geom) else geom
        ds = reduce(obs, g, **kwargs)
        return postprocess(ds) if postprocess is not None else ds
    except Exception as exc:
        tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        raise ReductionError(f"observation {obs_id(obs)} failed: {type(exc).__name__}: {exc}\n"
                             f"--- original traceback ---\n{tb}") from exc


def reduce_many(
    observations: Iterable[Any],
    geom: xr.Dataset | Callable[[Any], xr.Dataset],
    *,
    stack: bool = False,
    progress: bool = False,
    postprocess: Callable[[xr.Dataset], Any] | None = None,
    store: Any = None,
    **kwargs: Any,
) -> Any:
    """Reduce many observations in parallel, one dask task per observation.

    The tasks run on whatever dask scheduler is active: the threaded scheduler by default,
    a ``dask.distributed.Client`` when one is active (``with Client(...)``).

    Parameters
    ----------
    observations : iterable of Observation
    geom : Dataset or callable
        One geometry for all observations, or ``geom(observation) -> geometry`` (e.g. a map
        around each pointing).
    stack : bool
        Stack the results (pairwise, in a tree, so that memory stays bounded) instead of
        concatenating them along ``obs``.
    progress : bool
        Show a tqdm progress bar (``as_completed`` on a distributed client).
    postprocess : callable, optional
        Applied to each reduced dataset inside its task (e.g. write it to disk or summarise
        it); only its result travels back.
    store : path, optional
        Write the datasets into this zarr archive along ``obs`` as each task finishes,
        resumably, and return it opened lazily
        (:func:`xgamma.reduction.archive.reduce_to_archive`; one geometry, no ``stack`` or
        ``postprocess``).

    Notes
    -----
    Each task reads its observation from a copy (``copy.copy``) of the observation object, so
    the data read in the task are released with it instead of filling the caller's objects:
    memory stays bounded by the tasks in flight.
    **kwargs
        Passed to :func:`xgamma.reduce.reduce` (``energy_true``, ``safe_mask``,
        ``background_method``, ...).

    Returns
    -------
    Dataset or list
        One geometry: the datasets concatenated along ``obs`` (or stacked); a callable
        geometry or ``postprocess``: the list of results in input order.

    Raises
    ------
    ReductionError
        For a failing observation: the message names its obs id and holds the original
        traceback, which is also chained as ``__cause__`` where the scheduler keeps it.

    Examples
    --------
    >>> from xgamma import testing
    >>> obs = [testing.make_observation(obs_id=i, seed=i, n_events=100) for i in (1, 2, 3)]
    >>> ds = reduce_many(obs, testing.make_wcs_geom(width=1.0, binsz=0.2), products=["counts"])
    >>> ds.obs.values.tolist()
    [1, 2, 3]
    """
    import dask

    obs_list = list(observations)
    if not obs_list:
        raise ValueError("no observations to reduce")
    if store is not None:
        if stack or postprocess is not None:
            raise ValueError("store= writes every observation: it takes no stack or postprocess")
        return reduce_to_archive(obs_list, geom, store, progress=progress, **kwargs)
    if stack and (postprocess is not None or callable(geom)):
        raise ValueError("stack=True needs one geometry and no postprocess")
    task = dask.delayed(_reduce_task, pure=True)
    tasks = [task(o, geom, kwargs, postprocess, dask_key_name=f"reduce-{obs_id(o)}-{i}")
             for i, o in enumerate(obs_list)]
    if stack:
        level = tasks
        pair = dask.delayed(stack_pair, pure=True)
        while len(level) > 1:
            nxt = [pair(level[k], level[k + 1]) for k in range(0, len(level) - 1, 2)]
            if len(level) % 2:
                nxt.append(level[-1])
            level = nxt
        out = compute(level, progress, "reduce+stack")[0]
        return out if "obs" not in out.dims else stack_obs(out, "stacked")
    results = compute(tasks, progress, "reduce")
    if postprocess is not None or callable(geom):
        return results
    return concat_obs(results)
