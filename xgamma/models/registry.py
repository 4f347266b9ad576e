"""One registry of model types, by kind (``spectral``, ``spatial``, ``temporal``) and name.

Each entry is a :class:`ModelSpec`: the canonical (Gammapy) type name, short aliases, the default
parameters, and pure evaluation functions of coordinates and parameter values. Model objects
(:mod:`xgamma.models.spectral`, and later spatial/temporal modules) look their spec up here, and
the YAML reader resolves ``type:`` names through :func:`get_spec`. Registering is done once at
import time by the module defining the functions; :func:`register` is public so that users can add
their own model types.

Evaluation functions take positional parameter values in the order of ``ModelSpec.parameters``:
``evaluate(x, p, data)`` where ``p`` is a sequence of values (floats or arrays that broadcast with
``x``) and ``data`` is the model's fixed tabular data (``None`` for plain analytic models).

Examples
--------
>>> from xgamma.models import registry
>>> import xgamma.models.spectral  # registers the spectral models
>>> registry.get_spec("pl").tag
'PowerLawSpectralModel'
>>> registry.get_spec("PowerLaw", kind="spectral").tag
'PowerLawSpectralModel'
>>> "ExpCutoffPowerLawSpectralModel" in registry.names("spectral")
True
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import astropy.units as u
import numpy as np
import xarray as xr
from dask.base import is_dask_collection

from xgamma.models.params import Parameter, Parameters

__all__ = [
    "ModelSpec", "register", "get_spec", "names", "specs", "canonical_name", "KINDS",
    "apply_elementwise", "gl_plan", "gl_apply", "gl_integral", "powerlaw_integral", "loglog_eval", "loglog_integral", "to_unit",
]

TINY = 1e-300
_GL_X, _GL_W = np.polynomial.legendre.leggauss(8)

#: The kinds of model components.
KINDS = ("spectral", "spatial", "temporal")


@dataclass(frozen=True)
class ModelSpec:
    """Description of one model type.

    Attributes
    ----------
    tag : str
        Canonical name, the Gammapy class name (``PowerLawSpectralModel``); written to YAML.
    kind : str
        ``spectral``, ``spatial`` or ``temporal``.
    aliases : tuple of str
        Other accepted names (``pl``, ``PowerLaw``).
    parameters : tuple of Parameter
        Defaults, in evaluation order (values in the internal units).
    evaluate : callable
        ``evaluate(x, p, data) -> array``: the model at coordinates ``x``.
    integral : callable, optional
        ``integral(x_min, x_max, p, data)``: analytic integral (spectral: dN/dE over energy).
    energy_flux : callable, optional
        ``energy_flux(e_min, e_max, p, data)``: analytic integral of ``E dN/dE``.
    is_norm : bool
        Dimensionless (multiplicative) model.
    from_dict : callable, optional
        Builder from a YAML dict, for types with data or sub-models.
    example : callable, optional
        Returns an example instance (used by documentation and the contract tests).
    description : str
        One line, with the formula.

    Examples
    --------
    >>> import xgamma.models.spectral  # noqa: F401 (registers)
    >>> spec = get_spec("PowerLawSpectralModel")
    >>> spec.kind, [p.name for p in spec.parameters]
    ('spectral', ['index', 'amplitude', 'reference'])
    """

    tag: str
    kind: str
    aliases: tuple[str, ...] = ()
    parameters: tuple[Parameter, ...] = ()
    evaluate: Callable[..., Any] | None = None
    integral: Callable[..., Any] | None = None
    energy_flux: Callable[..., Any] | None = None
    is_norm: bool = False
    from_dict: Callable[[Mapping[str, Any]], Any] | None = None
    example: Callable[[], Any] | None = None
    description: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def default_parameters(self) -> Parameters:
        return Parameters(self.parameters)

    @property
    def all_names(self) -> tuple[str, ...]:
        return (self.tag, *self.aliases)


_REGISTRY: dict[str, dict[str, ModelSpec]] = {k: {} for k in KINDS}


def register(spec: ModelSpec) -> ModelSpec:
    """Add a model type to the registry (all its names must be new for its kind).

    Examples
    --------
    >>> import numpy as np
    >>> from xgamma.models.params import Parameter
    >>> spec = ModelSpec("MyFlatSpectralModel", "spectral", aliases=("my-flat",),
    ...                  parameters=(Parameter("const", 1e-12, "cm-2 s-1 TeV-1"),),
    ...                  evaluate=lambda e, p, d: p[0] * np.ones_like(e))
    >>> spec.all_names          # register(spec) would make it usable by name
    ('MyFlatSpectralModel', 'my-flat')
    """
    if spec.kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {spec.kind!r}")
    table = _REGISTRY[spec.kind]
    for name in spec.all_names:
        if name in table and table[name].tag != spec.tag:
            raise ValueError(f"{spec.kind} model name {name!r} is already taken by {table[name].tag}")
    for name in spec.all_names:
        table[name] = spec
    return spec


def get_spec(name: str, kind: str | None = None) -> ModelSpec:
    """Look a model type up by any of its names (optionally restricted to one kind).

    Raises ``KeyError`` naming the known types when ``name`` is unknown.

    Examples
    --------
    >>> import xgamma.models.spectral  # noqa: F401 (registers)
    >>> get_spec("lp", "spectral").tag
    'LogParabolaSpectralModel'
    """
    kinds = KINDS if kind is None else (kind,)
    for k in kinds:
        if k not in _REGISTRY:
            raise ValueError(f"kind must be one of {KINDS}, got {k!r}")
        if name in _REGISTRY[k]:
            return _REGISTRY[k][name]
    known = sorted({s.tag for k in kinds for s in _REGISTRY[k].values()})
    raise KeyError(f"unknown {kind or 'model'} type {name!r}; known: {known}")


def canonical_name(name: str, kind: str | None = None) -> str:
    """The canonical (Gammapy) name of a model type.

    Examples
    --------
    >>> import xgamma.models.spectral  # noqa: F401 (registers)
    >>> canonical_name("pl")
    'PowerLawSpectralModel'
    """
    return get_spec(name, kind).tag


def specs(kind: str) -> list[ModelSpec]:
    """The distinct registered specs of one kind, in registration order.

    Examples
    --------
    >>> import xgamma.models.spatial  # noqa: F401 (registers)
    >>> specs("spatial")[0].tag
    'PointSpatialModel'
    """
    seen: dict[str, ModelSpec] = {}
    for s in _REGISTRY[kind].values():
        seen.setdefault(s.tag, s)
    return list(seen.values())


def names(kind: str) -> list[str]:
    """Canonical names of the registered models of one kind.

    Examples
    --------
    >>> import xgamma.models.temporal  # noqa: F401 (registers)
    >>> "ConstantTemporalModel" in names("temporal")
    True
    """
    return [s.tag for s in specs(kind)]


# --------------------------------------------------------------------------------------------
# evaluation helpers shared by the model kinds (numpy in, numpy out)


def gl_plan(e1: Any, e2: Any, nodes: Any = None) -> dict[str, Any]:
    """Gauss-Legendre nodes and weights (in ``log E``) for the bins ``[e1, e2]``.

    Bins wider than a tenth of a decade are split into equal log pieces (8 nodes each). With
    ``nodes`` (energies where the integrand has kinks, e.g. table nodes) and 1D bins, each bin is
    also split at the nodes inside it, so that piecewise-smooth integrands are integrated
    accurately; the integrand must then not depend on the bin shape (scalar parameters).
    Computed once per binning and reused with :func:`gl_apply`.

    Examples
    --------
    >>> plan = gl_plan([1.0, 2.0], [2.0, 4.0])
    >>> gl_apply(plan, lambda e: e**-2).round(12).tolist()
    [0.5, 0.25]
    """
    e1 = np.asarray(e1, dtype=float)
    e2 = np.asarray(e2, dtype=float)
    offsets = None
    if nodes is not None and e1.ndim == 1 and e2.shape == e1.shape and e1.size:
        nd = np.unique(np.asarray(nodes, dtype=float).ravel())
        lo_i = np.searchsorted(nd, e1, side="right")
        hi_i = np.searchsorted(nd, e2, side="left")
        k = np.maximum(hi_i - lo_i, 0)
        if k.any():
            lefts, rights = [], []
            for a, b, i, j in zip(e1, e2, lo_i, hi_i, strict=True):
                cuts = np.concatenate([[a], nd[i:j] if j > i else nd[:0], [b]])
                lefts.append(cuts[:-1])
                rights.append(cuts[1:])
            e1, e2 = np.concatenate(lefts), np.concatenate(rights)
            offsets = np.concatenate([[0], np.cumsum(k + 1)[:-1]])
    l1, l2 = np.log(e1), np.log(e2)
    width = l2 - l1
    wmax = float(np.nanmax(np.abs(width))) if width.size else 0.0
    n_sub = int(min(max(math.ceil(wmax / (0.1 * math.log(10)) - 1e-9), 1), 64))
    t = ((np.arange(n_sub)[:, None] + (_GL_X[None, :] + 1) / 2) / n_sub).ravel()
    w = np.tile(_GL_W / (2 * n_sub), n_sub)
    shape = (-1,) + (1,) * np.ndim(width)
    e = np.exp(l1 + t.reshape(shape) * width)
    we = w.reshape(shape) * width * e  # weight of dE = E dlnE
    return {"energy": e, "weight": we, "offsets": offsets}


def gl_apply(plan: dict[str, Any], f: Callable[[np.ndarray], Any], power: int = 0) -> np.ndarray:
    """``int E^power f(E) dE`` per bin with the nodes of :func:`gl_plan`.

    Examples
    --------
    >>> import numpy as np
    >>> plan = gl_plan(np.array([1.0]), np.array([2.0]))
    >>> round(float(gl_apply(plan, lambda e: e)[0]), 12)
    1.5
    """
    e = plan["energy"]
    vals = np.asarray(f(e)) * plan["weight"]
    if power:
        vals = vals * e**power
    out = np.sum(vals, axis=0)
    if plan["offsets"] is not None:
        out = np.add.reduceat(out, plan["offsets"])
    return out


def gl_integral(f: Callable[[np.ndarray], Any], e1: Any, e2: Any, power: int = 0,
                nodes: Any = None) -> np.ndarray:
    """``int E^power f(E) dE`` per bin by Gauss-Legendre quadrature in ``log E`` (see :func:`gl_plan`).

    Examples
    --------
    >>> round(float(gl_integral(lambda e: e**-2, 1.0, 10.0)), 12)
    0.9
    """
    return gl_apply(gl_plan(e1, e2, nodes), f, power)


def powerlaw_integral(amp: Any, ref: Any, index: Any, e1: Any, e2: Any, power: int = 0) -> Any:
    """``int_e1^e2 E^power amp (E/ref)^-index dE`` (analytic, also at ``index = power + 1``).

    Examples
    --------
    >>> float(powerlaw_integral(1.0, 1.0, 2.0, 1.0, 10.0))
    0.9
    >>> round(float(powerlaw_integral(1.0, 1.0, 1.0, 1.0, np.e)), 12)
    1.0
    """
    if np.ndim(index) == 0 and np.ndim(ref) == 0:  # fast scalar path (fits)
        gf = power + 1 - float(index)
        if abs(gf) < 1e-10:
            return amp * ref ** (power + 1) * np.log(e2 / e1)
        return amp * ref ** (power + 1) * ((e2 / ref) ** gf - (e1 / ref) ** gf) / gf
    g = power + 1 - np.asarray(index, dtype=float)
    small = np.abs(g) < 1e-10
    gs = np.where(small, 1.0, g)
    with np.errstate(over="ignore", invalid="ignore"):
        val = ((e2 / ref) ** gs - (e1 / ref) ** gs) / gs
    val = np.where(small, np.log(e2 / e1), val)
    return amp * ref ** (power + 1) * val


def _loglog_tables(xn: np.ndarray, yn: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    lx = np.log(xn)
    ly = np.log(np.maximum(yn, TINY))
    s = np.diff(ly) / np.diff(lx)
    return lx, ly, s


def loglog_eval(e: Any, xn: np.ndarray, yn: np.ndarray, extrapolate: bool = True) -> np.ndarray:
    """Piecewise power-law interpolation of ``(xn, yn)`` (linear in log-log).

    Beyond the nodes: the end segments' power laws (``extrapolate``) or constant end values.

    Examples
    --------
    >>> float(loglog_eval(10.0, np.array([1.0, 100.0]), np.array([1.0, 1e-4])))
    0.01
    """
    lx, ly, s = _loglog_tables(xn, yn)
    le = np.log(np.asarray(e, dtype=float))
    out = np.interp(le, lx, ly)
    if extrapolate and len(xn) > 1:
        out = np.where(le < lx[0], ly[0] + s[0] * (le - lx[0]), out)
        out = np.where(le > lx[-1], ly[-1] + s[-1] * (le - lx[-1]), out)
    with np.errstate(under="ignore", over="ignore"):
        val = np.exp(out)
    return np.where(val < 10 * TINY, 0.0, val)


def _loglog_cumulative(e: Any, xn: np.ndarray, yn: np.ndarray, extrapolate: bool, power: int) -> np.ndarray:
    """``F(e) = int_{xn[0]}^{e} E^power y(E) dE`` of the log-log interpolation (exact)."""
    lx, ly, s = _loglog_tables(xn, yn)
    ly = ly + power * lx  # integrand E^power y(E) is again piecewise power law
    s = s + power
    q = s + 1
    qs = np.where(np.abs(q) < 1e-10, 1.0, q)
    xy = np.exp(ly + lx)  # x_k * y_k
    seg = np.where(np.abs(q) < 1e-10, xy[:-1] * (lx[1:] - lx[:-1]), (xy[1:] - xy[:-1]) / qs)
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    le = np.log(np.asarray(e, dtype=float))
    k = np.clip(np.searchsorted(lx, le, side="right") - 1, 0, len(lx) - 2)
    with np.errstate(over="ignore", under="ignore"):
        ye = np.exp(ly[k] + s[k] * (le - lx[k]) + le)  # e * y(e)
    part = np.where(np.abs(q[k]) < 1e-10, xy[k] * (le - lx[k]), (ye - xy[k]) / qs[k])
    out = cum[k] + part
    if not extrapolate:
        e_ = np.exp(le)
        y0, y1 = np.exp(ly[0] - power * lx[0]), np.exp(ly[-1] - power * lx[-1])
        below = y0 * (e_ ** (power + 1) - xn[0] ** (power + 1)) / (power + 1)
        above = cum[-1] + y1 * (e_ ** (power + 1) - xn[-1] ** (power + 1)) / (power + 1)
        out = np.where(le < lx[0], below, np.where(le > lx[-1], above, out))
    return out


def loglog_integral(e1: Any, e2: Any, xn: np.ndarray, yn: np.ndarray, extrapolate: bool = True, power: int = 0) -> np.ndarray:
    """Exact ``int_e1^e2 E^power y(E) dE`` of the :func:`loglog_eval` interpolation.

    Examples
    --------
    >>> round(float(loglog_integral(1.0, 10.0, np.array([1.0, 100.0]), np.array([1.0, 1e-4]))), 12)
    0.9
    """
    return _loglog_cumulative(e2, xn, yn, extrapolate, power) - _loglog_cumulative(e1, xn, yn, extrapolate, power)


def apply_elementwise(fn: Callable[..., Any], *args: Any, units: str = "") -> Any:
    """Apply a numpy function to numpy / dask / DataArray inputs, keeping dims and laziness.

    DataArrays go through ``xarray.apply_ufunc`` (``dask="parallelized"``; the result gets
    ``attrs["units"] = units``), dask arrays through ``map_blocks``; ``fn`` sees numpy only.

    Examples
    --------
    >>> import dask.array as da
    >>> out = apply_elementwise(np.sqrt, da.from_array(np.array([4.0, 9.0]), chunks=1))
    >>> out.compute().tolist()
    [2.0, 3.0]
    """
    if any(isinstance(a, xr.DataArray) for a in args):
        out = xr.apply_ufunc(fn, *args, dask="parallelized", output_dtypes=[float])
        return out.assign_attrs(units=units)
    if any(is_dask_collection(a) for a in args):
        import dask.array as da

        arrs = [a if is_dask_collection(a) else np.asarray(a, dtype=float) for a in args]
        return da.map_blocks(fn, *arrs, dtype=float)
    return fn(*[np.asarray(a, dtype=float) for a in args])


def to_unit(value: Any, unit: str) -> Any:
    """A number in ``unit``: Quantities and strings (``"500 GeV"``) are converted, numbers kept.

    Examples
    --------
    >>> float(to_unit("500 GeV", "TeV")), to_unit(2.0, "TeV")
    (0.5, 2.0)
    """
    if isinstance(value, str):
        value = u.Quantity(value)
    if isinstance(value, u.Quantity):
        return value.to_value(unit)
    return value
