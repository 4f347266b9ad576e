"""Forward folding for 3D map datasets: sky models -> predicted counts ``npred(energy, y, x)``.

The dataset is the 3D reduced dataset of :mod:`xgamma.reduce` (``counts``, ``exposure``,
``background``, ``psf(energy_true, rad, y_irf, x_irf)``, ``edisp(energy_true, energy, y_irf,
x_irf)``, ``mask_safe``, optional ``mask_fit``; PSF/edisp may also come without the coarse sky
dims). For each :class:`~xgamma.models.sky.SkyModel` that applies to the dataset:

1. the spectral model is integrated over the ``energy_true`` bins (analytic where possible),
   times the temporal model's mean over the dataset's GTIs (attrs ``tstart``/``tstop`` [s since
   ``mjdref``], or a stack's list ``gti_start``/``gti_stop``: :mod:`xgamma.fitting.gti`) when it
   has one, per observation along ``obs``;
2. the spatial model is integrated over the pixels of a **cut-out** around the source
   (evaluation radius + PSF radius; the whole map for models without a radius), see
   :func:`xgamma.models.spatial.integrate_pixels`, and multiplied by the exposure;
3. the result is convolved with the PSF: the profile is interpolated bilinearly on the coarse
   IRF grid at the source position and drawn on the map's pixels (local pixel scales from the
   WCS Jacobian, sub-pixel sampling where the PSF core (68 % radius, or twice the half width
   at half maximum for cusped PSFs such as the LAT's, :func:`psf_half_width`) is narrower than
   ~3 pixels, normalised to 1 within the radius containing :data:`PSF_CONTAINMENT`). A point
   source gets the kernel drawn at its exact sub-pixel position times the exposure interpolated
   there (no convolution needed, and npred varies smoothly with the position; only the core of
   the kernel is sampled finely); ``point_sampling="bilinear"`` instead spreads it over the
   four nearest pixel centres and draws the kernel at a pixel centre, as the established tool
   does (:data:`POINT_SAMPLING`); extended sources are convolved by FFT
   (:func:`scipy.signal.fftconvolve`);
4. it is folded with the energy-dispersion kernel interpolated at the source position.

The background is ``background * spectral(E)`` of the dataset's
:class:`~xgamma.models.sky.BackgroundModel` (norm, tilt) evaluated at the reco-energy bin
centres, or the background as is when there is none.

Fast likelihood
---------------
:class:`MapEvaluator` is built once per (dataset, models) for a fit. It keeps numpy arrays only
and, per source, the last parameter values and the pieces that depend on them (spatial
response ``A(energy_true, pixel)``, spectral weights, edisp), so a change of a spectral
parameter costs a small matrix product and a change of position redraws one PSF kernel.
:meth:`MapEvaluator.stat` returns the Cash statistic ``2 sum(mu - n log mu)`` over the mask
without forming the full npred cube: sums of the background and of each source's npred over
the mask are precomputed per energy, and the logarithm is only taken at bins with counts. ON/OFF
map datasets (ring background: ``counts_off``, ``acceptance``, ``acceptance_off``) get WStat
instead, the background profiled in each pixel and energy bin (as Gammapy's
``MapDatasetOnOff``): the log terms at the bins with ON or OFF counts
(:class:`xgamma.stats.WStatSum`), ``2 mu_sig`` elsewhere; background models do not apply. This
state belongs to the caller (one evaluator per fit, not thread-safe); there is no global cache.

Examples
--------
>>> import xgamma as xg
>>> from xgamma import testing
>>> from xgamma.models import SkyModel, Models, spectral_model
>>> from xgamma.models.spatial import spatial_model
>>> ds = xg.reduce(testing.make_observation(n_events=200), testing.make_wcs_geom(width=1.0, binsz=0.05))
>>> crab = SkyModel("crab", spectral_model("pl", amplitude=1e-11),
...                 spatial_model("point", lon_0=83.633, lat_0=22.014))
>>> npred = npred_map(ds, Models([crab]))
>>> npred.dims, bool(npred.sum() > ds.background.sum())
(('energy', 'y', 'x'), True)
"""

from __future__ import annotations

import copy
import dataclasses
import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr

from xgamma import sky
from xgamma.axes import edges
from xgamma.fitting.evaluator import EvaluatorBase, folding_arrays
from xgamma.fitting.fold_hpx import is_hpx_dataset, npred_hpx
from xgamma.fitting.gti import gti_intervals_mjd
from xgamma.models.components import Models, SkyModel, as_models
from xgamma.models.spatial import (
    SpatialModel,
    block_mean,
    convert_lonlat,
    lambert_offsets,
    oversampling_factor,
    pixel_size,
    subpixel_lonlat,
    tent_weights,
)
from xgamma.stats import WStatSum, wstat_profile_background

__all__ = ["npred_map", "MapEvaluator", "PSF_CONTAINMENT", "POINT_SAMPLING", "psf_containment_radius",
           "psf_half_width", "draw_psf_kernel", "parameter_steps", "is_map_dataset"]

#: PSF containment fraction that sets the kernel (and cut-out) radius.
PSF_CONTAINMENT = 0.999
#: How a point source is put on the pixels (:class:`MapEvaluator` ``point_sampling``): ``exact``
#: draws the PSF at the source's sub-pixel position; ``bilinear`` spreads the source over the
#: four nearest pixel centres (bilinear weights, each times its pixel's exposure) and convolves
#: with the PSF kernel drawn at a pixel centre, the established tool's convention.
POINT_SAMPLING = ("exact", "bilinear")
_OS_MOVE = 2  # pixels a point source moves before its finely sampled kernel core follows it
_TRUNC = 1e-25  # Cash statistic: mu clipped here (as Gammapy's truncation value)
_D2R = math.pi / 180.0


# --------------------------------------------------------------------------------------------
# PSF helpers (numpy)


def psf_containment_radius(profile: np.ndarray, rad_edges: np.ndarray, fraction: float = PSF_CONTAINMENT) -> np.ndarray:
    """Radius [deg] containing ``fraction`` of a radial PSF profile ``(..., n_rad)`` [sr-1]
    given on bins ``rad_edges`` [deg] (flat-sky ``2 pi r dr``), per leading index.

    Examples
    --------
    >>> r = np.linspace(0, 1, 201)
    >>> c = 0.5 * (r[1:] + r[:-1]); s = np.radians(0.1)
    >>> prof = np.exp(-0.5 * (np.radians(c) / s) ** 2) / (2 * np.pi * s**2)
    >>> round(float(psf_containment_radius(prof, r, 0.68)), 2)   # 1.51 sigma
    0.15
    """
    rc = 0.5 * (rad_edges[1:] + rad_edges[:-1]) * _D2R
    dr = np.diff(rad_edges) * _D2R
    cum = np.cumsum(profile * 2 * np.pi * rc * dr, axis=-1)
    total = cum[..., -1:]
    idx = np.argmax(cum >= fraction * np.where(total > 0, total, 1.0), axis=-1)
    return np.asarray(rad_edges[1:][idx], dtype=float)


def psf_half_width(profile: np.ndarray, rad: np.ndarray) -> np.ndarray:
    """Half width at half maximum [deg] of radial PSF profiles ``(..., n_rad)`` given at radii
    ``rad`` [deg] (linear interpolation; the last radius where the profile never halves; NaN
    for an all-zero profile): the core width that sets the sub-pixel sampling of PSF kernels.

    Examples
    --------
    >>> r = np.linspace(0, 1, 1001); s = 0.1
    >>> round(float(psf_half_width(np.exp(-0.5 * (r / s) ** 2), r)), 4)   # sqrt(2 ln 2) sigma
    0.1177
    """
    prof = np.asarray(profile, dtype=float)
    peak = prof.max(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = prof / peak
    below = (rel <= 0.5) & (np.arange(prof.shape[-1]) >= np.argmax(prof, axis=-1)[..., None])
    k = np.argmax(below, axis=-1)
    found = below.any(axis=-1)
    k1 = np.clip(k, 1, prof.shape[-1] - 1)
    r0, r1 = rad[k1 - 1], rad[k1]
    y0, y1 = np.take_along_axis(rel, (k1 - 1)[..., None], -1)[..., 0], np.take_along_axis(rel, k1[..., None], -1)[..., 0]
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.where(y1 != y0, r0 + (0.5 - y0) * (r1 - r0) / (y1 - y0), r1)
    out = np.where(found, np.where(k == 0, rad[0], r), rad[-1])
    return np.where(peak[..., 0] > 0, out, np.nan)


def _spline_coef(rad: np.ndarray, profile: np.ndarray) -> np.ndarray:
    """Natural cubic-spline coefficients ``(n_rad - 1, 4, n_et)`` of profiles ``(n_et, n_rad)``
    as functions of ``u = rad^2`` (smooth and even at ``rad = 0``)."""
    from scipy.interpolate import CubicSpline

    if rad.size < 3:
        c = np.zeros((max(rad.size - 1, 1), 4, profile.shape[0]))
        c[:, 3] = profile[:, :1].T
        return c
    c = CubicSpline(rad**2, profile.T, bc_type="natural").c  # (4, n_seg, n_et)
    return np.ascontiguousarray(np.moveaxis(np.asarray(c, dtype=float), 1, 0))


def _spline_eval(coef: np.ndarray, rad: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Evaluate :func:`_spline_coef` splines at radii ``r`` [deg] -> ``(n_et, *r.shape)``;
    0 beyond the last node, clipped at 0."""
    un = rad**2
    u = (r * r).ravel()
    k = np.clip(np.searchsorted(un, u, side="right") - 1, 0, coef.shape[0] - 1)
    t = (u - un[k])[:, None]
    c = coef[k]  # (npix, 4, n_et)
    val = ((c[:, 0] * t + c[:, 1]) * t + c[:, 2]) * t + c[:, 3]
    val[u > un[-1]] = 0.0
    return np.maximum(val.T, 0.0).reshape(coef.shape[2], *r.shape)


def _kernel(coef: np.ndarray, rad: np.ndarray, jac: np.ndarray, dx: np.ndarray, dy: np.ndarray,
            oversampling: int, r_max: float | None = None,
            core: tuple[slice, slice] | None = None) -> np.ndarray:
    """PSF kernel on the pixel offsets ``dx``, ``dy``, normalised to sum 1; with ``core`` only
    those rows and columns are sampled at ``oversampling^2`` sub-pixels, the rest at the pixel
    centres (where the profile is smooth on the pixel scale)."""
    # smooth (C1) taper to 0 over the outer 20 % of the kernel radius: no pixel switches on or
    # off abruptly when the source moves
    r_max = float(rad[-1]) if r_max is None else min(float(r_max), float(rad[-1]))

    def sampled(dx: np.ndarray, dy: np.ndarray, n: int) -> np.ndarray:
        if n > 1:
            off = (np.arange(n) + 0.5) / n - 0.5
            ny, nx = dx.shape
            full = (ny, n, nx, n)
            dx = np.broadcast_to(dx[:, None, :, None] + off[None, None, None, :], full).reshape(ny * n, nx * n)
            dy = np.broadcast_to(dy[:, None, :, None] + off[None, :, None, None], full).reshape(ny * n, nx * n)
        east = jac[0, 0] * dx + jac[0, 1] * dy
        north = jac[1, 0] * dx + jac[1, 1] * dy
        r = np.hypot(east, north)
        t = np.clip((r / r_max - 0.8) / 0.2, 0.0, 1.0)
        return block_mean(_spline_eval(coef, rad, r) * (0.5 * (1 + np.cos(np.pi * t))), n)

    n = int(oversampling)
    if n > 1 and core is not None:
        k = sampled(dx, dy, 1)
        k[:, core[0], core[1]] = sampled(dx[core], dy[core], n)
    else:
        k = sampled(dx, dy, n)
    tot = k.sum(axis=(-2, -1), keepdims=True)
    return k / np.where(tot > 0, tot, 1.0)


def draw_psf_kernel(profile: np.ndarray, rad: np.ndarray, jac: np.ndarray, dx: np.ndarray, dy: np.ndarray,
                    oversampling: int = 1) -> np.ndarray:
    """Draw radial PSF profiles ``(n_et, n_rad)`` [sr-1] given at radii ``rad`` [deg] at pixel
    offsets ``dx``, ``dy`` (2D grids, in pixels from the PSF centre) with the local Jacobian
    ``jac`` [deg/pixel], averaged over ``oversampling^2`` sub-pixels; normalised to sum 1 per
    energy over the grid. The profile is interpolated by a natural cubic spline in ``rad^2``
    (twice differentiable, so predicted counts are smooth in the source position) and tapered
    smoothly to 0 between 80 % and 100 % of the last ``rad`` node.

    Examples
    --------
    >>> rad = np.linspace(0.0025, 0.5, 100); s = np.radians(0.05)
    >>> prof = np.exp(-0.5 * (np.radians(rad) / s) ** 2)[None] / (2 * np.pi * s**2)
    >>> dy, dx = np.mgrid[-10:11, -10:11].astype(float)
    >>> k = draw_psf_kernel(prof, rad, np.diag([0.02, 0.02]), dx, dy)
    >>> k.shape, round(float(k.sum()), 9), bool(k[0, 10, 10] == k.max())
    ((1, 21, 21), 1.0, True)
    """
    return _kernel(_spline_coef(np.asarray(rad, float), np.asarray(profile, float)), np.asarray(rad, float),
                   jac, dx, dy, oversampling)


# --------------------------------------------------------------------------------------------
# dataset arrays


def _tent4(x: float, y: float, ny: int, nx: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The (up to) four pixels ``(j, i)`` around a position clipped into the grid, with their
    bilinear weights."""
    x, y = min(max(x, 0.0), nx - 1.0), min(max(y, 0.0), ny - 1.0)
    i0, j0 = min(int(x), max(nx - 2, 0)), min(int(y), max(ny - 2, 0))
    fx, fy = x - i0, y - j0
    i1, j1 = min(i0 + 1, nx - 1), min(j0 + 1, ny - 1)
    jj = np.array([j0, j0, j1, j1])
    ii = np.array([i0, i1, i0, i1])
    w = np.array([(1 - fx) * (1 - fy), fx * (1 - fy), (1 - fx) * fy, fx * fy])
    return jj, ii, w


def _coarse_weights(wcs_irf: Any, lonlat_irf: tuple[np.ndarray, np.ndarray] | None,
                    shape: tuple[int, int], lon: float, lat: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bilinear weights of a sky position on the coarse IRF grid: ``(j, i, w)``."""
    ny, nx = shape
    if wcs_irf is not None:
        x, y = (float(a) for a in wcs_irf.world_to_pixel_values(lon, lat))
        return _tent4(x if np.isfinite(x) else 0.0, y if np.isfinite(y) else 0.0, ny, nx)
    if lonlat_irf is None:
        return np.array([ny // 2]), np.array([nx // 2]), np.array([1.0])
    lo, la = lonlat_irf
    d = np.sin((la - lat) * _D2R / 2) ** 2 + np.cos(la * _D2R) * np.cos(lat * _D2R) * np.sin((lo - lon) * _D2R / 2) ** 2
    j, i = np.unravel_index(int(np.nanargmin(d)), (ny, nx))
    return np.array([j]), np.array([i]), np.array([1.0])


@dataclass
class _MapData:
    """Numpy arrays of one 3D dataset (no obs dim), extracted once."""

    counts: np.ndarray
    exposure: np.ndarray
    background: np.ndarray
    mask: np.ndarray
    e_edges: np.ndarray
    et_edges: np.ndarray
    wcs: Any
    frame: str
    omega: np.ndarray
    pix: float
    psf: np.ndarray | None
    rad: np.ndarray
    rad_edges: np.ndarray
    edisp: np.ndarray | None
    wcs_irf: Any
    lonlat_irf: tuple[np.ndarray, np.ndarray] | None
    gti: tuple[np.ndarray, np.ndarray, np.ndarray] | None  # GTIs: start, stop [MJD], obs index
    name: str
    counts_off: np.ndarray | None = None  # ON/OFF datasets: OFF counts and alpha (energy, y, x)
    alpha: np.ndarray | None = None
    coef_cache: dict[tuple[int, int], np.ndarray] = field(default_factory=dict)

    @property
    def e_center(self) -> np.ndarray:
        return np.sqrt(self.e_edges[1:] * self.e_edges[:-1])

    @classmethod
    def from_dataset(cls, ds: xr.Dataset) -> _MapData:
        f = folding_arrays(ds, ("y", "x"))
        counts, mask = f["counts"], f["mask"]

        def arr(name: str, dims: tuple[str, ...]) -> np.ndarray:
            return np.asarray(ds[name].transpose(*dims).values, dtype=float)

        counts_off = alpha = None
        if "counts_off" in ds:
            # ON/OFF (ring background): alpha = acceptance / acceptance_off; bins without OFF
            # acceptance measure no background and are left out
            counts_off = arr("counts_off", ("energy", "y", "x"))
            acc = arr("acceptance", ("energy", "y", "x")) if "acceptance" in ds else np.ones_like(counts)
            acc_off = arr("acceptance_off", ("energy", "y", "x"))
            with np.errstate(divide="ignore", invalid="ignore"):
                alpha = np.where(acc_off > 0, acc / np.where(acc_off > 0, acc_off, 1.0), 0.0)
            mask &= (acc_off > 0) & np.isfinite(alpha) & np.isfinite(counts_off)
        wcs_irf = None
        header = ds.attrs.get("wcs_irf") or (ds["psf"].attrs.get("wcs_irf") if "psf" in ds else None)
        if header:
            from astropy.wcs import FITSFixedWarning

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FITSFixedWarning)
                wcs_irf = sky.wcs_from_header(header)
        frame = sky.frame_of(ds)
        ln, bn = ("ra_irf", "dec_irf") if frame == "icrs" else ("glon_irf", "glat_irf")
        lonlat_irf = (np.asarray(ds[ln].values, float), np.asarray(ds[bn].values, float)) if ln in ds.coords else None
        w = sky.wcs_of(ds)
        return cls(
            counts=counts, exposure=f["exposure"], background=f["background"], mask=mask,
            e_edges=edges(ds, "energy"), et_edges=edges(ds, "energy_true"), wcs=w, frame=frame,
            omega=np.asarray(sky.solid_angle(ds).transpose("y", "x").values, dtype=float),
            pix=pixel_size(w), psf=f["psf"], rad=f["rad"], rad_edges=f["rad_edges"], edisp=f["edisp"], wcs_irf=wcs_irf,
            lonlat_irf=lonlat_irf, gti=gti_intervals_mjd(ds), name=str(ds.attrs.get("name", "")),
            counts_off=counts_off, alpha=alpha,
        )

    def irf_at(self, lon: float, lat: float) -> tuple[Any, Any, np.ndarray]:
        """PSF profile (n_et, n_rad), its spline coefficients and the edisp matrix (n_et, n_e)
        at a sky position (bilinear on the coarse IRF grid)."""
        n_et, n_e = self.exposure.shape[0], self.counts.shape[0]
        grid = self.psf if self.psf is not None and self.psf.ndim == 4 else (
            self.edisp if self.edisp is not None and self.edisp.ndim == 4 else None)
        jj = ii = ww = np.zeros(0)
        if grid is not None:
            jj, ii, ww = _coarse_weights(self.wcs_irf, self.lonlat_irf, grid.shape[-2:], lon, lat)
        psf = coef = None
        if self.psf is not None:
            if self.psf.ndim == 4:
                psf = (self.psf[:, :, jj, ii] * ww).sum(axis=-1)
                coef = sum(w * self._coef(int(j), int(i)) for j, i, w in zip(jj, ii, ww, strict=True) if w > 0)
            else:
                psf = self.psf
                coef = self._coef(-1, -1)
        if self.edisp is None:
            if n_et != n_e:
                raise ValueError("the dataset has no edisp and energy_true differs from energy")
            ed = np.eye(n_e)
        else:
            ed = (self.edisp[:, :, jj, ii] * ww).sum(axis=-1) if self.edisp.ndim == 4 else self.edisp
        return psf, coef, ed

    def _coef(self, j: int, i: int) -> np.ndarray:
        """Spline coefficients of the PSF at coarse pixel (j, i), computed once."""
        if (j, i) not in self.coef_cache:
            assert self.psf is not None
            prof = self.psf if j < 0 else self.psf[:, :, j, i]
            self.coef_cache[(j, i)] = _spline_coef(self.rad, prof)
        return self.coef_cache[(j, i)]


# --------------------------------------------------------------------------------------------
# per-source state


@dataclass
class _Source:
    """Pieces of one sky model's npred (per-fit state)."""

    model: SkyModel
    spatial: SpatialModel
    offset: int
    n_spec: int
    n_spat: int
    n_temp: int
    last_spec: np.ndarray | None = None
    last_spat: np.ndarray | None = None
    last_temp: np.ndarray | None = None
    # cut-out, fixed until the source moves by more than ``tol`` pixels or grows
    box: tuple[slice, slice] | None = None
    box_full: tuple[int, int, int, int] = (0, 0, 0, 0)  # unclipped y0, y1, x0, x1
    center: tuple[float, float] = (0.0, 0.0)
    half: int = 0
    tol: float = 1.0
    jac: np.ndarray | None = None  # deg per pixel at the source
    delta: bool = True  # PSF narrower than a quarter pixel (or none)
    h_psf: int = 0  # PSF kernel half size [pixels]
    r_k: float = 0.0  # PSF kernel radius [deg]
    n_os: int = 1  # PSF sub-pixel sampling
    os_half: int = 0  # ... of a point source's kernel within this many pixels of ...
    os_center: tuple[int, int] | None = None  # ... this pixel (x, y), moved when the source is 2 pixels off
    grid: tuple[np.ndarray, np.ndarray] | None = None  # pixel coords (dy, dx) of the full box
    kernel: np.ndarray | None = None  # PSF kernel of an extended source ...
    kernel_pos: tuple[float, float] | None = None  # ... drawn at this position
    subpix: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    n_sub: int = 0  # model sub-pixels per axis, kept while within a factor 2 of the need
    mask_box: np.ndarray | None = None
    mask_row: np.ndarray | None = None  # the mask of every energy when all are equal
    sel: np.ndarray | None = None
    sel_e: np.ndarray | None = None
    sel_p: np.ndarray | None = None
    # values of the current parameters
    flux: np.ndarray | None = None
    a: np.ndarray | None = None
    b: np.ndarray | None = None
    g: np.ndarray | None = None
    a_sel: np.ndarray | None = None
    npred: np.ndarray | None = None
    # WStat: the selected bins where the spatial response is non-zero (kept per position)
    nz_sel: np.ndarray | None = None
    nz_e: np.ndarray | None = None  # bin boundaries of each reco energy in nz_sel (e-major order)
    nz_a: np.ndarray | None = None
    nz_wstat: WStatSum | None = None  # WStat of these bins, and its no-signal sum
    nz_w0: float = 0.0


def _jacobian(wcs: Any, px: float, py: float) -> np.ndarray:
    """Local sky offsets [deg] (east, north) per pixel step in x and y at pixel (px, py)."""

    xs = np.array([px, px + 0.5, px - 0.5, px, px])
    ys = np.array([py, py, py, py + 0.5, py - 0.5])
    lon, lat = wcs.pixel_to_world_values(xs, ys)
    e, n = lambert_offsets(np.asarray(lon[1:]), np.asarray(lat[1:]), lon[0], lat[0])
    e, n = np.asarray(e) / _D2R, np.asarray(n) / _D2R
    return np.array([[e[0] - e[1], e[2] - e[3]], [n[0] - n[1], n[2] - n[3]]])


class MapEvaluator(EvaluatorBase):
    """Predicted counts and fit statistic of one 3D dataset for a fixed set of models.

    The statistic is Cash over the dataset's ``background`` (times the background model), or,
    for an ON/OFF dataset (``counts_off``, ``acceptance``, ``acceptance_off``: the ring
    background's MapDatasetOnOff), WStat with the background profiled in every pixel and energy
    bin (:class:`xgamma.stats.WStatSum`); background models are then not used.

    Parameters
    ----------
    dataset : xarray.Dataset
        A 3D reduced dataset (with an ``obs`` dim: one evaluator per observation, summed).
    models : Models
        The models of the fit; :meth:`stat` and :meth:`npred` take the flat vector of
        ``models.parameters`` values (or a :class:`Models` with the same parameter names).
    psf_containment : float
        Containment fraction setting the PSF kernel radius.
    max_oversampling : int, optional
        Cap on the sub-pixel factor of small extended models.
    point_sampling : {"exact", "bilinear"}, optional
        How point sources go on the pixels (:data:`POINT_SAMPLING`); default: the dataset's
        ``attrs["point_sampling"]``, else ``"exact"``. ``"bilinear"`` reproduces the established
        tool's predicted counts; it widens the PSF core by up to a pixel (most for a source at a
        pixel corner).

    Examples
    --------
    >>> import xgamma as xg
    >>> from xgamma import testing
    >>> from xgamma.models import SkyModel, Models, BackgroundModel, spectral_model
    >>> from xgamma.models.spatial import spatial_model
    >>> ds = xg.reduce(testing.make_observation(n_events=300), testing.make_wcs_geom(width=1.0, binsz=0.05))
    >>> models = Models([SkyModel("src", spectral_model("pl", amplitude=1e-11),
    ...                           spatial_model("point", lon_0=83.633, lat_0=22.014)),
    ...                  BackgroundModel((ds.attrs["name"],))])
    >>> ev = MapEvaluator(ds, models)
    >>> v = models.parameters.values
    >>> s1 = ev.stat(v); v[1] *= 2; s2 = ev.stat(v)          # amplitude doubled
    >>> bool(np.isfinite(s1) and s2 != s1)
    True
    """

    def __init__(self, dataset: xr.Dataset, models: Any, psf_containment: float = PSF_CONTAINMENT,
                 max_oversampling: int | None = None, point_sampling: str | None = None) -> None:
        models = as_models(models)
        if point_sampling is None:
            point_sampling = str(dataset.attrs.get("point_sampling", "exact"))
        if point_sampling not in POINT_SAMPLING:
            raise ValueError(f"point_sampling must be one of {POINT_SAMPLING}, got {point_sampling!r}")
        self.point_sampling = point_sampling
        self.names = models.parameters.names
        self.signal: list[tuple[str, slice]] = []
        self.bkg_models: list[tuple[str, slice]] = []
        self.psf_containment = float(psf_containment)
        self.max_oversampling = max_oversampling
        self._subs: list[MapEvaluator] = []
        split = next((d for d in ("obs", "event_type") if d in dataset.dims), None)
        if split is not None:  # joint likelihood: a sum over observations and event types
            self._subs = [MapEvaluator(dataset.isel({split: i}), models, psf_containment, max_oversampling,
                                       point_sampling)
                          for i in range(dataset.sizes[split])]
            self.signal = [x for e in self._subs for x in e.signal]
            self.bkg_models = [x for e in self._subs for x in e.bkg_models]
            return
        self.data = d = _MapData.from_dataset(dataset)
        self.shape = d.counts.shape
        self.onoff = d.counts_off is not None
        # the parameter slices the prediction uses (same convention as xgamma.fit's 1D terms)
        self.split_models(models, _Source, with_background=not self.onoff)
        self._set_counts(d.counts)
        # masked background per energy (ON/OFF: none fixed, WStat profiles it)
        bm = np.where(d.mask, 0.0 if self.onoff else d.background, 0.0)
        self._bkg_sum = bm.sum(axis=(1, 2))

    def _set_counts(self, counts: np.ndarray) -> None:
        """The bins entering the log term of the Cash statistic (masked, counts > 0); for
        ON/OFF the bins with ON or OFF counts (elsewhere WStat is ``2 mu_sig``)."""
        d = self.data
        if d.counts_off is not None and d.alpha is not None:
            m = d.mask & ((counts > 0) | (d.counts_off > 0))
            self._wstat: WStatSum | None = WStatSum(counts[m], d.counts_off[m], d.alpha[m])
        else:
            m = d.mask & (counts > 0)
            self._wstat = None
        self._ce, self._cy, self._cx = np.nonzero(m)
        self._cn = counts[m]
        self._cb = np.zeros(int(m.sum())) if self._wstat is not None else d.background[m]
        if self._wstat is not None:
            # WStat without signal, per bin: only the bins inside a source's cut-out change
            self._w0 = self._wstat.per_bin(np.zeros(self._cn.size))
            self._w0_sum = float(self._w0.sum())

    def with_counts(self, counts: Any) -> MapEvaluator:
        """A new evaluator for other counts (e.g. simulated) on the same dataset and models,
        reusing the dataset arrays (the per-source state starts afresh).

        Examples
        --------
        >>> import xgamma as xg
        >>> from xgamma import testing
        >>> ds = xg.reduce(testing.make_observation(n_events=100), testing.make_wcs_geom(width=1.0, binsz=0.1))
        >>> empty = MapEvaluator(ds, []).with_counts(ds.counts * 0)   # no counts: stat = 2 sum(mu)
        >>> bool(np.isclose(empty.stat([]), 2 * float(ds.background.where(ds.mask_safe).sum())))
        True
        """
        if self._subs:
            arr = np.asarray(counts.values if isinstance(counts, xr.DataArray) else counts, dtype=float)
            new = copy.copy(self)
            new._subs = [e.with_counts(arr[i]) for i, e in enumerate(self._subs)]
            return new
        if isinstance(counts, xr.DataArray):
            counts = counts.transpose("energy", "y", "x").values
        counts = np.asarray(counts, dtype=float)
        if counts.shape != self.shape:
            raise ValueError(f"counts shape {counts.shape} != {self.shape}")
        new = copy.copy(self)
        new.data = dataclasses.replace(self.data, counts=counts)
        new.sources = [_Source(s.model, s.spatial, s.offset, s.n_spec, s.n_spat, s.n_temp) for s in self.sources]
        new._set_counts(counts)
        return new

    # ------------------------------------------------------------------ helpers
    def _place_box(self, s: _Source, lon: float, lat: float, px: float, py: float, radius: float | None) -> None:
        """(Re)build the cut-out of a source around pixel (px, py) with its PSF kernel size and
        the pieces of the statistic that depend on the cut-out only."""
        d = self.data
        n_e, ny, nx = self.shape
        psf, _, _ = d.irf_at(lon, lat)
        s.delta, s.h_psf, s.n_os = True, 0, 1
        if psf is not None and np.any(psf > 0):
            r_psf = float(np.max(psf_containment_radius(psf, d.rad_edges, self.psf_containment)))
            r68 = float(np.min(psf_containment_radius(psf, d.rad_edges, 0.68)))
            s.delta = r68 < 0.25 * d.pix
            # sub-pixel sampling from the width of the PSF core: a cusped profile (the LAT's,
            # with long tails) has a core much narrower than its 68 % radius
            r_core = min(r68, 2.0 * float(np.nanmin(psf_half_width(psf, d.rad))))
            if not s.delta:
                # the taper starts at 80 % of the kernel radius: put the containment radius there
                s.r_k = min(r_psf / 0.8, float(d.rad_edges[-1]))
                h = s.r_k / d.pix
                if np.isfinite(px + py):
                    with np.errstate(invalid="ignore"):
                        jinv = float(np.max(np.abs(np.linalg.inv(_jacobian(d.wcs, px, py)))))
                    h = s.r_k * jinv if np.isfinite(jinv) else h
                # far off the map (a wandering fit) the Jacobian degenerates: bound the kernel
                s.h_psf = min(max(int(math.ceil(h)), 1) + 1, max(ny, nx))
                s.n_os = int(min(max(math.ceil(3 * d.pix / r_core), 1), 8))
                s.os_half = int(math.ceil(4 * r_core / d.pix)) + 2 + _OS_MOVE + 1
        s.os_center = None
        finite = bool(np.isfinite(px) and np.isfinite(py))
        s.jac = _jacobian(d.wcs, px, py) if finite else np.diag([-d.pix, d.pix])
        if radius is None or not finite:
            half = 10**9
        else:
            half = int(math.ceil(1.2 * radius / d.pix)) + s.h_psf + 2
        ix, iy = (int(round(px)), int(round(py))) if finite else (nx // 2, ny // 2)
        if half >= max(ny, nx):
            half = 10**9
            y0, y1, x0, x1 = 0, ny, 0, nx
        else:
            y0, y1, x0, x1 = iy - half, iy + half + 1, ix - half, ix + half + 1
        s.box_full, s.center, s.half = (y0, y1, x0, x1), (float(ix), float(iy)), half
        s.tol = max(1.0, 0.2 * half) if half < 10**9 else float("inf")
        ya, yb = min(max(y0, 0), ny), min(max(y1, 0), ny)
        xa, xb = min(max(x0, 0), nx), min(max(x1, 0), nx)
        ys, xs = slice(ya, max(ya, yb)), slice(xa, max(xa, xb))
        s.box = (ys, xs)
        dy, dx = np.mgrid[y0:y1, x0:x1] if s.spatial.is_point else np.mgrid[0:1, 0:1]
        s.grid = (dy.astype(float), dx.astype(float))
        s.subpix = {}
        s.mask_box = np.ascontiguousarray(d.mask[:, ys, xs].reshape(n_e, -1), dtype=float)
        same = s.mask_box.size == 0 or bool(np.all(s.mask_box == s.mask_box[:1]))
        s.mask_row = s.mask_box[0].copy() if same and n_e else None
        inside = (self._cy >= ys.start) & (self._cy < ys.stop) & (self._cx >= xs.start) & (self._cx < xs.stop)
        s.sel = np.flatnonzero(inside)
        s.sel_e = self._ce[s.sel]
        s.sel_p = (self._cy[s.sel] - ys.start) * (xs.stop - xs.start) + (self._cx[s.sel] - xs.start)

    def _update_spatial(self, s: _Source, v: np.ndarray) -> None:
        d = self.data
        spatial = s.spatial
        vals = v[s.offset + s.n_spec: s.offset + s.n_spec + s.n_spat]
        pos = spatial.position_values(vals)
        if pos is not None:
            lon, lat = (float(a) for a in convert_lonlat(pos[0], pos[1], spatial.frame, d.frame))
            px, py = (float(a) for a in d.wcs.world_to_pixel_values(lon, lat))
        else:
            px, py = (self.shape[2] - 1) / 2, (self.shape[1] - 1) / 2
            lon, lat = (float(a) for a in d.wcs.pixel_to_world_values(px, py))
        radius = spatial.evaluation_radius_values(vals)
        need = None if radius is None else int(math.ceil(radius / d.pix)) + s.h_psf + 2
        if (s.box is None or abs(px - s.center[0]) > s.tol or abs(py - s.center[1]) > s.tol
                or (need is not None and (need > s.half or 2 * need < s.half < 10**9))):
            self._place_box(s, lon, lat, px, py, radius)
        assert s.box is not None and s.grid is not None
        if np.isfinite(px) and np.isfinite(py):
            s.jac = _jacobian(d.wcs, px, py)
        assert s.jac is not None
        psf, coef, ed = d.irf_at(lon, lat)
        ys, xs = s.box
        n_et = d.exposure.shape[0]
        if spatial.is_point:
            y0, y1, x0, x1 = s.box_full
            if s.os_center is None or max(abs(px - s.os_center[0]), abs(py - s.os_center[1])) > _OS_MOVE:
                s.os_center = (int(round(px)), int(round(py))) if np.isfinite(px + py) else (0, 0)
            if not (s.delta or coef is None) and self.point_sampling == "bilinear":
                k = self._bilinear_kernel(s, coef, px, py)
                s.b = ed
            else:
                if s.delta or coef is None:
                    k = tent_weights(px - x0, py - y0, (y1 - y0, x1 - x0))[None] * np.ones((n_et, 1, 1))
                else:
                    dy, dx = s.grid
                    k = _kernel(coef, d.rad, s.jac, dx - px, dy - py, s.n_os, s.r_k, self._os_core(s, y0, x0))
                s.b = ed * _bilinear_planes(d.exposure, px, py)[:, None]
            k = k[:, ys.start - y0: ys.stop - y0, xs.start - x0: xs.stop - x0]
            s.a = np.ascontiguousarray(k.reshape(n_et, -1))
        else:
            # a sampling that changes with the size parameter makes the statistic jump: keep it
            need_n = oversampling_factor(spatial.bin_size_min_values(vals), d.pix, self.max_oversampling or 16)
            if not s.n_sub or need_n > 2 * s.n_sub or 2 * need_n < s.n_sub:
                s.n_sub = need_n
            n = s.n_sub
            if n not in s.subpix:
                s.subpix[n] = subpixel_lonlat(d.wcs, ys, xs, n, d.frame, spatial.frame)
            lon_s, lat_s = s.subpix[n]
            if spatial.is_energy_dependent:
                ec = np.sqrt(d.et_edges[1:] * d.et_edges[:-1])
                vals_s = np.stack([spatial.evaluate_values(lon_s, lat_s, vals, e, sample=d.pix / n) for e in ec])
            else:
                vals_s = spatial.evaluate_values(lon_s, lat_s, vals, sample=d.pix / n)
            frac = block_mean(np.asarray(vals_s, dtype=float), n) * d.omega[ys, xs]
            cube = frac * d.exposure[:, ys, xs]
            if not s.delta and coef is not None:
                if s.kernel is None or s.kernel_pos != (lon, lat) or s.kernel.shape[-1] != 2 * s.h_psf + 1:
                    hk = s.h_psf
                    dy, dx = np.mgrid[-hk:hk + 1, -hk:hk + 1].astype(float)
                    s.kernel, s.kernel_pos = _kernel(coef, d.rad, s.jac, dx, dy, s.n_os, s.r_k), (lon, lat)
                # scipy.signal costs ~1.5 s at import: loaded on first use
                from scipy.signal import fftconvolve

                cube = fftconvolve(cube, s.kernel, mode="same", axes=(1, 2))
            s.a = np.ascontiguousarray(np.asarray(cube, dtype=float).reshape(n_et, -1))
            s.b = ed
        assert s.mask_box is not None and s.sel_p is not None
        # masked sums per (energy_true, energy); no BLAS: tiny products, threads only hurt
        if s.mask_row is not None:
            s.g = np.repeat((s.a * s.mask_row).sum(axis=1)[:, None], self.shape[0], axis=1)
        else:
            s.g = np.einsum("kp,ep->ke", s.a, s.mask_box)
        s.a_sel = s.a[:, s.sel_p]
        if self._wstat is not None and s.sel is not None and s.sel_e is not None:
            # only these bins' WStat changes with the source's spectrum (zero response elsewhere)
            nz = np.flatnonzero(np.any(s.a_sel != 0, axis=0))
            w = self._wstat
            s.nz_sel, s.nz_a = s.sel[nz], np.ascontiguousarray(s.a_sel[:, nz])
            s.nz_e = np.searchsorted(s.sel_e[nz], np.arange(self.shape[0] + 1))
            s.nz_wstat = WStatSum(w.n_on[s.nz_sel], w.n_off[s.nz_sel], w.alpha[s.nz_sel])
            s.nz_w0 = float(self._w0[s.nz_sel].sum())

    @staticmethod
    def _os_core(s: _Source, gy0: int, gx0: int) -> tuple[slice, slice] | None:
        """The rows and columns (of a kernel grid starting at pixel ``(gy0, gx0)``) sampled
        finely: within ``os_half`` pixels of ``os_center``, fixed while the source moves less than
        :data:`_OS_MOVE` pixels, so that npred stays smooth in the position."""
        if s.n_os <= 1 or s.os_center is None:
            return None
        cx, cy = s.os_center
        h = s.os_half
        return slice(max(cy - h - gy0, 0), max(cy + h + 1 - gy0, 0)), slice(max(cx - h - gx0, 0), max(cx + h + 1 - gx0, 0))

    def _bilinear_kernel(self, s: _Source, coef: np.ndarray, px: float, py: float) -> np.ndarray:
        """``point_sampling="bilinear"``: exposure-weighted PSF kernels ``(n_et, ny, nx)`` on the
        full box, centred on the four pixels around ``(px, py)`` with bilinear weights (one
        kernel drawn at a pixel centre, shifted)."""
        d = self.data
        _, ny, nx = d.exposure.shape
        y0, y1, x0, x1 = s.box_full
        i0, j0 = math.floor(px), math.floor(py)
        fx, fy = px - i0, py - j0
        gy, gx = np.mgrid[y0 - 1:y1, x0 - 1:x1].astype(float)  # the box grown by a pixel below
        assert s.jac is not None
        kc = _kernel(coef, d.rad, s.jac, gx - i0, gy - j0, s.n_os, s.r_k, self._os_core(s, y0 - 1, x0 - 1))
        hy, hx = y1 - y0, x1 - x0
        k = np.zeros((d.exposure.shape[0], hy, hx))
        for di, dj, w in ((0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)), (0, 1, (1 - fx) * fy), (1, 1, fx * fy)):
            j, i = j0 + dj, i0 + di
            if w == 0.0 or not (0 <= j < ny and 0 <= i < nx):
                continue  # flux put outside the map is lost
            k += (w * d.exposure[:, j, i])[:, None, None] * kc[:, 1 - dj: 1 - dj + hy, 1 - di: 1 - di + hx]
        return k

    def _update(self, s: _Source, v: np.ndarray) -> bool:
        i0, i1, i2, i3 = s.offset, s.offset + s.n_spec, s.offset + s.n_spec + s.n_spat, \
            s.offset + s.n_spec + s.n_spat + s.n_temp
        spec, spat, temp = v[i0:i1], v[i1:i2], v[i2:i3]
        changed = False
        if s.last_spat is None or not np.array_equal(spat, s.last_spat):
            self._update_spatial(s, v)
            s.last_spat = spat.copy()
            changed = True
        if (s.last_spec is None or not np.array_equal(spec, s.last_spec)
                or s.last_temp is None or not np.array_equal(temp, s.last_temp)):
            s.flux = self.source_flux(s, v)
            s.last_spec, s.last_temp = spec.copy(), temp.copy()
            changed = True
        if changed:
            s.npred = None
        return changed

    # ------------------------------------------------------------------ public
    def stat(self, values: Any) -> float:
        """Cash statistic ``2 sum(mu - n log mu)`` over the mask for parameter ``values`` (the
        flat vector of ``models.parameters``, or a :class:`Models`); for ON/OFF datasets the
        WStat deviance summed over the mask."""
        if self._subs:
            return float(sum(e.stat(values) for e in self._subs))
        v = self.values(values)
        if self._wstat is not None:
            return self._stat_wstat(v)
        s_e = self.bkg_norm(v)
        total = float((s_e * self._bkg_sum).sum())
        mu = self._cb * s_e[self._ce]
        for s in self.sources:
            self._update(s, v)
            assert s.b is not None and s.flux is not None and s.g is not None and s.a_sel is not None
            w = s.b * s.flux[:, None]
            total += float(np.sum(w * s.g))
            if s.sel is not None and s.sel.size:
                mu[s.sel] += np.einsum("ki,ki->i", w[:, s.sel_e], s.a_sel)
        return 2.0 * (total - float((self._cn * np.log(np.maximum(mu, _TRUNC))).sum()))

    def _stat_wstat(self, v: np.ndarray) -> float:
        """WStat over the mask: bins without ON and OFF counts add ``2 mu_sig`` (their profiled
        background is 0); of the others only those inside a source's cut-out differ from their
        no-signal value (computed once), so one evaluation costs the cut-outs only."""
        assert self._wstat is not None
        total = 0.0
        parts: list[tuple[_Source, np.ndarray, np.ndarray]] = []  # (source, its bins, mu_sig there)
        for s in self.sources:
            self._update(s, v)
            assert s.b is not None and s.flux is not None and s.g is not None and s.a_sel is not None
            w = s.b * s.flux[:, None]
            total += float(np.sum(w * s.g))
            if s.nz_sel is not None and s.nz_e is not None and s.nz_a is not None and s.nz_sel.size:
                # per reco energy one product (the bins are in energy-major order)
                mt = np.empty(s.nz_sel.size)
                for e in range(self.shape[0]):
                    lo, hi = int(s.nz_e[e]), int(s.nz_e[e + 1])
                    if hi > lo:
                        mt[lo:hi] = np.einsum("k,ki->i", w[:, e], s.nz_a[:, lo:hi])
                parts.append((s, s.nz_sel, mt))
        if not parts:
            return 2.0 * total + self._w0_sum
        if len(parts) == 1:
            s, _, mt = parts[0]
            assert s.nz_wstat is not None
            return 2.0 * (total - float(mt.sum())) + self._w0_sum - s.nz_w0 + s.nz_wstat(mt)
        touched = np.unique(np.concatenate([sel for _, sel, _ in parts]))
        mu = np.zeros(touched.size)
        for _, sel, val in parts:
            np.add.at(mu, np.searchsorted(touched, sel), val)
        return (2.0 * (total - float(mu.sum())) + self._w0_sum - float(self._w0[touched].sum())
                + float(self._wstat.per_bin(mu, touched).sum()))

    @property
    def onoff_counts(self) -> float:
        """Total ON + OFF counts of the WStat bins (0 for Cash): the scale of the statistic's
        rounding noise (:meth:`xgamma.fitting.fitter.Likelihood.rounding_noise`)."""
        if self._subs:
            return float(sum(e.onoff_counts for e in self._subs))
        if self._wstat is None:
            return 0.0
        return float(self._wstat.n_on.sum() + self._wstat.n_off.sum())

    def npred_sources(self, values: Any) -> np.ndarray:
        """Predicted source counts ``(energy, y, x)`` (all sky models, no background)."""
        if self._subs:
            return np.stack([e.npred_sources(values) for e in self._subs])
        v = self.values(values)
        out = np.zeros(self.shape)
        for s in self.sources:
            self._update(s, v)
            assert s.b is not None and s.flux is not None and s.a is not None and s.box is not None
            if s.npred is None:
                s.npred = np.einsum("ke,kp->ep", s.b * s.flux[:, None], s.a)
            ys, xs = s.box
            out[:, ys, xs] += s.npred.reshape(self.shape[0], ys.stop - ys.start, xs.stop - xs.start)
        return out

    def npred_background(self, values: Any) -> np.ndarray:
        """Predicted background counts ``(energy, y, x)``; ON/OFF datasets: ``alpha * mu_bkg``
        with ``mu_bkg`` profiled for the predicted signal (as WStat does)."""
        if self._subs:
            return np.stack([e.npred_background(values) for e in self._subs])
        d = self.data
        if d.counts_off is not None and d.alpha is not None:
            mu_bkg = wstat_profile_background(d.counts, d.counts_off, d.alpha, self.npred_sources(values))
            return np.nan_to_num(d.alpha * mu_bkg)
        return d.background * self.bkg_norm(self.values(values))[:, None, None]

    def npred(self, values: Any) -> np.ndarray:
        """Total predicted counts ``(energy, y, x)`` (``(obs, energy, y, x)`` with an obs dim)."""
        return self.npred_sources(values) + self.npred_background(values)


def _bilinear_planes(cube: np.ndarray, x: float, y: float) -> np.ndarray:
    """Bilinear interpolation of every plane of ``cube (n, ny, nx)`` at (x, y); constant in the
    outer half pixel, 0 outside."""
    _, ny, nx = cube.shape
    if not (np.isfinite(x) and np.isfinite(y)) or x < -0.5 or y < -0.5 or x > nx - 0.5 or y > ny - 0.5:
        return np.zeros(cube.shape[0])
    j, i, w = _tent4(float(x), float(y), ny, nx)
    return np.asarray((cube[:, j, i] * w).sum(axis=-1), dtype=float)


def is_map_dataset(dataset: xr.Dataset) -> bool:
    """True for a 3D (WCS map) dataset, which :class:`MapEvaluator` folds.

    Examples
    --------
    >>> from xgamma import testing
    >>> is_map_dataset(testing.make_wcs_geom())
    True
    """
    return "y" in dataset.dims and "x" in dataset.dims


def parameter_steps(models: Any) -> np.ndarray:
    """Suggested absolute initial fit steps for the flat parameter vector of ``models`` (NaN
    where the model type gives none): e.g. 0.01 deg for positions and sizes, where a step
    relative to the value (1 % of ``lon_0 = 83.6 deg``) would throw a fit off.

    Examples
    --------
    >>> from xgamma.models import spectral_model
    >>> from xgamma.models.spatial import spatial_model
    >>> parameter_steps(SkyModel("s", spectral_model("pl"), spatial_model("point"))).tolist()
    [nan, nan, nan, 0.01, 0.01]
    """
    out: list[float] = []
    for comp in as_models(models):
        for kind, part in (("spectral", comp.spectral), ("spatial", getattr(comp, "spatial", None)),
                           ("temporal", getattr(comp, "temporal", None))):
            if part is None:
                continue
            steps: dict[str, float] = {}
            if kind != "spectral" and hasattr(part, "spec"):
                steps = dict(part.spec.extra.get("steps", {}))
            out.extend(steps.get(p.name, np.nan) for p in part.parameters)
    return np.array(out, dtype=float)


def npred_map(dataset: xr.Dataset, models: Any, component: str | None = None, **kwargs: Any) -> xr.DataArray:
    """Predicted counts of a 3D dataset: ``DataArray(energy, y, x)`` (with ``obs`` first when
    the dataset has one), on the dataset's geometry; ``(energy, pix)`` for a HEALPix dataset
    (:func:`xgamma.fitting.fold_hpx.npred_hpx`).

    ``component``: only that sky model (``"background"`` for the background alone).
    ``kwargs`` go to :class:`MapEvaluator`.

    Examples
    --------
    >>> import xgamma as xg
    >>> from xgamma import testing
    >>> ds = xg.reduce(testing.make_observation(n_events=100), testing.make_wcs_geom(width=1.0, binsz=0.1))
    >>> bool(np.allclose(npred_map(ds, []).values, ds.background.values))   # no models: background
    True
    """
    if is_hpx_dataset(dataset):
        return npred_hpx(dataset, models, component=component, **kwargs)
    models = as_models(models)
    if component is not None and component != "background":
        models = Models([models[component]])
    ev = MapEvaluator(dataset, models, **kwargs)
    v = models.parameters.values
    if component == "background":
        vals = ev.npred_background(v)
    elif component is not None:
        vals = ev.npred_sources(v)
    else:
        vals = ev.npred(v)
    dims: tuple[str, ...] = ("energy", "y", "x")
    if "obs" in dataset.dims:
        dims = ("obs", *dims)
    coords = {k: c.variable for k, c in dataset.coords.items() if set(c.dims) <= set(dims)}
    attrs = {k: v for k, v in dataset.attrs.items() if k in sky.GEOM_KEYS}
    return xr.DataArray(vals, dims=dims, coords=coords, name="npred", attrs={**attrs, "units": ""})
