"""Region masks on sky geometries: :func:`region_mask`, :func:`exclusion_mask`, :func:`region_of`.

Built on :mod:`xgamma.sky.geom` (pixel positions) and :mod:`xgamma.sky.regions` (``contains``).

Examples
--------
>>> from xgamma.sky.geom import wcs_geom
>>> int(exclusion_mask(wcs_geom((0, 0), 1, 0.1), ["icrs;circle(0,0,0.2)"]).sum())
88
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import xarray as xr

from xgamma.errors import GeometryError
from xgamma.sky.frames import regions_module
from xgamma.sky.geom import Obj, geom_kind, sky_dataarray, skycoord
from xgamma.sky.regions import contains

if TYPE_CHECKING:
    pass

__all__ = ["region_mask", "exclusion_mask"]


def region_mask(obj: Obj, regions: Any) -> xr.DataArray:
    """Boolean mask on the sky dims: True where the pixel centre is inside any region.

    Examples
    --------
    >>> from xgamma.sky.geom import wcs_geom
    >>> g = wcs_geom((0, 0), 1, 0.1)
    >>> int(region_mask(g, "icrs;circle(0,0,0.2)").sum())
    12
    """
    if geom_kind(obj) == "region":
        raise GeometryError("region_mask needs a WCS or HEALPix geometry")
    regs = [regions] if isinstance(regions, str | regions_module().SkyRegion) else list(regions)
    return sky_dataarray(obj, contains(regs, skycoord(obj)), "mask", "")


def exclusion_mask(geom: Obj, regions: Any) -> xr.DataArray:
    """Mask True where NOT excluded by any of ``regions`` (Gammapy's convention).

    Examples
    --------
    >>> from xgamma.sky.geom import wcs_geom
    >>> g = wcs_geom((0, 0), 1, 0.1)
    >>> int(exclusion_mask(g, ["icrs;circle(0,0,0.2)"]).sum())
    88
    """
    return ~region_mask(geom, regions)
