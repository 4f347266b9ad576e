"""The first LHAASO catalog (1LHAASO, Cao et al. 2024, ApJS 271, 25).

Each source has up to two components, fitted by WCDA (1-25 TeV, reference energy ``E0`` = 3 TeV)
and by KM2A (> 25 TeV, ``E0`` = 50 TeV): columns ``*`` for the first (``model_a`` names its
detector) and ``*_b`` for the second. A component is built when its ``N0`` is measured (not an
upper limit): ``PowerLawSpectralModel`` (``amplitude = N0`` at ``E0``, ``index = gamma``) and a
Gaussian of ``sigma = r39`` (the 39 % containment radius of a 2D Gaussian is its sigma) or a
point source when only an upper limit of ``r39`` is given. ``which``: ``"both"`` (default; the
SkyModels are named ``"<source> WCDA"`` / ``"<source> KM2A"`` when both exist), ``"wcda"`` or
``"km2a"``.

Examples
--------
>>> from xgamma._paths import data_dir
>>> from xgamma.catalogs import read_catalog, catalog_row, catalog_models
>>> if data_dir(required=False) is not None:
...     m = catalog_models(catalog_row(read_catalog("1lhaaso"), "Crab"))
...     assert m.names == ("1LHAASO J0534+2200u WCDA", "1LHAASO J0534+2200u KM2A")
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from astropy.io import fits

from xgamma.catalogs.core import (
    CatalogError,
    CatalogFamily,
    Units,
    finish_frame,
    fits_frame,
    make_spatial,
    make_spectral,
    register_catalog,
)
from xgamma.errors import XgammaIOError
from xgamma.models import SkyModel, SpectralModelBase

__all__ = ["read_lhaaso"]

_FLUX = "cm-2 s-1 TeV-1"


def read_lhaaso(path: str | Path) -> pd.DataFrame:
    """Read the 1LHAASO catalog (``1LHAASO_catalog.fits``); ``model_a``/``model_b`` are cleaned
    to ``WCDA``/``KM2A`` (the file's ``*`` marks go to ``model_a_flag``/``model_b_flag``).

    Examples
    --------
    >>> from xgamma._paths import data_dir
    >>> d = data_dir(required=False)
    >>> if d is not None:
    ...     assert len(read_lhaaso(d / "catalogs" / "1LHAASO_catalog.fits")) == 90
    """
    path = Path(path)
    try:
        with fits.open(path) as hdul:
            df, units = fits_frame(hdul[1])
    except OSError as exc:
        raise XgammaIOError(f"cannot read the 1LHAASO catalog: {exc}", path=path) from exc
    for c in ("model_a", "model_b"):
        raw = df[c].map(lambda s: str(s).strip())
        df[c] = raw.map(lambda s: s.rstrip("*"))
        df[f"{c}_flag"] = raw.map(lambda s: s.endswith("*"))
    rename = {"raj2000": "ra", "decj2000": "dec"}
    return finish_frame(df, units, "1lhaaso", path, rename=rename, name_columns=("source_name", "asso_name"))


def _component(row: Mapping[str, Any], un: Units, sfx: str) -> tuple[str, SpectralModelBase, Any] | None:
    n0 = un.value(row, f"n0{sfx}", _FLUX)
    if not np.isfinite(n0):
        return None
    spec = make_spectral("pl", {"index": float(row[f"gamma{sfx}"]), "amplitude": n0,
                                "reference": un.value(row, f"e0{sfx}", "TeV")},
                         {"index": float(row[f"gamma_err{sfx}"]), "amplitude": un.value(row, f"n0_err{sfx}", _FLUX)})
    ra = float(row[f"raj2000{sfx}"] if sfx else row["ra"])
    dec = float(row[f"decj2000{sfx}"] if sfx else row["dec"])
    r39 = un.value(row, f"r39{sfx}", "deg")
    spatial = (make_spatial("gauss", "icrs", lon_0=ra, lat_0=dec, sigma=r39) if np.isfinite(r39) and r39 > 0
               else make_spatial("point", "icrs", lon_0=ra, lat_0=dec))
    return str(row[f"model{sfx or '_a'}"]), spec, spatial


def _components(row: Mapping[str, Any], un: Units, opts: Mapping[str, Any]) -> list[tuple[str, SpectralModelBase, Any]]:
    which = (opts.get("which") or "both").lower()
    if which not in ("both", "wcda", "km2a"):
        raise CatalogError(f"which must be 'both', 'wcda' or 'km2a' for 1LHAASO, got {which!r}")
    comps = [c for c in (_component(row, un, ""), _component(row, un, "_b")) if c is not None]
    if which != "both":
        comps = [c for c in comps if c[0].lower() == which]
    if not comps:
        raise CatalogError(f"source {row['source_name']!r}: no {which if which != 'both' else ''} component "
                           "with a measured spectrum".replace("  ", " "))
    return comps


def _models(row: Mapping[str, Any], un: Units, opts: Mapping[str, Any]) -> list[SkyModel]:
    comps = _components(row, un, opts)
    name = str(row["source_name"])
    if len(comps) == 1:
        return [SkyModel(name, comps[0][1], comps[0][2])]
    return [SkyModel(f"{name} {det}", spec, spatial) for det, spec, spatial in comps]


def _spectral(row: Mapping[str, Any], un: Units, opts: Mapping[str, Any]) -> SpectralModelBase:
    comps = _components(row, un, opts)
    if len(comps) == 1:
        return comps[0][1]
    return comps[0][1] + comps[1][1]


register_catalog(CatalogFamily("1lhaaso", read_lhaaso, _models, _spectral, path="1LHAASO_catalog.fits",
                               name_columns=("source_name", "asso_name"),
                               description="First LHAASO catalog (1LHAASO)"))
