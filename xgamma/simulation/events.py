"""Event sampling: event lists of an observation from sky models and its IRFs.

:func:`simulate_events` draws the events of one observation (a
:class:`~xgamma.simulation.observation.SimulatedObservation` or a data-store observation):

Sources (each :class:`~xgamma.models.SkyModel` with a spatial model)
    The expected number is ``livetime * <temporal> * int F(E) A(E, offset) S(p) dE dp``. It is
    drawn as a Poisson process thinned by the effective area: candidates are drawn with the
    intensity ``F(E) A_max(E) S(p)`` (``A_max`` the largest area over the offsets the source
    covers), energies by inverse CDF of ``F * A_max`` on a fine log grid, positions from the
    spatial model, and each is kept with probability ``A(E, offset(p)) / A_max(E)``: the kept
    events are exactly a Poisson process of intensity ``F A S`` (a point source keeps all).
    Positions: the point source exactly; Gaussian, generalized Gaussian, disk and shell
    analytically in their own Lambert radial coordinate (inverse CDF of the radial profile, a
    uniform angle, the ellipse's axes); other models (constant, templates) from the model
    image on a 0.02 deg grid of the field of view. Times follow the temporal model within the
    GTIs (inverse CDF), uniform without one.
    Then each event's direction is moved by the PSF (an offset drawn from the radial CDF
    ``2 pi sin(r) psf(r)``, a uniform position angle) and its energy by the energy dispersion
    (``migra`` drawn from its CDF; rows that integrate to less than one lose events
    accordingly). The IRF nodes of each event are drawn with the interpolation weights
    (a mixture of the neighbouring nodes' distributions, which is what linear interpolation
    between nodes means for a density).
Background
    From the background IRF: the rate is integrated (log-log in energy, on 4 sub-bins per IRF
    bin; the FoV cells are the IRF's halved) times the ontime, each cell gets a Poisson count
    (or, for few events, a Poisson total is spread over the cells by inverse CDF), and within a
    cell the energy follows the local power law and the position is uniform in
    solid angle. RADEC-aligned background only (BKG_3D or BKG_2D).

A model entirely outside the field of view (farther from the pointing than the effective
area's offset range, by more than its evaluation radius) raises a one-line
:class:`~xgamma.simulation.observation.SimulationError`: it would give no events, which is
almost always a mistake in the model or the pointing.

Events carry ``mc_id``: 0 for background, ``k`` for the k-th sky model (1-based).

Examples
--------
>>> import numpy as np
>>> import xgamma as xg
>>> from xgamma.models import SkyModel, spectral_model
>>> from xgamma.simulation import demo_irfs, observation_from_irfs, simulate_events
>>> obs = observation_from_irfs(demo_irfs(), (83.63, 22.51), "10 min")
>>> src = SkyModel("src", spectral_model("pl", index=2.5, amplitude=1e-11),
...                xg.spatial_model("point", lon_0=83.63, lat_0=22.01))
>>> ev = simulate_events(obs, [src], rng=np.random.default_rng(1))
>>> sorted(set(ev.mc_id)), list(ev.columns[:5])
([0, 1], ['event_id', 'time', 'ra', 'dec', 'energy'])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from xgamma import irf as irf_eval
from xgamma.fitting.fold import fake
from xgamma.models import BackgroundModel, Models, SkyModel
from xgamma.models import spatial as spatial_models
from xgamma.simulation.observation import SimulationError, events_attrs
from xgamma.times import seconds_to_datetime

__all__ = [
    "EventSampler",
    "simulate_events",
    "simulate_observation",
    "simulate_dataset",
    "fov_to_radec",
    "radec_to_fov",
    "offset_by",
    "as_rng",
]

_D2R = np.pi / 180.0
_N_ENERGY = 2000  # fine log grid of true energy (inverse CDF, aeff table)
_N_OFFSET = 121  # offset nodes of the aeff table
_N_RADIAL = 4001  # radial grid of the analytic spatial sampler
_IMAGE_BINSZ = 0.02  # deg, image sampler of other spatial models
_RADIAL = {"GaussianSpatialModel", "GeneralizedGaussianSpatialModel", "DiskSpatialModel",
           "ShellSpatialModel"}


def as_rng(rng: Any) -> np.random.Generator:
    """A :class:`numpy.random.Generator` from a Generator, a seed or None.

    Examples
    --------
    >>> bool(as_rng(3).integers(10) == as_rng(3).integers(10))
    True
    """
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


# ---------------------------------------------------------------------------------------------
# spherical geometry (numpy)
# ---------------------------------------------------------------------------------------------


def offset_by(lon: Any, lat: Any, position_angle: Any, separation: Any) -> tuple[np.ndarray, np.ndarray]:
    """Point at angular distance ``separation`` and position angle (east of north) from
    ``(lon, lat)``; all in deg.

    Examples
    --------
    >>> [round(float(v), 9) for v in offset_by(10.0, 0.0, 90.0, 1.0)]
    [11.0, 0.0]
    """
    lo, la = np.asarray(lon, float) * _D2R, np.asarray(lat, float) * _D2R
    pa, r = np.asarray(position_angle, float) * _D2R, np.asarray(separation, float) * _D2R
    sla = np.sin(la) * np.cos(r) + np.cos(la) * np.sin(r) * np.cos(pa)
    lat2 = np.arcsin(np.clip(sla, -1, 1))
    dlon = np.arctan2(np.sin(pa) * np.sin(r) * np.cos(la), np.cos(r) - np.sin(la) * sla)
    return np.mod((lo + dlon) / _D2R, 360.0), lat2 / _D2R


def fov_to_radec(fov_lon: Any, fov_lat: Any, ra0: float, dec0: float) -> tuple[np.ndarray, np.ndarray]:
    """ICRS (ra, dec) of RADEC field-of-view coordinates around the pointing ``(ra0, dec0)``
    (the inverse of :func:`xgamma.background.fov_coordinates` with no rotation); deg.

    Examples
    --------
    >>> [round(float(v), 9) for v in fov_to_radec(0.0, 1.0, 83.63, 22.01)]
    [83.63, 23.01]
    """
    lo, la = np.asarray(fov_lon, float) * _D2R, np.asarray(fov_lat, float) * _D2R
    x, y, z = np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)
    d0 = dec0 * _D2R
    xs = x * np.cos(d0) - z * np.sin(d0)
    zs = x * np.sin(d0) + z * np.cos(d0)
    ra = np.mod(np.arctan2(y, xs) / _D2R + ra0, 360.0)
    return ra, np.arcsin(np.clip(zs, -1, 1)) / _D2R


def radec_to_fov(ra: Any, dec: Any, ra0: float, dec0: float) -> tuple[np.ndarray, np.ndarray]:
    """RADEC field-of-view coordinates (deg) of ICRS positions around ``(ra0, dec0)``.

    Examples
    --------
    >>> [round(float(v), 9) for v in radec_to_fov(83.63, 23.01, 83.63, 22.01)]
    [0.0, 1.0]
    """
    r, d = np.asarray(ra, float) * _D2R, np.asarray(dec, float) * _D2R
    x, y, z = np.cos(d) * np.cos(r - ra0 * _D2R), np.cos(d) * np.sin(r - ra0 * _D2R), np.sin(d)
    d0 = dec0 * _D2R
    xs = x * np.cos(d0) + z * np.sin(d0)
    zs = -x * np.sin(d0) + z * np.cos(d0)
    return np.arctan2(y, xs) / _D2R, np.arcsin(np.clip(zs, -1, 1)) / _D2R


def _separation(lon: np.ndarray, lat: np.ndarray, lon0: float, lat0: float) -> np.ndarray:
    lo, la, lo0, la0 = lon * _D2R, lat * _D2R, lon0 * _D2R, lat0 * _D2R
    hav = np.sin((la - la0) / 2) ** 2 + np.cos(la) * np.cos(la0) * np.sin((lo - lo0) / 2) ** 2
    return 2 * np.arcsin(np.sqrt(np.clip(hav, 0, 1))) / _D2R


# ---------------------------------------------------------------------------------------------
# sampling kernels (numpy)
# ---------------------------------------------------------------------------------------------


def _inverse_cdf(x: np.ndarray, cdf: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Invert a tabulated non-decreasing ``cdf`` (from 0) at ``u`` in [0, cdf[-1]], linearly."""
    i = np.clip(np.searchsorted(cdf, u, side="right") - 1, 0, x.size - 2)
    width = cdf[i + 1] - cdf[i]
    f = np.where(width > 0, (u - cdf[i]) / np.where(width > 0, width, 1.0), 0.5)
    return x[i] + np.clip(f, 0, 1) * (x[i + 1] - x[i])


def _cumtrapz(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    return np.concatenate([[0.0], np.cumsum(0.5 * (y[1:] + y[:-1]) * np.diff(x))])


def _node_draw(nodes: np.ndarray, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Index of a node for each ``x``: ``i`` or ``i + 1`` with the linear interpolation weights
    (clipped at the ends), so that drawing from node distributions gives the interpolated
    mixture."""
    if nodes.size == 1:
        return np.zeros(x.shape, dtype=np.intp)
    i = np.clip(np.searchsorted(nodes, x, side="right") - 1, 0, nodes.size - 2)
    w = np.clip((x - nodes[i]) / (nodes[i + 1] - nodes[i]), 0.0, 1.0)
    return i + (rng.random(x.shape) < w)


def _row_draw(cdf: np.ndarray, rows: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw a bin per event from row-wise cumulative tables ``cdf`` (n_rows, n_bins + 1), 0 at
    the start; ``u`` uniform in [0, 1). Returns bin index, position within the bin in [0, 1],
    and whether ``u`` fell below the row total (rows may sum to less than one)."""
    nrow, nk1 = cdf.shape
    flat = (cdf + 2.0 * np.arange(nrow)[:, None]).ravel()
    pos = np.searchsorted(flat, 2.0 * rows + u, side="right") - 1
    k = np.clip(pos - rows * nk1, 0, nk1 - 2)
    lo, hi = cdf[rows, k], cdf[rows, k + 1]
    width = hi - lo
    frac = np.where(width > 0, (u - lo) / np.where(width > 0, width, 1.0), 0.5)
    return k, np.clip(frac, 0.0, 1.0), u < cdf[rows, -1]


def _edges(da: xr.DataArray, dim: str) -> np.ndarray:
    lo = np.asarray(da.coords[f"{dim}_min"].values, float)
    hi = np.asarray(da.coords[f"{dim}_max"].values, float)
    return np.append(lo, hi[-1])


def _values(da: xr.DataArray, dims: Sequence[str]) -> np.ndarray:
    return np.asarray(da.transpose(*dims).values, dtype=float)


# ---------------------------------------------------------------------------------------------
# per-observation tables
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Tables:
    """IRF tables of one observation for sampling (built once per call)."""

    ra0: float
    dec0: float
    livetime: float
    ontime: float
    gti: np.ndarray  # (n, 2) s since mjdref
    mjdref: float
    loge: np.ndarray  # fine log true-energy grid
    offsets: np.ndarray  # aeff offset nodes
    aeff: np.ndarray  # (n_e, n_off) cm2
    offset_max: float


def _tables(obs: Any) -> _Tables:
    aeff = getattr(obs, "aeff", None)
    if aeff is None:
        raise SimulationError(f"observation {getattr(obs, 'obs_id', None)}: no effective area")
    p = obs.pointing
    ra0, dec0 = p.ra, p.dec
    if ra0 is None or dec0 is None:
        raise SimulationError(f"observation {obs.obs_id}: no pointing position")
    livetime = float(obs.livetime)
    if not livetime > 0:
        raise SimulationError(f"observation {obs.obs_id}: livetime must be positive, got {livetime:g} s")
    e_edges = _edges(aeff, "energy_true")
    o_edges = _edges(aeff, "offset")
    loge = np.linspace(np.log(e_edges[0]), np.log(e_edges[-1]), _N_ENERGY)
    offs = np.linspace(o_edges[0], o_edges[-1], _N_OFFSET)
    table = irf_eval.evaluate(aeff, energy_true=np.exp(loge), offset=offs)
    g = obs.gti
    gti = np.column_stack([np.asarray(g["start"], float), np.asarray(g["stop"], float)])
    mjdref = float(obs.meta_time["mjdref"])
    return _Tables(float(ra0), float(dec0), livetime, float(obs.ontime), gti, mjdref, loge, offs,
                   _values(table, ("energy_true", "offset")), float(o_edges[-1]))


def _aeff_lookup(t: _Tables, loge: np.ndarray, off: np.ndarray) -> np.ndarray:
    """Bilinear lookup in the regular (log E, offset) aeff table; 0 beyond the offset range."""
    fe = (loge - t.loge[0]) / (t.loge[1] - t.loge[0])
    ie = np.clip(np.floor(fe).astype(np.intp), 0, t.loge.size - 2)
    we = np.clip(fe - ie, 0, 1)
    fo = (off - t.offsets[0]) / (t.offsets[1] - t.offsets[0])
    io = np.clip(np.floor(fo).astype(np.intp), 0, t.offsets.size - 2)
    wo = np.clip(fo - io, 0, 1)
    a = t.aeff
    v = ((1 - we) * ((1 - wo) * a[ie, io] + wo * a[ie, io + 1])
         + we * ((1 - wo) * a[ie + 1, io] + wo * a[ie + 1, io + 1]))
    return np.where(off <= t.offset_max, v, 0.0)


# ---------------------------------------------------------------------------------------------
# times
# ---------------------------------------------------------------------------------------------


def _temporal_mean(t: _Tables, temporal: Any) -> float:
    """Mean of the temporal model over the GTIs (as the folding of npred uses it)."""
    if temporal is None:
        return 1.0
    t1 = t.mjdref + t.gti[:, 0] / 86400.0
    t2 = t.mjdref + t.gti[:, 1] / 86400.0
    vals = list(temporal.parameters.values)
    return float(np.sum(temporal.integral_values(t1, t2, vals)) / np.sum(t2 - t1))


def _sample_times(t: _Tables, temporal: Any, n: int, rng: np.random.Generator) -> np.ndarray:
    if n == 0:
        return np.zeros(0)
    starts, stops = t.gti[:, 0], t.gti[:, 1]
    if temporal is None:
        w = stops - starts
        k = rng.choice(len(w), size=n, p=w / w.sum()) if len(w) > 1 else np.zeros(n, np.intp)
        return starts[k] + rng.random(n) * w[k]
    vals = list(temporal.parameters.values)
    grid = np.concatenate([np.linspace(a, b, 2001) for a, b in zip(starts, stops, strict=True)])
    f = np.clip(np.asarray(temporal.evaluate_values(t.mjdref + grid / 86400.0, vals), float), 0, None)
    cdf = np.zeros(grid.size)
    for j in range(len(starts)):  # no probability across the gaps between GTIs
        s = slice(j * 2001, (j + 1) * 2001)
        prev = cdf[j * 2001 - 1] if j else 0.0
        cdf[s] = prev + _cumtrapz(f[s], grid[s])
    if cdf[-1] <= 0:
        raise SimulationError("the temporal model is zero over the GTIs")
    return _inverse_cdf(grid, cdf, rng.random(n) * cdf[-1])


# ---------------------------------------------------------------------------------------------
# positions
# ---------------------------------------------------------------------------------------------


def _to_icrs(lon: np.ndarray, lat: np.ndarray, frame: str) -> tuple[np.ndarray, np.ndarray]:
    if frame == "icrs":
        return lon, lat
    ra, dec = spatial_models.convert_lonlat(lon, lat, frame, "icrs")
    return np.mod(np.asarray(ra, float), 360.0), np.asarray(dec, float)


def _lambert_to_lonlat(east: np.ndarray, north: np.ndarray, lon0: float, lat0: float
                       ) -> tuple[np.ndarray, np.ndarray]:
    rho = np.hypot(east, north)
    r = 2 * np.arcsin(np.clip(rho / 2, 0, 1)) / _D2R
    return offset_by(lon0, lat0, np.arctan2(east, north) / _D2R, r)


def _param(model: Any, name: str, default: float = 0.0) -> float:
    return float(model.parameters[name].value) if name in model.parameters.names else default


def _radial_positions(model: Any, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Positions from a model whose profile depends on the elliptical Lambert radius only."""
    lon0, lat0 = model.position
    radius = float(model.evaluation_radius)
    a = 2 * np.sin(radius * _D2R / 2)
    e, phi = _param(model, "e"), _param(model, "phi") * _D2R
    tt = np.linspace(0.0, 1.0, _N_RADIAL)
    lon, lat = _lambert_to_lonlat(a * tt * np.sin(phi), a * tt * np.cos(phi), lon0, lat0)
    f = np.clip(np.asarray(model.evaluate_values(lon, lat, list(model.parameters.values)), float), 0, None)
    cdf = _cumtrapz(f * tt, tt)
    t = _inverse_cdf(tt, cdf, rng.random(n) * cdf[-1])
    psi = rng.random(n) * 2 * np.pi
    p = a * t * np.cos(psi)
    q = a * np.sqrt(max(1 - e**2, 1e-12)) * t * np.sin(psi)
    east = p * np.sin(phi) + q * np.cos(phi)
    north = p * np.cos(phi) - q * np.sin(phi)
    return _lambert_to_lonlat(east, north, lon0, lat0)


@dataclass(frozen=True)
class _ImageSampler:
    """A model image on a FoV grid: cell probabilities, fraction of the flux, cell edges."""

    cdf: np.ndarray
    fraction: float
    edges: np.ndarray


def _image_sampler(model: Any, t: _Tables) -> _ImageSampler:
    half = t.offset_max
    n = int(np.ceil(2 * half / _IMAGE_BINSZ))
    edges = np.linspace(-half, half, n + 1)
    c = 0.5 * (edges[1:] + edges[:-1])
    lon, lat = np.meshgrid(c, c, indexing="ij")
    ra, dec = fov_to_radec(lon, lat, t.ra0, t.dec0)
    mlon, mlat = spatial_models.convert_lonlat(ra, dec, "icrs", model.frame)
    vals = list(model.parameters.values)
    energy = 1.0 if model.is_energy_dependent else None
    f = np.clip(np.asarray(model.evaluate_values(np.asarray(mlon), np.asarray(mlat), vals, energy), float), 0, None)
    f = np.where(np.isfinite(f), f, 0.0)
    dlon = np.diff(edges)[:, None] * _D2R
    dsin = np.diff(np.sin(edges * _D2R))[None, :]
    w = (f * dlon * dsin).ravel()
    return _ImageSampler(np.concatenate([[0.0], np.cumsum(w)]), float(w.sum()), edges)


def _image_positions(s: _ImageSampler, t: _Tables, n: int, rng: np.random.Generator
                     ) -> tuple[np.ndarray, np.ndarray]:
    idx = np.clip(np.searchsorted(s.cdf, rng.random(n) * s.cdf[-1], side="right") - 1, 0, s.cdf.size - 2)
    nb = s.edges.size - 1
    i, j = idx // nb, idx % nb
    lon = s.edges[i] + rng.random(n) * (s.edges[i + 1] - s.edges[i])
    s0, s1 = np.sin(s.edges[j] * _D2R), np.sin(s.edges[j + 1] * _D2R)
    lat = np.arcsin(s0 + rng.random(n) * (s1 - s0)) / _D2R
    return fov_to_radec(lon, lat, t.ra0, t.dec0)


# ---------------------------------------------------------------------------------------------
# PSF and energy dispersion
# ---------------------------------------------------------------------------------------------


def _apply_psf(psf: xr.DataArray, e_true: np.ndarray, offset: np.ndarray, ra: np.ndarray,
               dec: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    p = _values(psf, ("energy_true", "offset", "rad"))
    r_edges = _edges(psf, "rad")
    rc = np.asarray(psf.coords["rad"].values, float)
    w = p * 2 * np.pi * np.sin(rc * _D2R) * np.diff(r_edges * _D2R)
    cdf = np.concatenate([np.zeros(w.shape[:2] + (1,)), np.cumsum(w, axis=-1)], axis=-1)
    tot = cdf[..., -1:]
    cdf = np.where(tot > 0, cdf / np.where(tot > 0, tot, 1.0), np.linspace(0, 1, cdf.shape[-1]))
    ne, no = cdf.shape[:2]
    ie = _node_draw(np.log(np.asarray(psf.coords["energy_true"].values, float)), np.log(e_true), rng)
    io = _node_draw(np.asarray(psf.coords["offset"].values, float), offset, rng)
    k, frac, _ = _row_draw(cdf.reshape(ne * no, -1), ie * no + io, rng.random(e_true.size))
    r0, r1 = r_edges[k], r_edges[k + 1]
    r = np.sqrt(r0**2 + frac * (r1**2 - r0**2))  # density ~ r within a bin
    return offset_by(ra, dec, rng.random(e_true.size) * 360.0, r)


def _apply_edisp(edisp: xr.DataArray, e_true: np.ndarray, offset: np.ndarray,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Reconstructed energies and the mask of events kept (rows may integrate to < 1)."""
    d = _values(edisp, ("energy_true", "offset", "migra"))
    m_edges = _edges(edisp, "migra")
    w = d * np.diff(m_edges)
    cdf = np.concatenate([np.zeros(w.shape[:2] + (1,)), np.cumsum(w, axis=-1)], axis=-1)
    tot = cdf[..., -1:]
    cdf = np.where(tot > 1, cdf / np.where(tot > 1, tot, 1.0), cdf)  # never more than one
    ne, no = cdf.shape[:2]
    ie = _node_draw(np.log(np.asarray(edisp.coords["energy_true"].values, float)), np.log(e_true), rng)
    io = _node_draw(np.asarray(edisp.coords["offset"].values, float), offset, rng)
    k, frac, ok = _row_draw(cdf.reshape(ne * no, -1), ie * no + io, rng.random(e_true.size))
    migra = m_edges[k] + frac * (m_edges[k + 1] - m_edges[k])
    return e_true * migra, ok


# ---------------------------------------------------------------------------------------------
# sources and background
# ---------------------------------------------------------------------------------------------


def _check_in_fov(model: SkyModel, t: _Tables, obs_id: Any) -> None:
    sp: Any = model.spatial
    pos = sp.position
    if pos is None:
        return
    ra, dec = _to_icrs(np.atleast_1d(pos[0]), np.atleast_1d(pos[1]), sp.frame)
    off = float(_separation(ra, dec, t.ra0, t.dec0)[0])
    r = sp.evaluation_radius or 0.0
    if off - r > t.offset_max:
        raise SimulationError(
            f"source {model.name!r} at ({float(ra[0]):.3f}, {float(dec[0]):.3f}) deg lies outside the "
            f"field of view of observation {obs_id} (offset {off:.2f} deg > {t.offset_max:g} deg)")


def _sample_source(obs: Any, model: SkyModel, t: _Tables, rng: np.random.Generator,
                   images: list[tuple[Any, _ImageSampler]] | None = None) -> dict[str, np.ndarray]:
    sp = model.spatial
    if sp is None:
        raise SimulationError(f"source {model.name!r} has no spatial model: event simulation needs one")
    _check_in_fov(model, t, obs.obs_id)
    e = np.exp(t.loge)
    flux = np.clip(np.asarray(model.spectral.evaluate_values(e, list(model.spectral.parameters.values)),
                              float), 0, None)
    pos = sp.position
    image = None
    fraction = 1.0
    if sp.is_point:
        ra_s, dec_s = _to_icrs(np.atleast_1d(pos[0]), np.atleast_1d(pos[1]), sp.frame)
        off = float(_separation(ra_s, dec_s, t.ra0, t.dec0)[0])
        a_max = _aeff_lookup(t, t.loge, np.full(t.loge.size, off))
    else:
        if sp.type in _RADIAL and pos is not None:
            ra_s, dec_s = _to_icrs(np.atleast_1d(pos[0]), np.atleast_1d(pos[1]), sp.frame)
            off = float(_separation(ra_s, dec_s, t.ra0, t.dec0)[0])
            r = float(sp.evaluation_radius)
            sel = (t.offsets >= off - r - 0.1) & (t.offsets <= off + r + 0.1)
            sel |= np.convolve(sel, np.ones(3), mode="same") > 0  # the neighbouring nodes too
        else:
            image = next((im for m, im in images or [] if m is sp), None)
            if image is None:
                image = _image_sampler(sp, t)
                if images is not None:  # kept by the sampler for its next draws
                    images.append((sp, image))
            fraction = image.fraction
            if fraction <= 0:
                raise SimulationError(f"source {model.name!r} has no flux in the field of view of "
                                      f"observation {obs.obs_id}")
            sel = np.ones(t.offsets.size, bool)
        a_max = t.aeff[:, sel].max(axis=1)
    rate = flux * a_max * e  # per d(log E)
    cdf = _cumtrapz(rate, t.loge)
    tmean = _temporal_mean(t, model.temporal)
    mean = t.livetime * tmean * fraction * cdf[-1]
    n = int(rng.poisson(mean)) if mean > 0 else 0
    loge = _inverse_cdf(t.loge, cdf, rng.random(n) * cdf[-1])
    if sp.is_point:
        ra = np.full(n, ra_s[0])
        dec = np.full(n, dec_s[0])
    elif image is not None:
        ra, dec = _image_positions(image, t, n, rng)
    else:
        lon, lat = _radial_positions(sp, n, rng)
        ra, dec = _to_icrs(lon, lat, sp.frame)
    offs = _separation(ra, dec, t.ra0, t.dec0)
    if not sp.is_point:  # thinning by the effective area across the source
        amax = np.interp(loge, t.loge, a_max)
        keep = rng.random(n) * amax < _aeff_lookup(t, loge, offs)
        loge, ra, dec, offs = loge[keep], ra[keep], dec[keep], offs[keep]
    e_true = np.exp(loge)
    if getattr(obs, "psf", None) is not None:
        ra, dec = _apply_psf(obs.psf, e_true, offs, ra, dec, rng)
    energy = e_true
    if getattr(obs, "edisp", None) is not None:
        energy, ok = _apply_edisp(obs.edisp, e_true, offs, rng)
        ra, dec, energy = ra[ok], dec[ok], energy[ok]
    times = _sample_times(t, model.temporal, energy.size, rng)
    return {"time": times, "ra": ra, "dec": dec, "energy": energy}


@dataclass(frozen=True)
class _BkgTable:
    """Background expectation per (fine energy bin, FoV cell) and the local power-law indices."""

    mu: np.ndarray
    cdf: np.ndarray
    index: np.ndarray
    power_law: np.ndarray
    energy: np.ndarray
    lon: np.ndarray
    lat: np.ndarray


def _bkg_table(obs: Any, t: _Tables) -> _BkgTable:
    bkg = obs.bkg
    align = str(bkg.attrs.get("fovalign", "RADEC")).upper()
    if align != "RADEC":
        raise SimulationError(f"observation {obs.obs_id}: background aligned with {align}; only "
                              "RADEC-aligned backgrounds can be sampled")
    ee = _edges(bkg, "energy")
    sub = 4
    le = np.log(ee)
    fine = np.exp(np.concatenate([np.linspace(le[i], le[i + 1], sub + 1)[:-1] for i in range(le.size - 1)]
                                 + [le[-1:]]))
    if "fov_lon" in bkg.dims:
        edges_lon, edges_lat = _edges(bkg, "fov_lon"), _edges(bkg, "fov_lat")
    else:
        omax = float(_edges(bkg, "offset")[-1])
        nb = int(np.ceil(2 * omax / min(0.1, float(np.min(np.diff(_edges(bkg, "offset")))) / 2)))
        edges_lon = edges_lat = np.linspace(-omax, omax, nb + 1)

    def halve(x: np.ndarray) -> np.ndarray:
        return np.sort(np.concatenate([x, 0.5 * (x[1:] + x[:-1])]))

    lon_e, lat_e = halve(edges_lon), halve(edges_lat)
    lon_c, lat_c = 0.5 * (lon_e[1:] + lon_e[:-1]), 0.5 * (lat_e[1:] + lat_e[:-1])
    # log-rate extrapolation to the outer energy edges can overflow next to empty bins
    with np.errstate(over="ignore", invalid="ignore"):
        rate = irf_eval.bkg_at(bkg, energy=fine, fov_lon=xr.DataArray(lon_c, dims="fov_lon"),
                               fov_lat=xr.DataArray(lat_c, dims="fov_lat"))
        r = _values(rate, ("energy", "fov_lon", "fov_lat"))
    top = 10 * float(np.nanmax(np.asarray(bkg.values, float)))
    r = np.clip(np.where(np.isfinite(r), r, 0.0), 0, top)
    e0, e1 = fine[:-1, None, None], fine[1:, None, None]
    r0, r1 = r[:-1], r[1:]
    both = (r0 > 0) & (r1 > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        g = np.where(both, np.log(np.where(both, r1 / np.where(both, r0, 1.0), 1.0)) / np.log(e1 / e0), 0.0)
        gp1 = g + 1.0
        small = np.abs(gp1) < 1e-6
        pl = np.where(small, r0 * e0 * np.log(e1 / e0),
                      r0 * e0 / np.where(small, 1.0, gp1) * ((e1 / e0) ** gp1 - 1.0))
    ok = both & np.isfinite(pl) & (np.abs(g) < 50)
    integral = np.where(ok, pl, 0.5 * (r0 + r1) * (e1 - e0))  # trapezoid where no power law
    omega = (np.diff(lon_e) * _D2R)[:, None] * np.diff(np.sin(lat_e * _D2R))[None, :]
    mu = (integral * omega[None]).ravel() * t.ontime
    return _BkgTable(mu, np.concatenate([[0.0], np.cumsum(mu)]), g.ravel(), ok.ravel(), fine, lon_e, lat_e)


def _sample_background(b: _BkgTable, t: _Tables, rng: np.random.Generator, norm: float = 1.0
                       ) -> dict[str, np.ndarray]:
    total = float(b.cdf[-1]) * norm
    if total > 0.1 * b.mu.size:
        # many events: independent Poisson counts per cell (the same law as a Poisson total
        # spread multinomially), cheaper than inverting the cumulative for each event
        idx = np.repeat(np.arange(b.mu.size), rng.poisson(b.mu * norm))
    else:
        n = int(rng.poisson(total)) if total > 0 else 0
        idx = np.clip(np.searchsorted(b.cdf, rng.random(n) * b.cdf[-1], side="right") - 1, 0, b.mu.size - 1)
    n = idx.size
    nlon, nlat = b.lon.size - 1, b.lat.size - 1
    ie, rest = np.divmod(idx, nlon * nlat)
    il, ib = np.divmod(rest, nlat)
    u = rng.random(n)
    gp = b.index[idx] + 1.0
    a, c = b.energy[ie], b.energy[ie + 1]
    flat = np.abs(gp) < 1e-6
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        e_pl = (a**gp + u * (c**gp - a**gp)) ** (1.0 / np.where(flat, 1.0, gp))
    energy = np.where(flat, a * (c / a) ** u, e_pl)
    energy = np.where(b.power_law[idx], energy, a + u * (c - a))
    lon = b.lon[il] + rng.random(n) * (b.lon[il + 1] - b.lon[il])
    s0, s1 = np.sin(b.lat[ib] * _D2R), np.sin(b.lat[ib + 1] * _D2R)
    lat = np.arcsin(s0 + rng.random(n) * (s1 - s0)) / _D2R
    ra, dec = fov_to_radec(lon, lat, t.ra0, t.dec0)
    return {"time": _sample_times(t, None, n, rng), "ra": ra, "dec": dec, "energy": energy}


class EventSampler:
    """The sampling tables of one observation, built once for many realisations.

    ``EventSampler(obs).sample(models, rng)`` is :func:`simulate_events`; keeping the sampler
    saves rebuilding the effective-area and background tables (about 0.1 s each) and the
    images of template models per realisation. It holds no random state.

    Examples
    --------
    >>> from xgamma.simulation import demo_irfs, observation_from_irfs
    >>> s = EventSampler(observation_from_irfs(demo_irfs(), (0.0, 0.0), "1 min"))
    >>> len(s.sample(rng=1)) == len(s.sample(rng=1))
    True
    """

    def __init__(self, obs: Any) -> None:
        self.obs = obs
        self.tables = _tables(obs)
        self._bkg: _BkgTable | None = None
        # model images of template/constant models, by the identity of the (immutable) spatial
        # model; the list holds the models, so identities stay unique
        self._images: list[tuple[Any, _ImageSampler]] = []

    def background_table(self) -> _BkgTable:
        if self._bkg is None:
            if getattr(self.obs, "bkg", None) is None:
                raise SimulationError(f"observation {self.obs.obs_id}: no background IRF (pass background=False)")
            self._bkg = _bkg_table(self.obs, self.tables)
        return self._bkg

    def sample(self, models: Any = None, rng: Any = None, background: bool = True) -> pd.DataFrame:
        """Draw one event list (see :func:`simulate_events`)."""
        return _simulate(self, models, as_rng(rng), background)


def _as_models(models: Any) -> Models:
    if models is None:
        return Models([])
    if isinstance(models, Models):
        return models
    if isinstance(models, SkyModel | BackgroundModel):
        return Models([models])
    return Models(list(models))


def simulate_events(obs: Any, models: Any = None, rng: Any = None, background: bool = True
                    ) -> pd.DataFrame:
    """Draw the event list of an observation under sky models (see the module docstring).

    Parameters
    ----------
    obs : Observation
        A :class:`~xgamma.simulation.observation.SimulatedObservation` or a data-store
        observation: IRFs, pointing, livetime, GTIs.
    models : Models, SkyModel or list, optional
        Sources (each with a spatial model; spectral x spatial x temporal). A
        :class:`~xgamma.models.BackgroundModel` whose ``datasets_names`` include
        ``obs_<id>`` scales the background by its spectral norm at 1 TeV.
    rng : numpy.random.Generator, int or None
        Random generator or seed.
    background : bool
        Draw background events from the background IRF (needs ``obs.bkg``).

    Returns
    -------
    pandas.DataFrame
        ``event_id, time, ra, dec, energy, detx, dety, mc_id`` sorted by time, with the attrs
        of an events table read from disk (units, MJDREF). ``detx``/``dety`` are the RADEC
        field-of-view coordinates (deg) around the pointing.

    Raises
    ------
    SimulationError
        A source outside the field of view, no spatial model, zero livetime.

    Examples
    --------
    >>> from xgamma.simulation import demo_irfs, observation_from_irfs
    >>> obs = observation_from_irfs(demo_irfs(), (0.0, 0.0), "5 min")
    >>> ev = simulate_events(obs, rng=1)
    >>> bool(ev.mc_id.eq(0).all()) and bool(ev.time.is_monotonic_increasing)
    True
    """
    return EventSampler(obs).sample(models, rng=rng, background=background)


def _simulate(sampler: EventSampler, models: Any, gen: np.random.Generator, background: bool) -> pd.DataFrame:
    obs, t = sampler.obs, sampler.tables
    ms = _as_models(models)
    parts: list[dict[str, np.ndarray]] = []
    ids: list[np.ndarray] = []
    k = 0
    for m in ms:
        if isinstance(m, SkyModel):
            k += 1
            part = _sample_source(obs, m, t, gen, sampler._images)
            parts.append(part)
            ids.append(np.full(part["energy"].size, k, dtype=np.int32))
    if background:
        table = sampler.background_table()
        norm = 1.0
        for m in ms:
            if isinstance(m, BackgroundModel) and m.applies_to(f"obs_{obs.obs_id}"):
                norm *= float(np.asarray(m.spectral.evaluate_values(np.array([1.0]),
                                                                    list(m.spectral.parameters.values)))[0])
        part = _sample_background(table, t, gen, norm)
        parts.insert(0, part)
        ids.insert(0, np.zeros(part["energy"].size, dtype=np.int32))
    cols = {c: np.concatenate([p[c] for p in parts]) if parts else np.zeros(0)
            for c in ("time", "ra", "dec", "energy")}
    mc = np.concatenate(ids) if ids else np.zeros(0, np.int32)
    order = np.argsort(cols["time"], kind="stable")
    cols = {c: v[order] for c, v in cols.items()}
    detx, dety = radec_to_fov(cols["ra"], cols["dec"], t.ra0, t.dec0)
    attrs = events_attrs(obs.obs_id, t.mjdref)
    cols["time"] = seconds_to_datetime(cols["time"], attrs)  # drawn in s since MJDREF (TT)
    df = pd.DataFrame({"event_id": np.arange(1, order.size + 1, dtype=np.int64), **cols,
                       "detx": detx, "dety": dety, "mc_id": mc[order]})
    df.attrs = attrs  # type: ignore[assignment]
    return df


def simulate_observation(obs: Any, models: Any = None, rng: Any = None, background: bool = True) -> Any:
    """``obs`` with simulated events (:func:`simulate_events`), ready for
    :func:`~xgamma.simulation.write_dl3` or :func:`xgamma.reduce`.

    Examples
    --------
    >>> from xgamma.simulation import demo_irfs, observation_from_irfs
    >>> obs = simulate_observation(observation_from_irfs(demo_irfs(), (0.0, 0.0), "1 min"), rng=2)
    >>> len(obs.events) > 0
    True
    """
    return obs.with_events(simulate_events(obs, models, rng=rng, background=background))


def simulate_dataset(dataset: xr.Dataset, models: Any, rng: Any = None) -> xr.Dataset:
    """Binned simulation: a Poisson realisation of ``npred`` of a reduced dataset (1D or 3D).

    The counts (and, for ON/OFF datasets, the OFF counts) are drawn from the dataset's
    prediction under ``models`` (:func:`xgamma.fake`); nothing else changes.

    Examples
    --------
    >>> from xgamma.fold import example_dataset
    >>> from xgamma.models import spectral_model
    >>> ds = example_dataset()
    >>> a = simulate_dataset(ds, spectral_model("pl"), rng=1)
    >>> b = simulate_dataset(ds, spectral_model("pl"), rng=1)
    >>> bool((a.counts == b.counts).all())
    True
    """
    return fake(dataset, models, seed=as_rng(rng))
