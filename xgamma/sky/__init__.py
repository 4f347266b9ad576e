"""Sky geometry: frames and angles, regions, WCS/HEALPix/region geometries, pixels and masks.

Floors (each imports only those before it): :mod:`~xgamma.sky.frames` (angles, frame names,
separations) -> :mod:`~xgamma.sky.regions` (region strings, ``contains``) ->
:mod:`~xgamma.sky.geom` (geometries, WCS, pixel positions, solid angles) ->
:mod:`~xgamma.sky.masks` (region and exclusion masks). Every public name is re-exported here,
so ``xgamma.sky.wcs_geom`` and ``xgamma.sky.region_mask`` work as before.

Examples
--------
>>> from xgamma import sky
>>> g = sky.wcs_geom((83.63, 22.01), width=1.0, binsz=0.1)
>>> dict(g.sizes), sky.geom_kind(g)
({'y': 10, 'x': 10}, 'wcs')
"""

from __future__ import annotations

from xgamma.sky import frames, geom, masks, regions
from xgamma.sky.frames import *  # noqa: F403
from xgamma.sky.geom import *  # noqa: F403
from xgamma.sky.masks import *  # noqa: F403
from xgamma.sky.regions import *  # noqa: F403

__all__ = ["frames", "geom", "masks", "regions"]
__all__ += frames.__all__ + regions.__all__ + geom.__all__ + masks.__all__
