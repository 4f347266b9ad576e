"""Data reduction: one observation (DL3) to a reduced dataset (DL4), and the IRF maps.

:func:`reduce_many` (:mod:`xgamma.reduce_many`: many observations as dask tasks) and
:func:`stack` (:mod:`xgamma.stacking`) are defined elsewhere and re-exported here.

The 3D reduced dataset (the contract)
-------------------------------------
A reduced map dataset is an ``xarray.Dataset`` on the WCS geometry of the target
(:mod:`xgamma.sky`: dims ``(..., y, x)``, integer pixel coords, 2D ``ra``/``dec`` or
``glon``/``glat`` coords, attrs ``geom``, ``frame``, ``wcs``) with the variables

``counts(energy, y, x)``
    Counts in reconstructed energy, bins left-closed.
``exposure(energy_true, y, x)`` [cm2 s]
    Effective area at each pixel centre's offset from the pointing times the livetime.
``background(energy, y, x)`` [counts]
    The background IRF rate (BKG_3D in the FoV frame given by its ``fovalign`` attr, RADEC or
    ALTAZ, or BKG_2D) integrated over each energy bin (log-log, i.e. as a power law between the
    bin edges) and the pixel solid angle, times the ontime (GADF background rates are per unit
    ontime; this is what Gammapy does and what its reference numbers use). After a FoV
    normalisation (:func:`xgamma.background.fov_background`) it holds the scaled background and
    the dataset has ``fov_bkg_norm`` (and ``fov_bkg_tilt``).
``psf(energy_true, rad, y_irf, x_irf)`` [sr-1]
    The PSF profile at the centres of a coarse sky grid (default 0.2 deg pixels, like Gammapy's
    MapDataset), normalised so that ``sum(2 pi rad drad psf) = 1``; the coarse grid has integer
    pixel coords ``y_irf``, ``x_irf``, 2D coords ``ra_irf``/``dec_irf`` (or ``glon_irf``/
    ``glat_irf``) and its WCS header string in ``attrs["wcs_irf"]``.
``edisp(energy_true, energy, y_irf, x_irf)``
    Energy redistribution kernel on the same coarse grid: probability that a photon of
    true-energy bin ``i`` is reconstructed in reco bin ``j`` (rows sum to at most 1).
``exposure_irf(energy_true, y_irf, x_irf)`` [cm2 s]
    Exposure at the coarse pixels: the weight of PSF and edisp when stacking.
``mask_safe(energy, y, x)`` bool; optional ``mask_fit(energy, y, x)``.

attrs: ``obs_id`` (a list for stacked data), ``livetime``, ``ontime`` [s], ``pointing_ra``,
``pointing_dec`` [deg], ``name``, ``tstart``/``tstop``/``mjdref`` (GTI), the geometry attrs.
Maps are float64 (``dtype="float32"`` halves memory and time, like Gammapy's maps).

IRFs are interpolated as in Gammapy: linearly in log(energy) and linearly in offset, FoV
coordinates and rad between the bin centres, extrapolated between the outermost centres and
the outer bin edges, and 0 beyond them; the background in log(rate). With a safe mask, bins
where the background template is 0 are masked (Gammapy's ``bkg-invalid``).

Pixels beyond the IRF offset range get exposure and background 0 and ``mask_safe`` False.
Several observations on one geometry share an ``obs`` dim (:func:`reduce_many`): ``obs_id`` is
then the ``obs`` coordinate and ``livetime``, ``ontime``, ``pointing_ra``, ``pointing_dec`` are
coordinates along ``obs``. :func:`stack` sums over ``obs`` (or a list) with the masks applied.

Region geometries (1D spectra) are reduced by :func:`xgamma.spectrum.reduce_spectrum`, to
which :func:`reduce` dispatches.

Examples
--------
>>> import xgamma as xg
>>> from xgamma import testing
>>> obs = testing.make_observation(n_events=500)
>>> geom = testing.make_wcs_geom(width=2.0, binsz=0.1)
>>> ds = xg.reduce(obs, geom)
>>> sorted(ds.data_vars)
['background', 'counts', 'edisp', 'exposure', 'exposure_irf', 'mask_safe', 'psf']
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr
from astropy.coordinates import SkyCoord

from . import sky
from .axes import _axis_variables, axis_from_edges, edges
from .conventions import unit_of
from .errors import GeometryError, XgammaError

# re-exported: the many-observation driver (xgamma.reduce_many) and the stacking helpers
from .reduce_many import _active_client as _active_client
from .reduce_many import _compute as _compute
from .reduce_many import _detached as _detached
from .reduce_many import _reduce_task as _reduce_task
from .reduce_many import reduce_many
from .stacking import _stack_obs as _stack_obs
from .stacking import _stack_pair as _stack_pair
from .stacking import concat_obs as concat_obs
from .stacking import stack

__all__ = [
    "reduce",
    "reduce_many",
    "stack",
    "ReductionError",
    "DEFAULT_PRODUCTS",
    "make_exposure",
    "make_psf_map",
    "make_edisp_map",
    "irf_geom",
    "pixel_offsets",
]

#: Products computed by :func:`reduce` by default.
DEFAULT_PRODUCTS = ("counts", "exposure", "background", "psf", "edisp")

#: IRFs each product needs.
_NEEDS = {"exposure": ("aeff",), "background": ("bkg",), "psf": ("psf",),
          "edisp": ("edisp",), "counts": ()}



class ReductionError(XgammaError, ValueError):
    """An observation cannot be reduced (missing IRF, bad input); names the observation."""


# ----------------------------------------------------------------------------- observation access
def _obs_id(obs: Any) -> Any:
    return getattr(obs, "obs_id", None)


def _pointing(obs: Any) -> tuple[float, float]:
    """Pointing (ra, dec) in deg, ICRS."""
    p = getattr(obs, "pointing", None)
    ra = dec = None
    if isinstance(p, dict):
        ra, dec = p.get("ra"), p.get("dec")
    elif p is not None:
        ra, dec = getattr(p, "ra", None), getattr(p, "dec", None)
    if ra is None or dec is None:
        c = getattr(obs, "pointing_radec", None)
        if c is None:
            raise ReductionError(f"observation {_obs_id(obs)}: no pointing position (ra, dec)")
        c = c.icrs
        return float(c.ra.deg), float(c.dec.deg)
    return float(getattr(ra, "deg", ra)), float(getattr(dec, "deg", dec))  # type: ignore[arg-type]


def _irf(obs: Any, name: str) -> xr.DataArray | None:
    return getattr(obs, name, None)


def _check_irfs(obs: Any, products: Sequence[str]) -> None:
    missing: dict[str, list[str]] = {}
    for p in products:
        for irf in _NEEDS.get(p, ()):
            if _irf(obs, irf) is None:
                missing.setdefault(irf, []).append(p)
    if missing:
        what = "; ".join(f"{k} (needed by {', '.join(v)})" for k, v in missing.items())
        raise ReductionError(f"observation {_obs_id(obs)} lacks IRFs: {what}")


def _values(da: xr.DataArray, unit: str, dims: Sequence[str] | None = None) -> np.ndarray:
    """Values of ``da`` (with its dims in the order ``dims``) in ``unit`` as float64 numpy."""
    f = unit_of(da).to(unit) if da.attrs.get("units", "") != unit else 1.0
    vals = np.asarray(da.variable.values, dtype=float)
    if dims is not None and tuple(da.dims) != tuple(dims):  # no xarray transpose when in order
        vals = np.transpose(vals, [da.dims.index(d) for d in dims])
    return vals * f if f != 1.0 else vals


def _nodes(da: xr.DataArray, dim: str) -> tuple[np.ndarray, float, float]:
    """Node coordinates along ``dim`` and the valid range (outer bin edges)."""
    cv = da.coords.variables  # Variables: no DataArray built per access
    c = np.asarray(cv[dim].values, dtype=float)
    if f"{dim}_min" in cv:
        lo = float(cv[f"{dim}_min"].values[0])
        hi = float(cv[f"{dim}_max"].values[-1])
    else:
        lo, hi = float(c[0]), float(c[-1])
    return c, min(lo, float(c[0])), max(hi, float(c[-1]))


# ----------------------------------------------------------------------------- interpolation
def _weights(nodes: np.ndarray, x: np.ndarray, log: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Index ``i`` and weight ``w`` so that ``v(x) = v[i] (1 - w) + v[i + 1] w``.

    Linear (in ``log`` of the coordinate for log axes), extrapolating beyond the outer nodes.
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
        i, w = _weights(nodes, np.asarray(x, dtype=float), log=log)
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


def _offset_matrix(irf: xr.DataArray, offsets: np.ndarray, dtype: Any = float) -> np.ndarray:
    """Dense interpolation matrix ``W (n_nodes, n_points)`` of the IRF's offset nodes at the
    (flattened) ``offsets``: ``values @ W`` interpolates linearly in offset (extrapolating to
    the outer bin edges) and gives 0 beyond them."""
    nodes, lo, hi = _nodes(irf, "offset")
    x = offsets.ravel()
    ok = (x >= lo - 1e-9) & (x <= hi + 1e-9)
    mat = np.zeros((nodes.size, x.size), dtype=dtype)
    cols = np.arange(x.size)
    if nodes.size == 1:
        mat[0] = ok
        return mat
    i, w = _weights(nodes, np.where(np.isfinite(x), x, hi))
    mat[i, cols] = np.where(ok, 1 - w, 0.0)
    mat[i + 1, cols] = np.where(ok, w, 0.0)
    return mat


# ----------------------------------------------------------------------------- geometry helpers
def _lonlat_names(frame: str) -> tuple[str, str]:
    return ("ra", "dec") if frame == "icrs" else ("glon", "glat")


def _pointing_in_frame(radec: tuple[float, float], frame: str) -> tuple[float, float]:
    if frame == "icrs":
        return radec
    c = SkyCoord(radec[0], radec[1], unit="deg", frame="icrs").transform_to(frame)
    return float(c.spherical.lon.deg), float(c.spherical.lat.deg)


def _angsep(lon: np.ndarray, lat: np.ndarray, lon0: float, lat0: float) -> np.ndarray:
    """Angular distance in deg (haversine, numerically stable at small distances)."""
    la, la0 = np.radians(lat), np.radians(lat0)
    dlon = np.radians(lon - lon0)
    h = np.sin((la - la0) / 2) ** 2 + np.cos(la) * np.cos(la0) * np.sin(dlon / 2) ** 2
    return np.degrees(2 * np.arcsin(np.sqrt(np.clip(h, 0, 1))))


def pixel_offsets(geom: xr.Dataset | xr.DataArray, pointing: tuple[float, float],
                  suffix: str = "") -> np.ndarray:
    """Offsets (deg) of the pixel centres of ``geom`` from ``pointing`` (ra, dec ICRS).

    ``suffix`` selects the coarse IRF grid coordinates (``"_irf"``).

    Examples
    --------
    >>> from xgamma import testing
    >>> g = testing.make_wcs_geom(center=(10, 0), width=1.0, binsz=0.5)
    >>> pixel_offsets(g, (10, 0)).round(3).tolist()
    [[0.354, 0.354], [0.354, 0.354]]
    """
    frame = sky.frame_of(geom) if not suffix else geom.attrs.get("frame", "icrs")
    lname, bname = _lonlat_names(frame)
    lon0, lat0 = _pointing_in_frame(pointing, frame)
    lon = np.asarray(geom.coords.variables[lname + suffix].values, dtype=float)
    lat = np.asarray(geom.coords.variables[bname + suffix].values, dtype=float)
    with np.errstate(invalid="ignore"):
        off = _angsep(lon, lat, lon0, lat0)
    return np.where(np.isfinite(off), off, np.inf)


def irf_geom(geom: xr.Dataset | xr.DataArray, binsz: float = 0.2, wcs: Any = None) -> xr.Dataset:
    """The coarse sky grid of the PSF and edisp maps (dims ``y_irf``, ``x_irf``).

    Same projection and reference point as ``geom``, pixels of ``binsz`` deg covering the
    same area; coordinates are renamed with an ``_irf`` suffix and the WCS header is stored
    in ``attrs["wcs_irf"]``.

    Examples
    --------
    >>> from xgamma import testing
    >>> g = irf_geom(testing.make_wcs_geom(width=3.0, binsz=0.05), binsz=0.2)
    >>> dict(g.sizes)
    {'y_irf': 15, 'x_irf': 15}
    """
    w = sky.wcs_of(geom) if wcs is None else wcs
    ny, nx = int(geom.sizes["y"]), int(geom.sizes["x"])
    cdelt = np.abs(w.wcs.get_cdelt())
    fx, fy = binsz / cdelt[0], binsz / cdelt[1]
    nxc, nyc = max(1, int(np.ceil(nx / fx - 1e-6))), max(1, int(np.ceil(ny / fy - 1e-6)))
    wc = w.deepcopy()
    if wc.wcs.has_cd():
        wc.wcs.cd = wc.wcs.cd * np.array([[fx, fx], [fy, fy]]).T
    else:
        wc.wcs.cdelt = np.asarray(wc.wcs.cdelt) * np.array([fx, fy])
    # keep the map centre: pixel (n - 1) / 2 maps to the same point in both grids
    cx = ((nx - 1) / 2 + 1 - w.wcs.crpix[0]) / fx
    cy = ((ny - 1) / 2 + 1 - w.wcs.crpix[1]) / fy
    wc.wcs.crpix = [(nxc - 1) / 2 + 1 - cx, (nyc - 1) / 2 + 1 - cy]
    wc.wcs.set()
    frame = sky.frame_of(geom)
    lname, bname = _lonlat_names(frame)
    yy, xx = np.mgrid[0:nyc, 0:nxc]
    lon, lat = wc.pixel_to_world_values(xx, yy)
    coords = {
        "y_irf": ("y_irf", np.arange(nyc, dtype=np.int64)),
        "x_irf": ("x_irf", np.arange(nxc, dtype=np.int64)),
        f"{lname}_irf": (("y_irf", "x_irf"), np.mod(lon, 360.0), {"units": "deg"}),
        f"{bname}_irf": (("y_irf", "x_irf"), np.asarray(lat), {"units": "deg"}),
    }
    return xr.Dataset(coords=coords, attrs={"frame": frame,
                                            "wcs_irf": sky.wcs_header(wc)})


# ----------------------------------------------------------------------------- products
def _energy_axis(geom: Any, dim: str = "energy") -> xr.DataArray:
    if dim not in geom.dims or f"{dim}_min" not in geom.coords:
        raise GeometryError(f"the geometry needs a binned {dim!r} axis (xg.energy_axis)")
    if isinstance(geom, xr.DataArray) and geom.dims == (dim,) and \
            geom.attrs.get("interp") == "log" and geom.attrs.get("units") == "TeV" and \
            geom.coords[f"{dim}_min"].attrs.get("units") == "TeV":
        e = edges(geom, dim)
        if e.size >= 2 and e[0] > 0 and bool(np.all(np.diff(e) > 0)) and \
                np.array_equal(np.asarray(geom.values), np.sqrt(e[:-1] * e[1:])):
            return geom  # already a valid log axis in TeV: used as it is
    e = edges(geom, dim)
    unit = str(geom.coords[f"{dim}_min"].attrs.get("units", "TeV")) or "TeV"
    ax = axis_from_edges(e, dim, unit=unit, interp="log")
    if unit != "TeV":
        ax = axis_from_edges(e * unit_of(ax.coords[f"{dim}_min"]).to("TeV"), dim, unit="TeV")
    return ax


def _energy_edges(geom: Any, dim: str = "energy") -> np.ndarray:
    """Edges (TeV) of the energy axis of ``geom``: those of :func:`_energy_axis`, without
    building the axis when they are in TeV and valid already."""
    if dim in geom.dims and f"{dim}_min" in geom.coords and \
            (str(geom.coords[f"{dim}_min"].attrs.get("units", "TeV")) or "TeV") == "TeV":
        e = edges(geom, dim)
        if e.size >= 2 and e[0] > 0 and bool(np.all(np.diff(e) > 0)):
            return e
    return edges(_energy_axis(geom, dim))


def make_exposure(aeff: xr.DataArray, energy_true: np.ndarray, offsets: np.ndarray,
                  livetime: float, dtype: Any = float) -> np.ndarray:
    """Exposure [cm2 s] = aeff(energy_true, offset) x livetime, shape ``(n_e, *offsets.shape)``.

    The effective area is interpolated in log(energy) at its own offset nodes, then linearly in
    offset (one matrix product), which is the bilinear interpolation of the IRF; negative
    extrapolated values are clipped to 0.

    Examples
    --------
    >>> import numpy as np
    >>> from xgamma import testing
    >>> aeff = testing.make_aeff()
    >>> make_exposure(aeff, np.array([1.0]), np.array([[0.5]]), 100.0).shape
    (1, 1, 1)
    """
    energy_true = np.asarray(energy_true, dtype=float)
    offsets = np.asarray(offsets, dtype=float)
    vals = _values(aeff, "cm2", ("energy_true", "offset"))
    en, elo, ehi = _nodes(aeff, "energy_true")
    ae = interp_along(vals, 0, en, energy_true, valid=(elo, ehi), log=True) * float(livetime)
    # float32 maps: the (two-term) offset interpolation in float32, no float64 temporary
    work = np.float32 if np.dtype(dtype) == np.float32 else float
    out = ae.astype(work) @ _offset_matrix(aeff, offsets, dtype=work)
    np.maximum(out, 0.0, out=out)
    return out.astype(dtype, copy=False).reshape((energy_true.size, *offsets.shape))


def make_psf_map(psf: xr.DataArray, energy_true: np.ndarray, rad_edges: np.ndarray,
                 offsets: np.ndarray) -> np.ndarray:
    """PSF profile [sr-1] at ``energy_true`` (n_e,), rad bin centres and ``offsets``.

    Returns ``(n_e, n_rad, *offsets.shape)``, normalised per offset so that
    ``sum(2 pi r dr psf) = 1`` over the rad bins (r in rad). The IRF is interpolated at its
    own offset nodes and then linearly in offset, normalisation included, which is exact for
    linear interpolation in offset.

    Examples
    --------
    >>> import numpy as np
    >>> from xgamma import testing
    >>> r = np.linspace(0, 0.66, 67)
    >>> p = make_psf_map(testing.make_psf(), np.array([1.0]), r, np.array([0.5]))
    >>> rc, dr = np.radians(0.5 * (r[1:] + r[:-1])), np.radians(np.diff(r))
    >>> round(float((2 * np.pi * rc * dr * p[0, :, 0]).sum()), 9)
    1.0
    """
    return _psf_map(psf, energy_true, rad_edges, offsets)


def _psf_map(psf: xr.DataArray, energy_true: np.ndarray, rad_edges: np.ndarray,
             offsets: np.ndarray, dtype: Any = float) -> np.ndarray:
    """:func:`make_psf_map`, in float64, cast once to ``dtype``."""
    vals = _values(psf, "sr-1", ("energy_true", "offset", "rad"))
    en, elo, ehi = _nodes(psf, "energy_true")
    rn, rlo, rhi = _nodes(psf, "rad")
    rc = 0.5 * (rad_edges[1:] + rad_edges[:-1])
    p = interp_along(vals, 0, en, energy_true, valid=(elo, ehi), log=True)
    p = np.clip(interp_along(p, 2, rn, rc, valid=(rlo, rhi)), 0, None)  # (e, o, r)
    p = np.moveaxis(p, 1, 2)  # (e, r, o)
    jac = 2 * np.pi * np.radians(rc) * np.radians(np.diff(rad_edges))
    norm = np.einsum("ero,r->eo", p, jac)
    mat = _offset_matrix(psf, offsets)
    den = norm @ mat  # (e, points), float64
    inv = np.zeros(den.shape)
    np.divide(1.0, den, out=inv, where=den > 0)
    out = np.empty((p.shape[0], p.shape[1], mat.shape[1]), dtype=dtype)
    for i in range(p.shape[0]):  # per energy: small float64 temporaries, cast once
        # float64: extrapolated offset weights (outside [0, 1]) may cancel
        out[i] = (p[i] @ mat) * inv[i]
    return out.reshape((*out.shape[:2], *offsets.shape))


def make_edisp_map(edisp: xr.DataArray, energy_true: np.ndarray, energy_edges: np.ndarray,
                   offsets: np.ndarray) -> np.ndarray:
    """Energy redistribution kernel at true energies ``(n_e,)`` and ``offsets``.

    Returns ``(n_e, n_reco, *offsets.shape)``: the probability that a photon of true energy
    ``energy_true[i]`` is reconstructed in ``[energy_edges[j], energy_edges[j + 1])``. The
    migration density is interpolated at the true energies (log) and at the IRF's own migra
    and offset nodes, normalised to unit integral over migra (piecewise constant in the migra
    bins) and integrated over the reco bins; offsets are interpolated linearly, normalisation
    included.

    Examples
    --------
    >>> import numpy as np
    >>> from xgamma import testing
    >>> k = make_edisp_map(testing.make_edisp(), np.array([1.0]), np.array([0.1, 1.0, 100.0]),
    ...                    np.array([0.5]))
    >>> round(float(k.sum()), 6)
    1.0
    """
    vals = _values(edisp, "", ("energy_true", "migra", "offset"))
    en, elo, ehi = _nodes(edisp, "energy_true")
    p = np.clip(interp_along(vals, 0, en, energy_true, valid=(elo, ehi), log=True), 0, None)
    m_edges = edges(edisp, "migra")
    cum = np.concatenate([np.zeros_like(p[:, :1]), np.cumsum(p * np.diff(m_edges)[None, :, None],
                                                             axis=1)], axis=1)  # (e, m+1, o)
    n_e = energy_true.size
    # cumulative migration at the reco edges / each true energy (linear in migra)
    m = np.clip(energy_edges[None, :] / energy_true[:, None], m_edges[0], m_edges[-1])
    i = np.clip(np.searchsorted(m_edges, m, side="right") - 1, 0, m_edges.size - 2)
    w = ((m - m_edges[i]) / (m_edges[i + 1] - m_edges[i]))[..., None]
    k = np.arange(n_e)[:, None]
    unnorm = np.diff(cum[k, i] * (1 - w) + cum[k, i + 1] * w, axis=1)  # (e, r, o)
    total = cum[:, -1, :]
    mat = _offset_matrix(edisp, offsets)
    out = unnorm @ mat
    den = (total @ mat)[:, None, :]
    np.divide(out, den, out=out, where=den > 0)
    out *= den > 0
    np.maximum(out, 0.0, out=out)
    return out.reshape((n_e, energy_edges.size - 1, *offsets.shape))


def _rad_coords(rad: Any) -> tuple[dict[str, xr.Variable], np.ndarray]:
    """Coordinate variables and edges (deg) of the PSF map's rad axis: ``rad`` (an axis or
    edges) or by default 0-0.66 deg in 66 bins (Gammapy's), built as variables only."""
    if rad is None:
        e = np.linspace(0.0, 0.66, 67)
        return _axis_variables(0.5 * (e[:-1] + e[1:]), e[:-1], e[1:], "rad",
                               {"units": "deg", "interp": "lin"}), e
    ax = rad if isinstance(rad, xr.DataArray) else \
        axis_from_edges(np.asarray(rad, dtype=float), "rad", unit="deg", interp="lin")
    return {str(k): v.variable for k, v in ax.coords.items()}, edges(ax)


def _bin_counts(events: Any, geom: xr.Dataset, wcs: Any, e_edges: np.ndarray,
                dtype: Any = float) -> np.ndarray:
    """Counts ``(energy, y, x)``: the binning of :func:`xgamma.binning.bin_events` (pixel ``i``
    covers ``[i - 0.5, i + 0.5)``, energy bins left-closed) on the numpy fast path."""
    ny, nx = int(geom.sizes["y"]), int(geom.sizes["x"])
    ne = e_edges.size - 1
    ra = np.asarray(events["ra"].to_numpy(), dtype=float)
    dec = np.asarray(events["dec"].to_numpy(), dtype=float)
    energy = np.asarray(events["energy"].to_numpy(), dtype=float)
    unit = (getattr(events, "attrs", {}) or {}).get("units", {}).get("energy", "TeV")
    if unit and unit != "TeV":
        energy = energy * unit_of(xr.DataArray(0, attrs={"units": unit})).to("TeV")
    if sky.frame_of(geom) != "icrs":
        c = SkyCoord(ra, dec, unit="deg").transform_to(sky.frame_of(geom)).spherical
        ra, dec = np.asarray(c.lon.deg), np.asarray(c.lat.deg)
    ie = np.searchsorted(e_edges, energy, side="right") - 1
    ok = (ie >= 0) & (ie < ne)
    x, y = wcs.world_to_pixel_values(ra[ok], dec[ok])
    with np.errstate(invalid="ignore"):
        ix = np.floor(np.asarray(x) + 0.5)
        iy = np.floor(np.asarray(y) + 0.5)
        inside = (ix >= 0) & (ix < nx) & (iy >= 0) & (iy < ny)
    flat = (ie[ok][inside] * ny + iy[inside].astype(np.intp)) * nx + ix[inside].astype(np.intp)
    return np.bincount(flat, minlength=ne * ny * nx).astype(dtype).reshape(ne, ny, nx)


# ----------------------------------------------------------------------------- reduce
def _empty_warning(obs: Any, why: str) -> None:
    warnings.warn(f"observation {_obs_id(obs)}: {why}; exposure and background are 0 and "
                  "mask_safe is False there", stacklevel=3)


def _safe_mask_args(safe_mask: Any) -> dict[str, Any] | None:
    if safe_mask is None or safe_mask is False:
        return None
    if isinstance(safe_mask, str):
        return {"methods": [safe_mask]}
    if isinstance(safe_mask, dict):
        return dict(safe_mask)
    return {"methods": list(safe_mask)}


def _apply_background_method(ds: xr.Dataset, method: Any, exclusion_mask: Any) -> xr.Dataset:
    from .background import fov_background

    if method is None:
        return ds
    if callable(method):
        return method(ds)
    return fov_background(ds, **_background_opts(method, exclusion_mask))


def _background_opts(method: Any, exclusion_mask: Any) -> dict[str, Any]:
    """Options of :func:`xgamma.background.fov_background` for a ``background_method``."""
    opts: dict[str, Any] = {"method": "scale"}
    if isinstance(method, dict):
        opts.update(method)
    elif method in ("fov", "scale"):
        opts["method"] = "scale"
    elif method == "fit":
        opts["method"] = "fit"
    else:
        raise ValueError(f"unknown background_method {method!r}: use None, 'fov'/'scale', "
                         "'fit', a dict of fov_background options or a callable")
    kind = opts.pop("kind", "fov")
    if kind != "fov":
        raise ValueError(f"unknown background kind {kind!r}")
    opts.setdefault("exclusion_mask", exclusion_mask)
    return opts


def reduce(
    observation: Any,
    geom: xr.Dataset | xr.DataArray,
    energy_true: xr.DataArray | None = None,
    products: Sequence[str] = DEFAULT_PRODUCTS,
    safe_mask: Any = None,
    background_method: Any = None,
    exclusion_mask: xr.DataArray | None = None,
    offset_max: float | None = None,
    psf_binsz: float = 0.2,
    rad: Any = None,
    name: str | None = None,
    dtype: Any = "float64",
    **kwargs: Any,
) -> xr.Dataset:
    """Reduce one observation to a dataset on ``geom``.

    Parameters
    ----------
    observation : Observation
        An observation (``xgamma.io.store.Observation`` or :class:`xgamma.testing.Observation`):
        events, IRFs, pointing, livetime/ontime.
    geom : Dataset or DataArray
        Target geometry with an ``energy`` axis: WCS (3D dataset) or region (1D spectrum,
        dispatched to :func:`xgamma.spectrum.reduce_spectrum` with all arguments).
    energy_true : DataArray, optional
        True-energy axis of exposure, PSF and edisp; default: the reco energy axis.
    products : sequence of str
        Any of ``counts``, ``exposure``, ``background``, ``psf``, ``edisp``.
    safe_mask : list of str, dict or None
        Safe-mask methods (:func:`xgamma.safe_mask.make_safe_mask`), e.g.
        ``["offset-max", "aeff-default"]`` or ``{"methods": ["aeff-max"], "aeff_percent": 10}``
        (``offset-max`` is evaluated here with the pixel offsets at hand, same definition).
    background_method : None, "fov", "fit", dict or callable
        FoV normalisation of the background template (:func:`xgamma.background.fov_background`:
        ``"fov"`` scales, ``"fit"`` fits; a dict gives its options), applied after the safe
        mask; or a callable ``f(dataset) -> dataset``.
    exclusion_mask : DataArray, optional
        True where NOT excluded, for the background normalisation.
    offset_max : float, optional
        Maximum offset (deg): pixels beyond it get ``mask_safe`` False.
    psf_binsz : float
        Pixel size (deg) of the coarse PSF/edisp grid.
    rad : DataArray or array, optional
        Rad axis (or edges in deg) of the PSF map; default 0-0.66 deg in 66 bins.
    name : str, optional
        Dataset name (default ``"obs_<id>"``).
    dtype : dtype
        Float type of the maps; ``"float32"`` (Gammapy's default) halves memory and time. The
        background integral is computed in float32 either way (relative precision ~1e-7).
    **kwargs
        For WCS geometries: options of :func:`xgamma.background.make_background`
        (``fov_rotation_step``); for regions: options of ``reduce_spectrum``.

    Returns
    -------
    xarray.Dataset
        The reduced dataset (see the module docstring).

    Raises
    ------
    ReductionError
        If the observation lacks an IRF a product needs (message names the obs id and IRF).

    Notes
    -----
    A geometry entirely outside the field of view (beyond the IRF offset range) gives zero
    exposure and background, ``mask_safe`` False everywhere and a warning; so does a zero
    livetime.

    Examples
    --------
    >>> from xgamma import testing
    >>> obs = testing.make_observation(n_events=300)
    >>> ds = reduce(obs, testing.make_wcs_geom(width=1.0, binsz=0.1), products=["counts", "exposure"])
    >>> ds.exposure.attrs["units"], int(ds.attrs["obs_id"])
    ('cm2 s', 1)
    """
    from .background import _fov_and_offset, _pixel_icrs, _template, pixel_solid_angle
    from .safe_mask import make_safe_mask

    kind = sky.geom_kind(geom)
    if kind == "region":
        from .spectrum import reduce_spectrum  # type: ignore[attr-defined]

        if background_method is not None:
            kwargs.setdefault("background", background_method)
        return reduce_spectrum(observation, geom, energy_true=energy_true, safe_mask=safe_mask,
                               exclusion_mask=exclusion_mask, name=name, **kwargs)
    if kind != "wcs":
        raise GeometryError(f"reduce supports WCS and region geometries, got {kind!r}")
    products = tuple(products)
    unknown = set(products) - set(_NEEDS)
    if unknown:
        raise ValueError(f"unknown products {sorted(unknown)}; choose from {sorted(_NEEDS)}")
    _check_irfs(observation, products)
    keep = {"energy", "y", "x"}
    if isinstance(geom, xr.Dataset) and not geom.data_vars and "geom" in geom.attrs and \
            set(geom.dims) == keep and all(v.ndim > 0 for v in geom.coords.variables.values()):
        g = geom  # a geometry such as wcs_geom's already: nothing to copy or drop
    else:
        g = sky.geom_of(geom)
        g = g.drop_vars([c for c in g.coords if c not in set(sky._dims(g)) and not
                         set(g.coords.variables[c].dims) <= keep])
    e_edges = _energy_edges(g)
    if energy_true is None:
        et_axis = axis_from_edges(e_edges, "energy_true", unit="TeV")
    else:
        et_axis = _energy_axis(energy_true, "energy_true")
    et = np.asarray(et_axis.values, dtype=float)
    obs_id = _obs_id(observation)
    pnt = _pointing(observation)
    livetime = float(getattr(observation, "livetime", 0.0) or 0.0)
    ontime = float(getattr(observation, "ontime", 0.0) or 0.0)
    shape = (int(g.sizes["energy"]), int(g.sizes["y"]), int(g.sizes["x"]))
    ra, dec = _pixel_icrs(g)
    with np.errstate(invalid="ignore"):
        fov_lon, fov_lat, offsets = _fov_and_offset(ra, dec, pnt)
        offsets = np.where(np.isfinite(offsets), offsets, np.inf)
    aeff = _irf(observation, "aeff")
    wcs = sky.wcs_of(g)

    data: dict[str, Any] = {}
    if "counts" in products:
        data["counts"] = (("energy", "y", "x"),
                          _bin_counts(observation.events, g, wcs, e_edges, dtype),
                          {"units": ""})
    inside = np.ones(offsets.shape, dtype=bool)
    for irf_name in ("aeff", "bkg"):
        irf = _irf(observation, irf_name)
        if irf is not None and "offset" in irf.dims:
            inside &= offsets <= _nodes(irf, "offset")[2] + 1e-9
    if "exposure" in products:
        exposure = make_exposure(aeff, et, offsets, livetime, dtype)  # type: ignore[arg-type]
        data["exposure"] = (("energy_true", "y", "x"), exposure, {"units": "cm2 s"})
    unexpected = set(kwargs) - {"fov_rotation_step"}
    if unexpected:
        raise TypeError(f"unexpected arguments {sorted(unexpected)}")
    if "background" in products:
        bkg = _template(observation, e_edges, ra, dec, pnt, pixel_solid_angle(g),
                        float(kwargs.get("fov_rotation_step", 1.0)), offsets=offsets,
                        fov=(fov_lon, fov_lat), dtype=dtype)
        data["background"] = (("energy", "y", "x"), bkg, {"units": ""})
    coords: dict[str, Any] = {str(k): v.variable for k, v in g.coords.items()}
    coords.update({str(k): v.variable for k, v in et_axis.coords.items()})
    attrs: dict[str, Any] = {str(k): v for k, v in g.attrs.items()}
    if "psf" in products or "edisp" in products:
        gi = irf_geom(g, psf_binsz, wcs=wcs)
        off_irf = pixel_offsets(gi, pnt, suffix="_irf")
        coords.update({str(k): v.variable for k, v in gi.coords.items()})
        attrs["wcs_irf"] = gi.attrs["wcs_irf"]
        if aeff is not None:
            data["exposure_irf"] = (("energy_true", "y_irf", "x_irf"),
                                    make_exposure(aeff, et, off_irf, livetime, dtype),
                                    {"units": "cm2 s"})
        if "psf" in products:
            r_coords, r_edges = _rad_coords(rad)
            coords.update(r_coords)
            pm = _psf_map(observation.psf, et, r_edges, off_irf, dtype)
            data["psf"] = (("energy_true", "rad", "y_irf", "x_irf"), pm,
                           {"units": "sr-1"})
        if "edisp" in products:
            km = make_edisp_map(observation.edisp, et, e_edges, off_irf)
            data["edisp"] = (("energy_true", "energy", "y_irf", "x_irf"), km.astype(dtype),
                             {"units": ""})
    sm = _safe_mask_args(safe_mask)
    methods = list(sm.get("methods", ())) if sm is not None else []
    if "offset-max" in methods:  # done here with the offsets at hand (same definition)
        methods.remove("offset-max")
        off_max = float(sm.get("offset_max", 3.0)) if sm is not None else 3.0
        offset_max = off_max if offset_max is None else min(off_max, float(offset_max))
    mask = np.broadcast_to(inside, shape).copy()
    if offset_max is not None:
        mask &= (offsets < float(offset_max))[None]
    if "background" in data and sm is not None:  # Gammapy's bkg-invalid part of the safe mask
        b = data["background"][1]
        if b.any():
            mask &= b > 0
    if livetime <= 0 and any(p in products for p in ("exposure", "background")):
        _empty_warning(observation, "zero livetime")
        mask[:] = False
    elif not inside.any():
        _empty_warning(observation, "the geometry lies entirely outside the field of view "
                       "(beyond the IRF offset range)")
    if sm is not None and methods and set(methods) <= {"aeff-default"}:
        # the only remaining method is a reco-energy range: applied here on numpy
        from .safe_mask import _default_thresholds, _range_mask

        mask &= _range_mask(e_edges, *_default_thresholds(observation))[:, None, None]
        methods = []
    data["mask_safe"] = (("energy", "y", "x"), mask, {})
    if not methods and background_method is not None and not callable(background_method) \
            and "counts" in data and "background" in data:
        # FoV normalisation on the numpy arrays at hand (same as fov_background)
        opts = _background_opts(background_method, exclusion_mask)
        if set(opts) <= {"method", "exclusion_mask", "spectral_tilt", "reference"} and \
                opts["method"] in ("scale", "fit"):
            from .background import _fov_scale, exclusion_on

            tilt = bool(opts.get("spectral_tilt", False)) and opts["method"] == "fit"
            excl = exclusion_on(g, opts["exclusion_mask"])[None]
            b_old = data["background"]
            scaled, norms, tilts = _fov_scale(
                data["counts"][1], b_old[1], excl & mask,
                np.asarray(g["energy"].values, dtype=float), tilt,
                float(opts.get("reference", 1.0)), name or f"obs_{obs_id}",
                out=b_old[1])  # in place: the template is this function's own array
            data["background"] = (b_old[0], scaled, b_old[2])
            if tilt:
                data["fov_bkg_tilt"] = ((), tilts, {"units": ""})
            data["fov_bkg_norm"] = ((), norms, {"units": ""})
            background_method = None
    attrs.update({
        "obs_id": obs_id, "name": name or f"obs_{obs_id}", "livetime": livetime,
        "ontime": ontime, "pointing_ra": pnt[0], "pointing_dec": pnt[1],
    })
    for key in ("tstart", "tstop"):
        val = getattr(observation, key, None)
        if isinstance(val, int | float | np.floating):
            attrs[key] = float(val)
    tref = getattr(observation, "time_ref", None)
    if tref is not None and hasattr(tref, "mjd"):
        attrs["mjdref"] = float(tref.tt.mjd)
    if aeff is not None and "telescop" in aeff.attrs:
        attrs["instrument"] = str(aeff.attrs["telescop"])
    ds = xr.Dataset(data, coords=coords, attrs=attrs)
    if sm is not None and methods:
        ds = make_safe_mask(ds, observation, **{**sm, "methods": methods, "bkg_invalid": False})
    ds = _apply_background_method(ds, background_method, exclusion_mask)
    return ds
