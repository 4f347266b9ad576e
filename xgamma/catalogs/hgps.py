"""The H.E.S.S. Galactic plane survey catalog (HGPS, H.E.S.S. Collaboration 2018, A&A 612, A1).

Rows are the 78 sources of ``HGPS_SOURCES``; each row also carries ``gauss_components`` (the
rows of ``HGPS_GAUSS_COMPONENTS`` that make up the source: ``component_id``, ``glon``, ``glat``,
``size``, ``flux_map``) and ``associations`` (the names of ``HGPS_ASSOCIATIONS``).

Spectral model (``which``): ``"best"`` (the catalog's ``Spectral_Model``), ``"pl"`` or
``"ecpl"``: ``PowerLawSpectralModel`` / ``ExpCutoffPowerLawSpectralModel`` with the amplitude
at the pivot energy (total source flux, so that the integral above 1 TeV is
``Flux_Spec_Int_1TeV``). Spatial model (galactic frame): ``Point-Like`` -> point, ``Gaussian``
-> Gaussian with ``sigma = Size``, ``Shell`` -> shell of outer radius ``Size`` (the catalog
gives no width: 5 % of the radius is taken), ``2-Gaussian``/``3-Gaussian`` -> one SkyModel per
Gaussian component (named by its ``Component_ID``), the source spectrum scaled by the
component's share of the source's map flux; ``which="source"`` gives one Gaussian of
``sigma = Size`` instead.

Flux points: the published SED (``Flux_Points_*``, ``N_Flux_Points`` of them).

Examples
--------
>>> from xgamma._paths import data_dir
>>> from xgamma.catalogs import read_catalog, catalog_row, catalog_models
>>> if data_dir(required=False) is not None:
...     vela = catalog_row(read_catalog("hgps"), "Vela X")
...     assert catalog_models(vela).names == ("HGPSC 001", "HGPSC 002", "HGPSC 003")
"""

from __future__ import annotations

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

__all__ = ["read_hgps", "SHELL_WIDTH_FRACTION"]

#: HGPS gives shells' outer radius only; the width taken is this fraction of it.
SHELL_WIDTH_FRACTION = 0.05
_FLUX = "cm-2 s-1 TeV-1"


def read_hgps(path: str | Path) -> pd.DataFrame:
    """Read the HGPS catalog file (``hgps_catalog_v1.fits.gz``).

    Examples
    --------
    >>> from xgamma._paths import data_dir
    >>> d = data_dir(required=False)
    >>> if d is not None:
    ...     df = read_hgps(d / "catalogs" / "hgps_catalog_v1.fits.gz")
    ...     assert len(df) == 78 and len(df.gauss_components[0]) == 3
    """
    path = Path(path)
    try:
        with fits.open(path) as hdul:
            df, units = fits_frame(hdul["HGPS_SOURCES"])
            comps, _ = fits_frame(hdul["HGPS_GAUSS_COMPONENTS"])
            assoc, _ = fits_frame(hdul["HGPS_ASSOCIATIONS"])
    except (OSError, KeyError) as exc:
        raise XgammaIOError(f"cannot read the HGPS catalog: {exc}", path=path,
                            expected="HDUs HGPS_SOURCES, HGPS_GAUSS_COMPONENTS, HGPS_ASSOCIATIONS") from exc
    by_source: dict[str, list[dict[str, Any]]] = {}
    for rec in comps.to_dict("records"):
        by_source.setdefault(rec["source_name"], []).append(
            {"component_id": rec["component_id"], "glon": float(rec["glon"]), "glat": float(rec["glat"]),
             "size": float(rec["size"]), "flux_map": float(rec["flux_map"])})
    names: dict[str, list[str]] = {}
    for rec in assoc.to_dict("records"):
        names.setdefault(rec["source_name"], []).append(rec["association_name"])
    df["gauss_components"] = pd.Series([by_source.get(n, []) for n in df["source_name"]], index=df.index, dtype=object)
    df["associations"] = pd.Series([names.get(n, []) for n in df["source_name"]], index=df.index, dtype=object)
    return finish_frame(df, units, "hgps", path, rename={"raj2000": "ra", "dej2000": "dec"},
                        name_columns=("source_name", "identified_object", "gamma_cat_source_id", "associations"))


def _spectral(row: Mapping[str, Any], un: Units, opts: Mapping[str, Any]) -> SpectralModelBase:
    which = (opts.get("which") or "best").lower()
    kind = str(row["spectral_model"]).strip().upper() if which in ("best", "source") else which.upper()
    if kind == "PL":
        return make_spectral("pl", {"index": float(row["index_spec_pl"]),
                                    "amplitude": un.value(row, "flux_spec_pl_diff_pivot", _FLUX),
                                    "reference": un.value(row, "energy_spec_pl_pivot", "TeV")},
                             {"index": float(row["index_spec_pl_err"]),
                              "amplitude": un.value(row, "flux_spec_pl_diff_pivot_err", _FLUX)})
    if kind == "ECPL":
        return make_spectral("ecpl", {"index": float(row["index_spec_ecpl"]),
                                      "amplitude": un.value(row, "flux_spec_ecpl_diff_pivot", _FLUX),
                                      "reference": un.value(row, "energy_spec_ecpl_pivot", "TeV"),
                                      "lambda_": un.value(row, "lambda_spec_ecpl", "TeV-1")},
                             {"index": float(row["index_spec_ecpl_err"]),
                              "amplitude": un.value(row, "flux_spec_ecpl_diff_pivot_err", _FLUX),
                              "lambda_": un.value(row, "lambda_spec_ecpl_err", "TeV-1")})
    raise unsupported(row, "spectral model", kind)


def _models(row: Mapping[str, Any], un: Units, opts: Mapping[str, Any]) -> list[SkyModel]:
    spec = _spectral(row, un, opts)
    name = str(row["source_name"])
    kind = str(row["spatial_model"]).strip()
    pos = {"lon_0": float(row["glon"]), "lat_0": float(row["glat"])}
    size = un.value(row, "size", "deg")
    if kind == "Point-Like":
        return [SkyModel(name, spec, make_spatial("point", "galactic", **pos))]
    if kind == "Gaussian" or (kind in ("2-Gaussian", "3-Gaussian") and (opts.get("which") or "") == "source"):
        return [SkyModel(name, spec, make_spatial("gauss", "galactic", sigma=size, **pos))]
    if kind == "Shell":
        return [SkyModel(name, spec, make_spatial("shell", "galactic", radius=size * (1 - SHELL_WIDTH_FRACTION),
                                                   width=size * SHELL_WIDTH_FRACTION, **pos))]
    if kind in ("2-Gaussian", "3-Gaussian"):
        comps = list(row["gauss_components"])
        if not comps:
            raise CatalogError(f"source {name!r}: {kind} source without Gaussian components in the file")
        total = sum(c["flux_map"] for c in comps)
        out = []
        amp_name = spec.parameters.names[spec.parameters.index("amplitude")]
        amp = spec.parameters[amp_name].value
        for c in comps:
            s = spec.with_values(**{amp_name: amp * c["flux_map"] / total})
            out.append(SkyModel(str(c["component_id"]), s, make_spatial(
                "gauss", "galactic", lon_0=c["glon"], lat_0=c["glat"], sigma=c["size"])))
        return out
    raise unsupported(row, "spatial model", kind)


def _flux_points(row: Mapping[str, Any], un: Units, attrs: Mapping[str, Any]) -> xr.Dataset:
    n = int(row["n_flux_points"])
    if n <= 0:
        raise CatalogError(f"source {row['source_name']!r} has no flux points")

    def col(name: str, unit: str = "") -> np.ndarray:
        v = np.asarray(row[name])[:n]
        return v.astype(float) * (un.factor(name, unit) if unit else 1.0) if v.dtype != bool else v

    return dnde_flux_points(_spectral(row, un, {}), col("flux_points_energy", "TeV"),
                            col("flux_points_energy_min", "TeV"), col("flux_points_energy_max", "TeV"),
                            col("flux_points_flux", _FLUX), col("flux_points_flux_err_lo", _FLUX),
                            col("flux_points_flux_err_hi", _FLUX), col("flux_points_flux_ul", _FLUX),
                            np.asarray(row["flux_points_flux_is_ul"])[:n].astype(bool))


register_catalog(CatalogFamily("hgps", read_hgps, _models, _spectral, path="hgps_catalog_v1.fits.gz",
                               flux_points=_flux_points,
                               name_columns=("source_name", "identified_object", "gamma_cat_source_id", "associations"),
                               description="H.E.S.S. Galactic plane survey (HGPS)"))
