"""Adaptive smoothing of counts images (ASmooth, Ebeling, White & Rangarajan 2006).

:func:`asmooth` follows the semantics of Gammapy's ``ASmoothMapEstimator``:

1. the reco-energy bins are grouped into bands (``energy_edges`` snap to the dataset's bin
   edges, :func:`~xgamma.estimators.excess_map.energy_groups`; default one band); counts and
   background (the dataset's ``background``; ``alpha x counts_off`` for ON/OFF datasets) are
   summed over each band inside ``mask_safe`` (and ``mask_fit``);
2. for each smoothing scale (increasing, in deg) the images are convolved with a kernel
   normalised to its peak (:func:`asmooth_kernel`: a Gaussian of standard deviation ``scale``
   or a top-hat disk of radius ``scale``, astropy's kernels integrated over the pixels), and
   the significance of the convolved counts over the convolved background is computed
   (``method="lima"``: the Cash significance, Gammapy's ``CashCountsStatistic``;
   ``method="asmooth"``: ``(N - B) / sqrt(N + B)``, eq. 5 of the paper);
3. each pixel keeps the smallest scale at which the significance exceeds ``threshold``; its
   smoothed ``counts``, ``background`` and ``flux`` are the convolutions at that scale divided
   by the kernel sum (a unit-sum kernel, so the smoothing conserves the total away from the map
   edges). Pixels that never reach the threshold keep the largest scale and are flagged
   (``significant = False``; Gammapy sets them to the mean of the unsmoothed map instead).

``flux`` is the excess divided by the reco-energy exposure of each pixel for the reference
spectrum (power law of index 2 by default, as in
:func:`~xgamma.estimators.excess_map.excess_map`): the integral flux of the band per pixel
[cm-2 s-1], then smoothed like the counts.

Examples
--------
>>> import numpy as np, xgamma as xg
>>> from xgamma import testing
>>> ds = xg.reduce(testing.make_observation(n_events=3000), testing.make_wcs_geom(width=2.0, binsz=0.1))
>>> res = asmooth(ds, scales=[0.1, 0.2, 0.4], threshold=3)
>>> sorted(res.data_vars)
['background', 'counts', 'flux', 'scale', 'significant', 'sqrt_ts']
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from xgamma import stats
from xgamma.errors import GeometryError
from xgamma.estimators.excess_map import (
    band_images,
    correlate,
    default_reference,
    energy_groups,
    pixel_scale,
    reference_npred,
)
from xgamma.estimators.images import dataset_mask, geometry_attrs, is_onoff, map_values, sky_coords
from xgamma.models.spectral import SpectralModelBase
from xgamma.plot import plot_map

__all__ = ["asmooth", "asmooth_kernel", "asmooth_scales", "plot_asmooth"]

_KERNELS = ("gauss", "tophat")
_METHODS = ("lima", "asmooth")


def asmooth_scales(n_scales: int = 9, factor: float = float(np.sqrt(2)), kernel: str = "gauss",
                   pixel_size: float = 0.02) -> np.ndarray:
    """Geometric sequence of smoothing scales [deg] (Gammapy's ``get_scales``).

    The first scale is ``1 / sqrt(9 pi)`` pixels for a Gaussian (``1 / sqrt(pi)`` for a top
    hat: a kernel of unit area) times ``pixel_size``; each next one is ``factor`` larger.

    Examples
    --------
    >>> asmooth_scales(3, factor=2, kernel="tophat", pixel_size=1.0).round(4).tolist()
    [0.5642, 1.1284, 2.2568]
    """
    if kernel not in _KERNELS:
        raise ValueError(f"kernel must be one of {_KERNELS}, got {kernel!r}")
    s0 = 1.0 / np.sqrt(9 * np.pi) if kernel == "gauss" else 1.0 / np.sqrt(np.pi)
    return np.asarray(s0 * pixel_size * float(factor) ** np.arange(int(n_scales)), float)


def asmooth_kernel(scale_pix: float, kernel: str = "gauss") -> np.ndarray:
    """Smoothing kernel of one scale [pixels], normalised to its peak (value 1 at the centre).

    ``"gauss"``: astropy's ``Gaussian2DKernel`` of standard deviation ``scale_pix`` (grid
    ``8 sigma + 1`` wide); ``"tophat"``: ``Tophat2DKernel`` of radius ``scale_pix``; both
    integrated over the pixels (``mode="oversample"``).

    Examples
    --------
    >>> k = asmooth_kernel(2.0)
    >>> k.shape, float(k.max()), round(float(k.sum()), 2)   # ~ 2 pi sigma^2
    ((17, 17), 1.0, 25.65)
    """
    from astropy.convolution import Gaussian2DKernel, Tophat2DKernel

    if kernel not in _KERNELS:
        raise ValueError(f"kernel must be one of {_KERNELS}, got {kernel!r}")
    s = float(scale_pix)
    if not s > 0:
        raise ValueError(f"the smoothing scale must be positive, got {scale_pix}")
    k = Gaussian2DKernel(s, mode="oversample") if kernel == "gauss" else Tophat2DKernel(s, mode="oversample")
    arr = np.asarray(k.array, float)
    return arr / arr.max()


def _significance(n: np.ndarray, b: np.ndarray, method: str) -> np.ndarray:
    if method == "lima":
        return np.asarray(stats.cash_significance(n, b), float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(n + b > 0, (n - b) / np.sqrt(n + b), 0.0)


def _reco_exposure(dataset: xr.Dataset, groups: Sequence[np.ndarray], mask: np.ndarray,
                   spec: SpectralModelBase, e_lo: np.ndarray, e_hi: np.ndarray) -> np.ndarray:
    """Reco-energy exposure ``(band, y, x)`` [cm2 s] for the reference spectrum: the reference
    counts of the band divided by the reference integral flux of the band."""
    ref = band_images(reference_npred(dataset, spec), groups, mask)
    flux = np.asarray(spec.integral_values(e_lo, e_hi, list(spec.parameters.values)), float)
    return ref / flux[:, None, None]


def _smooth_band(counts: np.ndarray, background: np.ndarray, flux: np.ndarray | None,
                 kernels: Sequence[np.ndarray], scales: np.ndarray, threshold: float,
                 method: str) -> dict[str, np.ndarray]:
    """ASmooth of one band image: the per-pixel smallest significant scale and its maps."""
    shape = counts.shape
    out = {k: np.full(shape, np.nan) for k in ("counts", "background", "flux", "scale", "sqrt_ts")}
    done = np.zeros(shape, bool)
    last = len(kernels) - 1
    for i, (k, s) in enumerate(zip(kernels, scales, strict=True)):
        n_c = correlate(counts, k)
        b_c = correlate(background, k)
        sig = _significance(n_c, b_c, method)
        sel = ~done & (sig > threshold) if i < last else ~done
        norm = float(k.sum())
        out["counts"][sel] = n_c[sel] / norm
        out["background"][sel] = b_c[sel] / norm
        if flux is not None:
            out["flux"][sel] = correlate(flux, k)[sel] / norm
        out["scale"][sel] = s
        out["sqrt_ts"][sel] = sig[sel]
        if i == last:
            out["significant"] = done | (sig > threshold)
        done |= sel
    return out


def asmooth(dataset: xr.Dataset, scales: Any, kernel: str = "gauss", threshold: float = 5.0,
            energy_edges: Any = None, method: str = "lima",
            spectral_model: SpectralModelBase | None = None) -> xr.Dataset:
    """Adaptively smoothed counts, background and flux images (ASmooth).

    Parameters
    ----------
    dataset : xarray.Dataset
        3D reduced dataset (``counts``, ``background``, ``exposure``, ``mask_safe``, ...) or
        an ON/OFF map dataset (``counts_off``, ``alpha``); no ``obs`` dim (stack first).
    scales : array-like or astropy Quantity
        Smoothing scales [deg], strictly increasing: the Gaussian standard deviation, or the
        top-hat radius.
    kernel : {"gauss", "tophat"}
        Kernel shape.
    threshold : float
        Significance a pixel must exceed to take a scale.
    energy_edges : array-like, optional
        Band edges [TeV] (snapped to the dataset's bins); default one band.
    method : {"lima", "asmooth"}
        Significance of the convolved counts over the convolved background: Cash (``"lima"``,
        Gammapy's default) or ``(N - B) / sqrt(N + B)``.
    spectral_model : SpectralModel, optional
        Reference spectrum of the reco-energy exposure (default power law, index 2).

    Returns
    -------
    xarray.Dataset
        Dims ``(energy, y, x)`` (energy = the bands) on the dataset's sky geometry:
        ``counts`` and ``background`` (smoothed, per pixel), ``flux`` (smoothed integral flux
        per pixel [cm-2 s-1]; NaN without ``exposure``), ``scale`` [deg], ``sqrt_ts`` (at the
        chosen scale) and ``significant`` (False where no scale reached the threshold: the
        largest scale is used there). NaN outside the safe mask.

    Examples
    --------
    >>> import xgamma as xg
    >>> from xgamma import testing
    >>> ds = xg.reduce(testing.make_observation(n_events=3000), testing.make_wcs_geom(width=2.0, binsz=0.1))
    >>> res = asmooth(ds, scales=[0.1, 0.2, 0.4], threshold=3)
    >>> dict(res.scale.sizes), bool(res.scale.min() == 0.1)   # the source gets the smallest scale
    ({'energy': 1, 'y': 20, 'x': 20}, True)
    """
    if "obs" in dataset.dims:
        raise ValueError("asmooth needs a single dataset: stack the observations first (xgamma.stack)")
    if "pix" in dataset.dims:
        raise GeometryError("asmooth needs a WCS map dataset (sky dims y, x), got a HEALPix one (dim pix)")
    if kernel not in _KERNELS:
        raise ValueError(f"kernel must be one of {_KERNELS}, got {kernel!r}")
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, got {method!r}")
    sc = np.atleast_1d(np.asarray(getattr(scales, "to_value", lambda u: scales)("deg"), float))
    if sc.ndim != 1 or sc.size == 0 or np.any(sc <= 0) or np.any(np.diff(sc) <= 0):
        raise ValueError(f"scales must be positive and strictly increasing [deg], got {sc.tolist()}")
    spec = default_reference() if spectral_model is None else spectral_model
    groups, axis = energy_groups(dataset, energy_edges)
    mask = dataset_mask(dataset)
    mask_img = np.stack([mask[g].any(axis=0) for g in groups])
    counts = band_images(map_values(dataset["counts"]), groups, mask)
    if is_onoff(dataset):
        off = map_values(dataset["counts_off"])
        alpha = map_values(dataset["alpha"]) if "alpha" in dataset else map_values(dataset["acceptance"]) / np.where(
            map_values(dataset["acceptance_off"]) > 0, map_values(dataset["acceptance_off"]), np.inf)
        bkg_cube = np.where(off > 0, alpha * off, 0.0)
    elif "background" in dataset:
        bkg_cube = map_values(dataset["background"])
    else:
        raise ValueError("asmooth needs a 'background' (or ON/OFF 'counts_off' and 'alpha') variable")
    background = band_images(bkg_cube, groups, mask)
    flux = None
    if "exposure" in dataset:
        expo = _reco_exposure(dataset, groups, mask, spec, axis.energy_min.values, axis.energy_max.values)
        with np.errstate(divide="ignore", invalid="ignore"):
            flux = np.where(expo > 0, (counts - background) / expo, 0.0)
    kernels = [asmooth_kernel(s / pixel_scale(dataset), kernel) for s in sc]
    bands = [_smooth_band(counts[b], background[b], None if flux is None else flux[b], kernels, sc,
                          float(threshold), method) for b in range(len(groups))]
    units = {"counts": "", "background": "", "flux": "cm-2 s-1", "scale": "deg", "sqrt_ts": "", "significant": ""}
    dims = ("energy", "y", "x")
    data_vars = {}
    for name, unit in units.items():
        arr = np.stack([b[name] for b in bands])
        if name == "significant":
            arr = arr & mask_img
        else:
            arr = np.where(mask_img, arr, np.nan)
        data_vars[name] = xr.Variable(dims, arr, attrs={"units": unit} if name != "significant" else {})
    coords = {k: axis.coords[k].variable for k in ("energy", "energy_min", "energy_max")}
    coords.update(sky_coords(dataset))
    attrs = {**geometry_attrs(dataset), "estimator": "asmooth", "kernel": kernel, "threshold": float(threshold),
             "method": method, "scales": sc.tolist()}
    return xr.Dataset(data_vars, coords=coords, attrs=attrs)


def plot_asmooth(result: xr.Dataset, variable: str = "flux", energy_index: int = 0, ax: Any = None,
                 **kwargs: Any) -> Any:
    """Plot one image of an :func:`asmooth` result on WCSAxes (``flux``, ``counts``, ``scale``...).

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> import xgamma as xg
    >>> from xgamma import testing
    >>> ds = xg.reduce(testing.make_observation(n_events=2000), testing.make_wcs_geom(width=2.0, binsz=0.1))
    >>> ax = plot_asmooth(asmooth(ds, [0.1, 0.3], threshold=3), "scale")
    >>> len(ax.images)
    1
    """

    da = result[variable].isel(energy=energy_index)
    da = da.assign_attrs({**result.attrs, **da.attrs})
    kwargs.setdefault("cmap", "viridis" if variable == "scale" else "afmhot")
    return plot_map(da, ax=ax, **kwargs)
