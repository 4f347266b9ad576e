"""Template spatial models: a map (2D, or 3D with true-energy planes) as a spatial model.

Holds the ``TemplateSpatialModel`` machinery of :mod:`xgamma.models.spatial`: evaluation
(bilinear in the pixels, 0 outside the map, log-log in energy), construction from a map
(:func:`template_spatial_model`), reading FITS images and cubes (:func:`read_spatial_template`)
and the YAML dict round trip (``filename``, ``normalize``, ``unit``). The model type itself is
registered, with the other spatial models, in :mod:`xgamma.models.spatial`, which re-exports
the public names of this module.

Examples
--------
>>> import numpy as np, xgamma as xg
>>> from xgamma import sky
>>> from xgamma.models.spatial_template import template_spatial_model
>>> g = xg.wcs_geom((0, 0), 1.0, 0.1, frame="galactic")
>>> t = template_spatial_model(sky.make_map(np.ones((10, 10)), g))
>>> t.type, t.unit
('TemplateSpatialModel', 'sr-1')
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import astropy.units as u
import numpy as np
import xarray as xr

from xgamma import sky
from xgamma.errors import XgammaIOError
from xgamma.models.params import Parameters
from xgamma.models.spatial import SpatialModel, register_spatial

__all__ = ["template_spatial_model", "read_spatial_template"]

_TINY = 1e-300


# --------------------------------------------------------------------------------------------
# evaluation: f((lon, lat[, energy]), p, data) as registered in xgamma.models.spatial


def _bilinear(img: np.ndarray, x: np.ndarray, y: np.ndarray, plane: np.ndarray | None = None) -> np.ndarray:
    """Bilinear interpolation of ``img[(plane,) y, x]`` at fractional pixel positions; constant
    within the outer half pixel, 0 outside the map's footprint."""
    ny, nx = img.shape[-2:]
    ok = np.isfinite(x) & np.isfinite(y) & (x >= -0.5) & (x <= nx - 0.5) & (y >= -0.5) & (y <= ny - 0.5)
    xc = np.clip(np.where(ok, x, 0.0), 0, nx - 1)
    yc = np.clip(np.where(ok, y, 0.0), 0, ny - 1)
    i0 = np.minimum(np.floor(xc).astype(int), max(nx - 2, 0))
    j0 = np.minimum(np.floor(yc).astype(int), max(ny - 2, 0))
    fx, fy = xc - i0, yc - j0
    i1, j1 = np.minimum(i0 + 1, nx - 1), np.minimum(j0 + 1, ny - 1)
    if plane is None:
        v = (img[j0, i0] * (1 - fx) * (1 - fy) + img[j0, i1] * fx * (1 - fy)
             + img[j1, i0] * (1 - fx) * fy + img[j1, i1] * fx * fy)
    else:
        v = (img[plane, j0, i0] * (1 - fx) * (1 - fy) + img[plane, j0, i1] * fx * (1 - fy)
             + img[plane, j1, i0] * (1 - fx) * fy + img[plane, j1, i1] * fx * fy)
    return np.where(ok, v, 0.0)


def _template(c: Sequence[Any], p: Sequence[Any], d: Mapping[str, Any]) -> Any:
    lon, lat = np.asarray(c[0], dtype=float), np.asarray(c[1], dtype=float)
    x, y = d["wcs"].world_to_pixel_values(lon, lat)
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    vals = d["values"]
    if d.get("energy") is None:
        return _bilinear(vals, x, y)
    if len(c) < 3 or c[2] is None:
        raise ValueError("this template depends on energy: give energy (TeV)")
    en = np.asarray(d["energy"], dtype=float)
    le = np.log(np.asarray(c[2], dtype=float)) * np.ones_like(x)
    if en.size == 1:
        return _bilinear(vals, x, y, np.zeros(x.shape, dtype=int))
    lx = np.log(en)
    i0 = np.clip(np.searchsorted(lx, le, side="right") - 1, 0, en.size - 2)
    f = (le - lx[i0]) / (lx[i0 + 1] - lx[i0])
    v0 = _bilinear(vals, x, y, i0)
    v1 = _bilinear(vals, x, y, i0 + 1)
    with np.errstate(divide="ignore", over="ignore", under="ignore", invalid="ignore"):
        lv = (1 - f) * np.log(np.maximum(v0, _TINY)) + f * np.log(np.maximum(v1, _TINY))
        out = np.exp(lv)
    lin = np.clip((1 - f) * v0 + f * v1, 0.0, None)
    return np.where((v0 > 0) & (v1 > 0), out, lin)


# --------------------------------------------------------------------------------------------
# construction from a map, FITS reading


def _template_data(values: np.ndarray, wcs: Any, energy: Any, unit: str, normalize: bool,
                   filename: str | None) -> tuple[dict[str, Any], str]:

    w = wcs.celestial
    values = np.asarray(values, dtype=float)
    if values.ndim not in (2, 3):
        raise ValueError(f"a template map must be 2D or 3D (energy, y, x); got shape {values.shape}")
    en = None if energy is None else np.atleast_1d(np.asarray(energy, dtype=float))
    if values.ndim == 3 and (en is None or en.size != values.shape[0]):
        raise ValueError("a 3D template needs one energy (TeV) per plane")
    if values.ndim == 2:
        en = None
    if np.any(values < 0):
        warnings.warn("spatial template has negative values", stacklevel=3)
    geom = sky.geom_from_wcs(w, values.shape[-2:])
    frame = str(geom.attrs["frame"])
    if normalize:
        omega = np.asarray(sky.solid_angle(geom).values, dtype=float)
        total = (values * omega).sum(axis=(-2, -1), keepdims=True)
        values = values / np.where(total > 0, total, 1.0)
        unit = "sr-1"
    else:
        un = u.Unit(unit or "sr-1")
        if un.physical_type == "dimensionless":
            un = u.Unit("sr-1")
        target = u.Unit("cm-2 s-1 TeV-1 sr-1")
        if un.is_equivalent(target):
            values = values * un.to(target)
            un = target
        unit = un.to_string()
    data = {"values": values, "wcs": w, "energy": en, "unit": unit, "normalize": bool(normalize),
            "filename": filename, "shape": values.shape}
    return data, frame


def template_spatial_model(values: Any, wcs: Any = None, energy: Any = None, unit: str = "",
                           normalize: bool = True, filename: str | None = None) -> SpatialModel:
    """Spatial template from a map: a DataArray on a WCS geometry (dims ``y, x`` or
    ``energy_true, y, x``) or a numpy array with an astropy ``wcs`` (and ``energy`` nodes [TeV]
    for 3D maps).

    ``normalize=True`` (default) rescales every energy plane to integrate to 1 (unit ``sr-1``);
    otherwise the map keeps its unit (intensities are converted to ``cm-2 s-1 TeV-1 sr-1``),
    to be multiplied by a norm spectral model. Values are interpolated bilinearly in the pixels
    (0 outside the map) and log-log in energy.

    Examples
    --------
    >>> import numpy as np, xgamma as xg
    >>> from xgamma import sky
    >>> g = xg.wcs_geom((0, 0), 1.0, 0.1, frame="galactic")
    >>> t = template_spatial_model(sky.make_map(np.ones((10, 10)), g))
    >>> round(float(t.integrate_geom(g).sum()), 9)
    1.0
    """

    if isinstance(values, xr.DataArray):
        wcs = sky.wcs_of(values) if wcs is None else wcs
        edim = next((d for d in ("energy_true", "energy") if d in values.dims), None)
        if edim is not None:
            energy = values.coords[edim].values if energy is None else energy
            values = values.transpose(edim, "y", "x")
        else:
            values = values.transpose("y", "x")
        unit = unit or str(values.attrs.get("units", ""))
        values = values.values
    if wcs is None:
        raise ValueError("give the template's WCS")
    data, frame = _template_data(np.asarray(values), wcs, energy, unit, normalize, filename)
    return SpatialModel("TemplateSpatialModel", Parameters(), frame, data)


def _read_energy(hdul: Any, header: Any) -> np.ndarray | None:
    name = header.get("BANDSHDU")
    for hname in ([name] if name else []) + ["ENERGIES", "EBOUNDS"]:
        if hname and hname in hdul:
            tab = hdul[hname]
            cols = {c.name.upper(): c for c in tab.columns}
            for col in ("ENERGY_TRUE", "ENERGY"):
                if col in cols:
                    unit = cols[col].unit or "MeV"
                    return np.asarray(u.Quantity(tab.data[col], unit).to_value("TeV"), dtype=float)
            if "E_MIN" in cols and "E_MAX" in cols:
                lo = u.Quantity(tab.data["E_MIN"], cols["E_MIN"].unit or "keV").to_value("TeV")
                hi = u.Quantity(tab.data["E_MAX"], cols["E_MAX"].unit or "keV").to_value("TeV")
                return np.sqrt(np.asarray(lo, float) * np.asarray(hi, float))
    return None


def read_spatial_template(path: str | Path, hdu: str | int | None = None, normalize: bool = True) -> SpatialModel:
    """Read a spatial template from a FITS image or cube (energies from the ``BANDSHDU`` /
    ``ENERGIES`` table, in any energy unit; map unit from ``BUNIT``).

    Examples
    --------
    >>> from xgamma._paths import data_dir
    >>> d = data_dir(required=False)
    >>> if d is not None:
    ...     t = read_spatial_template(d / "fermi-3fhl-crab" / "Fermi-LAT-3FHL_iem.fits")
    ...     assert t.is_energy_dependent and t.frame == "galactic"
    """
    from astropy.io import fits
    from astropy.wcs import WCS, FITSFixedWarning

    path = Path(path)
    try:
        with fits.open(path) as hdul:
            h = hdul[hdu] if hdu is not None else next(x for x in hdul if getattr(x, "data", None) is not None
                                                        and getattr(x, "is_image", False))
            values = np.asarray(h.data, dtype=float)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FITSFixedWarning)
                w = WCS(h.header).celestial
            energy = _read_energy(hdul, h.header) if values.ndim == 3 else None
            unit = str(h.header.get("BUNIT", "") or "")
    except (OSError, KeyError, StopIteration) as exc:
        raise XgammaIOError(f"cannot read a spatial template: {exc}", path=str(path), hdu=hdu,
                            expected="a FITS image/cube with a celestial WCS") from exc
    if values.ndim == 3 and energy is None:
        raise XgammaIOError("3D template without an energy table", path=str(path), hdu=hdu,
                            expected="BANDSHDU/ENERGIES table with ENERGY or ENERGY_TRUE")
    if values.ndim > 3:
        values = values.reshape(values.shape[-3:])
    data, frame = _template_data(values, w, energy, unit, normalize, str(path))
    return SpatialModel("TemplateSpatialModel", Parameters(), frame, data)


# --------------------------------------------------------------------------------------------
# YAML


def _template_from_dict(data: Mapping[str, Any]) -> SpatialModel:
    if "filename" not in data:
        raise ValueError("TemplateSpatialModel YAML needs 'filename'")
    return read_spatial_template(str(data["filename"]), normalize=bool(data.get("normalize", True)))


def _template_to_dict(d: Mapping[str, Any]) -> dict[str, Any]:
    return {"filename": d.get("filename"), "normalize": bool(d.get("normalize", True)),
            "unit": str(d.get("unit", "sr-1"))}


def _example_template() -> SpatialModel:
    """A small energy-dependent Gaussian blob template (the family's registry example)."""

    g = sky.wcs_geom((184.56, -5.78), 1.6, 0.05, frame="galactic")
    lon, lat = np.asarray(g.glon.values), np.asarray(g.glat.values)
    energy = np.array([0.01, 0.1, 1.0])
    blob = np.exp(-((lon - 184.5) ** 2 + (lat + 5.8) ** 2) / (2 * 0.2**2))
    vals = np.stack([blob * (1 + 0.5 * k * (lon - 184.56)) + 0.05 for k in range(3)]) * energy[:, None, None] ** -2
    return template_spatial_model(vals, sky.wcs_of(g), energy=energy)


register_spatial("TemplateSpatialModel", ("template", "Template", "TemplateSpatial"), (), _template,
                 from_dict=_template_from_dict, extra={"to_dict": _template_to_dict},
                 example=_example_template,
                 description="map interpolated bilinearly (and log-log in energy), 0 outside")
