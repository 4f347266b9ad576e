"""Likelihood fits of models to 1D datasets: MIGRAD/HESSE (iminuit) or scipy, profiles, contours.

:func:`fit` builds, once, a likelihood closure over the vector of free parameter values: every
dataset is reduced to numpy arrays restricted to the bins that enter the statistic (``mask_safe &
mask_fit``) and to the true-energy bins that reach them, so that one evaluation is a few flux
integrals, one matrix product and the elementwise statistic (WStat for ON/OFF, Cash otherwise),
plus the parameters' priors. Joint fits: a list of datasets (any binnings) and/or datasets stacked
along ``obs``; the statistic is summed. Parameters shared between components are tied by their
``link`` label. Only parameters that a dataset's prediction uses are fitted: for 1D datasets the
spectral models of sky models and of background models, and the temporal models of sky models
on datasets with a GTI (``tstart``/``tstop``/``mjdref``: npred times the model's mean over each
observation's good time, :func:`xgamma.fitting.fold.temporal_norm`; spatial parameters are kept
fixed); 3D map datasets (dims ``y``, ``x``) are folded by :class:`xgamma.fold_map.MapEvaluator`
(spectral, spatial and temporal parameters, background norm and tilt; 3D ON/OFF datasets, e.g.
from the ring background, with WStat and no background model), HEALPix map datasets (dim
``pix``) by :class:`xgamma.fitting.fold_hpx.HpxMapEvaluator`. WStat is one implementation,
:class:`xgamma.stats.WStatSum`, for spectra and maps.

Backends work on scaled parameters ``x / scale`` (``scale`` a power of ten of the start value), so
that amplitudes of ``1e-11`` are as well conditioned as indices. Time references (unit ``d`` and
a value that is an MJD, such as a flare's ``t_ref`` near MJD 55000) are instead fitted as
``(x - start) / TIME_REF_SCALE``: scaled by a power of ten of their value (1e4 d) a day-scale
flare would be a change in the fifth digit, and MINUIT's first steps would jump hundreds of days.

Examples
--------
>>> import xgamma as xg
>>> from xgamma.fold import example_dataset
>>> from xgamma.models import Models, SkyModel, spectral_model
>>> models = Models([SkyModel("crab", spectral_model("pl", index=2.0, amplitude=1e-11))])
>>> res = xg.fit(example_dataset(), models)
>>> res.success, round(res.models["crab"].spectral.parameters["index"].value, 2)
(True, 2.6)
>>> float(res.result["error"].sel(param="crab.spectral.index")) > 0
True
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr
from scipy.optimize import brentq, minimize

from xgamma.conventions import dataset_kind, validate
from xgamma.fitting.flux_points_dataset import flux_point_terms
from xgamma.fitting.fold import as_array
from xgamma.fitting.fold_hpx import HpxMapEvaluator
from xgamma.fitting.fold_map import MapEvaluator, parameter_steps
from xgamma.fitting.gti import gti_intervals_mjd, gti_mean
from xgamma.models.components import BackgroundModel, Models, SkyModel, as_models
from xgamma.models.params import GaussianPrior, Parameter, Parameters
from xgamma.models.priors import prior_terms
from xgamma.stats import WStatSum

__all__ = [
    "FitResult",
    "fit_summary",
    "fit",
    "stat_sum",
    "stat_profile",
    "stat_surface",
    "stat_contour",
    "confidence",
    "ts",
    "Likelihood",
]


def dataset_list(datasets: Any) -> list[xr.Dataset]:
    """Datasets as a list with unique names, each checked against its schema
    (:data:`xgamma.conventions.DATASET_SCHEMAS`)."""
    items = [datasets] if isinstance(datasets, xr.Dataset) else list(datasets)
    out = []
    seen: set[str] = set()
    for i, d in enumerate(items):
        name = str(d.attrs.get("name") or f"dataset{i}")
        if name in seen:
            name = f"{name}-{i}"
        seen.add(name)
        d = d if d.attrs.get("name") == name else d.assign_attrs(name=name)
        validate(d, "dataset")
        out.append(d)
    return out


@dataclass
class _Terms:
    """One dataset reduced to numpy arrays for the statistic."""

    name: str
    kind: str  # "wstat" or "cash"
    e_lo: np.ndarray
    e_hi: np.ndarray
    response: np.ndarray  # (n_true_used, n_cells)
    n_on: np.ndarray
    n_off: np.ndarray
    alpha: np.ndarray
    background: np.ndarray
    e_reco: np.ndarray
    signal: list[tuple[Any, slice]]
    bkg_models: list[tuple[Any, slice]]
    scaled: list[tuple[Any, slice]] = field(default_factory=list)  # (spectral model, slice)
    scale_index: int | None = None
    # sky models with a temporal model: (integrate, spectral model, spectral slice, temporal
    # model, temporal slice, GTIs (start, stop [MJD], obs index), number of obs); cell_obs: the
    # obs of each cell
    timed: list[tuple[Any, Any, slice, Any, slice, Any, int]] = field(default_factory=list)
    cell_obs: np.ndarray | None = None

    def __post_init__(self) -> None:
        # constants of the statistic, computed once
        self._on_pos = np.flatnonzero(self.n_on > 0)
        self._n_on_pos = self.n_on[self._on_pos]
        self._wstat = WStatSum(self.n_on, self.n_off, self.alpha) if self.kind == "wstat" else None

    def mu_sig(self, v: np.ndarray) -> np.ndarray:
        """Predicted signal counts in the selected cells."""
        flux: Any = 0.0
        if self.scale_index is not None:
            # energy-scale nuisance: the instrument's true energy E corresponds to E / (1 + delta)
            f = 1.0 + v[self.scale_index]
            for model, sl in self.scaled:
                flux = flux + model.integral_values(self.e_lo / f, self.e_hi / f, v[sl])
        for integrate, sl in self.signal if self.scale_index is None else []:
            flux = flux + integrate(v[sl])
        mu = np.asarray(flux) @ self.response if self.signal else np.zeros(self.response.shape[1])
        for integrate, model, ssl, temporal, tsl, gti, n_obs in self.timed:
            if self.scale_index is None:
                f = integrate(v[ssl])
            else:
                g = 1.0 + v[self.scale_index]
                f = model.integral_values(self.e_lo / g, self.e_hi / g, v[ssl])
            norm = gti_mean(temporal, list(v[tsl]), gti, n_obs)
            mu = mu + (np.asarray(f) @ self.response) * norm[self.cell_obs]
        return mu

    def stat(self, v: np.ndarray) -> float:
        if self.response.shape[1] == 0:
            return 0.0
        mu = self.mu_sig(v)
        if self._wstat is not None:
            # WStat with the background profiled (one implementation: stats.WStatSum)
            return self._wstat(mu)
        bkg = self.background
        for model, sl in self.bkg_models:
            bkg = bkg * model.evaluate_values(self.e_reco, v[sl])
        mu_on = np.maximum(mu + bkg, 1e-25)
        return float(2 * (mu_on.sum() - self._n_on_pos @ np.log(mu_on[self._on_pos])))


def _terms(ds: xr.Dataset, models: Models, offsets: dict[str, int], scale_index: int | None = None) -> Any:
    if dataset_kind(ds) in ("flux_points", "light_curve"):
        # flux points: chi2 / one-sided upper limits / likelihood profiles on the spectral models
        if scale_index is not None:
            raise NotImplementedError("energy_scale nuisance parameters are not supported for flux-point datasets")
        return flux_point_terms(ds, models, offsets)
    if "pix" in ds.dims:
        # HEALPix map datasets: forward folding on the sphere (same interface)
        if scale_index is not None:
            raise NotImplementedError("energy_scale nuisance parameters are not supported for 3D datasets")
        return HpxMapEvaluator(ds, models)
    if "y" in ds.dims and "x" in ds.dims:
        # 3D map datasets: forward folding with PSF and edisp (same .stat/.signal/.bkg_models)

        if scale_index is not None:
            raise NotImplementedError("energy_scale nuisance parameters are not supported for 3D datasets")
        return MapEvaluator(ds, models)
    name = str(ds.attrs["name"])
    sizes = {"obs": 1, **{str(k): int(v) for k, v in ds.sizes.items()}}
    mask = np.ones((sizes["obs"], sizes["energy"]), bool)
    for k in ("mask_safe", "mask_fit"):
        if k in ds:
            mask = mask & as_array(ds[k], ["energy"], sizes).astype(bool)
    expo = as_array(ds["exposure"], ["energy_true"], sizes).astype(float)
    edisp = as_array(ds["edisp"], ["energy_true", "energy"], sizes).astype(float)
    n_obs, n_true = expo.shape
    resp = (expo[:, :, None] * edisp).transpose(1, 0, 2).reshape(n_true, -1)[:, mask.ravel()]
    rows = np.flatnonzero((resp != 0).any(axis=1))
    lo = np.asarray(ds.coords["energy_true_min"].values, float)[rows]
    hi = np.asarray(ds.coords["energy_true_max"].values, float)[rows]

    def cells(var: str | xr.DataArray, default: float = 0.0) -> np.ndarray:
        if isinstance(var, str):
            if var not in ds:
                return np.full(int(mask.sum()), default)
            var = ds[var]
        return as_array(var, ["energy"], sizes).astype(float)[mask]

    e_reco = cells(xr.DataArray(ds["energy"].values, dims="energy"))
    cell_obs = np.repeat(np.arange(n_obs), mask.shape[1])[mask.ravel()]
    n_on = cells("counts")
    signal, bkg_models, scaled, timed = [], [], [], []
    gti = gti_intervals_mjd(ds)
    for comp in models:
        start = offsets[comp.name]
        n_spec = len(comp.spectral.parameters)
        if isinstance(comp, SkyModel) and comp.applies_to(name) and comp.temporal is not None \
                and gti is not None and np.all(np.bincount(gti[2], gti[1] - gti[0], minlength=n_obs) > 0):
            t0 = start + n_spec + (len(comp.spatial.parameters) if comp.spatial is not None else 0)
            timed.append((comp.spectral.integrator(lo, hi), comp.spectral, slice(start, start + n_spec),
                          comp.temporal, slice(t0, t0 + len(comp.temporal.parameters)), gti, n_obs))
        elif isinstance(comp, SkyModel) and comp.applies_to(name):
            if comp.temporal is not None:
                warnings.warn(f"dataset {name!r} has no GTI (tstart/tstop/mjdref): the temporal model "
                              f"of {comp.name!r} is ignored", stacklevel=3)
            signal.append((comp.spectral.integrator(lo, hi), slice(start, start + n_spec)))
            scaled.append((comp.spectral, slice(start, start + n_spec)))
        elif isinstance(comp, BackgroundModel) and comp.applies_to(name):
            bkg_models.append((comp.spectral, slice(start, start + n_spec)))
    if "counts_off" in ds:
        n_off = cells("counts_off")
        alpha = cells("acceptance", 1.0) / cells("acceptance_off", 1.0)
        return _Terms(name, "wstat", lo, hi, resp[rows], n_on, n_off, alpha, np.zeros_like(n_on), e_reco,
                      signal, [], scaled, scale_index, timed, cell_obs)
    bkg = cells("background")
    return _Terms(name, "cash", lo, hi, resp[rows], n_on, np.zeros_like(n_on), np.zeros_like(n_on), bkg,
                  e_reco, signal, bkg_models if "background" in ds else [], scaled, scale_index, timed, cell_obs)


class Likelihood:
    """The fit statistic of datasets under models, as a function of parameter values.

    ``Likelihood(datasets, models)(x)`` is ``-2 log L`` (summed over datasets and ``obs``, plus
    priors) at the free-parameter vector ``x`` (one value per free linked group, in
    :attr:`free_names` order). Built once per fit; no xarray in the evaluation.

    Examples
    --------
    >>> from xgamma.fold import example_dataset
    >>> from xgamma.models import Models, SkyModel, spectral_model
    >>> like = Likelihood(example_dataset(), Models([SkyModel("s", spectral_model("pl"))]))
    >>> like.free_names
    ('s.spectral.index', 's.spectral.amplitude')
    >>> bool(like(like.x0) > like(np.array([2.6, 4e-11])))
    True
    """

    def __init__(self, datasets: Any, models: Any, energy_scale: Mapping[str, float] | None = None) -> None:
        self.datasets = dataset_list(datasets)
        self.models = as_models(models)
        params = self.models.parameters
        self.n_model = len(params)
        offsets: dict[str, int] = {}
        i = 0
        for comp in self.models:
            offsets[comp.name] = i
            i += len(comp.parameters)
        scales = dict(energy_scale or {})
        names = [str(d.attrs["name"]) for d in self.datasets]
        unknown = set(scales) - set(names)
        if unknown:
            raise KeyError(f"energy_scale for unknown datasets {sorted(unknown)}; datasets: {names}")
        extra = [Parameter(f"{n}.energy_scale", 0.0, min=-0.5, max=0.5, prior=GaussianPrior(mu=0.0, sigma=scales[n]))
                 for n in names if n in scales]
        params = params + extra
        scale_idx = {p.name.rsplit(".", 1)[0]: self.n_model + k for k, p in enumerate(extra)}
        self.terms = [_terms(ds, self.models, offsets, scale_idx.get(n)) for ds, n in zip(self.datasets, names, strict=True)]
        used = np.zeros(len(params), bool)
        used[self.n_model:] = True
        for t in self.terms:
            for _, sl in (*t.signal, *t.bkg_models):
                used[sl] = True
            for _, _, ssl, _, tsl, _, _ in getattr(t, "timed", ()):
                used[ssl] = used[tsl] = True
        unused = [p.name for p, u in zip(params, used, strict=True) if not u and not p.frozen]
        self.parameters: Parameters = params.with_frozen(unused) if unused else params
        self.original = params
        groups = self.parameters.free_groups()
        self.groups = groups
        self.member_idx = np.array([i for g in groups for i in g], dtype=int)
        self.member_grp = np.array([k for k, g in enumerate(groups) for _ in g], dtype=int)
        self.v0 = self.parameters.linked_values().values
        self.priors = prior_terms(self.parameters)  # (indices, -2 log p); multivariate groups jointly
        self.free_names = self.parameters.free_group_names()
        self.x0 = self.parameters.free_vector()
        self.nfev = 0

    def values(self, x: np.ndarray) -> np.ndarray:
        """Full parameter value vector for the free vector ``x``."""
        v = self.v0.copy()
        if len(self.member_idx):
            v[self.member_idx] = np.asarray(x, dtype=float)[self.member_grp]
        return v

    def stat_values(self, v: np.ndarray) -> float:
        s = 0.0
        for t in self.terms:
            s += t.stat(v)
        for idx, prior in self.priors:
            s += float(prior(v[idx]))
        return s

    def __call__(self, x: np.ndarray) -> float:
        self.nfev += 1
        val = self.stat_values(self.values(x))
        return val if math.isfinite(val) else 1e300

    def bounds(self) -> list[tuple[float | None, float | None]]:
        return [self.parameters[g[0]].bounds for g in self.groups]

    def rounding_noise(self) -> float:
        """Absolute rounding noise of the statistic beyond ``eps * |stat|``: the ON/OFF deviance
        is small but made of per-bin terms of the size of the counts, so its noise is
        ``~eps * 2 sum(n_on + n_off)`` (1e-10 for 1e5 counts per bin, on a statistic of ~10).
        Fit backends use it to set the precision of their finite differences."""
        total = 0.0
        for t in self.terms:
            if getattr(t, "kind", None) == "wstat":
                total += float(np.sum(t.n_on) + np.sum(t.n_off))
            elif isinstance(t, MapEvaluator):
                total += t.onoff_counts
        return 2.0 * float(np.finfo(float).eps) * total

    def steps(self) -> np.ndarray:
        """Suggested initial step per free group (NaN: let the backend choose)."""

        flat = parameter_steps(self.models)
        return np.array([flat[g[0]] if g[0] < len(flat) else np.nan for g in self.groups], dtype=float)

    def fixed(self, names: Sequence[str], values: Sequence[float]) -> Likelihood:
        """A likelihood with the named free parameters (or link labels) fixed at ``values``."""
        new = object.__new__(Likelihood)
        new.__dict__.update(self.__dict__)
        keep = [k for k, n in enumerate(self.free_names) if n not in names]
        v0 = self.v0.copy()
        for n, val in zip(names, values, strict=True):
            k = list(self.free_names).index(n)
            v0[self.groups[k]] = val
        new.v0 = v0
        new.groups = [self.groups[k] for k in keep]
        new.member_idx = np.array([i for g in new.groups for i in g], dtype=int)
        new.member_grp = np.array([k for k, g in enumerate(new.groups) for _ in g], dtype=int)
        new.free_names = tuple(self.free_names[k] for k in keep)
        new.x0 = self.x0[keep] if len(keep) else np.zeros(0)
        new.nfev = 0
        return new


# --------------------------------------------------------------------------------------------
# backends


def _scales(x0: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        s = 10.0 ** np.floor(np.log10(np.abs(x0)))
    return np.where((x0 == 0) | ~np.isfinite(s), 1.0, s)


#: Scale [d] of a free time reference in the fit backends (offset by its start value).
TIME_REF_SCALE = 0.01
#: Values [d] from which a parameter in days is taken as an MJD, i.e. a time reference.
_MJD_MIN = 1e4


def _affine(like: Likelihood, x0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(offset, scale)`` of the free parameters: backends work on ``(x - offset) / scale``.
    Offset 0 and a power of ten of the start value, except for time references (unit ``d``,
    value an MJD): the start value and :data:`TIME_REF_SCALE`."""
    s = _scales(x0)
    off = np.zeros_like(s)
    for k, g in enumerate(like.groups):
        p = like.parameters[g[0]]
        if str(getattr(p, "unit", "")).strip() in ("d", "day", "MJD", "mjd") and abs(x0[k]) >= _MJD_MIN:
            off[k], s[k] = x0[k], TIME_REF_SCALE
    return off, s


@dataclass
class _Optimum:
    x: np.ndarray
    cov: np.ndarray | None
    stat: float
    success: bool
    message: str
    nfev: int
    errn: np.ndarray | None = None
    errp: np.ndarray | None = None


def _minimize_minuit(like: Likelihood, x0: np.ndarray, covariance: bool, minos: bool, opts: dict[str, Any]) -> _Optimum:
    from iminuit import Minuit

    off, s = _affine(like, x0)
    fcn: Callable[[np.ndarray], float] = lambda xs: like(off + np.asarray(xs) * s)  # noqa: E731
    m = Minuit(fcn, (x0 - off) / s, name=[f"x{i}" for i in range(len(x0))])
    m.errordef = Minuit.LEAST_SQUARES
    m.print_level = 0
    m.strategy = opts.get("strategy", 1)
    m.tol = opts.get("tol", 0.1)
    lims = [(((lo - oi) / si) if lo is not None else -np.inf, ((hi - oi) / si) if hi is not None else np.inf)
            for (lo, hi), oi, si in zip(like.bounds(), off, s, strict=True)]
    m.limits = lims
    m.errors = [1.0 if oi != 0 else e for oi, e in zip(off, m.errors, strict=True)]  # time refs: TIME_REF_SCALE
    # absolute initial steps where the model type gives them (0.01 deg for positions and sizes):
    # a step relative to lon_0 = 83.6 deg would throw a position fit far off
    steps = like.steps()
    for k, step in enumerate(steps):
        if np.isfinite(step) and step > 0:
            m.errors[k] = step / s[k]
    # the statistic's rounding noise relative to its value (MINUIT assumes machine precision; a
    # larger noise makes HESSE's finite differences, and the errors, wrong)
    noise = like.rounding_noise()
    eps = float(np.finfo(float).eps)
    if noise > 0:
        m.precision = max(eps, noise / (abs(float(fcn((x0 - off) / s))) + 1.0))
    m.migrad(ncall=opts.get("ncall"))
    cov = None
    if covariance:
        if noise > 0:
            m.precision = max(eps, noise / (abs(float(m.fval)) + 1.0))
        m.hesse()
        if m.covariance is not None:
            cov = np.asarray(m.covariance) * np.outer(s, s)
    errn = errp = None
    if minos and m.valid:
        m.minos()
        errn = np.array([-m.merrors[f"x{i}"].lower for i in range(len(x0))]) * s
        errp = np.array([m.merrors[f"x{i}"].upper for i in range(len(x0))]) * s
    fmin = m.fmin
    msg = "Optimization terminated successfully." if m.valid else f"MIGRAD: {fmin}"
    return _Optimum(off + np.asarray(m.values) * s, cov, float(m.fval), bool(m.valid), msg, int(m.nfcn), errn, errp)


def _num_hessian(f: Callable[[np.ndarray], float], x: np.ndarray, h: np.ndarray) -> np.ndarray:
    n = len(x)
    hess = np.zeros((n, n))
    f0 = f(x)
    for i in range(n):
        ei = np.zeros(n)
        ei[i] = h[i]
        hess[i, i] = (f(x + ei) - 2 * f0 + f(x - ei)) / h[i] ** 2
        for j in range(i):
            ej = np.zeros(n)
            ej[j] = h[j]
            hess[i, j] = hess[j, i] = (f(x + ei + ej) - f(x + ei - ej) - f(x - ei + ej) + f(x - ei - ej)) / (4 * h[i] * h[j])
    return hess


def _minimize_scipy(like: Likelihood, x0: np.ndarray, covariance: bool, opts: dict[str, Any]) -> _Optimum:
    off, s = _affine(like, x0)
    fcn = lambda xs: like(off + np.asarray(xs) * s)  # noqa: E731
    bounds = [(((lo - oi) / si) if lo is not None else None, ((hi - oi) / si) if hi is not None else None)
              for (lo, hi), oi, si in zip(like.bounds(), off, s, strict=True)]
    has_bounds = any(b != (None, None) for b in bounds)
    method = opts.get("method", "L-BFGS-B" if has_bounds else "BFGS")
    kw: dict[str, Any] = {"method": method}
    if method in ("L-BFGS-B", "TNC", "SLSQP", "Powell", "Nelder-Mead", "trust-constr"):
        kw["bounds"] = bounds
    res = minimize(fcn, (x0 - off) / s, **kw, options=opts.get("options"))
    if method != "Nelder-Mead":  # polish with a derivative-free pass for a tight minimum
        res2 = minimize(fcn, res.x, method="Nelder-Mead", options={"xatol": 1e-7, "fatol": 1e-8, "maxiter": 4000})
        if res2.fun <= res.fun:
            res.x, res.fun = res2.x, res2.fun
    cov = None
    if covariance and len(x0):
        hess = _num_hessian(fcn, np.asarray(res.x), 1e-3 * np.maximum(np.abs(res.x), 1e-2))
        try:
            cov = 2 * np.linalg.inv(hess) * np.outer(s, s)
        except np.linalg.LinAlgError:
            cov = None
    return _Optimum(off + np.asarray(res.x) * s, cov, float(res.fun), bool(res.success), str(res.message), like.nfev)


def _optimize(like: Likelihood, backend: str, covariance: bool = True, minos: bool = False,
              opts: dict[str, Any] | None = None) -> _Optimum:
    opts = dict(opts or {})
    if len(like.x0) == 0:
        return _Optimum(np.zeros(0), np.zeros((0, 0)), like(np.zeros(0)), True, "no free parameters", 1)
    if backend == "minuit":
        return _minimize_minuit(like, like.x0, covariance, minos, opts)
    if backend == "scipy":
        return _minimize_scipy(like, like.x0, covariance, opts)
    raise ValueError(f"unknown backend {backend!r}: use 'minuit' or 'scipy'")


# --------------------------------------------------------------------------------------------
# results


@dataclass(frozen=True)
class FitResult:
    """Result of :func:`fit`.

    Attributes
    ----------
    models : Models
        Fitted models (values, errors and covariance filled).
    result : xarray.Dataset
        ``value(param)``, ``error(param)``, ``covariance(param, param_)`` (``errn``/``errp`` with
        MINOS) over the free parameters; attrs ``stat_sum``, ``success``, ``message``, ``nfev``,
        ``backend``.

    Examples
    --------
    >>> from xgamma.fold import example_dataset
    >>> from xgamma.models import spectral_model
    >>> res = fit(example_dataset(), spectral_model("pl"))
    >>> sorted(res.result.data_vars)
    ['covariance', 'error', 'value']
    """

    models: Models
    result: xr.Dataset

    @property
    def success(self) -> bool:
        return bool(self.result.attrs["success"])

    @property
    def stat_sum(self) -> float:
        return float(self.result.attrs["stat_sum"])

    @property
    def nfev(self) -> int:
        return int(self.result.attrs["nfev"])

    @property
    def message(self) -> str:
        return str(self.result.attrs["message"])

    @property
    def parameters(self) -> Parameters:
        return self.models.parameters

    def __repr__(self) -> str:
        return (f"FitResult(success={self.success}, stat_sum={self.stat_sum:.4f}, nfev={self.nfev}, "
                f"free={list(self.result['param'].values)})")

    def to_dataframe(self) -> Any:
        """One row per model parameter (frozen ones too): ``value``, ``error`` (and ``errn``/
        ``errp`` after MINOS), ``unit``, ``min``, ``max``, ``frozen``; ``free`` marks the
        fitted ones.

        Examples
        --------
        >>> from xgamma.fold import example_dataset
        >>> from xgamma.models import spectral_model
        >>> df = fit(example_dataset(), spectral_model("pl")).to_dataframe()
        >>> list(df.columns[:4]), bool(df.loc["source.spectral.index", "free"])
        (['value', 'error', 'unit', 'free'], True)
        """
        df = self.models.parameters.to_dataframe()
        free = set(str(p) for p in self.result["param"].values)
        out = df[["value", "error", "unit"]].copy()
        out["free"] = [n in free for n in df.index]
        for k in ("errn", "errp"):
            if k in self.result:
                vals = self.result[k].to_series()
                out[k] = [float(vals.get(n, np.nan)) for n in df.index]
        for k in ("min", "max", "frozen"):
            out[k] = df[k]
        return out

    def _repr_html_(self) -> str:
        """Jupyter: the status line and the parameter table."""
        head = (f"<p><b>FitResult</b>: {'converged' if self.success else 'FAILED'}, "
                f"stat_sum = {self.stat_sum:.4f}, nfev = {self.nfev}</p>")
        return head + str(self.to_dataframe().to_html(float_format=lambda v: f"{v:.5g}"))


def _build_result(like: Likelihood, opt: _Optimum, backend: str) -> FitResult:
    n = len(opt.x)
    cov = opt.cov if opt.cov is not None else np.full((n, n), np.nan)
    err = np.sqrt(np.clip(np.diag(cov), 0, None)) if n else np.zeros(0)
    # new flat parameters: fitted values/errors, original frozen flags
    pars = like.original.with_values(like.values(opt.x)) if n else like.original
    errors = pars.errors.copy()
    for k, g in enumerate(like.groups):
        errors[g] = err[k]
    pars = pars.with_errors(errors)
    names = list(like.free_names)
    cov_da = xr.DataArray(cov, dims=("param", "param_"), coords={"param": names, "param_": names})
    # covariance over flat parameter names for the models (linked members share rows)
    flat = [like.original.names[i] for g in like.groups for i in g]
    which = [k for k, g in enumerate(like.groups) for _ in g]
    full = cov[np.ix_(which, which)] if n else np.zeros((0, 0))
    models = like.models.with_parameters(pars[: like.n_model]).with_covariance(
        xr.DataArray(full, dims=("param", "param_"), coords={"param": flat, "param_": flat}))
    units = [like.original[g[0]].unit for g in like.groups]
    data: dict[str, Any] = {
        "value": ("param", opt.x),
        "error": ("param", err),
        "covariance": cov_da,
    }
    if opt.errn is not None and opt.errp is not None:
        data["errn"] = ("param", opt.errn)
        data["errp"] = ("param", opt.errp)
    result = xr.Dataset(data, coords={"param": names, "param_": names, "unit": ("param", units)},
                        attrs={"stat_sum": float(opt.stat), "success": int(opt.success), "message": opt.message,
                               "nfev": int(opt.nfev), "backend": backend})
    return FitResult(models, result)


def fit(datasets: Any, models: Any, backend: str = "minuit", covariance: bool = True, minos: bool = False,
        optimize_opts: dict[str, Any] | None = None, energy_scale: Mapping[str, float] | None = None) -> FitResult:
    """Fit models to one or several 1D datasets (joint likelihood).

    Parameters
    ----------
    datasets : xarray.Dataset or list of them
        1D datasets (see :mod:`xgamma.fold`), possibly stacked along ``obs``.
    models : Models (or list of components, or one spectral model)
        Start values; ``frozen`` parameters stay fixed, ``link`` labels tie parameters.
    backend : {"minuit", "scipy"}
        iminuit MIGRAD + HESSE, or ``scipy.optimize.minimize`` + numerical Hessian.
    covariance : bool
        Compute the covariance (HESSE).
    minos : bool
        Also compute MINOS asymmetric errors (``errn``, ``errp``; minuit only).
    optimize_opts : dict, optional
        ``tol``, ``strategy``, ``ncall`` (minuit); ``method``, ``options`` (scipy).
    energy_scale : dict, optional
        ``{dataset name: sigma}``: a nuisance parameter ``<name>.energy_scale`` (``delta``, with a
        Gaussian prior of width ``sigma``) per dataset, for an energy-scale uncertainty: photons of
        energy ``E`` are labelled ``(1 + delta) E`` by that instrument. Fitted values appear in
        ``result`` (not in ``models``).

    Returns
    -------
    FitResult

    Examples
    --------
    >>> from xgamma.fold import example_dataset
    >>> from xgamma.models import spectral_model
    >>> r = fit(example_dataset(), spectral_model("pl", index=2.2, amplitude=1e-11), backend="scipy")
    >>> round(r.models[0].spectral.parameters["index"].value, 2)
    2.6
    """
    like = Likelihood(datasets, models, energy_scale)
    opt = _optimize(like, backend, covariance, minos, optimize_opts)
    return _build_result(like, opt, backend)


def stat_sum(datasets: Any, models: Any) -> float:
    """The total fit statistic at the models' current parameter values.

    Examples
    --------
    >>> from xgamma.fold import example_dataset
    >>> from xgamma.models import spectral_model
    >>> s_true = stat_sum(example_dataset(), spectral_model("pl", index=2.6, amplitude=4e-11))
    >>> s_off = stat_sum(example_dataset(), spectral_model("pl", index=2.0, amplitude=4e-11))
    >>> s_true < 2 < s_off
    True
    """
    like = Likelihood(datasets, models)
    return like.stat_values(like.v0)


def _free_key(like: Likelihood, parameter: str) -> str:
    if parameter in like.free_names:
        return parameter
    raise KeyError(f"{parameter!r} is not a free parameter; free: {list(like.free_names)}")


def _profile_value(like: Likelihood, names: Sequence[str], vals: Sequence[float], reoptimize: bool, backend: str) -> float:
    sub = like.fixed(names, vals)
    if reoptimize and len(sub.x0):
        return _optimize(sub, backend, covariance=False).stat
    return sub.stat_values(sub.values(sub.x0))


def stat_profile(datasets: Any, models: Any, parameter: str, values: Sequence[float],
                 reoptimize: bool = False, backend: str = "minuit") -> xr.Dataset:
    """Fit statistic as a function of one parameter (others fixed, or re-fitted).

    Returns a Dataset with ``stat_scan(scan)`` and coordinate ``scan`` = ``values``.

    Examples
    --------
    >>> from xgamma.fold import example_dataset
    >>> from xgamma.models import spectral_model
    >>> m = spectral_model("pl", index=2.6, amplitude=4e-11)
    >>> p = stat_profile(example_dataset(), m, "source.spectral.index", [2.5, 2.6, 2.7])
    >>> int(np.argmin(p.stat_scan.values))
    1
    """
    like = Likelihood(datasets, models)
    key = _free_key(like, parameter)
    stats = [_profile_value(like, [key], [v], reoptimize, backend) for v in values]
    return xr.Dataset({"stat_scan": ("scan", np.asarray(stats))}, coords={"scan": np.asarray(values, float)},
                      attrs={"parameter": parameter, "reoptimize": int(reoptimize)})


def stat_surface(datasets: Any, models: Any, x: str, x_values: Sequence[float], y: str, y_values: Sequence[float],
                 reoptimize: bool = False, backend: str = "minuit") -> xr.DataArray:
    """Fit statistic on a 2D grid of two parameters (dims ``x``, ``y``).

    Examples
    --------
    >>> from xgamma.fold import example_dataset
    >>> from xgamma.models import spectral_model
    >>> m = spectral_model("pl", index=2.6, amplitude=4e-11)
    >>> s = stat_surface(example_dataset(), m, "source.spectral.index", [2.5, 2.6],
    ...                  "source.spectral.amplitude", [3e-11, 4e-11])
    >>> s.shape
    (2, 2)
    """
    like = Likelihood(datasets, models)
    kx, ky = _free_key(like, x), _free_key(like, y)
    out = np.array([[_profile_value(like, [kx, ky], [vx, vy], reoptimize, backend) for vy in y_values] for vx in x_values])
    return xr.DataArray(out, dims=("x", "y"), coords={"x": np.asarray(x_values, float), "y": np.asarray(y_values, float)},
                        name="stat_surface", attrs={"x": x, "y": y})


def stat_contour(datasets: Any, models: Any, x: str, y: str, n_sigma: float = 1.0, npoints: int = 24,
                 backend: str = "minuit") -> xr.Dataset:
    """Contour where the profiled statistic is ``n_sigma^2`` above its minimum (Gammapy's
    convention: its projections are the 1D ``n_sigma`` profile intervals).

    The contour is traced along ``npoints`` rays from the best fit (in units of the parameter
    errors), re-fitting the other parameters at each point.

    Returns a Dataset with ``x(point)`` and ``y(point)``.

    Examples
    --------
    >>> from xgamma.fold import example_dataset
    >>> from xgamma.models import spectral_model
    >>> m = spectral_model("pl", index=2.6, amplitude=4e-11)
    >>> c = stat_contour(example_dataset(), m, "source.spectral.index", "source.spectral.amplitude", npoints=8)
    >>> c.sizes["point"]
    8
    """
    best = fit(datasets, models, backend=backend)
    like = Likelihood(datasets, best.models)
    kx, ky = _free_key(like, x), _free_key(like, y)
    ix, iy = list(like.free_names).index(kx), list(like.free_names).index(ky)
    x0, y0 = like.x0[ix], like.x0[iy]
    sx = float(best.result["error"].sel(param=kx)) or abs(x0) * 0.1 or 0.1
    sy = float(best.result["error"].sel(param=ky)) or abs(y0) * 0.1 or 0.1
    smin = best.stat_sum
    target = smin + n_sigma**2
    pts = []
    for th in np.linspace(0, 2 * np.pi, npoints, endpoint=False):
        dx, dy = math.cos(th) * sx, math.sin(th) * sy

        def g(r: float, dx: float = dx, dy: float = dy) -> float:
            return _profile_value(like, [kx, ky], [x0 + r * dx, y0 + r * dy], True, backend) - target

        hi = n_sigma
        for _ in range(20):
            if g(hi) > 0:
                break
            hi *= 2
        r = brentq(g, 0.0, hi, xtol=1e-4 * n_sigma)
        pts.append((x0 + r * dx, y0 + r * dy))
    arr = np.array(pts)
    return xr.Dataset({"x": ("point", arr[:, 0]), "y": ("point", arr[:, 1])},
                      attrs={"x": x, "y": y, "n_sigma": n_sigma})


def confidence(datasets: Any, models: Any, parameter: str, n_sigma: float = 1.0, backend: str = "minuit") -> dict[str, float]:
    """Profile-likelihood confidence interval of one parameter (others re-fitted).

    Returns ``{"value", "errn", "errp", "success"}`` with ``errn``/``errp`` positive distances
    from the best fit to where the profiled statistic rises by ``n_sigma^2``.

    Examples
    --------
    >>> from xgamma.fold import example_dataset
    >>> from xgamma.models import spectral_model
    >>> ci = confidence(example_dataset(), spectral_model("pl", index=2.6, amplitude=4e-11),
    ...                 "source.spectral.index")
    >>> 0 < ci["errn"] < 0.2 and 0 < ci["errp"] < 0.2
    True
    """
    best = fit(datasets, models, backend=backend)
    like = Likelihood(datasets, best.models)
    key = _free_key(like, parameter)
    k = list(like.free_names).index(key)
    v0 = float(like.x0[k])
    err = float(best.result["error"].sel(param=key))
    if not math.isfinite(err) or err <= 0:
        err = abs(v0) * 0.1 or 0.1
    target = best.stat_sum + n_sigma**2
    lo_b, hi_b = like.bounds()[k]

    def g(v: float) -> float:
        return _profile_value(like, [key], [v], True, backend) - target

    out = {"value": v0, "errn": math.nan, "errp": math.nan, "success": True}
    for side, sign in (("errp", 1.0), ("errn", -1.0)):
        step = err * n_sigma
        edge = hi_b if sign > 0 else lo_b
        found = False
        for _ in range(30):
            far = v0 + sign * step
            if edge is not None and sign * (far - edge) > 0:
                far = edge
            if g(far) > 0:
                found = True
                break
            if edge is not None and far == edge:
                break
            step *= 1.6
        if found:
            a, b = sorted((v0, far))
            out[side] = abs(brentq(g, a, b, xtol=1e-6 * max(err, 1e-300)) - v0)
        else:
            out["success"] = False
    return out


def ts(datasets: Any, models: Any, source: str, backend: str = "minuit") -> float:
    """Test statistic of a source: ``stat(fit without it) - stat(fit with it)``.

    Examples
    --------
    >>> from xgamma.fold import example_dataset
    >>> from xgamma.models import Models, SkyModel, spectral_model
    >>> m = Models([SkyModel("crab", spectral_model("pl", index=2.6, amplitude=4e-11))])
    >>> ts(example_dataset(), m, "crab") > 100
    True
    """
    models = as_models(models)
    with_src = fit(datasets, models, backend=backend, covariance=False).stat_sum
    rest = models.without(source)
    without = fit(datasets, rest, backend=backend, covariance=False).stat_sum
    return float(without - with_src)


def fit_summary(res: FitResult) -> dict[str, Any]:
    """A fit result as plain data: the content of ``fit_result.yaml`` written by ``xgamma run``
    (success, message, statistic, evaluations, backend, parameter values and errors, covariance).

    Examples
    --------
    >>> from xgamma.fitting.fold import example_dataset, fake
    >>> from xgamma.models import spectral_model
    >>> r = fit(fake(example_dataset(), spectral_model("pl"), seed=1), spectral_model("pl"))
    >>> s = fit_summary(r)
    >>> s["success"], sorted(s["parameters"])[0], len(s["covariance"]["param"])
    (True, 'source.spectral.amplitude', 2)
    """
    r = res.result
    params = {}
    for name in r["param"].values:
        params[str(name)] = {"value": float(r["value"].sel(param=name)),
                             "error": float(r["error"].sel(param=name))}
    cov = r["covariance"].values.tolist() if "covariance" in r else None
    return {
        "success": bool(res.success),
        "message": str(r.attrs.get("message", "")),
        "stat_sum": float(r.attrs.get("stat_sum", np.nan)),
        "nfev": int(r.attrs.get("nfev", -1)),
        "backend": str(r.attrs.get("backend", "")),
        "parameters": params,
        "covariance": {"param": [str(p) for p in r["param"].values], "matrix": cov},
    }
