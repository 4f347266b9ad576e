"""Fermi-LAT catalogs: 3FGL (``gll_psc_v16``), 2FHL (``gll_psch_v09``), 3FHL (``gll_psch_v13``)
and the 4FGL family (DR1-DR4, files the user brings; the release is told by the columns).

Spectral models (energies in the files are MeV for 3FGL/4FGL, GeV for 2FHL/3FHL; converted to TeV):

- ``PowerLaw``: ``PowerLawSpectralModel`` (2FHL: ``PowerLaw2SpectralModel``, the integral
  ``Flux50`` over 50 GeV-2 TeV);
- ``LogParabola``: ``LogParabolaSpectralModel`` (natural log, ``alpha = Spectral_Index``);
- 3FGL ``PLExpCutoff``: ``ExpCutoffPowerLaw3FGLSpectralModel``; ``PLSuperExpCutoff``:
  ``SuperExpCutoffPowerLaw3FGLSpectralModel``;
- 4FGL DR1/DR2 ``PLSuperExpCutoff(2)``: ``K (E/E0)^-G exp(a (E0^b - E^b))`` is the 3FGL form
  with ``ecut = a^(-1/b)``; DR3/DR4 ``PLSuperExpCutoff4``: ``SuperExpCutoffPowerLaw4FGLDR3``
  (``index_1 = PLEC_IndexS``, ``expfactor = PLEC_ExpfactorS``, ``index_2 = PLEC_Exp_Index``).

Spatial models: point sources at ``(ra, dec)``; extended sources from the ``ExtendedSources``
table (joined into the rows as ``model_form``, ``model_semimajor``, ``model_semiminor``,
``model_posang``, ``spatial_filename``): ``Disk`` (radius = semi-major axis), ``2D Gaussian``
(the semi-major axis is the 68 % containment radius: ``sigma = r68 / 1.5096``), elliptical
versions (``e = sqrt(1 - (minor/major)^2)``, ``phi`` = position angle), ``Map``/``Ring``
templates read from ``template_dir``; ``2D Gaussian x2`` is not supported.

Flux points are the band fluxes (3FGL: 100 MeV-100 GeV in 5 bands; 2FHL 3 bands over
50 GeV-2 TeV; 3FHL 5 bands over 10 GeV-2 TeV; 4FGL 7 (DR1/DR2) or 8 (DR3/DR4) bands); light
curves: 3FGL's 48 monthly and 4FGL's yearly fluxes over 100 MeV-100 GeV.

Examples
--------
>>> from xgamma._paths import data_dir
>>> from xgamma.catalogs import read_catalog, catalog_row, catalog_models
>>> if data_dir(required=False) is not None:
...     crab = catalog_row(read_catalog("3fgl"), "Crab")
...     assert len(catalog_models(crab)) == 3  # the pulsar, synchrotron and inverse-Compton parts
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from astropy.io import fits

from xgamma.catalogs.core import (
    CatalogError,
    CatalogFamily,
    Units,
    band_flux_points,
    finish_frame,
    fits_frame,
    history_axis,
    make_spatial,
    make_spectral,
    register_catalog,
    unsupported,
)
from xgamma.errors import XgammaIOError
from xgamma.models import SkyModel, SpectralModelBase
from xgamma.models.spatial_template import read_spatial_template

__all__ = ["read_fermi", "fermi_release", "FERMI_MJDREF", "GAUSS_R68"]

#: MJD (TT) of Fermi mission elapsed time 0.
FERMI_MJDREF = 51910.0 + 7.428703703703703e-4
#: 68 % containment radius of a 2D Gaussian in units of sigma, sqrt(-2 ln 0.32).
GAUSS_R68 = math.sqrt(-2 * math.log(0.32))

_FLUX = "cm-2 s-1 TeV-1"
_NAMES = {
    "3fgl": ("source_name", "assoc1", "assoc2", "assoc_tev", "assoc_gam1", "assoc_gam2", "assoc_gam3",
             "extended_source_name", "0fgl_name", "1fgl_name", "2fgl_name", "1fhl_name"),
    "2fhl": ("source_name", "assoc", "3fgl_name", "1fhl_name", "tevcat_name"),
    "3fhl": ("source_name", "assoc1", "assoc2", "assoc_tev", "assoc_gam", "extended_source_name"),
    "4fgl": ("source_name", "assoc1", "assoc2", "assoc_tev", "assoc_fgl", "assoc_fhl", "assoc_gam1",
             "assoc_gam2", "assoc_gam3", "extended_source_name"),
}
_BANDS_MEV = {
    "3fgl": [100, 300, 1000, 3000, 10000, 100000],
    "4fgl-7": [50, 100, 300, 1000, 3000, 10000, 30000, 300000],
    "4fgl-8": [50, 100, 300, 1000, 3000, 10000, 30000, 100000, 1000000],
}
_2FHL_BANDS_GEV = [50, 171, 585, 2000]


# --------------------------------------------------------------------------------------------
# reading


def fermi_release(columns: Any, n_history: int | None = None) -> str:
    """The 4FGL data release of a table, from its columns (and light-curve length).

    DR3 and DR4 give ``PLEC_IndexS``/``PLEC_ExpfactorS`` (the PLSuperExpCutoff4 form); DR4 has
    14 yearly fluxes, DR3 12; DR2 has 10, DR1 8.

    Examples
    --------
    >>> fermi_release(["PLEC_IndexS", "PLEC_ExpfactorS"], 14), fermi_release(["PLEC_Expfactor"], 8)
    ('DR4', 'DR1')
    """
    cols = {str(c).lower() for c in columns}
    if "plec_indexs" in cols or "plec_expfactors" in cols:
        return "DR4" if (n_history or 0) >= 14 else "DR3"
    if "plec_expfactor" in cols or "plec_index" in cols:
        return "DR2" if (n_history or 0) >= 10 else "DR1"
    raise CatalogError(f"not a 4FGL layout: no PLEC_Index/PLEC_IndexS columns (have {len(cols)} columns)")


def _extended(df: pd.DataFrame, units: dict[str, str], ext: Any, key: str) -> pd.DataFrame:
    e, eu = fits_frame(ext)
    keep = [c for c in ("model_form", "model_semimajor", "model_semiminor", "model_posang", "spatial_function",
                        "spatial_filename") if c in e.columns]
    table = e.set_index(e["source_name"].map(lambda s: " ".join(str(s).split()).lower()))[keep]
    table = table[~table.index.duplicated()]
    keys = df[key].map(lambda s: " ".join(str(s).split()).lower())
    joined = table.reindex(keys.to_numpy())
    for c in keep:
        vals = joined[c].to_numpy()
        if vals.dtype == object:
            vals = np.array(["" if v is None or (isinstance(v, float) and math.isnan(v)) else v for v in vals],
                            dtype=object)
        df[c] = vals
        if c in eu:
            units[c] = eu[c]
    return df


def _hist_start_mjd(hdul: Any) -> list[float] | None:
    if "Hist_Start" not in hdul:
        return None
    h = hdul["Hist_Start"]
    col = h.columns[0]
    vals = np.asarray(h.data[col.name], float)
    unit = (col.unit or "").strip().lower()
    if unit in ("s", "sec", "second", "seconds") or vals.min() > 1e7:
        return (FERMI_MJDREF + vals / 86400.0).tolist()
    return vals.tolist()


def read_fermi(path: str | Path, catalog: str) -> pd.DataFrame:
    """Read a Fermi-LAT catalog file (``catalog``: ``"3fgl"``, ``"2fhl"``, ``"3fhl"``, ``"4fgl"``).

    Examples
    --------
    >>> from xgamma._paths import data_dir
    >>> d = data_dir(required=False)
    >>> if d is not None:
    ...     df = read_fermi(d / "catalogs" / "fermi" / "gll_psch_v13.fit.gz", "3fhl")
    ...     assert len(df) == 1556 and df.attrs["energy_bands"]["energy_min"][0] == 0.01
    """
    path = Path(path)
    attrs: dict[str, Any] = {}
    try:
        with fits.open(path) as hdul:
            df, units = fits_frame(hdul[1])
            if catalog == "2fhl":
                if len(hdul) > 2:
                    df = _extended(df, units, hdul[2], "source_name")
            elif "ExtendedSources" in hdul:
                df = _extended(df, units, hdul["ExtendedSources"], "extended_source_name")
            if catalog == "3fhl" and "EnergyBounds" in hdul:
                eb = hdul["EnergyBounds"]
                scale = {"gev": 1e-3, "mev": 1e-6, "tev": 1.0}[(eb.columns["LowerEnergy"].unit or "GeV").lower()]
                attrs["energy_bands"] = {"energy_min": (np.asarray(eb.data["LowerEnergy"], float) * scale).tolist(),
                                         "energy_max": (np.asarray(eb.data["UpperEnergy"], float) * scale).tolist()}
            hist = _hist_start_mjd(hdul)
            if hist is not None:
                attrs["hist_start_mjd"] = hist
            if catalog == "4fgl":
                n_hist = len(df["flux_history"].iloc[0]) if "flux_history" in df.columns and len(df) else None
                attrs["release"] = fermi_release(df.columns, n_hist)
    except OSError as exc:
        raise XgammaIOError(f"cannot read the {catalog.upper()} catalog: {exc}", path=path) from exc
    for c in ("spectrumtype",):
        if c in df.columns:
            df[c] = df[c].map(lambda s: str(s).strip())
    rename = {"raj2000": "ra", "dej2000": "dec"}
    return finish_frame(df, units, catalog, path, rename=rename, name_columns=_NAMES[catalog], attrs=attrs)


# --------------------------------------------------------------------------------------------
# models


def _err(row: Mapping[str, Any], un: Units, col: str, unit: str = "") -> float:
    if col not in row:
        return math.nan
    v = row[col]
    if isinstance(v, np.ndarray):  # asymmetric [lower, upper]
        v = 0.5 * (abs(float(v[0])) + abs(float(v[-1])))
    return abs(float(v)) * (un.factor(col, unit) if unit else 1.0)


def _spectral_3fgl(row: Mapping[str, Any], un: Units, opts: Mapping[str, Any]) -> SpectralModelBase:
    kind = str(row["spectrumtype"])
    e0 = un.value(row, "pivot_energy", "TeV")
    amp = un.value(row, "flux_density", _FLUX)
    errs = {"amplitude": _err(row, un, "unc_flux_density", _FLUX)}
    idx, idx_err = float(row["spectral_index"]), _err(row, un, "unc_spectral_index")
    if kind == "PowerLaw":
        if "powerlaw_index" in row and np.isfinite(float(row["powerlaw_index"])):
            # 3FHL: Spectral_Index of PowerLaw sources is not the power-law fit's index
            idx, idx_err = float(row["powerlaw_index"]), _err(row, un, "unc_powerlaw_index")
        return make_spectral("pl", {"index": idx, "amplitude": amp, "reference": e0}, {**errs, "index": idx_err})
    if kind == "LogParabola":
        return make_spectral("lp", {"alpha": idx, "beta": float(row["beta"]), "amplitude": amp, "reference": e0},
                             {**errs, "alpha": idx_err, "beta": _err(row, un, "unc_beta")})
    if kind == "PLExpCutoff":
        return make_spectral("ecpl-3fgl", {"index": idx, "amplitude": amp, "reference": e0,
                                           "ecut": un.value(row, "cutoff", "TeV")},
                             {**errs, "index": idx_err, "ecut": _err(row, un, "unc_cutoff", "TeV")})
    if kind == "PLSuperExpCutoff":
        return make_spectral("secpl-3fgl", {"index_1": idx, "index_2": float(row["exp_index"]), "amplitude": amp,
                                            "reference": e0, "ecut": un.value(row, "cutoff", "TeV")},
                             {**errs, "index_1": idx_err, "index_2": _err(row, un, "unc_exp_index"),
                              "ecut": _err(row, un, "unc_cutoff", "TeV")})
    raise unsupported(row, "spectrum type", kind)


def _spectral_2fhl(row: Mapping[str, Any], un: Units, opts: Mapping[str, Any]) -> SpectralModelBase:
    return make_spectral("pl-2", {"index": float(row["spectral_index"]), "amplitude": un.value(row, "flux50", "cm-2 s-1"),
                                  "emin": 0.05, "emax": 2.0},
                         {"index": _err(row, un, "unc_spectral_index"),
                          "amplitude": _err(row, un, "unc_flux50", "cm-2 s-1")})


def _spectral_4fgl(row: Mapping[str, Any], un: Units, opts: Mapping[str, Any], release: str) -> SpectralModelBase:
    which = (opts.get("which") or "best").lower()
    kind = str(row["spectrumtype"]) if which == "best" else {"pl": "PowerLaw", "lp": "LogParabola",
                                                              "plec": "PLSuperExpCutoff"}.get(which, which)
    e0 = un.value(row, "pivot_energy", "TeV")
    if kind == "PowerLaw":
        return make_spectral("pl", {"index": float(row["pl_index"]), "reference": e0,
                                    "amplitude": un.value(row, "pl_flux_density", _FLUX)},
                             {"index": _err(row, un, "unc_pl_index"),
                              "amplitude": _err(row, un, "unc_pl_flux_density", _FLUX)})
    if kind == "LogParabola":
        return make_spectral("lp", {"alpha": float(row["lp_index"]), "beta": float(row["lp_beta"]), "reference": e0,
                                    "amplitude": un.value(row, "lp_flux_density", _FLUX)},
                             {"alpha": _err(row, un, "unc_lp_index"), "beta": _err(row, un, "unc_lp_beta"),
                              "amplitude": _err(row, un, "unc_lp_flux_density", _FLUX)})
    if kind.startswith("PLSuperExpCutoff"):
        amp = un.value(row, "plec_flux_density", _FLUX)
        amp_err = _err(row, un, "unc_plec_flux_density", _FLUX)
        b = float(row["plec_exp_index"])
        if release in ("DR3", "DR4"):
            return make_spectral("secpl-4fgl-dr3", {"amplitude": amp, "reference": e0,
                                                    "expfactor": float(row["plec_expfactors"]),
                                                    "index_1": float(row["plec_indexs"]), "index_2": b},
                                 {"amplitude": amp_err, "expfactor": _err(row, un, "unc_plec_expfactors"),
                                  "index_1": _err(row, un, "unc_plec_indexs"),
                                  "index_2": _err(row, un, "unc_plec_exp_index")})
        a = float(row["plec_expfactor"])  # MeV^-b
        ecut = a ** (-1.0 / b) * 1e-6  # MeV -> TeV
        return make_spectral("secpl-3fgl", {"amplitude": amp, "reference": e0, "ecut": ecut,
                                            "index_1": float(row["plec_index"]), "index_2": b},
                             {"amplitude": amp_err, "index_1": _err(row, un, "unc_plec_index"),
                              "index_2": _err(row, un, "unc_plec_exp_index")})
    raise unsupported(row, "spectrum type", kind)


def _spatial(row: Mapping[str, Any], un: Units, opts: Mapping[str, Any]) -> Any:
    form = str(row.get("model_form") or "").strip()
    pos = {"lon_0": float(row["ra"]), "lat_0": float(row["dec"])}
    if not form:
        return make_spatial("point", "icrs", **pos)
    major = un.value(row, "model_semimajor", "deg")
    minor = un.value(row, "model_semiminor", "deg")
    ratio = minor / major if np.isfinite(minor) and 0 < minor < major else 1.0
    shape = {"e": math.sqrt(1 - ratio**2), "phi": float(row.get("model_posang") or 0.0)}
    if form in ("Disk", "Elliptical Disk"):
        return make_spatial("disk", "icrs", r_0=major, **pos, **shape)
    if form in ("2D Gaussian", "Elliptical 2D Gaussian"):
        return make_spatial("gauss", "icrs", sigma=major / GAUSS_R68, **pos, **shape)
    if form in ("Map", "Ring"):
        filename = str(row.get("spatial_filename") or "").strip()
        folder = opts.get("template_dir")
        if folder is None:
            raise CatalogError(f"source {row['source_name']!r}: spatial model {form!r} needs its template "
                               f"{filename!r}; pass template_dir= (the extended-source archive)")
        file = Path(folder) / filename
        if not file.is_file():
            raise CatalogError(f"source {row['source_name']!r}: template {str(file)!r} not found")
        return read_spatial_template(file)
    raise unsupported(row, "spatial model", form)


def _models(spectral_fn: Any) -> Any:
    def fn(row: Mapping[str, Any], un: Units, opts: Mapping[str, Any]) -> list[SkyModel]:
        spatial = _spatial(row, un, opts)
        return [SkyModel(str(row["source_name"]), spectral_fn(row, un, opts), spatial)]

    return fn


# --------------------------------------------------------------------------------------------
# flux points and light curves


def _unc(v: Any, n: int) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(v, float).reshape(n, 2)
    return a[:, 0], a[:, 1]


def _fp_3fgl(row: Mapping[str, Any], un: Units, attrs: Mapping[str, Any]) -> xr.Dataset:
    e = np.asarray(_BANDS_MEV["3fgl"], float) * 1e-6
    tags = [f"{a}_{b}" for a, b in zip(_BANDS_MEV["3fgl"][:-1], _BANDS_MEV["3fgl"][1:], strict=True)]
    flux = np.array([un.value(row, f"flux{t}", "cm-2 s-1") for t in tags])
    unc = np.array([np.asarray(row[f"unc_flux{t}"], float) * un.factor(f"unc_flux{t}", "cm-2 s-1") for t in tags])
    sqrt_ts = np.array([float(row[f"sqrt_ts{t}"]) for t in tags])
    return band_flux_points(_spectral_3fgl(row, un, {}), e[:-1], e[1:], flux, unc[:, 0], unc[:, 1], sqrt_ts)


def _fp_2fhl(row: Mapping[str, Any], un: Units, attrs: Mapping[str, Any]) -> xr.Dataset:
    e = np.asarray(_2FHL_BANDS_GEV, float) * 1e-3
    tags = [f"{a}_{b}gev" for a, b in zip(_2FHL_BANDS_GEV[:-1], _2FHL_BANDS_GEV[1:], strict=True)]
    flux = np.array([un.value(row, f"flux{t}", "cm-2 s-1") for t in tags])
    unc = np.array([np.asarray(row[f"unc_flux{t}"], float) * un.factor(f"unc_flux{t}", "cm-2 s-1") for t in tags])
    sqrt_ts = np.array([float(row[f"sqrt_ts{t}"]) for t in tags])
    return band_flux_points(_spectral_2fhl(row, un, {}), e[:-1], e[1:], flux, unc[:, 0], unc[:, 1], sqrt_ts)


def _band_columns(row: Mapping[str, Any], un: Units) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    flux = np.asarray(row["flux_band"], float) * un.factor("flux_band", "cm-2 s-1")
    lo, hi = _unc(row["unc_flux_band"], flux.size)
    f = un.factor("unc_flux_band", "cm-2 s-1")
    return flux, lo * f, hi * f, np.asarray(row["sqrt_ts_band"], float)


def _fp_3fhl(row: Mapping[str, Any], un: Units, attrs: Mapping[str, Any]) -> xr.Dataset:
    bands = attrs.get("energy_bands") or {"energy_min": [0.01, 0.02, 0.05, 0.15, 0.5],
                                          "energy_max": [0.02, 0.05, 0.15, 0.5, 2.0]}
    flux, lo, hi, sq = _band_columns(row, un)
    return band_flux_points(_spectral_3fgl(row, un, {}), bands["energy_min"], bands["energy_max"], flux, lo, hi, sq)


def _fp_4fgl(row: Mapping[str, Any], un: Units, attrs: Mapping[str, Any]) -> xr.Dataset:
    flux, lo, hi, sq = _band_columns(row, un)
    e = np.asarray(_BANDS_MEV[f"4fgl-{flux.size}"], float) * 1e-6
    spec = _spectral_4fgl(row, un, {}, str(attrs.get("release", "DR4")))
    return band_flux_points(spec, e[:-1], e[1:], flux, lo, hi, sq)


def _lc(row: Mapping[str, Any], un: Units, attrs: Mapping[str, Any], spec: SpectralModelBase) -> xr.Dataset:
    start = attrs.get("hist_start_mjd")
    flux = np.asarray(row["flux_history"], float) * un.factor("flux_history", "cm-2 s-1")
    if not start or len(start) != flux.size + 1:
        raise CatalogError(f"source {row['source_name']!r}: the file has no Hist_Start table for its light curve")
    lo, hi = _unc(row["unc_flux_history"], flux.size)
    f = un.factor("unc_flux_history", "cm-2 s-1")
    sq = np.asarray(row["sqrt_ts_history"], float) if "sqrt_ts_history" in row else None
    t = history_axis(start[:-1], start[1:])
    return band_flux_points(spec, [1e-4], [0.1], flux, lo * f, hi * f, sq, time=t)


def _lc_3fgl(row: Mapping[str, Any], un: Units, attrs: Mapping[str, Any]) -> xr.Dataset:
    return _lc(row, un, attrs, _spectral_3fgl(row, un, {}))


def _lc_4fgl(row: Mapping[str, Any], un: Units, attrs: Mapping[str, Any]) -> xr.Dataset:
    return _lc(row, un, attrs, _spectral_4fgl(row, un, {}, str(attrs.get("release", "DR4"))))


# --------------------------------------------------------------------------------------------
# registration


def _spectral_4fgl_opts(row: Mapping[str, Any], un: Units, opts: Mapping[str, Any]) -> SpectralModelBase:
    return _spectral_4fgl(row, un, opts, str(opts.get("release") or _release_of(row)))


def _release_of(row: Mapping[str, Any]) -> str:
    n = len(row["flux_history"]) if "flux_history" in row else None
    return fermi_release(row.keys(), n)


register_catalog(CatalogFamily("3fgl", lambda p: read_fermi(p, "3fgl"), _models(_spectral_3fgl), _spectral_3fgl,
                               path="fermi/gll_psc_v16.fit.gz", flux_points=_fp_3fgl, light_curve=_lc_3fgl,
                               name_columns=_NAMES["3fgl"], description="Fermi-LAT 4-year source catalog (3FGL)"))
register_catalog(CatalogFamily("2fhl", lambda p: read_fermi(p, "2fhl"), _models(_spectral_2fhl), _spectral_2fhl,
                               path="fermi/gll_psch_v09.fit.gz", flux_points=_fp_2fhl, name_columns=_NAMES["2fhl"],
                               description="Fermi-LAT second catalog of hard sources, > 50 GeV (2FHL)"))
register_catalog(CatalogFamily("3fhl", lambda p: read_fermi(p, "3fhl"), _models(_spectral_3fgl), _spectral_3fgl,
                               path="fermi/gll_psch_v13.fit.gz", flux_points=_fp_3fhl, name_columns=_NAMES["3fhl"],
                               description="Fermi-LAT third catalog of hard sources, > 10 GeV (3FHL)"))
register_catalog(CatalogFamily("4fgl", lambda p: read_fermi(p, "4fgl"), _models(_spectral_4fgl_opts),
                               _spectral_4fgl_opts, path=None, flux_points=_fp_4fgl, light_curve=_lc_4fgl,
                               name_columns=_NAMES["4fgl"], aliases=("4fgl-dr1", "4fgl-dr2", "4fgl-dr3", "4fgl-dr4"),
                               description="Fermi-LAT 4FGL DR1-DR4 (bring the file: gll_psc_v*.fit)"))
