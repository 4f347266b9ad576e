"""Source catalogs as pandas DataFrames that turn into models.

>>> import xgamma.catalogs as cat
>>> cat.catalog_names()
['3fgl', '2fhl', '3fhl', '4fgl', 'gamma-cat', '2hwc', '3hwc', 'hgps', '1lhaaso']

See :mod:`xgamma.catalogs.core` for the functions and one module per catalog family for the
conversion rules (:mod:`~xgamma.catalogs.fermi`, :mod:`~xgamma.catalogs.hgps`,
:mod:`~xgamma.catalogs.gammacat`, :mod:`~xgamma.catalogs.hawc`, :mod:`~xgamma.catalogs.lhaaso`).
"""

from __future__ import annotations

# the family modules register their catalogs on import
from xgamma.catalogs import core, fermi, gammacat, hawc, hgps, lhaaso  # noqa: F401
from xgamma.catalogs.core import (
    CatalogError,
    catalog_flux_points,
    catalog_light_curve,
    catalog_models,
    catalog_names,
    catalog_row,
    catalog_spectral_model,
    cone,
    read_catalog,
)
from xgamma.catalogs.plot import plot_catalog

__all__ = [
    "CatalogError",
    "catalog_flux_points",
    "catalog_light_curve",
    "catalog_models",
    "catalog_names",
    "catalog_row",
    "catalog_spectral_model",
    "cone",
    "plot_catalog",
    "read_catalog",
]
