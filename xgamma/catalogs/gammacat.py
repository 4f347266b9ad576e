"""gamma-cat, the open TeV source catalog (``gammacat.fits.gz``; Deil et al. 2017).

``source_name`` is gamma-cat's ``common_name``; names are also matched in ``gamma_names``,
``fermi_names``, ``other_names``, ``tevcat_name`` and ``tgevcat_name``.

Spectral models (``spec_type``): ``pl`` -> power law at ``spec_pl_e_ref``; ``pl2`` ->
``PowerLaw2SpectralModel`` (integral flux between ``spec_pl2_e_min`` and ``spec_pl2_e_max``, a
missing upper bound taken as 1e5 TeV); ``ecpl`` -> ``ExpCutoffPowerLawSpectralModel`` with
``lambda_ = 1 / spec_ecpl_e_cut``; ``none`` is not supported. Spatial models (``morph_type``,
at ``ra``/``dec``; the galactic frame when ``morph_pa_frame`` is ``galactic``): ``point``;
``gauss`` (``sigma = morph_sigma``, elliptical with ``morph_sigma2`` as the minor axis and
position angle ``morph_pa``); ``shell`` (``morph_sigma`` and ``morph_sigma2`` read as inner and
outer radius; without ``morph_sigma2``, ``morph_sigma`` is a mean radius and the shell is taken
30 % of it wide, from 0.85 to 1.15 times it); ``none`` is not supported. Flux points: the ``sed_*`` columns (``sed_n_points`` points).

Examples
--------
>>> from xgamma._paths import data_dir
>>> from xgamma.catalogs import read_catalog, catalog_row, catalog_models
>>> if data_dir(required=False) is not None:
...     m = catalog_models(catalog_row(read_catalog("gamma-cat"), "Crab nebula"))
...     assert m[0].spectral.type == "ExpCutoffPowerLawSpectralModel"
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
    dnde_flux_points,
    finish_frame,
    fits_frame,
    make_spatial,
    make_spectral,
    register_catalog,
    unsupported,
)
from xgamma.errors import XgammaIOError
from xgamma.models import SkyModel, SpectralModelBase

__all__ = ["read_gammacat"]

_FLUX = "cm-2 s-1 TeV-1"
_NAMES = ("source_name", "gamma_names", "fermi_names", "other_names", "tevcat_name", "tgevcat_name")


def read_gammacat(path: str | Path) -> pd.DataFrame:
    """Read gamma-cat's FITS file.

    Examples
    --------
    >>> from xgamma._paths import data_dir
    >>> d = data_dir(required=False)
    >>> if d is not None:
    ...     assert len(read_gammacat(d / "catalogs" / "gammacat" / "gammacat.fits.gz")) == 162
    """
    path = Path(path)
    try:
        with fits.open(path) as hdul:
            df, units = fits_frame(hdul[1])
    except OSError as exc:
        raise XgammaIOError(f"cannot read gamma-cat: {exc}", path=path) from exc
    return finish_frame(df, units, "gamma-cat", path, rename={"common_name": "source_name"}, name_columns=_NAMES)


def _f(row: Mapping[str, Any], col: str) -> float:
    v = row.get(col)
    return math.nan if v is None else float(v)


def _spectral(row: Mapping[str, Any], un: Units, opts: Mapping[str, Any]) -> SpectralModelBase:
    kind = str(row["spec_type"]).strip()
    if kind == "pl":
        return make_spectral("pl", {"index": _f(row, "spec_pl_index"), "amplitude": un.value(row, "spec_pl_norm", _FLUX),
                                    "reference": un.value(row, "spec_pl_e_ref", "TeV")},
                             {"index": _f(row, "spec_pl_index_err"), "amplitude": un.value(row, "spec_pl_norm_err", _FLUX)})
    if kind == "pl2":
        e_max = un.value(row, "spec_pl2_e_max", "TeV")
        return make_spectral("pl-2", {"index": _f(row, "spec_pl2_index"),
                                      "amplitude": un.value(row, "spec_pl2_flux", "cm-2 s-1"),
                                      "emin": un.value(row, "spec_pl2_e_min", "TeV"),
                                      "emax": e_max if np.isfinite(e_max) else 1e5},
                             {"index": _f(row, "spec_pl2_index_err"),
                              "amplitude": un.value(row, "spec_pl2_flux_err", "cm-2 s-1")})
    if kind == "ecpl":
        e_cut = un.value(row, "spec_ecpl_e_cut", "TeV")
        e_cut_err = un.value(row, "spec_ecpl_e_cut_err", "TeV")
        return make_spectral("ecpl", {"index": _f(row, "spec_ecpl_index"),
                                      "amplitude": un.value(row, "spec_ecpl_norm", _FLUX),
                                      "reference": un.value(row, "spec_ecpl_e_ref", "TeV"), "lambda_": 1.0 / e_cut},
                             {"index": _f(row, "spec_ecpl_index_err"),
                              "amplitude": un.value(row, "spec_ecpl_norm_err", _FLUX),
                              "lambda_": e_cut_err / e_cut**2})
    raise unsupported(row, "spectral model", kind)


def _spatial(row: Mapping[str, Any], un: Units) -> Any:
    kind = str(row["morph_type"]).strip()
    galactic = str(row.get("morph_pa_frame") or "").strip() == "galactic"
    frame = "galactic" if galactic else "icrs"
    pos = ({"lon_0": _f(row, "glon"), "lat_0": _f(row, "glat")} if galactic
           else {"lon_0": _f(row, "ra"), "lat_0": _f(row, "dec")})
    s1, s2 = un.value(row, "morph_sigma", "deg"), un.value(row, "morph_sigma2", "deg")
    if kind == "point":
        return make_spatial("point", frame, **pos)
    if kind == "gauss":
        if np.isfinite(s2) and s2 > 0:
            major, minor = max(s1, s2), min(s1, s2)
            pa = _f(row, "morph_pa")
            return make_spatial("gauss", frame, sigma=major, e=math.sqrt(1 - (minor / major) ** 2),
                                 phi=pa if np.isfinite(pa) else 0.0, **pos)
        return make_spatial("gauss", frame, sigma=s1, **pos)
    if kind == "shell":
        if np.isfinite(s2) and s2 > 0:
            r_in, r_out = min(s1, s2), max(s1, s2)
        else:  # only a mean radius: a shell 30 % of it wide around it (as the CTA GPS sky model does)
            r_in, r_out = 0.85 * s1, 1.15 * s1
        return make_spatial("shell", frame, radius=r_in, width=r_out - r_in, **pos)
    raise unsupported(row, "spatial model", kind)


def _models(row: Mapping[str, Any], un: Units, opts: Mapping[str, Any]) -> list[SkyModel]:
    return [SkyModel(str(row["source_name"]), _spectral(row, un, opts), _spatial(row, un))]


def _flux_points(row: Mapping[str, Any], un: Units, attrs: Mapping[str, Any]) -> xr.Dataset:
    n = int(row["sed_n_points"]) if np.isfinite(float(row["sed_n_points"])) else 0
    if n <= 0:
        raise CatalogError(f"source {row['source_name']!r} has no flux points")

    def col(name: str, unit: str) -> np.ndarray:
        return np.asarray(row[name], float)[:n] * un.factor(name, unit)

    dnde, ul = col("sed_dnde", _FLUX), col("sed_dnde_ul", _FLUX)
    err = col("sed_dnde_err", _FLUX)
    errn = np.where(np.isfinite(col("sed_dnde_errn", _FLUX)), col("sed_dnde_errn", _FLUX), err)
    errp = np.where(np.isfinite(col("sed_dnde_errp", _FLUX)), col("sed_dnde_errp", _FLUX), err)
    is_ul = np.isfinite(ul) & ~np.isfinite(dnde)
    return dnde_flux_points(_spectral(row, un, {}), col("sed_e_ref", "TeV"), col("sed_e_min", "TeV"),
                            col("sed_e_max", "TeV"), dnde, errn, errp, ul, is_ul)


register_catalog(CatalogFamily("gamma-cat", read_gammacat, _models, _spectral, path="gammacat/gammacat.fits.gz",
                               flux_points=_flux_points, name_columns=_NAMES, aliases=("gammacat",),
                               description="gamma-cat, the open TeV source catalog"))
