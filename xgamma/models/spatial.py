"""Spatial models: pure functions of sky coordinates and parameter values, in ``sr-1``.

Every model type is registered in :mod:`xgamma.models.registry` (kind ``"spatial"``) under its
Gammapy class name and short aliases: ``PointSpatialModel`` (``point``),
``GaussianSpatialModel`` (``gauss``), ``GeneralizedGaussianSpatialModel`` (``gauss-general``),
``DiskSpatialModel`` (``disk``), ``ShellSpatialModel`` (``shell``), ``ConstantSpatialModel``
(``const``) and ``TemplateSpatialModel`` (``template``). Parameters follow Gammapy's names and
units (``lon_0``, ``lat_0``, ``sigma``, ``r_0`` in deg; ``e`` eccentricity; ``phi`` position
angle of the major semi-axis, east of north).

This module holds the analytic models, the :class:`SpatialModel` object, frame conversion,
pixel integration, YAML construction and the registration of all types. The template
machinery (map evaluation, construction, FITS reading, YAML dict round trip) lives in
:mod:`xgamma.models.spatial_template`; :func:`template_spatial_model` and
:func:`read_spatial_template` are re-exported here.

Conventions
-----------
* A model is evaluated at ``(lon, lat)`` in deg **in its own frame** (``icrs`` or
  ``galactic``); :meth:`SpatialModel.evaluate_geom` and :meth:`SpatialModel.integrate_geom`
  convert a map's coordinates when the frames differ (an exact rotation, numpy/dask safe).
* Values are surface brightness in ``sr-1``, normalised so that the integral over the sky is 1
  (templates with ``normalize=False`` keep their map unit, e.g. ``cm-2 s-1 TeV-1 sr-1``).
* The radial coordinate of the analytic models is the Lambert azimuthal equal-area radius
  ``rho = 2 sin(r / 2)`` around ``(lon_0, lat_0)`` (``r`` the angular distance): areas are
  exact in it, so a profile normalised in the plane is normalised on the sphere. For circular
  Gaussians this is exactly Gammapy's ``exp(-(1 - cos r) / (2 (1 - cos sigma)))``; ellipses
  have semi-axes ``a = 2 sin(A / 2)`` and ``b = a sqrt(1 - e^2)``.
* Pixel integration (:meth:`SpatialModel.integrate_geom`): the point source puts its flux on
  the (up to) four pixels around it with bilinear weights (the flux centroid is the source
  position, so npred varies smoothly with it); the other models are averaged over
  ``n x n`` sub-pixels per pixel, with ``n = ceil(pixel size / bin_size_min)`` capped at
  :data:`MAX_OVERSAMPLING`, where ``bin_size_min`` is ``sigma_minor / 3`` (Gaussian),
  ``r_minor / (3 + 8 eta)`` (generalized Gaussian), ``r_minor / 10`` (disk) and ``width / 2``
  (shell); templates and the constant model are sampled at pixel centres. The disk and the
  shell have sharp edges: each of their sub-pixels takes the exact average of the profile over
  a radial band as wide as the sub-pixel (:mod:`xgamma.models._radial`), so that pixel
  integrals, and fit statistics, vary smoothly with position and size.
* ``evaluation_radius`` (deg) bounds the region where a model matters: point 0, Gaussian
  ``5 sigma``, generalized Gaussian ``r_0 (1 + 8 eta)``, disk ``1.1 r_0 (1 + edge_width)``,
  shell ``radius + width``; ``None`` for constant and template models (whole map).

Examples
--------
>>> import numpy as np
>>> from xgamma.models.spatial import spatial_model
>>> g = spatial_model("gauss", lon_0=83.63, lat_0=22.01, sigma=0.2)
>>> v = g(np.array([83.63]), np.array([22.01]))        # peak: 1 / (4 pi (1 - cos sigma))
>>> bool(np.isclose(v[0], 1 / (4 * np.pi * (1 - np.cos(np.radians(0.2))))))
True
>>> g.evaluation_radius
1.0
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import astropy.units as u
import numpy as np
import xarray as xr
from scipy.special import erfc
from scipy.special import gamma as gamma_fn

from xgamma import sky
from xgamma.models._radial import band_mean, disk_enclosed, erfc_moment_total, shell_enclosed
from xgamma.models.base import RegisteredModel
from xgamma.models.params import Parameter, Parameters, merge_parameters
from xgamma.models.registry import ModelSpec, apply_elementwise, get_spec, register, to_unit

__all__ = [
    "FRAMES",
    "MAX_OVERSAMPLING",
    "SpatialModel",
    "spatial_model",
    "spatial_from_dict",
    "as_spatial_model",
    "example_spatial_model",
    "convert_lonlat",
    "frame_matrix",
    "tent_weights",
    "oversampling_factor",
]

#: Supported sky frames.
FRAMES = ("icrs", "galactic")
#: Largest sub-pixel factor (per axis) used to integrate small models over pixels.
MAX_OVERSAMPLING = 16
_D2R = math.pi / 180.0
_EDGE_95 = 2.326174307353347  # erf(x * k) drops from 95% to 5% over |x| <= 1/2
#: Parameter values: a sequence or a numpy vector, in the order of the model's parameters.
Values = Sequence[Any] | np.ndarray


# --------------------------------------------------------------------------------------------
# frames and spherical geometry (pure numpy: works elementwise on numpy, dask and DataArrays)


def frame_matrix(src: str, dst: str) -> np.ndarray:
    """Rotation matrix ``M`` with ``v_dst = M @ v_src`` between ``icrs`` and ``galactic``.

    Examples
    --------
    >>> m = frame_matrix("icrs", "galactic")
    >>> bool(np.allclose(m @ m.T, np.eye(3)) and np.allclose(frame_matrix("galactic", "icrs"), m.T))
    True
    """
    src, dst = _frame(src), _frame(dst)
    if src == dst:
        return np.eye(3)
    from astropy.coordinates import ICRS, CartesianRepresentation, Galactic

    cls = {"icrs": ICRS, "galactic": Galactic}
    basis = cls[src](CartesianRepresentation(np.eye(3)))
    return np.asarray(basis.transform_to(cls[dst]()).cartesian.xyz.value, dtype=float)


def convert_lonlat(lon: Any, lat: Any, src: str, dst: str) -> tuple[Any, Any]:
    """Convert ``(lon, lat)`` [deg] from frame ``src`` to ``dst`` (exact rotation).

    Works elementwise on numpy and dask arrays and DataArrays (lazy input stays lazy).

    Examples
    --------
    >>> lon, lat = convert_lonlat(266.404988, -28.936178, "icrs", "galactic")  # Galactic centre
    >>> bool(min(lon, 360 - lon) < 1e-4 and abs(lat) < 1e-4)
    True
    """
    if _frame(src) == _frame(dst):
        return lon, lat
    m = frame_matrix(src, dst)
    lo, la = lon * _D2R, lat * _D2R
    cl = np.cos(la)
    x, y, z = cl * np.cos(lo), cl * np.sin(lo), np.sin(la)
    xn = m[0, 0] * x + m[0, 1] * y + m[0, 2] * z
    yn = m[1, 0] * x + m[1, 1] * y + m[1, 2] * z
    zn = m[2, 0] * x + m[2, 1] * y + m[2, 2] * z
    lon_n = np.mod(np.arctan2(yn, xn) / _D2R, 360.0)
    lat_n = np.arctan2(zn, np.hypot(xn, yn)) / _D2R
    return lon_n, lat_n


def _frame(frame: str) -> str:
    f = str(frame).lower()
    if f == "fk5":
        f = "icrs"
    if f not in FRAMES:
        raise ValueError(f"frame must be one of {FRAMES}, got {frame!r}")
    return f


def lambert_offsets(lon: Any, lat: Any, lon0: Any, lat0: Any) -> tuple[Any, Any]:
    """Lambert azimuthal equal-area offsets (east, north) [rad] of ``(lon, lat)`` around
    ``(lon0, lat0)``: ``|offset| = 2 sin(r / 2)`` with ``r`` the angular distance."""
    lo, la, lo0, la0 = lon * _D2R, lat * _D2R, lon0 * _D2R, lat0 * _D2R
    dlon = lo - lo0
    cl, sl, cl0, sl0 = np.cos(la), np.sin(la), np.cos(la0), np.sin(la0)
    east = cl * np.sin(dlon)
    north = cl0 * sl - sl0 * cl * np.cos(dlon)
    hav = np.sin((la - la0) / 2) ** 2 + cl * cl0 * np.sin(dlon / 2) ** 2
    k = 1.0 / np.sqrt(np.maximum(1.0 - hav, 1e-30))  # 1 / cos(r / 2)
    return east * k, north * k


def _ellipse_pq(lon: Any, lat: Any, lon0: Any, lat0: Any, major: Any, e: Any, phi: Any) -> tuple[Any, ...]:
    """Lambert offsets ``p`` (along the major axis), ``q`` and the semi-axes ``a``, ``b`` [rad]."""
    east, north = lambert_offsets(lon, lat, lon0, lat0)
    a = 2 * np.sin(np.abs(major) * _D2R / 2)
    b = a * np.sqrt(np.clip(1 - e**2, 1e-12, 1.0))
    sp, cp = np.sin(phi * _D2R), np.cos(phi * _D2R)
    return east * sp + north * cp, east * cp - north * sp, a, b


def _ellipse_t(lon: Any, lat: Any, lon0: Any, lat0: Any, major: Any, e: Any, phi: Any) -> tuple[Any, Any, Any]:
    """Elliptical radius ``t`` (1 on the ellipse) and the Lambert semi-axes ``a``, ``b`` [rad]."""
    p, q, a, b = _ellipse_pq(lon, lat, lon0, lat0, major, e, phi)
    return np.sqrt((p / a) ** 2 + (q / b) ** 2), a, b


# --------------------------------------------------------------------------------------------
# the model functions: f((lon, lat[, energy]), p, data), p in the order of the spec's parameters


def _gauss(c: Sequence[Any], p: Sequence[Any], d: Any) -> Any:
    lon_0, lat_0, sigma, e, phi = p
    t, a, b = _ellipse_t(c[0], c[1], lon_0, lat_0, sigma, e, phi)
    return np.exp(-0.5 * t**2) / (2 * np.pi * a * b)


def _gen_gauss(c: Sequence[Any], p: Sequence[Any], d: Any) -> Any:
    lon_0, lat_0, r_0, eta, e, phi = p
    t, a, b = _ellipse_t(c[0], c[1], lon_0, lat_0, r_0, e, phi)
    return np.exp(-(t ** (1.0 / eta))) / (2 * np.pi * a * b * eta * gamma_fn(2 * eta))


def _disk_area(ew: Any) -> Any:
    """``int_0^inf 0.5 erfc(k (t - 1) / ew) 2 pi t dt`` (exact)."""
    return np.pi * erfc_moment_total(_EDGE_95 / np.maximum(ew, 1e-9))


def _disk(c: Sequence[Any], p: Sequence[Any], d: Any) -> Any:
    lon_0, lat_0, r_0, e, phi, edge_width = p
    t, a, b = _ellipse_t(c[0], c[1], lon_0, lat_0, r_0, e, phi)
    ew = np.maximum(edge_width, 1e-9)
    return 0.5 * erfc(_EDGE_95 * (t - 1) / ew) / (a * b * _disk_area(ew))


def _shell(c: Sequence[Any], p: Sequence[Any], d: Any) -> Any:
    lon_0, lat_0, radius, width = p
    east, north = lambert_offsets(c[0], c[1], lon_0, lat_0)
    rho2 = east**2 + north**2
    ri = 2 * np.sin(np.abs(radius) * _D2R / 2)
    ro = 2 * np.sin((np.abs(radius) + np.abs(width)) * _D2R / 2)
    norm = 3 / (2 * np.pi * (ro**3 - ri**3))
    return norm * (np.sqrt(np.maximum(ro**2 - rho2, 0.0)) - np.sqrt(np.maximum(ri**2 - rho2, 0.0)))


def _disk_band(c: Sequence[Any], p: Sequence[Any], d: Any, side: float) -> Any:
    """:func:`_disk` averaged over radial bands of the sample size ``side`` [deg]."""
    lon_0, lat_0, r_0, e, phi, edge_width = p
    pp, qq, a, b = _ellipse_pq(c[0], c[1], lon_0, lat_0, r_0, e, phi)
    t = np.sqrt((pp / a) ** 2 + (qq / b) ** 2)
    # half band width in t: half the sample size times |grad t| (1 / b at the centre)
    grad = np.sqrt((pp / a**2) ** 2 + (qq / b**2) ** 2) / np.maximum(t, 1e-300)
    dt = 0.5 * side * _D2R * np.where(t > 0, grad, 1.0 / b)
    k = _EDGE_95 / np.maximum(edge_width, 1e-9)
    return band_mean(lambda x: disk_enclosed(x, k), t, dt) / (a * b)


def _shell_band(c: Sequence[Any], p: Sequence[Any], d: Any, side: float) -> Any:
    """:func:`_shell` averaged over radial bands of the sample size ``side`` [deg]."""
    lon_0, lat_0, radius, width = p
    east, north = lambert_offsets(c[0], c[1], lon_0, lat_0)
    ri = 2 * np.sin(np.abs(radius) * _D2R / 2)
    ro = 2 * np.sin((np.abs(radius) + np.abs(width)) * _D2R / 2)
    return band_mean(lambda x: shell_enclosed(x, ri, ro), np.sqrt(east**2 + north**2), 0.5 * side * _D2R)


def _const(c: Sequence[Any], p: Sequence[Any], d: Any) -> Any:
    return p[0] * np.ones_like(c[0] * 1.0)


# --- per-model geometry helpers (evaluation radius, smallest feature) in deg, from p


def _minor(major: float, e: float) -> float:
    return abs(major) * math.sqrt(max(1 - e**2, 0.0))


_RADIUS: dict[str, Callable[[Any], float]] = {
    "PointSpatialModel": lambda p: 0.0,
    "GaussianSpatialModel": lambda p: 5 * abs(p[2]),
    "GeneralizedGaussianSpatialModel": lambda p: abs(p[2]) * (1 + 8 * p[3]),
    "DiskSpatialModel": lambda p: 1.1 * abs(p[2]) * (1 + p[5]),
    "ShellSpatialModel": lambda p: abs(p[2]) + abs(p[3]),
}
_BIN_MIN: dict[str, Callable[[Any], float]] = {
    "GaussianSpatialModel": lambda p: _minor(p[2], p[3]) / 3,
    "GeneralizedGaussianSpatialModel": lambda p: _minor(p[2], p[4]) / (3 + 8 * p[3]),
    "DiskSpatialModel": lambda p: _minor(p[2], p[3]) / 10,
    "ShellSpatialModel": lambda p: abs(p[3]) / 2,
}


def oversampling_factor(bin_size_min: float | None, binsz: float, max_factor: int = MAX_OVERSAMPLING) -> int:
    """Sub-pixels per axis to integrate a model whose smallest feature is ``bin_size_min``.

    Examples
    --------
    >>> oversampling_factor(0.01, 0.05), oversampling_factor(None, 0.05), oversampling_factor(1.0, 0.05)
    (5, 1, 1)
    """
    if bin_size_min is None or not bin_size_min > 0:
        return 1 if bin_size_min is None else max_factor
    return int(min(max(math.ceil(binsz / bin_size_min - 1e-9), 1), max_factor))


def tent_weights(x0: float, y0: float, shape: tuple[int, int]) -> np.ndarray:
    """Bilinear ("tent") weights of a point at pixel position ``(x0, y0)`` on a grid ``shape``.

    Up to four pixels get ``(1 - |dx|)(1 - |dy|)``; their centroid is ``(x0, y0)``.

    Examples
    --------
    >>> tent_weights(1.25, 1.0, (3, 3)).round(2).tolist()
    [[0.0, 0.0, 0.0], [0.0, 0.75, 0.25], [0.0, 0.0, 0.0]]
    """
    ny, nx = shape
    wx = np.clip(1 - np.abs(np.arange(nx) - x0), 0, None)
    wy = np.clip(1 - np.abs(np.arange(ny) - y0), 0, None)
    return wy[:, None] * wx[None, :]


# --------------------------------------------------------------------------------------------
# model object


@dataclass(frozen=True, eq=False, repr=False)
class SpatialModel(RegisteredModel):
    """A registered spatial model type with its parameters, frame and fixed data (templates).

    Examples
    --------
    >>> m = SpatialModel.create("disk", frame="galactic", r_0="0.3 deg")
    >>> m.type, m.frame, m.parameters["r_0"].value
    ('DiskSpatialModel', 'galactic', 0.3)
    >>> m.with_values(lon_0=1.0).position
    (1.0, 0.0)
    """

    tag: str
    params: Parameters
    frame: str = "icrs"
    data: Mapping[str, Any] = field(default_factory=dict)

    kind = "spatial"
    identity_fields = ("frame",)
    data_ignore = ("wcs",)

    def __post_init__(self) -> None:
        object.__setattr__(self, "frame", _frame(self.frame))

    @classmethod
    def create(cls, name: str, frame: str = "icrs", **values: Any) -> SpatialModel:
        """Model ``name`` with default parameters, some values overridden."""
        spec = get_spec(name, "spatial")
        if spec.tag == "TemplateSpatialModel":
            raise ValueError("a template needs a map: use template_spatial_model or read_spatial_template")
        cls = spec.extra.get("model_class", cls)  # families registered elsewhere may subclass
        m = cls(spec.tag, spec.default_parameters, frame)
        return m.with_values(**values) if values else m

    @property
    def unit(self) -> str:
        """Unit of ``model(lon, lat)``: ``sr-1`` (or a template's map unit)."""
        return str(self.data.get("unit", "sr-1")) if self.tag == "TemplateSpatialModel" else "sr-1"

    @property
    def is_point(self) -> bool:
        return self.tag == "PointSpatialModel"

    @property
    def is_energy_dependent(self) -> bool:
        return self.data.get("energy") is not None

    @property
    def position(self) -> tuple[float, float] | None:
        """``(lon_0, lat_0)`` in deg in the model frame (``None`` for constant/template)."""
        if "lon_0" not in self.params.names:
            return None
        return self.params["lon_0"].value, self.params["lat_0"].value

    def position_values(self, values: Values) -> tuple[float, float] | None:
        """Position from a vector of parameter values (as :attr:`parameters`)."""
        if "lon_0" not in self.params.names:
            return None
        return float(values[self.params.index("lon_0")]), float(values[self.params.index("lat_0")])

    def evaluation_radius_values(self, values: Values) -> float | None:
        fn = _RADIUS.get(self.tag)
        return None if fn is None else float(fn(values))

    @property
    def evaluation_radius(self) -> float | None:
        """Radius (deg) beyond which the model is negligible (``None``: the whole sky/map)."""
        return self.evaluation_radius_values(self.params.values)

    def bin_size_min_values(self, values: Values) -> float | None:
        fn = _BIN_MIN.get(self.tag)
        return None if fn is None else float(fn(values))

    # --- numpy core
    def evaluate_values(self, lon: Any, lat: Any, values: Values, energy: Any = None,
                        sample: float | None = None) -> Any:
        """Surface brightness at ``(lon, lat)`` [deg, model frame] for parameter ``values``.

        ``sample`` [deg]: the side of the (sub-)pixel each point stands for. Models with sharp
        edges (disk, shell) then return their exact average over a radial band of that width
        (:mod:`xgamma.models._radial`), so pixel integrals vary smoothly with the parameters.
        """
        ev = self.spec.evaluate
        if ev is None:
            raise ValueError("a point source has no surface brightness; use integrate_geom")
        coords = (lon, lat) if energy is None else (lon, lat, energy)
        band = self.spec.extra.get("band")
        if sample is not None and sample > 0 and band is not None:
            return band(coords, tuple(values), self.data, float(sample))
        return ev(coords, tuple(values), self.data)

    def __call__(self, lon: Any, lat: Any, energy: Any = None, **overrides: Any) -> Any:
        """Surface brightness [sr-1] at ``lon``, ``lat`` (deg, in the model frame).

        Inputs may be numpy or dask arrays or DataArrays (output keeps dims and laziness);
        keyword arguments override parameter values. ``energy`` [TeV] for energy-dependent
        templates.
        """
        names = list(overrides)
        ov = [to_unit(overrides[n], self.params[n].unit) for n in names]
        base = list(self.params.values)
        idx = [self.params.index(n) for n in names]
        n_c = 2 if energy is None else 3

        def fn(*a: Any) -> Any:
            vals: list[Any] = list(base)
            for i, v in zip(idx, a[n_c:], strict=True):
                vals[i] = v
            return self.evaluate_values(a[0], a[1], vals, a[2] if n_c == 3 else None)

        coords = [lon, lat] if energy is None else [lon, lat, energy]
        return apply_elementwise(fn, *coords, *ov, units=self.unit)

    # --- on a map geometry
    def _geom_lonlat(self, geom: Any) -> tuple[Any, Any]:

        frame = sky.frame_of(geom)
        lname, bname = ("ra", "dec") if frame == "icrs" else ("glon", "glat")
        return convert_lonlat(geom.coords[lname], geom.coords[bname], frame, self.frame)

    def _energy_of(self, geom: Any, energy: Any) -> Any:
        if not self.is_energy_dependent:
            return None
        if energy is not None:
            return energy
        for dim in ("energy_true", "energy"):
            if dim in geom.dims:
                return geom.coords[dim]
        raise ValueError("an energy-dependent template needs an energy_true axis or energy=")

    def evaluate_geom(self, geom: Any, energy: Any = None) -> xr.DataArray:
        """Surface brightness [sr-1] at the pixel centres of a WCS (or HEALPix) geometry.

        Examples
        --------
        >>> import xgamma as xg
        >>> geom = xg.wcs_geom((0, 0), 1.0, 0.1, frame="galactic")
        >>> spatial_model("gauss", sigma=0.2, frame="galactic").evaluate_geom(geom).dims
        ('y', 'x')
        """
        lon, lat = self._geom_lonlat(geom)
        out = self(lon, lat, self._energy_of(geom, energy))
        return out.rename("surface_brightness").assign_attrs(units=self.unit)

    def integrate_geom(self, geom: Any, oversampling: int | None = None, energy: Any = None) -> xr.DataArray:
        """Fraction of the model flux in each pixel of a WCS geometry (dims ``y``, ``x``; with
        ``energy_true`` first for energy-dependent templates). See the module docs for the
        point-source weights and the oversampling of small models.

        Examples
        --------
        >>> import xgamma as xg
        >>> geom = xg.wcs_geom((83.63, 22.01), 1.0, 0.02)
        >>> pt = spatial_model("point", lon_0=83.63, lat_0=22.01)
        >>> round(float(pt.integrate_geom(geom).sum()), 9)
        1.0
        """

        en = self._energy_of(geom, energy)
        en_np = None if en is None else np.atleast_1d(np.asarray(en, dtype=float))
        w = sky.wcs_of(geom)
        shape = (int(geom.sizes["y"]), int(geom.sizes["x"]))
        omega = np.asarray(sky.solid_angle(geom).transpose("y", "x").values, dtype=float)
        vals = integrate_pixels(self, self.params.values, w, shape, sky.frame_of(geom), omega,
                                oversampling=oversampling, energy=en_np)
        g = sky.drop_axes(geom)
        coords = {k: v.variable for k, v in g.coords.items()}
        dims: tuple[str, ...] = ("y", "x")
        if vals.ndim == 3:
            edim = str(en.dims[0]) if isinstance(en, xr.DataArray) and en.ndim == 1 else "energy_true"
            dims = (edim, "y", "x")
            if isinstance(en, xr.DataArray):
                coords.update({k: v.variable for k, v in en.coords.items() if set(v.dims) <= {edim}})
        attrs = {k: v for k, v in g.attrs.items()}
        attrs["units"] = "" if self.unit == "sr-1" else str(u.Unit(self.unit) * u.sr)
        return xr.DataArray(vals, dims=dims, coords=coords, name="flux_fraction", attrs=attrs)

    # --- serialisation
    def to_dict(self, full: bool = False) -> dict[str, Any]:
        d: dict[str, Any] = {"type": self.tag}
        if self.tag != "ConstantSpatialModel":
            d["frame"] = self.frame
        extra = self.spec.extra.get("to_dict")
        if extra is not None:
            d.update(extra(self.data))
        if len(self.params):
            d["parameters"] = self.params.to_dict(full=full)
        return d


    def __repr__(self) -> str:
        pars = ", ".join(f"{p.name}={p.value:.4g}" for p in self.params)
        return f"{self.tag}({pars}, frame={self.frame!r})"


# --------------------------------------------------------------------------------------------
# pixel integration (numpy core, shared with xgamma.fold_map)


def subpixel_lonlat(wcs: Any, ys: slice, xs: slice, n: int, src: str, dst: str) -> tuple[np.ndarray, np.ndarray]:
    """Sky coordinates [deg, frame ``dst``] of ``n x n`` sub-pixel centres of the pixels
    ``[ys, xs]`` of ``wcs`` (frame ``src``), shape ``(ny * n, nx * n)``."""
    off = (np.arange(n) + 0.5) / n - 0.5
    px = (np.arange(xs.start, xs.stop)[:, None] + off[None, :]).ravel()
    py = (np.arange(ys.start, ys.stop)[:, None] + off[None, :]).ravel()
    xx, yy = np.meshgrid(px, py)
    lon, lat = wcs.pixel_to_world_values(xx, yy)
    return convert_lonlat(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float), src, dst)


def pixel_size(wcs: Any) -> float:
    """Smallest pixel side [deg] of a celestial WCS (at its reference point)."""
    from astropy.wcs.utils import proj_plane_pixel_scales

    return float(np.min(np.abs(proj_plane_pixel_scales(wcs.celestial))))


def block_mean(a: np.ndarray, n: int) -> np.ndarray:
    """Mean over ``n x n`` blocks of the last two axes."""
    if n == 1:
        return a
    *lead, ny, nx = a.shape
    return a.reshape(*lead, ny // n, n, nx // n, n).mean(axis=(-3, -1))


def integrate_pixels(model: SpatialModel, values: Values, wcs: Any, shape: tuple[int, int],
                     frame: str, solid_angle: np.ndarray, *, oversampling: int | None = None,
                     energy: np.ndarray | None = None) -> np.ndarray:
    """Flux fraction per pixel of a WCS grid ``shape`` (numpy core of ``integrate_geom``).

    Examples
    --------
    >>> import xgamma as xg
    >>> from xgamma import sky
    >>> g = xg.wcs_geom((0, 0), 2.0, 0.05, frame="galactic")
    >>> m = spatial_model("gauss", frame="galactic", sigma=0.1)
    >>> frac = integrate_pixels(m, m.parameters.values, sky.wcs_of(g), (40, 40), "galactic",
    ...                         sky.solid_angle(g).values)
    >>> round(float(frac.sum()), 6)
    1.0
    """
    ny, nx = shape
    if model.is_point:
        pos = model.position_values(values)
        assert pos is not None
        lon, lat = convert_lonlat(pos[0], pos[1], model.frame, frame)
        x0, y0 = wcs.world_to_pixel_values(lon, lat)
        return tent_weights(float(x0), float(y0), (ny, nx))
    binsz = pixel_size(wcs)
    if oversampling is None:
        oversampling = oversampling_factor(model.bin_size_min_values(values), binsz)
    n = int(oversampling)
    lon, lat = subpixel_lonlat(wcs, slice(0, ny), slice(0, nx), n, frame, model.frame)
    side = binsz / n
    if energy is not None:
        vals = np.stack([model.evaluate_values(lon, lat, values, e, sample=side) for e in np.atleast_1d(energy)])
    else:
        vals = model.evaluate_values(lon, lat, values, sample=side)
    return block_mean(np.asarray(vals, dtype=float), n) * solid_angle


# --------------------------------------------------------------------------------------------
# YAML


def spatial_from_dict(data: Mapping[str, Any]) -> SpatialModel:
    """Build a spatial model from its YAML dict (Gammapy names or xgamma aliases).

    Examples
    --------
    >>> m = spatial_from_dict({"type": "PointSpatialModel", "frame": "icrs", "parameters": [
    ...     {"name": "lon_0", "value": 83.63, "unit": "deg"}, {"name": "lat_0", "value": 22.01}]})
    >>> m.position
    (83.63, 22.01)
    """
    spec = get_spec(str(data["type"]), "spatial")
    if spec.from_dict is not None and spec.from_dict is not spatial_from_dict:
        return spec.from_dict(data)
    pars = merge_parameters(spec.default_parameters, data.get("parameters"), spec.tag)
    return SpatialModel(spec.tag, pars, str(data.get("frame", "icrs")))


def as_spatial_model(model: Any) -> SpatialModel:
    """A :class:`SpatialModel` from itself or from any object with a Gammapy-style
    ``to_dict()`` (e.g. a generic model kept by the YAML reader).

    Examples
    --------
    >>> as_spatial_model(spatial_model("disk")).type
    'DiskSpatialModel'
    """
    if isinstance(model, SpatialModel):
        return model
    return spatial_from_dict(model.to_dict(full=True) if hasattr(model, "to_dict") else model)


# registration

_P = Parameter


def _lonlat() -> tuple[Parameter, Parameter]:
    return _P("lon_0", 0.0, "deg"), _P("lat_0", 0.0, "deg", min=-90, max=90)


def _e() -> Parameter:
    return _P("e", 0.0, min=0, max=1, frozen=True)


def _phi() -> Parameter:
    return _P("phi", 0.0, "deg", frozen=True)


#: Suggested initial fit step sizes (absolute, in the parameter unit), used by fit backends:
#: angles must not get relative steps (a 1 % step of lon_0 = 83.6 deg throws a fit off).
_STEPS = {"lon_0": 0.01, "lat_0": 0.01, "sigma": 0.01, "r_0": 0.01, "radius": 0.01,
          "width": 0.01, "phi": 1.0, "e": 0.01, "eta": 0.01, "edge_width": 0.001}


def register_spatial(tag: str, aliases: tuple[str, ...], params: tuple[Parameter, ...], evaluate: Any,
                     **kw: Any) -> None:
    """Register a spatial family (fit step sizes from its parameter names; YAML via
    :func:`spatial_from_dict` unless ``from_dict`` is given)."""
    extra = {"steps": {k: v for k, v in _STEPS.items() if k in {p.name for p in params}}}
    extra.update(kw.pop("extra", {}))
    register(ModelSpec(tag, "spatial", aliases, params, evaluate, from_dict=kw.pop("from_dict", spatial_from_dict),
                       extra=extra, **kw))


register_spatial("PointSpatialModel", ("point", "Point", "PointSpatial"), _lonlat(), None,
     description="point source; pixel weights bilinear around (lon_0, lat_0)")
register_spatial("GaussianSpatialModel", ("gauss", "Gaussian", "GaussianSpatial"),
     (*_lonlat(), _P("sigma", 1.0, "deg", min=0), _e(), _phi()), _gauss,
     description="exp(-t^2 / 2) / (2 pi a b), t the elliptical Lambert radius in units of sigma")
register_spatial("GeneralizedGaussianSpatialModel", ("gauss-general", "GeneralizedGaussian"),
     (*_lonlat(), _P("r_0", 1.0, "deg", min=0), _P("eta", 0.5, min=0.01, max=1.0), _e(), _phi()), _gen_gauss,
     description="exp(-t^(1/eta)) / (2 pi a b eta Gamma(2 eta)), t in units of r_0")
register_spatial("DiskSpatialModel", ("disk", "Disk", "DiskSpatial"),
     (*_lonlat(), _P("r_0", 1.0, "deg", min=0), _e(), _phi(), _P("edge_width", 0.01, min=0, max=1, frozen=True)),
     _disk, extra={"band": _disk_band},
     description="uniform (elliptical) disk, erf edge dropping 95% -> 5% over edge_width * r_0")
register_spatial("ShellSpatialModel", ("shell", "Shell", "ShellSpatial"),
     (*_lonlat(), _P("radius", 1.0, "deg", min=0), _P("width", 0.2, "deg", min=0)), _shell,
     extra={"band": _shell_band},
     description="projected uniform spherical shell between radius and radius + width")
register_spatial("ConstantSpatialModel", ("const", "Constant", "ConstantSpatial"),
     (_P("value", 1 / (4 * np.pi), "sr-1", frozen=True),), _const,
     description="isotropic: value (default 1 / (4 pi) sr-1, i.e. normalised on the sky)")



def example_spatial_model(name: str) -> SpatialModel:
    """An example instance of every registered type (small, elliptical where possible;
    a synthetic energy-dependent map for the template).

    Examples
    --------
    >>> example_spatial_model("disk").type
    'DiskSpatialModel'
    """
    spec = get_spec(name, "spatial")
    if spec.example is not None:  # families registered elsewhere bring their own
        return spec.example()
    pos = {"lon_0": 83.6, "lat_0": 22.0}
    ex: dict[str, dict[str, Any]] = {
        "PointSpatialModel": pos,
        "GaussianSpatialModel": {**pos, "sigma": 0.2, "e": 0.5, "phi": 30.0},
        "GeneralizedGaussianSpatialModel": {**pos, "r_0": 0.15, "eta": 0.7, "e": 0.3, "phi": 40.0},
        "DiskSpatialModel": {**pos, "r_0": 0.3, "e": 0.4, "phi": 20.0, "edge_width": 0.05},
        "ShellSpatialModel": {**pos, "radius": 0.3, "width": 0.1},
        "ConstantSpatialModel": {},
    }
    if spec.example is not None:
        return spec.example()
    return SpatialModel.create(spec.tag, **ex[spec.tag])


def spatial_model(name: str, frame: str = "icrs", **values: Any) -> SpatialModel:
    """A registered spatial model with default parameters, some values overridden.

    Examples
    --------
    >>> spatial_model("PointSpatialModel", lon_0="83.63 deg", lat_0=22.01).position
    (83.63, 22.01)
    """
    return SpatialModel.create(name, frame=frame, **values)
