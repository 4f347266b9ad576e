"""Sky frames and angles: degree parsing, frame names, lon/lat, separations, unit vectors.

The lowest floor of :mod:`xgamma.sky` (numpy and astropy only): the one angular separation
(:func:`separation_deg`), the one frame-name rule (:func:`frame_name`) and the one way to turn
a ``SkyCoord`` into lon/lat degrees (:func:`lonlat`) used across xgamma.

Examples
--------
>>> round(float(separation_deg(0.0, 0.0, 0.0, 1.0)), 6)
1.0
>>> frame_name("fk5")
'icrs'
"""

from __future__ import annotations

from typing import Any

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord

from xgamma.errors import GeometryError

__all__ = [
    "LONLAT", "regions_module", "to_deg", "to_deg_pair", "frame_name", "lonlat", "as_skycoord",
    "skydir_lonlat", "frame_ctype", "unit_vectors", "separation_deg",
]

#: Names of the lon/lat coordinates in each frame.
LONLAT = {"icrs": ("ra", "dec"), "galactic": ("glon", "glat")}


def regions_module() -> Any:
    """astropy-regions, imported on first use (it imports matplotlib).

    Examples
    --------
    >>> regions_module().__name__, hasattr(regions_module(), "CircleSkyRegion")
    ('regions', True)
    """
    import regions

    return regions


def to_deg(x: Any) -> float:
    """An angle in deg: a number (deg already), a ``Quantity`` or a string like ``"30 arcmin"``.

    Examples
    --------
    >>> to_deg(1.5), to_deg("30 arcmin"), to_deg(3 * u.arcmin)
    (1.5, 0.5, 0.05)
    """
    x = u.Quantity(x) if isinstance(x, str) else x
    return float(x.to_value("deg")) if isinstance(x, u.Quantity) else float(x)


def to_deg_pair(x: Any) -> tuple[float, float]:
    """One or two angles (as :func:`to_deg` reads them) as a pair in deg; one value is
    repeated, more than two raise a :class:`~xgamma.errors.GeometryError`.

    Examples
    --------
    >>> to_deg_pair(0.5), to_deg_pair(("1 deg", "30 arcmin")), to_deg_pair([2, 3] * u.deg)
    ((0.5, 0.5), (1.0, 0.5), (2.0, 3.0))
    """
    x = u.Quantity(x) if isinstance(x, str) else x
    x = list(np.ravel(x.to_value("deg"))) if isinstance(x, u.Quantity) else x
    vals = [to_deg(v) for v in np.ravel(np.asarray(x, dtype=object))]
    if len(vals) not in (1, 2):
        raise GeometryError(f"expected one or two values, got {x!r}")
    return vals[0], vals[-1]


def frame_name(name: str) -> str:
    """xgamma's name of a sky frame: ``"galactic"``, or ``"icrs"`` for the equatorial ones
    (icrs, fk5, fk4, j2000, b1950); others raise a :class:`~xgamma.errors.GeometryError`.

    Examples
    --------
    >>> frame_name("FK5"), frame_name("galactic")
    ('icrs', 'galactic')
    """
    name = str(name).lower()
    if name == "galactic":
        return "galactic"
    if name in ("icrs", "fk5", "fk4", "j2000", "b1950"):
        return "icrs"
    raise GeometryError(f"unsupported frame {name!r}: use 'icrs' or 'galactic'")


def lonlat(c: SkyCoord, frame: str) -> tuple[np.ndarray, np.ndarray]:
    """Longitude (in [0, 360)) and latitude of ``c`` in ``frame``, in deg.

    Examples
    --------
    >>> lon, lat = lonlat(SkyCoord([-10.0, 0.0], [20.0, 0.0], unit="deg"), "icrs")
    >>> lon.tolist(), lat.tolist()
    ([350.0, 0.0], [20.0, 0.0])
    >>> [round(float(v), 3) for v in lonlat(SkyCoord(0, 90, unit="deg", frame="galactic"), "icrs")]
    [192.859, 27.128]
    """
    s = c.transform_to(frame).spherical
    return np.asarray(s.lon.to_value("deg")) % 360.0, np.asarray(s.lat.to_value("deg"))


def as_skycoord(skydir: Any, frame: str) -> SkyCoord:
    """``skydir`` as a ``SkyCoord``: a ``SkyCoord`` as it is, a (lon, lat) pair (angles as
    :func:`to_deg` reads them) in ``frame``.

    Examples
    --------
    >>> c = as_skycoord((10, "30 arcmin"), "galactic")
    >>> c.frame.name, float(c.l.deg), float(c.b.deg)
    ('galactic', 10.0, 0.5)
    """
    if isinstance(skydir, SkyCoord):
        return skydir
    a, b = skydir
    return SkyCoord(to_deg(a), to_deg(b), unit="deg", frame=frame)


def skydir_lonlat(skydir: Any, frame: str) -> tuple[float, float]:
    """(lon, lat) in deg in ``frame`` of ``skydir`` (a ``SkyCoord`` or a (lon, lat) pair in
    ``frame``); lon in [0, 360).

    Examples
    --------
    >>> skydir_lonlat((-10, 5), "icrs")
    (350.0, 5.0)
    >>> gc = SkyCoord(0, 0, unit="deg", frame="galactic")
    >>> tuple(round(v, 3) for v in skydir_lonlat(gc, "icrs"))
    (266.405, -28.936)
    """
    if isinstance(skydir, (tuple, list)) and len(skydir) == 2 and \
            all(isinstance(v, (int, float, np.integer, np.floating)) for v in skydir):
        lon, lat = float(skydir[0]), float(skydir[1])  # plain degrees in ``frame``: no SkyCoord
        if not -90.0 <= lat <= 90.0:
            raise GeometryError(f"latitude must be within [-90, 90] deg, got {lat}")
        return lon % 360.0, lat
    lo, la = lonlat(as_skycoord(skydir, frame), frame)
    return float(lo), float(la)


def frame_ctype(frame: str, proj: str) -> list[str]:
    """The FITS ``CTYPE`` pair of ``frame`` (``"icrs"`` or ``"galactic"``) and projection.

    Examples
    --------
    >>> frame_ctype("icrs", "car"), frame_ctype("galactic", "TAN")
    (['RA---CAR', 'DEC--CAR'], ['GLON-TAN', 'GLAT-TAN'])
    """
    return [f"{n:-<5}{proj.upper()}" for n in (("RA", "DEC") if frame == "icrs" else ("GLON", "GLAT"))]


def unit_vectors(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Cartesian unit vectors ``(..., 3)`` of the directions (lon, lat) in deg.

    Examples
    --------
    >>> unit_vectors(np.array([0.0, 90.0, 0.0]), np.array([0.0, 0.0, 90.0])).round(6).tolist()
    [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    """
    lo, la = np.radians(lon), np.radians(lat)
    return np.stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)], axis=-1)


def separation_deg(lon: Any, lat: Any, lon0: Any, lat0: Any) -> np.ndarray:
    """Great-circle distance in deg between (lon, lat) and (lon0, lat0), all in deg.

    The haversine formula (numerically stable at small distances, where the reduction needs
    it; within 1e-8 deg of the exact value up to antipodal points); arrays broadcast. The one
    angular separation of xgamma's numpy paths.

    Examples
    --------
    >>> float(np.round(separation_deg(10.0, 0.0, 11.0, 0.0), 12))
    1.0
    >>> float(np.round(separation_deg(0.0, 89.0, 180.0, 89.0), 12))
    2.0
    """
    la, la0 = np.radians(lat), np.radians(lat0)
    dlon = np.radians(np.asarray(lon) - lon0)
    h = np.sin((la - la0) / 2) ** 2 + np.cos(la) * np.cos(la0) * np.sin(dlon / 2) ** 2
    return np.degrees(2 * np.arcsin(np.sqrt(np.clip(h, 0, 1))))
