"""The registry plumbing every registered model family shares (spectral, spatial, temporal).

A registered model is a frozen dataclass with a ``tag`` (the family's registry name), its
``params`` and fixed ``data`` (tables, maps). :class:`RegisteredModel` gives each family, once:
its :class:`~xgamma.models.registry.ModelSpec` (``spec``), ``type``, ``parameters``,
functional updates (``with_parameters``, ``with_values``, ``with_frozen``) that keep every
other field, and equality on tag, identity fields,
parameters and data. The families add only what is theirs (evaluation, frames, YAML layout).

Examples
--------
>>> from xgamma.models import SpatialModel, SpectralModel, TemporalModel
>>> all(issubclass(c, RegisteredModel) for c in (SpectralModel, SpatialModel, TemporalModel))
True
>>> m = SpectralModel.create("pl").with_values(index=3.0).with_frozen("index")
>>> m.spec.kind, m.parameters["index"].value, m.parameters["index"].frozen
('spectral', 3.0, True)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Self

import numpy as np

from xgamma.models.params import Parameters
from xgamma.models.registry import ModelSpec, get_spec, to_unit

__all__ = ["RegisteredModel"]


class RegisteredModel:
    """Mixin for a frozen dataclass with fields ``tag``, ``params`` and ``data``.

    Class attributes: ``kind`` (``"spectral"``, ``"spatial"``, ``"temporal"``);
    ``identity_fields`` (other fields that equality compares, e.g. ``frame``);
    ``data_ignore`` (``data`` keys that equality skips, e.g. a WCS object).

    Examples
    --------
    >>> from xgamma.models import TemporalModel
    >>> a = TemporalModel.create("gauss", sigma=0.5)
    >>> a == TemporalModel.create("gauss").with_values(sigma=0.5), a.type
    (True, 'GaussianTemporalModel')
    """

    kind: ClassVar[str]
    identity_fields: ClassVar[tuple[str, ...]] = ()
    data_ignore: ClassVar[tuple[str, ...]] = ()
    tag: str
    params: Parameters
    data: Mapping[str, Any]

    @property
    def spec(self) -> ModelSpec:
        """The family's registry entry."""
        return get_spec(self.tag, self.kind)

    @property
    def type(self) -> str:
        """The family's tag (Gammapy's class name)."""
        return self.tag

    @property
    def parameters(self) -> Parameters:
        """The model's parameters."""
        return self.params

    def with_parameters(self, parameters: Parameters) -> Self:
        """The same model with new parameters (same names, in order)."""
        if parameters.names != self.params.names:
            raise ValueError(f"{self.tag}: parameter names {parameters.names} != {self.params.names}")
        return dataclasses.replace(self, params=parameters)  # type: ignore[type-var]

    def convert_value(self, name: str, value: Any) -> float:
        """``value`` (float, Quantity or string) in the unit of parameter ``name``."""
        return float(to_unit(value, self.params[name].unit))

    def with_values(self, **values: Any) -> Self:
        """New model with parameter values changed (floats, Quantities or strings)."""
        conv = {k: self.convert_value(k, v) for k, v in values.items()}
        return self.with_parameters(self.params.with_values(conv))

    def with_frozen(self, names: str | Sequence[str] | None = None, frozen: bool = True) -> Self:
        """New model with parameters frozen (or thawed with ``frozen=False``)."""
        return self.with_parameters(self.params.with_frozen(names, frozen))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RegisteredModel) or other.kind != self.kind:
            return NotImplemented
        if self.tag != other.tag or self.params != other.params:
            return False
        if any(getattr(self, f) != getattr(other, f, None) for f in self.identity_fields):
            return False
        a, b = self.data, other.data
        if set(a) != set(b):
            return False
        return all(k in self.data_ignore or np.array_equal(np.asarray(a[k]), np.asarray(b[k]))
                   for k in a)

    __hash__ = None  # type: ignore[assignment]
