"""Source catalogs as pandas DataFrames: the registry of names, the readers' shared helpers,
name and cone queries, and the conversion of rows to models and flux points.

:func:`read_catalog` returns one row per source: lower-case column names, a ``source_name``
column, the positions always in ``ra``, ``dec`` (ICRS) and ``glon``, ``glat`` [deg], the
columns' units in ``df.attrs["units"]`` (astropy unit strings, as the file writes them) and the
catalog's name in ``df.attrs["catalog"]``. Vector columns (band fluxes, light curves, flux points)
hold one numpy array per row. Everything is read when the function is called (one read of the
file per call; nothing is cached). Queries are plain pandas; :func:`catalog_row` matches the
catalog's name columns (incl. association names) and :func:`cone` selects by position.

:func:`catalog_models` turns rows into :class:`~xgamma.models.Models` with the catalog's spectral
and spatial models; :func:`catalog_flux_points` and :func:`catalog_light_curve` give a row's flux
points / light curve in the estimator result form (:mod:`xgamma.estimators.core`), relative to the
row's spectral model.

Each catalog family (``fermi``, ``hgps``, ``gammacat``, ``hawc``, ``lhaaso``) registers a
:class:`CatalogFamily` here when :mod:`xgamma.catalogs` is imported.

Examples
--------
>>> import pandas as pd
>>> df = pd.DataFrame({"source_name": ["a", "b"], "assoc1": ["Crab", ""],
...                    "ra": [83.6, 10.0], "dec": [22.0, -5.0], "glon": [184.6, 100.0], "glat": [-5.8, -67.0]})
>>> df.attrs = {"catalog": "example", "units": {"ra": "deg"}, "name_columns": ["source_name", "assoc1"]}
>>> catalog_row(df, "crab").source_name.tolist()
['a']
>>> cone(df, 83.0, 22.0, radius=1.0).source_name.tolist()
['a']
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import astropy.units as u
import numpy as np
import pandas as pd
import xarray as xr
from astropy.coordinates import SkyCoord, angular_separation

from xgamma._paths import data_dir
from xgamma.errors import XgammaError, XgammaIOError
from xgamma.estimators import estimator_result, reference_fluxes, time_axis
from xgamma.models import Models, Parameters, SkyModel, SpectralModel, SpectralModelBase, get_spec
from xgamma.models.spatial import SpatialModel

__all__ = [
    "CatalogError",
    "CatalogFamily",
    "Units",
    "register_catalog",
    "catalog_names",
    "read_catalog",
    "catalog_row",
    "cone",
    "catalog_models",
    "catalog_spectral_model",
    "catalog_flux_points",
    "catalog_light_curve",
    "fits_frame",
    "finish_frame",
    "make_spectral",
    "make_spatial",
    "band_flux_points",
    "dnde_flux_points",
    "energy_bins",
    "history_axis",
    "unsupported",
]


class CatalogError(XgammaError, ValueError):
    """A catalog name, source name or catalog model is unknown or not supported (one line)."""


@dataclass(frozen=True)
class CatalogFamily:
    """How to read one catalog and turn its rows into models.

    Attributes
    ----------
    name : str
        Registry name (``"3fgl"``).
    read : callable
        ``read(path) -> DataFrame`` (finished with :func:`finish_frame`).
    models : callable
        ``models(row, units, options) -> list[SkyModel]`` for one row (a dict).
    spectral : callable
        ``spectral(row, units, options) -> SpectralModel`` (the row's main spectral model).
    path : str, optional
        Default file, relative to :func:`xgamma.data_dir` (``None``: the user gives a path).
    flux_points, light_curve : callable, optional
        ``f(row, units, attrs) -> xarray.Dataset`` (estimator result form).
    name_columns : tuple of str
        Columns searched by :func:`catalog_row` (comma-separated lists are split).
    description : str

    Examples
    --------
    >>> fam = _family("3hwc")
    >>> fam.path, fam.name_columns
    ('3HWC.ecsv', ('source_name',))
    """

    name: str
    read: Callable[[Path], pd.DataFrame]
    models: Callable[[Mapping[str, Any], Units, Mapping[str, Any]], list[SkyModel]]
    spectral: Callable[[Mapping[str, Any], Units, Mapping[str, Any]], SpectralModelBase]
    path: str | None = None
    flux_points: Callable[[Mapping[str, Any], Units, Mapping[str, Any]], xr.Dataset] | None = None
    light_curve: Callable[[Mapping[str, Any], Units, Mapping[str, Any]], xr.Dataset] | None = None
    name_columns: tuple[str, ...] = ("source_name",)
    description: str = ""
    aliases: tuple[str, ...] = field(default_factory=tuple)


_FAMILIES: dict[str, CatalogFamily] = {}


def register_catalog(family: CatalogFamily) -> CatalogFamily:
    """Add a catalog family to the registry (done by the family modules at import).

    Examples
    --------
    >>> "3fgl" in catalog_names()
    True
    """
    for name in (family.name, *family.aliases):
        _FAMILIES[name.lower()] = family
    return family


def catalog_names() -> list[str]:
    """The registered catalog names.

    Examples
    --------
    >>> catalog_names()[:3]
    ['3fgl', '2fhl', '3fhl']
    """
    seen: dict[str, None] = {}
    for fam in _FAMILIES.values():
        seen.setdefault(fam.name, None)
    return list(seen)


def _family(name: str) -> CatalogFamily:
    fam = _FAMILIES.get(str(name).lower())
    if fam is None:
        raise CatalogError(f"unknown catalog {name!r}; valid names: {', '.join(catalog_names())}")
    return fam


# --------------------------------------------------------------------------------------------
# reading


def read_catalog(name_or_path: str | Path, path: str | Path | None = None) -> pd.DataFrame:
    """Read a source catalog into a DataFrame (one row per source).

    Parameters
    ----------
    name_or_path : str or Path
        A registered name (:func:`catalog_names`: ``"3fgl"``, ``"2fhl"``, ``"3fhl"``, ``"hgps"``,
        ``"gamma-cat"``, ``"2hwc"``, ``"3hwc"``, ``"1lhaaso"``, ``"4fgl"``) or the path of a
        catalog file (recognised by its file name: ``gll_psc_v*`` is 3FGL up to v16 and 4FGL
        from v18, ``gll_psch_v09``/``v13`` 2FHL/3FHL, ``hgps``, ``gammacat``, ``2HWC``/``3HWC``,
        ``1LHAASO``).
    path : str or Path, optional
        The file of a named catalog (required for ``"4fgl"``; default: the copy in
        ``xgamma.data_dir() / "catalogs"``).

    Returns
    -------
    pandas.DataFrame
        Columns lower-case, ``source_name``, ``ra``/``dec``/``glon``/``glat`` [deg]; attrs
        ``catalog``, ``path``, ``units`` (column -> unit string), ``name_columns``.

    Examples
    --------
    >>> from xgamma._paths import data_dir
    >>> if data_dir(required=False) is not None:
    ...     df = read_catalog("3hwc")
    ...     assert df.attrs["catalog"] == "3hwc" and df.attrs["units"]["ra"] == "deg"
    """
    p = Path(name_or_path)
    if path is None and (p.suffix or p.exists()) and str(name_or_path).lower() not in _FAMILIES:
        fam = _family(_guess_family(p))
        file = p
    else:
        fam = _family(str(name_or_path))
        if path is not None:
            file = Path(path)
        elif fam.path is None:
            raise CatalogError(f"catalog {fam.name!r} is not shipped: give its file, "
                               f"read_catalog({fam.name!r}, path=...)")
        else:
            base = data_dir(required=False)
            file = (base if base is not None else Path("data")) / "catalogs" / fam.path
    if not file.is_file():
        raise XgammaIOError(f"catalog file not found (catalog {fam.name!r})", path=file)
    return fam.read(file)


def _guess_family(p: Path) -> str:
    n = p.name.lower()
    if n.startswith("gll_psch_v09"):
        return "2fhl"
    if n.startswith("gll_psch"):
        return "3fhl"
    if n.startswith("gll_psc_v"):
        digits = "".join(ch for ch in n[len("gll_psc_v"):] if ch.isdigit())
        return "3fgl" if digits and int(digits) <= 16 else "4fgl"
    for key, name in (("hgps", "hgps"), ("gammacat", "gamma-cat"), ("gamma-cat", "gamma-cat"),
                      ("2hwc", "2hwc"), ("3hwc", "3hwc"), ("1lhaaso", "1lhaaso")):
        if key in n:
            return name
    raise CatalogError(f"{p}: cannot tell the catalog from the file name; "
                       f"use read_catalog(name, path=...) with one of {', '.join(catalog_names())}")


def _unit_string(unit: Any) -> str:
    if unit is None or str(unit).strip() == "":
        return ""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", u.UnitsWarning)
            parsed = u.Unit(str(unit), parse_strict="raise")
    except ValueError:
        return str(unit)
    for base, power in zip(parsed.bases, parsed.powers, strict=True):
        if base == u.ph:  # photon counts are numbers here (as in the IRFs): ph cm-2 s-1 -> cm-2 s-1
            parsed = parsed / base**power
    return parsed.to_string()


def fits_frame(hdu: Any) -> tuple[pd.DataFrame, dict[str, str]]:
    """A FITS binary table HDU as a DataFrame (lower-case names) and its units.

    Strings are stripped, numbers converted to native byte order, vector columns become one
    numpy array per row; integer nulls (``TNULL``, or the smallest integer as gamma-cat writes
    them) become missing values of a nullable ``Int64`` column.

    Examples
    --------
    >>> from astropy.io import fits
    >>> h = fits.BinTableHDU.from_columns([fits.Column("Source_Name", "8A", array=["a  "]),
    ...                                    fits.Column("Flux_Band", "2E", unit="cm-2 s-1", array=[[1.0, 2.0]])])
    >>> df, units = fits_frame(h)
    >>> df.source_name[0], df.flux_band[0].tolist(), units["flux_band"]
    ('a', [1.0, 2.0], '1 / (s cm2)')
    >>> ids = fits.BinTableHDU.from_columns([fits.Column("id", "K", array=[7, -2**63])])
    >>> fits_frame(ids)[0].id.isna().tolist()
    [False, True]
    """
    data = hdu.data
    cols: dict[str, Any] = {}
    units: dict[str, str] = {}
    for col in hdu.columns:
        name = col.name.lower()
        arr = np.asarray(data[col.name])
        if arr.dtype.kind in "SU":
            vals = arr.astype(str) if arr.dtype.kind == "S" else arr
            cols[name] = np.char.strip(vals).astype(object)
        elif arr.ndim > 1:
            arr = arr.astype(arr.dtype.newbyteorder("="))
            cols[name] = list(arr)
        else:
            arr = arr.astype(arr.dtype.newbyteorder("="))
            if arr.dtype.kind == "i":  # TNULL, or the smallest integer as a null (gamma-cat): missing
                null = col.null if col.null is not None else np.iinfo(arr.dtype).min
                missing = arr == null
                cols[name] = pd.arrays.IntegerArray(arr, missing) if missing.any() else arr
            else:
                cols[name] = arr
        if col.unit:
            units[name] = _unit_string(col.unit)
    return pd.DataFrame(cols), units


def finish_frame(df: pd.DataFrame, units: dict[str, str], catalog: str, path: Path,
                 rename: Mapping[str, str] | None = None, name_columns: Sequence[str] = ("source_name",),
                 attrs: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """Rename columns, add the missing ``ra``/``dec``/``glon``/``glat`` and set the attrs.

    Examples
    --------
    >>> df = finish_frame(pd.DataFrame({"name": ["x"], "raj2000": [83.63], "dej2000": [22.01]}), {},
    ...                   "example", Path("x.fits"), rename={"name": "source_name", "raj2000": "ra", "dej2000": "dec"})
    >>> round(float(df.glon[0]), 2), df.attrs["units"]["glat"]
    (184.56, 'deg')
    """
    rename = dict(rename or {})
    df = df.rename(columns=rename)
    units = {rename.get(k, k): v for k, v in units.items()}
    if "glon" not in df.columns and "ra" in df.columns:
        c = SkyCoord(np.asarray(df["ra"], float), np.asarray(df["dec"], float), unit="deg", frame="icrs").galactic
        df["glon"], df["glat"] = c.l.deg, c.b.deg
    if "ra" not in df.columns and "glon" in df.columns:
        c = SkyCoord(np.asarray(df["glon"], float), np.asarray(df["glat"], float), unit="deg", frame="galactic").icrs
        df["ra"], df["dec"] = c.ra.deg, c.dec.deg
    for k in ("ra", "dec", "glon", "glat"):
        units.setdefault(k, "deg")
    new_attrs: dict[str, Any] = {"catalog": catalog, "path": str(path), "units": units,
                                 "name_columns": [c for c in name_columns if c in df.columns]}
    new_attrs.update(attrs or {})
    df.attrs = new_attrs  # type: ignore[assignment]
    return df


# --------------------------------------------------------------------------------------------
# queries


def _norm_name(s: Any) -> str:
    return " ".join(str(s).split()).lower()


def catalog_row(df: pd.DataFrame, name: str) -> pd.DataFrame:
    """The rows whose name columns match ``name`` (case and blanks ignored).

    An exact ``source_name`` match wins; otherwise every row whose association/other-name
    columns (``df.attrs["name_columns"]``; comma-separated lists are split) match is returned,
    so ``"Crab"`` gives the three Crab components of 3FGL.

    Raises :class:`CatalogError` naming ``name`` when nothing matches.

    Examples
    --------
    >>> df = pd.DataFrame({"source_name": ["HESS J1", "HESS J2"], "other": ["Vela X, G263.9", ""]})
    >>> df.attrs = {"name_columns": ["source_name", "other"]}
    >>> catalog_row(df, "vela x").source_name.tolist()
    ['HESS J1']
    """
    key = _norm_name(name)
    exact = df["source_name"].map(_norm_name) == key
    if exact.any():
        return df[exact]
    cols = [c for c in df.attrs.get("name_columns", ["source_name"]) if c in df.columns]

    def match(v: Any) -> bool:
        if isinstance(v, (list, tuple, np.ndarray)):
            return any(match(x) for x in v)
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return False
        return any(_norm_name(part) == key for part in str(v).split(","))

    mask = np.zeros(len(df), bool)
    for c in cols:
        mask |= df[c].map(match).to_numpy(bool)
    if not mask.any():
        cat = df.attrs.get("catalog", "catalog")
        raise CatalogError(f"source {name!r} not found in {cat} (searched columns: {', '.join(cols)})")
    return df[mask]


def cone(df: pd.DataFrame, lon: Any, lat: Any, radius: Any, frame: str = "icrs") -> pd.DataFrame:
    """The rows within ``radius`` of ``(lon, lat)``, with a ``separation`` column [deg], nearest first.

    ``lon``, ``lat``, ``radius``: deg (floats, Quantities or strings like ``"2 deg"``);
    ``frame``: ``"icrs"`` (uses ``ra``/``dec``) or ``"galactic"`` (``glon``/``glat``).

    Examples
    --------
    >>> df = pd.DataFrame({"source_name": ["a", "b"], "glon": [0.0, 3.0], "glat": [0.0, 0.0]})
    >>> cone(df, 0.5, 0.0, "1 deg", frame="galactic").separation.round(3).tolist()
    [0.5]
    """
    cols = {"icrs": ("ra", "dec"), "galactic": ("glon", "glat")}.get(str(frame).lower())
    if cols is None:
        raise CatalogError(f"frame must be 'icrs' or 'galactic', got {frame!r}")
    lon0, lat0, rad = (float(u.Quantity(x, "deg").to_value("deg")) for x in (lon, lat, radius))
    sep = np.degrees(angular_separation(np.radians(np.asarray(df[cols[0]], float)),
                                        np.radians(np.asarray(df[cols[1]], float)),
                                        math.radians(lon0), math.radians(lat0)))
    attrs = dict(df.attrs)
    out = df.assign(separation=sep)[sep <= rad].sort_values("separation", kind="stable")
    out.attrs = {**attrs, "units": {**attrs.get("units", {}), "separation": "deg"}}
    return out


# --------------------------------------------------------------------------------------------
# models


class Units:
    """Unit conversion of a catalog's columns (from ``df.attrs["units"]``), factors computed once.

    Examples
    --------
    >>> un = Units({"pivot_energy": "MeV", "flux_density": "1 / (MeV s cm2)"})
    >>> un.value({"pivot_energy": 1000.0}, "pivot_energy", "TeV")
    0.001
    >>> round(un.value({"flux_density": 1e-10}, "flux_density", "cm-2 s-1 TeV-1"), 12)
    0.0001
    """

    def __init__(self, units: Mapping[str, str]) -> None:
        self.units = dict(units)
        self._factors: dict[tuple[str, str], float] = {}

    def factor(self, column: str, unit: str) -> float:
        src = self.units.get(column, "")
        key = (src, unit)
        f = self._factors.get(key)
        if f is None:
            f = float(u.Unit(src).to(unit)) if src else 1.0
            self._factors[key] = f
        return f

    def value(self, row: Mapping[str, Any], column: str, unit: str = "") -> float:
        v = row[column]
        v = float(v) if v is not None else math.nan
        return v * self.factor(column, unit) if unit else v


def _set(pars: Parameters, values: Mapping[str, float], errors: Mapping[str, float] | None) -> Parameters:
    errors = errors or {}
    out = []
    for p in pars:
        change: dict[str, float] = {}
        if p.name in values:
            change["value"] = float(values[p.name])
        if p.name in errors:
            e = float(errors[p.name])
            change["error"] = e if math.isfinite(e) else 0.0
        out.append(p.replace(**change) if change else p)
    unknown = set(values) - set(pars.names)
    if unknown:
        raise KeyError(f"unknown parameters {sorted(unknown)}; have {list(pars.names)}")
    return Parameters(out)


def make_spectral(name: str, values: Mapping[str, float], errors: Mapping[str, float] | None = None) -> SpectralModel:
    """A registered spectral model with values (and errors) in its parameters' units.

    Examples
    --------
    >>> m = make_spectral("pl", {"index": 2.5, "amplitude": 1e-12}, {"index": 0.1})
    >>> m.parameters["index"].error
    0.1
    """
    spec = get_spec(name, "spectral")
    return SpectralModel(spec.tag, _set(spec.default_parameters, values, errors))


def make_spatial(name: str, frame: str, **values: float) -> SpatialModel:
    """A registered spatial model in ``frame`` with parameter values in their units (deg).

    Examples
    --------
    >>> make_spatial("gauss", "galactic", lon_0=1.0, lat_0=0.5, sigma=0.2).parameters["sigma"].value
    0.2
    """
    spec = get_spec(name, "spatial")
    return SpatialModel(spec.tag, _set(spec.default_parameters, values, None), frame)


def unsupported(row: Mapping[str, Any], what: str, value: Any) -> CatalogError:
    """The error for a row whose model type xgamma does not build.

    Examples
    --------
    >>> str(unsupported({"source_name": "2FHL J0526.6-6825e"}, "spatial model", "2D Gaussian x2"))
    "source '2FHL J0526.6-6825e': spatial model '2D Gaussian x2' is not supported"
    """
    return CatalogError(f"source {row.get('source_name')!r}: {what} {value!r} is not supported")


def _rows(rows: pd.DataFrame | pd.Series, catalog: str | None) -> tuple[list[dict[str, Any]], CatalogFamily, Units, dict[str, Any]]:
    records: list[dict[str, Any]]
    if isinstance(rows, pd.Series):
        attrs = {str(k): v for k, v in rows.attrs.items()}
        records = [{str(k): v for k, v in rows.to_dict().items()}]
    elif isinstance(rows, pd.DataFrame):
        attrs = {str(k): v for k, v in rows.attrs.items()}
        cols = [str(c) for c in rows.columns]
        # one 2D object array: column access would deep-copy the attrs once per column
        records = [dict(zip(cols, vals, strict=True)) for vals in rows.to_numpy(dtype=object)]
    else:
        raise TypeError(f"rows must be a pandas DataFrame or Series, got {type(rows).__name__}")
    name = catalog or attrs.get("catalog")
    if not name:
        raise CatalogError("rows carry no catalog name (attrs['catalog']); pass catalog=...")
    fam = _family(str(name))
    return records, fam, Units(attrs.get("units", {})), attrs


def catalog_models(rows: pd.DataFrame | pd.Series, *, catalog: str | None = None, which: str | None = None,
                   template_dir: str | Path | None = None, skip_unsupported: bool = False) -> Models:
    """Sky models of catalog rows: the catalog's spectral and spatial model of each source.

    Parameters
    ----------
    rows : DataFrame or Series
        Rows of :func:`read_catalog` (their ``attrs`` say which catalog they come from).
    catalog : str, optional
        The catalog name, when the rows lost their attrs.
    which : str, optional
        Family options: HGPS ``"best"`` (default), ``"pl"``, ``"ecpl"`` or ``"source"`` (one
        Gaussian for multi-Gaussian sources instead of one model per component); 2HWC/3HWC
        ``"spec0"`` (default) or ``"spec1"`` (2HWC's extended fit); 1LHAASO ``"both"``
        (default), ``"wcda"``, ``"km2a"``.
    template_dir : str or Path, optional
        Folder of the Fermi extended-source templates (``Spatial_Filename``), for the ``Map``
        and ``Ring`` sources.
    skip_unsupported : bool
        Skip (with one warning listing them) rows whose model cannot be built, instead of
        raising :class:`CatalogError`.

    Examples
    --------
    >>> from xgamma._paths import data_dir
    >>> if data_dir(required=False) is not None:
    ...     df = read_catalog("3hwc")
    ...     m = catalog_models(catalog_row(df, "3HWC J0534+220"))
    ...     assert m.names == ("3HWC J0534+220",) and m[0].spatial.type == "PointSpatialModel"
    """
    records, fam, units, _ = _rows(rows, catalog)
    opts = {"which": which, "template_dir": None if template_dir is None else Path(template_dir)}
    comps: list[SkyModel] = []
    skipped: list[str] = []
    for row in records:
        try:
            comps.extend(fam.models(row, units, opts))
        except CatalogError as exc:
            if not skip_unsupported:
                raise
            skipped.append(str(exc))
    if skipped:
        warnings.warn(f"{len(skipped)} rows skipped: " + "; ".join(skipped), stacklevel=2)
    return Models(comps)


def catalog_spectral_model(row: pd.DataFrame | pd.Series, *, catalog: str | None = None,
                           which: str | None = None) -> SpectralModelBase:
    """The spectral model of one catalog row (for multi-component rows: the source's total).

    Examples
    --------
    >>> from xgamma._paths import data_dir
    >>> if data_dir(required=False) is not None:
    ...     m = catalog_spectral_model(catalog_row(read_catalog("3hwc"), "3HWC J0534+220"))
    ...     assert m.type == "PowerLawSpectralModel"
    """
    records, fam, units, _ = _rows(row, catalog)
    if len(records) != 1:
        raise CatalogError(f"expected one row, got {len(records)}")
    return fam.spectral(records[0], units, {"which": which})


def _one(row: pd.DataFrame | pd.Series, catalog: str | None, what: str) -> tuple[dict[str, Any], CatalogFamily, Units, dict[str, Any]]:
    records, fam, units, attrs = _rows(row, catalog)
    if len(records) != 1:
        raise CatalogError(f"{what}: expected one row, got {len(records)}")
    return records[0], fam, units, attrs


def catalog_flux_points(row: pd.DataFrame | pd.Series, *, catalog: str | None = None) -> xr.Dataset:
    """The flux points of one catalog row, as an estimator result (``norm`` relative to the
    row's spectral model; ``to_sed_type`` gives ``dnde``/``flux``/...).

    Fermi catalogs: band fluxes (upper limits where the lower error is missing: flux + 2 x
    upper error, the catalogs' convention); HGPS and gamma-cat: the published SED points.

    Examples
    --------
    >>> from xgamma._paths import data_dir
    >>> if data_dir(required=False) is not None:
    ...     fp = catalog_flux_points(catalog_row(read_catalog("3fhl"), "3FHL J0534.5+2201"))
    ...     assert fp.sizes["energy"] == 5
    """
    r, fam, units, attrs = _one(row, catalog, "catalog_flux_points")
    if fam.flux_points is None:
        raise CatalogError(f"catalog {fam.name!r} has no flux points")
    return fam.flux_points(r, units, attrs)


def catalog_light_curve(row: pd.DataFrame | pd.Series, *, catalog: str | None = None) -> xr.Dataset:
    """The light curve of one catalog row (estimator result with dims ``time``, ``energy``).

    Examples
    --------
    >>> from xgamma._paths import data_dir
    >>> if data_dir(required=False) is not None:
    ...     lc = catalog_light_curve(catalog_row(read_catalog("3fgl"), "3FGL J0534.5+2201"))
    ...     assert lc.sizes["time"] == 48
    """
    r, fam, units, attrs = _one(row, catalog, "catalog_light_curve")
    if fam.light_curve is None:
        raise CatalogError(f"catalog {fam.name!r} has no light curves")
    return fam.light_curve(r, units, attrs)


# --------------------------------------------------------------------------------------------
# flux points helpers (used by the families)


def energy_bins(e_min: Any, e_max: Any) -> xr.DataArray:
    """An ``energy`` axis [TeV] from bin bounds that need not touch (log centres).

    Examples
    --------
    >>> energy_bins([1.0, 4.0], [2.0, 8.0]).values.round(3).tolist()
    [1.414, 5.657]
    """
    lo = np.asarray(e_min, float)
    hi = np.asarray(e_max, float)
    c = np.sqrt(lo * hi)
    at = {"units": "TeV", "interp": "log"}
    return xr.DataArray(c, dims="energy", name="energy", attrs=dict(at), coords={
        "energy": xr.Variable("energy", c, attrs=dict(at)),
        "energy_min": xr.Variable("energy", lo, attrs={"units": "TeV"}),
        "energy_max": xr.Variable("energy", hi, attrs={"units": "TeV"}),
    })


def band_flux_points(spectral: SpectralModelBase, e_min: Any, e_max: Any, flux: Any, errn: Any, errp: Any,
                     sqrt_ts: Any = None, time: xr.DataArray | None = None) -> xr.Dataset:
    """Estimator result from integral band fluxes [cm-2 s-1] (Fermi convention: a NaN lower
    error marks an upper limit ``flux + 2 errp``).

    With ``time`` (a :func:`xgamma.estimators.time_axis`), the arrays run along ``time`` and the
    single band ``[e_min, e_max]`` is the energy bin.

    Examples
    --------
    >>> pl = make_spectral("pl", {"index": 2.0, "amplitude": 1e-12})
    >>> fp = band_flux_points(pl, [1.0], [10.0], [9e-13], [-1e-13], [1e-13])
    >>> float(fp.norm[0]), float(fp.norm_errn[0])
    (1.0, 0.1111111111111111)
    """
    lo = np.atleast_1d(np.asarray(e_min, float))
    hi = np.atleast_1d(np.asarray(e_max, float))
    ref = reference_fluxes(spectral, lo, hi)["ref_flux"]
    flux = np.asarray(flux, float)
    errn = np.abs(np.asarray(errn, float))
    errp = np.asarray(errp, float)
    is_ul = ~np.isfinite(errn)
    if time is not None:
        ref = ref[None, :]
        flux, errn, errp, is_ul = (a[:, None] for a in (flux, errn, errp, is_ul))
    with np.errstate(invalid="ignore"):
        data: dict[str, Any] = {
            "norm": flux / ref,
            "norm_errn": errn / ref,
            "norm_errp": errp / ref,
            "norm_err": np.where(is_ul, np.nan, 0.5 * (errn + errp)) / ref,
            "norm_ul": np.where(is_ul, flux + 2 * errp, np.nan) / ref,
            "is_ul": is_ul,
        }
    if sqrt_ts is not None:
        s = np.asarray(sqrt_ts, float)
        s = s[:, None] if time is not None else s
        data["sqrt_ts"], data["ts"] = s, s**2
    energy = energy_bins(lo, hi)
    if time is None:
        return estimator_result(data, energy, spectral)
    coords = {k: time.coords[k] for k in ("time", "time_min", "time_max")}
    return estimator_result(data, energy, spectral, dims=("time", "energy"), coords=coords,
                            attrs={"mjdref": float(time.attrs["mjdref"])})


def dnde_flux_points(spectral: SpectralModelBase, energy: Any, e_min: Any, e_max: Any, dnde: Any, errn: Any,
                     errp: Any, ul: Any, is_ul: Any) -> xr.Dataset:
    """Estimator result from differential flux points [cm-2 s-1 TeV-1] at ``energy`` [TeV].

    The norm of each bin is ``dnde / model(energy)``.

    Examples
    --------
    >>> pl = make_spectral("pl", {"index": 2.0, "amplitude": 1e-12})
    >>> fp = dnde_flux_points(pl, [1.0], [0.5], [2.0], [2e-12], [1e-13], [1e-13], [np.nan], [False])
    >>> float(fp.norm[0])
    2.0
    """
    e = np.asarray(energy, float)
    lo, hi = np.asarray(e_min, float), np.asarray(e_max, float)
    bad = ~(np.isfinite(lo) & np.isfinite(hi))
    if bad.any():  # bounds missing: halfway (in log) to the neighbours
        le = np.log(e)
        mid = np.exp(0.5 * (le[1:] + le[:-1])) if e.size > 1 else np.array([])
        lo_g = np.concatenate([[e[0] ** 2 / mid[0] if mid.size else e[0] / 1.5], mid])
        hi_g = np.concatenate([mid, [e[-1] ** 2 / mid[-1] if mid.size else e[-1] * 1.5]])
        lo, hi = np.where(bad, lo_g, lo), np.where(bad, hi_g, hi)
    ref = np.asarray(spectral.evaluate_values(e, list(spectral.parameters.values)), float)
    is_ul = np.asarray(is_ul, bool)
    data = {
        "norm": np.asarray(dnde, float) / ref,
        "norm_errn": np.abs(np.asarray(errn, float)) / ref,
        "norm_errp": np.asarray(errp, float) / ref,
        "norm_ul": np.asarray(ul, float) / ref,
        "is_ul": is_ul,
    }
    data["norm_err"] = 0.5 * (data["norm_errn"] + data["norm_errp"])
    return estimator_result(data, energy_bins(lo, hi), spectral)


def history_axis(start: Iterable[float], stop: Iterable[float]) -> xr.DataArray:
    """A ``time`` axis from MJD bin starts and stops (see :func:`xgamma.estimators.time_axis`).

    Examples
    --------
    >>> history_axis([55000.0], [55001.0]).sizes["time"]
    1
    """
    return time_axis(np.asarray(list(start), float), np.asarray(list(stop), float))
