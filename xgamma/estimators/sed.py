"""Flux points and light curves in the GADF SED / light-curve table formats (ECSV and FITS).

A flux-point table has one row per energy bin: ``e_ref``, ``e_min``, ``e_max`` [TeV] and, for
``SED_TYPE = "likelihood"``, ``norm``, ``norm_err``, ``norm_errp``, ``norm_errn``, ``norm_ul``,
``ts``, ``sqrt_ts``, ``npred``, ``npred_excess``, ``counts``, ``stat``, ``stat_null``, ``is_ul``,
``success``, ``ref_dnde``, ``ref_flux``, ``ref_eflux``, ``ref_e2dnde`` and the array columns
``norm_scan``/``stat_scan``; for ``dnde``/``e2dnde``/``flux``/``eflux`` tables the columns
``<type>``, ``<type>_err``, ``_errp``, ``_errn``, ``_ul``, ``_sensitivity`` (with units; energy
fluxes in erg as the established tool writes them), ``ts``, ``sqrt_ts``, ``npred``, ``npred_excess``,
``stat``, ``stat_null``, ``is_ul``, ``counts``, ``success``. Columns come in the established tool's
order; ``npred``, ``npred_excess`` and ``counts`` are 2D (bin x dataset, one dataset column) as it
writes them, and are summed over datasets on reading. A light-curve table has one row per time bin with ``time_min``/``time_max`` [MJD]
and the same quantities as vector columns over the energy bins (``e_min``/``e_max`` too).

Meta: ``SED_TYPE``, ``UL_CONF`` (confidence of the upper
limits), ``N_SIGMA``, ``N_SIGMA_UL``, ``TS_UL`` (``sqrt_ts`` threshold of ``is_ul``),
``MJDREF`` and the reference model YAML (``REF_MODEL``, JSON-quoted in FITS headers).

:func:`read_sed` gives back the estimator result of :mod:`xgamma.estimators.core`. Tables of a
non-likelihood SED type carry no reference model: the norms are then taken relative to a power law
of index 2 and amplitude ``1e-12 cm-2 s-1 TeV-1`` at 1 TeV (or the ``reference`` given), with
the reference fluxes evaluated at the table's ``e_ref`` so that the SED values are reproduced
exactly.

Examples
--------
>>> import os, tempfile, xgamma as xg
>>> from xgamma.estimators.core import estimator_result
>>> from xgamma.models import spectral_model
>>> r = estimator_result({"norm": [1.0, 0.5], "norm_err": [0.1, 0.2], "ts": [30.0, 4.0]},
...                      xg.energy_axis(1, 10, 2), spectral_model("pl"))
>>> p = os.path.join(tempfile.mkdtemp(), "sed.fits")
>>> write_sed(r, p)
>>> bool(read_sed(p).identical(r))
True
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from xgamma.conventions import validate
from xgamma.errors import ConventionError, XgammaIOError
from xgamma.estimators.core import (
    NORM_VARS,
    estimator_result,
    reference_fluxes,
    time_axis,
    time_mjd,
    to_sed_type,
)
from xgamma.io.yaml import read_models
from xgamma.models.spectral import spectral_model

__all__ = ["write_sed", "read_sed", "sed_table", "sed_from_table", "write_flux_points"]

_LIKE = ("norm", "norm_err", "norm_errp", "norm_errn", "norm_ul", "ts", "sqrt_ts", "npred", "npred_excess",
         "counts", "stat", "stat_null", "is_ul", "success", "valid")
_REF = ("ref_dnde", "ref_flux", "ref_eflux", "ref_e2dnde")
_SED_UNITS = {"dnde": "cm-2 s-1 TeV-1", "e2dnde": "TeV cm-2 s-1", "flux": "cm-2 s-1", "eflux": "TeV cm-2 s-1"}
#: Units of the established tool's SED tables (energy fluxes in erg).
_GAMMAPY_SED_UNITS = {"dnde": "cm-2 s-1 TeV-1", "e2dnde": "erg cm-2 s-1", "flux": "cm-2 s-1",
                      "eflux": "erg cm-2 s-1"}
#: Columns with one value per dataset (2D in the established tool's tables: energy x dataset).
_PER_DATASET = ("npred", "npred_excess", "counts")
#: Columns the established tool writes without a unit.
_NO_UNIT = ("stat", "stat_scan", "is_ul")
#: Reference columns of a likelihood table (``ref_e2dnde`` is derived, not written).
_REF_WRITTEN = ("ref_dnde", "ref_flux", "ref_eflux")
_NOT_WRITTEN = ("stat_scan", "norm_scan", "ref_e2dnde")


def _gammapy_columns(sed_type: str) -> tuple[str, ...]:
    """Column order of the established tool's GADF SED tables (after ``e_ref, e_min, e_max``)."""
    tail = ("ts", "sqrt_ts", "npred", "npred_excess", "stat", "stat_null", "stat_scan", "is_ul", "counts",
            "success", "norm_scan")
    if sed_type == "likelihood":
        return ("ref_dnde", "ref_flux", "ref_eflux", "norm", "norm_err", "norm_errn", "norm_errp", "norm_ul",
                "norm_sensitivity", *tail)
    return tuple(sed_type + s for s in ("", "_err", "_errp", "_errn", "_ul", "_sensitivity")) + tail


def _fmt(path: Path, format: str | None) -> str:
    if format is not None:
        return {"ecsv": "ascii.ecsv"}.get(format, format)
    name = path.name.lower()
    if name.endswith(".ecsv"):
        return "ascii.ecsv"
    if name.endswith((".fits", ".fits.gz", ".fit", ".fits.fz")):
        return "fits"
    raise XgammaIOError("unknown table format from the file name", path=path, expected=".ecsv or .fits")


def sed_table(result: xr.Dataset, sed_type: str = "likelihood", format: str = "ascii.ecsv") -> Any:
    """The GADF table (:class:`astropy.table.Table`) of a flux-point or light-curve result.

    Examples
    --------
    >>> import xgamma as xg
    >>> from xgamma.estimators.core import estimator_result
    >>> from xgamma.models import spectral_model
    >>> r = estimator_result({"norm": [2.0]}, xg.energy_axis(1, 100, 1), spectral_model("pl", index=2))
    >>> t = sed_table(r, "e2dnde")
    >>> t.meta["SED_TYPE"], round(float(t["e2dnde"].quantity[0].to_value("TeV cm-2 s-1")) * 1e12, 6), str(t["e2dnde"].unit)
    ('e2dnde', 2.0, 'erg / (s cm2)')
    """
    from astropy.table import Table

    lc = "time" in result.dims
    order = ("time", "energy") if lc else ("energy",)
    extra = [d for d in result.dims if d not in order and d != "norm_scan"]
    if extra:
        raise ValueError(f"sed_table: only (time,) energy results can be written, found dims {extra}")
    t = Table()
    n_e = result.sizes["energy"]
    n_t = result.sizes["time"] if lc else 0

    def col(values: np.ndarray) -> np.ndarray:  # per-energy (coords) -> column
        return np.broadcast_to(values, (n_t, n_e)).copy() if lc else values

    if lc:
        t["time_min"] = time_mjd(result, "time_min")
        t["time_max"] = time_mjd(result, "time_max")
        t["time_min"].unit = t["time_max"].unit = "d"
    for c in ("e_ref", "e_min", "e_max"):
        src = {"e_ref": "energy", "e_min": "energy_min", "e_max": "energy_max"}[c]
        t[c] = col(np.asarray(result[src].values, float))
        t[c].unit = "TeV"
    if sed_type != "likelihood" and sed_type not in _SED_UNITS:
        raise ValueError(f"sed_type must be 'likelihood' or one of {list(_SED_UNITS)}")
    data = result if sed_type == "likelihood" else to_sed_type(result, sed_type)
    if sed_type != "likelihood":  # what to_sed_type leaves out, in the established tool's columns
        sens = result.get("norm_sensitivity")
        more = {k: result[k] for k in ("stat", "stat_null") if k in result}
        if sens is not None:
            more[f"{sed_type}_sensitivity"] = (sens * result[f"ref_{sed_type}"]).assign_attrs(
                units=_SED_UNITS[sed_type])
        data = data.assign(more)
    names = [v for v in _gammapy_columns(sed_type) if v in data and v not in ("stat_scan", "norm_scan")]
    # xgamma's own variables after the established tool's (it ignores columns it does not know)
    names += [str(v) for v in data.data_vars if v not in names and v not in _NOT_WRITTEN
              and not str(v).startswith("ref_") and not str(v).endswith("_ref")
              and set(data[v].dims) <= set(order)]
    if sed_type == "likelihood":
        names = [v for v in _REF_WRITTEN if v in data] + [v for v in names if v not in _REF_WRITTEN]
    scan = None
    if "stat_scan" in result:
        scan = np.asarray(result["stat_scan"].transpose(*order, "norm_scan").values, float)
    for v in names:
        da = data[v]
        arr = np.asarray(da.transpose(*[d for d in order if d in da.dims]).values)
        if da.dims == ("energy",):
            arr = col(arr)
        if v in _PER_DATASET and arr.ndim == len(order):
            arr = arr[..., np.newaxis]  # one "dataset" column, as the established tool writes it
        t[v] = arr
        unit = da.attrs.get("units", "")
        if v not in _NO_UNIT:
            t[v].unit = unit
        if v == "stat_null" and scan is not None:
            t["stat_scan"] = scan
    if scan is not None:
        if "stat_scan" not in t.colnames:
            t["stat_scan"] = scan
        t["norm_scan"] = np.broadcast_to(np.asarray(result["norm_scan"].values, float), scan.shape).copy()
        t["norm_scan"].unit = ""
    # the established tool writes SED quantities in its own units (erg for energy fluxes)
    if sed_type != "likelihood":
        for c in t.colnames:
            if c.startswith(sed_type) and t[c].unit is not None:
                t[c] = t[c].to(_GAMMAPY_SED_UNITS[sed_type])
    if "ref_eflux" in t.colnames and not lc:
        t["ref_eflux"] = t["ref_eflux"].to("erg cm-2 s-1")
    n_sigma_ul = float(result.attrs.get("n_sigma_ul", 2.0))
    meta: dict[str, Any] = {
        "SED_TYPE": sed_type,
        "UL_CONF": float(math.erf(n_sigma_ul / math.sqrt(2))),
        "N_SIGMA": float(result.attrs.get("n_sigma", 1.0)),
        "N_SIGMA_UL": n_sigma_ul,
        "TS_UL": float(result.attrs.get("sqrt_ts_threshold_ul", 2.0)),
    }
    if lc:
        meta["MJDREF"] = float(result.attrs.get("mjdref", 0.0))
    elif format == "fits":
        meta["EXTNAME"] = "FLUXPOINTS"
    if "reference_model" in result.attrs:
        ref = str(result.attrs["reference_model"])
        meta["REF_MODEL"] = json.dumps(ref) if format == "fits" else ref
    t.meta.update(meta)
    return t


def write_sed(result: xr.Dataset, path: str | Path, sed_type: str = "likelihood", format: str | None = None,
              overwrite: bool = True) -> None:
    """Write a flux-point or light-curve result as a GADF table (``.ecsv`` or ``.fits``).

    Examples
    --------
    >>> import os, tempfile, xgamma as xg
    >>> from xgamma.estimators.core import estimator_result
    >>> from xgamma.models import spectral_model
    >>> r = estimator_result({"norm": [1.0]}, xg.energy_axis(1, 10, 1), spectral_model("pl"))
    >>> p = os.path.join(tempfile.mkdtemp(), "sed.ecsv")
    >>> write_sed(r, p)
    >>> float(read_sed(p).norm[0])
    1.0
    """
    path = Path(path)
    fmt = _fmt(path, format)
    t = sed_table(result, sed_type, format="fits" if fmt == "fits" else fmt)
    t.write(path, format=fmt, overwrite=overwrite)


def _unit_value(col: Any, unit: str) -> np.ndarray:
    import astropy.units as u

    data = np.ma.filled(np.ma.asarray(col, dtype=float), np.nan) if col.dtype.kind in "fi" else np.asarray(col)
    if getattr(col, "unit", None) is not None and unit:
        return np.asarray((data * u.Unit(col.unit)).to_value(unit), float)
    return np.asarray(data, float)


def _per_bin(name: str, arr: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """A column as one value per bin: per-dataset columns (``npred``, ``counts``: energy x dataset in
    the established tool's tables) are summed over the datasets."""
    if name in _PER_DATASET and arr.ndim == len(shape) + 1:
        arr = arr.sum(axis=-1)
    try:
        return arr.reshape(shape)
    except ValueError:
        raise XgammaIOError(f"column {name!r} has shape {arr.shape}, expected {shape}") from None


def sed_from_table(table: Any, reference: Any = None) -> xr.Dataset:
    """Estimator result from a GADF SED or light-curve :class:`~astropy.table.Table`.

    Examples
    --------
    >>> from astropy.table import Table
    >>> t = Table({"e_min": [1.0], "e_max": [4.0], "dnde": [3e-12], "dnde_err": [1e-12]},
    ...           meta={"SED_TYPE": "dnde"})
    >>> r = sed_from_table(t)
    >>> round(float(r.norm[0]), 6), round(float(r.norm_err[0]), 6)     # reference 1e-12 (E/TeV)^-2 at e_ref = 2 TeV
    (12.0, 4.0)
    """

    meta = {str(k).upper(): v for k, v in table.meta.items()}
    sed_type = str(meta.get("SED_TYPE", "likelihood")).strip()
    lc = "time_min" in table.colnames
    e_min = _unit_value(table["e_min"], "TeV")
    e_max = _unit_value(table["e_max"], "TeV")
    if lc:
        e_min, e_max = e_min.reshape(len(table), -1)[0], e_max.reshape(len(table), -1)[0]
    e_ref_given = None
    if "e_ref" in table.colnames:
        e_ref_given = _unit_value(table["e_ref"], "TeV")
        e_ref_given = e_ref_given.reshape(len(table), -1)[0] if lc else e_ref_given
    elif "e_min" not in table.colnames:
        raise XgammaIOError("not a GADF SED table", expected="columns e_min, e_max")
    ref_model: Any = reference
    if ref_model is None and "REF_MODEL" in meta:

        text = str(meta["REF_MODEL"])
        if text.startswith('"'):
            text = json.loads(text)
        ref_model = read_models(text)
    if ref_model is None:
        ref_model = spectral_model("pl", index=2.0, amplitude=1e-12, reference=1.0)
    centre = np.sqrt(e_min * e_max)
    coords: dict[str, Any] = {
        "energy": xr.Variable("energy", centre, attrs={"units": "TeV", "interp": "log"}),
        "energy_min": xr.Variable("energy", e_min, attrs={"units": "TeV"}),
        "energy_max": xr.Variable("energy", e_max, attrs={"units": "TeV"}),
    }
    energy = xr.DataArray(centre, dims="energy", coords=coords, name="energy", attrs={"units": "TeV", "interp": "log"})
    dims: tuple[str, ...] = ("energy",)
    extra_coords: dict[str, Any] = {}
    attrs: dict[str, Any] = {}
    if lc:
        mjdref = meta.get("MJDREF")
        tax = time_axis(_unit_value(table["time_min"], "d"), _unit_value(table["time_max"], "d"),
                        None if mjdref is None else float(mjdref))
        extra_coords = {str(k): v for k, v in tax.coords.items()}
        dims = ("time", "energy")
        attrs["mjdref"] = float(tax.attrs["mjdref"])
    shape = (len(table), e_min.size) if lc else (e_min.size,)
    ref_at = reference_fluxes(ref_model, e_min, e_max, e_ref_given)
    data: dict[str, Any] = {}
    units: dict[str, str] = {}
    skip = {"e_ref", "e_min", "e_max", "time_min", "time_max", "norm_scan", "stat_scan", *_REF}
    if sed_type == "likelihood":
        for c in table.colnames:
            if c in skip:
                continue
            col = table[c]
            arr = np.asarray(col) if col.dtype.kind == "b" else _unit_value(col, "")
            if lc and arr.ndim == 1:
                continue  # per-time columns are added below
            data[c] = _per_bin(c, arr, shape)
            if getattr(col, "unit", None) is not None and col.dtype.kind != "b":
                units[c] = col.unit.to_string()
    else:
        unit = _SED_UNITS.get(sed_type)
        if unit is None:
            raise XgammaIOError(f"unknown SED_TYPE {sed_type!r}", expected=f"likelihood or {list(_SED_UNITS)}")
        ref = ref_at[f"ref_{sed_type}"]
        for v in NORM_VARS:
            c = sed_type + v[4:]
            if c in table.colnames:
                data[v] = (_unit_value(table[c], unit).reshape(shape) / ref)
        if f"{sed_type}_sensitivity" in table.colnames:
            data["norm_sensitivity"] = _unit_value(table[f"{sed_type}_sensitivity"], unit).reshape(shape) / ref
        for c in ("ts", "sqrt_ts", "npred", "npred_excess", "counts", "stat", "stat_null", "is_ul", "success",
                  "valid"):
            if c in table.colnames:
                col = table[c]
                arr = np.asarray(col) if col.dtype.kind == "b" else _unit_value(col, "")
                data[c] = _per_bin(c, arr, shape)
    scan = None
    if "stat_scan" in table.colnames and "norm_scan" in table.colnames:
        ns = np.asarray(table["norm_scan"], float)
        scan = ns.reshape(-1, ns.shape[-1])[0]
        data["stat_scan"] = np.asarray(table["stat_scan"], float).reshape(shape + (scan.size,))
    res = estimator_result(data, energy, ref_model, dims=dims, coords=extra_coords, norm_scan=scan,
                           n_sigma=float(meta.get("N_SIGMA", 1.0)), n_sigma_ul=float(meta.get("N_SIGMA_UL", 2.0)),
                           sqrt_ts_threshold_ul=float(meta.get("TS_UL", 2.0)), attrs=attrs)
    for k, u_ in units.items():
        if k in res:
            res[k].attrs["units"] = u_
    # reference fluxes: the table's columns when present, else at e_ref (reproducing the SED values)
    for k in _REF:
        if k in table.colnames:
            vals = _unit_value(table[k], _SED_UNITS[k[4:]])
            vals = vals.reshape(len(table), -1)[0] if lc else vals
            res[k] = ("energy", vals, {"units": _SED_UNITS[k[4:]]})
        elif sed_type != "likelihood" or e_ref_given is not None:
            res[k] = ("energy", ref_at[k], {"units": _SED_UNITS[k[4:]]})
    if lc:
        for c in table.colnames:
            if c in skip or c in res:
                continue
            col = table[c]
            if np.ndim(col) == 1:
                res[c] = ("time", _unit_value(col, ""), {"units": col.unit.to_string() if col.unit else ""})
    return res


def read_sed(path: str | Path, reference: Any = None, format: str | None = None) -> xr.Dataset:
    """Read a GADF flux-point or light-curve table (``.ecsv`` / ``.fits``) as an estimator result.

    Examples
    --------
    >>> import xgamma as xg
    >>> d = xg.data_dir(required=False)
    >>> if d is not None:
    ...     r = read_sed(d / "hawc/crab_flux/HAWC19_flux_points.fits")
    ...     assert r.sizes["energy"] == 10 and bool(r.is_ul[-1])
    """
    from astropy.table import Table

    path = Path(path)
    if not path.exists():
        raise XgammaIOError("file not found", path=path)
    fmt = _fmt(path, format)
    try:
        t = Table.read(path, format=fmt) if fmt != "fits" else Table.read(path, hdu=1)
    except Exception as exc:  # noqa: BLE001 - report which file failed
        raise XgammaIOError(f"cannot read table: {exc}", path=path) from exc
    res = sed_from_table(t, reference)
    try:
        validate(res, "dataset")
    except ConventionError as exc:
        raise XgammaIOError(str(exc), path=path) from exc
    return res


def write_flux_points(result: xr.Dataset, path: str | Path, format: str | None = None,
                      sed_type: str = "likelihood", overwrite: bool = True) -> None:
    """Alias of :func:`write_sed` (``format`` may be ``"ecsv"`` or ``"fits"``).

    Examples
    --------
    >>> import os, tempfile, xgamma as xg
    >>> from xgamma.estimators.core import estimator_result
    >>> from xgamma.models import spectral_model
    >>> r = estimator_result({"norm": [1.0]}, xg.energy_axis(1, 10, 1), spectral_model("pl"))
    >>> p = os.path.join(tempfile.mkdtemp(), "fp.txt")
    >>> write_flux_points(r, p, format="ecsv")
    >>> float(read_sed(p, format="ecsv").norm[0])
    1.0
    """
    write_sed(result, path, sed_type=sed_type, format=format, overwrite=overwrite)
