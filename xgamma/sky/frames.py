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
    """astropy-regions, imported on first use (it imports matplotlib)."""
    import regions

    return regions


def to_deg(x: Any) -> float:
    x = u.Quantity(x) if isinstance(x, str) else x
    return float(x.to_value("deg")) if isinstance(x, u.Quantity) else float(x)


def to_deg_pair(x: Any) -> tuple[float, float]:
    x = u.Quantity(x) if isinstance(x, str) else x
    x = list(np.ravel(x.to_value("deg"))) if isinstance(x, u.Quantity) else x
    vals = [to_deg(v) for v in np.ravel(np.asarray(x, dtype=object))]
    if len(vals) not in (1, 2):
        raise GeometryError(f"expected one or two values, got {x!r}")
    return vals[0], vals[-1]


def frame_name(name: str) -> str:
    name = str(name).lower()
    if name == "galactic":
        return "galactic"
    if name in ("icrs", "fk5", "fk4", "j2000", "b1950"):
        return "icrs"
    raise GeometryError(f"unsupported frame {name!r}: use 'icrs' or 'galactic'")


def lonlat(c: SkyCoord, frame: str) -> tuple[np.ndarray, np.ndarray]:
    s = c.transform_to(frame).spherical
    return np.asarray(s.lon.to_value("deg")) % 360.0, np.asarray(s.lat.to_value("deg"))


def as_skycoord(skydir: Any, frame: str) -> SkyCoord:
    if isinstance(skydir, SkyCoord):
        return skydir
    a, b = skydir
    return SkyCoord(to_deg(a), to_deg(b), unit="deg", frame=frame)


def skydir_lonlat(skydir: Any, frame: str) -> tuple[float, float]:
    if isinstance(skydir, (tuple, list)) and len(skydir) == 2 and \
            all(isinstance(v, (int, float, np.integer, np.floating)) for v in skydir):
        lon, lat = float(skydir[0]), float(skydir[1])  # plain degrees in ``frame``: no SkyCoord
        if not -90.0 <= lat <= 90.0:
            raise GeometryError(f"latitude must be within [-90, 90] deg, got {lat}")
        return lon % 360.0, lat
    lo, la = lonlat(as_skycoord(skydir, frame), frame)
    return float(lo), float(la)


def frame_ctype(frame: str, proj: str) -> list[str]:
    return [f"{n:-<5}{proj.upper()}" for n in (("RA", "DEC") if frame == "icrs" else ("GLON", "GLAT"))]


def unit_vectors(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
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
