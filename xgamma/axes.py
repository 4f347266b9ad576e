"""Binned axes: one-dimensional ``xarray.DataArray`` objects that keep their bin edges.

An axis is a DataArray along one dim (``energy``, ``energy_true``, ``offset``, ``migra``,
``rad``, ``time``, ...). Its values and its dimension coordinate are the bin centres
(log-centres for ``interp="log"``), and two more coordinates along the same dim,
``<dim>_min`` and ``<dim>_max``, hold the bin edges. ``attrs`` carry ``units`` (an
astropy unit string) and ``interp`` (``"log"`` or ``"lin"``).

Because the edges are coordinates, they travel with every map, IRF or dataset that uses the
axis: ``sel``, ``isel``, ``concat`` and zarr round-trips keep them.

Examples
--------
>>> import xgamma as xg
>>> e = xg.energy_axis(0.1, 100, nbins=3, unit="TeV")
>>> xg.axes.edges(e)
array([  0.1,   1. ,  10. , 100. ])
>>> float(e[0])
0.31622776601683794
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

import astropy.units as u
import numpy as np
import xarray as xr

from xgamma.errors import ConventionError

__all__ = [
    "axis_from_edges",
    "energy_axis",
    "linear_axis",
    "log_axis",
    "edges",
    "widths",
    "centers",
    "axis_of",
    "binned_dims",
    "interp_axis",
    "coords_from_axis",
    "is_binned",
]


def _to_value(x: Any, unit: str | None) -> np.ndarray:
    """Convert a number, array or Quantity (or a string such as ``"1 TeV"``) to ``unit``."""
    if isinstance(x, str):
        x = u.Quantity(x)
    if isinstance(x, u.Quantity):
        if unit is None:
            raise ConventionError(f"a unit is needed to interpret {x!r}")
        return np.asarray(x.to_value(unit), dtype=float)
    return np.asarray(x, dtype=float)


def axis_from_edges(
    edges: Any,
    name: str,
    unit: str | u.UnitBase = "",
    interp: str = "log",
    attrs: Mapping[str, Any] | None = None,
) -> xr.DataArray:
    """Build an axis from its bin edges.

    Parameters
    ----------
    edges : array-like or `~astropy.units.Quantity`
        Monotonically increasing bin edges, ``nbins + 1`` values.
    name : str
        Dimension name, e.g. ``"energy"``.
    unit : str
        Unit of the edges (ignored if ``edges`` is a Quantity, which is converted to its own
        unit unless a unit is also given).
    interp : {"log", "lin"}
        Log axes use the geometric mean as centre.

    Returns
    -------
    xarray.DataArray
        The axis (values = centres).

    Examples
    --------
    >>> ax = axis_from_edges([0, 1, 3], "offset", unit="deg", interp="lin")
    >>> ax.values
    array([0.5, 2. ])
    >>> ax.offset_max.values
    array([1., 3.])
    """
    if interp not in ("log", "lin"):
        raise ConventionError(f"axis {name!r}: interp must be 'log' or 'lin', got {interp!r}")
    if isinstance(edges, u.Quantity):
        unit = unit or edges.unit
        e = edges.to_value(unit)
    else:
        e = np.asarray(edges, dtype=float)
    unit_str = u.Unit(unit).to_string() if unit != "" else ""
    e = np.asarray(e, dtype=float)
    if e.ndim != 1 or e.size < 2:
        raise ConventionError(f"axis {name!r}: need at least 2 edges in a 1D array, got shape {e.shape}")
    if not np.all(np.diff(e) > 0):
        raise ConventionError(f"axis {name!r}: edges must be strictly increasing")
    lo, hi = e[:-1], e[1:]
    if interp == "log":
        if np.any(lo <= 0):
            raise ConventionError(f"axis {name!r}: log axis needs positive edges")
        c = np.sqrt(lo * hi)
    else:
        c = 0.5 * (lo + hi)
    at = {"units": unit_str, "interp": interp}
    if attrs:
        at.update(attrs)
    return xr.DataArray(c, dims=(name,), coords=axis_variables(c, lo, hi, name, at), name=name,
                        attrs=at)


def axis_variables(c: np.ndarray, lo: np.ndarray, hi: np.ndarray, name: str,
                    attrs: Mapping[str, Any]) -> dict[str, xr.Variable]:
    """The coordinate variables of an axis (centres ``c``, edges ``lo``/``hi``), without
    building the axis DataArray (cheap: for code that only needs the coordinates)."""
    coord_attrs = {"units": attrs.get("units", "")}
    return {
        name: xr.Variable((name,), c, attrs=dict(attrs)),
        f"{name}_min": xr.Variable((name,), lo, attrs=dict(coord_attrs)),
        f"{name}_max": xr.Variable((name,), hi, attrs=dict(coord_attrs)),
    }


def log_axis(
    vmin: Any, vmax: Any, nbins: int | None = None, *, unit: str = "", name: str = "energy",
    per_decade: bool = False,
) -> xr.DataArray:
    """Logarithmically spaced axis from ``vmin`` to ``vmax``.

    With ``per_decade=True``, ``nbins`` is the number of bins per decade (rounded up to
    cover the range exactly).

    Examples
    --------
    >>> log_axis(1, 100, nbins=2, unit="TeV").energy_max.values
    array([ 10., 100.])
    """
    lo = float(_to_value(vmin, unit or None))
    hi = float(_to_value(vmax, unit or None))
    if nbins is None or nbins < 1:
        raise ConventionError(f"axis {name!r}: nbins must be a positive integer, got {nbins!r}")
    if not 0 < lo < hi:
        raise ConventionError(f"axis {name!r}: need 0 < min < max, got min={lo}, max={hi}")
    n = int(np.ceil(np.log10(hi / lo) * nbins - 1e-9)) if per_decade else int(nbins)
    e = np.geomspace(lo, hi, n + 1)
    return axis_from_edges(e, name, unit=unit, interp="log")


def linear_axis(
    vmin: Any, vmax: Any, nbins: int, *, unit: str = "", name: str = "offset"
) -> xr.DataArray:
    """Linearly spaced axis.

    Examples
    --------
    >>> linear_axis(0, 2, 4, unit="deg").values
    array([0.25, 0.75, 1.25, 1.75])
    """
    lo = float(_to_value(vmin, unit or None))
    hi = float(_to_value(vmax, unit or None))
    if nbins < 1 or not lo < hi:
        raise ConventionError(f"axis {name!r}: need nbins >= 1 and min < max")
    return axis_from_edges(np.linspace(lo, hi, nbins + 1), name, unit=unit, interp="lin")


def energy_axis(
    emin: Any,
    emax: Any,
    nbins: int | None = None,
    unit: str = "TeV",
    name: str = "energy",
    per_decade: bool = False,
) -> xr.DataArray:
    """Log-spaced energy axis (reconstructed ``energy`` by default, or ``energy_true``).

    Parameters
    ----------
    emin, emax : float, str or Quantity
        Range; plain numbers are in ``unit``.
    nbins : int
        Number of bins (or per decade with ``per_decade=True``).
    unit : str
        Unit of the axis.
    name : {"energy", "energy_true"}
        Dimension name.

    Examples
    --------
    >>> ax = energy_axis("100 GeV", "10 TeV", nbins=2)
    >>> ax.energy_min.values
    array([0.1, 1. ])
    """
    return log_axis(emin, emax, nbins, unit=unit, name=name, per_decade=per_decade)


def is_binned(obj: xr.DataArray | xr.Dataset, dim: Hashable) -> bool:
    """Whether ``obj`` carries ``<dim>_min`` and ``<dim>_max`` coordinates along ``dim``.

    Examples
    --------
    >>> is_binned(energy_axis(1, 10, 2), "energy")
    True
    """
    return f"{dim}_min" in obj.coords and f"{dim}_max" in obj.coords


def binned_dims(obj: xr.DataArray | xr.Dataset) -> list[str]:
    """The dims of ``obj`` that are binned axes (have edges), in order.

    Examples
    --------
    >>> binned_dims(energy_axis(1, 10, 2))
    ['energy']
    """
    return [str(d) for d in obj.dims if is_binned(obj, d)]


def edges(obj: xr.DataArray | xr.Dataset, dim: str | None = None) -> np.ndarray:
    """Bin edges of ``dim`` (``nbins + 1`` values) from the ``_min``/``_max`` coordinates.

    ``obj`` may be an axis or any object that carries the axis. Contiguous bins are
    assumed; for non-contiguous bins use the ``_min``/``_max`` coordinates directly.

    Examples
    --------
    >>> edges(linear_axis(0, 1, 2, name="x"))
    array([0. , 0.5, 1. ])
    """
    if dim is None:
        if isinstance(obj, xr.DataArray) and obj.ndim == 1:
            dim = str(obj.dims[0])
        else:
            raise ConventionError("edges(): name the dim for a multi-dimensional object")
    if not is_binned(obj, dim):
        raise ConventionError(
            f"dim {dim!r} has no bin edges: expected coordinates {dim}_min and {dim}_max"
        )
    lo = np.asarray(obj.coords[f"{dim}_min"].values, dtype=float)
    hi = np.asarray(obj.coords[f"{dim}_max"].values, dtype=float)
    return np.append(lo, hi[-1:])


def widths(obj: xr.DataArray | xr.Dataset, dim: str | None = None) -> xr.DataArray:
    """Bin widths along ``dim`` as a DataArray on that dim.

    Examples
    --------
    >>> widths(energy_axis(1, 100, 2)).values
    array([ 9., 90.])
    """
    if dim is None:
        dim = str(obj.dims[0])
    w = obj.coords[f"{dim}_max"] - obj.coords[f"{dim}_min"]
    return w.reset_coords(drop=True).assign_attrs(units=obj.coords[f"{dim}_min"].attrs.get("units", ""))


def centers(obj: xr.DataArray | xr.Dataset, dim: str) -> np.ndarray:
    """Bin centres along ``dim`` (the dimension coordinate).

    Examples
    --------
    >>> centers(linear_axis(0, 2, 2, name="offset"), "offset")
    array([0.5, 1.5])
    """
    return np.asarray(obj.coords[dim].values, dtype=float)


def axis_of(obj: xr.DataArray | xr.Dataset, dim: str) -> xr.DataArray:
    """Extract the axis of ``dim`` from an object that carries it.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> e = energy_axis(1, 10, 2)
    >>> da = xr.DataArray(np.zeros(2), dims="energy", coords=e.coords)
    >>> axis_of(da, "energy").equals(e)
    True
    """
    c = obj.coords[dim]
    unit = c.attrs.get("units", obj.coords[f"{dim}_min"].attrs.get("units", ""))
    interp = c.attrs.get("interp", "log" if dim.startswith("energy") else "lin")
    lo = np.asarray(obj.coords[f"{dim}_min"].values, dtype=float)
    hi = np.asarray(obj.coords[f"{dim}_max"].values, dtype=float)
    if np.allclose(lo[1:], hi[:-1], rtol=1e-12, atol=0):
        return axis_from_edges(np.append(lo, hi[-1]), dim, unit=unit, interp=interp)
    # non-contiguous bins (e.g. time bins with gaps): keep them as they are
    vals = np.asarray(c.values, dtype=float)
    at = {"units": unit, "interp": interp}
    return xr.DataArray(
        vals,
        dims=(dim,),
        coords={
            dim: xr.Variable((dim,), vals, attrs=dict(at)),
            f"{dim}_min": xr.Variable((dim,), lo, attrs={"units": unit}),
            f"{dim}_max": xr.Variable((dim,), hi, attrs={"units": unit}),
        },
        name=dim,
        attrs=at,
    )


def coords_from_axis(axis: xr.DataArray) -> dict[str, xr.Variable]:
    """The coordinate variables of an axis, to pass to ``DataArray(coords=...)``.

    Examples
    --------
    >>> sorted(coords_from_axis(energy_axis(1, 10, 2)))
    ['energy', 'energy_max', 'energy_min']
    """
    return {str(k): v.variable for k, v in axis.coords.items()}


def interp_axis(
    da: xr.DataArray,
    coords: Mapping[str, Any],
    scheme: Mapping[str, str] | None = None,
    log_values: bool = False,
    fill_value: float | None = np.nan,
) -> xr.DataArray:
    """Interpolate ``da`` at new coordinates, in log space for log axes.

    This is the one interpolation used for IRFs: along each dim the interpolation is linear
    in ``log(x)`` when the axis ``interp`` attr (or ``scheme[dim]``) is ``"log"`` and linear
    in ``x`` otherwise; with ``log_values=True`` it is linear in ``log(value)`` (used for
    background rates), with zeros kept as zeros where both neighbours allow.

    Parameters
    ----------
    da : xarray.DataArray
        Data on binned (or plain) dims.
    coords : mapping
        ``{dim: values}``; values may be arrays or DataArrays (pointwise / outer as in
        ``xarray.DataArray.interp``).
    scheme : mapping, optional
        Override of ``{dim: "log"|"lin"}``.
    log_values : bool
        Interpolate the logarithm of the values.
    fill_value : float or None
        Value outside the grid; ``None`` extrapolates linearly.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> e = energy_axis(1, 100, 2)
    >>> da = xr.DataArray([1.0, 100.0], dims="energy", coords=e.coords)
    >>> round(float(interp_axis(da, {"energy": 10.0})), 6)  # linear in value, log in energy
    50.5
    >>> round(float(interp_axis(da, {"energy": 10.0}, log_values=True)), 6)
    10.0
    """
    scheme = dict(scheme or {})
    work = da
    new: dict[str, Any] = {}
    for dim, val in coords.items():
        kind = scheme.get(dim) or (da.coords[dim].attrs.get("interp") if dim in da.coords else None)
        kind = kind or "lin"
        if kind == "log":
            logdim = np.log(np.asarray(da.coords[dim].values, dtype=float))
            work = work.assign_coords({dim: (dim, logdim)})
            if isinstance(val, xr.DataArray):
                new[dim] = np.log(val.astype(float))
            else:
                new[dim] = np.log(np.asarray(val, dtype=float))
        else:
            new[dim] = val
    drop = [c for c in work.coords if c not in work.dims and set(work.coords[c].dims) & set(new)]
    work = work.drop_vars(drop)
    kwargs: dict[str, Any] = {"fill_value": "extrapolate" if fill_value is None else fill_value}
    if log_values:
        with np.errstate(divide="ignore"):
            lw = xr.apply_ufunc(np.log, work.clip(min=0), dask="allowed")
        lw = lw.where(np.isfinite(lw), -1e30)
        out = xr.apply_ufunc(np.exp, lw.interp(new, method="linear", kwargs=kwargs), dask="allowed")
        out = out.where(out > 1e-300, 0.0)
    else:
        out = work.interp(new, method="linear", kwargs=kwargs)
    # restore the original (non-log) coordinate values for the interpolated dims
    for dim, val in coords.items():
        if dim in out.dims:
            v = val.values if isinstance(val, xr.DataArray) else np.atleast_1d(np.asarray(val, dtype=float))
            if not isinstance(val, xr.DataArray) or val.dims == (dim,):
                out = out.assign_coords({dim: (dim, np.asarray(v, dtype=float).ravel())})
        elif dim in out.coords:
            out = out.drop_vars(dim)
    out.attrs = dict(da.attrs)
    return out

