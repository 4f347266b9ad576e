"""Light curves: flux points of a source in time bins (and one or more energy bands).

Time bins are given as edges (astropy ``Time`` or MJD floats, TT), one bin per observation, or
regular bins of a given duration (:func:`time_bins`). Every observation overlapping a time bin is
cut to it (:func:`time_slice`: events inside the bin and the GTIs, GTIs intersected, live time
scaled by the fraction of the GTI time that falls in the bin) and reduced (a region geometry: 1D
ON/OFF via :func:`xgamma.spectrum.reduce_spectrum`; a WCS geometry: :func:`xgamma.reduce.reduce`).
The norm of the source is then fitted jointly over the bin's datasets in each energy band
(:mod:`xgamma.estimators.flux_points`). Time bins are independent ``dask.delayed`` tasks.

The result is the common estimator Dataset (:mod:`xgamma.estimators.core`) with dims
``(time, energy)``; ``time``/``time_min``/``time_max`` are ``datetime64[ns]`` in UTC (bin centre,
start, stop; :func:`xgamma.estimators.core.time_mjd` gives MJD, TT), so ``lc.sel(time=...,
method="nearest")`` takes ISO dates. :mod:`xgamma.estimators.variability` tests and measures
the variability.

Examples
--------
>>> import numpy as np
>>> t0, t1 = time_bins(edges=[53945.0, 53945.5, 53946.0])
>>> t0.tolist(), t1.tolist()
([53945.0, 53945.5], [53945.5, 53946.0])
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import dask
import numpy as np
import xarray as xr

from xgamma.axes import axis_from_edges
from xgamma.compute import compute
from xgamma.estimators.core import time_axis, to_mjd
from xgamma.estimators.flux_points import (
    assemble_rows,
    estimator_options,
    flux_point_rows,
    snap_edges,
)
from xgamma.io.store import DataStore, TimeSlice
from xgamma.models.components import Models, as_models
from xgamma.reduction.driver import reduce
from xgamma.reduction.slices import RunReduction, prepare_runs, reduce_spectra
from xgamma.sky.geom import geom_kind

__all__ = ["light_curve", "light_curve_datasets", "time_bins", "time_slice", "obs_time_range"]


def _ref_mjd(obs: Any) -> float:
    tref = getattr(obs, "time_ref", None)
    if tref is None:
        raise ValueError(f"observation {getattr(obs, 'obs_id', '?')} has no time reference (MJDREF)")
    return float(tref.tt.mjd) if hasattr(tref, "tt") else float(tref)


def _gti_seconds(obs: Any) -> np.ndarray:
    g = obs.gti
    return np.column_stack([np.asarray(g["start"], float), np.asarray(g["stop"], float)])


def obs_time_range(obs: Any) -> tuple[float, float]:
    """``(start, stop)`` of an observation's GTIs in MJD (TT).

    Examples
    --------
    >>> from xgamma import testing
    >>> t0, t1 = obs_time_range(testing.make_observation())
    >>> t1 > t0
    True
    """
    g = _gti_seconds(obs)
    ref = _ref_mjd(obs)
    return ref + float(g[:, 0].min()) / 86400.0, ref + float(g[:, 1].max()) / 86400.0


def time_slice(observation: Any, t_min: float, t_max: float) -> Any:
    """The part of ``observation`` in ``[t_min, t_max)`` (MJD, TT): the observation itself when
    the interval covers all its GTIs, None without GTI overlap, else a :class:`TimeSlice`.

    Examples
    --------
    >>> from xgamma import testing
    >>> obs = testing.make_observation()
    >>> t0, t1 = obs_time_range(obs)
    >>> time_slice(obs, t1 + 1, t1 + 2) is None
    True
    """
    ref = _ref_mjd(observation)
    t0, t1 = (t_min - ref) * 86400.0, (t_max - ref) * 86400.0
    g = _gti_seconds(observation)
    if t0 <= g[:, 0].min() and t1 >= g[:, 1].max():
        return observation
    sl = TimeSlice(observation, t0, t1)
    return sl if sl.ontime > 0 else None


def _seconds(duration: Any) -> float:
    import astropy.units as u

    if isinstance(duration, str):
        duration = u.Quantity(duration)
    if isinstance(duration, u.Quantity):
        return float(duration.to_value("s"))
    return float(duration)


def time_bins(observations: Sequence[Any] | None = None, *, edges: Any = None, intervals: Any = None,
              duration: Any = None, t_start: Any = None, t_stop: Any = None,
              per_observation: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Time bins ``(t_min, t_max)`` in MJD (TT).

    Exactly one of:

    - ``edges``: consecutive bin edges (``Time`` or MJD floats);
    - ``intervals``: a list of ``(start, stop)`` pairs (``Time`` or MJD; may have gaps);
    - ``per_observation=True``: one bin per observation (its GTI span);
    - ``duration`` (seconds, a Quantity or a string such as ``"10 min"``): regular bins from
      ``t_start`` (default: the first GTI start) to ``t_stop`` (default: the last GTI stop).

    Examples
    --------
    >>> t0, t1 = time_bins(duration="12 h", t_start=53945.0, t_stop=53946.0)
    >>> t0.tolist(), t1.tolist()
    ([53945.0, 53945.5], [53945.5, 53946.0])
    """

    given = sum(x is not None and x is not False for x in (edges, intervals, duration, per_observation or None))
    if given != 1:
        raise ValueError("give exactly one of edges, intervals, duration, per_observation")
    if edges is not None:
        e = to_mjd(edges)
        return e[:-1].copy(), e[1:].copy()
    if intervals is not None:
        pairs = [(float(to_mjd(a)[0]), float(to_mjd(b)[0])) for a, b in intervals]
        arr = np.array(pairs, float).reshape(-1, 2)
        return arr[:, 0], arr[:, 1]
    obs = list(observations or [])
    if per_observation:
        rng = np.array([obs_time_range(o) for o in obs], float).reshape(-1, 2)
        order = np.argsort(rng[:, 0])
        return rng[order, 0], rng[order, 1]
    step = _seconds(duration) / 86400.0
    if t_start is None or t_stop is None:
        if not obs:
            raise ValueError("duration bins need t_start and t_stop, or observations")
        rng = np.array([obs_time_range(o) for o in obs], float)
    start = float(to_mjd(t_start)[0]) if t_start is not None else float(rng[:, 0].min())
    stop = float(to_mjd(t_stop)[0]) if t_stop is not None else float(rng[:, 1].max())
    n = max(1, int(math.ceil((stop - start) / step - 1e-9)))
    e = start + step * np.arange(n + 1)
    return e[:-1], e[1:]


def _time_bin_rows(observations: Sequence[Any], runs: Sequence[RunReduction | None] | None,
                   t_min: float, t_max: float, geom: xr.Dataset,
                   reduce_kwargs: dict[str, Any], models: Models, source: str, edges: np.ndarray,
                   kw: dict[str, Any], reoptimize: bool) -> tuple[list[dict[str, Any]], float]:
    pairs = [(time_slice(o, t_min, t_max), i) for i, o in enumerate(observations)]
    slices = [sl for sl, _ in pairs if sl is not None]
    if geom_kind(geom) == "region":
        # each run was reduced and searched for OFF regions once, before the time bins
        found = None if runs is None else [runs[i] for sl, i in pairs if sl is not None]
        datasets = reduce_spectra(slices, geom, runs=found, **reduce_kwargs)
    else:
        datasets = [reduce(sl, geom, **reduce_kwargs) for sl in slices]
    livetime = float(sum(float(ds.attrs.get("livetime", 0.0)) for ds in datasets))
    rows = flux_point_rows(datasets, models, source, edges, kw, reoptimize)
    return rows, livetime


def light_curve(observations: Any, models: Any, source: str, energy_edges: Any, geom: xr.Dataset | None = None,
                time_intervals: Any = None, *, reduce_kwargs: dict[str, Any] | None = None,
                n_sigma: float = 1.0, n_sigma_ul: float = 2.0, reoptimize: bool = False,
                norm_scan: Any = None, selection_optional: Sequence[str] = ("errn-errp", "ul"),
                sqrt_ts_threshold_ul: float = 2.0, drop_empty: bool = True,
                progress: bool = False) -> xr.Dataset:
    """Light curve of ``source``: flux points per time bin and energy band.

    Parameters
    ----------
    observations : sequence of Observation, or a DataStore
        The observations (a :class:`~xgamma.io.store.DataStore` means all of its observations).
    models : Models
        Fitted models; ``models[source]``'s spectral model is the reference.
    source : str
        Name of the sky model.
    energy_edges : array-like [TeV]
        Edges of the energy band(s), e.g. ``[0.7, 20]`` (one band) or ``[0.7, 1, 3, 20]``; they
        snap to the reco-energy edges of ``geom``.
    geom : xarray.Dataset
        Region geometry (1D ON/OFF reduction) or WCS or HEALPix geometry (3D), with an ``energy`` axis.
    time_intervals : optional
        ``(t_min, t_max)`` MJD arrays (from :func:`time_bins`), a list of ``(start, stop)``
        pairs, ``"observation"`` (one bin per observation), or a duration (``"10 min"``);
        default one bin per observation.
    reduce_kwargs : dict, optional
        Keyword arguments of the reduction (``energy_true``, ``safe_mask``,
        ``containment_correction``, ...).
    drop_empty : bool
        Leave out time bins that no observation overlaps.

    Returns
    -------
    xarray.Dataset
        The estimator result with dims ``(time, energy)``, plus ``livetime(time)``.

    Examples
    --------
    >>> import xgamma as xg
    >>> from xgamma import testing
    >>> from xgamma.models import Models, SkyModel, spectral_model
    >>> obs = testing.make_observation(n_events=2000)
    >>> geom = xg.region_geom("icrs;circle(83.633,22.014,0.2)", axes=[xg.energy_axis(0.5, 50, 10)])
    >>> m = Models([SkyModel("src", spectral_model("pl", index=2.5, amplitude=1e-11))])
    >>> lc = light_curve([obs], m, "src", [0.5, 50], geom, "observation")
    >>> lc.norm.dims
    ('time', 'energy')
    """

    if geom is None:
        raise ValueError("light_curve: give the reduction geometry (geom): a region geometry for 1D, WCS for 3D")
    if isinstance(observations, DataStore):
        observations = observations.observations()
    obs = list(observations)
    for o in obs:  # read everything once, before threads share the observations
        if hasattr(o, "load"):
            o.load()
    models = as_models(models)
    if time_intervals is None or (isinstance(time_intervals, str) and time_intervals == "observation"):
        t_min, t_max = time_bins(obs, per_observation=True)
    elif isinstance(time_intervals, str) or _is_duration(time_intervals):
        t_min, t_max = time_bins(obs, duration=time_intervals)
    elif isinstance(time_intervals, tuple) and len(time_intervals) == 2 and np.ndim(time_intervals[0]) == 1:
        t_min, t_max = np.asarray(time_intervals[0], float), np.asarray(time_intervals[1], float)
    else:
        t_min, t_max = time_bins(intervals=time_intervals)
    ranges = [obs_time_range(o) for o in obs]
    if drop_empty:
        keep = np.array([any(a < t1 and b > t0 for a, b in ranges) for t0, t1 in zip(t_min, t_max, strict=True)], bool)
        t_min, t_max = t_min[keep], t_max[keep]
    if t_min.size == 0:
        raise ValueError("light_curve: no time bin overlaps the observations")
    e_ax = geom["energy"] if "energy" in geom.coords else geom.coords["energy"]
    reco = np.append(np.asarray(e_ax["energy_min"].values, float), float(e_ax["energy_max"].values[-1]))
    import astropy.units as u

    if isinstance(energy_edges, u.Quantity):
        energy_edges = energy_edges.to_value("TeV")
    edges = snap_edges(energy_edges, reco)
    kw = estimator_options(n_sigma, n_sigma_ul, norm_scan, selection_optional)
    rkw = dict(reduce_kwargs or {})
    per_bin = [[i for i, (a, b) in enumerate(ranges) if a < t1 and b > t0]
               for t0, t1 in zip(t_min, t_max, strict=True)]
    runs: dict[int, Any] | None = None
    if geom_kind(geom) == "region":
        # one reduction and one reflected-region search per run, shared by all its time bins
        used = sorted({i for idx in per_bin for i in idx})
        runs = dict(zip(used, prepare_runs([_as_slice(obs[i]) for i in used], geom, **rkw), strict=True))
    tasks = []
    for (t0, t1), idx in zip(zip(t_min, t_max, strict=True), per_bin, strict=True):
        these = [obs[i] for i in idx]
        found = None if runs is None else [runs[i] for i in idx]
        tasks.append(dask.delayed(_time_bin_rows, pure=True)(these, found, float(t0), float(t1), geom, rkw,
                                                             models, source, edges, kw, reoptimize))
    out = compute(tasks, progress, "light curve")
    rows = [r for rows_t, _ in out for r in rows_t]
    livetime = np.array([lt for _, lt in out], float)
    taxis = time_axis(t_min, t_max)
    energy = axis_from_edges(edges, "energy", unit="TeV")
    res = assemble_rows(rows, energy, models[source], kw, ("time", "energy"), {str(k): v for k, v in taxis.coords.items()}, n_sigma, n_sigma_ul,
                    sqrt_ts_threshold_ul, shape=(t_min.size, edges.size - 1))
    return res.assign(livetime=("time", livetime, {"units": "s"}))


def _rows_task(datasets: Sequence[xr.Dataset], models: Models, source: str, edges: np.ndarray, kw: dict[str, Any],
               reoptimize: bool) -> tuple[list[dict[str, Any]], float]:
    lt = float(sum(float(d.attrs.get("livetime", 0.0)) for d in datasets))
    return flux_point_rows(list(datasets), models, source, edges, kw, reoptimize), lt


def light_curve_datasets(datasets: Sequence[Any], t_min: Any, t_max: Any, models: Any, source: str,
                         energy_edges: Any, *, n_sigma: float = 1.0, n_sigma_ul: float = 2.0,
                         reoptimize: bool = False, norm_scan: Any = None,
                         selection_optional: Sequence[str] = ("errn-errp", "ul"),
                         sqrt_ts_threshold_ul: float = 2.0, progress: bool = False) -> xr.Dataset:
    """Light curve from already reduced datasets: one dataset (or a list, fitted jointly) per time bin.

    ``t_min``/``t_max``: the bins' MJD (TT) (or astropy ``Time``). Same result form as
    :func:`light_curve`.

    Examples
    --------
    >>> from xgamma.fold import example_dataset, fake
    >>> from xgamma.models import Models, SkyModel, spectral_model
    >>> m = Models([SkyModel("s", spectral_model("pl", index=2.6, amplitude=4e-11))])
    >>> dss = [fake(example_dataset(), m, seed=i) for i in range(3)]
    >>> lc = light_curve_datasets(dss, [55000.0, 55000.1, 55000.2], [55000.1, 55000.2, 55000.3], m, "s", [1, 10])
    >>> lc.sizes["time"], bool(abs(lc.norm - 1).max() < 0.2)
    (3, True)
    """

    t0, t1 = to_mjd(t_min), to_mjd(t_max)
    groups = [[d] if isinstance(d, xr.Dataset) else list(d) for d in datasets]
    if len(groups) != t0.size:
        raise ValueError(f"{len(groups)} dataset groups for {t0.size} time bins")
    models = as_models(models)
    first = next((g[0] for g in groups if g), None)
    if first is None:
        raise ValueError("light_curve_datasets: no datasets")
    reco = np.append(np.asarray(first["energy_min"].values, float), float(first["energy_max"].values[-1]))
    edges = snap_edges(np.asarray(energy_edges, float), reco)
    kw = estimator_options(n_sigma, n_sigma_ul, norm_scan, selection_optional)
    tasks = [dask.delayed(_rows_task, pure=True)(g, models, source, edges, kw, reoptimize) for g in groups]
    out = compute(tasks, progress, "light curve")
    rows = [r for rows_t, _ in out for r in rows_t]
    taxis = time_axis(t0, t1)
    energy = axis_from_edges(edges, "energy", unit="TeV")
    res = assemble_rows(rows, energy, models[source], kw, ("time", "energy"), {str(k): v for k, v in taxis.coords.items()}, n_sigma, n_sigma_ul,
                    sqrt_ts_threshold_ul, shape=(t0.size, edges.size - 1))
    return res.assign(livetime=("time", np.array([lt for _, lt in out], float), {"units": "s"}))


def _as_slice(obs: Any) -> Any:
    """A whole run as a slice of itself (so that ``prepare_runs`` prepares it); slices as they are."""
    if isinstance(obs, TimeSlice):
        return obs
    g = _gti_seconds(obs)
    return TimeSlice(obs, float(g[:, 0].min()), float(g[:, 1].max()))


def _is_duration(x: Any) -> bool:
    import astropy.units as u

    if isinstance(x, u.Quantity):
        return x.unit.physical_type == "time" and x.isscalar
    return isinstance(x, (int, float)) and not isinstance(x, bool)
