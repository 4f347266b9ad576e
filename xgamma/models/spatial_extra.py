"""More spatial model families: ``Shell2SpatialModel``, ``ConstantFluxSpatialModel``,
``PiecewiseNormSpatialModel`` and the N-dimensional template ``TemplateNDSpatialModel``.

Registered (kind ``"spatial"``) under Gammapy's names, tags and parameter names:

* ``Shell2SpatialModel`` (``shell2``): the projected uniform spherical shell of
  :mod:`xgamma.models.spatial`, parameterised by its outer radius ``r_0`` and the relative
  width ``eta`` (inner radius ``(1 - eta) r_0``); evaluated through the registered
  ``ShellSpatialModel`` functions (same Lambert radius and band averaging).
* ``ConstantFluxSpatialModel`` (``const-flux``): the same flux in every pixel (the spectral
  model then gives the flux per pixel): ``integrate_geom`` is 1 in every pixel and
  ``evaluate_geom`` is ``1 / pixel solid angle``. Evaluated at sub-pixel samples of side
  ``s`` (as in 3D fits) it is ``1 / s^2`` (the solid angle of a square pixel of that side,
  exact to ``s^2 / 12`` relative, and to the map's projection distortion).
* ``PiecewiseNormSpatialModel`` (``piecewise-norm``): a dimensionless norm given at fixed sky
  nodes ``(lon, lat)`` (free parameters ``norm_0 ... norm_{n-1}``), interpolated by a
  piecewise cubic, C1 Clough-Tocher interpolant (linear in the norms, or in their logarithm with
  ``interp="log"``); 0 outside the nodes' convex hull (Gammapy: NaN).
* ``TemplateNDSpatialModel`` (``templateND``): a stack of template maps along extra parameter
  axes (e.g. a source size); one parameter per axis (named after it, bounded by its nodes).
  Values are interpolated linearly in the logarithm of the map values along the parameter
  axes (Gammapy's default ``values_scale="log"``), then bilinearly in the pixels as
  ``TemplateSpatialModel``.

The models are :class:`SpatialModelExtra` objects: a :class:`~xgamma.models.spatial.SpatialModel`
that reads its evaluation radius, smallest feature, unit and frame handling from its registry
entry.

Examples
--------
>>> from xgamma.models.spatial import spatial_model
>>> s2 = spatial_model("shell2", lon_0=83.6, lat_0=22.0, r_0=0.3, eta=0.2)
>>> s2.type, s2.evaluation_radius
('Shell2SpatialModel', 0.3)
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import astropy.units as u
import numpy as np
import xarray as xr
from scipy.spatial import Delaunay

from xgamma import sky
from xgamma.errors import XgammaIOError
from xgamma.models.params import Parameter, Parameters, merge_parameters
from xgamma.models.registry import ModelSpec, get_spec, register
from xgamma.models.spatial import SpatialModel

__all__ = [
    "SpatialModelExtra",
    "piecewise_norm_spatial_model",
    "template_nd_spatial_model",
    "read_template_nd",
]

_D2R = math.pi / 180.0


@dataclass(frozen=True, eq=False, repr=False)
class SpatialModelExtra(SpatialModel):
    """A spatial model whose geometry hooks come from its registry entry (``spec.extra``).

    Examples
    --------
    >>> m = SpatialModelExtra.create("const-flux")
    >>> m.type, m.to_dict()
    ('ConstantFluxSpatialModel', {'type': 'ConstantFluxSpatialModel'})
    """

    @classmethod
    def create(cls, name: str, frame: str = "icrs", **values: Any) -> SpatialModelExtra:
        spec = get_spec(name, "spatial")
        if spec.extra.get("needs_data"):
            raise ValueError(f"{spec.tag} needs data: use its own constructor")
        m = cls(spec.tag, spec.default_parameters, frame)
        return m.with_values(**values) if values else m

    @property
    def unit(self) -> str:
        return str(self.spec.extra.get("unit", "sr-1"))

    def evaluation_radius_values(self, values: Any) -> float | None:
        fn = self.spec.extra.get("radius")
        return None if fn is None else float(fn(values))

    def bin_size_min_values(self, values: Any) -> float | None:
        fn = self.spec.extra.get("bin_min")
        return None if fn is None else float(fn(values))

    def with_parameters(self, parameters: Parameters) -> SpatialModelExtra:
        if parameters.names != self.params.names:
            raise ValueError(f"{self.tag}: parameter names {parameters.names} != {self.params.names}")
        return SpatialModelExtra(self.tag, parameters, self.frame, self.data)

    def with_values(self, **values: Any) -> SpatialModelExtra:
        return self.with_parameters(super().with_values(**values).params)

    def evaluate_geom(self, geom: Any, energy: Any = None) -> xr.DataArray:
        hook = self.spec.extra.get("evaluate_geom")
        return hook(self, geom) if hook is not None else super().evaluate_geom(geom, energy)

    def integrate_geom(self, geom: Any, oversampling: int | None = None, energy: Any = None) -> xr.DataArray:
        hook = self.spec.extra.get("integrate_geom")
        return hook(self, geom) if hook is not None else super().integrate_geom(geom, oversampling, energy)

    def to_dict(self, full: bool = False) -> dict[str, Any]:
        d = super().to_dict(full)
        if self.spec.extra.get("no_frame"):
            d.pop("frame", None)
        return d


# --------------------------------------------------------------------------------------------
# Shell2: the shell of xgamma.models.spatial with (r_0, eta)


def _as_shell(p: Sequence[Any]) -> tuple[Any, ...]:
    lon_0, lat_0, r_0, eta = p
    return (lon_0, lat_0, (1 - eta) * r_0, eta * r_0)


def _shell2(c: Sequence[Any], p: Sequence[Any], d: Any) -> Any:
    ev = get_spec("ShellSpatialModel", "spatial").evaluate
    assert ev is not None
    return ev(c, _as_shell(p), d)


def _shell2_band(c: Sequence[Any], p: Sequence[Any], d: Any, side: float) -> Any:
    return get_spec("ShellSpatialModel", "spatial").extra["band"](c, _as_shell(p), d, side)


# --------------------------------------------------------------------------------------------
# constant flux per pixel


def _const_flux(c: Sequence[Any], p: Sequence[Any], d: Any) -> Any:
    raise ValueError("ConstantFluxSpatialModel has no value at a point: use evaluate_geom or integrate_geom")


def _const_flux_band(c: Sequence[Any], p: Sequence[Any], d: Any, side: float) -> Any:
    return np.full(np.shape(c[0]), 1.0 / (side * _D2R) ** 2)


def _const_flux_evaluate_geom(model: SpatialModel, geom: Any) -> xr.DataArray:

    omega = sky.solid_angle(geom)
    return (1.0 / omega).rename("surface_brightness").assign_attrs(units="sr-1")


def _const_flux_integrate_geom(model: SpatialModel, geom: Any) -> xr.DataArray:

    omega = sky.solid_angle(geom)
    return xr.ones_like(omega).rename("flux_fraction").assign_attrs(units="")


# --------------------------------------------------------------------------------------------
# piecewise norm on sky nodes


def _wrap(lon: Any, centre: float) -> Any:
    return (np.asarray(lon, dtype=float) - centre + 180.0) % 360.0 - 180.0 + centre


class _Triangulation(Delaunay):
    """The nodes' Delaunay triangulation, built once with the model (10x faster evaluations);
    equal when the nodes are."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Delaunay) and np.array_equal(self.points, other.points)

    __hash__ = None  # type: ignore[assignment]


def _piecewise(c: Sequence[Any], p: Sequence[Any], d: Mapping[str, Any]) -> Any:
    from scipy.interpolate import CloughTocher2DInterpolator

    # the interpolant is linear in the node values: interpolate the unit vectors once, then
    # combine (norms may be arrays broadcasting with the coordinates, e.g. samples)
    if "triangulation" not in d:
        raise ValueError("PiecewiseNormSpatialModel needs nodes: use piecewise_norm_spatial_model")
    log = d.get("interp", "lin") == "log"
    centre = float(d["lon_centre"])
    tri = d["triangulation"]
    interp = CloughTocher2DInterpolator(tri, np.eye(tri.points.shape[0]), fill_value=np.nan)
    lon, lat = np.asarray(c[0], dtype=float), np.asarray(c[1], dtype=float)
    weights = interp(_wrap(lon, centre), lat)  # (..., n)
    out: Any = 0.0
    for k, v in enumerate(p):
        vk = np.asarray(v, dtype=float)
        if log:
            with np.errstate(divide="ignore"):
                vk = np.log(np.maximum(vk, 1e-300))
        out = out + weights[..., k] * vk
    out = np.exp(out) if log else out
    return np.where(np.isfinite(out), out, 0.0)


def piecewise_norm_spatial_model(lon: Any, lat: Any, norms: Any = None, frame: str = "icrs",
                                 interp: str = "lin") -> SpatialModelExtra:
    """A ``PiecewiseNormSpatialModel``: norms at sky nodes ``(lon, lat)`` [deg], at least 4.

    Examples
    --------
    >>> m = piecewise_norm_spatial_model([0, 1, 0, 1], [0, 0, 1, 1], [1.0, 2.0, 1.0, 2.0], frame="galactic")
    >>> m.parameters.names, round(float(m(0.5, 0.5)), 6)
    (('norm_0', 'norm_1', 'norm_2', 'norm_3'), 1.5)
    """
    lon = np.atleast_1d(np.asarray(lon, dtype=float))
    lat = np.atleast_1d(np.asarray(lat, dtype=float))
    if lon.shape != lat.shape or lon.ndim != 1:
        raise ValueError("lon and lat nodes must be 1D and of the same length")
    n = lon.size
    vals = np.ones(n) if norms is None else np.asarray(norms, dtype=float)
    if vals.shape != (n,):
        raise ValueError(f"need one norm per node ({n}), got {vals.shape}")
    if n < 4:
        raise ValueError("PiecewiseNormSpatialModel needs at least 4 nodes")
    if interp not in ("lin", "log"):
        raise ValueError(f"interp must be 'lin' or 'log', got {interp!r}")
    w = _wrap(lon, 0.0)
    centre = float(np.degrees(np.arctan2(np.sin(w * _D2R).mean(), np.cos(w * _D2R).mean())))
    pars = Parameters(Parameter(f"norm_{k}", float(v)) for k, v in enumerate(vals))
    tri = _Triangulation(np.column_stack([_wrap(lon, centre), lat]))
    data = {"lon": lon, "lat": lat, "interp": interp, "lon_centre": centre, "triangulation": tri}
    return SpatialModelExtra("PiecewiseNormSpatialModel", pars, frame, data)


def _piecewise_to_dict(d: Mapping[str, Any]) -> dict[str, Any]:
    return {"lon": {"data": [float(x) for x in d["lon"]], "unit": "deg"},
            "lat": {"data": [float(x) for x in d["lat"]], "unit": "deg"}, "interp": str(d.get("interp", "lin"))}


def _piecewise_from_dict(data: Mapping[str, Any]) -> SpatialModelExtra:
    def deg(key: str) -> np.ndarray:
        if key not in data:
            raise ValueError(f"PiecewiseNormSpatialModel YAML needs {key!r}")
        ent = data[key]
        return np.asarray(u.Quantity(ent["data"], ent.get("unit", "deg") or "deg").to_value("deg"), dtype=float)

    lon, lat = deg("lon"), deg("lat")
    m = piecewise_norm_spatial_model(lon, lat, frame=str(data.get("frame", "icrs")),
                                     interp=str(data.get("interp", "lin")))
    return m.with_parameters(merge_parameters(m.params, data.get("parameters"), m.tag))


# --------------------------------------------------------------------------------------------
# N-dimensional template


def _nd_image(values: np.ndarray, nodes: Sequence[np.ndarray], p: Sequence[Any]) -> np.ndarray:
    """The template at parameter values ``p``: log-linear interpolation along each axis."""
    img = values
    for ax_nodes, v in zip(nodes, p, strict=True):
        x = float(np.clip(float(v), ax_nodes[0], ax_nodes[-1]))
        if ax_nodes.size == 1:
            img = img[0]
            continue
        i = int(np.clip(np.searchsorted(ax_nodes, x, side="right") - 1, 0, ax_nodes.size - 2))
        f = (x - ax_nodes[i]) / (ax_nodes[i + 1] - ax_nodes[i])
        a, b = img[i], img[i + 1]
        with np.errstate(divide="ignore", invalid="ignore", under="ignore"):
            logv = np.exp((1 - f) * np.log(np.maximum(a, 1e-300)) + f * np.log(np.maximum(b, 1e-300)))
        img = np.where((a > 0) & (b > 0), logv, np.clip((1 - f) * a + f * b, 0.0, None))
    return img


def _template_nd(c: Sequence[Any], p: Sequence[Any], d: Mapping[str, Any]) -> Any:
    if "values" not in d:
        raise ValueError("TemplateNDSpatialModel needs maps: use template_nd_spatial_model or read_template_nd")
    ev = get_spec("TemplateSpatialModel", "spatial").evaluate
    assert ev is not None
    if all(np.ndim(v) == 0 for v in p):
        img = _nd_image(d["values"], d["nodes"], p)
        return ev(c, (), {"values": img, "wcs": d["wcs"], "energy": d.get("energy")})
    # parameter arrays (samples): one image per distinct set of values
    arrs = np.broadcast_arrays(*[np.asarray(x, dtype=float) for x in c if x is not None],
                               *[np.asarray(v, dtype=float) for v in p])
    n_c = len(arrs) - len(p)
    flat = np.stack([a.ravel() for a in arrs[n_c:]], axis=1)
    uniq, inv = np.unique(flat, axis=0, return_inverse=True)
    out = np.empty(arrs[0].size)
    for k, row in enumerate(uniq):
        sel = inv.ravel() == k
        out[sel] = _template_nd([a.ravel()[sel] for a in arrs[:n_c]], list(row), d)
    return out.reshape(arrs[0].shape)


def template_nd_spatial_model(values: Any, wcs: Any = None, axes: Mapping[str, Any] | None = None,
                              energy: Any = None, unit: str = "", filename: str | None = None) -> SpatialModelExtra:
    """A ``TemplateNDSpatialModel`` from a stack of maps.

    ``values``: a DataArray with dims ``(*params, [energy_true,] y, x)`` on a WCS geometry
    (parameter axes are the dims other than ``energy_true``, ``y``, ``x``, with their node
    coordinates), or a numpy array with ``wcs`` and ``axes`` (``{name: nodes}``, in order).
    Each parameter starts at the middle of its nodes' range and is bounded by them.

    Examples
    --------
    >>> import numpy as np, xgamma as xg
    >>> from xgamma import sky
    >>> g = xg.wcs_geom((0, 0), 1.0, 0.1, frame="galactic")
    >>> r2 = (g.glon.where(g.glon < 180, g.glon - 360) ** 2 + g.glat**2).values
    >>> cube = np.stack([np.exp(-0.5 * r2 / s**2) for s in (0.1, 0.2, 0.3)])
    >>> t = template_nd_spatial_model(cube, sky.wcs_of(g), axes={"sigma": [0.1, 0.2, 0.3]})
    >>> t.parameters["sigma"].value, t.parameters["sigma"].max
    (0.2, 0.3)
    """

    if isinstance(values, xr.DataArray):
        wcs = sky.wcs_of(values) if wcs is None else wcs
        edim = "energy_true" if "energy_true" in values.dims else None
        pdims = [d for d in values.dims if d not in ("energy_true", "y", "x")]
        axes = {str(d): np.asarray(values.coords[d].values, dtype=float) for d in pdims}
        if edim is not None:
            energy = values.coords[edim].values if energy is None else energy
        values = values.transpose(*pdims, *([edim] if edim else []), "y", "x")
        unit = unit or str(values.attrs.get("units", ""))
        values = values.values
    if wcs is None or not axes:
        raise ValueError("give the template's WCS and at least one parameter axis")
    arr = np.asarray(values, dtype=float)
    nodes = [np.asarray(v, dtype=float) for v in axes.values()]
    n_extra = 1 if energy is not None else 0
    if arr.ndim != len(nodes) + 2 + n_extra or any(arr.shape[i] != n.size for i, n in enumerate(nodes)):
        raise ValueError(f"template shape {arr.shape} does not match axes {[n.size for n in nodes]}"
                         f"{' + energy' if n_extra else ''} + (y, x)")
    for name, n in zip(axes, nodes, strict=True):
        if n.size > 1 and np.any(np.diff(n) <= 0):
            raise ValueError(f"nodes of axis {name!r} must increase")
    if np.any(arr < 0):
        warnings.warn("TemplateNDSpatialModel has negative values", stacklevel=2)
    geom = sky.geom_from_wcs(wcs.celestial, arr.shape[-2:])
    frame = str(geom.attrs["frame"])
    un = u.Unit(unit or "sr-1")
    pars = Parameters(Parameter(str(k), float((n[0] + n[-1]) / 2), min=float(n[0]), max=float(n[-1]))
                      for k, n in zip(axes, nodes, strict=True))
    en = None if energy is None else np.atleast_1d(np.asarray(energy, dtype=float))
    data = {"values": arr, "wcs": wcs.celestial, "nodes": nodes, "axes": tuple(str(k) for k in axes),
            "energy": en, "unit": un.to_string(), "filename": filename}
    return SpatialModelExtra("TemplateNDSpatialModel", pars, frame, data)


def read_template_nd(path: str | Path, hdu: str | int | None = None) -> SpatialModelExtra:
    """Read an N-dimensional template: a FITS image HDU of shape ``(*params, [energy,] y, x)``
    (FITS axis order reversed) with a celestial WCS, and a ``BANDS`` table (or the HDU named by
    ``BANDSHDU``) with one column per parameter axis (its node values, one row per plane, as
    Gammapy's map files store non-spatial axes) and optionally ``ENERGY``/``ENERGY_TRUE``.

    Examples
    --------
    >>> read_template_nd.__name__
    'read_template_nd'
    """
    from astropy.io import fits
    from astropy.wcs import WCS, FITSFixedWarning

    path = Path(path)
    try:
        with fits.open(path) as hdul:
            h = hdul[hdu] if hdu is not None else next(x for x in hdul if getattr(x, "is_image", False)
                                                        and getattr(x, "data", None) is not None)
            values = np.asarray(h.data, dtype=float)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FITSFixedWarning)
                w = WCS(h.header).celestial
            bname = h.header.get("BANDSHDU", "BANDS")
            tab = hdul[bname]
            names = [c.name for c in tab.columns]
            cols = {n: np.asarray(tab.data[n], dtype=float) for n in names}
            unit = str(h.header.get("BUNIT", "") or "")
    except (OSError, KeyError, StopIteration) as exc:
        raise XgammaIOError(f"cannot read an N-dimensional template: {exc}", path=str(path), hdu=hdu,
                            expected="image HDU (*params, y, x) and a BANDS table") from exc
    energy = None
    for ename in ("ENERGY_TRUE", "ENERGY"):
        if ename in cols:
            energy = np.unique(cols.pop(ename))
            break
    skip = {"CHANNEL"} | {n for n in cols if n.endswith(("_MIN", "_MAX"))}
    axes = {n.lower(): np.unique(v) for n, v in cols.items() if n not in skip}
    shape = tuple(a.size for a in axes.values()) + ((energy.size,) if energy is not None else ()) + values.shape[-2:]
    if int(np.prod(shape)) != values.size:
        raise XgammaIOError(f"template of {values.size} values does not fit axes {shape}", path=str(path))
    return template_nd_spatial_model(values.reshape(shape), w, axes, energy=energy, unit=unit, filename=str(path))


def _template_nd_to_dict(d: Mapping[str, Any]) -> dict[str, Any]:
    return {"filename": d.get("filename"), "unit": str(d.get("unit", "sr-1"))}


def _template_nd_from_dict(data: Mapping[str, Any]) -> SpatialModelExtra:
    if "filename" not in data or not data["filename"]:
        raise ValueError("TemplateNDSpatialModel YAML needs 'filename'")
    m = read_template_nd(str(data["filename"]))
    return m.with_parameters(merge_parameters(m.params, data.get("parameters"), m.tag))


# --------------------------------------------------------------------------------------------
# registration

_P = Parameter
_STEPS = {"lon_0": 0.01, "lat_0": 0.01, "r_0": 0.01, "eta": 0.01}


def _from_dict(data: Mapping[str, Any]) -> SpatialModelExtra:
    spec = get_spec(str(data["type"]), "spatial")
    pars = merge_parameters(spec.default_parameters, data.get("parameters"), spec.tag)
    return SpatialModelExtra(spec.tag, pars, str(data.get("frame", "icrs")))


def _reg(tag: str, aliases: tuple[str, ...], params: tuple[Parameter, ...], evaluate: Any, **kw: Any) -> None:
    extra: dict[str, Any] = {"steps": {k: v for k, v in _STEPS.items() if k in {p.name for p in params}}}
    extra.update(kw.pop("extra", {}))
    extra["model_class"] = SpatialModelExtra  # SpatialModel.create builds this class
    register(ModelSpec(tag, "spatial", aliases, params, evaluate, from_dict=kw.pop("from_dict", _from_dict),
                       extra=extra, **kw))


def _example_piecewise() -> SpatialModelExtra:
    lon = 83.6 + np.array([-0.6, 0.6, -0.6, 0.6, 0.0, -0.3, 0.3])
    lat = 22.0 + np.array([-0.6, -0.6, 0.6, 0.6, 0.0, 0.3, -0.3])
    return piecewise_norm_spatial_model(lon, lat, [1.0, 1.5, 0.8, 1.2, 2.0, 1.4, 1.1])


def _example_template_nd() -> SpatialModelExtra:

    g = sky.wcs_geom((83.6, 22.0), 1.6, 0.02)
    dx = (np.asarray(g.ra.values) - 83.6) * math.cos(math.radians(22.0))
    r2 = dx**2 + (np.asarray(g.dec.values) - 22.0) ** 2
    sig = np.array([0.05, 0.1, 0.2])
    cube = np.stack([np.exp(-0.5 * r2 / s**2) / (2 * np.pi * math.radians(s) ** 2) for s in sig])
    return template_nd_spatial_model(cube, sky.wcs_of(g), {"sigma": sig}).with_values(sigma=0.08)


_reg("Shell2SpatialModel", ("shell2", "Shell2"),
     (_P("lon_0", 0.0, "deg"), _P("lat_0", 0.0, "deg", min=-90, max=90), _P("r_0", 1.0, "deg", min=0),
      _P("eta", 0.2, min=0.02, max=1.0)), _shell2,
     extra={"band": _shell2_band, "radius": lambda p: abs(p[2]), "bin_min": lambda p: abs(p[2] * p[3]) / 2},
     example=lambda: SpatialModelExtra.create("shell2", lon_0=83.6, lat_0=22.0, r_0=0.4, eta=0.25),
     description="projected uniform spherical shell, outer radius r_0, inner radius (1 - eta) r_0")
_reg("ConstantFluxSpatialModel", ("const-flux", "ConstantFlux"), (), _const_flux,
     example=lambda: SpatialModelExtra.create("const-flux"),
     extra={"band": _const_flux_band, "no_frame": True, "evaluate_geom": _const_flux_evaluate_geom,
            "integrate_geom": _const_flux_integrate_geom},
     description="the same flux in every pixel (integrate_geom = 1 per pixel)")
_reg("PiecewiseNormSpatialModel", ("piecewise-norm", "PiecewiseNorm"), (), _piecewise,
     from_dict=_piecewise_from_dict, example=_example_piecewise,
     extra={"to_dict": _piecewise_to_dict, "unit": "", "needs_data": True},
     description="norms at sky nodes, Clough-Tocher interpolation (lin or log), 0 outside the nodes")
_reg("TemplateNDSpatialModel", ("templateND", "TemplateND"), (), _template_nd,
     from_dict=_template_nd_from_dict, example=_example_template_nd,
     extra={"to_dict": _template_nd_to_dict, "needs_data": True},
     description="template maps along parameter axes, log-linear in the parameters, bilinear in pixels")
