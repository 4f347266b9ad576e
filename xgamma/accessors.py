"""The ``.xg`` accessors on DataArray, Dataset, pandas and dask DataFrames.

Accessors hold no state: every method is a one-line delegate to a module function
(:mod:`xgamma.sky`, :mod:`xgamma.binning`, :mod:`xgamma.events`, :mod:`xgamma.axes`,
:mod:`xgamma.io.zarr`, :mod:`xgamma.plot`). They are registered when this module is imported,
which ``import xgamma`` does; so that this costs no more than xarray itself, each method imports
the module it delegates to on its first call.

Examples
--------
>>> import pandas as pd, xgamma as xg
>>> ev = pd.DataFrame({"ra": [83.63], "dec": [22.01], "energy": [2.0]})
>>> counts = ev.xg.bin(xg.wcs_geom((83.63, 22.01), 1, 0.5, axes=[xg.energy_axis(1, 10, 1)]))
>>> float(counts.sum()), counts.xg.geom_kind
(1.0, 'wcs')
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys
from typing import TYPE_CHECKING, Any

import pandas as pd
import xarray as xr

if TYPE_CHECKING:
    import numpy as np
    from astropy.coordinates import SkyCoord
    from astropy.wcs import WCS

__all__ = ["XgDataArrayAccessor", "XgDatasetAccessor", "XgDataFrameAccessor"]


class _XgCommon:
    """Delegates shared by the DataArray and Dataset accessors."""

    def __init__(self, obj: Any) -> None:
        self._obj = obj

    @property
    def geom(self) -> xr.Dataset:
        """The geometry (coords-only Dataset), :func:`xgamma.sky.geom_of`."""
        from xgamma import sky  # lazy: import xgamma stays light

        return sky.geom_of(self._obj)

    @property
    def geom_kind(self) -> str:
        """:func:`xgamma.sky.geom_kind`."""
        from xgamma import sky  # lazy: import xgamma stays light

        return sky.geom_kind(self._obj)

    @property
    def frame(self) -> str:
        """:func:`xgamma.sky.frame_of`."""
        from xgamma import sky  # lazy: import xgamma stays light

        return sky.frame_of(self._obj)

    @property
    def wcs(self) -> WCS:
        """:func:`xgamma.sky.wcs_of`."""
        from xgamma import sky  # lazy: import xgamma stays light

        return sky.wcs_of(self._obj)

    @property
    def region(self) -> Any:
        """:func:`xgamma.sky.region_of`."""
        from xgamma import sky  # lazy: import xgamma stays light

        return sky.region_of(self._obj)

    @property
    def skycoord(self) -> SkyCoord:
        """:func:`xgamma.sky.skycoord`."""
        from xgamma import sky  # lazy: import xgamma stays light

        return sky.skycoord(self._obj)

    @property
    def center(self) -> SkyCoord:
        """:func:`xgamma.sky.center`."""
        from xgamma import sky  # lazy: import xgamma stays light

        return sky.center(self._obj)

    def solid_angle(self) -> xr.DataArray:
        """:func:`xgamma.sky.solid_angle`."""
        from xgamma import sky  # lazy: import xgamma stays light

        return sky.solid_angle(self._obj)

    def separation(self, skydir: Any) -> xr.DataArray:
        """:func:`xgamma.sky.separation`."""
        from xgamma import sky  # lazy: import xgamma stays light

        return sky.separation(self._obj, skydir)

    def region_mask(self, regions: Any) -> xr.DataArray:
        """:func:`xgamma.sky.region_mask`."""
        from xgamma import sky  # lazy: import xgamma stays light

        return sky.region_mask(self._obj, regions)

    def exclusion_mask(self, regions: Any) -> xr.DataArray:
        """:func:`xgamma.sky.exclusion_mask`."""
        from xgamma import sky  # lazy: import xgamma stays light

        return sky.exclusion_mask(self._obj, regions)

    def cutout(self, position: Any, width: Any) -> Any:
        """:func:`xgamma.sky.cutout`."""
        from xgamma import sky  # lazy: import xgamma stays light

        return sky.cutout(self._obj, position, width)

    def to_image(self) -> Any:
        """:func:`xgamma.sky.to_image`."""
        from xgamma import sky  # lazy: import xgamma stays light

        return sky.to_image(self._obj)

    def pix_to_sky(self, x: Any, y: Any = None) -> SkyCoord:
        """:func:`xgamma.sky.pix_to_sky`."""
        from xgamma import sky  # lazy: import xgamma stays light

        return sky.pix_to_sky(self._obj, x, y)

    def sky_to_pix(self, coords: SkyCoord) -> Any:
        """:func:`xgamma.sky.sky_to_pix`."""
        from xgamma import sky  # lazy: import xgamma stays light

        return sky.sky_to_pix(self._obj, coords)

    def edges(self, dim: str) -> np.ndarray:
        """:func:`xgamma.axes.edges`."""
        from xgamma import axes  # lazy: import xgamma stays light

        return axes.edges(self._obj, dim)

    def widths(self, dim: str) -> xr.DataArray:
        """:func:`xgamma.axes.widths`."""
        from xgamma import axes  # lazy: import xgamma stays light

        return axes.widths(self._obj, dim)

    def axis(self, dim: str) -> xr.DataArray:
        """:func:`xgamma.axes.axis_of`."""
        from xgamma import axes  # lazy: import xgamma stays light

        return axes.axis_of(self._obj, dim)

    def to_zarr(self, store: Any, **kwargs: Any) -> None:
        """:func:`xgamma.io.zarr.to_zarr`."""
        from xgamma.io import zarr as _zarr  # lazy: import xgamma stays light

        return _zarr.to_zarr(self._obj, store, **kwargs)


@xr.register_dataarray_accessor("xg")
class XgDataArrayAccessor(_XgCommon):
    """``DataArray.xg``: geometry, axes, I/O and plotting delegates.

    Examples
    --------
    >>> import xgamma as xg
    >>> m = xg.sky.empty(xg.wcs_geom((0, 0), 1, 0.5, axes=[xg.energy_axis(1, 100, 2)]))
    >>> m.xg.edges("energy").tolist(), round(float(m.xg.solid_angle().sum()), 6)
    ([1.0, 10.0, 100.0], 0.000305)
    """

    def plot(self, **kwargs: Any) -> Any:
        """:func:`xgamma.plot.plot` (sky map, HEALPix or line plot); returns the Axes."""
        from xgamma import plot  # lazy: import xgamma stays light

        return plot.plot(self._obj, **kwargs)


@xr.register_dataset_accessor("xg")
class XgDatasetAccessor(_XgCommon):
    """``Dataset.xg``: the same geometry, axes and I/O delegates as on DataArray.

    Examples
    --------
    >>> import xgamma as xg
    >>> xg.healpix_geom(2).xg.solid_angle().size
    48
    """

    def plot(self, name: str, **kwargs: Any) -> Any:
        """Plot the variable ``name`` with :func:`xgamma.plot.plot`."""
        from xgamma import plot  # lazy: import xgamma stays light

        return plot.plot(self._obj[name], **kwargs)


@pd.api.extensions.register_dataframe_accessor("xg")
class XgDataFrameAccessor:
    """``DataFrame.xg`` on pandas and dask event tables.

    Examples
    --------
    >>> import pandas as pd
    >>> ev = pd.DataFrame({"ra": [0.0], "dec": [1.0], "energy": [1.0]})
    >>> ev.xg.offset(0, 0).round(9).tolist()
    [1.0]
    """

    def __init__(self, obj: Any) -> None:
        self._obj = obj

    def bin(self, geom: Any, weights: Any = None) -> xr.DataArray:
        """:func:`xgamma.binning.bin_events`."""
        from xgamma.reduction import binning  # lazy: import xgamma stays light

        return binning.bin_events(self._obj, geom, weights=weights)

    def select_energy(self, emin: Any = None, emax: Any = None) -> Any:
        """:func:`xgamma.events.select_energy`."""
        from xgamma.reduction import events  # lazy: import xgamma stays light

        return events.select_energy(self._obj, emin, emax)

    def select_time(self, tmin: Any = None, tmax: Any = None) -> Any:
        """:func:`xgamma.events.select_time`."""
        from xgamma.reduction import events  # lazy: import xgamma stays light

        return events.select_time(self._obj, tmin, tmax)

    def select_region(self, region_or_geom: Any) -> Any:
        """:func:`xgamma.events.select_region`."""
        from xgamma.reduction import events  # lazy: import xgamma stays light

        return events.select_region(self._obj, region_or_geom)

    def fov_coords(self, pointing_ra: Any, pointing_dec: Any) -> Any:
        """:func:`xgamma.events.fov_coords`."""
        from xgamma.reduction import events  # lazy: import xgamma stays light

        return events.fov_coords(self._obj, pointing_ra, pointing_dec)

    def offset(self, ra: Any, dec: Any = None) -> Any:
        """:func:`xgamma.events.offset`."""
        from xgamma.reduction import events  # lazy: import xgamma stays light

        return events.offset(self._obj, ra, dec)


# ``.xg`` on dask DataFrames: registered once ``dask.dataframe`` is imported (by the user or by
# xgamma's readers), so that ``import xgamma`` does not pay dask.dataframe's ~1.8 s.
def _register_dask_accessor() -> None:
    from dask.dataframe.extensions import register_dataframe_accessor

    register_dataframe_accessor("xg")(XgDataFrameAccessor)


class _AfterDaskDataFrameImport(importlib.abc.MetaPathFinder):
    """A one-shot import hook: wraps the loader of ``dask.dataframe`` to register the accessor
    right after the module has run."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname != "dask.dataframe":
            return None
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        loader = None if spec is None else spec.loader
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        run = loader.exec_module

        def exec_module(module: Any) -> None:
            run(module)
            _register_dask_accessor()

        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


if "dask.dataframe" in sys.modules:
    _register_dask_accessor()
elif not any(isinstance(f, _AfterDaskDataFrameImport) for f in sys.meta_path):
    sys.meta_path.insert(0, _AfterDaskDataFrameImport())
