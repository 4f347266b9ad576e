"""Correlated excess and significance maps of 3D datasets, peak finding, significance histograms.

:func:`excess_map` follows the semantics of Gammapy's ``ExcessMapEstimator``:

1. the reco-energy bins are grouped into bands (``energy_edges`` snap to the dataset's bin
   edges; default: one band over the whole axis); counts, background (the dataset's
   ``background``, or the predicted counts of a ``model`` with its background when given: the
   excess is then the excess over the model) and, for ON/OFF (ring) datasets, ``counts_off``
   and the ``alpha``-weighted background are summed over each band inside ``mask_safe`` (and
   ``mask_fit``);
2. each band image is correlated with a top-hat disk (astropy's ``Tophat2DKernel`` normalised
   to its peak: weight 1 for the pixels whose centre lies within ``correlation_radius`` of the
   centre pixel's, radius in pixels = radius / mean ``|CDELT|``); on a HEALPix geometry (sky
   dim ``pix``) the disk is on the sphere: the sum over the map's pixels whose centres lie
   within ``correlation_radius`` (angular separation) of the pixel's centre
   (:func:`hpx_tophat_matrix`, a sparse neighbour matrix);
3. per pixel: ``sqrt_ts`` = Cash significance of the correlated counts over the correlated
   background (signed), or Li & Ma (WStat) with ``alpha = background_corr / counts_off_corr``
   for ON/OFF data; ``npred_excess = counts - background``; profile-likelihood errors and
   upper limits on the excess (:func:`xgamma.stats.counts_errn` etc.);
4. the flux normalisation relative to the reference spectrum (power law of index 2,
   amplitude 1e-12 cm-2 s-1 TeV-1 at 1 TeV by default): ``norm = npred_excess / npred_ref``
   where ``npred_ref`` is the counts the reference spectrum would give if all its flux fell in
   one pixel (exposure x spectrum folded with the energy dispersion at the map centre),
   averaged over the safe pixels of the kernel. :func:`xgamma.estimators.core.to_sed_type`
   turns the result into flux maps.

The result is the common estimator Dataset (:mod:`xgamma.estimators.core`) with dims
``(energy, y, x)`` (``(energy, pix)`` on HEALPix; energy = the bands), NaN outside the mask.

Examples
--------
>>> import numpy as np, xgamma as xg
>>> from xgamma import testing
>>> ds = xg.reduce(testing.make_observation(n_events=2000), testing.make_wcs_geom(width=2.0, binsz=0.1))
>>> res = excess_map(ds, correlation_radius=0.2)
>>> dict(res.sqrt_ts.sizes)
{'energy': 1, 'y': 20, 'x': 20}
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from xgamma import sky, stats
from xgamma.axes import axis_from_edges, edges
from xgamma.estimators.core import estimator_result
from xgamma.estimators.images import (
    dataset_mask,
    geometry_attrs,
    image_sky_dims,
    is_onoff,
    map_npred_background,
    map_values,
    sky_coords,
)
from xgamma.fitting.fold_map import npred_map
from xgamma.models.spectral import SpectralModelBase, spectral_model

__all__ = [
    "excess_map",
    "tophat_kernel",
    "hpx_tophat_matrix",
    "correlate_hpx",
    "energy_groups",
    "band_images",
    "reference_npred",
    "correlate",
    "find_peaks",
    "significance_distribution",
    "pixel_scale",
    "plot_significance_distribution",
    "default_reference",
]


def default_reference() -> SpectralModelBase:
    """The default reference spectrum: power law, index 2, 1e-12 cm-2 s-1 TeV-1 at 1 TeV.

    Examples
    --------
    >>> default_reference().parameters.values.tolist()
    [2.0, 1e-12, 1.0]
    """
    return spectral_model("pl", index=2.0, amplitude=1e-12, reference=1.0)


# --------------------------------------------------------------------------------------------
# kernels and correlation


def pixel_scale(obj: Any) -> float:
    """Mean absolute pixel size [deg] of a WCS map (mean ``|CDELT|``, as Gammapy).

    Examples
    --------
    >>> import xgamma as xg
    >>> pixel_scale(xg.wcs_geom((0, 0), 1, 0.02))
    0.02
    """
    w = sky.wcs_of(obj)
    return float(np.mean(np.abs([s.to_value("deg") for s in w.proj_plane_pixel_scales()])))


def tophat_kernel(radius_pix: float) -> np.ndarray:
    """Top-hat disk kernel: 1 where the pixel centre is within ``radius_pix`` of the centre.

    The grid is ``2 ceil(radius) + 1`` pixels wide (astropy's ``Tophat2DKernel`` evaluated at
    pixel centres and normalised to its peak).

    Examples
    --------
    >>> k = tophat_kernel(5.0)
    >>> k.shape, int(k.sum())
    ((11, 11), 81)
    """
    h = max(int(np.ceil(radius_pix - 1e-9)), 0)
    yy, xx = np.mgrid[-h:h + 1, -h:h + 1]
    return ((xx * xx + yy * yy) <= radius_pix * radius_pix * (1 + 1e-12)).astype(float)


def _kernel_runs(kernel: np.ndarray) -> list[tuple[int, int, int]] | None:
    """``(dy, x0, x1)`` per kernel row when the kernel is 0/1 with one run of ones per row (a
    top-hat disk), offsets from the centre; None otherwise."""
    k = np.asarray(kernel)
    if k.ndim != 2 or k.shape[0] % 2 == 0 or k.shape[1] % 2 == 0 or not np.isin(k, (0.0, 1.0)).all():
        return None
    hy, hx = k.shape[0] // 2, k.shape[1] // 2
    runs = []
    for i, row in enumerate(k):
        nz = np.flatnonzero(row)
        if nz.size == 0:
            continue
        if nz[-1] - nz[0] + 1 != nz.size:
            return None
        runs.append((i - hy, int(nz[0]) - hx, int(nz[-1]) - hx))
    return runs


def _correlate_runs(a: np.ndarray, runs: list[tuple[int, int, int]]) -> np.ndarray:
    """Sum over a kernel made of row runs of ones (zero padding): each run's sums along x come
    from one cumulative sum (the difference of two of its entries), then the rows are shifted
    and added; O(pixels x rows) instead of an FFT."""
    ny, nx = a.shape[-2:]
    h = max(max(-x0, x1) for _, x0, x1 in runs) + 1
    # cum[..., h + j] = sum of a[..., :j] for j in 0..nx, held constant beyond both ends
    cum = np.zeros(a.shape[:-1] + (nx + 2 * h + 1,))
    np.cumsum(a, axis=-1, out=cum[..., h + 1: h + nx + 1])
    cum[..., h + nx + 1:] = cum[..., h + nx: h + nx + 1]
    row_sums: dict[tuple[int, int], np.ndarray] = {}
    out = np.zeros(a.shape)
    for dy, x0, x1 in runs:
        if abs(dy) >= ny:
            continue
        r = row_sums.get((x0, x1))
        if r is None:  # sum of a[..., x + x0 : x + x1 + 1] within the image
            r = cum[..., h + x1 + 1: h + x1 + 1 + nx] - cum[..., h + x0: h + x0 + nx]
            row_sums[(x0, x1)] = r
        # out[y] += r[y + dy] where 0 <= y + dy < ny
        if dy >= 0:
            out[..., : ny - dy, :] += r[..., dy:, :]
        else:
            out[..., -dy:, :] += r[..., : ny + dy, :]
    return out


def correlate(images: np.ndarray, kernel: np.ndarray, integer: bool = False) -> np.ndarray:
    """Correlate images ``(..., ny, nx)`` with a symmetric kernel (same shape, zero padding);
    values below 1e-9 of the maximum are set to 0; ``integer`` rounds the result (counts).

    A 0/1 kernel with one run of ones per row (:func:`tophat_kernel`) is summed directly from
    cumulative sums along x (exact for counts); any other kernel by FFT.

    Examples
    --------
    >>> img = np.zeros((5, 5)); img[2, 2] = 3
    >>> correlate(img, tophat_kernel(1.0), integer=True)[1:4, 1:4].tolist()
    [[0.0, 3.0, 0.0], [3.0, 3.0, 3.0], [0.0, 3.0, 0.0]]
    """
    a = np.asarray(images, float)
    runs = _kernel_runs(kernel)
    if runs is not None:
        out = _correlate_runs(a, runs)
    else:
        k = np.asarray(kernel, float)[(None,) * (a.ndim - 2)]
        # scipy.signal costs ~1.5 s at import: loaded on first use
        from scipy.signal import fftconvolve

        out = fftconvolve(a, k[..., ::-1, ::-1], mode="same", axes=(-2, -1))
    scale = float(np.abs(a).max(initial=0.0)) * float(np.abs(kernel).sum())
    out[np.abs(out) < 1e-9 * max(scale, 1e-300)] = 0.0
    return np.rint(out, out=out) if integer else out


def hpx_tophat_matrix(geom: Any, radius: float) -> Any:
    """Top-hat correlation on a HEALPix geometry: a sparse 0/1 matrix ``(pix, pix)`` with 1 where
    the angular separation of the two pixel centres is at most ``radius`` [deg] (on the sphere;
    only the geometry's own pixels, i.e. zero padding outside a partial-sky map).

    The neighbours come from a k-d tree on the pixel-centre unit vectors (chord
    ``2 sin(radius / 2)``), so the cost is ~ pixels x neighbours.

    Examples
    --------
    >>> import xgamma as xg
    >>> k = hpx_tophat_matrix(xg.sky.healpix_geom(64), 2.0)
    >>> k.shape, bool((k != k.T).nnz == 0), int(k.diagonal().sum())
    ((49152, 49152), True, 49152)
    """
    from scipy.sparse import coo_matrix
    from scipy.spatial import cKDTree

    lon, lat = (np.radians(np.asarray(c, float)) for c in _lonlat_deg(geom))
    v = np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], axis=-1)
    chord = 2.0 * np.sin(np.radians(float(radius)) / 2.0) * (1 + 1e-12)
    pairs = cKDTree(v).query_pairs(chord, output_type="ndarray")
    n = v.shape[0]
    i = np.concatenate([pairs[:, 0], pairs[:, 1], np.arange(n)])
    j = np.concatenate([pairs[:, 1], pairs[:, 0], np.arange(n)])
    return coo_matrix((np.ones(i.size), (i, j)), shape=(n, n)).tocsr()


def _lonlat_deg(geom: Any) -> tuple[np.ndarray, np.ndarray]:
    c = sky.skycoord(geom)
    sph = c.spherical
    return np.asarray(sph.lon.deg), np.asarray(sph.lat.deg)


def correlate_hpx(images: np.ndarray, matrix: Any, integer: bool = False) -> np.ndarray:
    """Correlate HEALPix images ``(..., pix)`` with a sparse kernel matrix
    (:func:`hpx_tophat_matrix`): ``out[..., i] = sum_j matrix[i, j] images[..., j]``; small
    values and rounding as :func:`correlate`.

    Examples
    --------
    >>> import xgamma as xg
    >>> g = xg.sky.healpix_geom(8)
    >>> img = np.zeros(g.sizes["pix"]); img[100] = 2.0
    >>> out = correlate_hpx(img, hpx_tophat_matrix(g, 10.0), integer=True)
    >>> float(out.sum()) / 2 == hpx_tophat_matrix(g, 10.0)[100].nnz
    True
    """
    a = np.asarray(images, float)
    flat = a.reshape(-1, a.shape[-1])
    out = np.asarray(matrix @ flat.T).T.reshape(a.shape)
    rows = np.asarray(abs(matrix).sum(axis=1), float).ravel()
    scale = float(np.abs(a).max(initial=0.0)) * float(rows.max(initial=0.0))
    out[np.abs(out) < 1e-9 * max(scale, 1e-300)] = 0.0
    return np.rint(out, out=out) if integer else out


# --------------------------------------------------------------------------------------------
# energy bands


def energy_groups(dataset: xr.Dataset, energy_edges: Any = None) -> tuple[list[np.ndarray], xr.DataArray]:
    """Group the reco-energy bins into bands: the bin indices of each band and the band axis.

    Requested ``energy_edges`` [TeV] snap to the dataset's bin edges (a bin belongs to the band
    containing its log centre); empty bands are dropped. ``None``: one band over all bins.

    Examples
    --------
    >>> import xgamma as xg
    >>> g = xg.wcs_geom((0, 0), 1, 0.5, axes=[xg.energy_axis(1, 100, 4)])
    >>> idx, axis = energy_groups(g, [1, 10, 100])
    >>> [i.tolist() for i in idx], axis.energy_max.values.tolist()
    ([[0, 1], [2, 3]], [10.0, 100.0])
    """
    e = edges(dataset, "energy")
    n = e.size - 1
    if energy_edges is None:
        return [np.arange(n)], axis_from_edges([e[0], e[-1]], "energy", unit="TeV")
    req = np.asarray(getattr(energy_edges, "to_value", lambda u: energy_edges)("TeV"), float)
    centre = np.sqrt(e[1:] * e[:-1])
    groups, lo, hi = [], [], []
    for a, b in zip(req[:-1], req[1:], strict=True):
        idx = np.flatnonzero((centre >= a) & (centre < b))
        if idx.size:
            groups.append(idx)
            lo.append(e[idx[0]])
            hi.append(e[idx[-1] + 1])
    if not groups:
        raise ValueError(f"no energy bin of the dataset lies within {req.tolist()} TeV")
    return groups, axis_from_edges(np.array(lo + [hi[-1]]), "energy", unit="TeV") if np.allclose(
        lo[1:], hi[:-1]) else _gapped_axis(lo, hi)


def _gapped_axis(lo: list[float], hi: list[float]) -> xr.DataArray:
    ax = axis_from_edges(np.array([lo[0], hi[0]]), "energy", unit="TeV")
    lo_a, hi_a = np.array(lo), np.array(hi)
    c = np.sqrt(lo_a * hi_a)
    return xr.DataArray(c, dims="energy", name="energy", attrs=dict(ax.attrs), coords={
        "energy": xr.Variable("energy", c, attrs=dict(ax.attrs)),
        "energy_min": xr.Variable("energy", lo_a, attrs={"units": "TeV"}),
        "energy_max": xr.Variable("energy", hi_a, attrs={"units": "TeV"})})


def band_images(cube: np.ndarray, groups: Sequence[np.ndarray], mask: np.ndarray) -> np.ndarray:
    """Sum a cube ``(energy, y, x)`` over each band's bins inside ``mask`` -> ``(band, y, x)``.

    Examples
    --------
    >>> cube = np.ones((3, 2, 2)); mask = np.ones((3, 2, 2), bool); mask[0, 0, 0] = False
    >>> band_images(cube, [np.array([0, 1, 2])], mask)[0].tolist()
    [[2.0, 3.0], [3.0, 3.0]]
    """
    out = []
    for g in groups:
        g = np.asarray(g)
        # a band is a run of bins: slices (views), not a gathered copy of the cube
        sel = slice(int(g[0]), int(g[-1]) + 1) if g.size and np.array_equal(g, np.arange(g[0], g[-1] + 1)) else g
        out.append(np.add.reduce(np.where(mask[sel], cube[sel], 0.0), axis=0))
    return np.stack(out)


def _edisp_at_center(dataset: xr.Dataset) -> np.ndarray | None:
    """Energy-dispersion matrix ``(energy_true, energy)`` at the coarse IRF pixel nearest to the
    map centre (Gammapy's ``get_edisp_kernel(position=None)``)."""
    if "edisp" not in dataset:
        return None
    k = dataset["edisp"]
    if "y_irf" not in k.dims:
        return np.asarray(k.transpose("energy_true", "energy").values, float)
    c = sky.center(dataset)
    ny, nx = k.sizes["y_irf"], k.sizes["x_irf"]
    header = dataset.attrs.get("wcs_irf") or k.attrs.get("wcs_irf")
    if header:
        from astropy.wcs import FITSFixedWarning

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FITSFixedWarning)
            w = sky.wcs_from_header(header)
        lon, lat = (c.ra.deg, c.dec.deg) if sky.frame_of(dataset) == "icrs" else (c.l.deg, c.b.deg)
        x, y = (float(v) for v in w.world_to_pixel_values(lon, lat))
        i, j = int(np.clip(np.rint(x), 0, nx - 1)), int(np.clip(np.rint(y), 0, ny - 1))
    else:
        i, j = nx // 2, ny // 2
    return np.asarray(k.isel(y_irf=j, x_irf=i).transpose("energy_true", "energy").values, float)


def reference_npred(dataset: xr.Dataset, spectral: SpectralModelBase | None = None) -> np.ndarray:
    """Counts ``(energy, y, x)`` (``(energy, pix)`` on HEALPix) the reference spectrum would
    give if its whole flux fell in each pixel: exposure x integral flux per true-energy bin, folded with the energy dispersion
    at the map centre (identity without ``edisp``; then ``energy_true`` must equal ``energy``).

    Examples
    --------
    >>> import xgamma as xg
    >>> from xgamma import testing
    >>> ds = xg.reduce(testing.make_observation(n_events=100), testing.make_wcs_geom(width=1.0, binsz=0.1))
    >>> reference_npred(ds).shape
    (4, 10, 10)
    """
    spec = default_reference() if spectral is None else spectral
    et = edges(dataset, "energy_true")
    flux = np.asarray(spec.integral_values(et[:-1], et[1:], list(spec.parameters.values)), float)
    expo = map_values(dataset["exposure"], ("energy_true", *image_sky_dims(dataset)))
    expo = expo * flux.reshape((-1,) + (1,) * (expo.ndim - 1))
    ed = _edisp_at_center(dataset)
    if ed is None:
        if expo.shape[0] != dataset.sizes["energy"]:
            raise ValueError("the dataset has no edisp and energy_true differs from energy")
        return expo
    return np.einsum("k...,ke->e...", expo, ed)


def _reference_bands(dataset: xr.Dataset, spec: SpectralModelBase, groups: Sequence[np.ndarray]) -> np.ndarray:
    """:func:`reference_npred` summed over each band's bins ``(band, y, x)``: the flux and the
    energy dispersion are folded into one ``(band, energy_true)`` weight first, so the cube
    is touched once (one matrix product) instead of per reco-energy bin."""
    et = edges(dataset, "energy_true")
    flux = np.asarray(spec.integral_values(et[:-1], et[1:], list(spec.parameters.values)), float)
    expo = map_values(dataset["exposure"], ("energy_true", *image_sky_dims(dataset)))
    ed = _edisp_at_center(dataset)
    if ed is None:
        if expo.shape[0] != dataset.sizes["energy"]:
            raise ValueError("the dataset has no edisp and energy_true differs from energy")
        ed = np.eye(expo.shape[0])
    w = flux[:, None] * ed
    weights = np.stack([w[:, g].sum(axis=1) for g in groups])
    return np.einsum("bk,k...->b...", weights, expo)


# --------------------------------------------------------------------------------------------
# excess map


def excess_map(dataset: xr.Dataset, correlation_radius: float = 0.1, energy_edges: Any = None,
               model: Any = None, n_sigma: float = 1.0, n_sigma_ul: float = 2.0,
               spectral_model: SpectralModelBase | None = None) -> xr.Dataset:
    """Correlated counts, background, excess, significance, errors, upper limits and flux norm.

    Parameters
    ----------
    dataset : xarray.Dataset
        3D reduced dataset (:mod:`xgamma.reduce`; ``counts``, ``background``, ``exposure``,
        ``mask_safe``, ...), or an ON/OFF map dataset from
        :func:`xgamma.background.ring_background` (``counts_off``, ``alpha``); no ``obs`` dim
        (stack first).
    correlation_radius : float
        Radius of the top-hat correlation disk [deg].
    energy_edges : array-like, optional
        Band edges [TeV] (snapped to the dataset's bins); default one band.
    model : Models or SkyModel, optional
        Sky models: the background becomes the dataset's predicted counts (background model
        included), so the excess is the excess over the model.
    n_sigma, n_sigma_ul : float
        Confidence of the errors and upper limits (profile likelihood).
    spectral_model : SpectralModel, optional
        Reference spectrum of the norm (default :func:`default_reference`).

    Returns
    -------
    xarray.Dataset
        Estimator result (dims ``energy``, ``y``, ``x``): ``counts`` (= ``npred``),
        ``map_npred_background``, ``npred_excess``, ``ts``, ``sqrt_ts``, ``norm``, ``norm_err``,
        ``norm_errn``, ``norm_errp``, ``norm_ul``, ``npred_ref`` (+ ``counts_off``, ``alpha``
        for ON/OFF data) and the reference fluxes; NaN outside the mask.

    Examples
    --------
    >>> import xgamma as xg
    >>> from xgamma import testing
    >>> ds = xg.reduce(testing.make_observation(n_events=3000), testing.make_wcs_geom(width=2.0, binsz=0.1))
    >>> res = excess_map(ds, correlation_radius=0.3)
    >>> bool(np.nanmax(res.sqrt_ts) > 3)       # the synthetic source
    True
    """
    if "obs" in dataset.dims:
        raise ValueError("excess_map needs a single dataset: stack the observations first (xgamma.stack)")
    if "event_type" in dataset.dims:
        raise ValueError("excess_map needs a single dataset: sum the event types first "
                         "(xgamma.stack(dataset, event_types='sum'))")
    spec = default_reference() if spectral_model is None else spectral_model
    groups, axis = energy_groups(dataset, energy_edges)
    mask = dataset_mask(dataset)
    mask_img = np.stack([mask[g].any(axis=0) for g in groups])
    sdims = image_sky_dims(dataset)
    dims = ("energy", *sdims)
    if sdims == ("pix",):  # HEALPix: the pixels within the radius on the sphere
        matrix = hpx_tophat_matrix(dataset, float(correlation_radius))

        def corr(a: np.ndarray, integer: bool = False) -> np.ndarray:
            return correlate_hpx(a, matrix, integer)
    else:
        kernel = tophat_kernel(float(correlation_radius) / pixel_scale(dataset))

        def corr(a: np.ndarray, integer: bool = False) -> np.ndarray:
            return correlate(a, kernel, integer)

    def values(name: str) -> np.ndarray:
        return map_values(dataset[name], dims)

    n_on = corr(band_images(values("counts"), groups, mask), integer=True)
    onoff = is_onoff(dataset)
    extra: dict[str, Any] = {}
    if onoff:
        off = values("counts_off")
        alpha_cube = values("alpha") if "alpha" in dataset else values(
            "acceptance") / np.where(values("acceptance_off") > 0, values("acceptance_off"), np.inf)
        bkg_cube = np.where(off > 0, alpha_cube * off, 0.0)
        n_off = corr(band_images(off, groups, mask))
        bkg_c = corr(band_images(bkg_cube, groups, mask))
        with np.errstate(divide="ignore", invalid="ignore"):
            alpha = np.where(n_off > 0, bkg_c / n_off, 0.0)
        sig = np.zeros_like(n_on)
        if model is not None:

            sig = corr(band_images(map_values(npred_map(dataset, model, component=None), dims) - values(
                "background"), groups, mask))
        background = bkg_c + sig
        excess = n_on - background
        with np.errstate(invalid="ignore", divide="ignore"):
            has_off = (alpha > 0) & (n_off > 0)
            ts_onoff = np.asarray(stats.wstat(n_on, n_off, np.where(has_off, alpha, 1.0), sig), float)
            ts = np.where(has_off, np.maximum(ts_onoff, 0.0), np.asarray(stats.cash_significance(n_on, background)) ** 2)
        sqrt_ts = np.sign(excess) * np.sqrt(ts)
        err = np.sqrt(n_on + alpha**2 * n_off)
        with np.errstate(invalid="ignore", divide="ignore"):  # alpha = 0 outside the ring coverage
            errn = np.asarray(stats.counts_errn(n_on, n_off, alpha, n_sigma=n_sigma), float)
            errp = np.asarray(stats.counts_errp(n_on, n_off, alpha, n_sigma=n_sigma), float)
            ul = np.asarray(stats.counts_ul(n_on, n_off, alpha, n_sigma=n_sigma_ul), float) - sig
        extra = {"counts_off": n_off, "alpha": alpha}
    else:
        background = corr(band_images(map_npred_background(dataset, model), groups, mask))
        excess = n_on - background
        sqrt_ts = np.asarray(stats.cash_significance(n_on, background), float)
        ts = sqrt_ts**2
        err = np.sqrt(n_on)
        errn = np.asarray(stats.counts_errn(n_on, mu_bkg=background, n_sigma=n_sigma), float)
        errp = np.asarray(stats.counts_errp(n_on, mu_bkg=background, n_sigma=n_sigma), float)
        ul = np.asarray(stats.counts_ul(n_on, mu_bkg=background, n_sigma=n_sigma_ul), float)
    ref_groups = _reference_bands(dataset, spec, groups)
    with np.errstate(divide="ignore", invalid="ignore"):
        ref_c = corr(ref_groups) / corr(mask_img.astype(float))
        data = {
            "counts": n_on, "npred": n_on, "npred_background": background, "npred_excess": excess,
            "ts": ts, "sqrt_ts": sqrt_ts, "norm": excess / ref_c, "norm_err": n_sigma * err / ref_c,
            "norm_errn": errn / ref_c, "norm_errp": errp / ref_c, "norm_ul": ul / ref_c, "npred_ref": ref_c,
            **extra,
        }
    outside = ~mask_img
    for v in data.values():  # all fresh arrays here (estimator_result copies them): NaN in place
        v[outside] = np.nan
    res = estimator_result(data, axis, spec, dims=dims, coords=sky_coords(dataset),
                           n_sigma=n_sigma, n_sigma_ul=n_sigma_ul,
                           attrs={**geometry_attrs(dataset), "correlation_radius": float(correlation_radius),
                                  "estimator": "excess_map"})
    res["is_ul"] = res["is_ul"] & xr.DataArray(mask_img, dims=dims)
    return res


# --------------------------------------------------------------------------------------------
# peaks and significance distribution


def _image(m: xr.DataArray) -> xr.DataArray:
    other = [d for d in m.dims if d not in ("y", "x")]
    if other:
        if any(m.sizes[d] > 1 for d in other):
            raise ValueError(f"need a sky image; select one of {other} first")
        m = m.isel({d: 0 for d in other})
    return m.transpose("y", "x")


def find_peaks(image: xr.DataArray, threshold: float, min_distance: float = 0.0) -> pd.DataFrame:
    """Local maxima of a sky image above ``threshold``, at least ``min_distance`` [deg] apart.

    A pixel is a peak when it is the maximum within a box of half width ``min_distance``
    (at least one pixel) and above the threshold; peaks are sorted by value (descending).

    Parameters
    ----------
    image : xarray.DataArray
        A map with sky dims ``(y, x)`` (other dims of size 1 are dropped), e.g. ``sqrt_ts``.
    threshold : float
        Minimum value.
    min_distance : float
        Minimum separation of peaks [deg].

    Returns
    -------
    pandas.DataFrame
        Columns ``x``, ``y`` (pixel), ``ra``/``dec`` (or ``glon``/``glat``) [deg], ``value``.

    Examples
    --------
    >>> import xgamma as xg
    >>> m = xg.sky.empty(xg.wcs_geom((83.6, 22.0), 1, 0.1)) + 0.0
    >>> m[4, 6] = 10.0; m[1, 1] = 6.0
    >>> find_peaks(m, threshold=5)[["x", "y", "value"]].values.tolist()
    [[6.0, 4.0, 10.0], [1.0, 1.0, 6.0]]
    """
    from scipy.ndimage import maximum_filter

    img = _image(image)
    data = np.asarray(img.values, float)
    size = 2 * max(int(np.rint(min_distance / pixel_scale(img))), 1) + 1
    filled = np.where(np.isfinite(data), data, -np.inf)
    local = maximum_filter(filled, size=size, mode="constant", cval=-np.inf)
    jj, ii = np.nonzero((filled == local) & (filled > threshold))
    order = np.argsort(-filled[jj, ii], kind="stable")
    jj, ii = jj[order], ii[order]
    c = sky.pix_to_sky(img, ii.astype(float), jj.astype(float))
    lon, lat = ("ra", "dec") if sky.frame_of(img) == "icrs" else ("glon", "glat")
    cc = (c.ra.deg, c.dec.deg) if lon == "ra" else (c.l.deg, c.b.deg)
    return pd.DataFrame({"x": ii.astype(float), "y": jj.astype(float), lon: np.asarray(cc[0], float),
                         lat: np.asarray(cc[1], float), "value": filled[jj, ii]})


def significance_distribution(significance: xr.DataArray, exclusion_mask: xr.DataArray | None = None,
                              bins: Any = None) -> dict[str, Any]:
    """Fit a Gaussian to the significance of background-only pixels.

    Pixels with a finite value and ``exclusion_mask`` True (not excluded; Gammapy's convention)
    are histogrammed; a Gaussian (amplitude, mean, sigma) is fitted to the histogram
    (least squares with Poisson weights); for pure background ``mean ~ 0`` and ``sigma ~ 1``.

    Returns
    -------
    dict
        ``mean``, ``sigma``, ``mean_err``, ``sigma_err``, ``amplitude``, ``n`` (pixels), the
        sample ``sample_mean`` / ``sample_std``, ``counts`` and ``edges`` of the histogram.

    Examples
    --------
    >>> import xgamma as xg
    >>> rng = np.random.default_rng(1)
    >>> m = xg.sky.make_map(rng.normal(size=(100, 100)), xg.wcs_geom((0, 0), 10, 0.1))
    >>> d = significance_distribution(m)
    >>> abs(d["mean"]) < 0.05, abs(d["sigma"] - 1) < 0.05
    (True, True)
    """
    from scipy.optimize import curve_fit

    img = _image(significance)
    vals = np.asarray(img.values, float)
    ok = np.isfinite(vals)
    if exclusion_mask is not None:
        ok &= np.asarray(_image(exclusion_mask).values, bool)
    v = vals[ok]
    if v.size < 10:
        raise ValueError(f"significance_distribution: only {v.size} pixels to fit")
    edges_ = np.linspace(-6, 6, 61) if bins is None else np.asarray(bins, float)
    counts, edges_ = np.histogram(v, bins=edges_)
    c = 0.5 * (edges_[1:] + edges_[:-1])
    width = np.diff(edges_)

    def gauss(x: np.ndarray, amp: float, mu: float, sig: float) -> np.ndarray:
        return amp * np.exp(-0.5 * ((x - mu) / sig) ** 2)

    p0 = [counts.max(), float(np.median(v)), max(float(np.std(v)), 1e-3)]
    sigma = np.sqrt(np.maximum(counts, 1.0))
    popt, pcov = curve_fit(gauss, c, counts, p0=p0, sigma=sigma, absolute_sigma=True, maxfev=10000)
    perr = np.sqrt(np.diag(pcov))
    return {"amplitude": float(popt[0]), "mean": float(popt[1]), "sigma": float(abs(popt[2])),
            "mean_err": float(perr[1]), "sigma_err": float(perr[2]), "n": int(v.size),
            "sample_mean": float(v.mean()), "sample_std": float(v.std()), "counts": counts,
            "edges": edges_, "bin_width": width}


def plot_significance_distribution(significance: xr.DataArray, exclusion_mask: xr.DataArray | None = None,
                                   ax: Any = None, bins: Any = None) -> Any:
    """Histogram of the significance of the (not excluded) pixels with the fitted Gaussian
    and the standard normal for comparison (log y axis).

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> import xgamma as xg
    >>> m = xg.sky.make_map(np.random.default_rng(0).normal(size=(50, 50)), xg.wcs_geom((0, 0), 5, 0.1))
    >>> ax = plot_significance_distribution(m)
    >>> len(ax.get_lines())
    2
    """
    import matplotlib.pyplot as plt

    d = significance_distribution(significance, exclusion_mask, bins)
    if ax is None:
        ax = plt.figure().add_subplot()
    e = d["edges"]
    ax.stairs(d["counts"], e, label=f"pixels (n = {d['n']})")
    x = np.linspace(e[0], e[-1], 400)
    ax.plot(x, d["amplitude"] * np.exp(-0.5 * ((x - d["mean"]) / d["sigma"]) ** 2),
            label=f"fit: mean {d['mean']:.2f}, width {d['sigma']:.2f}")
    w = float(np.mean(d["bin_width"]))
    ax.plot(x, d["n"] * w * np.exp(-0.5 * x**2) / np.sqrt(2 * np.pi), ls="--", label="N(0, 1)")
    ax.set_yscale("log")
    ax.set_ylim(0.5, None)
    ax.set_xlabel("significance")
    ax.set_ylabel("pixels")
    ax.legend()
    return ax
