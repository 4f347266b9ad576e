"""IRF DataArrays to plain numpy: values in a unit and dim order, node coordinates with their
valid range, and offset interpolation matrices (the labelled edge of :mod:`xgamma.irf.interp`).

Examples
--------
>>> import numpy as np, xarray as xr
>>> from xgamma.axes import axis_from_edges
>>> o = axis_from_edges([0.0, 1.0, 2.0], "offset", unit="deg", interp="lin")
>>> aeff = xr.DataArray([2.0, 1.0], dims="offset", coords=o.coords, attrs={"units": "m2"})
>>> irf_values(aeff, "cm2").tolist()
[20000.0, 10000.0]
>>> (irf_values(aeff, "cm2") @ offset_matrix(aeff, np.array([0.5, 1.0, 3.0]))).tolist()
[20000.0, 15000.0, 0.0]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from xgamma.conventions import unit_of
from xgamma.irf.interp import interp_weights

__all__ = ["irf_values", "irf_nodes", "offset_matrix"]


def irf_values(da: xr.DataArray, unit: str, dims: Sequence[str] | None = None) -> np.ndarray:
    """Values of ``da`` (with its dims in the order ``dims``) in ``unit`` as float64 numpy.

    Examples
    --------
    >>> from xgamma import testing
    >>> aeff = testing.make_aeff()
    >>> aeff.dims, irf_values(aeff, "m2", ("offset", "energy_true")).shape
    (('energy_true', 'offset'), (6, 40))
    >>> o = xr.DataArray([2.0, 1.0], dims="offset", attrs={"units": "m2"})
    >>> irf_values(o, "cm2").tolist()
    [20000.0, 10000.0]
    """
    f = unit_of(da).to(unit) if da.attrs.get("units", "") != unit else 1.0
    vals = np.asarray(da.variable.values, dtype=float)
    if dims is not None and tuple(da.dims) != tuple(dims):  # no xarray transpose when in order
        vals = np.transpose(vals, [da.dims.index(d) for d in dims])
    return vals * f if f != 1.0 else vals


def irf_nodes(da: xr.DataArray, dim: str) -> tuple[np.ndarray, float, float]:
    """Node coordinates along ``dim`` and the valid range (outer bin edges).

    Without ``{dim}_min``/``{dim}_max`` coordinates the range is that of the nodes.

    Returns
    -------
    nodes : numpy.ndarray
        The coordinate values along ``dim``.
    lo, hi : float
        The lower and upper end of the valid range.

    Examples
    --------
    >>> from xgamma.axes import axis_from_edges
    >>> o = axis_from_edges([0.0, 1.0, 2.0], "offset", unit="deg", interp="lin")
    >>> nodes, lo, hi = irf_nodes(xr.DataArray([2.0, 1.0], dims="offset", coords=o.coords), "offset")
    >>> nodes.tolist(), lo, hi
    ([0.5, 1.5], 0.0, 2.0)
    """
    cv = da.coords.variables  # Variables: no DataArray built per access
    c = np.asarray(cv[dim].values, dtype=float)
    if f"{dim}_min" in cv:
        lo = float(cv[f"{dim}_min"].values[0])
        hi = float(cv[f"{dim}_max"].values[-1])
    else:
        lo, hi = float(c[0]), float(c[-1])
    return c, min(lo, float(c[0])), max(hi, float(c[-1]))


def offset_matrix(irf: xr.DataArray, offsets: np.ndarray, dtype: Any = float) -> np.ndarray:
    """Dense interpolation matrix ``W (n_nodes, n_points)`` of the IRF's offset nodes at the
    (flattened) ``offsets``: ``values @ W`` interpolates linearly in offset (extrapolating to
    the outer bin edges) and gives 0 beyond them.

    Examples
    --------
    >>> from xgamma.axes import axis_from_edges
    >>> o = axis_from_edges([0.0, 1.0, 2.0], "offset", unit="deg", interp="lin")
    >>> irf = xr.DataArray([2.0, 1.0], dims="offset", coords=o.coords)
    >>> offset_matrix(irf, np.array([0.5, 1.0, 3.0])).tolist()
    [[1.0, 0.5, 0.0], [0.0, 0.5, 0.0]]
    """
    nodes, lo, hi = irf_nodes(irf, "offset")
    x = offsets.ravel()
    ok = (x >= lo - 1e-9) & (x <= hi + 1e-9)
    mat = np.zeros((nodes.size, x.size), dtype=dtype)
    cols = np.arange(x.size)
    if nodes.size == 1:
        mat[0] = ok
        return mat
    i, w = interp_weights(nodes, np.where(np.isfinite(x), x, hi))
    mat[i, cols] = np.where(ok, 1 - w, 0.0)
    mat[i + 1, cols] = np.where(ok, w, 0.0)
    return mat
