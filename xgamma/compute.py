"""Run dask tasks on the active scheduler, with an optional progress bar.

The one place xgamma computes lists of delayed tasks: the threaded scheduler by default, or a
``dask.distributed.Client`` when one is active (``as_completed`` drives the bar there).

Examples
--------
>>> import dask
>>> compute([dask.delayed(abs)(-1), dask.delayed(abs)(-2)], progress=False)
[1, 2]
"""

from __future__ import annotations

import sys
from typing import Any

import dask
import dask.threaded

__all__ = ["active_client", "compute"]


def active_client() -> Any:
    """The active ``dask.distributed.Client``, or None under a local scheduler.

    Examples
    --------
    >>> with dask.config.set(scheduler="threads"):
    ...     print(active_client())
    None
    """
    if _no_client_possible():
        return None
    sched = dask.base.get_scheduler()
    client = getattr(sched, "__self__", None)
    return client if type(client).__name__ == "Client" else None


def _no_client_possible() -> bool:
    """No scheduler configured and ``distributed`` never imported: no client can be active.
    (dask's own check imports ``distributed``, ~2 s on the first compute of a session.)"""
    return "distributed" not in sys.modules and dask.config.get("scheduler", None) is None


def _local_kwargs() -> dict[str, Any]:
    """The threaded scheduler (as a callable) when no client can be active (dask's default for delayed tasks),
    so that dask does not import ``distributed`` to look for one."""
    return {"scheduler": dask.threaded.get} if _no_client_possible() else {}


def compute(tasks: list[Any], progress: bool = False, desc: str = "") -> list[Any]:
    """Compute ``tasks`` on the active scheduler; ``progress`` shows a tqdm bar of finished tasks.

    Parameters
    ----------
    tasks : list of dask delayed objects
        The tasks to compute, all at once.
    progress : bool
        Show a tqdm progress bar that counts finished tasks.
    desc : str
        Label of the progress bar.

    Returns
    -------
    list
        The results, in the order of ``tasks``.

    Examples
    --------
    >>> compute([dask.delayed(sum)([1, 2]), dask.delayed(max)(3, 4)])
    [3, 4]
    """
    client = active_client()
    if not progress:
        return list(dask.compute(*tasks, **_local_kwargs()))
    from tqdm.auto import tqdm  # lazy: loads only with a bar

    if client is not None:
        from distributed import as_completed  # lazy: optional dependency

        futures = client.compute(tasks)
        with tqdm(total=len(futures), desc=desc) as bar:
            for _ in as_completed(futures):
                bar.update(1)
        return list(client.gather(futures))
    from dask.callbacks import Callback

    keys = {t.key for t in tasks}

    class _Bar(Callback):
        def __init__(self, bar: Any) -> None:
            super().__init__()
            self.bar = bar

        def _posttask(self, key: Any, result: Any, dsk: Any, state: Any, worker_id: Any) -> None:
            if key in keys:
                self.bar.update(1)

    with tqdm(total=len(tasks), desc=desc) as bar, _Bar(bar):
        return list(dask.compute(*tasks, **_local_kwargs()))
