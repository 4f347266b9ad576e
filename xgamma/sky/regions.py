"""Sky regions: xgamma's region strings, point-in-region tests and region masks.

A region geometry (:mod:`xgamma.sky`) stores its region as a string in ``attrs["region"]``:
a DS9 string with its frame, e.g. ``"icrs;circle(83.63,22.01,0.11)"``. Several shapes
separated by ``;`` mean their union, a shape with a leading ``-`` is excluded (DS9 semantics),
and other compound regions are written ``and(A;B)``, ``xor(A;B)``, ``sub(A;B)`` (A and not B)
or ``or(A;B)``, nested as needed. This module parses and writes these strings
(:func:`region_from_string`, :func:`region_to_string`), tests whether sky positions lie in a
region (:func:`contains`); the masks on a geometry are in :mod:`xgamma.sky.masks`. Regions are astropy-regions ``SkyRegion``
objects, imported on first use.

Every name here is also available from :mod:`xgamma.sky`, which re-exports it.

Examples
--------
>>> r = region_from_string("icrs;circle(83.63,22.01,0.11)")
>>> region_to_string(r)
'icrs;circle(83.63,22.01,0.11)'
>>> from astropy.coordinates import SkyCoord
>>> contains(r, SkyCoord([83.63, 84.0], [22.01, 22.01], unit="deg")).tolist()
[True, False]
"""

from __future__ import annotations

import operator
import re
import warnings
from collections.abc import Callable, Iterable
from functools import reduce
from typing import TYPE_CHECKING, Any

import numpy as np
from astropy.coordinates import SkyCoord
from astropy.wcs import WCS

from xgamma.errors import GeometryError
from xgamma.sky.frames import frame_ctype, frame_name, lonlat, regions_module, unit_vectors

if TYPE_CHECKING:
    from regions import SkyRegion

__all__ = [
    "region_from_string", "region_to_string", "contains", "region_leaves", "leaf_center",
    "region_radius",
]


# ----------------------------------------------------------------------------- regions
def _and_not(a: Any, b: Any) -> Any:
    return np.logical_and(a, np.logical_not(b))


_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "or": operator.or_, "and": operator.and_, "xor": operator.xor, "sub": _and_not,
}
_DS9_FRAMES = {"icrs", "fk5", "fk4", "galactic", "j2000", "b1950", "ecliptic"}


def region_leaves(reg: SkyRegion) -> list[SkyRegion]:
    """The simple shapes of ``reg``: the leaves of its compound-region tree, in order.

    Examples
    --------
    >>> r = region_from_string("icrs;circle(10,0,0.5);box(12,0,1,0.5,0)")
    >>> [type(leaf).__name__ for leaf in region_leaves(r)]
    ['CircleSkyRegion', 'RectangleSkyRegion']
    """
    if isinstance(reg, regions_module().CompoundSkyRegion):
        return region_leaves(reg.region1) + region_leaves(reg.region2)
    return [reg]


def leaf_center(reg: SkyRegion) -> SkyCoord:
    """The centre of a simple region: its ``center``, the mean direction of a polygon's
    vertices, or a line's start.

    Examples
    --------
    >>> c = leaf_center(region_from_string("icrs;polygon(10,0,11,0,11,1,10,1)"))
    >>> round(float(c.ra.deg), 3), round(float(c.dec.deg), 3)
    (10.5, 0.5)
    """
    if hasattr(reg, "center"):
        return reg.center
    if hasattr(reg, "vertices"):
        v = reg.vertices
        lon, lat = lonlat(v, v.frame.name)
        m = unit_vectors(lon, lat).mean(axis=0)
        return SkyCoord(np.degrees(np.arctan2(m[1], m[0])), np.degrees(np.arcsin(m[2] / np.linalg.norm(m))),
                        unit="deg", frame=v.frame)
    if hasattr(reg, "start"):
        return reg.start
    raise GeometryError(f"cannot find the centre of {type(reg).__name__}")


def _split_top(s: str) -> list[str]:
    out: list[str] = []
    cur: list[str] = []
    depth = 0
    for ch in s.replace("\n", ";"):
        depth += (ch == "(") - (ch == ")")
        if ch == ";" and depth == 0:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    out.append("".join(cur))
    return [t.split(" #")[0].strip() for t in out if t.strip() and not t.strip().startswith("#")]


def _parse_seq(s: str, frame: str) -> tuple[list[SkyRegion], list[SkyRegion]]:
    inc: list[SkyRegion] = []
    exc: list[SkyRegion] = []
    for tok in _split_top(s):
        low = tok.lower()
        if low.startswith("global"):
            continue
        if low in _DS9_FRAMES:
            frame = low
            continue
        m = re.fullmatch(r"(and|or|xor|sub)\((.*)\)", tok, flags=re.S | re.I)
        if m:
            parts, bad = _parse_seq(m.group(2), frame)
            if bad or len(parts) < 2:
                raise GeometryError(f"region {tok!r}: need >= 2 included shapes")
            inc.append(reduce(lambda a, b: regions_module().CompoundSkyRegion(a, b, _OPS[m.group(1).lower()]), parts))
            continue
        excluded = tok.startswith("-")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                reg = regions_module().Regions.parse(f"{frame}\n{tok.lstrip('+-')}", format="ds9")[0]
        except Exception as exc_:  # regions raises several types
            raise GeometryError(f"cannot parse region {tok!r}: {exc_}") from exc_
        (exc if excluded else inc).append(reg)
    return inc, exc


def region_from_string(s: str) -> SkyRegion:
    """Parse a region string (see :func:`region_to_string`) to an astropy-regions SkyRegion.

    Examples
    --------
    >>> r = region_from_string("icrs;circle(1,2,0.5);-circle(1,2,0.1)")
    >>> type(r).__name__
    'CompoundSkyRegion'
    """
    inc, exc = _parse_seq(s, "icrs")
    if not inc:
        raise GeometryError(f"no included shape in region string {s!r}")
    reg = reduce(operator.or_, inc)
    if exc:
        reg = regions_module().CompoundSkyRegion(reg, reduce(operator.or_, exc), _and_not)
    return reg


def _trim(m: re.Match[str]) -> str:
    return m.group(0).rstrip("0").rstrip(".")


def region_to_string(region: SkyRegion | str) -> str:
    """Serialise a SkyRegion (compound regions included) to xgamma's region string.

    Each shape is written by astropy-regions in DS9 syntax with its frame (12 decimals,
    trailing zeros trimmed); a union is a ``;``-separated list of shapes; other compound
    operators are ``and(A;B)``, ``xor(A;B)``, ``sub(A;B)``, and ``or(A;B)`` when nested.

    Examples
    --------
    >>> a = region_from_string("icrs;circle(1,2,0.5)")
    >>> b = region_from_string("galactic;box(10,0,2,1,0)")
    >>> region_to_string(a | b)
    'icrs;circle(1,2,0.5);galactic;box(10,0,2,1,0)'
    >>> region_to_string(a & b)
    'and(icrs;circle(1,2,0.5);galactic;box(10,0,2,1,0))'
    """
    if isinstance(region, str):
        region = region_from_string(region)

    def ser(reg: SkyRegion, top: bool) -> str:
        if isinstance(reg, regions_module().CompoundSkyRegion):
            names = [k for k, f in _OPS.items() if f is reg.operator]
            if not names:
                raise GeometryError(f"unsupported compound operator {reg.operator!r}")
            inner = f"{ser(reg.region1, top and names[0] == 'or')};" \
                    f"{ser(reg.region2, top and names[0] == 'or')}"
            return inner if top and names[0] == "or" else f"{names[0]}({inner})"
        text = regions_module().Regions([reg]).serialize(format="ds9", precision=12)
        toks = [t for t in _split_top(text) if not t.lower().startswith("global")]
        return re.sub(r"\d+\.\d+", _trim, ";".join(toks))

    return ser(region, True)


def _local_wcs(c: SkyCoord) -> WCS:
    """A 1-pixel tangent-plane WCS centred on ``c`` (0.01 deg pixels)."""
    frame = frame_name(c.frame.name)
    lon, lat = lonlat(c, frame)
    w = WCS(naxis=2)
    w.wcs.ctype = frame_ctype(frame, "TAN")
    w.wcs.crval = [float(lon), float(lat)]
    w.wcs.cdelt = [-0.01, 0.01]
    w.wcs.crpix = [1.0, 1.0]
    return w


def contains(region: SkyRegion | str | Iterable[Any], coords: SkyCoord) -> np.ndarray:
    """Whether sky positions lie inside a region (or any of several regions).

    Circles and annuli use the exact spherical separation (``inner <= sep < radius``);
    compound regions combine their parts; other shapes use the region's own ``contains`` in a
    tangent-plane WCS centred on the shape.

    Examples
    --------
    >>> from astropy.coordinates import SkyCoord
    >>> c = SkyCoord([1.0, 1.0], [2.05, 2.2], unit="deg")
    >>> contains("icrs;circle(1,2,0.1)", c)
    array([ True, False])
    """
    if isinstance(region, str):
        region = region_from_string(region)
    if not isinstance(region, regions_module().SkyRegion):
        masks = [contains(r, coords) for r in region]
        return reduce(np.logical_or, masks, np.zeros(coords.shape, dtype=bool))
    if isinstance(region, regions_module().CompoundSkyRegion):
        return np.asarray(region.operator(contains(region.region1, coords),
                                          contains(region.region2, coords)), dtype=bool)
    if isinstance(region, regions_module().CircleSkyRegion | regions_module().CircleAnnulusSkyRegion):
        sep = coords.separation(region.center).to_value("deg")
        with np.errstate(invalid="ignore"):
            if isinstance(region, regions_module().CircleSkyRegion):
                return np.asarray(sep < region.radius.to_value("deg"))
            return np.asarray((sep >= region.inner_radius.to_value("deg"))
                              & (sep < region.outer_radius.to_value("deg")))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.asarray(region.contains(coords, _local_wcs(leaf_center(region))), dtype=bool)


def region_radius(reg: SkyRegion, c0: SkyCoord) -> float:
    """Radius (deg) around ``c0`` of a disc containing ``reg``.

    Examples
    --------
    >>> r = region_from_string("icrs;circle(10,0,0.5);box(12,0,1,0.5,0)")
    >>> round(region_radius(r, SkyCoord(10, 0, unit="deg")), 3)   # 2 + hypot(1, 0.5) / 2
    2.559
    """
    out = 0.0
    for leaf in region_leaves(reg):
        c = leaf_center(leaf)
        r = getattr(leaf, "radius", getattr(leaf, "outer_radius", None))
        w = getattr(leaf, "outer_width", getattr(leaf, "width", None))
        h = getattr(leaf, "outer_height", getattr(leaf, "height", None))
        if r is not None:
            rr = float(r.to_value("deg"))
        elif hasattr(leaf, "vertices"):
            rr = float(np.max(c.separation(leaf.vertices).deg))
        elif w is not None and h is not None:
            rr = float(np.hypot(w.to_value("deg"), h.to_value("deg"))) / 2
        else:
            rr = 0.0
        out = max(out, float(c0.separation(c).deg) + rr)
    return out


# ----------------------------------------------------------------------------- masks


