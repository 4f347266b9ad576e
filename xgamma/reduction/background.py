"""Background for reduced map datasets: IRF template, FoV normalisation, ring background.

* :func:`make_background`: the background IRF (BKG_3D or BKG_2D) as predicted counts on a map:
  the rate interpolated at each pixel centre's field-of-view coordinates (log of the rate,
  linear in the FoV coordinates, log in energy), integrated over each reco-energy bin as a
  power law between the bin edges ("log-log"), times the pixel solid angle and the ontime.
  BKG_3D is evaluated in the frame its ``fovalign`` attr names: ``RADEC`` (longitude
  increasing with RA, ``SkyOffsetFrame`` around the pointing) or ``ALTAZ`` (longitude
  ``-(az - az_pnt)``-like, latitude towards the zenith, Gammapy/GADF convention); ALTAZ needs
  the Alt/Az of the pointing over the observation, computed with astropy from the observation
  times and the observatory location (``GEOLON``/``GEOLAT``/``ALTITUDE`` in the observation's
  ``meta``), averaged over time steps in which the field rotates by at most
  ``fov_rotation_step`` deg.
* :func:`fov_background`: normalise the template to the counts outside an exclusion mask and
  inside ``mask_safe`` (``scale``: ratio of sums; ``fit``: Cash fit of a norm and optionally a
  spectral tilt, ``norm * (E / reference) ** -tilt`` at the energy-bin centres).
* :func:`ring_background`: ring background (OFF counts from a ring around each pixel,
  acceptance-weighted), giving ``counts_off``, ``acceptance``, ``acceptance_off``, ``alpha``
  and ``background = alpha * counts_off``.

Examples
--------
>>> import xgamma as xg
>>> from xgamma import testing
>>> obs = testing.make_observation(n_events=3000)
>>> ds = xg.reduce(obs, testing.make_wcs_geom(width=3.0, binsz=0.1), products=["counts", "background"])
>>> out = fov_background(ds)
>>> bool(abs(float((out.background * out.mask_safe).sum()) - float((out.counts * out.mask_safe).sum())) < 1e-6)
True
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr
from astropy.coordinates import AltAz, EarthLocation, SkyCoord
from astropy.time import Time, TimeDelta

from xgamma import sky
from xgamma.axes import edges
from xgamma.errors import ReductionError
from xgamma.irf.arrays import irf_nodes, irf_values, offset_matrix
from xgamma.irf.interp import interp_along, interp_weights
from xgamma.reduction.observation import pointing_radec
from xgamma.reduction.products import energy_axis_of
from xgamma.sky.frames import separation_deg

__all__ = [
    "make_background",
    "pixel_solid_angle",
    "fov_coordinates",
    "integrate_loglog",
    "fov_background",
    "ring_background",
    "exclusion_on",
]

_TINY = float(np.finfo(np.float32).tiny)


# ----------------------------------------------------------------------------- FoV coordinates
def _separable(lon: np.ndarray, lat: np.ndarray) -> bool:
    """Whether a 2D grid has its longitude constant along columns and its latitude along rows
    (a CAR map with its reference on the equator): then per-axis values give the same numbers."""
    return (np.ndim(lon) == 2 and np.shape(lon) == np.shape(lat) and min(np.shape(lon)) > 1
            and bool((lon == lon[:1]).all()) and bool((lat == lat[:, :1]).all()))


def _offset_frame_xyz(ra: np.ndarray, dec: np.ndarray, ra0: float, dec0: float) -> tuple[np.ndarray, ...]:
    if _separable(ra, dec):  # trigonometry per row / column, then broadcast (same values)
        return _offset_frame_xyz(ra[:1], dec[:, :1], ra0, dec0)  # (1, nx) x (ny, 1) -> (ny, nx)
    a, d = np.radians(ra), np.radians(dec)
    a0, d0 = np.radians(ra0), np.radians(dec0)
    cd, sd, da = np.cos(d), np.sin(d), a - a0
    cdca = cd * np.cos(da)
    x = cdca * np.cos(d0) + sd * np.sin(d0)
    y = cd * np.sin(da)
    z = sd * np.cos(d0) - cdca * np.sin(d0)
    return x, y, z


def _xyz_to_lonlat(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.degrees(np.arctan2(y, x)), np.degrees(np.arcsin(np.clip(z, -1, 1)))


def fov_and_offset(ra: np.ndarray, dec: np.ndarray,
                    pointing: tuple[float, float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """RADEC FoV longitude, latitude and offset (deg) from one offset-frame evaluation."""
    x, y, z = _offset_frame_xyz(ra, dec, *pointing)
    lon, lat = _xyz_to_lonlat(x, y, z)
    return lon, lat, np.degrees(np.arctan2(np.hypot(y, z), x))


def fov_coordinates(
    ra: np.ndarray, dec: np.ndarray, pointing: tuple[float, float], rotation: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Field-of-view coordinates (deg) of sky positions (ICRS deg) around ``pointing``.

    ``rotation = 0`` gives RADEC-aligned coordinates (``SkyOffsetFrame`` longitude and
    latitude: lon increasing with RA, lat towards north); a non-zero ``rotation`` (deg) turns
    the frame about the pointing so that north points to ``(sin r, cos r)``: this is how
    ALTAZ-aligned coordinates follow from the parallactic rotation.

    Examples
    --------
    >>> import numpy as np
    >>> lon, lat = fov_coordinates(np.array([83.63]), np.array([23.01]), (83.63, 22.01))
    >>> round(float(lon[0]), 9), round(float(lat[0]), 9)
    (0.0, 1.0)
    """
    x, y, z = _offset_frame_xyz(np.asarray(ra, float), np.asarray(dec, float), *pointing)
    if rotation:
        t = np.radians(rotation)
        y, z = y * np.cos(t) + z * np.sin(t), -y * np.sin(t) + z * np.cos(t)
    return _xyz_to_lonlat(x, y, z)


def _location(obs: Any) -> EarthLocation:
    meta = dict(getattr(obs, "meta", None) or {})
    lower = {str(k).lower(): v for k, v in meta.items()}
    try:
        lon, lat = float(lower["geolon"]), float(lower["geolat"])
    except (KeyError, TypeError, ValueError) as exc:

        raise ReductionError(
            f"observation {getattr(obs, 'obs_id', None)}: an ALTAZ-aligned background needs the "
            "observatory location (GEOLON/GEOLAT/ALTITUDE in the observation meta)") from exc
    alt = float(lower.get("altitude", 0.0) or 0.0)
    return EarthLocation.from_geodetic(lon, lat, alt)


def _time_intervals(obs: Any) -> list[tuple[float, float]]:
    gti = getattr(obs, "gti", None)
    if gti is not None and len(gti):
        cols = {str(c).lower(): c for c in gti.columns}
        if "start" in cols and "stop" in cols:
            return [(float(a), float(b)) for a, b in zip(gti[cols["start"]], gti[cols["stop"]],
                                                        strict=True)]
    t0, t1 = getattr(obs, "tstart", None), getattr(obs, "tstop", None)
    if t0 is None or t1 is None:

        raise ReductionError(f"observation {getattr(obs, 'obs_id', None)}: no GTI or "
                             "tstart/tstop to compute the Alt/Az of the pointing")
    return [(float(t0), float(t1))]


def _time_ref(obs: Any) -> Time:
    tref = getattr(obs, "time_ref", None)
    if tref is not None:
        return tref
    mjd = getattr(obs, "mjdref", None)
    if mjd is None:
        ev = getattr(obs, "events", None)
        mjd = getattr(ev, "attrs", {}).get("mjdref")
    if mjd is None:

        raise ReductionError(f"observation {getattr(obs, 'obs_id', None)}: no time reference")
    return Time(float(mjd), format="mjd", scale="tt")


def _altaz_rotation(pointing: tuple[float, float], times: Time, location: EarthLocation) -> np.ndarray:
    """Angle (deg) by which the ALTAZ FoV frame is turned from the RADEC one at ``times``."""
    n = times.size
    delta = 0.05
    ra = np.concatenate([np.full(n, pointing[0]), np.full(n, pointing[0])])
    dec = np.concatenate([np.full(n, pointing[1]), np.full(n, pointing[1] + delta)])
    tt = Time(np.concatenate([times.jd1, times.jd1]), np.concatenate([times.jd2, times.jd2]),
              format="jd", scale=times.scale)
    aa = SkyCoord(ra, dec, unit="deg", frame="icrs").transform_to(AltAz(obstime=tt, location=location))
    az, alt = aa.az.deg, aa.alt.deg
    x, y, z = _offset_frame_xyz(az[n:], alt[n:], az[:n], alt[:n])  # broadcast per time
    lon, lat = _xyz_to_lonlat(x, y, z)
    return np.degrees(np.arctan2(-lon, lat))


def _altaz_steps(obs: Any, pointing: tuple[float, float], step: float) -> tuple[np.ndarray, np.ndarray]:
    """Rotation angles (deg) and time weights (summing to 1) of the ALTAZ time steps."""
    loc = _location(obs)
    tref = _time_ref(obs)
    ivals = _time_intervals(obs)
    samples = np.concatenate([np.linspace(a, b, 9) for a, b in ivals])
    rot = np.unwrap(np.radians(_altaz_rotation(pointing, tref + TimeDelta(samples, format="sec"),
                                               loc)))
    rot = np.degrees(rot).reshape(len(ivals), 9)
    times, weights = [], []
    for (a, b), r in zip(ivals, rot, strict=True):
        n = max(1, int(np.ceil(np.abs(np.diff(r)).sum() / max(step, 1e-3))))
        mid = a + (np.arange(n) + 0.5) * (b - a) / n
        times.append(mid)
        weights.append(np.full(n, (b - a) / n))
    t = np.concatenate(times)
    w = np.concatenate(weights)
    w = w / w.sum() if w.sum() > 0 else np.full(w.size, 1.0 / w.size)
    angles = _altaz_rotation(pointing, tref + TimeDelta(t, format="sec"), loc)
    return angles, w


# ----------------------------------------------------------------------------- template
def integrate_loglog(y: np.ndarray, x: np.ndarray, axis: int = 0) -> np.ndarray:
    """Integrate ``y(x)`` over each interval of ``x`` as a power law through the end points.

    ``y`` has the nodes ``x`` along ``axis`` (``n + 1`` values); the result has ``n``.
    Values are clipped at the smallest float32 for the power-law index (as Gammapy does); an
    interval whose lower value is 0 integrates to 0.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([1.0, 10.0])
    >>> round(float(integrate_loglog(x**-2.0, x)[0]), 12)  # int_1^10 x^-2 dx
    0.9
    """
    y = np.moveaxis(np.asarray(y, dtype=float), axis, 0)
    with np.errstate(divide="ignore"):
        logy = np.log(np.clip(y, _TINY, None))
    out = _integrate_log(logy, np.asarray(x, dtype=float), y[:-1] > 0)
    return np.moveaxis(out, 0, axis)


def _integrate_log(logy: np.ndarray, x: np.ndarray, ok: Any = True, axis: int = 0,
                   scale: np.ndarray | None = None) -> np.ndarray:
    """Power-law integral between nodes from ``log(y)`` (nodes along ``axis``, 0 or the last):
    with ``a = x y`` it is ``ln(x2 / x1) (a2 - a1) / ln(a2 / a1)`` (``a ln(x2 / x1)`` when
    ``a2 = a1``), in the dtype of ``logy``; times ``scale`` (one value per point, cast to
    that dtype) if given. Computed in blocks of points that stay in the CPU cache."""
    if axis != 0:
        out_t = _integrate_log(np.moveaxis(logy, axis, 0), x, ok, scale=scale)
        return np.moveaxis(out_t, 0, axis)
    n = logy.shape[0] - 1
    flat = logy.reshape(n + 1, -1)
    npt = flat.shape[1]
    lx = np.log(x).astype(logy.dtype)[:, None]
    lnr = np.diff(lx, axis=0)
    out = np.empty((n, npt), dtype=logy.dtype)
    sc = None if scale is None else np.asarray(scale).reshape(-1).astype(logy.dtype)
    block = max(1, min(npt, 2048))
    la_buf = np.empty((n + 1, block), dtype=logy.dtype)
    d_buf = np.empty((n, block), dtype=logy.dtype)
    t_buf = np.empty((n, block), dtype=logy.dtype)
    for c0 in range(0, npt, block):
        c1 = min(npt, c0 + block)
        m = c1 - c0
        la, d, t, o = la_buf[:, :m], d_buf[:, :m], t_buf[:, :m], out[:, c0:c1]
        np.add(flat[:, c0:c1], lx, out=la)
        np.subtract(la[1:], la[:-1], out=d)
        ea = np.exp(la, out=la)
        np.subtract(ea[1:], ea[:-1], out=o)
        o *= lnr
        small = np.abs(d, out=t) < 0.1  # (e^d - 1) / d by its series: no cancellation
        if small.any():
            ds_ = d[small]
            approx = (ea[:-1] * lnr)[small] * (1 + ds_ / 2 * (1 + ds_ / 3 * (1 + ds_ / 4 * (
                1 + ds_ / 5))))
            d[small] = 1.0
            o /= d
            o[small] = approx
        else:
            o /= d
        if sc is not None:
            o *= sc[c0:c1]
    out = out.reshape((n, *logy.shape[1:]))
    if ok is not True:
        out *= ok
    return out


def _bkg_values(bkg: xr.DataArray, dims: Sequence[str]) -> np.ndarray:

    return irf_values(bkg, "s-1 TeV-1 sr-1", dims)


def _bilinear_matrix(xn: np.ndarray, yn: np.ndarray, x: np.ndarray, y: np.ndarray) -> Any:
    """Sparse ``(n_points, nx * ny)`` matrix of bilinear interpolation weights (extrapolating)."""
    from scipy.sparse import csr_matrix

    ix, wx = interp_weights(xn, x)
    iy, wy = interp_weights(yn, y)
    ny = yn.size
    n = x.size
    itype = np.int32 if xn.size * ny < 2**31 - 1 and 4 * n < 2**31 - 1 else np.int64
    idx = np.empty((n, 4), dtype=itype)
    base = ix * ny + iy
    idx[:, 0] = base
    idx[:, 1] = base + ny
    idx[:, 2] = base + 1
    idx[:, 3] = base + ny + 1
    w = np.empty((n, 4), dtype=np.float32)
    wx1, wy1 = 1 - wx, 1 - wy
    w[:, 0] = wx1 * wy1
    w[:, 1] = wx * wy1
    w[:, 2] = wx1 * wy
    w[:, 3] = wx * wy
    return csr_matrix((w.ravel(), idx.ravel(), np.arange(0, 4 * n + 1, 4, dtype=itype)),
                      shape=(n, xn.size * ny))


def _bkg3d_table(bkg: xr.DataArray, e_edges: np.ndarray) -> tuple[Any, ...]:
    """The BKG_3D log-rate at ``e_edges`` as a ``(n_lon * n_lat, n_e)`` float32 table, its
    FoV nodes and valid ranges, and the mask of valid energies (inside the IRF's edges)."""

    vals = _bkg_values(bkg, ("energy", "fov_lon", "fov_lat"))
    logv = np.log(np.clip(vals, _TINY, None))
    en, elo, ehi = irf_nodes(bkg, "energy")
    le = interp_along(logv, 0, en, e_edges, log=True)  # (n_e, nlon, nlat)
    e_ok = (e_edges >= elo * (1 - 1e-9)) & (e_edges <= ehi * (1 + 1e-9))
    le[~e_ok] = np.log(_TINY)
    xn, xlo, xhi = irf_nodes(bkg, "fov_lon")
    yn, ylo, yhi = irf_nodes(bkg, "fov_lat")
    if xn.size < 2 or yn.size < 2:
        raise ValueError("BKG_3D needs at least two nodes along fov_lon and fov_lat")
    tab = np.ascontiguousarray(le.reshape(le.shape[0], -1).T, dtype=np.float32)
    return tab, xn, yn, (xlo, xhi, ylo, yhi), e_ok


def _bkg3d_points(table: tuple[Any, ...], lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Log-rate ``(n_e, n_points)`` (float32, a transposed view) at FoV positions from
    :func:`_bkg3d_table` (bilinear in the FoV), and the mask of positions inside it."""
    tab, xn, yn, (xlo, xhi, ylo, yhi), _ = table
    lo, la = lon.ravel(), lat.ravel()
    ok = (lo >= xlo - 1e-6) & (lo <= xhi + 1e-6) & (la >= ylo - 1e-6) & (la <= yhi + 1e-6)
    mat = _bilinear_matrix(xn, yn, np.where(ok, lo, 0.0), np.where(ok, la, 0.0))
    return np.asarray(mat @ tab).T, ok


def _bkg3d_lograte(bkg: xr.DataArray, e_edges: np.ndarray, lon: np.ndarray,
                   lat: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Log of the BKG_3D rate at ``e_edges`` and FoV positions -> ``(n_e, n_points)`` (float32),
    and the masks of valid positions and energies (inside the IRF's outer edges)."""
    table = _bkg3d_table(bkg, e_edges)
    logr, ok = _bkg3d_points(table, lon, lat)
    return logr, ok, table[-1]


#: Pixels per block in the background integration: keeps temporaries in the CPU cache and
#: small enough to be reused by the allocator instead of fresh (page-faulted) memory.
_BLOCK = 4096


def _bkg2d_lograte(bkg: xr.DataArray, e_edges: np.ndarray,
                   offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:

    vals = _bkg_values(bkg, ("energy", "offset"))
    logv = np.log(np.clip(vals, _TINY, None))
    en, elo, ehi = irf_nodes(bkg, "energy")
    le = interp_along(logv, 0, en, e_edges, log=True)
    e_ok = (e_edges >= elo * (1 - 1e-9)) & (e_edges <= ehi * (1 + 1e-9))
    le[~e_ok] = np.log(_TINY)
    mat = offset_matrix(bkg, offsets)
    ok = np.asarray(mat.any(axis=0))
    # log-linear in offset: the offset weights applied to the log values
    logr = (le @ mat).astype(np.float32)
    return logr, ok, e_ok


def pixel_solid_angle(geom: xr.Dataset | xr.DataArray) -> np.ndarray:
    """Solid angle (sr) of the WCS pixels of ``geom``, shape ``(y, x)``.

    From the Jacobian of the pixel-centre coordinates (second-order finite differences; the
    relative error is of order ``binsz**2``, ~1e-7 for 0.02 deg pixels), which needs no WCS
    evaluation; maps with fewer than 3 pixels along an axis or undefined coordinates use the
    exact corner-based :func:`xgamma.sky.solid_angle`.

    Examples
    --------
    >>> import numpy as np
    >>> from xgamma import sky, testing
    >>> g = testing.make_wcs_geom(width=2.0, binsz=0.1)
    >>> bool(np.allclose(pixel_solid_angle(g), sky.solid_angle(g).values, rtol=1e-6))
    True
    """
    frame = sky.frame_of(geom)
    lname, bname = ("ra", "dec") if frame == "icrs" else ("glon", "glat")
    lon = np.asarray(geom.coords.variables[lname].transpose("y", "x").values, dtype=float)
    lat = np.asarray(geom.coords.variables[bname].transpose("y", "x").values, dtype=float)
    if min(lon.shape) < 3 or not (np.isfinite(lon).all() and np.isfinite(lat).all()):
        return np.asarray(sky.solid_angle(sky.drop_axes(geom)).values, dtype=float)
    lo = np.radians(lon)
    la = np.radians(lat)
    if np.ptp(lo[0]) <= np.pi and _separable(lon, lat):
        # lon per column, lat per row: the cross terms vanish, same numbers from 1D gradients
        lx1 = np.gradient(lo[0], edge_order=2)
        by1 = np.gradient(la[:, 0], edge_order=2)
        return np.abs(by1[:, None] * lx1[None, :]) * np.cos(la[:, :1])
    if np.ptp(lo) > np.pi:  # the map crosses lon = 0: unwrap before differencing
        lx = np.gradient(np.unwrap(lo, axis=1), axis=1, edge_order=2)
        ly = np.gradient(np.unwrap(lo, axis=0), axis=0, edge_order=2)
    else:
        lx = np.gradient(lo, axis=1, edge_order=2)
        ly = np.gradient(lo, axis=0, edge_order=2)
    bx = np.gradient(la, axis=1, edge_order=2)
    by = np.gradient(la, axis=0, edge_order=2)
    return np.abs(lx * by - ly * bx) * np.cos(la)


def pixel_icrs(geom: xr.Dataset | xr.DataArray) -> tuple[np.ndarray, np.ndarray]:
    frame = sky.frame_of(geom)
    lname, bname = ("ra", "dec") if frame == "icrs" else ("glon", "glat")
    lon = np.asarray(geom.coords.variables[lname].transpose("y", "x").values, dtype=float)
    lat = np.asarray(geom.coords.variables[bname].transpose("y", "x").values, dtype=float)
    if frame != "icrs":
        c = SkyCoord(lon, lat, unit="deg", frame=frame).icrs
        lon, lat = np.asarray(c.ra.deg), np.asarray(c.dec.deg)
    return lon, lat


def background_template(observation: Any, e_edges: np.ndarray, ra: np.ndarray, dec: np.ndarray,
              pointing: tuple[float, float], omega: np.ndarray, fov_rotation_step: float,
              offsets: np.ndarray | None = None,
              fov: tuple[np.ndarray, np.ndarray] | None = None, dtype: Any = float,
              oversampling: int | None = None) -> np.ndarray:
    """Background counts ``(n_energy, *ra.shape)`` from the IRF rate (see :func:`make_background`;
    ``oversampling``: sub-bins per energy bin, see :func:`oversampled_edges`)."""
    bkg = observation.bkg
    ontime = float(getattr(observation, "ontime", 0.0) or 0.0)
    factor = oversampling_factor(oversampling)
    nb = e_edges.size - 1
    if factor > 1:  # the rate at the sub-bin edges; the sub-bin integrals summed per bin
        e_edges = oversampled_edges(e_edges, factor)
    if "offset" in bkg.dims:
        if offsets is None:

            offsets = separation_deg(ra, dec, *pointing)
        logr, pix_ok, e_ok = _bkg2d_lograte(bkg, e_edges, offsets)
    else:
        align = str(bkg.attrs.get("fovalign", "RADEC")).upper()
        if align == "RADEC":  # block by block: rate, integral and scaling per block of pixels
            lon, lat = fov if fov is not None else fov_coordinates(ra, dec, pointing)
            table = _bkg3d_table(bkg, e_edges)
            e_ok = table[-1]
            lon, lat, om = lon.ravel(), lat.ravel(), omega.ravel()
            out = np.empty((nb, lon.size), dtype=dtype)
            for c0 in range(0, lon.size, _BLOCK):
                sl = slice(c0, c0 + _BLOCK)
                lr, okb = _bkg3d_points(table, lon[sl], lat[sl])
                _scaled_integral(lr, e_edges, om[sl] * ontime * okb, out[:, sl], factor, e_ok)
            if factor == 1:
                out[~e_ok[:-1]] = 0.0
            return out.reshape((nb, *ra.shape))
        elif align == "ALTAZ":
            angles, weights = _altaz_steps(observation, pointing, fov_rotation_step)
            rate = np.zeros((e_edges.size, ra.size), dtype=np.float32)
            pix_ok = np.zeros(ra.size, dtype=bool)
            for a, w in zip(angles, weights, strict=True):
                lr, okk, e_ok = _bkg3d_lograte(bkg, e_edges,
                                               *fov_coordinates(ra, dec, pointing, a))
                rate += np.float32(w) * np.exp(lr) * okk[None, :]
                pix_ok |= okk
            logr = np.log(np.clip(rate, _TINY, None))
        else:
            raise ValueError(f"unknown FOVALIGN {align!r} (expected RADEC or ALTAZ)")
    # invalid values are log(tiny) already; bins whose lower edge is invalid give 0 (Gammapy)
    out = np.empty((nb, ra.size), dtype=dtype)
    _scaled_integral(logr, e_edges, omega.ravel() * ontime * pix_ok, out, factor, e_ok)
    if factor == 1:
        out[~e_ok[:-1]] = 0.0
    return out.reshape((nb, *ra.shape))


def oversampling_factor(oversampling: Any) -> int:
    """The number of sub-bins per energy bin from a ``background_oversampling`` option
    (``None`` -> 1); anything but a positive integer raises ``ValueError``.

    Examples
    --------
    >>> oversampling_factor(None), oversampling_factor(10)
    (1, 10)
    """
    if oversampling is None:
        return 1
    if isinstance(oversampling, bool) or not isinstance(oversampling, int | np.integer) or oversampling < 1:
        raise ValueError(f"background_oversampling: expected a positive integer or None, got {oversampling!r}")
    return int(oversampling)


def oversampled_edges(e_edges: np.ndarray, factor: int) -> np.ndarray:
    """Energy edges with each bin split into ``factor`` log-spaced sub-bins; the original
    edges are kept exactly (every ``factor``-th value). As Gammapy's ``background_oversampling``
    (``MapAxis.upsample`` of the reco-energy axis).

    Examples
    --------
    >>> import numpy as np
    >>> np.round(oversampled_edges(np.array([1.0, 100.0]), 2), 12).tolist()
    [1.0, 10.0, 100.0]
    """
    e = np.asarray(e_edges, dtype=float)
    if factor == 1:
        return e
    le = np.log(e)
    t = np.arange(factor) / factor
    fine = np.exp(le[:-1, None] + np.diff(le)[:, None] * t[None, :])
    fine[:, 0] = e[:-1]
    return np.append(fine.ravel(), e[-1])


def _scaled_integral(logr: np.ndarray, e_edges: np.ndarray, scale: np.ndarray, out: np.ndarray,
                     factor: int = 1, e_ok: np.ndarray | None = None) -> None:
    """``out[:] = integral of exp(logr) over the energy bins x scale`` (per point): the scaling
    in the dtype of ``logr`` when ``out`` has it, else in the dtype of ``out``. With
    ``factor > 1``, ``logr`` is given at the sub-bin edges ``e_edges`` (``e_ok`` their valid
    mask): the sub-bin integrals (0 where the lower sub-edge is invalid) summed per bin, in
    blocks of points."""
    if factor > 1:
        bad = ~np.asarray(e_ok, dtype=bool)[:-1]
        nb = out.shape[0]
        for c0 in range(0, out.shape[1], _BLOCK):
            sl = slice(c0, c0 + _BLOCK)
            fine = _integrate_log(logr[:, sl], e_edges)
            fine[bad] = 0.0
            s = fine.reshape(nb, factor, -1).sum(axis=1)
            np.multiply(s, np.asarray(scale[sl], dtype=s.dtype)[None, :], out=out[:, sl])
        return
    if out.dtype == logr.dtype:
        out[...] = _integrate_log(logr, e_edges, scale=scale)
    else:
        np.multiply(_integrate_log(logr, e_edges), scale[None, :], out=out)


def make_background(
    observation: Any, geom: xr.Dataset | xr.DataArray, fov_rotation_step: float = 1.0,
    background_oversampling: int | None = None,
) -> np.ndarray:
    """Background template of ``observation`` as predicted counts ``(energy, y, x)`` on ``geom``.

    Parameters
    ----------
    observation : Observation
        Needs ``bkg`` (BKG_3D or BKG_2D), the pointing and ``ontime``; ALTAZ-aligned BKG_3D
        also the GTIs/times, ``time_ref`` and the observatory location in ``meta``.
    geom : Dataset
        WCS geometry with an ``energy`` axis.
    fov_rotation_step : float
        Largest rotation (deg) of the ALTAZ FoV frame within one time step.
    background_oversampling : int, optional
        Split each reco-energy bin into this many log-spaced sub-bins, integrate the rate over
        each as a power law between its edges and sum them (Gammapy's ``MapDatasetMaker(
        background_oversampling=N)``). Default ``None``: one power law between the bin edges,
        which for wide bins differs from the exact integral of the interpolated rate by a few
        per cent (10 sub-bins bring that below 0.1 % for bins of about 1/3 decade; sub-bins finer
        than the IRF energy nodes are what helps); costs about ``N`` times the time.

    Returns
    -------
    numpy.ndarray
        Background counts per pixel and energy bin (computed in float32, returned as float64).

    Examples
    --------
    >>> from xgamma import testing
    >>> obs = testing.make_observation(n_events=10)
    >>> b = make_background(obs, testing.make_wcs_geom(width=1.0, binsz=0.5))
    >>> b.shape, bool((b > 0).all())
    ((4, 2, 2), True)
    """

    if getattr(observation, "bkg", None) is None:
        raise ReductionError(f"observation {getattr(observation, 'obs_id', None)} lacks IRFs: bkg")
    e_edges = edges(energy_axis_of(geom))
    ra, dec = pixel_icrs(geom)
    return background_template(observation, e_edges, ra, dec, pointing_radec(observation),
                     pixel_solid_angle(geom), fov_rotation_step,
                     oversampling=oversampling_factor(background_oversampling))


# ----------------------------------------------------------------------------- masks
def exclusion_on(ds: xr.Dataset | xr.DataArray, exclusion_mask: xr.DataArray | None) -> np.ndarray:
    """The exclusion mask (True = not excluded) on the sky pixels ``(y, x)`` of ``ds``.

    A mask on the same pixels is used as is; another WCS mask is sampled at the pixel centres
    (nearest pixel; positions outside it are not excluded).

    Examples
    --------
    >>> from xgamma import testing
    >>> g = testing.make_wcs_geom(width=1.0, binsz=0.1)
    >>> m = __import__("xgamma").sky.exclusion_mask(g, "icrs;circle(83.633,22.014,0.2)")
    >>> int((~exclusion_on(g, m)).sum())
    12
    """
    shape = (int(ds.sizes["y"]), int(ds.sizes["x"]))
    if exclusion_mask is None:
        return np.ones(shape, dtype=bool)
    m = exclusion_mask
    extra = [d for d in m.dims if d not in ("y", "x")]
    if extra:
        m = m.any(dim=extra) if m.dtype == bool else (m != 0).any(dim=extra)
    if (int(m.sizes["y"]), int(m.sizes["x"])) == shape and \
            sky.wcs_of(m).wcs.compare(sky.wcs_of(ds).wcs, tolerance=1e-9):
        return np.asarray(m.transpose("y", "x").values, dtype=bool)
    px, py = sky.sky_to_pix(m, sky.skycoord(sky.drop_axes(ds)))
    ix = np.floor(np.asarray(px) + 0.5)
    iy = np.floor(np.asarray(py) + 0.5)
    ok = (ix >= 0) & (ix < m.sizes["x"]) & (iy >= 0) & (iy < m.sizes["y"])
    vals = np.asarray(m.transpose("y", "x").values, dtype=bool)
    out = np.ones(shape, dtype=bool)
    out[ok] = vals[iy[ok].astype(int), ix[ok].astype(int)]
    return out


# ----------------------------------------------------------------------------- FoV normalisation
def _cash(mu: np.ndarray, n: np.ndarray) -> float:
    with np.errstate(divide="ignore", invalid="ignore"):
        term = np.where(n > 0, n * np.log(np.clip(mu, 1e-300, None)), 0.0)
    return float(2 * np.sum(mu - term))


def _fit_norm(n_e: np.ndarray, b_e: np.ndarray, energy: np.ndarray, tilt: bool,
              reference: float) -> tuple[float, float]:
    from scipy.optimize import minimize

    n_tot, b_tot = float(n_e.sum()), float(b_e.sum())
    norm0 = n_tot / b_tot
    if not tilt:
        return norm0, 0.0
    x = energy / reference

    def stat(p: np.ndarray) -> float:
        return _cash(np.exp(p[0]) * b_e * x ** (-p[1]), n_e)

    res = minimize(stat, np.array([np.log(norm0), 0.0]), method="Nelder-Mead",
                   options={"xatol": 1e-8, "fatol": 1e-9, "maxiter": 4000})
    return float(np.exp(res.x[0])), float(res.x[1])


def fov_background(
    dataset: xr.Dataset,
    exclusion_mask: xr.DataArray | None = None,
    method: str = "scale",
    spectral_tilt: bool = False,
    reference: float = 1.0,
) -> xr.Dataset:
    """Normalise the background template to the counts outside the exclusion regions.

    The normalisation uses the pixels and energy bins inside ``mask_safe`` (and ``mask_fit``
    if present) and not excluded. ``method="scale"``: ``norm = sum(counts) / sum(background)``;
    ``method="fit"``: a Cash fit of ``norm * (E / reference) ** -tilt`` (the tilt only with
    ``spectral_tilt=True``; without it the fit equals the scale). Datasets with an ``obs`` dim
    are normalised per observation.

    Parameters
    ----------
    dataset : Dataset
        Reduced map dataset with ``counts``, ``background`` and ``mask_safe``.
    exclusion_mask : DataArray, optional
        True where NOT excluded (:func:`xgamma.sky.exclusion_mask`), on any WCS geometry.
    method : {"scale", "fit"}
    spectral_tilt : bool
        Also fit a spectral tilt (``method="fit"``).
    reference : float
        Reference energy (TeV) of the tilt.

    Returns
    -------
    Dataset
        A new dataset with the scaled ``background`` and ``fov_bkg_norm`` (``fov_bkg_tilt``
        with a tilt) variables (per ``obs`` if present). If no counts or no background are
        left outside the exclusion regions, the template is kept (norm 1) with a warning.

    Examples
    --------
    >>> import xgamma as xg
    >>> from xgamma import testing
    >>> ds = xg.reduce(testing.make_observation(n_events=2000), testing.make_wcs_geom(),
    ...                products=["counts", "background"])
    >>> out = fov_background(ds, method="fit", spectral_tilt=True)
    >>> sorted(v for v in out.data_vars if v.startswith("fov"))
    ['fov_bkg_norm', 'fov_bkg_tilt']
    """
    if method not in ("scale", "fit"):
        raise ValueError(f"method must be 'scale' or 'fit', got {method!r}")
    for var in ("counts", "background"):
        if var not in dataset:
            raise ValueError(f"fov_background needs a {var!r} variable")
    counts = dataset["counts"]
    dims = tuple(str(d) for d in counts.dims)
    if dims[-3:] != ("energy", "y", "x"):
        counts = counts.transpose(..., "energy", "y", "x")
        dims = tuple(str(d) for d in counts.dims)
    n = np.asarray(counts.values)
    b = np.asarray(dataset["background"].transpose(*dims).values)
    mask = exclusion_on(dataset, exclusion_mask)[(None,) * (len(dims) - 2)]
    for var in ("mask_safe", "mask_fit"):
        if var in dataset:
            m = dataset[var].astype(bool)
            mask = mask & np.asarray(m.transpose(*[d for d in dims if d in m.dims]).values
                                     ).reshape([int(m.sizes[d]) if d in m.dims else 1
                                                for d in dims])
    energy = np.asarray(dataset["energy"].values, dtype=float)
    tilt = spectral_tilt and method == "fit"
    scaled, norms, tilts = fov_scale(n, b, mask, energy, tilt, reference,
                                      dataset.attrs.get("name", "dataset"))
    lead_dims = dims[:-3]
    out = dataset.copy()
    if tilt:
        out["fov_bkg_tilt"] = xr.DataArray(tilts, dims=lead_dims, attrs={"units": ""})
    out["background"] = xr.DataArray(scaled, dims=dims,
                                     attrs=dataset["background"].attrs).transpose(
        *dataset["background"].dims)
    out["fov_bkg_norm"] = xr.DataArray(norms, dims=lead_dims, attrs={"units": ""})
    return out


def fov_scale(n: np.ndarray, b: np.ndarray, mask: np.ndarray, energy: np.ndarray, tilt: bool,
               reference: float, names: Any, out: np.ndarray | None = None
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Numpy core of :func:`fov_background`: counts and background ``(..., energy, y, x)`` and
    the mask (broadcastable) -> the scaled background (into ``out`` if given, which may be
    ``b``), the norms and tilts (shape ``...``)."""
    mask = np.broadcast_to(mask, n.shape)
    # sums over the sky pixels inside the mask (einsum: ~5x faster than sum(where=))
    n_arr = np.einsum("...yx,...yx->...", n, mask, dtype=float)
    b_arr = np.einsum("...yx,...yx->...", b, mask, dtype=float)
    lead = n_arr.shape[:-1]
    norms = np.ones(lead)
    tilts = np.zeros(lead)
    for idx in np.ndindex(*lead):
        n1, b1 = n_arr[idx], b_arr[idx]
        where = f"{names}{f' {idx}' if idx else ''}"
        if n1.sum() <= 0:
            warnings.warn(f"fov_background ({where}): no counts outside the exclusion regions; "
                          "background left unscaled", stacklevel=3)
            continue
        if b1.sum() <= 0:
            warnings.warn(f"fov_background ({where}): no positive background outside the "
                          "exclusion regions; background left unscaled", stacklevel=3)
            continue
        norms[idx], tilts[idx] = _fit_norm(n1, b1, energy, tilt, reference)
    factor = norms[..., None] * np.ones_like(energy)
    if tilt:
        factor = norms[..., None] * (energy / reference) ** (-tilts[..., None])
    return np.multiply(b, factor[..., None, None].astype(b.dtype), out=out), norms, tilts


# ----------------------------------------------------------------------------- ring background
def _ring_kernel(geom: Any, r_in: float, width: float) -> np.ndarray:
    w = sky.wcs_of(geom)
    scale = np.abs(w.wcs.get_cdelt())
    r_out = r_in + width
    nx = int(np.ceil(r_out / scale[0]))
    ny = int(np.ceil(r_out / scale[1]))
    yy, xx = np.mgrid[-ny:ny + 1, -nx:nx + 1]
    r = np.hypot(xx * scale[0], yy * scale[1])
    # both edges included (astropy's Ring2DKernel, which Gammapy uses); the tolerance keeps the
    # pixels at exactly r_in or r_out (in pixel units) whatever the rounding of binsz
    tol = 1e-9 * r_out
    return ((r >= r_in - tol) & (r <= r_out + tol)).astype(float)


def ring_background(
    dataset: xr.Dataset, r_in: float, width: float, exclusion_mask: xr.DataArray | None = None,
    off_pixels: str = "safe",
) -> xr.Dataset:
    """Ring background: OFF counts from a ring of inner radius ``r_in`` and ``width`` (deg).

    For each pixel and energy bin, ``counts_off`` is the sum of the (not excluded, safe)
    counts in the ring around it, ``acceptance`` the background template in the pixel and
    ``acceptance_off`` the template summed over the same ring pixels; then
    ``alpha = acceptance / acceptance_off`` and ``background = alpha * counts_off``. The ring
    holds the pixels whose centres lie between ``r_in`` and ``r_in + width`` (both included,
    as astropy's ``Ring2DKernel``). A dataset with an ``obs`` dim gets each observation's ring
    from its own counts and template (as Gammapy's ``RingBackgroundMaker`` in the observation
    loop): apply it before :func:`xgamma.stack`, which stacks the ON/OFF maps. The result is
    fitted with WStat (:func:`xgamma.fit`).

    Parameters
    ----------
    dataset : Dataset
        Reduced map dataset (``counts``, ``background`` template, ``mask_safe``).
    r_in, width : float
        Ring inner radius and width in deg.
    exclusion_mask : DataArray, optional
        True where NOT excluded.
    off_pixels : {"safe", "all"}
        Pixels whose counts and template fill the ring: ``"safe"`` (default) those inside
        ``mask_safe`` and not excluded; ``"all"`` every pixel not excluded, also outside the
        safe mask (e.g. beyond ``offset_max``), as Gammapy's ``RingBackgroundMaker``. Both
        agree where every ring pixel is safe.

    Returns
    -------
    Dataset
        ``dataset`` with ``counts_off``, ``acceptance``, ``acceptance_off``, ``alpha`` and the
        ring ``background``; pixels whose ring holds no acceptance get alpha 0 and are
        removed from ``mask_safe``.

    Examples
    --------
    >>> import xgamma as xg
    >>> from xgamma import testing
    >>> ds = xg.reduce(testing.make_observation(n_events=2000), testing.make_wcs_geom(),
    ...                products=["counts", "background"])
    >>> rb = ring_background(ds, r_in=0.5, width=0.3)
    >>> sorted(v for v in rb.data_vars if v in ("alpha", "counts_off", "acceptance_off"))
    ['acceptance_off', 'alpha', 'counts_off']
    """
    from scipy.signal import fftconvolve

    if off_pixels not in ("safe", "all"):
        raise ValueError(f"off_pixels must be 'safe' or 'all', got {off_pixels!r}")
    kernel = _ring_kernel(dataset, r_in, width)
    excl = exclusion_on(dataset, exclusion_mask)
    safe = dataset["mask_safe"].astype(bool) if "mask_safe" in dataset and off_pixels == "safe" else True
    on_mask = (xr.DataArray(excl, dims=("y", "x")) & safe).transpose(..., "y", "x")
    counts = dataset["counts"].where(on_mask, 0.0).transpose(..., "y", "x")
    bkg = dataset["background"].where(on_mask, 0.0).transpose(..., "y", "x")
    k = kernel.reshape((1,) * (counts.ndim - 2) + kernel.shape)

    def conv(a: np.ndarray) -> np.ndarray:
        out = fftconvolve(a, k, mode="same", axes=(-2, -1))
        return np.where(np.abs(out) < 1e-9 * max(1.0, float(np.abs(a).max(initial=0))), 0.0, out)

    n_off = np.clip(np.rint(conv(np.asarray(counts.values, float))), 0, None)
    acc_off = np.clip(conv(np.asarray(bkg.values, float)), 0, None)
    acc = np.asarray(dataset["background"].transpose(*counts.dims).values, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        alpha = np.where(acc_off > 0, acc / acc_off, 0.0)
    dims = counts.dims
    out = dataset.copy()
    out["counts_off"] = xr.DataArray(n_off, dims=dims, attrs={"units": ""})
    out["acceptance"] = xr.DataArray(acc, dims=dims, attrs={"units": ""})
    out["acceptance_off"] = xr.DataArray(acc_off, dims=dims, attrs={"units": ""})
    out["alpha"] = xr.DataArray(alpha, dims=dims, attrs={"units": ""})
    out["background"] = (out["alpha"] * out["counts_off"]).transpose(
        *dataset["background"].dims).assign_attrs(units="")
    if "mask_safe" in dataset:
        out["mask_safe"] = (dataset["mask_safe"] & (out["acceptance_off"] > 0)).transpose(
            *dataset["mask_safe"].dims)
    out.attrs["ring"] = f"r_in={r_in} deg, width={width} deg"
    return out
