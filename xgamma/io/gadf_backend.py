"""The xarray engine ``"gadf"`` (entry point ``xarray.backends``), kept apart from
:mod:`xgamma.io.gadf` so that xarray's engine discovery, which loads every installed backend
class on the first ``xr.open_dataset``, loads only xarray here; the readers load on first use.

Examples
--------
>>> from xgamma.io.gadf_backend import GADFBackendEntrypoint
>>> GADFBackendEntrypoint().guess_can_open("hess_dl3_dr1_obs_id_023523.fits.gz")
True
"""

from __future__ import annotations

from typing import Any

import xarray as xr
from xarray.backends import BackendEntrypoint

__all__ = ["GADFBackendEntrypoint"]


class GADFBackendEntrypoint(BackendEntrypoint):
    """xarray engine ``"gadf"``: ``xr.open_dataset(path, engine="gadf", hdu=None)``
    (:func:`xgamma.io.gadf.open_irf_dataset`).

    Examples
    --------
    >>> import xarray as xr, xgamma as xg
    >>> d = xg.data_dir(required=False)
    >>> if d is not None:
    ...     ds = xr.open_dataset(d / "hess-dl3-dr1/data/hess_dl3_dr1_obs_id_023523.fits.gz",
    ...                          engine="gadf", hdu="AEFF")
    ...     assert list(ds.data_vars) == ["aeff"]
    """

    description = "GADF DL3 IRF HDUs (AEFF, EDISP, PSF, BKG, RAD_MAX) as xarray variables"
    url = "https://gamma-astro-data-formats.readthedocs.io"
    open_dataset_parameters = ("filename_or_obj", "drop_variables", "hdu")

    def open_dataset(  # type: ignore[override]
        self, filename_or_obj: Any, *, drop_variables: Any = None, hdu: str | int | None = None
    ) -> xr.Dataset:
        from xgamma.io.gadf import open_irf_dataset  # lazy: engine discovery loads only this class

        return open_irf_dataset(str(filename_or_obj), hdu=hdu, drop_variables=drop_variables)

    def guess_can_open(self, filename_or_obj: Any) -> bool:
        try:
            s = str(filename_or_obj).lower()
        except Exception:  # noqa: BLE001
            return False
        return s.endswith((".fits", ".fits.gz", ".fit", ".fit.gz", ".fts"))
