"""Tabulated spectral models: templates, piecewise norms and EBL absorption tables.

The evaluation functions, table readers, constructors and YAML ``to_dict`` / ``from_dict``
helpers of the three table-driven spectral model types (``TemplateSpectralModel``,
``PiecewiseNormSpectralModel``, ``EBLAbsorptionNormSpectralModel``). The model types are
registered, with all other spectral types, in :mod:`xgamma.models.spectral`, which also
re-exports the public names of this module. Tables are interpolated linearly in log-log; their
bin integrals are analytic (:func:`~xgamma.models.registry.loglog_integral`).

Examples
--------
>>> import numpy as np
>>> from xgamma.models.spectral_tables import piecewise_norm_model, template_model
>>> t = template_model([1.0, 10.0], [1e-12, 1e-14])
>>> round(float(t.integral(1.0, 10.0)) / 9e-13, 8)   # the table is the power law E^-2
1.0
>>> float(piecewise_norm_model([1.0, 10.0], [2.0, 2.0])(np.array([0.5, 3.0, 50.0]))[1])
2.0
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import astropy.units as u
import numpy as np

from xgamma._paths import data_dir
from xgamma.models.params import Parameter, Parameters, merge_parameters
from xgamma.models.registry import (
    TINY,
    ModelSpec,
    get_spec,
    gl_integral,
    loglog_eval,
    loglog_integral,
    register,
    to_unit,
)
from xgamma.models.spectral_base import FLUX_UNIT, SpectralModel

__all__ = [
    "EBL_TABLES",
    "template_model",
    "piecewise_norm_model",
    "ebl_absorption",
]

#: Built-in EBL tables (file names in ``<data>/ebl/``).
EBL_TABLES = {
    "franceschini": "ebl_franceschini.fits.gz",
    "dominguez": "ebl_dominguez11.fits.gz",
    "finke": "frd_abs.fits.gz",
    "franceschini17": "ebl_franceschini_2017.fits.gz",
    "saldana-lopez21": "ebl_saldana-lopez_2021.fits.gz",
}


# --------------------------------------------------------------------------------------------
# the model functions: f(energy, p, data) with p in the order of the spec's parameters


def _piecewise_scalar(values: Sequence[Any]) -> np.ndarray:
    return np.array([float(v) for v in values])


def _piecewise(e: Any, p: Sequence[Any], d: Mapping[str, Any]) -> Any:
    if any(np.ndim(v) for v in p):
        f = np.vectorize(lambda ee, *vv: _piecewise(ee, vv, d))
        return f(e, *p)
    xn, yn = np.asarray(d["energy"]), _piecewise_scalar(p)
    if d.get("interp", "log") == "log":
        return loglog_eval(e, xn, yn, extrapolate=False)
    return np.interp(e, xn, yn)


def _piecewise_integral(e1: Any, e2: Any, p: Sequence[Any], d: Mapping[str, Any], power: int = 0) -> Any:
    if any(np.ndim(v) for v in p) or d.get("interp", "log") != "log":
        fn = lambda e: _piecewise(e, p, d)  # noqa: E731
        return gl_integral(fn, e1, e2, power=power, nodes=d["energy"] if not any(np.ndim(v) for v in p) else None)
    return loglog_integral(e1, e2, np.asarray(d["energy"]), _piecewise_scalar(p), extrapolate=False, power=power)


def _template(e: Any, p: Sequence[Any], d: Mapping[str, Any]) -> Any:
    return loglog_eval(e, np.asarray(d["energy"]), np.asarray(d["values"]), extrapolate=True)


def _template_integral(e1: Any, e2: Any, p: Sequence[Any], d: Mapping[str, Any], power: int = 0) -> Any:
    return loglog_integral(e1, e2, np.asarray(d["energy"]), np.asarray(d["values"]), True, power)


def _ebl_nodes(z: float, alpha_norm: float, d: Mapping[str, Any]) -> np.ndarray:
    """Absorption at the energy nodes for redshift ``z`` (linear in z of log values)."""
    zn = np.asarray(d["redshift"])
    table = d["log_values"] if "log_values" in d else np.log(np.maximum(np.asarray(d["values"]), TINY))
    i = int(np.clip(np.searchsorted(zn, z, side="right") - 1, 0, len(zn) - 2))
    t = (z - zn[i]) / (zn[i + 1] - zn[i])
    ly = (1 - t) * table[i] + t * table[i + 1]
    return np.exp(np.minimum(ly, 0.0) * alpha_norm)


def _ebl(e: Any, p: Sequence[Any], d: Mapping[str, Any]) -> Any:
    alpha_norm, redshift = p
    if np.ndim(alpha_norm) or np.ndim(redshift):
        f = np.vectorize(lambda ee, aa, zz: _ebl(ee, (aa, zz), d))
        return f(e, alpha_norm, redshift)
    yn = _ebl_nodes(float(redshift), float(alpha_norm), d)
    return np.clip(loglog_eval(e, np.asarray(d["energy"]), yn, extrapolate=True), 0.0, 1.0)


def _ebl_integral(e1: Any, e2: Any, p: Sequence[Any], d: Mapping[str, Any], power: int = 0) -> Any:
    alpha_norm, redshift = p
    if np.ndim(alpha_norm) or np.ndim(redshift):
        return gl_integral(lambda e: _ebl(e, p, d), e1, e2, power=power)
    yn = _ebl_nodes(float(redshift), float(alpha_norm), d)
    return loglog_integral(e1, e2, np.asarray(d["energy"]), yn, True, power)


def _read_ebl_table(path: str | Path) -> dict[str, Any]:
    from astropy.io import fits

    with fits.open(path) as hdul:
        en = hdul["ENERGIES"].data
        sp = hdul["SPECTRA"].data
        e = np.sqrt(np.asarray(en["ENERG_LO"], float) * np.asarray(en["ENERG_HI"], float)) * 1e-9  # keV->TeV
        z, idx = np.unique(np.asarray(sp["PARAMVAL"], float).ravel(), return_index=True)
        values = np.asarray(sp["INTPSPEC"], float)[idx]
    return _ebl_data(e, z, values, str(path))


def _ebl_data(energy: np.ndarray, redshift: np.ndarray, values: np.ndarray, filename: str | None) -> dict[str, Any]:
    """EBL table data; the log of the table is computed once here (part of the model's data)."""
    return {"energy": energy, "redshift": redshift, "values": values, "filename": filename,
            "log_values": np.log(np.maximum(values, TINY))}


def _nodes_dict(d: Mapping[str, Any], key: str, unit: str) -> dict[str, Any]:
    return {"data": [float(x) for x in np.asarray(d[key]).ravel()], "unit": unit}


# --------------------------------------------------------------------------------------------
# constructors


def template_model(energy: Any, values: Any, unit: str = FLUX_UNIT) -> SpectralModel:
    """Tabulated model, interpolated linearly in log-log (extrapolated beyond the nodes).

    Examples
    --------
    >>> t = template_model([1.0, 10.0], [1e-12, 1e-14])
    >>> float(t(3.0)) / 1e-12 - 3.0 ** -2 < 1e-12
    True
    """
    e = np.asarray(to_unit(energy, "TeV"), dtype=float)
    v = np.asarray(values.value if isinstance(values, u.Quantity) else values, dtype=float)
    vu = str(values.unit) if isinstance(values, u.Quantity) else unit
    if u.Unit(vu).physical_type != "dimensionless":
        v = v * u.Unit(vu).to(FLUX_UNIT)
        vu = FLUX_UNIT
    else:
        vu = ""
    return SpectralModel("TemplateSpectralModel", Parameters(), {"energy": e, "values": v, "values_unit": vu})


def piecewise_norm_model(energy: Any, norms: Sequence[float] | None = None, interp: str = "log") -> SpectralModel:
    """Piecewise norm: one free ``norm_i`` per energy node (constant beyond the end nodes).

    Examples
    --------
    >>> m = piecewise_norm_model([1.0, 10.0], [1.0, 4.0])
    >>> round(float(m(np.sqrt(10.0))), 6)
    2.0
    """
    e = np.asarray(to_unit(energy, "TeV"), dtype=float)
    norms = list(np.ones(len(e)) if norms is None else norms)
    if len(norms) != len(e) or len(e) < 2:
        raise ValueError("need as many norms as energy nodes, at least 2")
    pars = Parameters(Parameter(f"norm_{i}", float(v)) for i, v in enumerate(norms))
    return SpectralModel("PiecewiseNormSpectralModel", pars, {"energy": e, "interp": interp})


def ebl_absorption(reference: str = "dominguez", redshift: float = 0.1, alpha_norm: float = 1.0,
                   filename: str | Path | None = None) -> SpectralModel:
    """EBL absorption ``exp(-alpha_norm * tau(E, z))`` from an XSPEC table model.

    ``reference`` is one of :data:`EBL_TABLES` (found in ``<data>/ebl/``); or give ``filename``.
    Interpolation: linear in redshift and log-linear in energy of the log absorption.

    Examples
    --------
    >>> from xgamma._paths import data_dir
    >>> if data_dir(required=False) is not None:
    ...     m = ebl_absorption("dominguez", redshift=0.5)
    ...     assert 0 < float(m(1.0)) < 1
    """
    if filename is None:

        if reference not in EBL_TABLES:
            raise KeyError(f"unknown EBL reference {reference!r}; known: {sorted(EBL_TABLES)}")
        base = data_dir()
        assert base is not None
        filename = base / "ebl" / EBL_TABLES[reference]
    data = _read_ebl_table(filename)
    spec = get_spec("EBLAbsorptionNormSpectralModel", "spectral")
    pars = spec.default_parameters.with_values({"alpha_norm": alpha_norm, "redshift": redshift})
    zmin, zmax = float(data["redshift"].min()), float(data["redshift"].max())
    pars = pars.with_bounds("redshift", zmin, zmax)
    return SpectralModel(spec.tag, pars, data)


# --------------------------------------------------------------------------------------------
# YAML dicts


def _quantity_from(d: Mapping[str, Any], unit: str) -> np.ndarray:
    return np.asarray(u.Quantity(d["data"], d.get("unit", "") or "").to_value(unit), dtype=float)


def _piecewise_from_dict(data: Mapping[str, Any]) -> SpectralModel:
    e = _quantity_from(data["energy"], "TeV")
    pars = Parameters.from_dict(data.get("parameters", []))
    return SpectralModel("PiecewiseNormSpectralModel", pars, {"energy": e, "interp": data.get("interp", "log")})


def _template_from_dict(data: Mapping[str, Any]) -> SpectralModel:
    v = data["values"]
    return template_model(_quantity_from(data["energy"], "TeV"), u.Quantity(v["data"], v.get("unit", "") or ""))


def _ebl_from_dict(data: Mapping[str, Any]) -> SpectralModel:
    spec = get_spec("EBLAbsorptionNormSpectralModel", "spectral")
    pars = merge_parameters(spec.default_parameters, data.get("parameters"), spec.tag)
    if "filename" in data:
        fn = Path(str(data["filename"]))
        if not fn.exists():
            for ref, name in EBL_TABLES.items():
                if Path(name).name.split(".")[0] in fn.name:
                    return SpectralModel(spec.tag, pars, ebl_absorption(ref).data)
            raise FileNotFoundError(f"EBL table {fn} not found")
        return SpectralModel(spec.tag, pars, _read_ebl_table(fn))
    table = _ebl_data(_quantity_from(data["energy"], "TeV"), _quantity_from(data["param"], ""),
                      np.asarray(data["values"]["data"], dtype=float), None)
    return SpectralModel(spec.tag, pars, table)


def _ebl_to_dict(d: Mapping[str, Any]) -> dict[str, Any]:
    if d.get("filename"):
        return {"filename": str(d["filename"])}
    return {
        "energy": _nodes_dict(d, "energy", "TeV"),
        "param": _nodes_dict(d, "redshift", ""),
        "values": {"data": np.asarray(d["values"]).tolist(), "unit": ""},
    }


# --------------------------------------------------------------------------------------------
# registration of the tabulated families
def _reg(tag: str, aliases: tuple[str, ...], params: tuple[Parameter, ...], evaluate: Any, **kw: Any) -> None:
    register(ModelSpec(tag, "spectral", aliases, params, evaluate, **kw))


_P = Parameter
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
