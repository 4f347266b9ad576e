"""Plots users publish after a fit: residuals and ``plot_fit`` for 1D and 3D datasets, and
significance maps on a symmetric scale.

* :func:`residuals` — ``(counts - npred) / sqrt(npred)`` (``"diff/sqrt(model)"``, Gammapy's
  default), ``counts - npred`` (``"diff"``) or ``(counts - npred) / npred`` (``"diff/model"``),
  on the safe (and fit) range; 1D: per energy bin; 3D: per pixel, summed over energy first.
* :func:`plot_fit` — 1D: counts with Poisson errors, predicted counts and the residual panel;
  3D: the spectrum summed over the map (or a region mask) with residuals, and the residual
  significance map.
* :func:`plot_significance_map` — a diverging colour map on ``[-vmax, vmax]`` (5 sigma by
  default) with contours at the given levels (3 and 5 sigma), so that maps of different fields
  compare at a glance.

matplotlib is imported on first use.

Examples
--------
>>> import matplotlib; matplotlib.use("Agg")
>>> from xgamma.fitting.fold import example_dataset, fake
>>> from xgamma.models import spectral_model
>>> m = spectral_model("pl", index=2.5, amplitude=2e-11)
>>> ds = fake(example_dataset(), m, seed=0)
>>> r = residuals(ds, m)
>>> r.dims, bool(abs(float(r.mean())) < 1)
(('energy',), True)
>>> fig = plot_fit(ds, m)
>>> len(fig.axes)
2
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from xgamma import sky
from xgamma.fitting.fold import npred
from xgamma.fitting.fold_map import npred_map

__all__ = ["residuals", "plot_fit", "plot_residuals", "plot_significance_map"]

_METHODS = ("diff", "diff/model", "diff/sqrt(model)")


def _is_map(ds: xr.Dataset) -> bool:
    return {"y", "x"} <= set(ds.dims) or "pix" in ds.dims


def _mask(ds: xr.Dataset) -> xr.DataArray:
    m = ds["mask_safe"] if "mask_safe" in ds else xr.ones_like(ds["counts"], dtype=bool)
    if "mask_fit" in ds:
        m = m & ds["mask_fit"]
    return m.astype(bool)


def _counts_npred(ds: xr.Dataset, models: Any) -> tuple[xr.DataArray, xr.DataArray]:
    pred = npred_map(ds, models) if _is_map(ds) else npred(ds, models)
    mask = _mask(ds)
    counts = ds["counts"].where(mask)
    pred = pred.where(mask)
    if "obs" in counts.dims:
        counts, pred = counts.sum("obs", min_count=1), pred.sum("obs", min_count=1)
    return counts, pred


def _apply(method: str, counts: xr.DataArray, pred: xr.DataArray) -> xr.DataArray:
    if method not in _METHODS:
        raise ValueError(f"residuals: method must be one of {_METHODS}, got {method!r}")
    diff = counts - pred
    with np.errstate(divide="ignore", invalid="ignore"):
        if method == "diff":
            out = diff
        elif method == "diff/model":
            out = diff / pred
        else:
            out = diff / np.sqrt(pred)
    return out.rename("residuals").assign_attrs(units="", method=method)


def residuals(dataset: xr.Dataset, models: Any, method: str = "diff/sqrt(model)",
              spatial: bool | None = None) -> xr.DataArray:
    """Residuals of a fit on the safe (and fit) range.

    Parameters
    ----------
    dataset : xarray.Dataset
        1D spectrum / ON-OFF dataset, or a 3D map dataset (``obs`` summed).
    models : Models, list of components or a spectral model
        The fitted models (``FitResult.models``).
    method : {"diff/sqrt(model)", "diff", "diff/model"}
        How residuals are expressed.
    spatial : bool, optional
        3D only: ``True`` (default for maps) sums over energy and gives a ``(y, x)`` map;
        ``False`` sums over the sky and gives a spectrum.

    Examples
    --------
    >>> from xgamma.fitting.fold import example_dataset
    >>> from xgamma.models import spectral_model
    >>> ds = example_dataset()
    >>> float(abs(residuals(ds.assign(counts=ds.counts * 0 + 5), spectral_model("pl"), "diff")).max()) > 0
    True
    """
    counts, pred = _counts_npred(dataset, models)
    if _is_map(dataset):
        sky_dims = [d for d in ("y", "x", "pix") if d in counts.dims]
        if spatial is None or spatial:
            counts, pred = counts.sum("energy", min_count=1), pred.sum("energy", min_count=1)
        else:
            counts, pred = counts.sum(sky_dims, min_count=1), pred.sum(sky_dims, min_count=1)
    return _apply(method, counts, pred)


def plot_residuals(dataset: xr.Dataset, models: Any, method: str = "diff/sqrt(model)", ax: Any = None,
                   **kwargs: Any) -> Any:
    """Residuals against energy (1D, or a 3D dataset summed over the sky); returns the axes.

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> from xgamma.fitting.fold import example_dataset
    >>> from xgamma.models import spectral_model
    >>> ax = plot_residuals(example_dataset(), spectral_model("pl"))
    >>> ax.get_xscale()
    'log'
    """
    import matplotlib.pyplot as plt

    if ax is None:
        ax = plt.gca()
    r = residuals(dataset, models, method, spatial=False)
    e = np.asarray(dataset["energy"].values, float)
    xerr = np.array([e - dataset["energy_min"].values, dataset["energy_max"].values - e])
    yerr = 1.0 if method == "diff/sqrt(model)" else None
    ax.errorbar(e, r.values, xerr=xerr, yerr=yerr, fmt="o", **{"color": "k", **kwargs})
    ax.axhline(0, color="0.5", lw=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("energy [TeV]")
    ax.set_ylabel({"diff": "counts - npred", "diff/model": "(counts - npred) / npred"}.get(
        method, "(counts - npred) / sqrt(npred)"))
    return ax


def plot_fit(dataset: xr.Dataset, models: Any, method: str = "diff/sqrt(model)", figsize: Any = None) -> Any:
    """Counts and predicted counts with a residual panel (1D); for a 3D dataset also the
    residual significance map. Returns the figure.

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> import xgamma as xg
    >>> from xgamma import testing
    >>> ds = xg.reduce(testing.make_observation(n_events=300), testing.make_wcs_geom(width=1.0, binsz=0.1))
    >>> len(plot_fit(ds, []).axes) >= 3
    True
    """
    import matplotlib.pyplot as plt

    is_map = _is_map(dataset)
    fig = plt.figure(figsize=figsize or ((11, 5) if is_map else (6, 5)))
    width = 0.5 if is_map else 1.0
    ax = fig.add_axes((0.1, 0.35, 0.85 * width - 0.05, 0.6))
    axr = fig.add_axes((0.1, 0.1, 0.85 * width - 0.05, 0.22), sharex=ax)
    counts, pred = _counts_npred(dataset, models)
    if is_map:
        sky_dims = [d for d in ("y", "x", "pix") if d in counts.dims]
        counts, pred = counts.sum(sky_dims, min_count=1), pred.sum(sky_dims, min_count=1)
    e = np.asarray(dataset["energy"].values, float)
    c = np.asarray(counts.values, float)
    ax.errorbar(e, c, yerr=np.sqrt(np.clip(c, 0, None)), fmt="o", color="k", label="counts")
    ax.step(e, np.asarray(pred.values, float), where="mid", color="C0", label="npred")
    ax.set_yscale("log")
    ax.set_xscale("log")
    ax.set_ylabel("counts")
    ax.legend()
    ax.tick_params(labelbottom=False)
    plot_residuals(dataset, models, method, ax=axr)
    if is_map:
        r = residuals(dataset, models, "diff/sqrt(model)", spatial=True)
        wcs = sky.wcs_of(r) if {"y", "x"} <= set(r.dims) else None
        axm = fig.add_axes((0.55, 0.1, 0.38, 0.85), projection=wcs) if wcs is not None else fig.add_axes(
            (0.55, 0.1, 0.38, 0.85))
        plot_significance_map(r, ax=axm, label="residual significance")
    return fig


def plot_significance_map(sig: xr.DataArray, ax: Any = None, vmax: float = 5.0,
                          levels: Sequence[float] = (3.0, 5.0), cmap: str = "RdBu_r", add_cbar: bool = True,
                          label: str = "significance", **kwargs: Any) -> Any:
    """A significance (or residual) map on a symmetric ``[-vmax, vmax]`` scale with contours.

    Parameters
    ----------
    sig : DataArray
        ``(y, x)`` sky map (other dims are taken at their first bin); e.g. ``excess_map(...).sqrt_ts``.
    vmax : float
        Half range of the colour scale (5 sigma by default, as in published maps).
    levels : sequence of float
        Contour levels (their negatives are drawn dashed).

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> import numpy as np, xgamma as xg
    >>> from xgamma import sky
    >>> g = xg.wcs_geom((83.6, 22.0), 1.0, 0.05)
    >>> yy, xx = np.mgrid[:20, :20]
    >>> m = sky.make_map(6 * np.exp(-((xx - 10) ** 2 + (yy - 10) ** 2) / 8.0), g, name="sqrt_ts")
    >>> ax = plot_significance_map(m)
    >>> ax.images[0].get_clim()
    (-5.0, 5.0)
    """
    import matplotlib.pyplot as plt

    da = sig
    for d in [d for d in da.dims if d not in ("y", "x")]:
        da = da.isel({d: 0})
    if ax is None:
        try:
            wcs = sky.wcs_of(da)
        except Exception:  # noqa: BLE001 - not a WCS map: plain pixel axes
            wcs = None
        ax = plt.figure().add_subplot(projection=wcs)
    data = np.asarray(da.values, float)
    im = ax.imshow(data, origin="lower", cmap=cmap, vmin=-vmax, vmax=vmax, interpolation="nearest", **kwargs)
    lv = sorted(float(v) for v in levels)
    if lv and np.isfinite(data).any():
        ax.contour(np.nan_to_num(data, nan=0.0), levels=lv, colors="k", linewidths=0.8)
        ax.contour(np.nan_to_num(data, nan=0.0), levels=[-v for v in lv[::-1]], colors="k",
                   linewidths=0.8, linestyles="dashed")
    if add_cbar:
        ax.figure.colorbar(im, ax=ax, label=label, extend="both")
    return ax
