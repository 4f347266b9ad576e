"""Immutable model parameters, their priors and the free-parameter vector of a fit.

A :class:`Parameter` is a frozen record (name, value, unit, bounds, frozen flag, error, prior,
link label). :class:`Parameters` is an immutable, tuple-like table of them: every "setter"
(``with_values``, ``with_frozen``, ...) returns a new table. Parameters of different model
components (or of models attached to different datasets) are tied together by giving them the
same ``link`` label, never by sharing a mutable object: a fit then varies one free value for
the whole linked group.

Units: values are stored in the unit of ``Parameter.unit`` (for the built-in models the
internal units, TeV, cm, s). Priors contribute ``-2 log p(value)`` to the fit statistic.

Examples
--------
>>> from xgamma.models.params import Parameter, Parameters, GaussianPrior
>>> pars = Parameters([Parameter("index", 2.0), Parameter("amplitude", 1e-12, "cm-2 s-1 TeV-1")])
>>> pars2 = pars.with_values({"index": 2.5})
>>> pars["index"].value, pars2["index"].value
(2.0, 2.5)
>>> pars.with_frozen("index").free_names
('amplitude',)
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, overload

import astropy.units as u
import numpy as np
import pandas as pd

__all__ = [
    "Parameter",
    "Parameters",
    "Prior",
    "GaussianPrior",
    "UniformPrior",
    "LogUniformPrior",
    "prior_from_dict",
    "register_prior",
    "merge_parameters",
]


# --------------------------------------------------------------------------------------------
# priors


@dataclass(frozen=True)
class Prior:
    """Base class of priors: ``prior(value)`` is the contribution ``-2 log p(value)``.

    Examples
    --------
    >>> prior = GaussianPrior(mu=0.0, sigma=2.0)
    >>> round(float(prior(2.0) - prior(0.0)), 12)  # one sigma away: +1
    1.0
    """

    weight: float = field(default=1.0, kw_only=True)

    @property
    def type(self) -> str:
        return type(self).__name__

    def _stat(self, value: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def __call__(self, value: Any) -> Any:
        return self.weight * self._stat(np.asarray(value, dtype=float))

    def _params(self) -> dict[str, float]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "weight"}

    def to_dict(self) -> dict[str, Any]:
        """Gammapy's YAML form: ``{type, parameters: [{name, value}], weight}``."""
        return {
            "type": self.type,
            "parameters": [{"name": k, "value": float(v)} for k, v in self._params().items()],
            "weight": float(self.weight),
        }


@dataclass(frozen=True)
class GaussianPrior(Prior):
    """Gaussian prior with mean ``mu`` and width ``sigma``.

    Examples
    --------
    >>> p = GaussianPrior(mu=1.0, sigma=0.5)
    >>> round(float(p(1.5) - p(1.0)), 6)   # one sigma away adds 1
    1.0
    """

    mu: float = 0.0
    sigma: float = 1.0

    def _stat(self, value: Any) -> Any:
        z = (value - self.mu) / self.sigma
        return z * z + math.log(2 * math.pi * self.sigma**2)


@dataclass(frozen=True)
class UniformPrior(Prior):
    """Uniform prior on ``[min, max]``: ``2 log(max - min)`` inside, ``inf`` outside.

    Examples
    --------
    >>> UniformPrior(min=0, max=1)(2.0)
    inf
    """

    min: float = 0.0
    max: float = 1.0

    def _stat(self, value: Any) -> Any:
        inside = (value >= self.min) & (value <= self.max)
        out = np.where(inside, 2 * math.log(self.max - self.min), np.inf)
        return out.item() if np.ndim(out) == 0 else out


@dataclass(frozen=True)
class LogUniformPrior(Prior):
    """Log-uniform prior (uniform in ``log(value)``) on ``[min, max]``, ``0 < min``.

    Examples
    --------
    >>> p = LogUniformPrior(min=1e-2, max=1e2)
    >>> round(float(p(10.0) - p(1.0)), 6)   # 2 ln(10)
    4.60517
    """

    min: float = 1e-10
    max: float = 1.0

    def _stat(self, value: Any) -> Any:
        inside = (value >= self.min) & (value <= self.max)
        with np.errstate(divide="ignore", invalid="ignore"):
            s = 2 * np.log(np.abs(value)) + 2 * math.log(math.log(self.max / self.min))
        out = np.where(inside, s, np.inf)
        return out.item() if np.ndim(out) == 0 else out


_PRIORS: dict[str, type[Prior]] = {
    "GaussianPrior": GaussianPrior,
    "UniformPrior": UniformPrior,
    "LogUniformPrior": LogUniformPrior,
}


def register_prior(cls: type[Prior]) -> type[Prior]:
    """Make a prior class known to :func:`prior_from_dict` under its class name (YAML ``type``).

    Examples
    --------
    >>> register_prior(GaussianPrior) is GaussianPrior
    True
    """
    _PRIORS[cls.__name__] = cls
    return cls


def prior_from_dict(data: Mapping[str, Any]) -> Prior:
    """Build a prior from Gammapy's YAML form (or ``{type, mu, sigma, ...}``).

    Examples
    --------
    >>> prior_from_dict({"type": "GaussianPrior", "parameters": [{"name": "mu", "value": 2},
    ...                  {"name": "sigma", "value": 0.1}]})
    GaussianPrior(weight=1.0, mu=2.0, sigma=0.1)
    """
    if "prior" in data and isinstance(data["prior"], Mapping):
        data = data["prior"]
    cls = _PRIORS.get(str(data.get("type")))
    if cls is None:
        raise ValueError(f"unknown prior type {data.get('type')!r}; known: {sorted(_PRIORS)}")
    if "from_dict" in vars(cls):  # priors with more than scalar parameters (samples, matrices)
        return cls.from_dict(data)  # type: ignore[attr-defined]
    kw: dict[str, float] = {}
    for p in data.get("parameters", []) or []:
        kw[str(p["name"])] = float(p["value"])
    for k in ("mu", "sigma", "min", "max"):
        if k in data:
            kw[k] = float(data[k])
    kw["weight"] = float(data.get("weight", 1.0))
    return cls(**kw)


# --------------------------------------------------------------------------------------------
# parameter


def _unit_str(unit: Any) -> str:
    """A valid astropy unit string; strings are kept as written (``"cm-2 s-1 TeV-1"``)."""
    if unit is None or unit == "":
        return ""
    if isinstance(unit, str):
        u.Unit(unit)  # validate
        return unit.strip()
    return u.Unit(unit).to_string("fits") if u.Unit(unit) != u.dimensionless_unscaled else ""


@dataclass(frozen=True)
class Parameter:
    """One model parameter (immutable).

    Parameters
    ----------
    name : str
        Name within its model component (``index``, ``amplitude``, ...).
    value : float
        Value in ``unit``.
    unit : str
        Astropy unit string (``""`` for dimensionless).
    min, max : float
        Bounds (NaN: none).
    frozen : bool
        Excluded from fits.
    error : float
        1-sigma error (filled by a fit).
    prior : Prior, optional
        Added to the fit statistic.
    link : str, optional
        Parameters with the same link label share one value in a fit.

    Examples
    --------
    >>> p = Parameter("reference", 1.0, "TeV", frozen=True)
    >>> p.to_unit("GeV").value
    1000.0
    """

    name: str
    value: float
    unit: str = ""
    min: float = math.nan
    max: float = math.nan
    frozen: bool = False
    error: float = 0.0
    prior: Prior | None = None
    link: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", float(self.value))
        object.__setattr__(self, "min", float(self.min) if self.min is not None else math.nan)
        object.__setattr__(self, "max", float(self.max) if self.max is not None else math.nan)
        object.__setattr__(self, "error", float(self.error) if self.error is not None else 0.0)
        object.__setattr__(self, "frozen", bool(self.frozen))
        object.__setattr__(self, "unit", _unit_str(self.unit))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Parameter):
            return NotImplemented
        for f in dataclasses.fields(self):
            a, b = getattr(self, f.name), getattr(other, f.name)
            if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
                continue
            if a != b:
                return False
        return True

    def __hash__(self) -> int:
        return hash((self.name, self.unit, self.frozen, self.link))

    def replace(self, **changes: Any) -> Parameter:
        """A copy with some fields changed (only changed fields are re-validated)."""
        new = object.__new__(Parameter)
        for f in dataclasses.fields(self):
            object.__setattr__(new, f.name, changes.pop(f.name) if f.name in changes else getattr(self, f.name))
        if changes:
            raise TypeError(f"unknown Parameter fields {sorted(changes)}")
        for key in ("value", "min", "max", "error"):
            v = getattr(new, key)
            if type(v) is not float:
                object.__setattr__(new, key, float(v) if v is not None else (0.0 if key == "error" else math.nan))
        if type(new.frozen) is not bool:
            object.__setattr__(new, "frozen", bool(new.frozen))
        if new.unit != self.unit:
            object.__setattr__(new, "unit", _unit_str(new.unit))
        return new

    @property
    def quantity(self) -> u.Quantity:
        """Value as an astropy Quantity."""
        return u.Quantity(self.value, self.unit)

    @property
    def bounds(self) -> tuple[float | None, float | None]:
        """``(min, max)`` with ``None`` for no bound."""
        lo = None if math.isnan(self.min) else self.min
        hi = None if math.isnan(self.max) else self.max
        return lo, hi

    def to_unit(self, unit: str) -> Parameter:
        """The same parameter expressed in another (convertible) unit."""
        f = float(u.Unit(self.unit or "").to(u.Unit(unit or "")))
        return self.replace(
            value=self.value * f, min=self.min * f, max=self.max * f, error=self.error * f, unit=unit
        )

    def prior_stat(self) -> float:
        """``-2 log p(value)`` of the prior (0 without prior)."""
        return 0.0 if self.prior is None else float(self.prior(self.value))

    def to_dict(self, full: bool = False) -> dict[str, Any]:
        """Gammapy YAML form of the parameter (defaults omitted unless ``full``)."""
        d: dict[str, Any] = {"name": self.name, "value": self.value}
        if self.unit or full:
            d["unit"] = self.unit
        if full or not math.isnan(self.min):
            d["min"] = self.min
        if full or not math.isnan(self.max):
            d["max"] = self.max
        if full or self.frozen:
            d["frozen"] = self.frozen
        if full or self.error != 0:
            d["error"] = self.error
        if self.prior is not None:
            d["prior"] = self.prior.to_dict()
        if self.link is not None:
            d["link"] = self.link
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Parameter:
        """Inverse of :meth:`to_dict`; accepts every key Gammapy writes.

        Examples
        --------
        >>> Parameter.from_dict({"name": "index", "value": 2.1, "frozen": True}).frozen
        True
        """

        def num(key: str, default: float) -> float:
            v = data.get(key, default)
            return default if v is None else float(v)

        prior = data.get("prior")
        return cls(
            name=str(data["name"]),
            value=float(data["value"]),
            unit=str(data.get("unit", "") or ""),
            min=num("min", math.nan),
            max=num("max", math.nan),
            frozen=bool(data.get("frozen", False)),
            error=num("error", 0.0),
            prior=prior_from_dict(prior) if prior else None,
            link=data.get("link"),
        )


# --------------------------------------------------------------------------------------------
# parameter table


@dataclass(frozen=True)
class Parameters(Sequence[Parameter]):
    """An immutable, ordered table of :class:`Parameter` (tuple-like, indexable by name).

    Examples
    --------
    >>> pars = Parameters([Parameter("a", 1.0), Parameter("b", 2.0, link="shared"),
    ...                    Parameter("c", 3.0, link="shared")])
    >>> pars.free_vector()          # the linked pair is one free value
    array([1., 2.])
    >>> pars.from_free_vector([5.0, 7.0]).values
    array([5., 7., 7.])
    """

    items: tuple[Parameter, ...] = field(default_factory=tuple)

    def __init__(self, items: Iterable[Parameter] = ()) -> None:
        items = tuple(items)
        names = [p.name for p in items]
        if len(set(names)) != len(names):
            dup = sorted({n for n in names if names.count(n) > 1})
            raise ValueError(f"duplicate parameter names: {dup}")
        object.__setattr__(self, "items", items)

    # --- sequence protocol
    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[Parameter]:
        return iter(self.items)

    @overload
    def __getitem__(self, key: int | str) -> Parameter: ...

    @overload
    def __getitem__(self, key: slice) -> Parameters: ...

    def __getitem__(self, key: int | str | slice) -> Parameter | Parameters:
        if isinstance(key, str):
            return self.items[self.index(key)]
        if isinstance(key, slice):
            return Parameters(self.items[key])
        return self.items[key]

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str):
            return key in self.names
        return key in self.items

    def index(self, name: Any, start: int = 0, stop: int | None = None) -> int:  # type: ignore[override]
        """Position of the parameter called ``name``."""
        for i, p in enumerate(self.items):
            if p.name == name:
                return i
        raise KeyError(f"no parameter {name!r}; have {list(self.names)}")

    def __add__(self, other: Iterable[Parameter]) -> Parameters:  # type: ignore[override]
        return Parameters(self.items + tuple(other))

    def __repr__(self) -> str:
        return f"Parameters({list(self.names)})"

    # --- views
    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.items)

    @property
    def values(self) -> np.ndarray:
        return np.array([p.value for p in self.items], dtype=float)

    @property
    def errors(self) -> np.ndarray:
        return np.array([p.error for p in self.items], dtype=float)

    @property
    def units(self) -> tuple[str, ...]:
        return tuple(p.unit for p in self.items)

    @property
    def free_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.items if not p.frozen)

    def to_dataframe(self) -> pd.DataFrame:
        """A pandas table (one row per parameter).

        Examples
        --------
        >>> Parameters([Parameter("a", 1.0)]).to_dataframe().loc["a", "value"]
        np.float64(1.0)
        """
        rows = [
            {
                "name": p.name, "value": p.value, "unit": p.unit, "error": p.error,
                "min": p.min, "max": p.max, "frozen": p.frozen, "link": p.link,
                "prior": None if p.prior is None else p.prior.type,
            }
            for p in self.items
        ]
        cols = ["name", "value", "unit", "error", "min", "max", "frozen", "link", "prior"]
        return pd.DataFrame(rows, columns=cols).set_index("name")

    # --- functional updates
    def _map(self, names: str | Iterable[str] | None, fn: Any) -> Parameters:
        if names is None:
            sel = set(self.names)
        elif isinstance(names, str):
            sel = {names}
        else:
            sel = set(names)
        missing = sel - set(self.names)
        if missing:
            raise KeyError(f"no parameters {sorted(missing)}; have {list(self.names)}")
        return Parameters(fn(p) if p.name in sel else p for p in self.items)

    def with_values(self, values: Mapping[str, float] | Sequence[float] | np.ndarray) -> Parameters:
        """New table with values set by name (mapping) or for all parameters (sequence)."""
        if isinstance(values, Mapping):
            vals = dict(values)
            return self._map(vals.keys(), lambda p: p.replace(value=float(vals[p.name])))
        arr = np.asarray(values, dtype=float)
        if arr.shape != (len(self),):
            raise ValueError(f"need {len(self)} values, got shape {arr.shape}")
        return Parameters(p.replace(value=float(v)) for p, v in zip(self.items, arr, strict=True))

    def with_errors(self, errors: Mapping[str, float] | Sequence[float] | np.ndarray) -> Parameters:
        """New table with errors set by name or for all parameters."""
        if isinstance(errors, Mapping):
            errs = dict(errors)
            return self._map(errs.keys(), lambda p: p.replace(error=float(errs[p.name])))
        arr = np.asarray(errors, dtype=float)
        return Parameters(p.replace(error=float(v)) for p, v in zip(self.items, arr, strict=True))

    def with_frozen(self, names: str | Iterable[str] | None = None, frozen: bool = True) -> Parameters:
        """New table with the named parameters (default: all) frozen or thawed."""
        return self._map(names, lambda p: p.replace(frozen=frozen))

    def with_bounds(self, name: str, min: float = math.nan, max: float = math.nan) -> Parameters:
        """New table with bounds of ``name`` set."""
        return self._map(name, lambda p: p.replace(min=min, max=max))

    def with_prior(self, name: str, prior: Prior | None) -> Parameters:
        """New table with a prior on ``name`` (``None`` removes it)."""
        return self._map(name, lambda p: p.replace(prior=prior))

    def with_link(self, names: str | Iterable[str], label: str | None) -> Parameters:
        """New table with the named parameters given the link label ``label``."""
        return self._map(names, lambda p: p.replace(link=label))

    def with_parameter(self, name: str, **changes: Any) -> Parameters:
        """New table with arbitrary fields of one parameter changed."""
        return self._map(name, lambda p: p.replace(**changes))

    def prefixed(self, prefix: str) -> Parameters:
        """The same table with ``prefix`` prepended to every name."""
        return Parameters(p.replace(name=prefix + p.name) for p in self.items)

    def unprefixed(self, prefix: str) -> Parameters:
        """Inverse of :meth:`prefixed`."""
        n = len(prefix)
        return Parameters(p.replace(name=p.name[n:] if p.name.startswith(prefix) else p.name) for p in self.items)

    # --- free vector (linked groups collapse to one entry)
    def free_groups(self) -> list[list[int]]:
        """Indices of the free parameters, one list per free value (linked ones grouped).

        A linked group is free when its first member is not frozen.
        """
        groups: list[list[int]] = []
        by_label: dict[str, int] = {}
        for i, p in enumerate(self.items):
            if p.link is not None:
                if p.link in by_label:
                    g = by_label[p.link]
                    if g >= 0:
                        groups[g].append(i)
                    continue
                if p.frozen:
                    by_label[p.link] = -1
                    continue
                by_label[p.link] = len(groups)
                groups.append([i])
            elif not p.frozen:
                groups.append([i])
        return groups

    def free_vector(self) -> np.ndarray:
        """Current values of the free parameters (one per linked group)."""
        return np.array([self.items[g[0]].value for g in self.free_groups()], dtype=float)

    def free_group_names(self) -> tuple[str, ...]:
        """A name per free value: the parameter name, or the link label for linked groups."""
        out = []
        for g in self.free_groups():
            p = self.items[g[0]]
            out.append(p.link if (p.link is not None and len(g) > 1) else p.name)
        return tuple(out)

    def linked_values(self) -> Parameters:
        """Make every linked parameter take the value of the first member of its group."""
        first: dict[str, Parameter] = {}
        out = []
        for p in self.items:
            if p.link is None:
                out.append(p)
            elif p.link not in first:
                first[p.link] = p
                out.append(p)
            else:
                f = first[p.link]
                out.append(p.replace(value=f.value, error=f.error, frozen=f.frozen))
        return Parameters(out)

    def from_free_vector(self, x: Sequence[float] | np.ndarray, errors: Sequence[float] | np.ndarray | None = None) -> Parameters:
        """New table with the free values (and optionally errors) set from ``x``."""
        x = np.asarray(x, dtype=float)
        groups = self.free_groups()
        if x.shape != (len(groups),):
            raise ValueError(f"need {len(groups)} free values, got shape {x.shape}")
        items = list(self.linked_values().items)
        errs = None if errors is None else np.asarray(errors, dtype=float)
        for k, g in enumerate(groups):
            for i in g:
                ch: dict[str, Any] = {"value": float(x[k])}
                if errs is not None:
                    ch["error"] = float(errs[k])
                items[i] = items[i].replace(**ch)
        return Parameters(items)

    def prior_stat(self) -> float:
        """Sum of the priors' ``-2 log p`` (each linked group counted once per member)."""
        return float(sum(p.prior_stat() for p in self.items if p.prior is not None))

    def to_dict(self, full: bool = False) -> list[dict[str, Any]]:
        """YAML list form."""
        return [p.to_dict(full=full) for p in self.items]

    @classmethod
    def from_dict(cls, data: Iterable[Mapping[str, Any]]) -> Parameters:
        """Inverse of :meth:`to_dict`."""
        return cls(Parameter.from_dict(d) for d in data)


def merge_parameters(defaults: Parameters, entries: Sequence[Mapping[str, Any]] | None, tag: str) -> Parameters:
    """Default parameters updated by YAML entries (values converted to the default units).

    Entries without ``unit`` are read in the default unit; entries without ``frozen`` keep the
    default's frozen flag; unknown names raise ``ValueError``.

    Examples
    --------
    >>> d = Parameters([Parameter("reference", 1.0, "TeV", frozen=True)])
    >>> merge_parameters(d, [{"name": "reference", "value": 500, "unit": "GeV"}], "pl")["reference"]
    Parameter(name='reference', value=0.5, unit='TeV', min=nan, max=nan, frozen=True, error=0.0, prior=None, link=None)
    """
    by_name = {str(e["name"]): e for e in (entries or [])}
    unknown = set(by_name) - set(defaults.names)
    if unknown:
        raise ValueError(f"{tag}: unknown parameters {sorted(unknown)}; expected {list(defaults.names)}")
    out = []
    for p in defaults:
        if p.name not in by_name:
            out.append(p)
            continue
        e = dict(by_name[p.name])
        q = Parameter.from_dict({**e, "unit": e.get("unit") or p.unit})
        if q.unit != p.unit:
            q = q.to_unit(p.unit)
        if "frozen" not in e:
            q = q.replace(frozen=p.frozen)
        out.append(q)
    return Parameters(out)
