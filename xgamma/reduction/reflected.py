"""Reflected-regions background: OFF regions made by rotating the ON region about the pointing.

For an IACT observation the background acceptance is, to a good approximation, radially
symmetric around the pointing position. Regions obtained by rotating the ON region about the
pointing therefore see the same background rate per solid angle, and their summed counts are
the OFF counts of an ON/OFF measurement (``alpha = 1 / n_regions`` for regions of equal size).

The algorithm follows the semantics of Gammapy's ``ReflectedRegionsFinder`` so that the same
configuration gives the same regions:

1. A reference image is built: gnomonic (TAN) projection centred on the rotation centre (the
   pointing), in the frame of the ON region, pixel size ``binsz`` (0.01 deg), full width
   ``4 * separation(on_centre, pointing) + 0.3 deg``.
2. The ON region is projected into that image. Its *angular size* seen from the centre is the
   spread of position angles of the pixel centres it contains; the minimum rotation step is
   that size plus ``min_distance``.
3. Starting at ``size + min_distance + min_distance_input``, the ON region is rotated (in the
   image plane, which for an azimuthal projection is a rotation on the sky) and accepted when
   it contains no excluded pixel; after an accepted region the angle grows by the minimum step,
   after a rejected one by ``angle_increment``. The last admissible angle is
   ``2 pi - step - min_distance_input``, so the last region keeps ``min_distance_input`` from
   the ON region too. At most ``max_region_number`` regions are returned.

The OFF regions keep at least ``min_distance_input`` from the ON region. As the angular size
is measured on pixel centres, neighbouring OFF regions may overlap by a sliver narrower than one
reference pixel (``binsz``), exactly as in Gammapy; use a smaller ``binsz`` (or
``min_distance > 0``) to avoid it.
If the pointing lies inside the ON region, there is no admissible rotation and the result is
an empty list.

Event containment in the OFF regions (:func:`events_in_regions`) is tested in the same
reference image, as Gammapy does, so the OFF counts are identical.

Examples
--------
>>> from xgamma.reflected import find_reflected_regions
>>> regs = find_reflected_regions("icrs;circle(83.63,22.01,0.11)", (83.633, 21.514))
>>> len(regs)
12
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import astropy.units as u
import numpy as np
import pandas as pd
import xarray as xr
from astropy.coordinates import Angle, SkyCoord
from astropy.wcs import WCS

from xgamma.errors import GeometryError
from xgamma.sky.frames import lonlat, regions_module, separation_deg
from xgamma.sky.geom import frame_of, sky_dims, wcs_of
from xgamma.sky.regions import leaf_center, region_from_string

if TYPE_CHECKING:
    from regions import (
        PixCoord,
        PixelRegion,
        SkyRegion,
    )


__all__ = [
    "find_reflected_regions",
    "reference_wcs",
    "region_angular_size",
    "events_in_regions",
]

_FULL_CIRCLE = 2.0 * np.pi


# ----------------------------------------------------------------------------- helpers
def _rad(x: Any) -> float:
    """An angle in radians from a float (radians), a Quantity/Angle or a string like '10 deg'."""
    if isinstance(x, str):
        x = Angle(x)
    if isinstance(x, u.Quantity):
        return float(x.to_value("rad"))
    return float(x)


def _deg(x: Any) -> float:
    if isinstance(x, str):
        x = Angle(x)
    if isinstance(x, u.Quantity):
        return float(x.to_value("deg"))
    return float(x)


def _as_region(region: SkyRegion | str) -> SkyRegion:
    if isinstance(region, str):

        region = region_from_string(region)
    if not isinstance(region, regions_module().SkyRegion):
        raise GeometryError(f"expected an astropy-regions SkyRegion or a region string, got {type(region)}")
    return region


def _region_center(region: SkyRegion) -> SkyCoord:
    if hasattr(region, "center"):
        return region.center
    if hasattr(region, "vertices"):

        return leaf_center(region)
    raise GeometryError(f"reflected regions need a shape with a centre, got {type(region).__name__}")


def _frame_name(region: SkyRegion) -> str:
    name = _region_center(region).frame.name
    return "galactic" if name == "galactic" else "icrs"


def _as_center(center: Any, frame: str) -> SkyCoord:
    if isinstance(center, SkyCoord):
        return center.transform_to(frame)
    lon, lat = center
    return SkyCoord(_deg(lon), _deg(lat), unit="deg", frame=frame)


def reference_wcs(
    on_region: SkyRegion | str, center: SkyCoord | tuple[float, float], binsz: float = 0.01
) -> tuple[WCS, tuple[int, int]]:
    """The reference image in which reflected regions are placed.

    TAN projection centred on ``center`` in the frame of the ON region; pixel size ``binsz``
    (deg); full width ``4 * separation + 0.3`` deg (rounded to whole pixels), reference pixel in
    the image middle (FITS ``CRPIX = (n + 1) / 2``).

    Parameters
    ----------
    on_region : SkyRegion or str
        The ON region.
    center : SkyCoord or (lon, lat)
        The rotation centre (pointing), lon/lat in deg in the region's frame.
    binsz : float
        Pixel size in deg.

    Returns
    -------
    wcs : astropy.wcs.WCS
        The WCS (0-based pixel convention in the methods of regions/astropy).
    shape : (ny, nx)
        Image shape.

    Examples
    --------
    >>> w, shape = reference_wcs("icrs;circle(83.63,22.01,0.11)", (83.633, 21.514))
    >>> shape, w.wcs.ctype[0]
    ((228, 228), 'RA---TAN')
    """
    region = _as_region(on_region)
    frame = _frame_name(region)
    c = _as_center(center, frame)
    sep = float(_region_center(region).transform_to(frame).separation(c).deg)
    width = 4.0 * sep + 0.3
    b = _deg(binsz)
    npix = int(np.rint(width / b))
    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---TAN", "DEC--TAN"] if frame == "icrs" else ["GLON-TAN", "GLAT-TAN"]
    if frame == "icrs":
        w.wcs.radesys = "ICRS"
    s = c.spherical
    w.wcs.crval = [float(s.lon.deg), float(s.lat.deg)]
    w.wcs.cdelt = [-b, b]
    w.wcs.crpix = [(npix + 1) / 2.0, (npix + 1) / 2.0]
    w.wcs.set()
    w.array_shape = (npix, npix)
    return w, (npix, npix)


def _to_pixel(region: SkyRegion, wcs: WCS) -> PixelRegion:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return region.to_pixel(wcs)


def _pixels_inside(region_pix: PixelRegion, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Integer pixel centres (x, y) inside a pixel region, within the image."""
    bb = region_pix.bounding_box
    x0, x1 = max(bb.ixmin, 0), min(bb.ixmax, shape[1])
    y0, y1 = max(bb.iymin, 0), min(bb.iymax, shape[0])
    if x1 <= x0 or y1 <= y0:
        return np.empty(0), np.empty(0)
    yy, xx = np.mgrid[y0:y1, x0:x1]
    inside = np.asarray(region_pix.contains(regions_module().PixCoord(xx.ravel(), yy.ravel())), dtype=bool)
    return xx.ravel()[inside].astype(float), yy.ravel()[inside].astype(float)


def region_angular_size(
    on_region: SkyRegion | str, center: SkyCoord | tuple[float, float], binsz: float = 0.01
) -> float:
    """Angular size (rad) of the ON region as seen from ``center``, on the reference image.

    The spread of position angles of the reference-image pixel centres inside the region
    (wrapped when it exceeds pi). A region that contains ``center`` has a size close to 2 pi.

    Examples
    --------
    >>> size = region_angular_size("icrs;circle(83.63,22.01,0.11)", (83.633, 21.514))
    >>> bool(0.40 < size < 2 * np.arcsin(0.11 / 0.4956))
    True
    """
    region = _as_region(on_region)
    wcs, shape = reference_wcs(region, center, binsz)
    frame = _frame_name(region)
    cx, cy = wcs.world_to_pixel(_as_center(center, frame))
    return _angular_size(_to_pixel(region, wcs), shape, float(cx), float(cy))


def _angular_size(region_pix: PixelRegion, shape: tuple[int, int], cx: float, cy: float) -> float:
    px, py = _pixels_inside(region_pix, shape)
    if px.size == 0:
        raise GeometryError(
            "the ON region contains no pixel centre of the reference image: "
            "use a smaller binsz for such a small region"
        )
    angles = np.arctan2(cx - px, cy - py)
    size = float(angles.max() - angles.min())
    if size > np.pi:
        wrapped = np.mod(angles, _FULL_CIRCLE)
        size = float(wrapped.max() - wrapped.min())
    return size


def _excluded_pixels(
    exclusion_mask: xr.DataArray | None,
    wcs: WCS,
    shape: tuple[int, int],
    cx: float,
    cy: float,
    r_min: float,
    r_max: float,
    frame: str,
) -> PixCoord | None:
    """Reference-image pixels (within the annulus the rotated regions sweep) that are excluded.

    The exclusion mask (True = usable, False = excluded; Gammapy convention) is looked up at
    each reference pixel centre by nearest neighbour; outside the mask nothing is excluded.
    """
    if exclusion_mask is None:
        return None

    mask = exclusion_mask
    other = [d for d in mask.dims if d not in sky_dims(mask)]
    if other:  # a pixel is usable only if usable in every plane
        mask = mask.all(dim=other)
    mask_arr = np.asarray(mask.transpose("y", "x").values, dtype=bool)
    mwcs = wcs_of(mask)
    ny, nx = shape
    yy, xx = np.mgrid[0:ny, 0:nx]
    rr = np.hypot(xx - cx, yy - cy)
    sel = (rr >= r_min) & (rr <= r_max)
    xs, ys = xx[sel].astype(float), yy[sel].astype(float)
    if xs.size == 0:
        return None
    lon, lat = wcs.pixel_to_world_values(xs, ys)
    mframe = frame_of(mask)
    if mframe != frame:
        c = SkyCoord(lon, lat, unit="deg", frame=frame)
        lon, lat = lonlat(c, mframe)
    mx, my = mwcs.world_to_pixel_values(lon, lat)
    with np.errstate(invalid="ignore"):
        ix = np.floor(np.asarray(mx) + 0.5)
        iy = np.floor(np.asarray(my) + 0.5)
    ok = np.isfinite(ix) & np.isfinite(iy)
    ok &= (ix >= 0) & (ix < mask_arr.shape[1]) & (iy >= 0) & (iy < mask_arr.shape[0])
    excluded = np.zeros(xs.shape, dtype=bool)
    excluded[ok] = ~mask_arr[iy[ok].astype(int), ix[ok].astype(int)]
    if not excluded.any():
        return None
    return regions_module().PixCoord(xs[excluded], ys[excluded])


# ----------------------------------------------------------------------------- public API
def find_reflected_regions(
    on_region: SkyRegion | str,
    center: SkyCoord | tuple[float, float],
    exclusion_mask: xr.DataArray | None = None,
    angle_increment: Any = 0.1,
    min_distance: Any = 0.0,
    min_distance_input: Any = 0.1,
    max_region_number: int = 99,
    binsz: float = 0.01,
) -> list[SkyRegion]:
    """Reflected OFF regions: the ON region rotated about ``center``.

    Parameters
    ----------
    on_region : SkyRegion or str
        The ON region: a circle, ellipse, rectangle or polygon (astropy-regions), or a region
        string such as ``"icrs;circle(83.63,22.01,0.11)"``. Compound regions are not supported.
    center : SkyCoord or (lon, lat)
        The rotation centre, normally the pointing position (lon/lat in deg, in the frame of
        the ON region).
    exclusion_mask : xarray.DataArray, optional
        Boolean WCS map, True where usable and False in excluded areas (the convention of
        :func:`xgamma.sky.exclusion_mask`). Regions that contain an excluded pixel (nearest
        neighbour look-up at the reference pixel centres) are skipped.
    angle_increment : float or Quantity
        Rotation step (rad) after a region was rejected by the exclusion mask (default 0.1).
    min_distance : float or Quantity
        Extra angle (rad) between two consecutive OFF regions (default 0).
    min_distance_input : float or Quantity
        Extra angle (rad) between the ON region and the first and last OFF regions (default 0.1).
    max_region_number : int
        At most this many regions (default 99).
    binsz : float
        Pixel size (deg) of the reference image (default 0.01).

    Returns
    -------
    list of SkyRegion
        The OFF regions, in order of increasing rotation angle; empty when none fits (e.g. the
        pointing lies inside the ON region, or everything is excluded).

    Raises
    ------
    GeometryError
        Unsupported region type, or a region smaller than one reference pixel.

    Examples
    --------
    >>> regs = find_reflected_regions("icrs;circle(83.63,22.01,0.11)", (85.2533, 22.0144))
    >>> len(regs)
    41
    >>> find_reflected_regions("icrs;circle(83.63,22.01,0.11)", (83.63, 22.01))
    []
    """
    pix, wcs = find_pixel_regions(
        on_region, center, exclusion_mask, angle_increment, min_distance, min_distance_input,
        max_region_number, binsz,
    )
    return pixel_regions_to_sky(pix, wcs)


def find_pixel_regions(
    on_region: SkyRegion | str,
    center: SkyCoord | tuple[float, float],
    exclusion_mask: xr.DataArray | None,
    angle_increment: Any,
    min_distance: Any,
    min_distance_input: Any,
    max_region_number: int,
    binsz: float,
) -> tuple[list[PixelRegion], WCS]:
    """The reflected regions as pixel regions of the reference image, and its WCS."""
    region = _as_region(on_region)
    if isinstance(region, regions_module().PointSkyRegion):
        raise GeometryError("a point region has no extent to reflect: give a circle (e.g. of radius RAD_MAX)")
    if type(region).__name__.startswith("Compound"):
        raise GeometryError("compound ON regions are not supported by the reflected-regions finder")
    if max_region_number < 1:
        return [], reference_wcs(region, center, binsz)[0]
    step_inc = _rad(angle_increment)
    if step_inc <= 0:
        raise GeometryError(f"angle_increment must be > 0, got {angle_increment!r}")
    frame = _frame_name(region)
    c = _as_center(center, frame)
    wcs, shape = reference_wcs(region, c, binsz)
    cxa, cya = wcs.world_to_pixel(c)
    cx, cy = float(cxa), float(cya)
    region_pix = _to_pixel(region, wcs)
    size = _angular_size(region_pix, shape, cx, cy)

    angle_min = size + _rad(min_distance)
    d_in = _rad(min_distance_input)
    angle_max = _FULL_CIRCLE - angle_min - d_in
    if angle_min <= 0:
        raise GeometryError("the region's angular size is zero: cannot place reflected regions")

    # radii (pixels) swept by the rotated region: only there can excluded pixels matter
    bb = region_pix.bounding_box
    half_diag = 0.5 * float(np.hypot(bb.ixmax - bb.ixmin, bb.iymax - bb.iymin))
    dist = float(np.hypot(0.5 * (bb.ixmin + bb.ixmax) - cx, 0.5 * (bb.iymin + bb.iymax) - cy))
    excluded = _excluded_pixels(
        exclusion_mask, wcs, shape, cx, cy, dist - half_diag - 2.0, dist + half_diag + 2.0, frame
    )

    center_pix = regions_module().PixCoord(cx, cy)
    found: list[PixelRegion] = []
    angle = angle_min + d_in
    while angle < angle_max:
        test = region_pix.rotate(center_pix, angle * u.rad)
        if excluded is None or not np.any(test.contains(excluded)):
            found.append(test)
            if len(found) >= max_region_number:
                break
            angle += angle_min
        else:
            angle += step_inc
    return found, wcs


def pixel_regions_to_sky(pix: Sequence[PixelRegion], wcs: WCS) -> list[SkyRegion]:
    """Sky regions of the reference-image regions (circles vectorised, others by regions)."""
    if not pix:
        return []
    if not all(isinstance(p, regions_module().CirclePixelRegion) for p in pix):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return [p.to_sky(wcs) for p in pix]
    x = np.array([p.center.x for p in pix], dtype=float)
    y = np.array([p.center.y for p in pix], dtype=float)
    lon, lat = wcs.pixel_to_world_values(x, y)
    lon_x, lat_x = wcs.pixel_to_world_values(x + 1.0, y)
    lon_y, lat_y = wcs.pixel_to_world_values(x, y + 1.0)
    # local pixel scale: geometric mean of the x and y pixel steps (deg per pixel)
    scale = np.sqrt(separation_deg(lon, lat, lon_x, lat_x) * separation_deg(lon, lat, lon_y, lat_y))
    frame = "galactic" if wcs.wcs.ctype[0].startswith("GLON") else "icrs"
    centers = SkyCoord(np.mod(lon, 360.0), lat, unit="deg", frame=frame)
    return [regions_module().CircleSkyRegion(centers[i], float(p.radius * scale[i]) * u.deg) for i, p in enumerate(pix)]


def events_in_regions(
    events: pd.DataFrame,
    regions: Sequence[SkyRegion],
    on_region: SkyRegion | str,
    center: SkyCoord | tuple[float, float],
    binsz: float = 0.01,
) -> np.ndarray:
    """Whether each event lies in any of the reflected ``regions``.

    Containment is tested in the reference image of :func:`reference_wcs` (the image the
    regions were built in), as Gammapy does, so OFF counts match its numbers.

    Parameters
    ----------
    events : pandas.DataFrame
        Events with ``ra`` and ``dec`` columns (deg, ICRS).
    regions : list of SkyRegion
        OFF regions from :func:`find_reflected_regions` with the same ``on_region``, ``center``
        and ``binsz``.
    on_region, center, binsz
        As given to :func:`find_reflected_regions`.

    Returns
    -------
    numpy.ndarray of bool
        One value per event.

    Examples
    --------
    >>> import pandas as pd
    >>> on = "icrs;circle(83.63,22.01,0.11)"
    >>> regs = find_reflected_regions(on, (83.633, 21.514))
    >>> c = regs[0].center
    >>> ev = pd.DataFrame({"ra": [c.ra.deg, 83.63], "dec": [c.dec.deg, 22.01]})
    >>> events_in_regions(ev, regs, on, (83.633, 21.514))
    array([ True, False])
    """
    if len(events) == 0 or len(regions) == 0:
        return np.zeros(len(events), dtype=bool)
    wcs, _ = reference_wcs(on_region, center, binsz)
    return events_in_pixel_regions(events, [_to_pixel(r, wcs) for r in regions], wcs)


def events_in_pixel_regions(events: pd.DataFrame, pix: Sequence[PixelRegion], wcs: WCS) -> np.ndarray:
    """Events (``ra``, ``dec`` columns) inside any of the reference-image regions ``pix``."""
    n = len(events)
    out = np.zeros(n, dtype=bool)
    if n == 0 or len(pix) == 0:
        return out
    frame = "galactic" if wcs.wcs.ctype[0].startswith("GLON") else "icrs"
    ra = np.asarray(events["ra"], dtype=float)
    dec = np.asarray(events["dec"], dtype=float)
    if frame == "icrs":
        lon, lat = ra, dec
    else:
        g = SkyCoord(ra, dec, unit="deg", frame="icrs").galactic
        lon, lat = g.l.deg, g.b.deg
    # pre-select events near the reference image (avoids projecting far-away events)
    clon, clat = (float(v) for v in wcs.wcs.crval)
    half_width = 0.5 * float(wcs.array_shape[0]) * abs(float(wcs.wcs.cdelt[0]))
    near = separation_deg(lon, lat, np.full(n, clon), np.full(n, clat)) < min(half_width * 1.5, 80.0)
    if not near.any():
        return out
    x, y = wcs.world_to_pixel_values(lon[near], lat[near])
    px = regions_module().PixCoord(np.asarray(x), np.asarray(y))
    inside = np.zeros(int(near.sum()), dtype=bool)
    for reg in pix:
        inside |= np.asarray(reg.contains(px), dtype=bool)
    out[near] = inside
    return out
