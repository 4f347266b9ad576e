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
import logging
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import xarray as xr

from xgamma.compute import compute
from xgamma.errors import ReductionError, XgammaError
from xgamma.reduction.archive import reduce_to_archive
from xgamma.reduction.checks import check_observation
from xgamma.reduction.driver import reduce
from xgamma.reduction.observation import obs_id
from xgamma.reduction.stacking import concat_obs, stack_obs, stack_pair

__all__ = ["reduce_many", "SkippedObservation", "skipped_from_error"]

log = logging.getLogger("xgamma.reduction")


def _detached(obs: Any) -> Any:
    """A copy of an observation that reads lazily without filling the caller's caches (for
    classes that define ``__getstate__``, like ``xgamma.io.store.Observation``); what the
    caller has read already (``detached()``) is shared, not read again."""
    if callable(getattr(obs, "detached", None)):
        return obs.detached()
    if getattr(type(obs), "__getstate__", None) is not getattr(object, "__getstate__", None):
        return copy.copy(obs)
    return obs


@dataclass(frozen=True)
class SkippedObservation:
    """An observation left out by ``on_error="skip"``: its id, the file and HDU named by the
    error (None when the error names none) and the one-line reason.

    Examples
    --------
    >>> SkippedObservation(7, "run7.fits", "EVENTS", "truncated").as_dict()["obs_id"]
    7
    """

    obs_id: Any
    file: str | None
    hdu: str | None
    reason: str

    def as_dict(self) -> dict[str, Any]:
        """Plain types (YAML/JSON-ready)."""
        oid = self.obs_id.item() if hasattr(self.obs_id, "item") else self.obs_id
        return {"obs_id": oid, "file": self.file, "hdu": self.hdu, "reason": self.reason}


def skipped_from_error(obs: Any, exc: BaseException) -> SkippedObservation:
    """The :class:`SkippedObservation` of ``obs`` failing with ``exc`` (the file and HDU of the
    first error in the chain that names them).

    Examples
    --------
    >>> from xgamma.errors import XgammaIOError
    >>> from xgamma import testing
    >>> err = XgammaIOError("truncated", path="a.fits", hdu="EVENTS")
    >>> skipped_from_error(testing.make_observation(obs_id=3, n_events=10), err).file
    'a.fits'
    """
    file = hdu = None
    e: BaseException | None = exc
    seen = 0
    while e is not None and seen < 10:
        path = getattr(e, "path", None)
        if path is not None and file is None:
            file = str(path)
            h = getattr(e, "hdu", None)
            hdu = None if h is None else str(h)
        e = e.__cause__ or e.__context__
        seen += 1
    text = str(exc).strip().splitlines()
    reason = text[0] if text else type(exc).__name__
    if not isinstance(exc, XgammaError):
        reason = f"{type(exc).__name__}: {reason}"
    return SkippedObservation(obs_id(obs), file, hdu, reason)


def _reduce_task(obs: Any, geom: Any, kwargs: dict[str, Any],
                 postprocess: Callable[[xr.Dataset], Any] | None, on_error: str = "raise") -> Any:

    obs = _detached(obs)
    try:
        for warning in check_observation(obs):
            log.warning("%s", warning)
        g = geom(obs) if callable(geom) else geom
        ds = reduce(obs, g, **kwargs)
        return postprocess(ds) if postprocess is not None else ds
    except Exception as exc:
        if on_error == "skip":
            return skipped_from_error(obs, exc)
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
    on_error: str = "raise",
    store: Any = None,
    as_list: bool = False,
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
    on_error : {"raise", "skip"}
        ``"raise"``: the first failing observation stops the reduction (a
        :class:`~xgamma.errors.ReductionError` naming it). ``"skip"``: a failing observation
        is left out with a warning on the ``xgamma.reduction`` logger and the rest completes;
        the :class:`SkippedObservation` records (obs id, file, HDU, reason) are in
        ``attrs["skipped"]`` of the result (as dicts) or, for a list result, in place of the
        failed entries. All observations failing raises.
    store : path, optional
        Write the datasets into this zarr archive along ``obs`` as each task finishes,
        resumably, and return it opened lazily
        (:func:`xgamma.reduction.archive.reduce_to_archive`; one geometry, no ``stack`` or
        ``postprocess``).
    as_list : bool
        Return the reduced datasets as a list in input order instead of concatenating them
        (for a caller that stacks them: :func:`xgamma.reduction.stack` of the list sums them
        without first copying them into one array); with ``on_error="skip"`` a skipped
        observation's :class:`SkippedObservation` is in its place. Ignored with ``stack``.

    **kwargs
        Passed to :func:`xgamma.reduction.driver.reduce` (``energy_true``, ``safe_mask``,
        ``background_method``, ``background_oversampling``, ...).

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

    Notes
    -----
    Each task reads its observation from a copy (``copy.copy``; ``detached()`` where the
    observation has it, which shares the files the caller has read already instead of reading
    them again) of the observation object, so the data read in the task are released with it
    instead of filling the caller's objects: memory stays bounded by the tasks in flight.

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
        raise ReductionError("no observations to reduce")
    if on_error not in ("raise", "skip"):
        raise ReductionError(f"on_error: expected 'raise' or 'skip', got {on_error!r}")
    if store is not None:
        if stack or postprocess is not None:
            raise ValueError("store= writes every observation: it takes no stack or postprocess")
        if on_error != "raise":
            raise ValueError("store= resumes failed observations on a rerun: it takes on_error='raise'")
        return reduce_to_archive(obs_list, geom, store, progress=progress, **kwargs)
    if stack and (postprocess is not None or callable(geom)):
        raise ValueError("stack=True needs one geometry and no postprocess")
    task = dask.delayed(_reduce_task, pure=True)
    tasks = [task(o, geom, kwargs, postprocess, on_error, dask_key_name=f"reduce-{obs_id(o)}-{i}")
             for i, o in enumerate(obs_list)]
    if on_error == "skip":
        return _reduce_skipping(tasks, stack, progress,
                                postprocess is not None or callable(geom) or (as_list and not stack))
    if stack:
        level = tasks
        pair = dask.delayed(stack_pair, pure=True)
        while len(level) > 1:
            nxt = [pair(level[k], level[k + 1]) for k in range(0, len(level) - 1, 2)]
            if len(level) % 2:
                nxt.append(level[-1])
            level = nxt
        out = compute(level, progress, "reduce+stack")[0]
        _check_contributes(out, [obs_id(o) for o in obs_list])
        return out if "obs" not in out.dims else stack_obs(out, "stacked")
    results = compute(tasks, progress, "reduce")
    if postprocess is not None or callable(geom) or as_list:
        return results
    return concat_obs(results)


def _check_contributes(out: Any, ids: list[Any]) -> None:
    """A ReductionError naming the observations when a stack has no safe bin at all."""
    if isinstance(out, xr.Dataset) and "mask_safe" in out and not bool(out["mask_safe"].any()):
        raise ReductionError(f"stacking: no observation has a safe bin (outside the field of view or "
                             f"offset_max, or fully excluded): nothing to stack ({len(ids)} observations: {ids})")


def _reduce_skipping(tasks: list[Any], stack: bool, progress: bool, as_list: bool) -> Any:
    """Compute the per-observation tasks, log and set aside the skipped ones, then combine."""
    results = compute(tasks, progress, "reduce")
    skipped = [r for r in results if isinstance(r, SkippedObservation)]
    for sk in skipped:
        log.warning("skipped observation %s (file %s, HDU %s): %s", sk.obs_id, sk.file, sk.hdu,
                    sk.reason)
    if as_list:
        return results
    good = [r for r in results if not isinstance(r, SkippedObservation)]
    if not good:
        raise ReductionError(f"every observation failed; first: observation {skipped[0].obs_id}: "
                             f"{skipped[0].reason}")
    if stack:
        level = good  # the pairwise tree of reduce_many(stack=True): same sums, same order
        while len(level) > 1:
            nxt = [stack_pair(level[k], level[k + 1]) for k in range(0, len(level) - 1, 2)]
            if len(level) % 2:
                nxt.append(level[-1])
            level = nxt
        out = level[0]
        _check_contributes(out, [g.attrs.get("obs_id") for g in good])
        out = out if "obs" not in out.dims else stack_obs(out, "stacked")
    else:
        out = concat_obs(good)
    out.attrs["skipped"] = [sk.as_dict() for sk in skipped]
    return out
