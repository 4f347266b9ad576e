"""Sky geometries (WCS, region, HEALPix) carried by xarray coordinates.

The geometry contract
---------------------
A *geometry* is an ``xarray.Dataset`` with coordinates only (no data variables). Any
DataArray or Dataset that carries the same coordinates and geometry attrs *has* that geometry,
and every function here accepts either the geometry or an object that has it.

* ``attrs["geom"]`` is ``"wcs"``, ``"region"`` or ``"healpix"``; ``attrs["frame"]`` is
  ``"icrs"`` or ``"galactic"``.
* **WCS**: sky dims ``y``, ``x`` (the last two dims). The dimension coordinates ``y`` and ``x``
  are integers: the 0-based pixel position in the WCS whose FITS header (a string of 80-character
  cards, see :func:`wcs_header`) is ``attrs["wcs"]``. After ``isel``/:func:`cutout` the header
  stays valid and :func:`wcs_of` returns the WCS shifted (or sliced, for strided selections)
  to the object's own pixels. 2D non-dimension coordinates ``ra``, ``dec`` (frame ``icrs``) or
  ``glon``, ``glat`` (``galactic``) along ``(y, x)`` hold the pixel centres in deg (NaN
  outside the projection). Any FITS projection (CAR, TAN, AIT, ...). CAR maps built by
  :func:`wcs_geom` have ``CRVAL2 = 0`` so pixels follow lines of constant latitude.
* **Region** (1D spectra): no sky dims; ``attrs["region"]`` is the region as a string, see
  :func:`region_to_string`: a DS9 string with its frame, e.g.
  ``"icrs;circle(83.63,22.01,0.11)"``. Several shapes separated by ``;`` mean their union,
  a shape with a leading ``-`` is excluded (DS9 semantics), and other compound regions are
  written ``and(A;B)``, ``xor(A;B)``, ``sub(A;B)`` (A and not B) or ``or(A;B)``, nested
  as needed.
* **HEALPix**: sky dim ``pix``; coordinate ``pix`` = HEALPix pixel index (sorted; partial sky
  allowed), 1D ``ra``/``dec`` (or ``glon``/``glat``) along ``pix``; attrs ``nside`` and
  ``order`` (``"nested"`` or ``"ring"``), pixelisation by astropy-healpix.
* Non-spatial binned axes (:mod:`xgamma.axes`) come before the sky dims, in the order given;
  their coordinates (``energy``, ``energy_min``, ``energy_max`` with attrs) are part of the
  geometry.

The geometry attrs are also copied onto the attrs of the ``x`` (WCS) or ``pix`` (HEALPix)
coordinate, so a DataArray built from ``geom.coords`` alone still has its geometry; the
object's own ``attrs`` take precedence.

This module holds the geometry constructors and accessors, pixel <-> sky conversions, solid
angles, cut-outs and maps on a geometry. The region part (region strings, :func:`contains`,
:func:`region_of`, :func:`region_mask`, :func:`exclusion_mask`) is in
:mod:`xgamma.sky_regions` and re-exported here.

Examples
--------
>>> import xgamma as xg
>>> geom = xg.wcs_geom((83.63, 22.01), width=2, binsz=0.5, axes=[xg.energy_axis(1, 10, 2)])
>>> dict(geom.sizes)
{'energy': 2, 'y': 4, 'x': 4}
>>> geom_kind(geom), frame_of(geom)
('wcs', 'icrs')
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import astropy.units as u
import numpy as np
import xarray as xr
from astropy.coordinates import SkyCoord, angular_separation
from astropy.wcs import WCS, FITSFixedWarning

from xgamma.axes import coords_from_axis
from xgamma.errors import GeometryError
from xgamma.sky.frames import (
    LONLAT,
    as_skycoord,
    frame_ctype,
    frame_name,
    lonlat,
    regions_module,
    skydir_lonlat,
    to_deg,
    to_deg_pair,
    unit_vectors,
)
from xgamma.sky.regions import (
    contains,
    leaf_center,
    region_from_string,
    region_leaves,
    region_radius,
    region_to_string,
)

if TYPE_CHECKING:
    from regions import SkyRegion

__all__ = [
    "GEOM_KEYS", "Obj", "wcs_geom", "region_geom", "healpix_geom", "geom_from_wcs", "geom_kind",
    "geom_of", "geom_attrs", "wcs_header", "wcs_from_header", "sky_dims", "sky_and_axis_dims",
    "frame_of", "wcs_of", "skycoord", "pix_to_sky", "sky_to_pix", "solid_angle", "separation",
    "center", "cutout", "make_map", "empty", "to_image", "drop_axes", "sky_dataarray",
    "is_plate_carree", "region_of",
]

GEOM_KEYS = ("geom", "frame", "wcs", "region", "nside", "order")
Obj = xr.DataArray | xr.Dataset


# ----------------------------------------------------------------------------- small helpers


def _axes_coords(axes: Sequence[xr.DataArray] | None) -> dict[str, xr.Variable]:
    out: dict[str, xr.Variable] = {}
    for ax in axes or []:
        if not isinstance(ax, xr.DataArray) or ax.ndim != 1:
            raise GeometryError(f"axes must be 1D DataArrays from xgamma.axes, got {type(ax)}")
        if ax.dims[0] in ("x", "y", "pix"):
            raise GeometryError(f"axis name {ax.dims[0]!r} is reserved for sky dims")
        out.update(coords_from_axis(ax))
    return out


def _geometry(coords: dict[str, Any], attrs: dict[str, Any], skydim: str | None) -> xr.Dataset:
    if skydim is not None:
        c = coords[skydim]
        coords[skydim] = xr.Variable(c.dims, c.data, attrs={**c.attrs, **attrs})
    return xr.Dataset(coords=coords, attrs=dict(attrs))


def geom_attrs(obj: Obj) -> dict[str, Any]:
    """The geometry attrs (:data:`GEOM_KEYS`) of ``obj``: those on its ``x``/``pix``
    coordinate, overridden by its own attrs; without a geometry a
    :class:`~xgamma.errors.GeometryError`.

    Examples
    --------
    >>> g = wcs_geom((0, 0), 1, 0.5)
    >>> sorted(geom_attrs(g))
    ['frame', 'geom', 'wcs']
    >>> geom_attrs(xr.DataArray(np.zeros((2, 2)), coords=g.coords))["geom"]   # from coords alone
    'wcs'
    """
    out: dict[str, Any] = {}
    cv = getattr(obj.coords, "variables", obj.coords)  # Variables: no DataArray per access
    for name in ("x", "pix"):
        if name in cv and "geom" in cv[name].attrs:
            out.update({k: v for k, v in cv[name].attrs.items() if k in GEOM_KEYS})
    out.update({k: v for k, v in obj.attrs.items() if k in GEOM_KEYS})
    if "geom" not in out:
        raise GeometryError("object has no sky geometry (no attrs['geom'])")
    return out


# ----------------------------------------------------------------------------- constructors
def geom_from_wcs(
    wcs: WCS, shape: Sequence[int], axes: Sequence[xr.DataArray] | None = None
) -> xr.Dataset:
    """WCS geometry from an astropy WCS and the sky shape ``(ny, nx)``.

    Only the celestial part of ``wcs`` is used (e.g. of a FITS cube header).

    Examples
    --------
    >>> from astropy.wcs import WCS
    >>> w = WCS(naxis=2); w.wcs.ctype = ["GLON-TAN", "GLAT-TAN"]; w.wcs.cdelt = [-0.1, 0.1]
    >>> geom_from_wcs(w, (3, 5)).glon.shape
    (3, 5)
    """
    # only the header string and pixel coordinates are kept: no copy needed of a 2D celestial WCS
    w = wcs if wcs.naxis == 2 and wcs.wcs.lng == 0 and wcs.wcs.lat == 1 else wcs.celestial
    ctype = str(w.wcs.ctype[0]).upper()
    frame = {"RA": "icrs", "GL": "galactic"}.get(ctype[:2], "")
    if not frame:
        raise GeometryError(f"unsupported celestial CTYPE {ctype!r}")
    ny, nx = (int(n) for n in shape[-2:])
    lon, lat = _pixel_centres(w, ny, nx)
    lname, bname = LONLAT[frame]
    coords: dict[str, Any] = _axes_coords(axes)
    coords["y"] = xr.Variable("y", np.arange(ny, dtype=np.int64))
    coords["x"] = xr.Variable("x", np.arange(nx, dtype=np.int64))
    coords[lname] = xr.Variable(("y", "x"), np.mod(lon, 360.0), attrs={"units": "deg"})
    coords[bname] = xr.Variable(("y", "x"), np.asarray(lat), attrs={"units": "deg"})
    attrs = {"geom": "wcs", "frame": frame, "wcs": wcs_header(w)}
    return _geometry(coords, attrs, "x")


def is_plate_carree(w: WCS) -> bool:
    """A CAR projection with its reference on the equator and no rotation: longitude depends
    on the pixel column only and latitude on the row only.

    Examples
    --------
    >>> is_plate_carree(wcs_of(wcs_geom((10, 30), 1, 0.5)))   # CAR maps here: CRVAL2 = 0
    True
    >>> is_plate_carree(wcs_of(wcs_geom((10, 30), 1, 0.5, proj="TAN")))
    False
    """
    p = w.wcs
    if not str(p.ctype[0]).upper().endswith("-CAR") or p.crval[1] != 0 or p.lonpole != 0:
        return False
    m = np.asarray(p.cd if p.has_cd() else p.get_pc())
    return bool(m[0, 1] == 0 and m[1, 0] == 0)


def _pixel_centres(w: WCS, ny: int, nx: int) -> tuple[np.ndarray, np.ndarray]:
    """World coordinates of all pixel centres; for a plate carree from one row and one column
    (WCSLIB gives bit-identical numbers; longitudes are NaN where the latitude is)."""
    if is_plate_carree(w) and ny > 1 and nx > 1:
        y_eq = float(np.clip(np.rint(w.wcs.crpix[1] - 1), 0, ny - 1))
        lon1, _ = w.pixel_to_world_values(np.arange(nx, dtype=float), np.full(nx, y_eq))
        _, lat1 = w.pixel_to_world_values(np.zeros(ny), np.arange(ny, dtype=float))
        if np.isfinite(lon1).all():
            lat = np.repeat(np.asarray(lat1, dtype=float)[:, None], nx, axis=1)
            lon = np.where(np.isfinite(lat), np.asarray(lon1, dtype=float)[None, :], np.nan)
            return lon, lat
    yy, xx = np.mgrid[0:ny, 0:nx]
    lon, lat = w.pixel_to_world_values(xx, yy)
    return np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)


def wcs_header(wcs: WCS) -> str:
    """The FITS header string of a WCS as stored in ``attrs["wcs"]``: WCSLIB's own cards
    (80 characters each, no comment cards, no ``END``), the same keywords as
    ``WCS.to_header_string(relax=True)`` at a fraction of its cost.

    Examples
    --------
    >>> w = WCS(naxis=2); w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    >>> h = wcs_header(w)
    >>> len(h) % 80, "CTYPE1  = 'RA---TAN'" in h
    (0, True)
    """
    raw = wcs.wcs.to_header(True)
    return "".join(c for c in (raw[i:i + 80] for i in range(0, len(raw), 80))
                   if not c.startswith(("COMMENT", "END     ")))


def wcs_from_header(header: str) -> WCS:
    """A celestial WCS from a header string (``attrs["wcs"]``, :func:`wcs_header`), parsed
    by WCSLIB directly (no FITS header object: ~5x faster than ``WCS(fits.Header(...))``).

    Examples
    --------
    >>> w = wcs_from_header(wcs_header(WCS(naxis=2)))
    >>> w.naxis
    2
    """
    from astropy.wcs import Wcsprm

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        prm = Wcsprm(header.encode("ascii"), relax=True)
        w = WCS(naxis=prm.naxis)
    w.wcs = prm
    w.wcs.set()
    return w


def wcs_geom(
    skydir: Any,
    width: Any,
    binsz: Any,
    frame: str = "icrs",
    proj: str = "CAR",
    axes: Sequence[xr.DataArray] | None = None,
    car_reference: str = "equator",
) -> xr.Dataset:
    """WCS map geometry centred on ``skydir``.

    Parameters
    ----------
    skydir : SkyCoord or (lon, lat)
        Map centre; a pair is in deg in ``frame``.
    width : float, (w_lon, w_lat), Quantity or str
        Map width in deg; the number of pixels is ``round(width / binsz)`` (at least 1).
    binsz : float, Quantity or str
        Pixel size in deg (or a pair).
    frame : {"icrs", "galactic"}
    proj : str
        FITS projection code (``CAR``, ``TAN``, ``AIT``, ...).
    axes : list of DataArray, optional
        Non-spatial axes, placed before ``y``, ``x``.
    car_reference : {"equator", "center"}
        For ``CAR``: put the WCS reference point on the equator (pixel rows follow constant
        latitude: a true plate carree), or at ``skydir`` (an oblique CAR projection, which is
        what Gammapy's ``WcsGeom.create`` makes; use it to reproduce Gammapy's pixels exactly).

    Examples
    --------
    >>> g = wcs_geom((0, 0), width=(360, 180), binsz=1, frame="galactic")
    >>> dict(g.sizes), round(float(g.glat[0, 0]), 6)
    ({'y': 180, 'x': 360}, -89.5)
    """
    frame = frame_name(frame)
    lon, lat = skydir_lonlat(skydir, frame)
    wx, wy = to_deg_pair(width)
    bx, by = to_deg_pair(binsz)
    nx, ny = max(1, int(np.rint(wx / bx))), max(1, int(np.rint(wy / by)))
    w = WCS(naxis=2)
    w.wcs.ctype = frame_ctype(frame, proj)
    w.wcs.cunit = ["deg", "deg"]
    w.wcs.cdelt = [-bx, by]
    crpix = [(nx + 1) / 2.0, (ny + 1) / 2.0]
    if car_reference not in ("equator", "center"):
        raise GeometryError(f"car_reference must be 'equator' or 'center', got {car_reference!r}")
    if proj.upper() == "CAR" and car_reference == "equator":  # pixels along constant latitude
        w.wcs.crval = [lon, 0.0]
        crpix[1] -= lat / by
    else:
        w.wcs.crval = [lon, lat]
    w.wcs.crpix = crpix
    if frame == "icrs":
        w.wcs.radesys = "ICRS"
    w.wcs.set()
    return geom_from_wcs(w, (ny, nx), axes=axes)


def region_geom(region: SkyRegion | str, axes: Sequence[xr.DataArray] | None = None) -> xr.Dataset:
    """Region geometry (1D spectra): no sky dims, the region as a string attr.

    Examples
    --------
    >>> g = region_geom("icrs;circle(83.63,22.01,0.11)")
    >>> g.attrs["region"], g.attrs["frame"]
    ('icrs;circle(83.63,22.01,0.11)', 'icrs')
    """
    reg = region_from_string(region) if isinstance(region, str) else region
    leaf = region_leaves(reg)[0]
    attrs = {"geom": "region", "frame": frame_name(leaf_center(leaf).frame.name),
             "region": region_to_string(reg)}
    return _geometry(dict(_axes_coords(axes)), attrs, None)


def healpix_geom(
    nside: int,
    frame: str = "icrs",
    order: str = "nested",
    skydir: Any = None,
    width: Any = None,
    axes: Sequence[xr.DataArray] | None = None,
    pix: Any = None,
) -> xr.Dataset:
    """HEALPix geometry, all-sky, a disc of pixels whose centres lie within ``width``, or the
    pixels ``pix``.

    Parameters
    ----------
    nside : int
        A power of 2.
    frame : {"icrs", "galactic"}
    order : {"nested", "ring"}
    skydir, width : optional
        Centre and radius (deg) of a partial-sky disc; ``None`` means all-sky.
    pix : array of int, optional
        Explicit HEALPix indices (sorted and de-duplicated), instead of ``skydir``/``width``.

    Examples
    --------
    >>> healpix_geom(4).sizes["pix"]
    192
    >>> healpix_geom(64, skydir=(83.63, 22.01), width=2).sizes["pix"] < 200
    True
    >>> healpix_geom(2, pix=[7, 3, 3]).pix.values.tolist()
    [3, 7]
    >>> healpix_geom(3)
    Traceback (most recent call last):
    ...
    xgamma.errors.GeometryError: HEALPix nside must be a power of 2, got 3
    """
    from astropy_healpix import HEALPix

    frame = frame_name(frame)
    if order not in ("nested", "ring"):
        raise GeometryError(f"HEALPix order must be 'nested' or 'ring', got {order!r}")
    try:
        ns = int(nside)
    except (TypeError, ValueError):
        ns = 0
    if ns < 1 or ns & (ns - 1) or ns != nside or ns > 2**29:
        raise GeometryError(f"HEALPix nside must be a power of 2, got {nside}")
    nside = ns
    hp = HEALPix(nside=nside, order=order)
    if pix is not None:
        pix = np.unique(np.asarray(pix, dtype=np.int64))
        if pix.size and (pix[0] < 0 or pix[-1] >= hp.npix):
            raise GeometryError(f"HEALPix pixel indices must be in [0, {hp.npix}) for nside {nside}")
    elif skydir is None or width is None:
        pix = np.arange(hp.npix, dtype=np.int64)
    else:
        lon0, lat0 = skydir_lonlat(skydir, frame)
        r = to_deg(width)
        cand = np.asarray(hp.cone_search_lonlat(lon0 * u.deg, lat0 * u.deg, r * u.deg))
        lo, la = hp.healpix_to_lonlat(cand)
        sep = np.degrees(angular_separation(lo.rad, la.rad, np.radians(lon0), np.radians(lat0)))
        pix = np.sort(cand[sep <= r]).astype(np.int64)
    lo, la = hp.healpix_to_lonlat(pix)
    lname, bname = LONLAT[frame]
    coords: dict[str, Any] = _axes_coords(axes)
    coords["pix"] = xr.Variable("pix", pix)
    coords[lname] = xr.Variable("pix", np.mod(lo.deg, 360.0), attrs={"units": "deg"})
    coords[bname] = xr.Variable("pix", np.asarray(la.deg), attrs={"units": "deg"})
    attrs = {"geom": "healpix", "frame": frame, "nside": int(nside), "order": order}
    return _geometry(coords, attrs, "pix")


# ----------------------------------------------------------------------------- accessors of a geometry
def geom_kind(obj: Obj) -> str:
    """``"wcs"``, ``"region"`` or ``"healpix"``.

    Examples
    --------
    >>> geom_kind(healpix_geom(1))
    'healpix'
    """
    return str(geom_attrs(obj)["geom"])


def frame_of(obj: Obj) -> str:
    """The sky frame, ``"icrs"`` or ``"galactic"``.

    Examples
    --------
    >>> frame_of(healpix_geom(1, frame="galactic"))
    'galactic'
    """
    return str(geom_attrs(obj)["frame"])


def sky_dims(obj: Obj) -> tuple[str, ...]:
    """The sky dims: ``("y", "x")``, ``("pix",)`` or ``()``.

    Examples
    --------
    >>> sky_dims(region_geom("icrs;circle(1,2,0.1)"))
    ()
    """
    return {"wcs": ("y", "x"), "healpix": ("pix",), "region": ()}[geom_kind(obj)]


def sky_and_axis_dims(obj: Obj) -> tuple[str, ...]:
    """The dims of ``obj``: of a DataArray in its own order, of a Dataset the non-spatial
    axes first and the sky dims last.

    Examples
    --------
    >>> import xgamma as xg
    >>> g = wcs_geom((0, 0), 1, 0.5, axes=[xg.energy_axis(1, 10, 3)])
    >>> sky_and_axis_dims(g), sky_and_axis_dims(empty(g).transpose("x", "y", "energy"))
    (('energy', 'y', 'x'), ('x', 'y', 'energy'))
    """
    sky = sky_dims(obj)
    if isinstance(obj, xr.DataArray):
        return tuple(str(d) for d in obj.dims)
    rest = [str(d) for d in obj.dims if d not in sky]
    return (*rest, *sky)


def geom_of(obj: Obj) -> xr.Dataset:
    """The geometry of ``obj``: a coords-only Dataset (scalar coords dropped).

    Examples
    --------
    >>> m = empty(wcs_geom((0, 0), 1, 0.5))
    >>> list(geom_of(m).data_vars), dict(geom_of(m).sizes)
    ([], {'y': 2, 'x': 2})
    """
    dims = sky_and_axis_dims(obj)
    names = [d for d in dims if d in obj.coords]
    names += [str(k) for k, v in obj.coords.items() if v.ndim > 0 and k not in names]
    coords = {k: obj.coords[k].variable for k in names}
    return xr.Dataset(coords=coords, attrs=geom_attrs(obj))


def _pixel_slice(obj: Obj, dim: str) -> tuple[int, int, int]:
    n = int(obj.sizes[dim])
    if dim not in obj.coords:
        return 0, 1, n
    v = np.asarray(obj.coords[dim].values)
    if n < 2:
        return int(v[0]) if n else 0, 1, n
    steps = np.unique(np.diff(v))
    if steps.size != 1 or steps[0] < 1:
        raise GeometryError(f"pixel coordinate {dim!r} is not a regular increasing grid")
    return int(v[0]), int(steps[0]), n


def wcs_of(obj: Obj) -> WCS:
    """The celestial WCS of ``obj``, shifted (or sliced) to its own pixel grid.

    Examples
    --------
    >>> g = wcs_geom((83.63, 22.01), 2, 0.1)
    >>> sub = g.isel(x=slice(5, 10), y=slice(3, 8))
    >>> bool(abs(wcs_of(sub).pixel_to_world_values(0, 0)[0] - float(g.ra[3, 5])) < 1e-9)
    True
    """
    a = geom_attrs(obj)
    if a["geom"] != "wcs":
        raise GeometryError(f"a WCS needs a 'wcs' geometry, got {a['geom']!r}")
    w = wcs_from_header(a["wcs"])
    x0, sx, nx = _pixel_slice(obj, "x")
    y0, sy, ny = _pixel_slice(obj, "y")
    # new pixel j is parent pixel start + j * step (1-based FITS CRPIX)
    start, step = np.array([x0, y0], float), np.array([sx, sy], float)
    w.wcs.crpix = (np.asarray(w.wcs.crpix) - 1 - start) / step + 1
    if sx != 1 or sy != 1:
        if w.wcs.has_cd():
            w.wcs.cd = np.asarray(w.wcs.cd) * step[None, :]
        else:
            w.wcs.cdelt = np.asarray(w.wcs.cdelt) * step
    w.array_shape = (ny, nx)
    return w


# ----------------------------------------------------------------------------- coordinates
def skycoord(obj: Obj) -> SkyCoord:
    """SkyCoord of the pixel centres (shape of the sky dims); a region's centre.

    Examples
    --------
    >>> skycoord(wcs_geom((10, 20), 1, 0.5)).shape
    (2, 2)
    """
    a = geom_attrs(obj)
    if a["geom"] == "region":
        return center(obj)
    lname, bname = LONLAT[a["frame"]]
    if lname in obj.coords and bname in obj.coords:
        order = sky_dims(obj)
        lon = obj.coords[lname].transpose(*order).values
        lat = obj.coords[bname].transpose(*order).values
        return SkyCoord(lon, lat, unit="deg", frame=a["frame"])
    if a["geom"] == "wcs":
        ny, nx = obj.sizes["y"], obj.sizes["x"]
        yy, xx = np.mgrid[0:ny, 0:nx]
        return pix_to_sky(obj, xx, yy)
    return pix_to_sky(obj, np.asarray(obj.coords["pix"].values))


def pix_to_sky(obj: Obj, x: Any, y: Any = None) -> SkyCoord:
    """Sky positions of pixel coordinates.

    WCS: ``x``, ``y`` are (fractional) 0-based pixel positions in ``obj``'s own grid (as for
    :func:`wcs_of`); HEALPix: ``x`` are HEALPix indices.

    Examples
    --------
    >>> g = wcs_geom((83.63, 22.01), 1, 0.5)
    >>> c = pix_to_sky(g, 0.5, 0.5)
    >>> round(float(c.ra.deg), 6), round(float(c.dec.deg), 6)
    (83.63, 22.01)
    """
    a = geom_attrs(obj)
    if a["geom"] == "wcs":
        lon, lat = wcs_of(obj).pixel_to_world_values(np.asarray(x, float), np.asarray(y, float))
    elif a["geom"] == "healpix":
        from astropy_healpix import HEALPix

        lo, la = HEALPix(nside=a["nside"], order=a["order"]).healpix_to_lonlat(np.asarray(x))
        lon, lat = lo.deg, la.deg
    else:
        raise GeometryError("a region geometry has no pixels")
    return SkyCoord(np.mod(lon, 360.0), lat, unit="deg", frame=a["frame"])


def sky_to_pix(obj: Obj, coords: SkyCoord) -> Any:
    """Pixel coordinates of sky positions: ``(x, y)`` floats (WCS) or HEALPix indices.

    Examples
    --------
    >>> from astropy.coordinates import SkyCoord
    >>> g = wcs_geom((83.63, 22.01), 1, 0.5)
    >>> x, y = sky_to_pix(g, SkyCoord(83.63, 22.01, unit="deg"))
    >>> round(float(x), 6), round(float(y), 6)
    (0.5, 0.5)
    """
    a = geom_attrs(obj)
    lon, lat = lonlat(coords, a["frame"])
    if a["geom"] == "wcs":
        return wcs_of(obj).world_to_pixel_values(lon, lat)
    if a["geom"] == "healpix":
        from astropy_healpix import HEALPix

        hp = HEALPix(nside=a["nside"], order=a["order"])
        return hp.lonlat_to_healpix(lon * u.deg, lat * u.deg)
    raise GeometryError("a region geometry has no pixels")


def sky_dataarray(obj: Obj, values: Any, name: str, units: str) -> xr.DataArray:
    """A DataArray of ``values`` on the sky dims of ``obj`` (its non-spatial axes dropped),
    named ``name``, in ``units``, with the geometry attrs.

    Examples
    --------
    >>> import xgamma as xg
    >>> g = wcs_geom((0, 0), 1, 0.5, axes=[xg.energy_axis(1, 10, 3)])
    >>> m = sky_dataarray(g, np.arange(4.0).reshape(2, 2), "flux", "cm-2 s-1")
    >>> m.dims, m.name, m.attrs["units"], m.attrs["geom"]
    (('y', 'x'), 'flux', 'cm-2 s-1', 'wcs')
    """
    g = drop_axes(obj)
    dims = sky_dims(g)
    return xr.DataArray(values, dims=dims, coords=g.coords, name=name,
                        attrs={**g.attrs, "units": units})


def _tri_area(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    det = np.einsum("...i,...i", a, np.cross(b - a, c - a))
    den = 1.0 + np.einsum("...i,...i", a, b) + np.einsum("...i,...i", b, c) \
        + np.einsum("...i,...i", c, a)
    return 2.0 * np.arctan2(det, den)


def solid_angle(obj: Obj) -> xr.DataArray:
    """Solid angle of each pixel in sr (exact spherical area from the 4 pixel corners).

    WCS pixels are the spherical quadrilaterals through their corners (0 where a corner is
    outside the projection); HEALPix pixels have ``4 pi / npix``; a region gives a scalar
    (exact for circles and annuli, otherwise from a fine tangent-plane grid, ~1e-3).

    Examples
    --------
    >>> g = wcs_geom((0, 0), (360, 180), 2)
    >>> round(float(solid_angle(g).sum() / (4 * np.pi)), 9)
    1.0
    """
    a = geom_attrs(obj)
    if a["geom"] == "healpix":
        npix = 12 * int(a["nside"]) ** 2
        return sky_dataarray(obj, np.full(obj.sizes["pix"], 4 * np.pi / npix), "solid_angle", "sr")
    if a["geom"] == "region":
        reg = region_of(obj)
        if isinstance(reg, regions_module().CircleSkyRegion):
            val = 2 * np.pi * (1 - np.cos(reg.radius.to_value("rad")))
        elif isinstance(reg, regions_module().CircleAnnulusSkyRegion):
            val = 2 * np.pi * (np.cos(reg.inner_radius.to_value("rad"))
                               - np.cos(reg.outer_radius.to_value("rad")))
        else:
            c0 = center(obj)
            r = region_radius(reg, c0)
            grid = wcs_geom(c0, 2.02 * r, 2.02 * r / 500, frame=frame_name(c0.frame.name), proj="TAN")
            inside = contains(reg, skycoord(grid))
            val = float(solid_angle(grid).values[inside].sum())
        return xr.DataArray(val, name="solid_angle", attrs={**a, "units": "sr"})
    w = wcs_of(obj)
    ny, nx = obj.sizes["y"], obj.sizes["x"]
    yy, xx = np.mgrid[0:ny + 1, 0:nx + 1] - 0.5
    lon, lat = w.pixel_to_world_values(xx, yy)
    v = unit_vectors(lon, lat)
    p, q, r_, s = v[:-1, :-1], v[:-1, 1:], v[1:, 1:], v[1:, :-1]
    area = np.abs(_tri_area(p, q, r_) + _tri_area(p, r_, s))
    area = np.where(np.isfinite(area), area, 0.0)
    return sky_dataarray(obj, area, "solid_angle", "sr")


def center(obj: Obj) -> SkyCoord:
    """Centre of the geometry (central pixel of a map; region centre; HEALPix mean direction).

    Examples
    --------
    >>> c = center(wcs_geom((83.63, 22.01), 2, 0.1))
    >>> round(float(c.ra.deg), 6), round(float(c.dec.deg), 6)
    (83.63, 22.01)
    """
    a = geom_attrs(obj)
    if a["geom"] == "wcs":
        return pix_to_sky(obj, (obj.sizes["x"] - 1) / 2, (obj.sizes["y"] - 1) / 2)
    if a["geom"] == "region":
        leaves = region_leaves(region_of(obj))
        if len(leaves) == 1:
            return leaf_center(leaves[0])
        cs = [leaf_center(leaf) for leaf in leaves]
        m = np.mean([unit_vectors(*lonlat(c, a["frame"])) for c in cs], axis=0)
    else:
        m = unit_vectors(*lonlat(skycoord(obj), a["frame"])).mean(axis=0)
    n = float(np.linalg.norm(m))
    if n < 1e-9:
        return SkyCoord(0.0, 0.0, unit="deg", frame=a["frame"])
    lon = np.degrees(np.arctan2(m[1], m[0])) % 360
    return SkyCoord(lon, np.degrees(np.arcsin(np.clip(m[2] / n, -1, 1))), unit="deg",
                    frame=a["frame"])


def separation(obj: Obj, skydir: Any) -> xr.DataArray:
    """Angular distance (deg) of each pixel centre (a region's centre) from ``skydir``.

    Examples
    --------
    >>> g = wcs_geom((0, 0), 3, 1)
    >>> round(float(separation(g, (0, 0)).max()), 4)
    1.4141
    """
    c = as_skycoord(skydir, frame_of(obj))
    sep = skycoord(obj).separation(c).to_value("deg")
    return sky_dataarray(obj, sep, "separation", "deg")


def cutout(obj: Obj, position: Any, width: Any) -> Obj:
    """Cut ``obj`` to a box of ``width`` (deg) around ``position`` by ``isel`` (trimmed at
    the map edges); the geometry stays valid. For HEALPix the box is taken in the offset
    frame centred on ``position``.

    Examples
    --------
    >>> g = wcs_geom((0, 0), 10, 0.5)
    >>> dict(cutout(g, (1, 1), 2).sizes)
    {'y': 4, 'x': 4}
    """
    kind = geom_kind(obj)
    wx, wy = to_deg_pair(width)
    c = as_skycoord(position, frame_of(obj))
    if kind == "healpix":
        off = skycoord(obj).transform_to(c.skyoffset_frame())
        dlon, dlat = off.lon.wrap_at(180 * u.deg).deg, off.lat.deg
        keep = np.flatnonzero((np.abs(dlon) <= wx / 2) & (np.abs(dlat) <= wy / 2))
        return obj.isel(pix=keep)
    if kind != "wcs":
        raise GeometryError("cutout needs a WCS or HEALPix geometry")
    w = wcs_of(obj)
    px, py = sky_to_pix(obj, c)
    bx, by = (abs(float(v.to_value("deg"))) for v in w.proj_plane_pixel_scales())
    nx, ny = max(1, int(np.rint(wx / bx))), max(1, int(np.rint(wy / by)))
    if not (np.isfinite(px) and np.isfinite(py)):
        raise GeometryError("cutout position is outside the map projection")
    x0 = int(np.floor(px - (nx - 1) / 2 + 0.5))
    y0 = int(np.floor(py - (ny - 1) / 2 + 0.5))
    xs = slice(max(x0, 0), min(x0 + nx, obj.sizes["x"]))
    ys = slice(max(y0, 0), min(y0 + ny, obj.sizes["y"]))
    if xs.start >= xs.stop or ys.start >= ys.stop:
        raise GeometryError("cutout box does not overlap the map")
    return obj.isel(x=xs, y=ys)


# ----------------------------------------------------------------------------- maps on a geometry
def make_map(data: Any, geom: Obj, name: str | None = None, units: str = "") -> xr.DataArray:
    """Wrap an array (numpy or dask) of the geometry's shape as a DataArray on it.

    Examples
    --------
    >>> g = healpix_geom(1)
    >>> make_map(np.arange(12.0), g, name="flux", units="cm-2 s-1").attrs["units"]
    'cm-2 s-1'
    """
    g = geom_of(geom)
    dims = sky_and_axis_dims(g)
    shape = tuple(int(g.sizes[d]) for d in dims)
    if tuple(np.shape(data)) != shape:
        raise GeometryError(f"data shape {np.shape(data)} does not match geometry {shape} {dims}")
    return xr.DataArray(data, dims=dims, coords=g.coords, name=name,
                        attrs={**g.attrs, "units": units})


def empty(
    geom: Obj, name: str | None = "counts", dtype: Any = float, units: str = ""
) -> xr.DataArray:
    """A DataArray of zeros on the geometry.

    Examples
    --------
    >>> empty(wcs_geom((0, 0), 1, 0.5, axes=[__import__("xgamma").energy_axis(1, 10, 3)])).dims
    ('energy', 'y', 'x')
    """
    g = geom_of(geom)
    shape = tuple(int(g.sizes[d]) for d in sky_and_axis_dims(g))
    return make_map(np.zeros(shape, dtype=dtype), g, name=name, units=units)


def drop_axes(obj: Obj) -> xr.Dataset:
    """The sky part of the geometry: the coords-only Dataset without non-spatial axes.

    Examples
    --------
    >>> import xgamma as xg
    >>> dict(drop_axes(wcs_geom((0, 0), 1, 0.5, axes=[xg.energy_axis(1, 10, 3)])).sizes)
    {'y': 2, 'x': 2}
    """
    g = geom_of(obj)
    other = [d for d in g.dims if d not in sky_dims(g)]
    return g.drop_dims(other)


def to_image(obj: Obj) -> Obj:
    """Sum a map over its non-spatial dims (a geometry: drop them).

    Examples
    --------
    >>> import xgamma as xg
    >>> m = empty(wcs_geom((0, 0), 1, 0.5, axes=[xg.energy_axis(1, 10, 3)])) + 1
    >>> to_image(m).values.tolist()
    [[3.0, 3.0], [3.0, 3.0]]
    """
    if isinstance(obj, xr.Dataset) and not obj.data_vars:
        return drop_axes(obj)
    other = [d for d in obj.dims if d not in sky_dims(obj)]
    return obj.sum(dim=other, keep_attrs=True) if other else obj


def region_of(obj: Obj) -> SkyRegion:
    """The SkyRegion of a region geometry.

    Examples
    --------
    >>> from xgamma.sky import region_geom
    >>> region_of(region_geom("icrs;circle(83.63,22.01,0.11)")).radius
    <Quantity 0.11 deg>
    """
    a = geom_attrs(obj)
    if a["geom"] != "region":
        raise GeometryError(f"region_of needs a 'region' geometry, got {a['geom']!r}")
    return region_from_string(a["region"])
