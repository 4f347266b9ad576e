"""Matplotlib helpers: sky maps on WCSAxes, HEALPix maps, IRF and spectrum line plots.

matplotlib is imported inside the functions, so importing xgamma does not need it.

Examples
--------
>>> import matplotlib; matplotlib.use("Agg")
>>> import xgamma as xg
>>> m = xg.sky.empty(xg.wcs_geom((83.63, 22.01), 1, 0.1)) + 1
>>> type(plot(m)).__name__
'WCSAxes'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import astropy.units as u
import numpy as np
import xarray as xr

from xgamma import sky

__all__ = ["plot", "plot_map", "plot_irf", "healpix_to_image"]


def _reduce_to_sky(da: xr.DataArray, sel: Mapping[str, Any] | None, reduce: str) -> xr.DataArray:
    if sel:
        pos = {k: v for k, v in sel.items() if isinstance(v, int | np.integer)}
        val = {k: v for k, v in sel.items() if k not in pos}
        da = da.isel(pos)
        if val:
            da = da.sel(val, method="nearest")
    other = [d for d in da.dims if d not in sky.sky_dims(da)]
    if other:
        da = getattr(da, reduce)(dim=other, keep_attrs=True)
    return da


def healpix_to_image(da: xr.DataArray, proj: str = "MOL", binsz: float | None = None) -> xr.DataArray:
    """Project a HEALPix sky map (dims ``pix``) to a WCS image by nearest-pixel lookup.

    All-sky maps go to an all-sky ``proj`` image (Mollweide by default, as ``mollview``);
    partial maps to a TAN image around their centre. Pixels not in the map are NaN.

    Examples
    --------
    >>> import xgamma as xg
    >>> img = healpix_to_image(xg.sky.empty(xg.healpix_geom(8)) + 1, binsz=5)
    >>> float(np.nanmax(img.values)), img.dims
    (1.0, ('y', 'x'))
    """
    nside = int(sky.geom_attrs(da)["nside"])
    frame = sky.frame_of(da)
    pixsize = float(np.degrees(np.sqrt(4 * np.pi / (12 * nside**2))))
    binsz = binsz or max(pixsize / 2, 0.05)
    npix_total = 12 * nside**2
    if da.sizes["pix"] == npix_total:
        geom = sky.wcs_geom((0, 0), (360, 180), binsz, frame=frame, proj=proj)
    else:
        c = sky.center(da)
        r = float(np.max(sky.separation(da, c).values)) + pixsize
        geom = sky.wcs_geom(c, 2 * r, binsz, frame=frame, proj="TAN")
    coords = sky.skycoord(geom)
    ok = np.isfinite(coords.spherical.lon.deg) & np.isfinite(coords.spherical.lat.deg)
    ipix = np.full(coords.shape, -1, dtype=np.int64)
    ipix[ok] = sky.sky_to_pix(da, coords[ok])
    pix = np.asarray(da.coords["pix"].values)
    order = np.argsort(pix)
    pos = np.clip(np.searchsorted(pix[order], ipix), 0, pix.size - 1)
    found = ok & (pix[order][pos] == ipix)
    vals = np.where(found, np.asarray(da.values, float)[order][pos], np.nan)
    return sky.make_map(vals, geom, name=None if da.name is None else str(da.name), units=str(da.attrs.get("units", "")))


def plot_map(
    da: xr.DataArray,
    ax: Any = None,
    sel: Mapping[str, Any] | None = None,
    reduce: str = "sum",
    add_cbar: bool = True,
    stretch: str = "linear",
    proj: str = "MOL",
    binsz: float | None = None,
    **kwargs: Any,
) -> Any:
    """Plot a WCS (or HEALPix) sky map on WCSAxes.

    A HEALPix map is first projected to a WCS image by :func:`healpix_to_image` (all-sky:
    ``proj``, Mollweide by default, ``"CAR"`` for a cartesian image; partial sky: TAN around
    its centre), pixels outside the map NaN.

    Parameters
    ----------
    da : DataArray
        A map with WCS sky dims ``(y, x)`` or HEALPix ``pix``.
    ax : WCSAxes, optional
        Created with the map's WCS if not given.
    sel : mapping, optional
        Select non-spatial axes first (int: position, float: nearest coordinate).
    reduce : str
        Reduction over the remaining non-spatial dims (``"sum"``, ``"mean"``, ``"max"``).
    add_cbar : bool
        Add a colour bar labelled with the unit.
    stretch : {"linear", "log", "sqrt"}
    proj, binsz : optional
        HEALPix maps only: the projection of an all-sky map and the image pixel size [deg]
        (default half the HEALPix pixel size, at least 0.05 deg).
    **kwargs
        Passed to ``imshow``.

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> import xgamma as xg
    >>> m = xg.sky.empty(xg.wcs_geom((0, 0), 1, 0.5, axes=[xg.energy_axis(1, 10, 2)])) + 1
    >>> plot_map(m, sel={"energy": 0}).images[0].get_array().max()
    np.float64(1.0)
    """
    import matplotlib.pyplot as plt
    from matplotlib import colors

    img = _reduce_to_sky(da, sel, reduce)
    if sky.geom_kind(img) == "healpix":
        img = healpix_to_image(img, proj=proj, binsz=binsz)
    if ax is None:
        fig = plt.figure()
        ax = fig.add_subplot(projection=sky.wcs_of(img))
    norm = {"log": colors.LogNorm(), "sqrt": colors.PowerNorm(0.5)}.get(stretch)
    kwargs.setdefault("cmap", "afmhot" if norm is None else "viridis")
    im = ax.imshow(np.asarray(img.values, float), origin="lower", norm=norm, **kwargs)
    names = {"icrs": ("Right Ascension", "Declination"), "galactic": ("Galactic Longitude",
                                                                     "Galactic Latitude")}
    lx, ly = names[sky.frame_of(img)]
    if hasattr(ax, "coords"):
        ax.coords[0].set_axislabel(lx)
        ax.coords[1].set_axislabel(ly)
    if add_cbar:
        units = str(da.attrs.get("units", ""))
        label = f"{da.name or ''} [{u.Unit(units).to_string()}]" if units else str(da.name or "")
        ax.figure.colorbar(im, ax=ax, label=label)
    return ax


def plot_irf(
    da: xr.DataArray,
    x: str | None = None,
    ax: Any = None,
    sel: Mapping[str, Any] | None = None,
    max_lines: int = 5,
    **kwargs: Any,
) -> Any:
    """Line plot of a 1D or 2D DataArray (IRF curves, spectra), log axes where ``interp=log``.

    ``x`` is the horizontal dim (default: the first dim); for a 2D array one line per value
    of the other dim (at most ``max_lines``, evenly spaced); further dims are reduced by
    ``sel`` (nearest coordinate) or else their middle bin is taken.

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> import xarray as xr, xgamma as xg
    >>> e = xg.energy_axis(0.1, 100, 10, name="energy_true")
    >>> o = xg.axes.linear_axis(0, 2, 4, unit="deg", name="offset")
    >>> aeff = xr.DataArray(np.ones((10, 4)), dims=("energy_true", "offset"),
    ...                     coords={**e.coords, **o.coords}, attrs={"units": "cm2"})
    >>> ax = plot_irf(aeff)
    >>> len(ax.lines), ax.get_xscale()
    (4, 'log')
    """
    import matplotlib.pyplot as plt

    if sel:
        da = da.sel(dict(sel), method="nearest")
    x = x or str(da.dims[0])
    others = [str(d) for d in da.dims if d != x]
    if len(others) > 1:
        da = da.isel({d: da.sizes[d] // 2 for d in others[1:]})
        others = others[:1]
    if ax is None:
        ax = plt.figure().add_subplot()
    xv = np.asarray(da.coords[x].values if x in da.coords else np.arange(da.sizes[x]), float)
    xunit = str(da.coords[x].attrs.get("units", "")) if x in da.coords else ""
    if others:
        hue = others[0]
        n = da.sizes[hue]
        idx = np.unique(np.linspace(0, n - 1, min(n, max_lines)).round().astype(int))
        hunit = str(da.coords[hue].attrs.get("units", "")) if hue in da.coords else ""
        for i in idx:
            line = da.isel({hue: int(i)}).transpose(x)
            hv = float(da.coords[hue].values[i]) if hue in da.coords else float(i)
            ax.plot(xv, np.asarray(line.values, float), label=f"{hue} = {hv:.3g} {hunit}", **kwargs)
        ax.legend()
    else:
        ax.plot(xv, np.asarray(da.values, float), **kwargs)
    if x in da.coords and da.coords[x].attrs.get("interp") == "log":
        ax.set_xscale("log")
        if np.nanmin(np.asarray(da.values, float)) > 0:
            ax.set_yscale("log")
    ax.set_xlabel(f"{x} [{xunit}]" if xunit else x)
    units = str(da.attrs.get("units", ""))
    ax.set_ylabel(f"{da.name or ''} [{units}]" if units else str(da.name or ""))
    return ax


def plot(da: xr.DataArray, **kwargs: Any) -> Any:
    """Plot any xgamma DataArray: a sky map (WCS or HEALPix) with :func:`plot_map`, else line
    plots with :func:`plot_irf`. Returns the matplotlib Axes.

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> import xgamma as xg
    >>> m = xg.sky.empty(xg.region_geom("icrs;circle(0,0,1)", axes=[xg.energy_axis(1, 10, 3)])) + 1
    >>> plot(m).get_xscale()
    'log'
    """
    try:
        kind = sky.geom_kind(da)
    except Exception:
        kind = None
    if kind in ("wcs", "healpix") and set(sky.sky_dims(da)) <= set(da.dims):
        return plot_map(da, **kwargs)
    return plot_irf(da, **kwargs)
