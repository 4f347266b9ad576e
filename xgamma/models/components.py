"""Sky model components and the immutable :class:`Models` collection.

A :class:`SkyModel` is a named source: a spectral model, and slots for a spatial and a temporal
model (``None`` for 1D spectra, where the region's containment is in the exposure). A
:class:`BackgroundModel` rescales a dataset's background template with a norm spectral model
(Gammapy's ``FoVBackgroundModel``). Model types that xgamma does not evaluate yet (e.g. spatial
models of a 3D YAML file) are kept as :class:`GenericModel` so that a file round-trips.

:class:`Models` is tuple-like; its flat parameter table names every parameter
``<component>.<kind>.<name>`` (``Crab.spectral.index``), the names a fit result and a covariance
use. Every update returns a new object.

Examples
--------
>>> from xgamma.models.spectral import spectral_model
>>> from xgamma.models.sky import SkyModel, Models
>>> crab = SkyModel("Crab", spectral_model("pl", index=2.6))
>>> models = Models([crab])
>>> models.parameters.names[:2]
('Crab.spectral.index', 'Crab.spectral.amplitude')
>>> models.with_values({"Crab.spectral.index": 2.4})["Crab"].spectral.parameters["index"].value
2.4
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, overload

import numpy as np
import xarray as xr

from xgamma.models.params import Parameters
from xgamma.models.spectral import SpectralModelBase, spectral_model

__all__ = ["SkyModel", "BackgroundModel", "GenericModel", "Models", "Component", "as_models"]


@dataclass(frozen=True)
class GenericModel:
    """A model component kept as written (type, parameters, other keys), not evaluated.

    Examples
    --------
    >>> from xgamma.models.params import Parameter, Parameters
    >>> g = GenericModel("spatial", "PointSpatialModel", Parameters([Parameter("lon_0", 83.6, "deg")]),
    ...                  {"frame": "icrs"})
    >>> g.to_dict()["frame"]
    'icrs'
    """

    kind: str
    type: str
    parameters: Parameters = field(default_factory=Parameters)
    extra: Mapping[str, Any] = field(default_factory=dict)

    def with_parameters(self, parameters: Parameters) -> GenericModel:
        return replace(self, parameters=parameters)

    def to_dict(self, full: bool = False) -> dict[str, Any]:
        d: dict[str, Any] = {"type": self.type}
        d.update({k: v for k, v in self.extra.items()})
        if len(self.parameters):
            d["parameters"] = self.parameters.to_dict(full=full)
        return d


def _prefixed(parts: Sequence[tuple[str, Any]]) -> Parameters:
    out = Parameters()
    for kind, model in parts:
        if model is not None:
            out = out + model.parameters.prefixed(f"{kind}.")
    return out


def _split(parts: Sequence[tuple[str, Any]], parameters: Parameters) -> dict[str, Any]:
    new: dict[str, Any] = {}
    i = 0
    for kind, model in parts:
        if model is None:
            continue
        n = len(model.parameters)
        new[kind] = model.with_parameters(parameters[i : i + n].unprefixed(f"{kind}."))
        i += n
    if i != len(parameters):
        raise ValueError(f"expected {i} parameters, got {len(parameters)}")
    return new


@dataclass(frozen=True)
class SkyModel:
    """A source: spectral model (+ optional spatial and temporal models).

    Parameters
    ----------
    name : str
        Source name (unique within a :class:`Models`).
    spectral : SpectralModelBase
        Flux model (``cm-2 s-1 TeV-1``).
    spatial, temporal : optional
        Spatial / temporal components (``None`` for 1D analyses).
    datasets_names : tuple of str, optional
        Datasets the source applies to (``None``: all).

    Examples
    --------
    >>> from xgamma.models.spectral import spectral_model
    >>> SkyModel("src", spectral_model("pl")).parameters.names
    ('spectral.index', 'spectral.amplitude', 'spectral.reference')
    """

    name: str
    spectral: SpectralModelBase
    spatial: Any | None = None
    temporal: Any | None = None
    datasets_names: tuple[str, ...] | None = None

    type = "SkyModel"

    def __post_init__(self) -> None:
        if self.datasets_names is not None and not isinstance(self.datasets_names, tuple):
            object.__setattr__(self, "datasets_names", tuple(self.datasets_names))

    @property
    def _parts(self) -> list[tuple[str, Any]]:
        return [("spectral", self.spectral), ("spatial", self.spatial), ("temporal", self.temporal)]

    @property
    def parameters(self) -> Parameters:
        return _prefixed(self._parts)

    def with_parameters(self, parameters: Parameters) -> SkyModel:
        """New sky model with its (``spectral.*``, ...) parameters replaced."""
        return replace(self, **_split(self._parts, parameters))

    def applies_to(self, dataset_name: str) -> bool:
        return self.datasets_names is None or dataset_name in self.datasets_names

    def to_dict(self, full: bool = False) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name, "type": self.type}
        if self.datasets_names is not None:
            d["datasets_names"] = list(self.datasets_names)
        for kind, model in self._parts:
            if model is not None:
                d[kind] = model.to_dict(full)
        return d


@dataclass(frozen=True)
class BackgroundModel:
    """Norm model for datasets' background templates (Gammapy's ``FoVBackgroundModel``).

    ``npred_background = background * spectral(E_reco)``; the default spectral model is a
    power-law norm (``norm`` free, ``tilt`` frozen at 0, ``reference`` 1 TeV).

    Examples
    --------
    >>> b = BackgroundModel(("run1",))
    >>> b.name, b.parameters.names
    ('run1-bkg', ('spectral.norm', 'spectral.tilt', 'spectral.reference'))
    """

    datasets_names: tuple[str, ...]
    spectral: SpectralModelBase = field(default_factory=lambda: spectral_model("pl-norm"))
    name: str = ""
    spatial: Any | None = None

    type = "FoVBackgroundModel"

    def __post_init__(self) -> None:
        if isinstance(self.datasets_names, str):
            object.__setattr__(self, "datasets_names", (self.datasets_names,))
        object.__setattr__(self, "datasets_names", tuple(self.datasets_names))
        if not self.name:
            object.__setattr__(self, "name", f"{self.datasets_names[0]}-bkg")

    @property
    def _parts(self) -> list[tuple[str, Any]]:
        return [("spectral", self.spectral), ("spatial", self.spatial)]

    @property
    def parameters(self) -> Parameters:
        return _prefixed(self._parts)

    def with_parameters(self, parameters: Parameters) -> BackgroundModel:
        return replace(self, **_split(self._parts, parameters))

    def applies_to(self, dataset_name: str) -> bool:
        return dataset_name in self.datasets_names

    def to_dict(self, full: bool = False) -> dict[str, Any]:
        d: dict[str, Any] = {"type": self.type, "datasets_names": list(self.datasets_names)}
        if self.name != f"{self.datasets_names[0]}-bkg":
            d["name"] = self.name
        for kind, model in self._parts:
            if model is not None:
                d[kind] = model.to_dict(full)
        return d


Component = SkyModel | BackgroundModel


@dataclass(frozen=True, eq=False)
class Models(Sequence[Any]):
    """Immutable collection of model components (tuple-like, indexable by name).

    Parameters
    ----------
    components : iterable of SkyModel / BackgroundModel
    covariance : xarray.DataArray, optional
        Covariance over (a subset of) the flat parameter names, dims ``(param, param_)``.

    Examples
    --------
    >>> from xgamma.models.spectral import spectral_model
    >>> m = Models([SkyModel("a", spectral_model("pl")), BackgroundModel(("obs1",))])
    >>> m.names
    ('a', 'obs1-bkg')
    >>> m.with_frozen("a.spectral.index").parameters["a.spectral.index"].frozen
    True
    """

    components: tuple[Any, ...] = ()
    covariance: xr.DataArray | None = None

    def __init__(self, components: Iterable[Any] = (), covariance: xr.DataArray | None = None) -> None:
        if isinstance(components, (SkyModel, BackgroundModel)):
            components = [components]
        comps = tuple(components.components if isinstance(components, Models) else components)
        names = [c.name for c in comps]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate component names in {names}")
        object.__setattr__(self, "components", comps)
        object.__setattr__(self, "covariance", covariance)

    def __len__(self) -> int:
        return len(self.components)

    def __iter__(self) -> Iterator[Any]:
        return iter(self.components)

    @overload
    def __getitem__(self, key: int | str) -> Any: ...

    @overload
    def __getitem__(self, key: slice) -> Models: ...

    def __getitem__(self, key: int | str | slice) -> Any:
        if isinstance(key, str):
            for c in self.components:
                if c.name == key:
                    return c
            raise KeyError(f"no model component {key!r}; have {list(self.names)}")
        if isinstance(key, slice):
            return Models(self.components[key])
        return self.components[key]

    def __add__(self, other: Iterable[Any]) -> Models:  # type: ignore[override]
        other_c = other.components if isinstance(other, Models) else tuple(other)
        return Models(self.components + tuple(other_c))

    def __repr__(self) -> str:
        return f"Models({list(self.names)})"

    def _repr_html_(self) -> str:
        """Jupyter: the components and their parameters as a table."""
        return f"<p><b>Models</b>: {', '.join(self.names)}</p>" + str(
            self.parameters.to_dataframe().to_html(float_format=lambda v: f"{v:.5g}"))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Models):
            return NotImplemented
        if self.components != other.components:
            return False
        if self.covariance is None or other.covariance is None:
            return self.covariance is None and other.covariance is None
        return bool(self.covariance.equals(other.covariance))

    __hash__ = None  # type: ignore[assignment]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.components)

    @property
    def parameters(self) -> Parameters:
        """Flat table, names ``<component>.<kind>.<parameter>``."""
        out = Parameters()
        for c in self.components:
            out = out + c.parameters.prefixed(f"{c.name}.")
        return out

    def with_parameters(self, parameters: Parameters) -> Models:
        """New collection with the flat parameter table replaced (same names and order)."""
        if parameters.names != self.parameters.names:
            raise ValueError("parameter names do not match the models' flat parameter names")
        comps = []
        i = 0
        for c in self.components:
            n = len(c.parameters)
            comps.append(c.with_parameters(parameters[i : i + n].unprefixed(f"{c.name}.")))
            i += n
        return Models(comps, covariance=self.covariance)

    def with_values(self, values: Mapping[str, float]) -> Models:
        """New collection with flat-named parameter values changed."""
        return self.with_parameters(self.parameters.with_values(values))

    def with_frozen(self, names: str | Iterable[str] | None = None, frozen: bool = True) -> Models:
        """New collection with flat-named parameters frozen (or thawed)."""
        return self.with_parameters(self.parameters.with_frozen(names, frozen))

    def with_covariance(self, covariance: xr.DataArray | None) -> Models:
        return Models(self.components, covariance=covariance)

    def without(self, name: str) -> Models:
        """The collection without component ``name``."""
        self[name]  # raises if absent
        return Models([c for c in self.components if c.name != name])

    def replace(self, name: str, component: Any) -> Models:
        """The collection with component ``name`` replaced."""
        self[name]
        return Models([component if c.name == name else c for c in self.components], self.covariance)

    def for_dataset(self, dataset_name: str) -> Models:
        """Components that apply to a dataset."""
        return Models([c for c in self.components if c.applies_to(dataset_name)])

    def covariance_matrix(self, names: Sequence[str] | None = None) -> np.ndarray:
        """Covariance as a numpy matrix over ``names`` (default: all parameters; 0 where unknown)."""
        names = list(self.parameters.names if names is None else names)
        out = np.zeros((len(names), len(names)))
        if self.covariance is None:
            return out
        have = [str(n) for n in self.covariance["param"].values]
        idx = [have.index(n) if n in have else -1 for n in names]
        cov = np.asarray(self.covariance.values)
        for a, ia in enumerate(idx):
            for b, ib in enumerate(idx):
                if ia >= 0 and ib >= 0:
                    out[a, b] = cov[ia, ib]
        return out

    def to_dict(self, full: bool = False) -> dict[str, Any]:
        return {"components": [c.to_dict(full) for c in self.components]}


def as_models(models: Any) -> Models:
    """``Models`` from a Models, a SkyModel/BackgroundModel, a spectral model (named
    ``"source"``) or a list of components.

    Examples
    --------
    >>> from xgamma.models import spectral_model
    >>> as_models(spectral_model("pl")).names
    ('source',)
    """
    if isinstance(models, Models):
        return models
    if isinstance(models, SkyModel | BackgroundModel):
        return Models([models])
    if isinstance(models, SpectralModelBase):
        return Models([SkyModel("source", models)])
    return Models(list(models))
