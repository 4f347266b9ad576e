"""Spectral models: pure functions of energy (TeV) and parameter values, plus small immutable
model objects that carry a :class:`~xgamma.models.params.Parameters` table.

Every model type is registered in :mod:`xgamma.models.registry` under its Gammapy class name
(``PowerLawSpectralModel``) and short aliases (``pl``, ``PowerLaw``). Flux models return
``dN/dE`` in ``cm-2 s-1 TeV-1``; norm models (``PowerLawNormSpectralModel``, EBL absorption, ...)
are dimensionless. Evaluation accepts numpy arrays, dask arrays and DataArrays (numpy or dask
backed; the output keeps the input's dims and laziness), and parameter values may be given as
DataArrays to broadcast over extra dims (e.g. samples).

Integrals over energy bins are analytic where a closed form exists (power laws, broken power law,
Gaussian line, log-log tables); other models use Gauss-Legendre quadrature in ``log E``.

This module holds the model objects, the analytic model functions and the registration of every
spectral type; the tabulated models (:func:`template_model`, :func:`piecewise_norm_model`,
:func:`ebl_absorption`, :data:`EBL_TABLES`) live in :mod:`xgamma.models.spectral_tables` and are
re-exported here.

Examples
--------
>>> import numpy as np
>>> from xgamma.models.spectral import spectral_model
>>> pl = spectral_model("pl", index=2.0, amplitude="1e-12 cm-2 s-1 TeV-1")
>>> float(pl(np.array([1.0, 10.0]))[1])
1e-14
>>> float(pl.integral(1.0, 10.0))       # analytic: 1e-12 * (1 - 0.1)
9e-13
>>> lp10 = spectral_model("LogParabola10", amplitude=4e-11, alpha=2.5, beta=0.4)
>>> round(float(lp10(10.0)) / 4e-11, 8)   # 10^(-2.5 - 0.4)
0.00125893
"""

from __future__ import annotations

import math
import operator as _op
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import astropy.units as u
import numpy as np
from scipy.special import erf, erfcx

from .params import Parameter, Parameters, merge_parameters
from .registry import (
    ModelSpec,
    apply_elementwise,
    get_spec,
    gl_apply,
    gl_integral,
    gl_plan,
    powerlaw_integral,
    register,
    to_unit,
)

__all__ = [
    "FLUX_UNIT",
    "SpectralModelBase",
    "SpectralModel",
    "CompoundSpectralModel",
    "ScaleSpectralModel",
    "spectral_model",
    "template_model",
    "piecewise_norm_model",
    "ebl_absorption",
    "spectral_from_dict",
    "example_spectral_model",
    "EBL_TABLES",
]

#: Unit of differential flux models.
FLUX_UNIT = "cm-2 s-1 TeV-1"


# --------------------------------------------------------------------------------------------
# model objects


class SpectralModelBase:
    """Protocol shared by spectral models: a parameter table and numpy evaluation functions.

    Subclasses implement ``parameters``, ``with_parameters``, ``evaluate_values``, ``to_dict``
    and may override ``integral_values`` / ``energy_flux_values`` with analytic versions.

    Examples
    --------
    >>> isinstance(spectral_model("pl"), SpectralModelBase)
    True
    """

    kind = "spectral"

    @property
    def type(self) -> str:  # pragma: no cover - overridden
        raise NotImplementedError

    @property
    def parameters(self) -> Parameters:  # pragma: no cover - overridden
        raise NotImplementedError

    @property
    def is_norm(self) -> bool:
        return False

    @property
    def unit(self) -> str:
        """Unit of ``model(energy)``: ``cm-2 s-1 TeV-1`` or ``""`` for norm models."""
        return "" if self.is_norm else FLUX_UNIT

    def with_parameters(self, parameters: Parameters) -> SpectralModelBase:  # pragma: no cover
        raise NotImplementedError

    def evaluate_values(self, energy: np.ndarray, values: Sequence[Any]) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def nodes(self, values: Sequence[Any]) -> np.ndarray | None:
        """Energies [TeV] where the model has kinks (table nodes, breaks), or ``None``."""
        return None

    def _kinks(self, values: Sequence[Any]) -> np.ndarray | None:
        return self.nodes(values) if all(np.ndim(v) == 0 for v in values) else None

    def integral_values(self, e_min: np.ndarray, e_max: np.ndarray, values: Sequence[Any]) -> np.ndarray:
        """Integral of the model over ``[e_min, e_max]`` (numerical by default)."""
        return gl_integral(lambda e: self.evaluate_values(e, values), e_min, e_max, nodes=self._kinks(values))

    @property
    def analytic_integral(self) -> bool:
        """Whether :meth:`integral_values` is analytic."""
        return False

    def integrator(self, e_min: np.ndarray, e_max: np.ndarray) -> Callable[[Sequence[Any]], np.ndarray]:
        """``f(values)`` = integral over fixed bins; quadrature nodes are computed once (for fits)."""
        if self.analytic_integral:
            return lambda v: self.integral_values(e_min, e_max, v)
        kinks = self._kinks(list(self.parameters.values))
        plan = gl_plan(e_min, e_max, kinks)

        def fn(v: Sequence[Any]) -> np.ndarray:
            now = self._kinks(v)
            if (now is None) != (kinks is None) or (now is not None and not np.array_equal(now, np.asarray(kinks))):
                return self.integral_values(e_min, e_max, v)  # kinks moved: plan out of date
            return gl_apply(plan, lambda e: self.evaluate_values(e, v))

        return fn

    def energy_flux_values(self, e_min: np.ndarray, e_max: np.ndarray, values: Sequence[Any]) -> np.ndarray:
        """Integral of ``E * model`` over ``[e_min, e_max]`` (numerical by default)."""
        return gl_integral(lambda e: self.evaluate_values(e, values), e_min, e_max, power=1,
                           nodes=self._kinks(values))

    def to_dict(self, full: bool = False) -> dict[str, Any]:  # pragma: no cover
        raise NotImplementedError

    # --- user-facing evaluation
    def _values_fn(self, names: Sequence[str], fn: Callable[..., Any], n_coords: int) -> Callable[..., Any]:
        base = list(self.parameters.values)
        idx = [self.parameters.index(n) for n in names]

        def wrapped(*a: Any) -> Any:
            vals: list[Any] = list(base)
            for i, v in zip(idx, a[n_coords:], strict=True):
                vals[i] = v
            return fn(*a[:n_coords], vals)

        return wrapped

    def _call(self, fn: Callable[..., Any], coords: Sequence[Any], overrides: Mapping[str, Any], units: str) -> Any:
        names = list(overrides)
        ov = [to_unit(overrides[n], self.parameters[n].unit) for n in names]
        return apply_elementwise(self._values_fn(names, fn, len(coords)), *coords, *ov, units=units)

    def __call__(self, energy: Any, **overrides: Any) -> Any:
        """``dN/dE`` at ``energy`` [TeV]; keyword arguments override parameter values."""
        return self._call(self.evaluate_values, [energy], overrides, self.unit)

    def integral(self, energy_min: Any, energy_max: Any, **overrides: Any) -> Any:
        """Integral flux between ``energy_min`` and ``energy_max`` [TeV] (``cm-2 s-1``)."""
        units = "TeV" if self.is_norm else "cm-2 s-1"
        return self._call(self.integral_values, [energy_min, energy_max], overrides, units)

    def energy_flux(self, energy_min: Any, energy_max: Any, **overrides: Any) -> Any:
        """Energy flux between ``energy_min`` and ``energy_max`` [TeV] (``TeV cm-2 s-1``)."""
        units = "TeV2" if self.is_norm else "TeV cm-2 s-1"
        return self._call(self.energy_flux_values, [energy_min, energy_max], overrides, units)

    # --- functional updates
    def with_values(self, **values: Any) -> SpectralModelBase:
        """New model with parameter values changed (floats, Quantities or strings)."""
        conv = {k: float(to_unit(v, self.parameters[k].unit)) for k, v in values.items()}
        return self.with_parameters(self.parameters.with_values(conv))

    def with_frozen(self, names: str | Sequence[str] | None = None, frozen: bool = True) -> SpectralModelBase:
        """New model with parameters frozen (or thawed)."""
        return self.with_parameters(self.parameters.with_frozen(names, frozen))

    # --- arithmetic
    def __add__(self, other: SpectralModelBase) -> CompoundSpectralModel:
        return CompoundSpectralModel(self, other, "add")

    def __sub__(self, other: SpectralModelBase) -> CompoundSpectralModel:
        return CompoundSpectralModel(self, other, "sub")

    def __mul__(self, other: SpectralModelBase) -> CompoundSpectralModel:
        return CompoundSpectralModel(self, other, "mul")

    def __truediv__(self, other: SpectralModelBase) -> CompoundSpectralModel:
        return CompoundSpectralModel(self, other, "truediv")

    def __repr__(self) -> str:
        pars = ", ".join(f"{p.name}={p.value:.4g}" for p in self.parameters)
        return f"{self.type}({pars})"


@dataclass(frozen=True, eq=False, repr=False)
class SpectralModel(SpectralModelBase):
    """A registered spectral model type with its parameters (and fixed data, for tables).

    Examples
    --------
    >>> m = SpectralModel.create("ecpl", lambda_="0.2 TeV-1")
    >>> m.type, m.parameters["lambda_"].value
    ('ExpCutoffPowerLawSpectralModel', 0.2)
    >>> m.with_values(index=2.0).parameters["index"].value
    2.0
    """

    tag: str
    params: Parameters
    data: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def create(cls, name: str, **values: Any) -> SpectralModel:
        """Model ``name`` with default parameters, some values overridden."""
        spec = get_spec(name, "spectral")
        if spec.evaluate is None:
            raise ValueError(f"{spec.tag} needs more than parameter values; use its own constructor")
        pars = spec.default_parameters
        if values:
            pars = pars.with_values({k: float(to_unit(v, pars[k].unit)) for k, v in values.items()})
        return cls(spec.tag, pars)

    @property
    def spec(self) -> ModelSpec:
        return get_spec(self.tag, "spectral")

    @property
    def type(self) -> str:
        return self.tag

    @property
    def parameters(self) -> Parameters:
        return self.params

    @property
    def is_norm(self) -> bool:
        if "values_unit" in self.data:
            return u.Unit(self.data["values_unit"]).physical_type == "dimensionless"
        return self.spec.is_norm

    def with_parameters(self, parameters: Parameters) -> SpectralModel:
        if parameters.names != self.params.names:
            raise ValueError(f"{self.tag}: parameter names {parameters.names} != {self.params.names}")
        return SpectralModel(self.tag, parameters, self.data)

    def nodes(self, values: Sequence[Any]) -> np.ndarray | None:
        if "energy" in self.data:
            return np.asarray(self.data["energy"])
        if self.tag == "BrokenPowerLawSpectralModel":
            return np.atleast_1d(np.asarray(values[3], dtype=float))
        return None

    def evaluate_values(self, energy: np.ndarray, values: Sequence[Any]) -> np.ndarray:
        ev = self.spec.evaluate
        assert ev is not None
        return ev(energy, tuple(values), self.data)

    @property
    def analytic_integral(self) -> bool:
        return self.spec.integral is not None

    def integral_values(self, e_min: np.ndarray, e_max: np.ndarray, values: Sequence[Any]) -> np.ndarray:
        if self.spec.integral is not None:
            return self.spec.integral(e_min, e_max, tuple(values), self.data)
        return super().integral_values(e_min, e_max, values)

    def energy_flux_values(self, e_min: np.ndarray, e_max: np.ndarray, values: Sequence[Any]) -> np.ndarray:
        if self.spec.energy_flux is not None:
            return self.spec.energy_flux(e_min, e_max, tuple(values), self.data)
        return super().energy_flux_values(e_min, e_max, values)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SpectralModel):
            return NotImplemented
        if self.tag != other.tag or self.params != other.params or set(self.data) != set(other.data):
            return False
        return all(np.array_equal(np.asarray(self.data[k]), np.asarray(other.data[k])) for k in self.data)

    __hash__ = None  # type: ignore[assignment]

    def to_dict(self, full: bool = False) -> dict[str, Any]:
        d: dict[str, Any] = {"type": self.tag}
        if len(self.params):
            d["parameters"] = self.params.to_dict(full=full)
        to_dict_extra = self.spec.extra.get("to_dict")
        if to_dict_extra is not None:
            d.update(to_dict_extra(self.data))
        return d


_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "add": _op.add, "sub": _op.sub, "mul": _op.mul, "truediv": _op.truediv,
}


@dataclass(frozen=True, repr=False)
class CompoundSpectralModel(SpectralModelBase):
    """Arithmetic combination of two spectral models (``add``, ``sub``, ``mul``, ``truediv``).

    Parameter names are prefixed ``model1.`` / ``model2.``.

    Examples
    --------
    >>> pl = spectral_model("pl")
    >>> both = pl + pl.with_values(index=3.0)
    >>> both.parameters.names[:2]
    ('model1.index', 'model1.amplitude')
    >>> float(both(1.0))
    2e-12
    """

    model1: SpectralModelBase
    model2: SpectralModelBase
    operator: str = "add"

    def __post_init__(self) -> None:
        if self.operator not in _OPS:
            raise ValueError(f"operator must be one of {sorted(_OPS)}, got {self.operator!r}")

    @property
    def type(self) -> str:
        return "CompoundSpectralModel"

    @property
    def parameters(self) -> Parameters:
        return self.model1.parameters.prefixed("model1.") + self.model2.parameters.prefixed("model2.")

    @property
    def is_norm(self) -> bool:
        if self.operator in ("add", "sub"):
            return self.model1.is_norm
        if self.operator == "mul":
            return self.model1.is_norm and self.model2.is_norm
        return self.model1.is_norm == self.model2.is_norm

    def with_parameters(self, parameters: Parameters) -> CompoundSpectralModel:
        n1 = len(self.model1.parameters)
        p1 = parameters[:n1].unprefixed("model1.")
        p2 = parameters[n1:].unprefixed("model2.")
        return CompoundSpectralModel(self.model1.with_parameters(p1), self.model2.with_parameters(p2), self.operator)

    def _split(self, values: Sequence[Any]) -> tuple[Sequence[Any], Sequence[Any]]:
        n1 = len(self.model1.parameters)
        return values[:n1], values[n1:]

    def nodes(self, values: Sequence[Any]) -> np.ndarray | None:
        v1, v2 = self._split(values)
        parts = [n for n in (self.model1.nodes(v1), self.model2.nodes(v2)) if n is not None]
        return np.concatenate(parts) if parts else None

    def evaluate_values(self, energy: np.ndarray, values: Sequence[Any]) -> np.ndarray:
        v1, v2 = self._split(values)
        return _OPS[self.operator](self.model1.evaluate_values(energy, v1), self.model2.evaluate_values(energy, v2))

    def integrator(self, e_min: np.ndarray, e_max: np.ndarray) -> Callable[[Sequence[Any]], np.ndarray]:
        if self.operator in ("add", "sub"):
            i1, i2 = self.model1.integrator(e_min, e_max), self.model2.integrator(e_min, e_max)
            op = _OPS[self.operator]

            def fn(v: Sequence[Any]) -> np.ndarray:
                v1, v2 = self._split(v)
                return op(i1(v1), i2(v2))

            return fn
        return super().integrator(e_min, e_max)

    def integral_values(self, e_min: np.ndarray, e_max: np.ndarray, values: Sequence[Any]) -> np.ndarray:
        if self.operator in ("add", "sub"):
            v1, v2 = self._split(values)
            a = self.model1.integral_values(e_min, e_max, v1)
            return _OPS[self.operator](a, self.model2.integral_values(e_min, e_max, v2))
        return super().integral_values(e_min, e_max, values)

    def energy_flux_values(self, e_min: np.ndarray, e_max: np.ndarray, values: Sequence[Any]) -> np.ndarray:
        if self.operator in ("add", "sub"):
            v1, v2 = self._split(values)
            a = self.model1.energy_flux_values(e_min, e_max, v1)
            return _OPS[self.operator](a, self.model2.energy_flux_values(e_min, e_max, v2))
        return super().energy_flux_values(e_min, e_max, values)

    def to_dict(self, full: bool = False) -> dict[str, Any]:
        return {
            "type": self.type,
            "model1": self.model1.to_dict(full),
            "model2": self.model2.to_dict(full),
            "operator": self.operator,
        }


@dataclass(frozen=True, repr=False)
class ScaleSpectralModel(SpectralModelBase):
    """Another spectral model times a free ``norm`` (parameters ``norm``, ``model.*``).

    Examples
    --------
    >>> s = ScaleSpectralModel(spectral_model("pl"), Parameter("norm", 2.0))
    >>> float(s(1.0)), s.parameters.names[:2]
    (2e-12, ('norm', 'model.index'))
    """

    model: SpectralModelBase
    norm: Parameter = field(default_factory=lambda: Parameter("norm", 1.0))

    @property
    def type(self) -> str:
        return "ScaleSpectralModel"

    @property
    def parameters(self) -> Parameters:
        return Parameters([self.norm]) + self.model.parameters.prefixed("model.")

    @property
    def is_norm(self) -> bool:
        return self.model.is_norm

    def with_parameters(self, parameters: Parameters) -> ScaleSpectralModel:
        return ScaleSpectralModel(self.model.with_parameters(parameters[1:].unprefixed("model.")), parameters[0])

    def nodes(self, values: Sequence[Any]) -> np.ndarray | None:
        return self.model.nodes(values[1:])

    def evaluate_values(self, energy: np.ndarray, values: Sequence[Any]) -> np.ndarray:
        return values[0] * self.model.evaluate_values(energy, values[1:])

    def integrator(self, e_min: np.ndarray, e_max: np.ndarray) -> Callable[[Sequence[Any]], np.ndarray]:
        inner = self.model.integrator(e_min, e_max)
        return lambda v: v[0] * inner(v[1:])

    def integral_values(self, e_min: np.ndarray, e_max: np.ndarray, values: Sequence[Any]) -> np.ndarray:
        return values[0] * self.model.integral_values(e_min, e_max, values[1:])

    def energy_flux_values(self, e_min: np.ndarray, e_max: np.ndarray, values: Sequence[Any]) -> np.ndarray:
        return values[0] * self.model.energy_flux_values(e_min, e_max, values[1:])

    def to_dict(self, full: bool = False) -> dict[str, Any]:
        return {
            "type": self.type,
            "parameters": Parameters([self.norm]).to_dict(full),
            "model": self.model.to_dict(full),
        }


# --------------------------------------------------------------------------------------------
# the model functions: f(energy, p, data) with p in the order of the spec's parameters


def _pl(e: Any, p: Sequence[Any], d: Any) -> Any:
    index, amplitude, reference = p
    return amplitude * (e / reference) ** (-index)


def _pl2_norm(p: Sequence[Any]) -> Any:
    """``dN/dE = N (E/emax)^-index`` with ``N`` fixing the integral over [emin, emax]."""
    amplitude, index, emin, emax = p
    g = 1 - np.asarray(index, dtype=float)
    small = np.abs(g) < 1e-10
    gs = np.where(small, 1.0, g)
    k = np.where(small, 1 / np.log(emax / emin), gs / (1 - (emin / emax) ** gs))
    return amplitude * k / emax


def _bpl(e: Any, p: Sequence[Any], d: Any) -> Any:
    index1, index2, amplitude, ebreak = p
    return amplitude * (e / ebreak) ** (-np.where(e < ebreak, index1, index2))


def _bpl_int(e1: Any, e2: Any, p: Sequence[Any], power: int) -> Any:
    index1, index2, amplitude, ebreak = p
    lo_hi = np.minimum(e2, ebreak)
    hi_lo = np.maximum(e1, ebreak)
    low = np.where(e1 < lo_hi, powerlaw_integral(amplitude, ebreak, index1, e1, np.maximum(lo_hi, e1), power), 0.0)
    high = np.where(hi_lo < e2, powerlaw_integral(amplitude, ebreak, index2, np.minimum(hi_lo, e2), e2, power), 0.0)
    return low + high


def _sbpl(e: Any, p: Sequence[Any], d: Any) -> Any:
    index1, index2, amplitude, ebreak, reference, beta = p
    sign = np.where(np.sign(index2 - index1) == 0, 1.0, np.sign(index2 - index1))
    b = beta * sign
    return amplitude * (e / reference) ** (-index1) * (1 + (e / ebreak) ** ((index2 - index1) / b)) ** (-b)


def _ecpl(e: Any, p: Sequence[Any], d: Any) -> Any:
    index, amplitude, reference, lambda_, alpha = p
    return amplitude * (e / reference) ** (-index) * np.exp(-((lambda_ * e) ** alpha))


def _ecpl_3fgl(e: Any, p: Sequence[Any], d: Any) -> Any:
    index, amplitude, reference, ecut = p
    return amplitude * (e / reference) ** (-index) * np.exp((reference - e) / ecut)


def _secpl_3fgl(e: Any, p: Sequence[Any], d: Any) -> Any:
    amplitude, reference, ecut, index_1, index_2 = p
    return amplitude * (e / reference) ** (-index_1) * np.exp((reference / ecut) ** index_2 - (e / ecut) ** index_2)


def _secpl_4fgl_dr3(e: Any, p: Sequence[Any], d: Any) -> Any:
    amplitude, reference, expfactor, index_1, index_2 = p
    x = e / reference
    lnx = np.log(x)
    small = np.abs(index_2 * lnx) < 1e-2
    b = np.where(index_2 == 0, 1.0, index_2)
    with np.errstate(over="ignore", invalid="ignore"):
        full = x ** (expfactor / b) * np.exp(expfactor / b**2 * (1 - x**b))
    # 4FGL-DR3 (Abdollahi+2022, eq. 2-3); for |b ln x| < 0.01 the Taylor series of the cutoff
    # ln C = -d ln(x) (ln(x)/2 + b ln(x)^2/6 + b^2 ln(x)^3/24) avoids the 0/0 of b -> 0
    series = x ** (-expfactor * (lnx / 2 + index_2 / 6 * lnx**2 + index_2**2 / 24 * lnx**3))
    cutoff = np.where(small, series, full)
    return amplitude * x ** (-index_1) * cutoff


def _lp(e: Any, p: Sequence[Any], d: Any) -> Any:
    amplitude, reference, alpha, beta = p
    x = e / reference
    return amplitude * x ** (-alpha - beta * np.log(x))


def _lp10(e: Any, p: Sequence[Any], d: Any) -> Any:
    amplitude, reference, alpha, beta = p
    x = e / reference
    return amplitude * x ** (-alpha - beta * np.log10(x))


def _lp_int(e1: Any, e2: Any, p: Sequence[Any], power: int = 0, log10: bool = False) -> Any:
    """Analytic ``int E^power dN/dE`` of a log-parabola (Gaussian in ``y = ln(E/E0)``).

    ``int exp(-b y^2 - c y) dy`` with ``b = beta`` (ln flavour), ``c = alpha - 1 - power``, written
    with ``erfcx`` so that it is stable for all ``y``; ``b <= 1e-6`` falls back to quadrature.
    """
    amplitude, reference, alpha, beta = p
    b = np.asarray(beta, dtype=float) / (math.log(10) if log10 else 1.0)
    c = np.asarray(alpha, dtype=float) - 1 - power
    ok = b > 1e-6
    bs = np.where(ok, b, 1.0)
    y1, y2 = np.log(e1 / reference), np.log(e2 / reference)
    sq = np.sqrt(bs)
    u1, u2 = sq * (y1 + c / (2 * bs)), sq * (y2 + c / (2 * bs))
    g1, g2 = -bs * y1**2 - c * y1, -bs * y2**2 - c * y2
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        pos = np.exp(g1) * erfcx(u1) - np.exp(g2) * erfcx(u2)  # both u >= 0
        neg = np.exp(g2) * erfcx(-u2) - np.exp(g1) * erfcx(-u1)  # both u <= 0
        mid = np.exp(c**2 / (4 * bs)) * (erf(u2) - erf(u1))  # the peak lies inside the bin
    diff = np.where(u1 >= 0, pos, np.where(u2 <= 0, neg, mid))
    val = amplitude * reference ** (power + 1) * np.sqrt(np.pi / (4 * bs)) * diff
    if np.all(ok):
        return val
    f = _lp10 if log10 else _lp
    num = gl_integral(lambda e: f(e, p, None), e1, e2, power=power)
    return np.where(ok, val, num)


def _gauss(e: Any, p: Sequence[Any], d: Any) -> Any:
    amplitude, mean, sigma = p
    return amplitude / (sigma * math.sqrt(2 * math.pi)) * np.exp(-((e - mean) ** 2) / (2 * sigma**2))


def _gauss_integral(e1: Any, e2: Any, p: Sequence[Any], d: Any) -> Any:
    amplitude, mean, sigma = p
    s2 = math.sqrt(2) * sigma
    return amplitude / 2 * (erf((e2 - mean) / s2) - erf((e1 - mean) / s2))


def _gauss_eflux(e1: Any, e2: Any, p: Sequence[Any], d: Any) -> Any:
    amplitude, mean, sigma = p
    pdf2, pdf1 = _gauss(e2, (1.0, mean, sigma), d), _gauss(e1, (1.0, mean, sigma), d)
    return mean * _gauss_integral(e1, e2, p, d) - amplitude * sigma**2 * (pdf2 - pdf1)


# --------------------------------------------------------------------------------------------
# constructors


def spectral_model(name: str, **values: Any) -> SpectralModel:
    """A registered spectral model with default parameters, some values overridden.

    Values may be floats (in the parameter's unit), Quantities or strings like ``"3e-11
    cm-2 s-1 TeV-1"``.

    Examples
    --------
    >>> m = spectral_model("PowerLawSpectralModel", amplitude="3e-11 cm-2 s-1 TeV-1", reference="1 TeV")
    >>> m.parameters["amplitude"].value
    3e-11
    """
    return SpectralModel.create(name, **values)


def spectral_from_dict(data: Mapping[str, Any]) -> SpectralModelBase:
    """Build a spectral model from its YAML dict (Gammapy names or xgamma aliases).

    Examples
    --------
    >>> m = spectral_from_dict({"type": "pl", "parameters": [{"name": "index", "value": 3}]})
    >>> m.parameters["index"].value, m.parameters["reference"].frozen
    (3.0, True)
    """
    spec = get_spec(str(data["type"]), "spectral")
    if spec.from_dict is not None:
        return spec.from_dict(data)
    return SpectralModel(spec.tag, merge_parameters(spec.default_parameters, data.get("parameters"), spec.tag))


def _compound_from_dict(data: Mapping[str, Any]) -> CompoundSpectralModel:
    return CompoundSpectralModel(spectral_from_dict(data["model1"]), spectral_from_dict(data["model2"]),
                                 str(data.get("operator", "add")))


def _scale_from_dict(data: Mapping[str, Any]) -> ScaleSpectralModel:
    pars = data.get("parameters") or [{"name": "norm", "value": 1.0}]
    return ScaleSpectralModel(spectral_from_dict(data["model"]), Parameter.from_dict(pars[0]))


# --------------------------------------------------------------------------------------------
# registration

# the tabulated models need SpectralModel, so they are imported once it is defined (re-exported)
from .spectral_tables import (  # noqa: E402
    EBL_TABLES,
    _ebl,
    _ebl_from_dict,
    _ebl_integral,
    _ebl_to_dict,
    _nodes_dict,
    _piecewise,
    _piecewise_from_dict,
    _piecewise_integral,
    _template,
    _template_from_dict,
    _template_integral,
    ebl_absorption,
    piecewise_norm_model,
    template_model,
)

_P = Parameter


def _amp(value: float = 1e-12, unit: str = FLUX_UNIT) -> Parameter:
    return _P("amplitude", value, unit)


def _ref(value: float = 1.0) -> Parameter:
    return _P("reference", value, "TeV", frozen=True)


def _reg(tag: str, aliases: tuple[str, ...], params: tuple[Parameter, ...], evaluate: Any, **kw: Any) -> None:
    register(ModelSpec(tag, "spectral", aliases, params, evaluate, **kw))


_reg("ConstantSpectralModel", ("const", "Constant"), (_P("const", 1e-12, FLUX_UNIT),),
     lambda e, p, d: p[0] * np.ones_like(e), integral=lambda e1, e2, p, d: p[0] * (e2 - e1),
     energy_flux=lambda e1, e2, p, d: p[0] * (e2**2 - e1**2) / 2, description="dN/dE = const")
_reg("PowerLawSpectralModel", ("pl", "PowerLaw"), (_P("index", 2.0), _amp(), _ref()), _pl,
     integral=lambda e1, e2, p, d: powerlaw_integral(p[1], p[2], p[0], e1, e2),
     energy_flux=lambda e1, e2, p, d: powerlaw_integral(p[1], p[2], p[0], e1, e2, power=1),
     description="amplitude (E/reference)^-index")
_reg("PowerLawNormSpectralModel", ("pl-norm", "PowerLawNorm"),
     (_P("norm", 1.0), _P("tilt", 0.0, frozen=True), _ref()), lambda e, p, d: p[0] * (e / p[2]) ** (-p[1]),
     integral=lambda e1, e2, p, d: powerlaw_integral(p[0], p[2], p[1], e1, e2),
     energy_flux=lambda e1, e2, p, d: powerlaw_integral(p[0], p[2], p[1], e1, e2, power=1),
     is_norm=True, description="norm (E/reference)^-tilt")
_reg("PowerLaw2SpectralModel", ("pl-2", "PowerLaw2"),
     (_amp(1e-12, "cm-2 s-1"), _P("index", 2.0), _P("emin", 0.1, "TeV", frozen=True),
      _P("emax", 100.0, "TeV", frozen=True)), lambda e, p, d: _pl2_norm(p) * (e / p[3]) ** (-p[1]),
     integral=lambda e1, e2, p, d: powerlaw_integral(_pl2_norm(p), p[3], p[1], e1, e2),
     energy_flux=lambda e1, e2, p, d: powerlaw_integral(_pl2_norm(p), p[3], p[1], e1, e2, power=1),
     description="power law normalised by its integral flux between emin and emax")
_reg("BrokenPowerLawSpectralModel", ("bpl", "BrokenPowerLaw"),
     (_P("index1", 2.0), _P("index2", 2.0), _amp(), _P("ebreak", 1.0, "TeV")), _bpl,
     integral=lambda e1, e2, p, d: _bpl_int(e1, e2, p, 0),
     example=lambda: spectral_model("bpl", index1=1.8, index2=2.8, ebreak=3.0),
     energy_flux=lambda e1, e2, p, d: _bpl_int(e1, e2, p, 1),
     description="amplitude (E/ebreak)^-index1 below ebreak, ^-index2 above")
_reg("SmoothBrokenPowerLawSpectralModel", ("sbpl", "SmoothBrokenPowerLaw"),
     (_P("index1", 2.0), _P("index2", 2.0), _amp(), _P("ebreak", 1.0, "TeV"), _ref(),
      _P("beta", 1.0, frozen=True)), _sbpl, example=lambda: spectral_model("sbpl", index1=1.8, index2=2.8, ebreak=3.0),
     description="amplitude (E/E0)^-index1 [1 + (E/ebreak)^((index2-index1)/beta)]^-beta")
_reg("ExpCutoffPowerLawSpectralModel", ("ecpl", "ExpCutoffPowerLaw"),
     (_P("index", 1.5), _amp(), _ref(), _P("lambda_", 0.1, "TeV-1"), _P("alpha", 1.0, frozen=True)),
     _ecpl, description="amplitude (E/E0)^-index exp(-(lambda_ E)^alpha)")
_reg("ExpCutoffPowerLawNormSpectralModel", ("ecpl-norm", "ExpCutoffPowerLawNorm"),
     (_P("index", 0.0), _P("norm", 1.0), _ref(), _P("lambda_", 0.1, "TeV-1"), _P("alpha", 1.0, frozen=True)),
     _ecpl, is_norm=True, description="norm (E/E0)^-index exp(-(lambda_ E)^alpha)")
_reg("ExpCutoffPowerLaw3FGLSpectralModel", ("ecpl-3fgl", "ExpCutoffPowerLaw3FGL"),
     (_P("index", 1.5), _amp(), _ref(), _P("ecut", 10.0, "TeV")), _ecpl_3fgl,
     description="amplitude (E/E0)^-index exp((E0 - E)/ecut)")
_reg("SuperExpCutoffPowerLaw3FGLSpectralModel", ("secpl-3fgl", "SuperExpCutoffPowerLaw3FGL"),
     (_amp(), _ref(), _P("ecut", 10.0, "TeV"), _P("index_1", 1.5), _P("index_2", 2.0)), _secpl_3fgl,
     description="amplitude (E/E0)^-index_1 exp((E0/ecut)^index_2 - (E/ecut)^index_2)")
_reg("SuperExpCutoffPowerLaw4FGLDR3SpectralModel", ("secpl-4fgl-dr3", "SuperExpCutoffPowerLaw4FGLDR3"),
     (_amp(), _ref(), _P("expfactor", 1e-2), _P("index_1", 1.5), _P("index_2", 2.0)), _secpl_4fgl_dr3,
     description="4FGL-DR3 PLSuperExpCutoff4: K x^(d/b - G1) exp(d/b^2 (1 - x^b)), x = E/E0")
_reg("LogParabolaSpectralModel", ("lp", "LogParabola"),
     (_amp(), _ref(10.0), _P("alpha", 2.0), _P("beta", 1.0)), _lp,
     integral=lambda e1, e2, p, d: _lp_int(e1, e2, p), energy_flux=lambda e1, e2, p, d: _lp_int(e1, e2, p, 1),
     description="amplitude (E/E0)^(-alpha - beta ln(E/E0))  (natural log, as Gammapy)")
_reg("LogParabola10SpectralModel", ("lp10", "LogParabola10"),
     (_amp(), _ref(1.0), _P("alpha", 2.0), _P("beta", 0.5)), _lp10,
     integral=lambda e1, e2, p, d: _lp_int(e1, e2, p, log10=True),
     energy_flux=lambda e1, e2, p, d: _lp_int(e1, e2, p, 1, log10=True),
     description="amplitude (E/E0)^(-alpha - beta log10(E/E0))  (base-10 log, e.g. Nigro+2019)")
_reg("LogParabolaNormSpectralModel", ("lp-norm", "LogParabolaNorm"),
     (_P("norm", 1.0), _ref(10.0), _P("alpha", 0.0), _P("beta", 0.0)), _lp, is_norm=True,
     integral=lambda e1, e2, p, d: _lp_int(e1, e2, p), energy_flux=lambda e1, e2, p, d: _lp_int(e1, e2, p, 1),
     description="norm (E/E0)^(-alpha - beta ln(E/E0))")
_reg("GaussianSpectralModel", ("gauss", "Gaussian"),
     (_amp(1e-12, "cm-2 s-1"), _P("mean", 1.0, "TeV"), _P("sigma", 2.0, "TeV")), _gauss,
     integral=_gauss_integral, energy_flux=_gauss_eflux,
     description="amplitude / (sigma sqrt(2 pi)) exp(-(E - mean)^2 / (2 sigma^2))")
_reg("PiecewiseNormSpectralModel", ("piecewise-norm", "PiecewiseNorm"), (), _piecewise,
     integral=_piecewise_integral, energy_flux=lambda e1, e2, p, d: _piecewise_integral(e1, e2, p, d, 1),
     is_norm=True, from_dict=_piecewise_from_dict,
     example=lambda: piecewise_norm_model([0.3, 1.0, 3.0, 30.0], [0.8, 1.0, 1.3, 0.7]),
     extra={"to_dict": lambda d: {"energy": _nodes_dict(d, "energy", "TeV"), "interp": d.get("interp", "log")}},
     description="norm interpolated between energy nodes (log-log), constant outside")
_reg("TemplateSpectralModel", ("template", "Template"), (), _template, integral=_template_integral,
     energy_flux=lambda e1, e2, p, d: _template_integral(e1, e2, p, d, 1), from_dict=_template_from_dict,
     example=lambda: template_model(np.geomspace(0.05, 200, 12), 1e-11 * np.geomspace(0.05, 200, 12) ** -2.3
                                    * np.exp(-np.geomspace(0.05, 200, 12) / 40)),
     extra={"to_dict": lambda d: {"energy": _nodes_dict(d, "energy", "TeV"),
                                  "values": _nodes_dict(d, "values", d.get("values_unit", ""))}},
     description="table interpolated in log-log, extrapolated beyond the nodes")
_reg("EBLAbsorptionNormSpectralModel", ("ebl-norm", "EBLAbsorptionNorm", "EBLAbsorption"),
     (_P("alpha_norm", 1.0, frozen=True), _P("redshift", 0.1, frozen=True)), _ebl,
     integral=_ebl_integral, energy_flux=lambda e1, e2, p, d: _ebl_integral(e1, e2, p, d, 1), is_norm=True,
     from_dict=_ebl_from_dict, example=lambda: ebl_absorption("dominguez", redshift=0.3),
     extra={"to_dict": _ebl_to_dict}, description="exp(-alpha_norm tau(E, redshift)) from a table")
_reg("CompoundSpectralModel", ("compound",), (), None, from_dict=_compound_from_dict,
     example=lambda: spectral_model("pl", index=2.6) * ebl_absorption("dominguez", redshift=0.2),
     description="model1 <operator> model2")
_reg("ScaleSpectralModel", ("scale",), (), None, from_dict=_scale_from_dict,
     example=lambda: ScaleSpectralModel(spectral_model("ecpl"), Parameter("norm", 1.5)),
     description="norm * model")


def example_spectral_model(name: str) -> SpectralModelBase:
    """An instance of every registered type (defaults, or the spec's example).

    Examples
    --------
    >>> example_spectral_model("pl").type
    'PowerLawSpectralModel'
    """
    spec = get_spec(name, "spectral")
    if spec.example is not None:
        return spec.example()
    return SpectralModel.create(spec.tag)
