"""The common result form of the estimators: a likelihood SED as an ``xarray.Dataset``.

Every estimator (flux points, light curves, excess/TS maps, flux profiles) returns one Dataset
with the variables of the GADF "likelihood" SED type (all dimensionless, relative to a reference
model):

- ``norm``, ``norm_err`` (Hesse), ``norm_errp``, ``norm_errn`` (profile, ``n_sigma``),
  ``norm_ul`` (profile upper limit at ``n_sigma_ul``), ``ts`` (vs ``norm = 0``), ``sqrt_ts``
  (signed), ``npred``, ``npred_excess``, ``counts``, ``stat`` (at the best norm),
  ``stat_null`` (at ``norm = 0``), ``stat_scan`` over a ``norm_scan`` dim, ``success``,
  ``is_ul`` (``sqrt_ts < sqrt_ts_threshold_ul``), ``valid`` (the bin has data in the fit/safe
  range);
- the reference fluxes per energy bin ``ref_dnde`` [cm-2 s-1 TeV-1] (at the bin's log centre),
  ``ref_flux`` [cm-2 s-1], ``ref_eflux`` [TeV cm-2 s-1], ``ref_e2dnde`` [TeV cm-2 s-1];
- attrs: ``reference_model`` (the model YAML), ``n_sigma``, ``n_sigma_ul``,
  ``sqrt_ts_threshold_ul``, ``sed_type_init = "likelihood"``.

Dims: ``energy`` (coords ``energy``, ``energy_min``, ``energy_max`` as in :mod:`xgamma.axes`),
optionally ``time`` (coords ``time``, ``time_min``, ``time_max`` as ``datetime64[ns]`` in UTC,
see :func:`time_axis`; before this release they were float seconds since ``attrs["mjdref"]``,
which :func:`time_mjd` still reads) and/or sky dims (``y``, ``x``). :func:`to_sed_type`
converts to ``dnde``, ``e2dnde``, ``flux`` or ``eflux`` with units; :func:`write_zarr` /
:func:`read_zarr` store the Dataset. Plots: :func:`plot_sed`, :func:`plot_light_curve`,
:func:`plot_stat_scan` (matplotlib is imported inside them).

Examples
--------
>>> import numpy as np, xgamma as xg
>>> from xgamma.models import spectral_model
>>> e = xg.energy_axis(1, 10, 2)
>>> r = estimator_result({"norm": [1.0, 0.5], "norm_err": [0.1, 0.2], "ts": [100.0, 9.0]},
...                      e, spectral_model("pl", index=2, amplitude=1e-12))
>>> sed = to_sed_type(r, "dnde")
>>> round(float(sed.dnde[0] / 1e-12 * float(e[0]) ** 2), 6), sed.dnde.attrs["units"]
(1.0, 'cm-2 s-1 TeV-1')
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr

from xgamma.io.yaml import models_to_yaml, read_models
from xgamma.io.zarr import open_zarr, to_zarr
from xgamma.models.components import Models, SkyModel
from xgamma.models.spectral import SpectralModelBase

__all__ = [
    "SED_TYPES",
    "NORM_VARS",
    "reference_fluxes",
    "reference_models",
    "reference_spectral",
    "estimator_result",
    "time_axis",
    "time_mjd",
    "to_sed_type",
    "write_zarr",
    "read_zarr",
    "plot_sed",
    "plot_light_curve",
    "plot_stat_scan",
    "model_band",
]

#: SED type -> unit of its values.
SED_TYPES: dict[str, str] = {
    "dnde": "cm-2 s-1 TeV-1",
    "e2dnde": "TeV cm-2 s-1",
    "flux": "cm-2 s-1",
    "eflux": "TeV cm-2 s-1",
}

#: The norm-like variables that scale with the reference flux.
NORM_VARS = ("norm", "norm_err", "norm_errp", "norm_errn", "norm_ul")

_FLOAT_VARS = ("norm", "norm_err", "norm_errp", "norm_errn", "norm_ul", "ts", "sqrt_ts", "npred",
               "npred_excess", "counts", "stat", "stat_null")


def reference_spectral(reference: Any) -> SpectralModelBase:
    """The spectral model of a reference (spectral model, SkyModel, one-component Models).

    Examples
    --------
    >>> from xgamma.models import spectral_model
    >>> reference_spectral(spectral_model("pl")).type
    'PowerLawSpectralModel'
    """
    if isinstance(reference, SpectralModelBase):
        return reference
    if isinstance(reference, SkyModel):
        return reference.spectral
    if isinstance(reference, Models):
        sky = [c for c in reference if isinstance(c, SkyModel)]
        if len(sky) != 1:
            raise ValueError(f"reference Models must hold one SkyModel, got {list(reference.names)}")
        return sky[0].spectral
    raise TypeError(f"cannot use {type(reference).__name__} as a reference model")


def _reference_models(reference: Any) -> Models:
    if isinstance(reference, Models):
        return reference
    if isinstance(reference, SkyModel):
        return Models([reference])
    return Models([SkyModel("reference", reference_spectral(reference))])


def reference_fluxes(reference: Any, energy_min: Any, energy_max: Any, energy_ref: Any = None) -> dict[str, np.ndarray]:
    """Reference-model fluxes per energy bin: ``ref_dnde``, ``ref_e2dnde``, ``ref_flux``, ``ref_eflux``.

    ``dnde`` is evaluated at ``energy_ref`` (default: the log centre ``sqrt(e_min e_max)``) [TeV].

    Examples
    --------
    >>> from xgamma.models import spectral_model
    >>> r = reference_fluxes(spectral_model("pl", index=2, amplitude=1e-12), [1.0], [10.0])
    >>> round(float(r["ref_flux"][0]) * 1e12, 6), round(float(r["ref_e2dnde"][0]) * 1e12, 6)
    (0.9, 1.0)
    """
    spec = reference_spectral(reference)
    lo = np.atleast_1d(np.asarray(energy_min, float))
    hi = np.atleast_1d(np.asarray(energy_max, float))
    ref = np.sqrt(lo * hi) if energy_ref is None else np.atleast_1d(np.asarray(energy_ref, float))
    vals = list(spec.parameters.values)
    dnde = np.asarray(spec.evaluate_values(ref, vals), float)
    return {
        "ref_dnde": dnde,
        "ref_e2dnde": dnde * ref**2,
        "ref_flux": np.asarray(spec.integral_values(lo, hi, vals), float),
        "ref_eflux": np.asarray(spec.energy_flux_values(lo, hi, vals), float),
    }


def reference_models(result: xr.Dataset) -> Models:
    """The reference model of a result (parsed from ``attrs["reference_model"]``).

    Examples
    --------
    >>> import xgamma as xg
    >>> from xgamma.models import spectral_model
    >>> r = estimator_result({"norm": [1.0]}, xg.energy_axis(1, 10, 1), spectral_model("pl", index=2.2))
    >>> reference_models(r)[0].spectral.parameters["index"].value
    2.2
    """

    return read_models(str(result.attrs["reference_model"]))


def time_mjd(result: xr.Dataset | xr.DataArray, which: str = "time") -> np.ndarray:
    """``time``, ``time_min`` or ``time_max`` of a result as MJD floats (TT).

    Reads ``datetime64`` coords (UTC, :func:`time_axis`) and, for results written before
    they were times, float seconds since ``attrs["mjdref"]``.

    Examples
    --------
    >>> t = time_axis([55000.0, 55000.5], [55000.5, 55001.0])
    >>> [round(v, 9) for v in time_mjd(t, "time_max").tolist()]
    [55000.5, 55001.0]
    """
    v = np.asarray(result[which].values)
    if np.issubdtype(v.dtype, np.datetime64):
        return _datetime64_to_mjd(v, str(result[which].attrs.get("scale", "utc")))
    mjdref = float(result.attrs.get("mjdref", result["time"].attrs.get("mjdref", 0.0)))
    return mjdref + np.asarray(v, float) / 86400.0


def _datetime64_to_mjd(v: np.ndarray, scale: str = "utc") -> np.ndarray:
    from astropy.time import Time

    if v.size == 0:
        return np.zeros(v.shape)
    return np.asarray(Time(v.astype("datetime64[ns]"), format="datetime64", scale=scale).tt.mjd, float)


def to_mjd(t: Any) -> np.ndarray:
    """Times as MJD floats (TT): astropy ``Time``, ``datetime64`` values, ISO strings and pandas
    timestamps read as UTC; numbers are MJD already.

    Examples
    --------
    >>> import numpy as np
    >>> round(float(to_mjd(np.datetime64("2006-07-29T20:30"))[0]), 6)
    53945.854921
    """
    from astropy.time import Time

    if isinstance(t, Time):
        return np.atleast_1d(np.asarray(t.tt.mjd, float))
    if isinstance(t, (list, tuple)) and t and isinstance(t[0], Time):
        return np.array([float(x.tt.mjd) for x in t])
    if isinstance(t, xr.DataArray):
        t = t.values
    arr = np.atleast_1d(np.asarray(t))
    if np.issubdtype(arr.dtype, np.datetime64):
        return _datetime64_to_mjd(arr)
    if arr.dtype.kind in "OUS":
        if arr.dtype.kind == "O" and all(isinstance(x, int | float | np.number) for x in arr.ravel()):
            return arr.astype(float)
        return np.asarray(Time(list(arr.ravel()), scale="utc").tt.mjd, float).reshape(arr.shape)
    return np.asarray(arr, float)


def time_axis(time_min: Any, time_max: Any, mjdref: float | None = None) -> xr.DataArray:
    """A ``time`` axis from bin starts and stops (astropy ``Time``, ``datetime64`` or MJD floats,
    TT).

    The coords ``time`` (bin centre), ``time_min`` and ``time_max`` are ``datetime64[ns]`` in
    UTC rounded to the millisecond (attrs ``scale = "utc"``; ``interp = "lin"`` on ``time``), so that
    ``.sel(time="2006-07-29T21:00", method="nearest")`` and ``.resample(time="1h")`` work and
    plots show dates; :func:`time_mjd` gives MJD (TT) back. On disk (zarr, netCDF) xarray
    CF-encodes them (``units: "nanoseconds since ..."``). The argument ``mjdref`` is accepted
    for backwards compatibility and ignored (the axis used to be seconds since ``mjdref``); the
    attr ``mjdref`` (MJD of the first day) stays for readers of that form.

    Examples
    --------
    >>> t = time_axis([53945.0, 53946.0], [53945.5, 53946.5])
    >>> str(t.values[0])[:19], t.attrs["scale"]
    ('2006-07-29T05:58:54', 'utc')
    """
    from astropy.time import Time

    t0, t1 = to_mjd(time_min), to_mjd(time_max)
    if t0.shape != t1.shape or t0.ndim != 1:
        raise ValueError("time_min and time_max must be 1D with the same length")
    if np.any(t1 <= t0):
        raise ValueError("time bins must have time_max > time_min")

    def utc(mjd: np.ndarray) -> np.ndarray:
        if mjd.size == 0:
            return np.array([], dtype="datetime64[ns]")
        ns = np.asarray(Time(mjd, format="mjd", scale="tt").utc.datetime64, dtype="datetime64[ns]")
        # MJD floats carry ~1 us: round to the millisecond so that 20:30 stays 20:30:00.000
        return ((ns.astype(np.int64) + 500_000) // 1_000_000 * 1_000_000).astype("datetime64[ns]")

    lo, hi, c = utc(t0), utc(t1), utc(0.5 * (t0 + t1))
    # mjdref: kept for readers of the former float-second axis (the MJD, TT, of the first day)
    ref = float(np.floor(t0.min())) if t0.size else 0.0
    at = {"scale": "utc", "interp": "lin", "long_name": "time (UTC)", "mjdref": ref}
    return xr.DataArray(c, dims="time", name="time", attrs=dict(at), coords={
        "time": xr.Variable("time", c, attrs=dict(at)),
        "time_min": xr.Variable("time", lo, attrs={"scale": "utc"}),
        "time_max": xr.Variable("time", hi, attrs={"scale": "utc"}),
    })


def estimator_result(data: Mapping[str, Any], energy: xr.DataArray, reference: Any, *,
                     dims: Sequence[str] = ("energy",), coords: Mapping[str, Any] | None = None,
                     norm_scan: Any = None, n_sigma: float = 1.0, n_sigma_ul: float = 2.0,
                     sqrt_ts_threshold_ul: float = 2.0, attrs: Mapping[str, Any] | None = None) -> xr.Dataset:
    """Assemble an estimator result (see the module docstring).

    Parameters
    ----------
    data : mapping
        Variable name -> array of shape given by ``dims`` (``stat_scan``: ``dims + ("norm_scan",)``).
        Missing ``sqrt_ts`` is derived from ``ts`` and ``norm``; missing ``is_ul`` from ``sqrt_ts``;
        missing ``success``/``valid`` default to True.
    energy : xarray.DataArray
        The energy axis of the bins (:func:`xgamma.energy_axis` or :func:`xgamma.axes.axis_from_edges`).
    reference : SpectralModel, SkyModel or Models
        The reference model (norm = 1).
    dims : sequence of str
        Dims of the variables; must contain ``"energy"``; e.g. ``("time", "energy")`` or
        ``("energy", "y", "x")``.
    coords : mapping, optional
        Extra coordinates (e.g. a :func:`time_axis`'s coords, sky coords).
    norm_scan : array-like, optional
        Norm values of ``stat_scan``.
    attrs : mapping, optional
        Extra attrs (e.g. ``mjdref``).

    Examples
    --------
    >>> import xgamma as xg
    >>> from xgamma.models import spectral_model
    >>> r = estimator_result({"norm": [1.0, 0.1], "ts": [25.0, 1.0], "norm_ul": [1.3, 0.5]},
    ...                      xg.energy_axis(1, 10, 2), spectral_model("pl"))
    >>> r.sqrt_ts.values.tolist(), r.is_ul.values.tolist()
    ([5.0, 1.0], [False, True])
    """
    dims = tuple(dims)
    if "energy" not in dims:
        raise ValueError(f"dims must contain 'energy', got {dims}")
    e_lo = np.asarray(energy.coords["energy_min"].values, float)
    e_hi = np.asarray(energy.coords["energy_max"].values, float)
    all_coords: dict[str, Any] = {k: energy.coords[k].variable for k in ("energy", "energy_min", "energy_max")}
    if coords:
        for k, v in coords.items():
            all_coords[str(k)] = v.variable if isinstance(v, xr.DataArray) else v
    variables: dict[str, Any] = {}
    shape: tuple[int, ...] | None = None
    for name, val in data.items():
        if val is None:
            continue
        arr = val.values if isinstance(val, xr.DataArray) else np.asarray(val)
        vd = dims + ("norm_scan",) if name == "stat_scan" else dims
        if arr.ndim != len(vd):
            raise ValueError(f"{name!r}: expected dims {vd}, got an array of shape {arr.shape}")
        if name in _FLOAT_VARS or name == "stat_scan":
            arr = arr.astype(float)
        variables[name] = (vd, arr, {"units": ""})
        if name != "stat_scan":
            shape = arr.shape
    if shape is None:
        raise ValueError("estimator_result: no variables given")
    if "stat_scan" in variables and norm_scan is None:
        raise ValueError("stat_scan needs norm_scan values")
    if "sqrt_ts" not in variables and "ts" in variables:
        ts = variables["ts"][1]
        sign = np.sign(variables["norm"][1]) if "norm" in variables else 1.0
        with np.errstate(invalid="ignore"):
            variables["sqrt_ts"] = (dims, sign * np.sqrt(np.clip(ts, 0, None)), {"units": ""})
    for flag in ("success", "valid"):
        if flag not in variables:
            variables[flag] = (dims, np.ones(shape, bool), {})
        else:
            variables[flag] = (dims, np.asarray(variables[flag][1]).astype(bool), {})
    if "is_ul" not in variables and "sqrt_ts" in variables and "norm_ul" in variables:
        sq = variables["sqrt_ts"][1]
        with np.errstate(invalid="ignore"):
            is_ul = np.asarray(sq < sqrt_ts_threshold_ul) & np.isfinite(sq)  # invalid bins are no limits
        variables["is_ul"] = (dims, is_ul, {})
    elif "is_ul" in variables:
        variables["is_ul"] = (dims, np.asarray(variables["is_ul"][1]).astype(bool), {})
    ref = reference_fluxes(reference, e_lo, e_hi)
    for k, v in ref.items():
        unit = SED_TYPES[k[4:]]
        variables[k] = (("energy",), v, {"units": unit})
    if norm_scan is not None:
        all_coords["norm_scan"] = xr.Variable("norm_scan", np.asarray(norm_scan, float), attrs={"units": ""})

    at: dict[str, Any] = {
        "sed_type_init": "likelihood",
        "n_sigma": float(n_sigma),
        "n_sigma_ul": float(n_sigma_ul),
        "sqrt_ts_threshold_ul": float(sqrt_ts_threshold_ul),
        "reference_model": models_to_yaml(_reference_models(reference)),
    }
    if "time" in dims and "time" in all_coords:
        tv = all_coords["time"]
        if isinstance(tv, xr.Variable) and "mjdref" in tv.attrs:
            at["mjdref"] = float(tv.attrs["mjdref"])
    at.update(attrs or {})
    return xr.Dataset(variables, coords=all_coords, attrs=at)


def to_sed_type(result: xr.Dataset, sed_type: str = "dnde") -> xr.Dataset:
    """Convert the norm variables to an SED type: ``<sed>``, ``<sed>_err``, ``_errp``, ``_errn``,
    ``_ul`` and ``<sed>_ref`` with ``units`` attrs; ``ts``, ``sqrt_ts``, ``is_ul``, ``success``,
    ``valid``, ``npred``, ``counts`` are kept.

    Examples
    --------
    >>> import xgamma as xg
    >>> from xgamma.models import spectral_model
    >>> r = estimator_result({"norm": [2.0], "norm_ul": [3.0]}, xg.energy_axis(1, 100, 1),
    ...                      spectral_model("pl", index=2, amplitude=1e-12))
    >>> s = to_sed_type(r, "e2dnde")
    >>> round(float(s.e2dnde[0]) * 1e12, 6), round(float(s.e2dnde_ul[0]) * 1e12, 6), s.e2dnde.attrs["units"]
    (2.0, 3.0, 'TeV cm-2 s-1')
    """
    if sed_type not in SED_TYPES:
        raise ValueError(f"sed_type must be one of {list(SED_TYPES)}, got {sed_type!r}")
    unit = SED_TYPES[sed_type]
    ref = result[f"ref_{sed_type}"]
    out = {}
    for v in NORM_VARS:
        if v in result:
            name = sed_type + v[4:]
            out[name] = (result[v] * ref).assign_attrs(units=unit).rename(name)
    out[f"{sed_type}_ref"] = ref.assign_attrs(units=unit)
    keep = [k for k in ("ts", "sqrt_ts", "is_ul", "success", "valid", "npred", "npred_excess", "counts")
            if k in result]
    ds = xr.Dataset(out).assign({k: result[k] for k in keep})
    return ds.assign_attrs({**result.attrs, "sed_type": sed_type})


# --------------------------------------------------------------------------------------------
# zarr


def write_zarr(result: xr.Dataset, store: Any, mode: Any = "w") -> None:
    """Write an estimator result to zarr (:func:`xgamma.io.zarr.to_zarr`).

    Examples
    --------
    >>> import os, tempfile, xgamma as xg
    >>> from xgamma.models import spectral_model
    >>> r = estimator_result({"norm": [1.0]}, xg.energy_axis(1, 10, 1), spectral_model("pl"))
    >>> p = os.path.join(tempfile.mkdtemp(), "sed.zarr")
    >>> write_zarr(r, p)
    >>> bool(read_zarr(p).equals(r))
    True
    """

    to_zarr(result, store, mode=mode)


def read_zarr(store: Any) -> xr.Dataset:
    """Read (eagerly) an estimator result written by :func:`write_zarr`.

    Examples
    --------
    >>> import os, tempfile, xgamma as xg
    >>> from xgamma.models import spectral_model
    >>> r = estimator_result({"norm": [1.0]}, xg.energy_axis(1, 10, 1), spectral_model("pl"))
    >>> p = os.path.join(tempfile.mkdtemp(), "sed.zarr")
    >>> write_zarr(r, p)
    >>> float(read_zarr(p).norm[0])
    1.0
    """

    ds = open_zarr(store)
    if not isinstance(ds, xr.Dataset):
        raise TypeError("the store holds a DataArray, not an estimator result")
    return ds.load()


# --------------------------------------------------------------------------------------------
# plots


def model_band(models: Any, energy: np.ndarray, sed_type: str = "e2dnde", n_samples: int = 500,
               seed: int = 0, source: str | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Model SED and its 1-sigma band at ``energy`` [TeV] from the models' covariance.

    Parameters are sampled from a multivariate normal with the covariance of ``models`` (a
    :class:`~xgamma.models.sky.Models`, e.g. the ``models`` of a fit result); the band is the
    16-84 % range of the sampled SEDs (zero width without a covariance).

    Returns ``(value, lo, hi)`` for ``sed_type`` ``dnde`` or ``e2dnde``.

    Examples
    --------
    >>> from xgamma.models import spectral_model
    >>> v, lo, hi = model_band(spectral_model("pl", index=2, amplitude=1e-12), np.array([1.0, 10.0]))
    >>> (v * 1e12).round(6).tolist(), bool(np.all(lo == v))
    ([1.0, 1.0], True)
    """
    if sed_type not in ("dnde", "e2dnde"):
        raise ValueError("model_band: sed_type must be 'dnde' or 'e2dnde'")
    ms = _reference_models(models) if not isinstance(models, Models) else models
    sky = [c for c in ms if isinstance(c, SkyModel) and (source is None or c.name == source)]
    if not sky:
        raise ValueError("model_band: no sky model found")
    comp = sky[0]
    spec = comp.spectral
    e = np.asarray(energy, float)
    factor = e**2 if sed_type == "e2dnde" else np.ones_like(e)
    base = np.asarray(spec.parameters.values, float)
    value = np.asarray(spec.evaluate_values(e, list(base)), float) * factor
    names = [f"{comp.name}.spectral.{n}" for n in spec.parameters.names]
    cov = ms.covariance_matrix(names) if isinstance(models, Models) else np.zeros((len(names), len(names)))
    free = np.flatnonzero(np.diag(cov) > 0)
    if free.size == 0:
        return value, value.copy(), value.copy()
    rng = np.random.default_rng(seed)
    sub = cov[np.ix_(free, free)]
    draws = rng.multivariate_normal(base[free], sub, size=n_samples, check_valid="ignore")
    seds = np.empty((n_samples, e.size))
    for k in range(n_samples):
        v = base.copy()
        v[free] = draws[k]
        seds[k] = np.asarray(spec.evaluate_values(e, list(v)), float) * factor
    lo, hi = np.percentile(seds, [15.865, 84.135], axis=0)
    return value, lo, hi


def _ax(ax: Any) -> Any:
    if ax is None:
        import matplotlib.pyplot as plt

        ax = plt.gca()
    return ax


def plot_sed(result: xr.Dataset, sed_type: str = "e2dnde", model: Any = None, ax: Any = None,
             energy_power: int | None = None, band: bool = True, **kwargs: Any) -> Any:
    """Plot flux points: error bars (asymmetric if available), upper limits as arrows, and a
    model curve with its 1-sigma band (from the model's covariance).

    ``result`` must have only the ``energy`` dim (select a time/pixel first). ``kwargs`` go to
    ``ax.errorbar``.

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> import xgamma as xg
    >>> from xgamma.models import spectral_model
    >>> m = spectral_model("pl", index=2, amplitude=1e-12)
    >>> r = estimator_result({"norm": [1.0, 0.2], "norm_err": [0.1, 0.2], "ts": [50.0, 1.0],
    ...                       "norm_ul": [1.2, 0.6]}, xg.energy_axis(1, 100, 2), m)
    >>> ax = plot_sed(r, model=m)
    >>> ax.get_xscale(), ax.get_yscale()
    ('log', 'log')
    """
    ax = _ax(ax)
    extra = [d for d in result.dims if d not in ("energy", "norm_scan")]
    if extra:
        raise ValueError(f"plot_sed: select a single bin along {extra} first")
    sed = to_sed_type(result, sed_type)
    e = np.asarray(result["energy"].values, float)
    xerr = np.array([e - result["energy_min"].values, result["energy_max"].values - e])
    y = np.asarray(sed[sed_type].values, float)
    if f"{sed_type}_errn" in sed and np.isfinite(sed[f"{sed_type}_errn"].values).any():
        yerr = np.array([sed[f"{sed_type}_errn"].values, sed[f"{sed_type}_errp"].values], float)
    elif f"{sed_type}_err" in sed:
        err = np.asarray(sed[f"{sed_type}_err"].values, float)
        yerr = np.array([err, err])
    else:
        yerr = None
    is_ul = np.asarray(sed["is_ul"].values, bool) if "is_ul" in sed else np.zeros(e.size, bool)
    ok = np.asarray(sed["valid"].values, bool) if "valid" in sed else np.ones(e.size, bool)
    pts = ok & ~is_ul
    kw = {"fmt": "o", "color": "k", "label": "flux points", **kwargs}
    ax.errorbar(e[pts], y[pts], xerr=xerr[:, pts], yerr=None if yerr is None else yerr[:, pts], **kw)
    uls = ok & is_ul
    if uls.any() and f"{sed_type}_ul" in sed:
        yul = np.asarray(sed[f"{sed_type}_ul"].values, float)[uls]
        ax.errorbar(e[uls], yul, xerr=xerr[:, uls], yerr=0.4 * yul, uplims=True, fmt="none",
                    color=kw.get("color", "k"))
    if model is not None:
        grid = np.geomspace(float(result["energy_min"].min()), float(result["energy_max"].max()), 100)
        if sed_type in ("dnde", "e2dnde"):
            val, lo, hi = model_band(model, grid, sed_type)
            ax.plot(grid, val, color="C0", label="model")
            if band:
                ax.fill_between(grid, lo, hi, color="C0", alpha=0.3, lw=0)
        else:
            spec = reference_spectral(model)
            v = list(spec.parameters.values)
            lo_e, hi_e = result["energy_min"].values, result["energy_max"].values
            mv = spec.integral_values(lo_e, hi_e, v) if sed_type == "flux" else spec.energy_flux_values(lo_e, hi_e, v)
            ax.hlines(mv, lo_e, hi_e, color="C0", label="model")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("energy [TeV]")
    ax.set_ylabel(f"{sed_type} [{SED_TYPES[sed_type]}]")
    return ax


def plot_light_curve(result: xr.Dataset, sed_type: str = "flux", energy_index: int = 0, ax: Any = None,
                     **kwargs: Any) -> Any:
    """Plot a light curve (dims ``time`` and ``energy``) on a UTC date axis: points with
    their bin widths and errors, upper limits (``is_ul``) as downward arrows at ``<sed_type>_ul``.

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> import xgamma as xg
    >>> from xgamma.models import spectral_model
    >>> t = time_axis([55000.0, 55000.1], [55000.1, 55000.2])
    >>> r = estimator_result({"norm": [[1.0], [0.8]], "norm_err": [[0.1], [0.1]], "ts": [[40.0], [30.0]]},
    ...                      xg.energy_axis(1, 10, 1), spectral_model("pl"), dims=("time", "energy"),
    ...                      coords=t.coords)
    >>> plot_light_curve(r).get_xlabel()
    'time [UTC]'
    """
    import matplotlib.dates as mdates

    ax = _ax(ax)
    r = result.isel(energy=energy_index) if "energy" in result.dims else result
    sed = to_sed_type(r, sed_type)
    # matplotlib date numbers (days) from the UTC dates; older float-second results via MJD
    if np.issubdtype(np.asarray(r["time_min"].values).dtype, np.datetime64):
        lo, hi = (mdates.date2num(np.asarray(r[k].values, "datetime64[ns]")) for k in ("time_min", "time_max"))
    else:
        from astropy.time import Time

        lo, hi = (mdates.date2num(Time(time_mjd(r, k), format="mjd", scale="tt").utc.datetime64)
                  for k in ("time_min", "time_max"))
    t = 0.5 * (np.asarray(lo, float) + np.asarray(hi, float))
    terr = np.array([t - lo, hi - t])
    y = np.asarray(sed[sed_type].values, float)
    if f"{sed_type}_errn" in sed and np.isfinite(sed[f"{sed_type}_errn"].values).any():
        yerr = np.array([sed[f"{sed_type}_errn"].values, sed[f"{sed_type}_errp"].values], float)
    else:
        err = np.asarray(sed[f"{sed_type}_err"].values, float) if f"{sed_type}_err" in sed else np.zeros_like(y)
        yerr = np.array([err, err])
    is_ul = np.asarray(sed["is_ul"].values, bool) if "is_ul" in sed else np.zeros(y.size, bool)
    ok = np.asarray(sed["valid"].values, bool) if "valid" in sed else np.ones(y.size, bool)
    pts = ok & ~is_ul
    e_lo, e_hi = float(r["energy_min"]), float(r["energy_max"])
    kw = {"fmt": "o", "label": f"{e_lo:.3g}-{e_hi:.3g} TeV", **kwargs}
    line = ax.errorbar(t[pts], y[pts], xerr=terr[:, pts], yerr=yerr[:, pts], **kw)
    uls = ok & is_ul
    if uls.any() and f"{sed_type}_ul" in sed:
        yul = np.asarray(sed[f"{sed_type}_ul"].values, float)[uls]
        color = line.lines[0].get_color() if hasattr(line, "lines") else None
        ax.errorbar(t[uls], yul, xerr=terr[:, uls], yerr=0.2 * np.abs(yul), uplims=True, fmt="none", color=color)
    locator = mdates.AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.set_xlabel("time [UTC]")
    ax.set_ylabel(f"{sed_type} [{SED_TYPES[sed_type]}]")
    return ax


def plot_stat_scan(result: xr.Dataset, sed_type: str = "e2dnde", ax: Any = None, add_cbar: bool = True,
                   vmax: float = 25.0, **kwargs: Any) -> Any:
    """Likelihood-profile SED: ``stat_scan - stat`` (delta TS) per energy bin as a colour map
    over the SED values ``norm_scan * ref_<sed_type>``.

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> import xgamma as xg
    >>> from xgamma.models import spectral_model
    >>> scan = np.linspace(0.2, 5, 9)
    >>> r = estimator_result({"norm": [1.0], "stat": [0.0], "stat_scan": [(scan - 1) ** 2]},
    ...                      xg.energy_axis(1, 10, 1), spectral_model("pl"), norm_scan=scan)
    >>> plot_stat_scan(r).get_yscale()
    'log'
    """
    ax = _ax(ax)
    extra = [d for d in result.dims if d not in ("energy", "norm_scan")]
    if extra:
        raise ValueError(f"plot_stat_scan: select a single bin along {extra} first")
    scan = np.asarray(result["norm_scan"].values, float)
    ref = np.asarray(result[f"ref_{sed_type}"].values, float)
    dstat = np.asarray((result["stat_scan"] - result["stat"]).transpose("energy", "norm_scan").values, float)
    pos = scan > 0
    scan, dstat = scan[pos], dstat[:, pos]
    s_edges = np.sqrt(scan[1:] * scan[:-1])
    s_edges = np.concatenate([[scan[0] ** 2 / s_edges[0]], s_edges, [scan[-1] ** 2 / s_edges[-1]]])
    mesh = None
    kw = {"cmap": "viridis_r", "vmin": 0.0, "vmax": vmax, "shading": "flat", **kwargs}
    for i in range(ref.size):
        x = [float(result["energy_min"][i]), float(result["energy_max"][i])]
        y = s_edges * ref[i]
        mesh = ax.pcolormesh(x, y, dstat[i][:, None], **kw)
    if add_cbar and mesh is not None:
        import matplotlib.pyplot as plt

        plt.colorbar(mesh, ax=ax, label="delta TS")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("energy [TeV]")
    ax.set_ylabel(f"{sed_type} [{SED_TYPES[sed_type]}]")
    return ax
