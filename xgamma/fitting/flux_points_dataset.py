"""Flux points as a fit dataset: a likelihood term that joins any (joint) fit.

A flux-point dataset is an estimator result on an energy axis (the ``flux_points`` kind of
:data:`xgamma.conventions.DATASET_SCHEMAS`, e.g. what :func:`xgamma.read_sed` gives for a GADF
SED table): ``norm`` relative to a reference spectrum whose differential flux at the points'
reference energies is ``ref_dnde``. The measured flux is ``dnde = norm * ref_dnde``; the model is
its spectral model evaluated at the reference energies (the ``energy_ref`` coordinate when
present, else the ``energy`` coordinate, the log-centre of the bin; GADF tables and
:func:`xgamma.read_sed` use the same convention).

Statistics (``-2 log L``, attribute ``fit_stat`` of the dataset):

``"chi2"`` (default)
    ``((model - dnde) / sigma)^2`` per detected point with ``sigma = dnde_errp`` where the model
    lies above the point and ``dnde_errn`` below it (asymmetric errors when the table has
    ``norm_errp``/``norm_errn``, else ``norm_err`` on both sides). Upper limits (``is_ul``) are
    one-sided terms: the limit ``dnde_ul`` at ``n_sigma_ul`` (the table's ``N_SIGMA_UL``, 2 by
    default) is read as a Gaussian measurement of width ``sigma_ul = dnde_ul / n_sigma_ul``
    lying somewhere below the limit, ``-2 log Phi((dnde_ul - model) / sigma_ul) + 2 log
    Phi(n_sigma_ul)``: zero for a model flux of zero, 1.39 + 0.05 at the limit, growing
    quadratically above it.
``"profile"``
    the tabulated likelihood profile ``stat_scan(norm_scan)`` of each point, interpolated by a
    cubic spline at the model's norm (``model / ref_dnde``; a piecewise-linear profile would
    leave MINUIT's Hessian without curvature) and continued linearly with the edge slope beyond
    the scan; this uses all points, upper limits included.

Points outside ``mask_safe & mask_fit`` and points without a value (NaN) are left out.

Examples
--------
>>> import numpy as np, xgamma as xg
>>> from xgamma.estimators.core import estimator_result
>>> from xgamma.models import spectral_model
>>> ref = spectral_model("pl", index=2.0, amplitude=1e-12)
>>> e = xg.energy_axis(1, 100, 6)
>>> truth = spectral_model("pl", index=2.5, amplitude=3e-12)
>>> norm = truth(e.values) / ref(e.values)
>>> sed = estimator_result({"norm": norm, "norm_err": 0.1 * norm}, e, ref)
>>> r = xg.fit(flux_points_dataset(sed, name="fp"), spectral_model("pl", index=2.0, amplitude=1e-12))
>>> round(r.models[0].spectral.parameters["index"].value, 3)
2.5
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr
from scipy.interpolate import CubicSpline
from scipy.special import log_ndtr

from xgamma.conventions import validate
from xgamma.errors import ConventionError
from xgamma.io.yaml import read_models
from xgamma.models.components import Models, SkyModel

__all__ = ["FLUX_POINT_STATS", "flux_points_dataset", "flux_point_terms", "FluxPointTerms"]

#: Statistics a flux-point dataset can be fitted with.
FLUX_POINT_STATS = ("chi2", "profile")


def _where(ds: xr.Dataset) -> str:
    name = ds.attrs.get("name")
    return "flux-point dataset" + (f" {name!r}" if name else "")


def _reference_dnde(ds: xr.Dataset, e_ref: np.ndarray) -> np.ndarray:
    if "ref_dnde" in ds:
        return np.asarray(ds["ref_dnde"].values, float)
    text = ds.attrs.get("reference_model")
    if not text:
        raise ConventionError(f"{_where(ds)}: needs 'ref_dnde' or a 'reference_model' attr to turn norm into flux")
    models = read_models(str(text))
    spec = models[0].spectral if isinstance(models, Models) else models.spectral
    return np.asarray(spec.evaluate_values(e_ref, list(spec.parameters.values)), float)


def _energy_ref(ds: xr.Dataset) -> np.ndarray:
    if "energy_ref" in ds.coords:
        return np.asarray(ds.coords["energy_ref"].values, float)
    return np.asarray(ds["energy"].values, float)


def flux_points_dataset(sed: xr.Dataset, name: str | None = None, stat: str = "chi2",
                        mask_fit: Any = None) -> xr.Dataset:
    """A flux-point estimator result made ready for :func:`xgamma.fit`.

    The result is ``sed`` with ``ref_dnde`` filled (from its reference model if absent), the
    dataset ``name`` and the statistic ``fit_stat`` in attrs and an optional ``mask_fit``.
    :func:`xgamma.fit` also accepts a plain :func:`xgamma.read_sed` result (statistic ``chi2``).

    Parameters
    ----------
    sed : xarray.Dataset
        Flux points (dims ``energy``; ``norm`` and its errors / upper limits / profiles).
    name : str, optional
        Dataset name (models select datasets by name with ``datasets_names``).
    stat : {"chi2", "profile"}
        The statistic (see the module docstring); ``"profile"`` needs ``stat_scan``.
    mask_fit : array-like of bool or DataArray along ``energy``, optional
        Points that enter the fit.

    Returns
    -------
    xarray.Dataset

    Examples
    --------
    >>> import xgamma as xg
    >>> from xgamma.estimators.core import estimator_result
    >>> from xgamma.models import spectral_model
    >>> sed = estimator_result({"norm": [1.0, 0.5]}, xg.energy_axis(1, 10, 2), spectral_model("pl"))
    >>> ds = flux_points_dataset(sed, name="fp", mask_fit=[True, False])
    >>> ds.attrs["fit_stat"], ds["mask_fit"].values.tolist(), "ref_dnde" in ds
    ('chi2', [True, False], True)
    """
    if not isinstance(sed, xr.Dataset):
        raise ConventionError(f"flux_points_dataset: expected an xarray.Dataset, got {type(sed).__name__}")
    validate(sed, "flux_points")
    if "time" in sed.dims:
        raise ConventionError(f"{_where(sed)}: has a 'time' dim (a light curve); select one time bin first")
    if stat not in FLUX_POINT_STATS:
        raise ValueError(f"{_where(sed)}: unknown stat {stat!r}; use one of {list(FLUX_POINT_STATS)}")
    if stat == "profile" and ("stat_scan" not in sed or "norm_scan" not in sed.coords):
        raise ConventionError(f"{_where(sed)}: stat='profile' needs the likelihood profiles 'stat_scan' and 'norm_scan'")
    out = sed.copy()
    if "ref_dnde" not in out:
        out["ref_dnde"] = ("energy", _reference_dnde(out, _energy_ref(out)), {"units": "cm-2 s-1 TeV-1"})
    if mask_fit is not None:
        mask = mask_fit.values if isinstance(mask_fit, xr.DataArray) else np.asarray(mask_fit)
        if mask.shape != (out.sizes["energy"],):
            raise ConventionError(f"{_where(out)}: mask_fit has shape {mask.shape}, expected ({out.sizes['energy']},)")
        out["mask_fit"] = ("energy", mask.astype(bool))
    attrs = {**out.attrs, "fit_stat": stat}
    if name is not None:
        attrs["name"] = name
    return out.assign_attrs(attrs)


def _values(ds: xr.Dataset, var: str) -> np.ndarray | None:
    if var not in ds:
        return None
    return np.asarray(ds[var].values, float)


@dataclass
class FluxPointTerms:
    """One flux-point dataset reduced to numpy arrays for the statistic (used by :func:`xgamma.fit`).

    ``signal`` lists ``(spectral model, parameter slice)`` of the sky models that apply to the
    dataset; :meth:`stat` is ``-2 log L`` at the full parameter vector.

    Examples
    --------
    >>> import numpy as np
    >>> from xgamma.models import spectral_model
    >>> m = spectral_model("pl", index=2.0, amplitude=1e-12)
    >>> t = FluxPointTerms("fp", "chi2", np.array([1.0]), np.array([1e-12]), np.array([1e-13]),
    ...                    np.array([1e-13]), signal=[(m, slice(0, 3))])
    >>> t.stat(np.array([2.0, 2e-12, 1.0]))
    100.0
    """

    name: str
    kind: str  # "chi2" or "profile"
    e_ref: np.ndarray  # detected points (chi2) or all points (profile) [TeV]
    dnde: np.ndarray
    errn: np.ndarray
    errp: np.ndarray
    e_ul: np.ndarray = field(default_factory=lambda: np.zeros(0))
    dnde_ul: np.ndarray = field(default_factory=lambda: np.zeros(0))
    n_sigma_ul: float = 2.0
    ref_dnde: np.ndarray = field(default_factory=lambda: np.zeros(0))  # profile: per point
    norm_scan: np.ndarray = field(default_factory=lambda: np.zeros(0))  # profile: (n_points, n_scan)
    stat_scan: np.ndarray = field(default_factory=lambda: np.zeros(0))
    splines: list[Any] = field(default_factory=list)  # profile: one CubicSpline per point
    signal: list[tuple[Any, slice]] = field(default_factory=list)
    bkg_models: list[tuple[Any, slice]] = field(default_factory=list)

    def model(self, energy: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Summed differential flux of the signal models at ``energy`` [cm-2 s-1 TeV-1]."""
        out = np.zeros(len(energy))
        for spec, sl in self.signal:
            out = out + spec.evaluate_values(energy, v[sl])
        return out

    def stat(self, v: np.ndarray) -> float:
        if self.kind == "profile":
            norm = self.model(self.e_ref, v) / self.ref_dnde
            total = 0.0
            for k, spline in enumerate(self.splines):
                x = self.norm_scan[k]
                edge = min(max(norm[k], x[0]), x[-1])
                total += float(spline(edge)) + (norm[k] - edge) * float(spline(edge, 1))
            return float(total)
        m = self.model(self.e_ref, v)
        resid = m - self.dnde
        sigma = np.where(resid > 0, self.errp, self.errn)
        s = float(np.sum((resid / sigma) ** 2))
        if len(self.e_ul):
            sig_ul = self.dnde_ul / self.n_sigma_ul
            mu = self.model(self.e_ul, v)
            s += float(np.sum(-2.0 * log_ndtr((self.dnde_ul - mu) / sig_ul) + 2.0 * log_ndtr(self.n_sigma_ul)))
        return s


def flux_point_terms(ds: xr.Dataset, models: Sequence[Any], offsets: dict[str, int]) -> FluxPointTerms:
    """The statistic terms of a flux-point dataset under ``models``.

    ``offsets`` maps a component name to the index of its first parameter in the flat
    parameter vector (spectral parameters first), as :class:`xgamma.fitting.fitter.Likelihood`
    lays them out.

    Examples
    --------
    >>> import xgamma as xg
    >>> from xgamma.estimators.core import estimator_result
    >>> from xgamma.models import Models, SkyModel, spectral_model
    >>> sed = estimator_result({"norm": [1.0], "norm_err": [0.1]}, xg.energy_axis(1, 10, 1), spectral_model("pl"))
    >>> models = Models([SkyModel("s", spectral_model("pl"))])
    >>> t = flux_point_terms(flux_points_dataset(sed, name="fp"), models, {"s": 0})
    >>> round(t.stat(models.parameters.values), 6)
    0.0
    """
    if "time" in ds.dims:
        raise ConventionError(f"{_where(ds)}: has a 'time' dim (a light curve); select one time bin first")
    name = str(ds.attrs.get("name", ""))
    kind = str(ds.attrs.get("fit_stat", "chi2"))
    if kind not in FLUX_POINT_STATS:
        raise ValueError(f"{_where(ds)}: unknown fit_stat {kind!r}; use one of {list(FLUX_POINT_STATS)}")
    e_ref = _energy_ref(ds)
    n = len(e_ref)
    mask = np.ones(n, bool)
    for k in ("mask_safe", "mask_fit"):
        if k in ds:
            mask &= np.asarray(ds[k].values, bool)
    ref = _reference_dnde(ds, e_ref)
    norm = np.asarray(ds["norm"].values, float)
    signal = []
    for comp in models:
        if isinstance(comp, SkyModel) and comp.applies_to(name):
            start = offsets[comp.name]
            signal.append((comp.spectral, slice(start, start + len(comp.spectral.parameters))))
    if kind == "profile":
        if "stat_scan" not in ds or "norm_scan" not in ds.coords:
            raise ConventionError(f"{_where(ds)}: fit_stat 'profile' needs 'stat_scan' and 'norm_scan'")
        scan = np.asarray(ds["stat_scan"].transpose("energy", "norm_scan").values, float)
        ns = np.asarray(ds.coords["norm_scan"].values, float)
        ns = np.broadcast_to(ns, scan.shape) if ns.ndim == 1 else ns
        use = mask & np.isfinite(scan).all(axis=1)
        ns_use, scan_use = np.array(ns[use]), scan[use]
        splines = [CubicSpline(x, y) for x, y in zip(ns_use, scan_use, strict=True)]
        return FluxPointTerms(name, "profile", e_ref[use], np.zeros(0), np.zeros(0), np.zeros(0),
                              ref_dnde=ref[use], norm_scan=ns_use, stat_scan=scan_use, splines=splines,
                              signal=signal)
    is_ul = np.asarray(ds["is_ul"].values, bool) if "is_ul" in ds else np.zeros(n, bool)
    err = _values(ds, "norm_err")
    errn, errp = _values(ds, "norm_errn"), _values(ds, "norm_errp")
    if errn is None or errp is None or not (np.isfinite(errn) | is_ul | ~mask).all():
        if err is None:
            raise ConventionError(f"{_where(ds)}: needs 'norm_err' or 'norm_errn' and 'norm_errp' for a chi2 fit")
        errn = errp = err
    det = mask & ~is_ul & np.isfinite(norm) & np.isfinite(errn) & np.isfinite(errp) & (errn > 0) & (errp > 0)
    ul = _values(ds, "norm_ul")
    if ul is None:
        ul = np.full(n, np.nan)
    with np.errstate(invalid="ignore"):
        ul_use = mask & is_ul & np.isfinite(ul) & (ul > 0)
    n_sigma_ul = float(ds.attrs.get("n_sigma_ul", 2.0))
    return FluxPointTerms(
        name, "chi2", e_ref[det], (norm * ref)[det], (errn * ref)[det], (errp * ref)[det],
        e_ul=e_ref[ul_use], dnde_ul=(ul * ref)[ul_use],
        n_sigma_ul=n_sigma_ul, signal=signal)
