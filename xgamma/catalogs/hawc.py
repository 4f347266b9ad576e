"""HAWC catalogs: 2HWC (Abeysekara et al. 2017) and 3HWC (Albert et al. 2020), ECSV tables.

Spectral model: ``PowerLawSpectralModel`` with ``amplitude = spec0_dnde`` at the reference
energy 7 TeV and ``index = -spec0_index`` (the files give the negative slope). Spatial model at
``ra``/``dec``: a point source when ``spec0_radius`` is 0, otherwise a disk of that radius (the
source hypothesis of the spectral fit). 2HWC's second fit (``spec1_*``, an extended-source
hypothesis) with ``which="spec1"``.

Examples
--------
>>> from xgamma._paths import data_dir
>>> from xgamma.catalogs import read_catalog, catalog_row, catalog_models
>>> if data_dir(required=False) is not None:
...     m = catalog_models(catalog_row(read_catalog("3hwc"), "3HWC J0534+220"))
...     assert abs(float(m[0].spectral(7.0)) / 2.34204e-13 - 1) < 1e-9
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from astropy.table import Table

from xgamma.catalogs.core import (
    CatalogError,
    CatalogFamily,
    Units,
    finish_frame,
    make_spatial,
    make_spectral,
    register_catalog,
)
from xgamma.errors import XgammaIOError
from xgamma.models import SkyModel, SpectralModelBase

__all__ = ["read_hawc", "HAWC_REFERENCE_ENERGY"]

#: Reference energy of the HAWC catalogs' spectra [TeV].
HAWC_REFERENCE_ENERGY = 7.0
_FLUX = "cm-2 s-1 TeV-1"


def read_hawc(path: str | Path, catalog: str) -> pd.DataFrame:
    """Read a HAWC catalog (``2HWC.ecsv`` or ``3HWC.ecsv``); ``catalog``: ``"2hwc"`` or ``"3hwc"``.

    Examples
    --------
    >>> from xgamma._paths import data_dir
    >>> d = data_dir(required=False)
    >>> if d is not None:
    ...     assert len(read_hawc(d / "catalogs" / "2HWC.ecsv", "2hwc")) == 40
    """
    path = Path(path)
    try:
        t = Table.read(path, format="ascii.ecsv")
    except (OSError, ValueError) as exc:
        raise XgammaIOError(f"cannot read the {catalog.upper()} catalog: {exc}", path=path,
                            expected="an ECSV table") from exc
    units = {c.lower(): t[c].unit.to_string() for c in t.colnames if t[c].unit is not None}
    df = pd.DataFrame({c.lower(): np.asarray(t[c]) for c in t.colnames})
    df["source_name"] = df["source_name"].astype(object).map(lambda s: str(s).strip())
    return finish_frame(df, units, catalog, path)


def _spectral(row: Mapping[str, Any], un: Units, opts: Mapping[str, Any]) -> SpectralModelBase:
    which = (opts.get("which") or "spec0").lower()
    if which not in ("spec0", "spec1"):
        raise CatalogError(f"which must be 'spec0' or 'spec1' for HAWC catalogs, got {which!r}")
    if f"{which}_dnde" not in row:
        raise CatalogError(f"source {row['source_name']!r}: the catalog has no {which} spectrum")
    dnde = un.value(row, f"{which}_dnde", _FLUX)
    if not np.isfinite(dnde):
        raise CatalogError(f"source {row['source_name']!r}: no {which} spectral fit in the catalog ({which}_dnde is NaN)")
    if f"{which}_dnde_err" in row:
        err = un.value(row, f"{which}_dnde_err", _FLUX)
        ierr = float(row[f"{which}_index_err"])
    else:
        err = 0.5 * (abs(un.value(row, f"{which}_dnde_errn", _FLUX)) + un.value(row, f"{which}_dnde_errp", _FLUX))
        ierr = 0.5 * (abs(float(row[f"{which}_index_errn"])) + float(row[f"{which}_index_errp"]))
    return make_spectral("pl", {"index": -float(row[f"{which}_index"]), "amplitude": dnde,
                                "reference": HAWC_REFERENCE_ENERGY}, {"index": ierr, "amplitude": err})


def _models(row: Mapping[str, Any], un: Units, opts: Mapping[str, Any]) -> list[SkyModel]:
    which = (opts.get("which") or "spec0").lower()
    spec = _spectral(row, un, opts)
    radius = un.value(row, f"{which}_radius", "deg")
    pos = {"lon_0": float(row["ra"]), "lat_0": float(row["dec"])}
    spatial = (make_spatial("disk", "icrs", r_0=radius, **pos) if radius > 0
               else make_spatial("point", "icrs", **pos))
    return [SkyModel(str(row["source_name"]), spec, spatial)]


register_catalog(CatalogFamily("2hwc", lambda p: read_hawc(p, "2hwc"), _models, _spectral, path="2HWC.ecsv",
                               description="HAWC second catalog (2HWC)"))
register_catalog(CatalogFamily("3hwc", lambda p: read_hawc(p, "3hwc"), _models, _spectral, path="3HWC.ecsv",
                               description="HAWC third catalog (3HWC)"))
