"""Analysis configuration: a validated schema that accepts Gammapy's ``AnalysisConfig`` YAML.

The sections and keys are those of Gammapy's high-level interface (``general``,
``observations``, ``datasets``, ``fit``, ``flux_points``, ``excess_map``, ``light_curve``),
so users can bring their files unchanged, plus xgamma's own ``dask`` and ``output`` sections.
Quantities are written as strings with units (``"0.2 TeV"``, ``"0.11 deg"``). Every mistake
(unknown key, wrong unit, impossible value, missing data store) raises :class:`ConfigError`
with a one-line message that names the key path and the expected form.

Examples
--------
>>> from xgamma.config import AnalysisConfig
>>> cfg = AnalysisConfig.from_yaml('''
... datasets:
...   type: 1d
...   geom:
...     axes:
...       energy: {min: 0.2 TeV, max: 30 TeV, nbins: 15}
... ''')
>>> cfg.datasets.geom.axes.energy.min
<Quantity 0.2 TeV>
>>> try:
...     AnalysisConfig.from_dict({"datasets": {"type": "2d"}})
... except ConfigError as err:
...     print(err)
datasets.type: input should be '1d' or '3d' (got '2d')
"""

from __future__ import annotations

import os
import re
import string
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import astropy.units as u
import numpy as np
import yaml
from astropy.time import Time
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    field_validator,
    model_validator,
)

from xgamma._paths import data_dir
from xgamma.errors import XgammaError

__all__ = ["AnalysisConfig", "ConfigError"]


class ConfigError(XgammaError, ValueError):
    """A configuration file or dict is invalid; the message names the key path."""


# ----------------------------------------------------------------------------- quantities

def _quantity_validator(physical_type: str, example: str):
    what = ("an " if physical_type[0] in "aeiou" else "a ") + physical_type

    def parse(v: Any) -> u.Quantity | None:
        if v is None:
            return None
        try:
            q = u.Quantity(v)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"expected {what} like '{example}', got {v!r}") from exc
        if q.unit.physical_type != physical_type:
            raise ValueError(f"expected {what} like '{example}', got {v!r}")
        if not q.isscalar:
            raise ValueError(f"expected a single {physical_type} like '{example}', got {v!r}")
        if not np.isfinite(q.value):
            raise ValueError(f"expected a finite {physical_type} like '{example}', got {v!r}")
        return q

    return parse


def _serialize_quantity(q: u.Quantity | None) -> str | None:
    if q is None:
        return None
    unit = q.unit.to_string()
    value = repr(float(q.value))
    return f"{value} {unit}" if unit else value


Energy = Annotated[
    u.Quantity | None,
    BeforeValidator(_quantity_validator("energy", "1 TeV")),
    PlainSerializer(_serialize_quantity, return_type=str | None),
]
Angle = Annotated[
    u.Quantity | None,
    BeforeValidator(_quantity_validator("angle", "0.1 deg")),
    PlainSerializer(_serialize_quantity, return_type=str | None),
]


def _time_validator(v: Any) -> Time | None:
    if v is None:
        return None
    if isinstance(v, Time):
        return v
    try:
        return Time(v)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"expected a time like '2004-12-04T22:00:00' or a Time, got {v!r}") from exc


TimeValue = Annotated[
    Time | None,
    BeforeValidator(_time_validator),
    PlainSerializer(lambda t: None if t is None else t.isot, return_type=str | None),
]


def _time_list_validator(v: Any) -> list[Time] | None:
    if v is None:
        return None
    if isinstance(v, str | Time):
        v = [v]
    return [_time_validator(x) for x in v]  # type: ignore[misc]


TimeList = Annotated[
    list[Time] | None,
    BeforeValidator(_time_list_validator),
    PlainSerializer(lambda ts: None if ts is None else [t.isot for t in ts], return_type=list[str] | None),
]


class _Base(BaseModel):
    model_config = ConfigDict(
        extra="forbid", validate_assignment=True, arbitrary_types_allowed=True
    )


# ----------------------------------------------------------------------------- sections

class LogConfig(_Base):
    level: str = "info"
    filename: str | None = None
    filemode: str | None = None
    format: str | None = None
    datefmt: str | None = None

    @field_validator("level")
    @classmethod
    def _level(cls, v: str) -> str:
        levels = ("debug", "info", "warning", "error", "critical")
        if v.lower() not in levels:
            raise ValueError(f"expected one of {levels}, got {v!r}")
        return v.lower()


class GeneralConfig(_Base):
    log: LogConfig = LogConfig()
    outdir: str = "."
    n_jobs: int = Field(1, description="ignored: the active dask scheduler decides the parallelism")
    datasets_file: str | None = None
    models_file: str | None = None


class SkyCoordConfig(_Base):
    frame: Literal["icrs", "galactic"] | None = None
    lon: Angle = None
    lat: Angle = None


class ConeConfig(SkyCoordConfig):
    radius: Angle = None

    @field_validator("radius")
    @classmethod
    def _positive(cls, v: u.Quantity | None) -> u.Quantity | None:
        if v is not None and v.value < 0:
            raise ValueError(f"radius must be positive, got {v}")
        return v


class TimeRangeConfig(_Base):
    start: TimeValue = None
    stop: TimeValue = None

    @model_validator(mode="after")
    def _order(self) -> TimeRangeConfig:
        if self.start is not None and self.stop is not None and self.start >= self.stop:
            raise ValueError(f"start ({self.start.isot}) must be before stop ({self.stop.isot})")
        return self


def _times_validator(v: Any) -> Time | list[Time] | None:
    """One time, or a list of times (the established tool writes ``obs_time`` lists)."""
    if v is None:
        return None
    if isinstance(v, Time) and not v.isscalar:
        return list(v)
    if isinstance(v, list | tuple):
        return [_time_validator(x) for x in v]  # type: ignore[misc]
    return _time_validator(v)


def _serialize_times(v: Time | list[Time] | None) -> str | list[str] | None:
    if v is None:
        return None
    if isinstance(v, list):
        return [t.isot for t in v]
    return str(v.isot)


TimeValues = Annotated[
    Time | list[Time] | None,
    BeforeValidator(_times_validator),
    PlainSerializer(_serialize_times, return_type=str | list[str] | None),
]


class ObsTimeConfig(_Base):
    """``observations.obs_time``: one ``start``/``stop`` pair, or lists of starts and stops
    (the established tool's format). Either way the runs are cut into one time slice per
    (interval, run) (``DataStore.select(time=[...])``)."""

    start: TimeValues = None
    stop: TimeValues = None

    @model_validator(mode="after")
    def _order(self) -> ObsTimeConfig:
        if (self.start is None) != (self.stop is None):
            raise ValueError("give both start and stop")
        for a, b in self.intervals():
            if a >= b:
                raise ValueError(f"start ({a.isot}) must be before stop ({b.isot})")
        return self

    def intervals(self) -> list[tuple[Time, Time]]:
        """The ``(start, stop)`` pairs (empty when no time is set).

        Examples
        --------
        >>> c = ObsTimeConfig(start=["2006-07-29T20:30", "2006-07-29T20:40"],
        ...                   stop=["2006-07-29T20:40", "2006-07-29T20:50"])
        >>> [(a.isot[11:16], b.isot[11:16]) for a, b in c.intervals()]
        [('20:30', '20:40'), ('20:40', '20:50')]
        """
        if self.start is None or self.stop is None:
            return []
        starts = self.start if isinstance(self.start, list) else [self.start]
        stops = self.stop if isinstance(self.stop, list) else [self.stop]
        if len(starts) != len(stops):
            raise ValueError(f"start and stop must have the same length ({len(starts)} != {len(stops)})")
        return list(zip(starts, stops, strict=True))


class ObservationsConfig(_Base):
    datastore: str = "$XGAMMA_DATA/hess-dl3-dr1"
    obs_ids: list[int] = []
    obs_file: str | None = None
    obs_cone: ConeConfig = ConeConfig()
    obs_time: ObsTimeConfig = ObsTimeConfig()
    required_irf: list[Literal["aeff", "edisp", "psf", "bkg", "rad_max"]] | Literal[
        "full-enclosure", "point-like", "all-optional"
    ] = ["aeff", "edisp", "psf", "bkg"]
    on_error: Literal["raise", "skip"] = Field(
        "raise", description="an observation that fails to read or reduce stops the run (raise) "
                             "or is left out and listed in skipped.yaml (skip)")


class EnergyAxisConfig(_Base):
    min: Energy = u.Quantity("1 TeV")
    max: Energy = u.Quantity("10 TeV")
    nbins: int = Field(5, ge=1)

    @model_validator(mode="after")
    def _order(self) -> EnergyAxisConfig:
        if self.min is not None and self.max is not None:
            if self.min.value <= 0:
                raise ValueError(f"min must be positive, got {self.min}")
            if self.min >= self.max:
                raise ValueError(f"min ({self.min}) must be below max ({self.max})")
        return self


class EnergyEdgesConfig(_Base):
    """Energy bins of an estimator (``flux_points.energy``, ``excess_map.energy_edges``,
    ``light_curve.energy_edges``): all three keys null (Gammapy's default) means "not set"."""

    min: Energy = None
    max: Energy = None
    nbins: int | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _order(self) -> EnergyEdgesConfig:
        given = [v is not None for v in (self.min, self.max, self.nbins)]
        if any(given) and not all(given):
            raise ValueError("give min, max and nbins together (or leave all three null)")
        if self.min is not None and self.max is not None:
            if self.min.value <= 0:
                raise ValueError(f"min must be positive, got {self.min}")
            if self.min >= self.max:
                raise ValueError(f"min ({self.min}) must be below max ({self.max})")
        return self

    def edges_tev(self) -> np.ndarray | None:
        """Log-spaced bin edges in TeV, or None when the keys are null.

        Examples
        --------
        >>> EnergyEdgesConfig(min="1 TeV", max="100 TeV", nbins=2).edges_tev()
        array([  1.,  10., 100.])
        >>> EnergyEdgesConfig().edges_tev() is None
        True
        """
        if self.min is None or self.max is None or self.nbins is None:
            return None
        lo, hi = self.min.to_value("TeV"), self.max.to_value("TeV")
        return np.geomspace(lo, hi, self.nbins + 1)


class EnergyAxesConfig(_Base):
    energy: EnergyAxisConfig = EnergyAxisConfig()
    energy_true: EnergyAxisConfig = EnergyAxisConfig(
        min=u.Quantity("0.5 TeV"), max=u.Quantity("20 TeV"), nbins=16
    )


class WidthConfig(_Base):
    width: Angle = u.Quantity("5 deg")
    height: Angle = u.Quantity("5 deg")


class WcsConfig(_Base):
    skydir: SkyCoordConfig = SkyCoordConfig()
    binsize: Angle = u.Quantity("0.02 deg")
    width: WidthConfig = WidthConfig()
    binsize_irf: Angle = u.Quantity("0.2 deg")
    projection: str = "CAR"

    @field_validator("binsize", "binsize_irf")
    @classmethod
    def _positive(cls, v: u.Quantity | None) -> u.Quantity | None:
        if v is not None and v.value <= 0:
            raise ValueError(f"must be positive, got {v}")
        return v


class SelectionConfig(_Base):
    offset_max: Angle = u.Quantity("2.5 deg")


class GeomConfig(_Base):
    wcs: WcsConfig = WcsConfig()
    selection: SelectionConfig = SelectionConfig()
    axes: EnergyAxesConfig = EnergyAxesConfig()


class BackgroundConfig(_Base):
    """Background method. ``ring`` (3D) is applied per observation before stacking and fitted
    with WStat; its ``parameters``: ``r_in`` (default ``0.7 deg``), ``width`` (``0.3 deg``),
    ``off_pixels`` (``safe``, or ``all`` to also take the ring from pixels outside the safe
    mask, as Gammapy does). ``oversampling`` (xgamma; Gammapy has it only as
    ``MapDatasetMaker(background_oversampling=...)``): sub-bins per reco-energy bin for the
    3D background template's energy integral."""

    method: Literal["reflected", "fov_background", "ring"] | None = None
    exclusion: str | None = None
    parameters: dict[str, Any] = {}
    oversampling: int | None = Field(
        None, ge=1, description="xgamma (Gammapy: MapDatasetMaker(background_oversampling=N), no "
                                "config key): integrate the 3D background template over each "
                                "reco-energy bin in N log-spaced sub-bins; null: one power law "
                                "between the bin edges (a few per cent off for wide bins)")


class SafeMaskConfig(_Base):
    methods: list[Literal["aeff-default", "aeff-max", "edisp-bias", "offset-max", "bkg-peak"]] = [
        "aeff-default"
    ]
    parameters: dict[str, Any] = {}


class DatasetsConfig(_Base):
    type: Literal["1d", "3d"] = "1d"
    stack: bool = True
    geom: GeomConfig = GeomConfig()
    map_selection: list[Literal["counts", "exposure", "background", "psf", "edisp"]] = [
        "counts", "exposure", "background", "psf", "edisp"
    ]
    background: BackgroundConfig = BackgroundConfig()
    safe_mask: SafeMaskConfig = SafeMaskConfig()
    on_region: ConeConfig = ConeConfig()
    containment_correction: bool = True
    max_memory: str = Field(
        "8 GiB", description="xgamma: refuse a reduction whose largest map would need more "
                             "memory than this (checked before any data is read)")

    @field_validator("max_memory")
    @classmethod
    def _memory(cls, v: str) -> str:
        try:
            q = u.Quantity(v)
            ok = q.unit.is_equivalent(u.byte) and q.isscalar and bool(q.value > 0)
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise ValueError(f"expected a positive memory size like '8 GiB' or '500 MB', got {v!r}")
        return str(v)

    def max_memory_bytes(self) -> float:
        """``max_memory`` in bytes."""
        return float(u.Quantity(self.max_memory).to_value(u.byte))


class FitRangeConfig(_Base):
    min: Energy = None
    max: Energy = None


class FitConfig(_Base):
    fit_range: FitRangeConfig = FitRangeConfig()


class FluxPointsConfig(_Base):
    energy: EnergyEdgesConfig = EnergyEdgesConfig()
    source: str = "source"
    parameters: dict[str, Any] = {"selection_optional": "all"}


class ExcessMapConfig(_Base):
    correlation_radius: Angle = u.Quantity("0.1 deg")
    parameters: dict[str, Any] = {}
    energy_edges: EnergyEdgesConfig = EnergyEdgesConfig()


class TimeIntervalsConfig(_Base):
    start: TimeList = None
    stop: TimeList = None

    @model_validator(mode="after")
    def _pairs(self) -> TimeIntervalsConfig:
        if (self.start is None) != (self.stop is None):
            raise ValueError("give both start and stop lists")
        if self.start is not None and self.stop is not None:
            if len(self.start) != len(self.stop):
                raise ValueError(
                    f"start and stop must have the same length ({len(self.start)} != {len(self.stop)})"
                )
            for a, b in zip(self.start, self.stop, strict=True):
                if a >= b:
                    raise ValueError(f"interval start {a.isot} is not before stop {b.isot}")
        return self


class LightCurveConfig(_Base):
    time_intervals: TimeIntervalsConfig = TimeIntervalsConfig()
    energy_edges: EnergyEdgesConfig = EnergyEdgesConfig()
    source: str = "source"
    parameters: dict[str, Any] = {"selection_optional": "all"}


class DaskConfig(_Base):
    """xgamma addition: where the work runs. ``scheduler`` is a ``dask.distributed`` address;
    ``n_workers`` starts a local cluster; neither: the default threaded scheduler."""

    scheduler: str | None = None
    n_workers: int | None = Field(None, ge=1)
    threads_per_worker: int | None = Field(None, ge=1)


class OutputConfig(_Base):
    """xgamma addition: which products ``xgamma run`` writes, and in what format."""

    datasets: Literal["zarr", "fits", "none"] = "zarr"
    maps: Literal["zarr", "fits"] = "zarr"
    plots: bool = True


class MetadataConfig(_Base):
    creator: str | None = None
    date: str | None = None
    origin: str | None = None


class AnalysisConfig(_Base):
    """The whole analysis configuration (see the module docstring).

    Examples
    --------
    >>> cfg = AnalysisConfig.from_dict({"datasets": {"type": "3d"}})
    >>> cfg.datasets.geom.wcs.binsize
    <Quantity 0.02 deg>
    """

    general: GeneralConfig = GeneralConfig()
    observations: ObservationsConfig = ObservationsConfig()
    datasets: DatasetsConfig = DatasetsConfig()
    fit: FitConfig = FitConfig()
    flux_points: FluxPointsConfig = FluxPointsConfig()
    excess_map: ExcessMapConfig = ExcessMapConfig()
    light_curve: LightCurveConfig = LightCurveConfig()
    dask: DaskConfig = DaskConfig()
    output: OutputConfig = OutputConfig()
    metadata: MetadataConfig = MetadataConfig()

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> AnalysisConfig:
        """Validate a nested dict; raise :class:`ConfigError` naming the first bad key."""
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            raise ConfigError(f"the configuration must be a mapping of sections, got {type(data).__name__}")
        try:
            return cls.model_validate(dict(data))
        except ValidationError as exc:
            raise ConfigError(_one_line(exc)) from None

    @classmethod
    def from_yaml(cls, text: str) -> AnalysisConfig:
        """Parse YAML text.

        Examples
        --------
        >>> AnalysisConfig.from_yaml("fit: {fit_range: {min: 1 TeV, max: 10 TeV}}").fit.fit_range.max
        <Quantity 10. TeV>
        """
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(f"not valid YAML: {str(exc).splitlines()[0]}") from None
        return cls.from_dict(data)

    @classmethod
    def read(cls, path: str | os.PathLike[str]) -> AnalysisConfig:
        """Read a YAML config file."""
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"config file not found: {p}")
        return cls.from_yaml(p.read_text())

    def to_dict(self, gammapy: bool = False) -> dict[str, Any]:
        """Plain dict with quantities as strings (YAML-ready).

        With ``gammapy=True`` only the keys of Gammapy's ``AnalysisConfig`` are kept (xgamma's
        ``dask`` and ``output`` sections and ``datasets.geom.wcs.projection`` are dropped), so
        that the established tool, which rejects unknown keys, reads the file.

        Examples
        --------
        >>> d = AnalysisConfig().to_dict(gammapy=True)
        >>> "dask" in d, d["flux_points"]["energy"]
        (False, {'min': None, 'max': None, 'nbins': None})
        """
        data = self.model_dump(mode="json")
        if gammapy:
            for key in _XGAMMA_ONLY:
                *parents, leaf = key.split(".")
                node = data
                for p in parents:
                    node = node[p]
                node.pop(leaf, None)
        return data

    def to_yaml(self, comments: bool = False, gammapy: bool = False) -> str:
        """YAML text of the full config, optionally with a comment above each section.

        Examples
        --------
        >>> print(AnalysisConfig().to_yaml(comments=True).splitlines()[0])
        # general: logging, output folder (n_jobs is ignored: the dask scheduler decides)
        """
        if not comments:
            return yaml.safe_dump(self.to_dict(gammapy=gammapy), sort_keys=False)
        parts = []
        for key, value in self.to_dict(gammapy=gammapy).items():
            parts.append(f"# {key}: {_SECTION_DOCS.get(key, '')}".rstrip())
            parts.append(yaml.safe_dump({key: value}, sort_keys=False).rstrip())
            parts.append("")
        return "\n".join(parts)

    def write(self, path: str | os.PathLike[str], overwrite: bool = False, gammapy: bool = False) -> None:
        """Write the config as YAML (``gammapy=True``: only the established tool's keys)."""
        p = Path(path)
        if p.exists() and not overwrite:
            raise ConfigError(f"{p} exists; pass overwrite=True")
        p.write_text(self.to_yaml(gammapy=gammapy))

    def update(self, other: Mapping[str, Any] | AnalysisConfig | str) -> AnalysisConfig:
        """A new config with ``other`` (dict, YAML text or config) merged in, recursively.

        Examples
        --------
        >>> cfg = AnalysisConfig().update({"datasets": {"type": "3d"}})
        >>> cfg.datasets.type, cfg.datasets.stack
        ('3d', True)
        """
        if isinstance(other, AnalysisConfig):
            upd = other.model_dump(mode="json", exclude_unset=True)
        elif isinstance(other, str):
            upd = yaml.safe_load(other) or {}
        else:
            upd = dict(other)
        base = self.model_dump(mode="json", exclude_unset=True)
        return AnalysisConfig.from_dict(_merge(base, upd))

    # ------------------------------------------------------------------ helpers
    def datastore_path(self) -> Path | str:
        """The data store folder with ``$VAR`` expanded; ``$GAMMAPY_DATA`` falls back to
        xgamma's data folder. Raises :class:`ConfigError` when it does not exist. An fsspec URL
        (``s3://bucket/hess-dl3-dr1``, ``https://...``, ``memory://...``) is returned as given
        (``$VAR`` expanded): :func:`xgamma.open_store` reads it remotely."""
        raw = self.observations.datastore
        env = dict(os.environ)
        if "XGAMMA_DATA" not in env or "GAMMAPY_DATA" not in env:

            d = data_dir(required=False)
            if d is not None:
                env.setdefault("XGAMMA_DATA", str(d))
                env.setdefault("GAMMAPY_DATA", str(d))
        missing = [m for m in re.findall(r"\$\{?(\w+)\}?", raw) if m not in env]
        if missing:
            raise ConfigError(
                f"observations.datastore: environment variable ${missing[0]} is not set ({raw!r}); "
                "get the public data with `xgamma download DEST` and set XGAMMA_DATA=DEST"
            )
        expanded = string.Template(raw).substitute(env)
        if "://" in expanded and not expanded.startswith("file://"):
            return expanded
        path = Path(expanded).expanduser()
        if not path.exists():
            hint = ("; get the public data with `xgamma download DEST` and set XGAMMA_DATA=DEST"
                    if "$" in raw else "")
            raise ConfigError(f"observations.datastore: no data store at {path}{hint}")
        return path


#: Keys that xgamma adds to Gammapy's AnalysisConfig (dropped by ``to_dict(gammapy=True)``).
_XGAMMA_ONLY = ("dask", "output", "datasets.geom.wcs.projection", "observations.on_error",
                "datasets.max_memory", "datasets.background.oversampling")

_SECTION_DOCS = {
    "general": "logging, output folder (n_jobs is ignored: the dask scheduler decides)",
    "observations": "data store ($VAR expanded) and observation selection: ids, file, cone, time range, required IRFs",
    "datasets": "reduction: 1d (ON/OFF spectrum in on_region) or 3d (WCS cube); axes, background method, safe mask",
    "fit": "energy range of the fit (sets mask_fit)",
    "flux_points": "flux points: energy bins and the source whose norm is fitted per bin",
    "excess_map": "correlated excess and significance maps",
    "light_curve": "time intervals (ISO or MJD strings) and energy bands of the light curve",
    "dask": "xgamma: where the work runs (scheduler address, or local workers); default threads",
    "output": "xgamma: formats of the products written by `xgamma run`",
    "metadata": "free-form provenance",
}


def _merge(a: dict[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(a)
    for k, v in b.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = v
    return out


def _one_line(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"] if not str(p).startswith("function-"))
    # drop pydantic's union/branch labels from the path
    loc = re.sub(r"\.(literal\[[^\]]*\]|list\[[^\]]*\]|[a-z_]+-[a-z_]+\[[^\]]*\])", "", loc)
    msg = err["msg"]
    msg = re.sub(r"^(Value|Assertion) error, ", "", msg)
    if err["type"] == "extra_forbidden":
        msg = "unknown key"
        parent = loc.rsplit(".", 1)[0] if "." in loc else ""
        return f"{loc}: unknown key" + (f" in section {parent!r}" if parent else "")
    msg = msg[0].lower() + msg[1:] if msg else msg
    inp = err.get("input")
    if err["type"] not in ("value_error", "missing") and not isinstance(inp, dict | list):
        msg += f" (got {inp!r})"
    return f"{loc}: {msg}"
