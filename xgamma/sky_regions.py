"""Sky regions: xgamma's region strings, point-in-region tests and region masks.

A region geometry (:mod:`xgamma.sky`) stores its region as a string in ``attrs["region"]``:
a DS9 string with its frame, e.g. ``"icrs;circle(83.63,22.01,0.11)"``. Several shapes
separated by ``;`` mean their union, a shape with a leading ``-`` is excluded (DS9 semantics),
and other compound regions are written ``and(A;B)``, ``xor(A;B)``, ``sub(A;B)`` (A and not B)
or ``or(A;B)``, nested as needed. This module parses and writes these strings
(:func:`region_from_string`, :func:`region_to_string`), tests whether sky positions lie in a
region (:func:`contains`) and builds boolean masks on a WCS or HEALPix geometry
(:func:`region_mask`, :func:`exclusion_mask`). Regions are astropy-regions ``SkyRegion``
objects, imported on first use.

Every name here is also available from :mod:`xgamma.sky`, which re-exports it.

Examples
--------
>>> r = region_from_string("icrs;circle(83.63,22.01,0.11)")
>>> region_to_string(r)
'icrs;circle(83.63,22.01,0.11)'
>>> from xgamma.sky import wcs_geom
>>> int(region_mask(wcs_geom((0, 0), 1, 0.1), "icrs;circle(0,0,0.2)").sum())
12
"""

from __future__ import annotations

import operator
import re
import warnings
from collections.abc import Callable, Iterable
from functools import reduce
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr
from astropy.coordinates import SkyCoord
from astropy.wcs import WCS

from .errors import GeometryError

# xgamma.sky re-exports this module's names by importing it at its end, after all of these
# are defined; so import xgamma.sky (or xgamma) before this module, never the other way round.
from .sky import (
    Obj,
    _frame,
    _gattrs,
    _lonlat,
    _rg,
    _sky_da,
    _unit_vectors,
    geom_kind,
    skycoord,
    wcs_geom,
    wcs_of,
)

if TYPE_CHECKING:
    from regions import SkyRegion

__all__ = [
    "region_from_string", "region_to_string", "region_of", "contains", "region_mask",
    "exclusion_mask",
]


# ----------------------------------------------------------------------------- regions
def _and_not(a: Any, b: Any) -> Any:
    return np.logical_and(a, np.logical_not(b))


_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "or": operator.or_, "and": operator.and_, "xor": operator.xor, "sub": _and_not,
}
_DS9_FRAMES = {"icrs", "fk5", "fk4", "galactic", "j2000", "b1950", "ecliptic"}


def _leaves(reg: SkyRegion) -> list[SkyRegion]:
    if isinstance(reg, _rg().CompoundSkyRegion):
        return _leaves(reg.region1) + _leaves(reg.region2)
    return [reg]


def _leaf_center(reg: SkyRegion) -> SkyCoord:
    if hasattr(reg, "center"):
        return reg.center
    if hasattr(reg, "vertices"):
        v = reg.vertices
        lon, lat = _lonlat(v, v.frame.name)
        m = _unit_vectors(lon, lat).mean(axis=0)
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
            inc.append(reduce(lambda a, b: _rg().CompoundSkyRegion(a, b, _OPS[m.group(1).lower()]), parts))
            continue
        excluded = tok.startswith("-")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                reg = _rg().Regions.parse(f"{frame}\n{tok.lstrip('+-')}", format="ds9")[0]
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
        reg = _rg().CompoundSkyRegion(reg, reduce(operator.or_, exc), _and_not)
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
        if isinstance(reg, _rg().CompoundSkyRegion):
            names = [k for k, f in _OPS.items() if f is reg.operator]
            if not names:
                raise GeometryError(f"unsupported compound operator {reg.operator!r}")
            inner = f"{ser(reg.region1, top and names[0] == 'or')};" \
                    f"{ser(reg.region2, top and names[0] == 'or')}"
            return inner if top and names[0] == "or" else f"{names[0]}({inner})"
        text = _rg().Regions([reg]).serialize(format="ds9", precision=12)
        toks = [t for t in _split_top(text) if not t.lower().startswith("global")]
        return re.sub(r"\d+\.\d+", _trim, ";".join(toks))

    return ser(region, True)


def region_of(obj: Obj) -> SkyRegion:
    """The SkyRegion of a region geometry.

    Examples
    --------
    >>> from xgamma.sky import region_geom
    >>> region_of(region_geom("icrs;circle(83.63,22.01,0.11)")).radius
    <Quantity 0.11 deg>
    """
    a = _gattrs(obj)
    if a["geom"] != "region":
        raise GeometryError(f"region_of needs a 'region' geometry, got {a['geom']!r}")
    return region_from_string(a["region"])


def _local_wcs(c: SkyCoord) -> WCS:
    return wcs_of(wcs_geom(c, 0.01, 0.01, frame=_frame(c.frame.name), proj="TAN"))


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
    if not isinstance(region, _rg().SkyRegion):
        masks = [contains(r, coords) for r in region]
        return reduce(np.logical_or, masks, np.zeros(coords.shape, dtype=bool))
    if isinstance(region, _rg().CompoundSkyRegion):
        return np.asarray(region.operator(contains(region.region1, coords),
                                          contains(region.region2, coords)), dtype=bool)
    if isinstance(region, _rg().CircleSkyRegion | _rg().CircleAnnulusSkyRegion):
        sep = coords.separation(region.center).to_value("deg")
        with np.errstate(invalid="ignore"):
            if isinstance(region, _rg().CircleSkyRegion):
                return np.asarray(sep < region.radius.to_value("deg"))
            return np.asarray((sep >= region.inner_radius.to_value("deg"))
                              & (sep < region.outer_radius.to_value("deg")))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.asarray(region.contains(coords, _local_wcs(_leaf_center(region))), dtype=bool)


def _region_radius(reg: SkyRegion, c0: SkyCoord) -> float:
    """Radius (deg) around ``c0`` of a disc containing ``reg``."""
    out = 0.0
    for leaf in _leaves(reg):
        c = _leaf_center(leaf)
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
def region_mask(obj: Obj, regions: Any) -> xr.DataArray:
    """Boolean mask on the sky dims: True where the pixel centre is inside any region.

    Examples
    --------
    >>> g = wcs_geom((0, 0), 1, 0.1)
    >>> int(region_mask(g, "icrs;circle(0,0,0.2)").sum())
    12
    """
    if geom_kind(obj) == "region":
        raise GeometryError("region_mask needs a WCS or HEALPix geometry")
    regs = [regions] if isinstance(regions, str | _rg().SkyRegion) else list(regions)
    return _sky_da(obj, contains(regs, skycoord(obj)), "mask", "")


def exclusion_mask(geom: Obj, regions: Any) -> xr.DataArray:
    """Mask True where NOT excluded by any of ``regions`` (Gammapy's convention).

    Examples
    --------
    >>> g = wcs_geom((0, 0), 1, 0.1)
    >>> int(exclusion_mask(g, ["icrs;circle(0,0,0.2)"]).sum())
    88
    """
    return ~region_mask(geom, regions)
