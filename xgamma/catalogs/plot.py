"""Sky plot of catalog positions over a map (matplotlib imported inside the function).

Examples
--------
>>> import matplotlib; matplotlib.use("Agg")
>>> import pandas as pd
>>> df = pd.DataFrame({"source_name": ["a"], "ra": [83.63], "dec": [22.01], "glon": [184.56], "glat": [-5.78]})
>>> ax = plot_catalog(df)
>>> len(ax.collections)
1
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from xgamma import sky
from xgamma.plot import plot_map

__all__ = ["plot_catalog"]


def plot_catalog(df: pd.DataFrame, ax: Any = None, sky_map: xr.DataArray | None = None, labels: bool = False,
                 frame: str | None = None, label_column: str = "source_name", **kwargs: Any) -> Any:
    """Mark catalog positions on WCSAxes (optionally over a sky map).

    Parameters
    ----------
    df : DataFrame
        Rows of :func:`~xgamma.catalogs.read_catalog` (columns ``ra``/``dec`` or ``glon``/``glat``).
    ax : WCSAxes, optional
        Axes to draw on (e.g. from :func:`xgamma.plot.plot_map`); points outside its image are
        dropped. Without ``ax``: the map's axes if ``sky_map`` is given, else a plain
        longitude/latitude plot in ``frame``.
    sky_map : DataArray, optional
        A WCS map to draw first with :func:`xgamma.plot.plot_map`.
    labels : bool
        Write ``label_column`` next to each marker.
    frame : {"icrs", "galactic"}, optional
        Frame of the plain plot (default: galactic).
    **kwargs
        Passed to ``scatter`` (default: open circles).

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> import xgamma as xg
    >>> m = xg.sky.empty(xg.wcs_geom((83.63, 22.01), 4, 0.1)) + 1
    >>> df = pd.DataFrame({"source_name": ["crab", "far"], "ra": [83.63, 10.0], "dec": [22.01, -40.0]})
    >>> ax = plot_catalog(df, sky_map=m)
    >>> len(ax.collections[-1].get_offsets())
    1
    """
    import matplotlib.pyplot as plt

    kwargs.setdefault("facecolor", "none")
    kwargs.setdefault("edgecolor", "tab:cyan")
    kwargs.setdefault("s", 40)
    if sky_map is not None:
        ax = plot_map(sky_map, ax=ax)
    if ax is not None and hasattr(ax, "wcs") and ax.wcs is not None:
        w = ax.wcs.celestial
        ctype = str(w.wcs.ctype[0]).upper()
        if ctype.startswith("GLON"):
            lon, lat = np.asarray(df["glon"], float), np.asarray(df["glat"], float)
        else:
            lon, lat = np.asarray(df["ra"], float), np.asarray(df["dec"], float)
        x, y = w.wcs_world2pix(lon, lat, 0)
        ny, nx = (w.pixel_shape[1], w.pixel_shape[0]) if w.pixel_shape else (np.inf, np.inf)
        if sky_map is not None:
            ny, nx = sky_map.sizes[sky.sky_dims(sky_map)[0]], sky_map.sizes[sky.sky_dims(sky_map)[-1]]
        else:
            xlim, ylim = ax.get_xlim(), ax.get_ylim()
            if xlim != (0.0, 1.0):
                nx, ny = xlim[1] + 0.5, ylim[1] + 0.5
        inside = np.isfinite(x) & np.isfinite(y) & (x >= -0.5) & (y >= -0.5) & (x <= nx - 0.5) & (y <= ny - 0.5)
        ax.scatter(x[inside], y[inside], **kwargs)
        names = np.asarray(df[label_column])[inside] if labels else []
        for xi, yi, name in zip(x[inside], y[inside], names, strict=False):
            ax.annotate(str(name), (xi, yi), xytext=(4, 4), textcoords="offset points", fontsize=7,
                        color=kwargs["edgecolor"])
        return ax
    frame = frame or "galactic"
    cols = ("glon", "glat") if frame == "galactic" else ("ra", "dec")
    if cols[0] not in df.columns:
        raise ValueError(f"plot_catalog: the rows have no {cols[0]!r}/{cols[1]!r} columns")
    if ax is None:
        _, ax = plt.subplots()
        ax.invert_xaxis()
    lon = np.asarray(df[cols[0]], float)
    if frame == "galactic":
        lon = np.where(lon > 180, lon - 360, lon)
    lat = np.asarray(df[cols[1]], float)
    ax.scatter(lon, lat, **kwargs)
    if labels:
        for xi, yi, name in zip(lon, lat, df[label_column], strict=True):
            ax.annotate(str(name), (xi, yi), xytext=(4, 4), textcoords="offset points", fontsize=7)
    ax.set_xlabel("Galactic longitude [deg]" if frame == "galactic" else "Right ascension [deg]")
    ax.set_ylabel("Galactic latitude [deg]" if frame == "galactic" else "Declination [deg]")
    return ax
