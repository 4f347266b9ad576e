"""Numpy kernels of IRF interpolation (no labels, no xarray): the array core under
:mod:`xgamma.irf.response` and the reduction's per-pixel IRF look-ups.

The rule (the GADF convention, as the established tool applies it): linear in the coordinate
(or in its log for log axes) between nodes, extrapolated linearly from the outermost nodes to
the outer bin edges, and 0 beyond them.

Examples
--------
>>> import numpy as np
>>> interp_along(np.array([0.0, 10.0]), 0, np.array([0.0, 1.0]), np.array([0.5, 2.0]),
...              valid=(0.0, 1.5))
array([5., 0.])
"""

from __future__ import annotations

import numpy as np

__all__ = ["interp_weights", "interp_along", "interp_rows", "invert_rows"]


def interp_weights(nodes: np.ndarray, x: np.ndarray, log: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Index ``i`` and weight ``w`` so that ``v(x) = v[i] (1 - w) + v[i + 1] w``.

    Linear (in ``log`` of the coordinate for log axes), extrapolating beyond the outer nodes.

    Examples
    --------
    >>> i, w = interp_weights(np.array([1.0, 10.0, 100.0]), np.array([5.5, 50.0]))
    >>> i.tolist(), w.round(3).tolist()
    ([0, 1], [0.5, 0.444])
    >>> i, w = interp_weights(np.array([1.0, 10.0, 100.0]), np.array([1000.0]), log=True)
    >>> i.tolist(), w.tolist()   # extrapolated: w > 1
    ([1], [2.0])
    """
    xn = np.log(nodes) if log else np.asarray(nodes, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        xv = np.log(x) if log else np.asarray(x, dtype=float)
    if xn.size == 1:
        return np.zeros(np.shape(xv), dtype=np.intp), np.zeros(np.shape(xv))
    step = np.diff(xn)
    if xv.size > 64 and np.allclose(step, step[0], rtol=1e-6, atol=0):  # regular grid
        f = (xv - xn[0]) / step[0]
        i = np.clip(np.floor(f), 0, xn.size - 2).astype(np.intp)
        return i, f - i
    i = np.clip(np.searchsorted(xn, xv, side="right") - 1, 0, xn.size - 2)
    w = (xv - xn[i]) / (xn[i + 1] - xn[i])
    return i, w


def interp_along(values: np.ndarray, axis: int, nodes: np.ndarray, x: np.ndarray,
                 valid: tuple[float, float] | None = None, log: bool = False) -> np.ndarray:
    """Interpolate ``values`` along ``axis`` (nodes ``nodes``) at ``x``; 0 outside ``valid``.

    The interpolation is linear in the coordinate (or its log) and extrapolates between the
    outer nodes and the outer bin edges, as Gammapy's IRF evaluation does.

    Examples
    --------
    >>> import numpy as np
    >>> interp_along(np.array([0.0, 10.0]), 0, np.array([0.0, 1.0]), np.array([0.5, 2.0]),
    ...              valid=(0.0, 1.5))
    array([5., 0.])
    """
    if values.shape[axis] == 1:
        out = np.repeat(np.take(values, [0], axis=axis), np.size(x), axis=axis)
    else:
        i, w = interp_weights(nodes, np.asarray(x, dtype=float), log=log)
        shape = [1] * values.ndim
        shape[axis] = -1
        w = w.reshape(shape)
        out = np.take(values, i, axis=axis) * (1 - w) + np.take(values, i + 1, axis=axis) * w
    if valid is not None:
        xx = np.asarray(x, dtype=float)
        ok = (xx >= valid[0] - 1e-9) & (xx <= valid[1] + 1e-9)
        if not ok.all():
            shape = [1] * values.ndim
            shape[axis] = -1
            out = out * ok.reshape(shape)
    return out


def interp_rows(y: np.ndarray, x: np.ndarray, xq: np.ndarray) -> np.ndarray:
    """Linear interpolation of each row ``y[..., :]`` (on common nodes ``x``) at ``xq[...]``.

    Leading dims of ``y`` and ``xq`` broadcast; outside ``x`` the end values are used.

    Examples
    --------
    >>> y = np.array([[0.0, 10.0, 20.0], [0.0, 1.0, 2.0]])
    >>> interp_rows(y, np.array([0.0, 1.0, 2.0]), np.array([0.5, 5.0])).tolist()
    [5.0, 2.0]
    """
    x = np.asarray(x, dtype=float)
    xq = np.asarray(xq, dtype=float)
    shape = np.broadcast_shapes(y.shape[:-1], xq.shape)
    y = np.broadcast_to(y, (*shape, y.shape[-1]))
    xq = np.broadcast_to(xq, shape)
    k = np.clip(np.searchsorted(x, xq, side="right") - 1, 0, x.size - 2)
    y0 = np.take_along_axis(y, k[..., None], -1)[..., 0]
    y1 = np.take_along_axis(y, k[..., None] + 1, -1)[..., 0]
    t = np.clip((xq - x[k]) / (x[k + 1] - x[k]), 0.0, 1.0)
    return y0 + t * (y1 - y0)


def invert_rows(c: np.ndarray, x: np.ndarray, frac: np.ndarray) -> np.ndarray:
    """Smallest ``x`` where the non-decreasing rows ``c[..., :]`` reach ``frac`` (NaN if never).

    Linear between the nodes ``x``, e.g. a containment radius from a cumulative profile;
    leading dims of ``c`` and ``frac`` broadcast.

    Examples
    --------
    >>> c = np.array([[0.0, 0.5, 1.0], [0.0, 0.2, 0.4]])
    >>> invert_rows(c, np.array([0.0, 1.0, 2.0]), np.array(0.75)).tolist()
    [1.5, nan]
    """
    frac = np.asarray(frac, dtype=float)
    shape = np.broadcast_shapes(c.shape[:-1], frac.shape)
    c = np.broadcast_to(c, (*shape, c.shape[-1]))
    frac = np.broadcast_to(frac, shape)
    reached = c >= frac[..., None]
    k = np.argmax(reached, axis=-1)
    km = np.maximum(k - 1, 0)
    c0 = np.take_along_axis(c, km[..., None], -1)[..., 0]
    c1 = np.take_along_axis(c, k[..., None], -1)[..., 0]
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.where(c1 > c0, (frac - c0) / (c1 - c0), 0.0)
    r = x[km] + np.clip(t, 0, 1) * (x[k] - x[km])
    return np.where(reached.any(axis=-1), np.where(k == 0, x[0], r), np.nan)
