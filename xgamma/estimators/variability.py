"""Variability of light curves: fractional variance, point-to-point variance, doubling time and
the chi2 test of a constant flux.

Every function takes a light-curve Dataset (:func:`xgamma.estimators.light_curve.light_curve`:
dims ``time`` and ``energy``, the likelihood SED variables ``norm``/``norm_err``, or already a
``flux``/``flux_err`` pair) and returns a Dataset without the ``time`` dim, one value per energy
band (and per any other dim). The flux and its error are those of ``sed_type`` (``"flux"`` by
default; the statistics below are the same for any SED type, which scale all points alike, except
the doubling time, which is scale-free anyway). Time bins that are not ``valid``
or whose flux or error is not finite are left out; upper limits are kept (their best-fit flux and
error still measure the flux) unless ``exclude_ul=True``.

With :math:`x_i \\pm \\sigma_i` for the :math:`N` points, :math:`\\bar x` their mean,
:math:`S^2` their sample variance and :math:`\\overline{\\sigma^2}` the mean squared error:

* normalised excess variance :math:`\\sigma^2_{NXS} = (S^2 - \\overline{\\sigma^2}) / \\bar x^2`
  and fractional variance :math:`F_{var} = \\sqrt{\\sigma^2_{NXS}}` (NaN when the excess is
  negative), errors of Vaughan et al. (2003, MNRAS 345, 1271, eqs. 11 and B2);
* point-to-point fractional variance (Edelson et al. 2002, ApJ 568, 610):
  :math:`F_{pp}^2 = (\\sum (x_{i+1} - x_i)^2 / (2 (N - 1)) - \\overline{\\sigma^2}) / \\bar x^2`,
  sensitive to variability on the shortest time scales;
* doubling time: the shortest :math:`|\\Delta t \\ln 2 / \\ln(x_{i+1} / x_i)|` over consecutive
  points (time between bin centres), with its error from the two fluxes' errors, the time of that
  pair and whether the flux rose or fell there (a halving time);
* chi2 of the points against their error-weighted mean, ``ndf = N - 1``, its p-value.

Examples
--------
>>> import numpy as np, xgamma as xg
>>> from xgamma.estimators.core import estimator_result, time_axis
>>> from xgamma.models import spectral_model
>>> t = np.arange(5.0) / 24 + 53945.0
>>> flux = [[1.0], [1.0], [1.0], [1.0], [1.0]]
>>> lc = estimator_result({"norm": flux, "norm_err": [[0.1]] * 5}, xg.energy_axis(1, 10, 1),
...                       spectral_model("pl"), dims=("time", "energy"),
...                       coords=time_axis(t, t + 1 / 24).coords)
>>> res = chi2_constancy(lc)
>>> float(res.chi2[0]), int(res.ndf[0]), float(res.pvalue[0])
(0.0, 4, 1.0)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr
from scipy import stats

from xgamma.estimators.core import time_mjd, to_sed_type

__all__ = ["fractional_variance", "point_to_point_variance", "doubling_time", "chi2_constancy",
           "flux_and_error"]


def flux_and_error(lc: xr.Dataset, sed_type: str = "flux", exclude_ul: bool = False
                   ) -> tuple[xr.DataArray, xr.DataArray]:
    """The points used by the variability functions: ``sed_type`` and its symmetric error (the
    Hesse error ``<sed_type>_err``, else the mean of ``errp`` and ``errn``), NaN where the bin is
    not valid (or an upper limit with ``exclude_ul``).

    Examples
    --------
    >>> import xarray as xr
    >>> lc = xr.Dataset({"flux": ("time", [1.0, 2.0]), "flux_err": ("time", [0.1, 0.2]),
    ...                  "valid": ("time", [True, False])})
    >>> x, e = flux_and_error(lc)
    >>> x.values.tolist()
    [1.0, nan]
    """
    if "time" not in lc.dims:
        raise ValueError("variability: the light curve needs a 'time' dim")
    ds = lc if sed_type in lc.data_vars else to_sed_type(lc, sed_type)
    if sed_type not in ds:
        raise ValueError(f"variability: no {sed_type!r} in the light curve (variables: "
                         f"{sorted(map(str, ds.data_vars))})")
    x = ds[sed_type].astype(float)
    if f"{sed_type}_err" in ds:
        err = ds[f"{sed_type}_err"].astype(float)
    elif f"{sed_type}_errp" in ds and f"{sed_type}_errn" in ds:
        err = 0.5 * (ds[f"{sed_type}_errp"] + ds[f"{sed_type}_errn"])
    else:
        raise ValueError(f"variability: no error of {sed_type!r} ({sed_type}_err or _errp/_errn)")
    ok = np.isfinite(x) & np.isfinite(err) & (err > 0)
    if "valid" in lc:
        ok = ok & lc["valid"].astype(bool)
    if exclude_ul and "is_ul" in lc:
        ok = ok & ~lc["is_ul"].astype(bool)
    return x.where(ok), err.where(ok)


def _excess(x: xr.DataArray, err: xr.DataArray, s2: xr.DataArray, n_eff: xr.DataArray,
            prefix: str) -> xr.Dataset:
    n = x.count("time")
    mean = x.mean("time")
    mse = (err**2).mean("time")
    nxs = (s2 - mse) / mean**2
    with np.errstate(invalid="ignore", divide="ignore"):
        fvar: xr.DataArray = np.sqrt(nxs.where(nxs > 0))  # type: ignore[assignment]
        # Vaughan et al. (2003) eq. 11 (err of nxs) and eq. B2 (err of Fvar)
        nxs_err: xr.DataArray = np.sqrt((np.sqrt(2.0 / n_eff) * mse / mean**2) ** 2
                          + (np.sqrt(mse / n_eff) * 2 * np.sqrt(np.abs(nxs)) / mean) ** 2)  # type: ignore[assignment]
        fvar_err: xr.DataArray = np.sqrt((np.sqrt(1.0 / (2 * n_eff)) * mse / (mean**2 * fvar)) ** 2
                           + (np.sqrt(mse / n_eff) / mean) ** 2)  # type: ignore[assignment]
    return xr.Dataset({
        prefix: fvar.assign_attrs(units="", long_name=f"{prefix} (NaN when the excess variance is negative)"),
        f"{prefix}_err": fvar_err.assign_attrs(units=""),
        f"{prefix}_nxs": nxs.assign_attrs(units="", long_name="normalised excess variance"),
        f"{prefix}_nxs_err": nxs_err.assign_attrs(units=""),
        "n_points": n.assign_attrs(units=""),
    })


def fractional_variance(lc: xr.Dataset, sed_type: str = "flux", exclude_ul: bool = False) -> xr.Dataset:
    """Fractional variance ``fvar`` (with ``fvar_err``) and normalised excess variance
    ``fvar_nxs`` (with ``fvar_nxs_err``; it may be negative, ``fvar`` is then NaN).

    Examples
    --------
    >>> import xarray as xr
    >>> lc = xr.Dataset({"flux": ("time", [1.0, 3.0, 1.0, 3.0]), "flux_err": ("time", [0.1] * 4)})
    >>> r = fractional_variance(lc)
    >>> round(float(r.fvar), 4)  # sqrt((4/3 - 0.01) / 4)
    0.5752
    """
    x, err = flux_and_error(lc, sed_type, exclude_ul)
    n = x.count("time")
    s2 = x.var("time", ddof=1)
    return _excess(x, err, s2, n.astype(float), "fvar")


def point_to_point_variance(lc: xr.Dataset, sed_type: str = "flux", exclude_ul: bool = False) -> xr.Dataset:
    """Point-to-point fractional variance ``fpp`` (with ``fpp_err``, and ``fpp_nxs``): the
    excess of the squared differences of consecutive points (valid points, in time order) over
    the measurement errors. Errors as for :func:`fractional_variance` with ``N - 1`` pairs.

    Examples
    --------
    >>> import xarray as xr
    >>> lc = xr.Dataset({"flux": ("time", [1.0, 3.0, 1.0, 3.0]), "flux_err": ("time", [0.1] * 4)})
    >>> round(float(point_to_point_variance(lc).fpp), 4)  # sqrt((12/6 - 0.01) / 4)
    0.7053
    """
    x, err = flux_and_error(lc, sed_type, exclude_ul)

    def s2pp(v: np.ndarray) -> float:
        v = v[np.isfinite(v)]
        return float(np.sum(np.diff(v) ** 2) / (2 * (v.size - 1))) if v.size > 1 else np.nan

    s2 = xr.apply_ufunc(s2pp, x, input_core_dims=[["time"]], vectorize=True, dask="parallelized",
                        output_dtypes=[float])
    n_pairs = (x.count("time") - 1).astype(float)
    return _excess(x, err, s2, n_pairs, "fpp")


def doubling_time(lc: xr.Dataset, sed_type: str = "flux", exclude_ul: bool = False) -> xr.Dataset:
    """The shortest flux doubling (or halving) time between consecutive valid points.

    Returns ``doubling_time`` [s] (positive), ``doubling_time_err`` [s], ``doubling_time_coord``
    (the UTC time midway between the two bin centres) and ``doubling_rising`` (True: the flux
    doubles; False: it halves).

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> t = np.datetime64("2006-07-29T21:00") + np.arange(4) * np.timedelta64(10, "m")
    >>> tau = 1800.0  # e-folding time [s]: F doubles every tau * ln 2 = 1247.7 s
    >>> f = np.exp((t - t[0]) / np.timedelta64(1, "s") / tau)
    >>> lc = xr.Dataset({"flux": ("time", f), "flux_err": ("time", 0.01 * f)}, coords={"time": t})
    >>> round(float(doubling_time(lc).doubling_time), 1)
    1247.7
    """
    x, err = flux_and_error(lc, sed_type, exclude_ul)
    tsec = _time_seconds(lc)

    def one(v: np.ndarray, e: np.ndarray, t: np.ndarray) -> tuple[float, float, float, bool]:
        ok = np.isfinite(v) & (v > 0)
        v, e, t = v[ok], e[ok], t[ok]
        if v.size < 2:
            return np.nan, np.nan, np.nan, False
        ratio = np.log(v[1:] / v[:-1])
        dt = np.diff(t)
        with np.errstate(divide="ignore", invalid="ignore"):
            tau = np.abs(dt * np.log(2.0) / ratio)
            rel = np.sqrt((e[1:] / v[1:]) ** 2 + (e[:-1] / v[:-1]) ** 2) / np.abs(ratio)
        tau = np.where(np.isfinite(tau), tau, np.inf)
        i = int(np.argmin(tau))
        if not np.isfinite(tau[i]):
            return np.nan, np.nan, np.nan, False
        return float(tau[i]), float(tau[i] * rel[i]), float(0.5 * (t[i] + t[i + 1])), bool(ratio[i] > 0)

    t_da = xr.DataArray(tsec, dims="time")
    tau, tau_err, t_mid, rising = xr.apply_ufunc(
        one, x, err, t_da, input_core_dims=[["time"]] * 3, output_core_dims=[[], [], [], []],
        vectorize=True, dask="parallelized", output_dtypes=[float, float, float, bool])
    coord = _time_origin(lc) + (t_mid * 1e9).round().astype("timedelta64[ns]")  # NaN -> NaT
    return xr.Dataset({
        "doubling_time": tau.assign_attrs(units="s"),
        "doubling_time_err": tau_err.assign_attrs(units="s"),
        "doubling_time_coord": coord.assign_attrs(scale="utc"),
        "doubling_rising": rising,
    })


def chi2_constancy(lc: xr.Dataset, sed_type: str = "flux", exclude_ul: bool = False) -> xr.Dataset:
    """Chi2 of the points against the error-weighted mean flux: ``chi2``, ``ndf`` (N - 1),
    ``pvalue`` (chi2 survival function), ``mean`` and ``mean_err``.

    Examples
    --------
    >>> import xarray as xr
    >>> lc = xr.Dataset({"flux": ("time", [1.0, 1.2, 0.8]), "flux_err": ("time", [0.1] * 3)})
    >>> r = chi2_constancy(lc)
    >>> float(r.chi2), int(r.ndf), round(float(r.pvalue), 5)
    (8.0, 2, 0.01832)
    """
    x, err = flux_and_error(lc, sed_type, exclude_ul)
    w = 1.0 / err**2
    mean = (w * x).sum("time") / w.sum("time")
    chi2 = (((x - mean) / err) ** 2).sum("time")
    ndf = x.count("time") - 1
    pvalue = xr.apply_ufunc(stats.chi2.sf, chi2, ndf.where(ndf > 0), dask="parallelized",
                            output_dtypes=[float])
    unit = str(x.attrs.get("units", ""))
    return xr.Dataset({
        "chi2": chi2.assign_attrs(units=""),
        "ndf": ndf.assign_attrs(units=""),
        "pvalue": pvalue.assign_attrs(units=""),
        "mean": mean.assign_attrs(units=unit),
        "mean_err": (w.sum("time") ** -0.5).assign_attrs(units=unit),
    })


def _time_origin(lc: xr.Dataset) -> Any:
    t = np.asarray(lc["time"].values)
    if np.issubdtype(t.dtype, np.datetime64):
        return t.astype("datetime64[ns]")[0]
    from astropy.time import Time

    return np.datetime64(Time(float(time_mjd(lc, "time")[0]), format="mjd", scale="tt").utc.datetime64, "ns")


def _time_seconds(lc: xr.Dataset) -> np.ndarray:
    """Bin centres in seconds since the first one."""
    t = np.asarray(lc["time"].values)
    if np.issubdtype(t.dtype, np.datetime64):
        t = t.astype("datetime64[ns]")
        return (t - t[0]) / np.timedelta64(1, "s")
    if "time_min" in lc.coords or "mjdref" in lc.attrs:
        m = time_mjd(lc, "time")
        return (m - m[0]) * 86400.0
    return np.asarray(t, float) - float(t[0])
