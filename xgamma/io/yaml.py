"""Model YAML files, compatible with Gammapy's format.

A file holds ``components:``, a list of ``{name, type: SkyModel, spectral, spatial, temporal,
datasets_names}`` and ``{type: FoVBackgroundModel, datasets_names, spectral}`` entries; each
model is ``{type, parameters: [{name, value, unit, min, max, frozen, error, prior, link}], ...}``
and an optional top-level ``covariance: <file>`` names a covariance table next to the YAML
(Gammapy's ``|``-separated table, or a plain whitespace table: first column the flat parameter
names ``<component>.<kind>.<parameter>``).

Types are resolved through :mod:`xgamma.models.registry` (Gammapy class names and xgamma short
names both work). Spatial and temporal types that xgamma does not know, or that fail to build
(e.g. a template file that is absent), are kept as :class:`~xgamma.models.sky.GenericModel`
(type, parameters and other keys), so a file round-trips.

Examples
--------
>>> import xgamma as xg
>>> models = xg.read_models('''
... components:
... - name: Crab
...   type: SkyModel
...   spectral:
...     type: pl
...     parameters:
...     - {name: amplitude, value: 3.0e-11, unit: TeV-1 s-1 cm-2}
... ''')
>>> models["Crab"].spectral.type, models.parameters["Crab.spectral.amplitude"].value
('PowerLawSpectralModel', 3e-11)
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
import yaml

from xgamma.errors import XgammaIOError
from xgamma.models.components import BackgroundModel, GenericModel, Models, SkyModel
from xgamma.models.params import Parameters
from xgamma.models.registry import get_spec
from xgamma.models.spectral import spectral_from_dict
from xgamma.version import __version__

__all__ = [
    "read_models",
    "write_models",
    "models_from_dict",
    "models_to_dict",
    "models_to_yaml",
    "read_covariance",
    "write_covariance",
]


def _kind_from_dict(kind: str, data: Mapping[str, Any]) -> Any:
    if kind == "spectral":
        return spectral_from_dict(data)
    typ = str(data.get("type", ""))
    extra = {k: v for k, v in data.items() if k not in ("type", "parameters")}
    try:  # the module of a kind registers its types on import
        importlib.import_module(f"xgamma.models.{kind}")
    except ImportError:
        pass
    try:
        spec = get_spec(typ, kind)
    except KeyError:
        spec = None
    if spec is not None and spec.from_dict is not None:
        try:
            return spec.from_dict(data)
        except Exception as exc:  # keep the component rather than lose the file's content
            warnings.warn(f"{kind} model {typ!r} kept unevaluated: {exc}", stacklevel=3)
    return GenericModel(kind, typ, Parameters.from_dict(data.get("parameters", []) or []), extra)


def _component_from_dict(data: Mapping[str, Any]) -> Any:
    typ = str(data.get("type", "SkyModel"))
    if typ == "FoVBackgroundModel":
        names = data.get("datasets_names") or []
        kw: dict[str, Any] = {"datasets_names": tuple(names)}
        if "spectral" in data:
            kw["spectral"] = spectral_from_dict(data["spectral"])
        if data.get("name"):
            kw["name"] = str(data["name"])
        if "spatial" in data:
            kw["spatial"] = _kind_from_dict("spatial", data["spatial"])
        return BackgroundModel(**kw)
    if typ != "SkyModel":
        raise XgammaIOError(f"unsupported component type {typ!r}", expected="SkyModel or FoVBackgroundModel")
    if "spectral" not in data:
        raise XgammaIOError(f"component {data.get('name')!r} has no spectral model", expected="spectral:")
    dn = data.get("datasets_names")
    return SkyModel(
        name=str(data["name"]),
        spectral=_kind_from_dict("spectral", data["spectral"]),
        spatial=_kind_from_dict("spatial", data["spatial"]) if data.get("spatial") else None,
        temporal=_kind_from_dict("temporal", data["temporal"]) if data.get("temporal") else None,
        datasets_names=tuple(dn) if dn else None,
    )


def read_covariance(path: str | Path) -> xr.DataArray:
    """Read a covariance table (Gammapy ``|`` table or whitespace table) as ``(param, param_)``.

    Examples
    --------
    >>> import tempfile, os
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     p = os.path.join(tmp, "cov.dat")
    ...     _ = open(p, "w").write("| Parameters | 0 | 1 |\\n| a.spectral.x | 1.0 | 0.5 |\\n| a.spectral.y | 0.5 | 2.0 |\\n")
    ...     float(read_covariance(p).sel(param="a.spectral.y", param_="a.spectral.x"))
    0.5
    """
    lines = [ln.strip() for ln in Path(path).read_text().splitlines() if ln.strip() and not ln.strip().startswith("#")]
    rows = []
    for ln in lines:
        parts = [x.strip() for x in ln.strip("|").split("|")] if "|" in ln else ln.split()
        if set("".join(parts)) <= set("-=+ "):
            continue
        rows.append(parts)
    body = rows[1:] if rows and rows[0][0].lower() in ("parameters", "parameter", "name", "names") else rows
    names = [r[0] for r in body]
    try:
        mat = np.array([[float(x) for x in r[1:]] for r in body])
    except ValueError as exc:
        raise XgammaIOError(f"unreadable covariance table: {exc}", path=path) from exc
    if mat.shape != (len(names), len(names)):
        raise XgammaIOError(f"covariance is {mat.shape}, expected square over {len(names)} names", path=path)
    return xr.DataArray(mat, dims=("param", "param_"), coords={"param": names, "param_": names}, name="covariance")


def write_covariance(covariance: xr.DataArray, path: str | Path) -> Path:
    """Write a covariance DataArray as Gammapy's ``|``-separated table.

    Examples
    --------
    >>> import tempfile, os
    >>> cov = xr.DataArray([[1.0]], dims=("param", "param_"), coords={"param": ["a"], "param_": ["a"]})
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     p = write_covariance(cov, os.path.join(tmp, "c.dat"))
    ...     float(read_covariance(p)[0, 0])
    1.0
    """
    names = [str(n) for n in covariance["param"].values]
    mat = np.asarray(covariance.values, dtype=float)
    header = ["Parameters", *[str(i) for i in range(len(names))]]
    table = [header] + [[n, *[repr(float(v)) for v in row]] for n, row in zip(names, mat, strict=True)]
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    text = "\n".join("| " + " | ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in table)
    Path(path).write_text(text + "\n")
    return Path(path)


def models_from_dict(data: Mapping[str, Any], base_dir: str | Path | None = None) -> Models:
    """Build :class:`~xgamma.models.sky.Models` from the parsed YAML mapping.

    Examples
    --------
    >>> m = models_from_dict({"components": [{"name": "s", "type": "SkyModel",
    ...                       "spectral": {"type": "ecpl"}}]})
    >>> m.names
    ('s',)
    """
    comps = [_component_from_dict(c) for c in (data.get("components") or [])]
    cov = None
    if data.get("covariance"):
        p = Path(str(data["covariance"]))
        if not p.is_absolute() and base_dir is not None:
            p = Path(base_dir) / p
        if p.exists():
            cov = read_covariance(p)
        else:
            warnings.warn(f"covariance file {p} not found; ignored", stacklevel=2)
    return Models(comps, covariance=cov)


def _clean(obj: Any) -> Any:
    """Plain Python types for yaml.safe_dump."""
    if isinstance(obj, Mapping):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _clean(obj.tolist())
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def models_to_dict(models: Models, full_output: bool = False) -> dict[str, Any]:
    """The YAML mapping of a :class:`~xgamma.models.sky.Models` (without covariance entry).

    Examples
    --------
    >>> from xgamma.models import Models, SkyModel, spectral_model
    >>> models_to_dict(Models([SkyModel("s", spectral_model("pl"))]))["components"][0]["spectral"]["type"]
    'PowerLawSpectralModel'
    """
    return _clean(models.to_dict(full=full_output))


def models_to_yaml(models: Models, full_output: bool = False) -> str:
    """The YAML text of ``models``.

    Examples
    --------
    >>> from xgamma.models import Models, SkyModel, spectral_model
    >>> "type: SkyModel" in models_to_yaml(Models([SkyModel("s", spectral_model("pl"))]))
    True
    """

    d = models_to_dict(models, full_output)
    d["metadata"] = {"creator": f"xgamma {__version__}"}
    return yaml.safe_dump(d, sort_keys=False, default_flow_style=False)


def read_models(path_or_str: str | Path | Mapping[str, Any]) -> Models:
    """Read models from a YAML file, a YAML string or an already parsed mapping.

    Examples
    --------
    >>> from xgamma._paths import data_dir
    >>> d = data_dir(required=False)
    >>> if d is not None:
    ...     m = read_models(d / "datasets/simulations/simulated_spectrum_dataset_PL_model.yaml")
    ...     assert m["source"].spectral.parameters["index"].value == 2.0
    """
    base: Path | None = None
    if isinstance(path_or_str, Mapping):
        return models_from_dict(path_or_str)
    text: str
    if isinstance(path_or_str, Path) or ("\n" not in str(path_or_str) and not str(path_or_str).lstrip().startswith("components")):
        p = Path(path_or_str)
        if not p.exists():
            raise XgammaIOError("model file not found", path=p)
        text, base = p.read_text(), p.parent
    else:
        text = str(path_or_str)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise XgammaIOError(f"invalid YAML: {exc}", path=base) from exc
    if not isinstance(data, Mapping) or "components" not in data:
        raise XgammaIOError("not a model file", path=base, expected="a mapping with 'components:'")
    return models_from_dict(data, base_dir=base)


def write_models(models: Models, path: str | Path, overwrite: bool = True, full_output: bool = False,
                 write_covariance_file: bool = True) -> Path:
    """Write models as Gammapy-compatible YAML (and ``<stem>_covariance.dat`` if known).

    Examples
    --------
    >>> import tempfile, os
    >>> from xgamma.models import Models, SkyModel, spectral_model
    >>> m = Models([SkyModel("s", spectral_model("lp10", alpha=2.4))])
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     p = write_models(m, os.path.join(tmp, "m.yaml"))
    ...     read_models(p)["s"].spectral.parameters["alpha"].value
    2.4
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(path)
    text = models_to_yaml(models, full_output)
    if write_covariance_file and models.covariance is not None:
        cov_path = path.with_name(f"{path.stem}_covariance.dat")
        names = list(models.parameters.names)
        full = xr.DataArray(models.covariance_matrix(names), dims=("param", "param_"),
                            coords={"param": names, "param_": names})
        write_covariance(full, cov_path)
        d = yaml.safe_load(text)
        meta = d.pop("metadata", None)
        d["covariance"] = cov_path.name
        if meta is not None:
            d["metadata"] = meta
        text = yaml.safe_dump(d, sort_keys=False, default_flow_style=False)
    path.write_text(text)
    return path
