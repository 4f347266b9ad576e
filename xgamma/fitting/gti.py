"""Good time intervals of reduced datasets for the temporal factor of the folds.

A sky model with a temporal model ``f(t)`` predicts counts times ``f``'s mean over the
dataset's good time: ``sum_i int_{GTI_i} f dt / sum_i (stop_i - start_i)``, per observation
along ``obs``. A stacked dataset keeps the union of its runs' GTIs (attrs ``gti_start``/
``gti_stop``), so the gaps between runs are not good time (as Gammapy's ``GTI.stack``).

Examples
--------
>>> import xarray as xr
>>> from xgamma.models.temporal import temporal_model
>>> ds = xr.Dataset(attrs=dict(mjdref=0.0, tstart=0.0, tstop=3 * 86400.0,
...                            gti_start=[0.0, 2 * 86400.0], gti_stop=[86400.0, 3 * 86400.0]))
>>> ramp = temporal_model("linear", alpha=1.0, beta=1.0, t_ref=0.0)  # 1 + t / day
>>> gti_mean(ramp, list(ramp.parameters.values), gti_intervals_mjd(ds), 1).tolist()
[2.5]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from xgamma.obs import gti_table

__all__ = ["gti_intervals_mjd", "gti_mean"]


def gti_intervals_mjd(dataset: xr.Dataset) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Every good time interval of a dataset as MJD (TT) ``(start, stop, obs_index)`` arrays:
    a stacked dataset keeps the union of its runs' GTIs (attrs ``gti_start``/``gti_stop``, see
    :func:`xgamma.obs.gti_table`), so the gaps between runs are not good time; ``obs_index``
    is the position along ``obs`` (0 without an ``obs`` dim). None without a GTI or ``mjdref``.

    Examples
    --------
    >>> ds = xr.Dataset(attrs=dict(mjdref=55000.0, tstart=0.0, tstop=86400.0,
    ...                            gti_start=[0.0, 43200.0], gti_stop=[21600.0, 86400.0]))
    >>> [a.tolist() for a in gti_intervals_mjd(ds)]
    [[55000.0, 55000.5], [55000.25, 55001.0], [0, 0]]
    """
    g = gti_table(dataset)
    ref = dataset.coords["mjdref"].values if "mjdref" in dataset.coords else dataset.attrs.get("mjdref")
    if g is None or ref is None:
        return None
    n = dataset.sizes.get("obs", 1)
    mjdref = np.broadcast_to(np.asarray(ref, dtype=float).reshape(-1), (n,))[g[2]]
    return mjdref + g[0] / 86400.0, mjdref + g[1] / 86400.0, g[2]


def gti_mean(temporal: Any, values: Sequence[Any], gti: tuple[np.ndarray, np.ndarray, np.ndarray],
             n_obs: int) -> np.ndarray:
    """Mean of a temporal model over each observation's good time intervals
    (:func:`gti_intervals_mjd`): ``sum_i int_{GTI_i} f dt / sum_i (stop_i - start_i)`` per
    observation, 1 for one without good time.

    Examples
    --------
    >>> from xgamma.models.temporal import temporal_model
    >>> ramp = temporal_model("linear", alpha=1.0, beta=1.0, t_ref=0.0)  # 1 + t / day
    >>> gti = (np.array([0.0, 2.0]), np.array([1.0, 3.0]), np.array([0, 0]))
    >>> gti_mean(ramp, list(ramp.parameters.values), gti, 1).tolist()  # (1.5 + 3.5) / 2
    [2.5]
    """
    t1, t2, idx = gti
    integ = np.asarray(temporal.integral_values(t1, t2, list(values)), dtype=float).reshape(-1)
    num = np.bincount(idx, weights=np.broadcast_to(integ, t1.shape), minlength=n_obs)
    den = np.bincount(idx, weights=t2 - t1, minlength=n_obs)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / den, 1.0)
