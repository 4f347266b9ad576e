"""Spectral model base classes: :class:`SpectralModelBase`, :class:`SpectralModel` (a registered
family with its parameters), compound and scaled models, and the two constructors
(:func:`spectral_model`, :func:`spectral_from_dict`). The families themselves are registered
in :mod:`xgamma.models.spectral` and :mod:`xgamma.models.spectral_tables`.

Examples
--------
>>> import xgamma.models  # registers the families
>>> spectral_model("pl", index=2.5).parameters["index"].value
2.5
"""

from __future__ import annotations

import operator as _op
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import astropy.units as u
import numpy as np

from xgamma.models.base import RegisteredModel
from xgamma.models.params import Parameter, Parameters, merge_parameters
from xgamma.models.registry import (
    apply_elementwise,
    get_spec,
    gl_apply,
    gl_integral,
    gl_plan,
    to_unit,
)

__all__ = [
    "FLUX_UNIT", "SpectralModelBase", "SpectralModel", "CompoundSpectralModel",
    "ScaleSpectralModel", "spectral_model", "spectral_from_dict", "compound_from_dict",
    "scale_from_dict",
]

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
class SpectralModel(RegisteredModel, SpectralModelBase):
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
    def is_norm(self) -> bool:
        if "values_unit" in self.data:
            return u.Unit(self.data["values_unit"]).physical_type == "dimensionless"
        return self.spec.is_norm

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


def compound_from_dict(data: Mapping[str, Any]) -> CompoundSpectralModel:
    """Build a :class:`CompoundSpectralModel` from its YAML dict (``model1``, ``model2``
    and ``operator``, default ``"add"``).

    Examples
    --------
    >>> import xgamma.models  # registers the families
    >>> m = compound_from_dict({"model1": {"type": "pl"}, "model2": {"type": "pl"}})
    >>> m.operator, float(m(1.0)), m.parameters.names[:2]
    ('add', 2e-12, ('model1.index', 'model1.amplitude'))
    """
    return CompoundSpectralModel(spectral_from_dict(data["model1"]), spectral_from_dict(data["model2"]),
                                 str(data.get("operator", "add")))


def scale_from_dict(data: Mapping[str, Any]) -> ScaleSpectralModel:
    """Build a :class:`ScaleSpectralModel` from its YAML dict (``model`` and a ``norm``
    parameter, default 1).

    Examples
    --------
    >>> import xgamma.models  # registers the families
    >>> s = scale_from_dict({"model": {"type": "pl"},
    ...                      "parameters": [{"name": "norm", "value": 2.0}]})
    >>> s.parameters["norm"].value, float(s(1.0))
    (2.0, 2e-12)
    """
    pars = data.get("parameters") or [{"name": "norm", "value": 1.0}]
    return ScaleSpectralModel(spectral_from_dict(data["model"]), Parameter.from_dict(pars[0]))
