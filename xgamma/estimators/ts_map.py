"""TS maps: the likelihood-ratio test of a source kernel at every pixel, fast and tiled.

Per energy band (default: one band summing all reco-energy bins inside the safe mask, like
Gammapy's ``TSMapEstimator`` with ``sum_over_energy_groups=True``), images of the counts
``n``, the background ``B`` (the dataset's background, or the predicted counts of ``models``:
a TS map of the residual sky) and the reference counts ``X`` (exposure x reference spectrum
folded with the energy dispersion, :func:`~xgamma.estimators.excess_map.reference_npred`) are
formed. The kernel ``K`` is the source model (spatial model at the map centre x spectral
model) folded through exposure (a constant), PSF and energy dispersion at the map centre with
:func:`xgamma.fold_map.npred_map`, summed over the band's energies and normalised to sum 1.

At pixel ``p`` the model is ``mu_i = B_i + s X_i K(i - p)`` (Gammapy's ``SimpleMapDataset``:
the exposure of each kernel pixel) and the Cash statistic is minimised in the flux norm ``s``
(relative to the source model's spectrum), for all pixels at once:

* the sums that do not depend on ``s`` (``sum X K``, the Gaussian first guess, ``sum B``,
  ``sum n log B``) are FFT correlations;
* the terms with counts, ``sum_i n_i r_ip / (1 + s r_ip)`` with ``r_ip = X_i K(i - p) / B_i``,
  are evaluated on the (pixel, counts-pixel) pairs within the kernel (counts maps are sparse)
  and summed per pixel with ``numpy.bincount``;
* a safeguarded Newton iteration (Newton steps inside a per-pixel bracket, bisection when a
  step leaves it) runs on all pixels together until every pixel's step is below ``rtol`` of
  its error; converged pixels are frozen, so each pixel's result does not depend on the others.

The norm may be negative (Gammapy's convention) down to ``-min(B/X) / max(K)`` over the
kernel window, a sufficient condition for ``mu >= 0`` in every bin (Gammapy uses the exact
``-min(B / (X K))``, slightly lower; the two only differ for strongly negative fluctuations).
``ts = stat_null - stat`` and ``sqrt_ts = sign(norm) sqrt(ts)``. The upper limit is the norm
above the best fit where the statistic rises by ``n_sigma_ul**2`` (Newton on the profile).

``downsampling_factor`` sums the images in blocks (and draws the kernel on the coarse pixels)
and repeats the results back on the fine pixels. Sky tiles (``tile_size``) with an overlap of
the kernel radius are independent ``dask.delayed`` tasks run by the active dask scheduler;
the result equals the untiled one to rounding (the FFT sums differ in the last digits).

Examples
--------
>>> import xgamma as xg
>>> from xgamma import testing
>>> ds = xg.reduce(testing.make_observation(n_events=3000), testing.make_wcs_geom(width=2.0, binsz=0.1))
>>> res = ts_map(ds)
>>> bool(float(res.ts.max()) > 25)      # the synthetic source
True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from xgamma import sky
from xgamma.axes import edges
from xgamma.errors import GeometryError
from xgamma.estimators.core import estimator_result
from xgamma.estimators.excess_map import (
    band_images,
    correlate,
    energy_groups,
    pixel_scale,
    reference_npred,
)
from xgamma.estimators.flux_points import BinLikelihood
from xgamma.estimators.images import (
    dataset_mask,
    geometry_attrs,
    map_npred_background,
    map_values,
    sky_coords,
)
from xgamma.fitting.fold_hpx import HpxMapEvaluator
from xgamma.fitting.fold_map import npred_map, psf_containment_radius
from xgamma.models.components import Models, SkyModel
from xgamma.models.spatial import spatial_model
from xgamma.models.spectral import spectral_model

__all__ = ["ts_map", "ts_map_hpx", "ts_kernel", "default_ts_model", "solve_ts"]

_TINY = 1e-300


def default_ts_model() -> SkyModel:
    """Point source with a power law of index 2 (1e-12 cm-2 s-1 TeV-1 at 1 TeV).

    Examples
    --------
    >>> default_ts_model().spatial.is_point
    True
    """
    return SkyModel("ts-kernel", spectral_model("pl", index=2.0, amplitude=1e-12, reference=1.0),
                    spatial_model("point"))


# --------------------------------------------------------------------------------------------
# kernel


def _kernel_dataset(dataset: xr.Dataset, binsz: float, half: int) -> xr.Dataset:
    """A (2 half + 1)^2 map at the dataset's centre with a constant exposure (the mean non-zero
    exposure per true energy), the dataset's PSF and edisp, no counts or background."""
    c = sky.center(dataset)
    frame = sky.frame_of(dataset)
    proj = sky.wcs_of(dataset).wcs.ctype[0][-3:]
    n = 2 * half + 1
    lon, lat = (c.ra.deg, c.dec.deg) if frame == "icrs" else (c.l.deg, c.b.deg)
    geom = sky.wcs_geom((lon, lat), n * binsz, binsz, frame=frame, proj=proj)
    expo = map_values(dataset["exposure"], ("energy_true", "y", "x"))
    with np.errstate(invalid="ignore"):
        mean = np.array([e[e > 0].mean() if np.any(e > 0) else 0.0 for e in expo])
    et = dataset["energy_true"]
    e = dataset["energy"]
    shape = (e.size, n, n)
    ds = xr.Dataset(
        {"counts": (("energy", "y", "x"), np.zeros(shape)),
         "background": (("energy", "y", "x"), np.zeros(shape)),
         "exposure": (("energy_true", "y", "x"), np.broadcast_to(mean[:, None, None], (et.size, n, n)).copy()),
         "mask_safe": (("energy", "y", "x"), np.ones(shape, bool))},
        coords={**{k: v for k, v in geom.coords.items()}, **{k: dataset.coords[k] for k in dataset.coords
                                                           if set(dataset.coords[k].dims) <= {"energy", "energy_true"}}},
        attrs={**geom.attrs, "name": "ts-kernel"})
    for v in ("psf", "edisp"):
        if v in dataset:
            ds[v] = dataset[v]
    if "wcs_irf" in dataset.attrs:
        ds.attrs["wcs_irf"] = dataset.attrs["wcs_irf"]
    return ds


def ts_kernel(dataset: xr.Dataset, model: SkyModel | None = None, kernel_width: float | None = None,
              binsz: float | None = None, energy_edges: Any = None) -> np.ndarray:
    """Source kernel ``(band, ny, nx)`` (odd size, each band normalised to sum 1): the model at
    the map centre folded with a constant exposure, the PSF and energy dispersion there, summed
    over the reco-energy bins of each band.

    ``kernel_width`` [deg] is the full width; default: twice the radius containing 95 % of the
    PSF weighted by exposure x spectrum (plus the model's evaluation radius), at most the map
    size (on the Crab field a wider kernel changes the peak TS by < 0.1 % and costs much more).

    Examples
    --------
    >>> import xgamma as xg
    >>> from xgamma import testing
    >>> ds = xg.reduce(testing.make_observation(n_events=100), testing.make_wcs_geom(width=2.0, binsz=0.1))
    >>> k = ts_kernel(ds, kernel_width=1.0)
    >>> k.shape, round(float(k.sum()), 6), bool(k[0, 5, 5] == k.max())
    ((1, 11, 11), 1.0, True)
    """

    model = default_ts_model() if model is None else model
    pix = pixel_scale(dataset) if binsz is None else float(binsz)
    c = sky.center(dataset)
    lon, lat = (c.ra.deg, c.dec.deg) if sky.frame_of(dataset) == "icrs" else (c.l.deg, c.b.deg)
    spatial = model.spatial if model.spatial is not None else spatial_model("point")
    if spatial.frame != sky.frame_of(dataset):
        spatial = spatial_model(spatial.type, frame=sky.frame_of(dataset),
                                **dict(zip(spatial.parameters.names, spatial.parameters.values, strict=True)))
    spatial = spatial.with_values(lon_0=lon, lat_0=lat)
    if kernel_width is None:
        radius = 0.0
        if "psf" in dataset:
            p = dataset["psf"]
            if "y_irf" in p.dims:
                p = p.isel(y_irf=p.sizes["y_irf"] // 2, x_irf=p.sizes["x_irf"] // 2)
            prof = np.asarray(p.transpose("energy_true", "rad").values, float)
            et = edges(dataset, "energy_true")
            flux = np.asarray(model.spectral.integral_values(et[:-1], et[1:], list(model.spectral.parameters.values)))
            w = np.asarray(dataset["exposure"].max(("y", "x")).values, float) * flux
            prof = (prof * w[:, None]).sum(axis=0) / max(float(w.sum()), _TINY)
            radius = float(psf_containment_radius(prof, edges(dataset["psf"], "rad"), 0.95))
        radius += float(spatial.evaluation_radius or 0.0)
        kernel_width = 2 * max(radius, pix)
    nmax = max(dataset.sizes["y"], dataset.sizes["x"])
    half = int(min(math.ceil(0.5 * float(kernel_width) / pix), nmax))
    kds = _kernel_dataset(dataset, pix, half)
    src = SkyModel("ts-kernel", model.spectral, spatial)
    npred = map_values(npred_map(kds, Models([src])))
    groups, _ = energy_groups(dataset, energy_edges)
    k = np.stack([npred[g].sum(axis=0) for g in groups])
    tot = k.sum(axis=(1, 2), keepdims=True)
    return k / np.where(tot > 0, tot, 1.0)


# --------------------------------------------------------------------------------------------
# the per-pixel fit


class _Pairs:
    """(pixel, counts-pixel) pairs within the kernel for the output pixels of an image: flat
    output index ``idx``, ratio ``r = w_c K(c - p)`` and ``cr = n_c r``; :meth:`subset` keeps
    the pairs of some pixels (the iterations only work on the pixels not yet converged)."""

    def __init__(self, idx: np.ndarray, r: np.ndarray, cr: np.ndarray, cnt: np.ndarray, npix: int) -> None:
        self.idx, self.r, self.cr, self.cnt, self.npix = idx, r, cr, cnt, npix

    @classmethod
    def build(cls, n: np.ndarray, w: np.ndarray, kernel: np.ndarray, out: tuple[slice, slice]) -> _Pairs:
        ny_o, nx_o = out[0].stop - out[0].start, out[1].stop - out[1].start
        cy, cx = np.nonzero(n > 0)
        nc, wc = n[cy, cx], w[cy, cx]
        h = kernel.shape[0] // 2
        dy, dx = np.nonzero(kernel > 0)
        kv = kernel[dy, dx]
        dy, dx = dy - h, dx - h
        idx_parts, r_parts, c_parts = [], [], []
        # offsets row by row: p = c - d must fall in the output box
        for oy in np.unique(dy):
            sel_d = dy == oy
            py = cy - oy - out[0].start
            keep_c = (py >= 0) & (py < ny_o)
            if not keep_c.any():
                continue
            pyc, cxc, ncc, wcc = py[keep_c], cx[keep_c], nc[keep_c], wc[keep_c]
            px = cxc[None, :] - dx[sel_d][:, None] - out[1].start
            ok = (px >= 0) & (px < nx_o)
            idx_parts.append((pyc[None, :] * nx_o + px)[ok])
            r_parts.append((kv[sel_d][:, None] * wcc[None, :])[ok])
            c_parts.append(np.broadcast_to(ncc[None, :], ok.shape)[ok])
        if idx_parts:
            idx, r, cnt = np.concatenate(idx_parts), np.concatenate(r_parts), np.concatenate(c_parts)
        else:
            idx, r, cnt = np.zeros(0, np.intp), np.zeros(0), np.zeros(0)
        return cls(idx.astype(np.intp), r, cnt * r, cnt, ny_o * nx_o)

    def subset(self, pixels: np.ndarray) -> _Pairs:
        keep = pixels[self.idx]
        return _Pairs(self.idx[keep], self.r[keep], self.cr[keep], self.cnt[keep], self.npix)

    def sums(self, s: np.ndarray, log: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Per pixel ``sum n r / (1 + s r)``, ``sum n r^2 / (1 + s r)^2`` and, with ``log``,
        ``sum n log(1 + s r)``."""
        q = 1.0 + s[self.idx] * self.r
        t = self.cr / q
        f = np.bincount(self.idx, t, self.npix)
        g = np.bincount(self.idx, t * (self.r / q), self.npix)
        lg = np.bincount(self.idx, self.cnt * np.log(q), self.npix) if log else None
        return f, g, lg

    def log_sum(self, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per pixel ``sum n r / (1 + s r)`` and ``sum n log(1 + s r)``."""
        q = 1.0 + s[self.idx] * self.r
        return np.bincount(self.idx, self.cr / q, self.npix), np.bincount(self.idx, self.cnt * np.log(q), self.npix)


def solve_ts(n: np.ndarray, b: np.ndarray, x: np.ndarray, kernel: np.ndarray, out: tuple[slice, slice] | None = None,
             n_sigma: float = 1.0, n_sigma_ul: float | None = 2.0, rtol: float = 1e-6, max_iter: int = 50,
             threshold: float | None = None) -> dict[str, np.ndarray]:
    """Fit the kernel norm at every pixel of ``out`` (default: all) of 2D images ``n``
    (counts), ``b`` (background) and ``x`` (reference counts); pixels with ``b <= 0`` or ``x <= 0``
    are ignored as data. Returns arrays over ``out``: ``norm``, ``norm_err``, ``norm_ul``,
    ``ts``, ``stat``, ``stat_null``, ``npred``, ``npred_excess``, ``counts``, ``niter``,
    ``success``.

    Examples
    --------
    >>> k = np.zeros((3, 3)); k[1, 1] = 1.0                   # one-pixel kernel
    >>> n = np.full((3, 3), 10.0); b = np.full((3, 3), 5.0); x = np.ones((3, 3))
    >>> r = solve_ts(n, b, x, k)
    >>> float(r["norm"][1, 1]), round(float(r["ts"][1, 1]), 4)    # s = n - b, TS = 2 (n log(n/b) - (n - b))
    (5.0, 3.8629)
    """
    from scipy.ndimage import minimum_filter

    ny, nx = n.shape
    out = (slice(0, ny), slice(0, nx)) if out is None else out
    good = (b > 0) & (x > 0) & np.isfinite(b) & np.isfinite(x)
    n = np.where(good, n, 0.0)
    b = np.where(good, b, 0.0)
    x = np.where(good, x, 0.0)
    ys, xs = out
    shp = (ys.stop - ys.start, xs.stop - xs.start)
    npix = shp[0] * shp[1]

    def corr(img: np.ndarray, k: np.ndarray = kernel) -> np.ndarray:
        return correlate(img, k)[ys, xs].ravel()

    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.where(good, x / np.where(good, b, 1.0), 0.0)
        sum_m = corr(x)
        sum_b = corr(b)
        sum_nlogb = corr(np.where(n > 0, n * np.log(np.where(good, b, 1.0)), 0.0))
        guess = corr(np.where(good, (n - b) * w, 0.0)) / corr(np.where(good, x * w, 0.0), kernel**2)
    pairs = _Pairs.build(n, w, kernel, out)
    n_win = np.bincount(pairs.idx, pairs.cnt, npix)
    # bracket: below, mu >= 0 in every bin of the window (sufficient condition); above, the
    # derivative is >= 0 at sum(n) / sum(M)
    h = kernel.shape[0] // 2
    ratio = np.where(good, b / np.where(good, x, 1.0), np.inf)
    rmin = minimum_filter(ratio, size=2 * h + 1, mode="constant", cval=np.inf)[ys, xs].ravel()
    # (nudged up by 1e-10: the bound itself can be a pole of the statistic)
    lo = np.where(np.isfinite(rmin), -rmin / float(kernel.max()), 0.0) * (1 - 1e-10)
    with np.errstate(divide="ignore", invalid="ignore"):
        hi = np.where(sum_m > 0, n_win / sum_m, 0.0)
    valid = sum_m > 0
    empty = valid & (n_win <= 0)
    s = np.clip(np.nan_to_num(guess), lo + 1e-3 * (hi - lo), hi)
    s = np.where(empty | ~valid, lo, s)
    active = valid & ~empty
    niter = np.zeros(npix, int)
    if threshold is not None:
        _, lg0 = pairs.log_sum(s)
        active &= 2 * (lg0 - s * sum_m) > threshold
    work = pairs
    if active.any():
        # the root lies below the lower bound: the norm is the bound (Gammapy's clipping)
        with np.errstate(divide="ignore", invalid="ignore"):
            f0, _, _ = work.sums(lo)
        at_bound = active & (sum_m - f0 >= 0)
        s = np.where(at_bound, lo, s)
        niter = np.where(at_bound, 1, niter)
        active &= ~at_bound
    success = ~active
    n_work = npix
    for it in range(max_iter):
        n_act = int(active.sum())
        if n_act == 0:
            break
        if work.idx.size and n_act < 0.5 * n_work:
            work, n_work = work.subset(active), n_act
        f, g, _ = work.sums(s)
        d = sum_m - f  # half the Cash derivative
        hi = np.where(active & (d > 0), s, hi)
        lo = np.where(active & (d < 0), s, lo)
        with np.errstate(divide="ignore", invalid="ignore"):
            new = s - d / g
            err = 1.0 / np.sqrt(g)
        bad = ~np.isfinite(new) | (new <= lo) | (new >= hi)
        new = np.where(bad, 0.5 * (lo + hi), new)
        done = active & ((np.abs(new - s) <= rtol * np.where(np.isfinite(err), err, np.abs(s) + 1.0))
                         | (hi - lo <= 1e-12 * (np.abs(s) + 1.0)))
        s = np.where(active, new, s)
        niter = np.where(active, it + 1, niter)
        success |= done
        active &= ~done
    _, g, lg = pairs.sums(s, log=True)
    assert lg is not None
    with np.errstate(divide="ignore", invalid="ignore"):
        sigma = 1.0 / np.sqrt(g)
    ts = 2 * (lg - s * sum_m)
    stat_null = 2 * (sum_b - sum_nlogb)
    res = {"norm": s, "norm_err": n_sigma * sigma, "ts": ts, "stat_null": stat_null, "stat": stat_null - ts,
           "npred": sum_b + s * sum_m, "npred_excess": s * sum_m, "counts": n_win, "niter": niter,
           "success": success}
    if n_sigma_ul is not None:
        res["norm_ul"] = _upper_limit(s, lg, sigma, sum_m, pairs, valid, float(n_sigma_ul), rtol, max_iter)
    return {k: np.where(valid, v, np.nan if v.dtype.kind == "f" else v).reshape(shp) for k, v in res.items()}


def _upper_limit(s_best: np.ndarray, lg_best: np.ndarray, sigma: np.ndarray, sum_m: np.ndarray, pairs: _Pairs,
                 valid: np.ndarray, n_sigma_ul: float, rtol: float, max_iter: int) -> np.ndarray:
    """Norm above the best fit where the statistic rises by ``n_sigma_ul^2``: Newton on the
    convex profile, started right of the root (then it converges monotonically)."""
    target = n_sigma_ul**2
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(np.isfinite(sigma) & (sigma > 0), sigma, 1.0 / np.where(sum_m > 0, sum_m, 1.0))
    s = s_best + 1.5 * n_sigma_ul * scale
    lo = s_best.copy()
    active = valid.copy()
    work, n_work = pairs, pairs.npix
    for _ in range(max_iter + 60):
        n_act = int(active.sum())
        if n_act == 0:
            break
        if work.idx.size and n_act < 0.5 * n_work:
            work, n_work = work.subset(active), n_act
        f, lg = work.log_sum(s)
        dstat = 2 * ((s - s_best) * sum_m - (lg - lg_best)) - target
        left = active & (dstat < 0)  # left of the root: move right
        lo = np.where(left, s, lo)
        with np.errstate(divide="ignore", invalid="ignore"):
            new = s - dstat / (2 * (sum_m - f))
        new = np.where(left, s + 2 * (s - s_best) + scale, np.where(np.isfinite(new) & (new > lo), new,
                                                                      0.5 * (lo + s)))
        done = active & ~left & (np.abs(new - s) <= rtol * scale)
        s = np.where(active, new, s)
        active &= ~done
    return s


# --------------------------------------------------------------------------------------------
# driver


def _block_sum(img: np.ndarray, f: int) -> np.ndarray:
    ny, nx = img.shape[-2:]
    py, px = (-ny) % f, (-nx) % f
    a = np.pad(img, [(0, 0)] * (img.ndim - 2) + [(0, py), (0, px)])
    return a.reshape(*a.shape[:-2], (ny + py) // f, f, (nx + px) // f, f).sum(axis=(-3, -1))


def _tiles(shape: tuple[int, int], tile: int | None) -> list[tuple[slice, slice]]:
    ny, nx = shape
    if not tile or tile >= max(ny, nx):
        return [(slice(0, ny), slice(0, nx))]
    return [(slice(y, min(y + tile, ny)), slice(x, min(x + tile, nx)))
            for y in range(0, ny, tile) for x in range(0, nx, tile)]


def _solve_tile(n: np.ndarray, b: np.ndarray, x: np.ndarray, kernel: np.ndarray, tile: tuple[slice, slice],
                kwargs: dict[str, Any]) -> dict[str, np.ndarray]:
    h = kernel.shape[0] // 2
    ny, nx = n.shape
    y0, y1 = max(tile[0].start - h, 0), min(tile[0].stop + h, ny)
    x0, x1 = max(tile[1].start - h, 0), min(tile[1].stop + h, nx)
    cut = (slice(y0, y1), slice(x0, x1))
    out = (slice(tile[0].start - y0, tile[0].stop - y0), slice(tile[1].start - x0, tile[1].stop - x0))
    return solve_ts(n[cut], b[cut], x[cut], kernel, out, **kwargs)


def ts_map(dataset: xr.Dataset, model: SkyModel | None = None, kernel_width: float | None = None,
           downsampling_factor: int | None = None, n_sigma: float = 1.0, n_sigma_ul: float = 2.0,
           threshold: float | None = None, energy_edges: Any = None, models: Any = None,
           tile_size: int | None = 64, rtol: float = 1e-6,
           selection_optional: Sequence[str] | None = None) -> xr.Dataset:
    """TS map: fitted norm of a source kernel, its TS, error and upper limit at every pixel.

    On a HEALPix dataset (sky dim ``pix``) :func:`ts_map_hpx` does the work.

    Parameters
    ----------
    dataset : xarray.Dataset
        3D reduced dataset (no ``obs`` dim: stack first).
    model : SkyModel, optional
        The source whose norm is fitted (its position is ignored); default
        :func:`default_ts_model` (point source, power law index 2). The norm is relative to
        its spectrum.
    kernel_width : float, optional
        Full width of the kernel [deg] (see :func:`ts_kernel`).
    downsampling_factor : int, optional
        Sum the images in blocks of this many pixels and compute on the coarse grid.
    n_sigma, n_sigma_ul : float
        Error and upper-limit confidence.
    threshold : float, optional
        Skip the fit where the TS of the first guess is below this (norm = first guess).
    energy_edges : array-like, optional
        Energy bands [TeV]; default one band.
    models : Models, optional
        Models already in the dataset: their predicted counts (with the background model) are
        the background of the test.
    tile_size : int, optional
        Output tile size [pixels] of the dask tasks (``None``: one task).
    rtol : float
        Convergence: Newton step below ``rtol`` times the norm error.
    selection_optional : sequence of str, optional
        ``["ul"]`` (or ``"all"``) also computes ``norm_ul`` (Gammapy's option; costs about as
        much as the fit).

    Returns
    -------
    xarray.Dataset
        Estimator result (dims ``energy`` (bands), ``y``, ``x``): ``norm``, ``norm_err``,
        ``norm_ul``, ``ts``, ``sqrt_ts``, ``stat``, ``stat_null``, ``npred``, ``npred_excess``,
        ``counts``, ``niter``, ``success`` and the reference fluxes; NaN outside the mask.

    Examples
    --------
    >>> import xgamma as xg
    >>> from xgamma import testing
    >>> ds = xg.reduce(testing.make_observation(n_events=3000), testing.make_wcs_geom(width=2.0, binsz=0.1))
    >>> res = ts_map(ds, kernel_width=0.6, selection_optional=["ul"])
    >>> sorted(k for k in ("norm", "ts", "sqrt_ts", "norm_ul", "niter") if k in res)
    ['niter', 'norm', 'norm_ul', 'sqrt_ts', 'ts']
    """
    import dask

    if "obs" in dataset.dims:
        raise ValueError("ts_map needs a single dataset: stack the observations first (xgamma.stack)")
    model = default_ts_model() if model is None else model
    if "pix" in dataset.dims:
        if downsampling_factor not in (None, 1) or kernel_width is not None:
            raise GeometryError("ts_map on a HEALPix dataset takes no kernel_width/downsampling_factor "
                                "(the source is folded at every pixel)")
        return ts_map_hpx(dataset, model, n_sigma=n_sigma, n_sigma_ul=n_sigma_ul, energy_edges=energy_edges,
                          models=models, selection_optional=selection_optional)
    groups, axis = energy_groups(dataset, energy_edges)
    mask = dataset_mask(dataset)
    mask_img = np.stack([mask[g].any(axis=0) for g in groups])
    n_img = band_images(map_values(dataset["counts"]), groups, mask)
    b_img = band_images(map_npred_background(dataset, models), groups, mask)
    x_img = band_images(reference_npred(dataset, model.spectral), groups, mask)
    f = int(downsampling_factor or 1)
    pix = pixel_scale(dataset)
    kernel = ts_kernel(dataset, model, kernel_width, binsz=pix * f, energy_edges=energy_edges)
    if f > 1:
        n_img, b_img, x_img = (_block_sum(a, f) for a in (n_img, b_img, x_img))
    sel = ["ul"] if selection_optional == "all" else list(selection_optional or [])
    kwargs = {"n_sigma": n_sigma, "n_sigma_ul": n_sigma_ul if "ul" in sel else None, "threshold": threshold,
              "rtol": rtol}
    shape = n_img.shape[1:]
    tiles = _tiles(shape, None if tile_size is None else max(1, tile_size // f))
    tasks = [[dask.delayed(_solve_tile)(n_img[i], b_img[i], x_img[i], kernel[i], t, kwargs) for t in tiles]
             for i in range(len(groups))]
    computed = dask.compute(*tasks)
    data: dict[str, list[np.ndarray]] = {}
    for band in computed:
        first = band[0]
        for key in first:
            full = np.empty(shape, dtype=first[key].dtype)
            for t, part in zip(tiles, band, strict=True):
                full[t] = part[key]
            data.setdefault(key, []).append(full)
    ny, nx = dataset.sizes["y"], dataset.sizes["x"]
    out: dict[str, np.ndarray] = {}
    for key, lst in data.items():
        arr = np.stack(lst)
        if f > 1:
            arr = np.repeat(np.repeat(arr, f, axis=1), f, axis=2)[:, :ny, :nx]
        if arr.dtype.kind == "f":
            arr = np.where(mask_img, arr, np.nan)
        out[key] = arr
    out["success"] = out["success"].astype(bool) & mask_img
    res = estimator_result(out, axis, model.spectral, dims=("energy", "y", "x"), coords=sky_coords(dataset),
                           n_sigma=n_sigma, n_sigma_ul=n_sigma_ul,
                           attrs={**geometry_attrs(dataset), "estimator": "ts_map",
                                  "kernel_width": float(kernel.shape[-1] * pix * f),
                                  "downsampling_factor": f})
    return res


def ts_map_hpx(dataset: xr.Dataset, model: SkyModel | None = None, n_sigma: float = 1.0, n_sigma_ul: float = 2.0,
               energy_edges: Any = None, models: Any = None,
               selection_optional: Sequence[str] | None = None) -> xr.Dataset:
    """TS map of a HEALPix dataset: at every pixel centre the source ``model`` is folded with
    :class:`xgamma.fitting.fold_hpx.HpxMapEvaluator` (exposure, PSF and edisp at that position,
    on the sphere) and its norm fitted by Cash over the band's bins inside the mask
    (:class:`xgamma.estimators.flux_points.BinLikelihood`, the background fixed: the dataset's
    ``background`` or the predicted counts of ``models``).

    The cost is one source folding per pixel (dense ``(energy, pix)`` predictions): meant for
    partial-sky maps of up to a few thousand pixels. Parameters and result as :func:`ts_map`
    (dims ``energy`` (bands), ``pix``); ``niter`` is not computed.

    Examples
    --------
    >>> from xgamma.fitting.fold_hpx import example_hpx_dataset
    >>> ds = example_hpx_dataset(nside=64)
    >>> ds = ds.assign(counts=ds.background * 0 + 1.0)   # 10 x the background everywhere
    >>> res = ts_map_hpx(ds)
    >>> dict(res.ts.sizes), bool((res.ts > 0).all())
    ({'energy': 1, 'pix': 61}, True)
    """
    if "obs" in dataset.dims or "event_type" in dataset.dims:
        raise ValueError("ts_map needs a single dataset: stack first (xgamma.stack, event_types='sum')")
    model = default_ts_model() if model is None else model
    groups, axis = energy_groups(dataset, energy_edges)
    mask = dataset_mask(dataset)
    mask_img = np.stack([mask[g].any(axis=0) for g in groups])
    n = map_values(dataset["counts"], ("energy", "pix"))
    b = map_npred_background(dataset, models)
    name = model.name
    test = Models([SkyModel(name, model.spectral, model.spatial)])
    ev = HpxMapEvaluator(dataset.assign_attrs(name=""), test)
    v = test.parameters.values.copy()
    names = list(test.parameters.names)
    ilon, ilat = names.index(f"{name}.spatial.lon_0"), names.index(f"{name}.spatial.lat_0")
    frame = str(getattr(model.spatial, "frame", "icrs"))
    c = sky.skycoord(dataset).transform_to(frame).spherical
    lon, lat = np.asarray(c.lon.deg, float), np.asarray(c.lat.deg, float)
    sel = ["ul"] if selection_optional == "all" else list(selection_optional or [])
    kw: dict[str, Any] = {"n_sigma": n_sigma, "n_sigma_ul": n_sigma_ul, "norm_scan": None,
          "optional": ("ul",) if "ul" in sel else ()}
    keys = ("norm", "norm_err", "norm_ul", "ts", "stat", "stat_null", "npred", "npred_excess", "counts")
    out = {k: np.full(mask_img.shape, np.nan) for k in keys}
    success = np.zeros(mask_img.shape, bool)
    for p in np.flatnonzero(mask_img.any(axis=0)):
        v[ilon], v[ilat] = lon[p], lat[p]
        src = ev.npred_sources(v)
        for i, g in enumerate(groups):
            if not mask_img[i, p]:
                continue
            m = mask[g] & (src[g] > 0)
            if not m.any():
                continue
            r = BinLikelihood(n[g][m], src[g][m], b[g][m]).solve(**kw)
            for k in keys:
                if k in r:
                    out[k][i, p] = r[k]
            success[i, p] = bool(r["success"])
    out["success"] = success
    if "ul" not in sel:
        del out["norm_ul"]
    return estimator_result(out, axis, model.spectral, dims=("energy", "pix"), coords=sky_coords(dataset),
                            n_sigma=n_sigma, n_sigma_ul=n_sigma_ul,
                            attrs={**geometry_attrs(dataset), "estimator": "ts_map"})
