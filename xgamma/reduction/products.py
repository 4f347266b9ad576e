"""The per-observation reduction products as plain functions on numpy arrays: counts,
exposure, PSF and energy-dispersion maps, plus the geometry helpers they share (pixel offsets
from the pointing, the coarse IRF grid, energy axes of a geometry).

:func:`xgamma.reduction.driver.reduce` is a short driver over these; each is testable alone.

Examples
--------
>>> import numpy as np
>>> from xgamma import testing
>>> obs = testing.make_observation()
>>> et = np.array([1.0, 10.0])
>>> make_exposure(obs.aeff, et, np.array([0.0, 0.5]), livetime=10.0).shape
(2, 2)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr
from astropy.coordinates import SkyCoord

from xgamma import sky
from xgamma.axes import axis_from_edges, axis_variables, edges
from xgamma.conventions import unit_of
from xgamma.errors import GeometryError
from xgamma.irf.arrays import irf_nodes, irf_values, offset_matrix
from xgamma.irf.interp import interp_along
from xgamma.sky.frames import LONLAT, separation_deg

__all__ = [
    "pointing_in_frame", "pixel_offsets", "irf_geom", "energy_axis_of", "energy_edges_of",
    "make_exposure", "make_psf_map", "psf_map_values", "make_edisp_map", "rad_coords",
    "bin_counts",
]


def pointing_in_frame(radec: tuple[float, float], frame: str) -> tuple[float, float]:
    """The ICRS position ``radec`` (deg) as (lon, lat) deg in ``frame``.

    Examples
    --------
    >>> pointing_in_frame((83.633, 22.014), "icrs")
    (83.633, 22.014)
    >>> tuple(round(v, 3) for v in pointing_in_frame((83.633, 22.014), "galactic"))
    (184.558, -5.785)
    """
    if frame == "icrs":
        return radec
    c = SkyCoord(radec[0], radec[1], unit="deg", frame="icrs").transform_to(frame)
    return float(c.spherical.lon.deg), float(c.spherical.lat.deg)


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
    lname, bname = LONLAT[frame]
    lon0, lat0 = pointing_in_frame(pointing, frame)
    lon = np.asarray(geom.coords.variables[lname + suffix].values, dtype=float)
    lat = np.asarray(geom.coords.variables[bname + suffix].values, dtype=float)
    with np.errstate(invalid="ignore"):
        off = separation_deg(lon, lat, lon0, lat0)
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
    lname, bname = LONLAT[frame]
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


def energy_axis_of(geom: Any, dim: str = "energy") -> xr.DataArray:
    """The binned energy axis ``dim`` of ``geom`` as a log axis in TeV.

    A valid log axis in TeV is returned as it is; other units are converted; a geometry
    without a binned ``dim`` raises a :class:`~xgamma.errors.GeometryError`.

    Examples
    --------
    >>> from xgamma import testing
    >>> ax = energy_axis_of(testing.make_wcs_geom())
    >>> ax.dims, edges(ax).round(3).tolist()
    (('energy',), [1.0, 1.778, 3.162, 5.623, 10.0])
    >>> gev = axis_from_edges([1000.0, 10000.0], "energy", unit="GeV", interp="log")
    >>> edges(energy_axis_of(gev)).tolist(), energy_axis_of(gev).attrs["units"]
    ([1.0, 10.0], 'TeV')
    """
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


def energy_edges_of(geom: Any, dim: str = "energy") -> np.ndarray:
    """Edges (TeV) of the energy axis of ``geom``: those of :func:`energy_axis_of`, without
    building the axis when they are in TeV and valid already.

    Examples
    --------
    >>> from xgamma import testing
    >>> energy_edges_of(testing.make_wcs_geom()).round(3).tolist()
    [1.0, 1.778, 3.162, 5.623, 10.0]
    >>> energy_edges_of(axis_from_edges([1000.0, 10000.0], "energy", unit="GeV")).tolist()
    [1.0, 10.0]
    """
    if dim in geom.dims and f"{dim}_min" in geom.coords and \
            (str(geom.coords[f"{dim}_min"].attrs.get("units", "TeV")) or "TeV") == "TeV":
        e = edges(geom, dim)
        if e.size >= 2 and e[0] > 0 and bool(np.all(np.diff(e) > 0)):
            return e
    return edges(energy_axis_of(geom, dim))


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
    vals = irf_values(aeff, "cm2", ("energy_true", "offset"))
    en, elo, ehi = irf_nodes(aeff, "energy_true")
    ae = interp_along(vals, 0, en, energy_true, valid=(elo, ehi), log=True) * float(livetime)
    # float32 maps: the (two-term) offset interpolation in float32, no float64 temporary
    work = np.float32 if np.dtype(dtype) == np.float32 else float
    out = ae.astype(work) @ offset_matrix(aeff, offsets, dtype=work)
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
    return psf_map_values(psf, energy_true, rad_edges, offsets)


def psf_map_values(psf: xr.DataArray, energy_true: np.ndarray, rad_edges: np.ndarray,
             offsets: np.ndarray, dtype: Any = float) -> np.ndarray:
    """:func:`make_psf_map`, in float64, cast once to ``dtype``.

    Examples
    --------
    >>> from xgamma import testing
    >>> r = np.linspace(0, 0.66, 67)
    >>> p = psf_map_values(testing.make_psf(), np.array([1.0]), r, np.array([0.5]),
    ...                    dtype=np.float32)
    >>> p.shape, p.dtype.name
    ((1, 66, 1), 'float32')
    >>> rc, dr = np.radians(0.5 * (r[1:] + r[:-1])), np.radians(np.diff(r))
    >>> round(float((2 * np.pi * rc * dr * p[0, :, 0]).sum()), 5)
    1.0
    """
    vals = irf_values(psf, "sr-1", ("energy_true", "offset", "rad"))
    en, elo, ehi = irf_nodes(psf, "energy_true")
    rn, rlo, rhi = irf_nodes(psf, "rad")
    rc = 0.5 * (rad_edges[1:] + rad_edges[:-1])
    p = interp_along(vals, 0, en, energy_true, valid=(elo, ehi), log=True)
    p = np.clip(interp_along(p, 2, rn, rc, valid=(rlo, rhi)), 0, None)  # (e, o, r)
    p = np.moveaxis(p, 1, 2)  # (e, r, o)
    jac = 2 * np.pi * np.radians(rc) * np.radians(np.diff(rad_edges))
    norm = np.einsum("ero,r->eo", p, jac)
    mat = offset_matrix(psf, offsets)
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
    vals = irf_values(edisp, "", ("energy_true", "migra", "offset"))
    en, elo, ehi = irf_nodes(edisp, "energy_true")
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
    mat = offset_matrix(edisp, offsets)
    out = unnorm @ mat
    den = (total @ mat)[:, None, :]
    np.divide(out, den, out=out, where=den > 0)
    out *= den > 0
    np.maximum(out, 0.0, out=out)
    return out.reshape((n_e, energy_edges.size - 1, *offsets.shape))


def rad_coords(rad: Any) -> tuple[dict[str, xr.Variable], np.ndarray]:
    """Coordinate variables and edges (deg) of the PSF map's rad axis: ``rad`` (an axis or
    edges) or by default 0-0.66 deg in 66 bins (Gammapy's), built as variables only.

    Examples
    --------
    >>> coords, e = rad_coords([0.0, 0.1, 0.3])
    >>> sorted(coords), coords["rad"].values.tolist(), e.tolist()
    (['rad', 'rad_max', 'rad_min'], [0.05, 0.2], [0.0, 0.1, 0.3])
    >>> rad_coords(None)[1].size
    67
    """
    if rad is None:
        e = np.linspace(0.0, 0.66, 67)
        return axis_variables(0.5 * (e[:-1] + e[1:]), e[:-1], e[1:], "rad",
                               {"units": "deg", "interp": "lin"}), e
    ax = rad if isinstance(rad, xr.DataArray) else \
        axis_from_edges(np.asarray(rad, dtype=float), "rad", unit="deg", interp="lin")
    return {str(k): v.variable for k, v in ax.coords.items()}, edges(ax)


def bin_counts(events: Any, geom: xr.Dataset, wcs: Any, e_edges: np.ndarray,
                dtype: Any = float) -> np.ndarray:
    """Counts ``(energy, y, x)``: the binning of :func:`xgamma.binning.bin_events` (pixel ``i``
    covers ``[i - 0.5, i + 0.5)``, energy bins left-closed) on the numpy fast path.

    Parameters
    ----------
    events : DataFrame
        Event list with columns ``ra``, ``dec`` (deg, ICRS) and ``energy`` (TeV, or the unit
        in ``events.attrs["units"]["energy"]``).
    geom : Dataset
        The WCS geometry (its sky sizes and frame).
    wcs : astropy.wcs.WCS
        The celestial WCS of ``geom``.
    e_edges : numpy.ndarray
        Energy bin edges in TeV.
    dtype : dtype
        Type of the returned counts.

    Examples
    --------
    >>> import pandas as pd
    >>> from xgamma import testing
    >>> ev = pd.DataFrame({"ra": [83.633, 83.633, 90.0], "dec": [22.014, 22.014, 22.014],
    ...                    "energy": [2.0, 20.0, 2.0]})   # 2nd: above the edges, 3rd: off the map
    >>> g = testing.make_wcs_geom(width=1.5, binsz=0.5)
    >>> bin_counts(ev, g, sky.wcs_of(g), np.array([1.0, 10.0])).tolist()
    [[[0.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]]]
    """
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
