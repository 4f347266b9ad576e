"""Flux points: the norm of a source fitted per energy bin, with errors, upper limits and a scan.

For each energy bin the source's spectral model (the *reference*, fitted beforehand) is scaled by
a ``norm``; the other model components stay at their values (``reoptimize=False``, the fast
path) or are re-fitted with it (``reoptimize=True``, through :func:`xgamma.fitting.fitter.fit`).

The fast path reduces every dataset once to numpy *cells* (one per reco-energy bin, observation
and, for 3D datasets on WCS or HEALPix geometries, pixel) inside ``mask_safe & mask_fit``: counts ``n``, the source's
predicted counts ``s`` at norm 1, and the fixed rest (other sources + background for Cash; other
sources plus ``n_off`` and ``alpha`` for WStat). In a bin, the statistic is a convex function of
the norm alone, ``stat(x) = sum_cells cash(n, x s + k)`` (or the profiled WStat), whose first
derivative is analytic (``2 sum s (1 - n / mu_on)``; for WStat by the envelope theorem). So:

- ``norm``: root of the derivative (Brent), constrained to the physical domain (``mu_on > 0``);
- ``norm_err``: Hesse, ``sqrt(2 / stat'')``;
- ``norm_errn``/``norm_errp``: where ``stat = stat_min + n_sigma^2`` (profile, Brent);
- ``norm_ul``: where ``stat = stat(max(norm, 0)) + n_sigma_ul^2`` above ``max(norm, 0)`` (the
  profile limit bounded at zero flux; for ``n = 0`` it is ``n_sigma_ul^2 / 2`` signal counts, not
  the collapse to ~0 of a MINOS limit from a negative best fit);
- ``ts = stat(0) - stat_min``; ``stat_scan`` on ``norm_scan`` in one vectorised evaluation.

Requested energy edges snap to the nearest reco-energy edges of the first dataset; a dataset's
reco bin belongs to a flux-point bin when its log centre lies inside. Bins without any cell in the
fit/safe range come back with ``valid = False`` and ``success = False`` (NaN values).

Energy bins are independent ``dask.delayed`` tasks, computed with the active scheduler.

Examples
--------
>>> from xgamma.fold import example_dataset
>>> from xgamma.models import Models, SkyModel, spectral_model
>>> m = Models([SkyModel("crab", spectral_model("pl", index=2.6, amplitude=4e-11))])
>>> fp = flux_points(example_dataset(), m, "crab", energy_edges=[0.3, 1, 3, 10])
>>> fp.norm.round(2).values.tolist()
[1.0, 1.0, 1.0]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import dask
import numpy as np
import xarray as xr
from scipy.optimize import brentq

from xgamma.axes import axis_from_edges
from xgamma.compute import compute
from xgamma.estimators.core import estimator_result
from xgamma.fitting.fitter import dataset_list, stat_profile
from xgamma.fitting.fitter import fit as run_fit
from xgamma.fitting.fold import as_array, fit_mask, npred_background, npred_signal
from xgamma.fitting.fold_hpx import HpxMapEvaluator, is_hpx_dataset
from xgamma.fitting.fold_map import MapEvaluator, is_map_dataset
from xgamma.models.components import Models, SkyModel, as_models
from xgamma.models.params import Parameter
from xgamma.models.spectral import ScaleSpectralModel
from xgamma.stats import xlogy

__all__ = ["flux_points", "flux_point_rows", "snap_edges", "BinLikelihood", "DEFAULT_NORM_SCAN"]

#: Default norm values of ``stat_scan`` (Gammapy's default grid: 0.2-5, 11 log-spaced values).
DEFAULT_NORM_SCAN = np.geomspace(0.2, 5.0, 11)

_TINY = 1e-25


# --------------------------------------------------------------------------------------------
# cells


@dataclass
class _Cells:
    """Numpy cells of one or more datasets (concatenated), each with its reco-energy centre."""

    energy: np.ndarray  # log-centre of the cell's reco bin [TeV]
    n: np.ndarray
    s: np.ndarray
    k: np.ndarray  # cash: other sources + background; wstat: other sources
    n_off: np.ndarray
    alpha: np.ndarray
    wstat: np.ndarray  # bool

    def select(self, m: np.ndarray) -> _Cells:
        return _Cells(*(getattr(self, f)[m] for f in ("energy", "n", "s", "k", "n_off", "alpha", "wstat")))


def _concat(cells: Sequence[_Cells]) -> _Cells:
    return _Cells(*(np.concatenate([getattr(c, f) for c in cells]) for f in
                    ("energy", "n", "s", "k", "n_off", "alpha", "wstat")))


def _source_models(models: Models, source: str) -> tuple[SkyModel, Models]:
    src = models[source]
    if not isinstance(src, SkyModel):
        raise TypeError(f"{source!r} is not a SkyModel")
    return src, models.without(source)


def _cells_1d(ds: xr.Dataset, models: Models, source: str) -> _Cells:
    src, rest = _source_models(models, source)
    name = str(ds.attrs.get("name", ""))
    sizes = {"obs": 1, **{str(k): int(v) for k, v in ds.sizes.items()}}
    mask = as_array(fit_mask(ds), ["energy"], sizes).astype(bool)
    s = as_array(npred_signal(ds, src.spectral), ["energy"], sizes) if src.applies_to(name) else np.zeros(mask.shape)
    other = np.zeros(mask.shape)
    for m in rest:
        if isinstance(m, SkyModel) and m.applies_to(name):
            other = other + as_array(npred_signal(ds, m.spectral), ["energy"], sizes)
    e = np.broadcast_to(np.asarray(ds["energy"].values, float), mask.shape)
    n = as_array(ds["counts"], ["energy"], sizes).astype(float)
    if "counts_off" in ds:
        n_off = as_array(ds["counts_off"], ["energy"], sizes).astype(float)
        alpha = (as_array(ds["acceptance"], ["energy"], sizes) / as_array(ds["acceptance_off"], ["energy"], sizes))
        k, wst = other, np.ones(mask.shape, bool)
    else:
        bkg = as_array(npred_background(ds, rest), ["energy"], sizes) if "background" in ds else np.zeros(mask.shape)
        k, n_off, alpha, wst = other + bkg, np.zeros(mask.shape), np.zeros(mask.shape), np.zeros(mask.shape, bool)
    return _Cells(*(np.asarray(a, float)[mask] if a is not wst else a[mask]
                    for a in (e, n, s, k, n_off, alpha, wst)))


def _cells_3d(ds: xr.Dataset, models: Models, source: str) -> _Cells:

    src, rest = _source_models(models, source)
    hpx = is_hpx_dataset(ds)
    evaluator = HpxMapEvaluator if hpx else MapEvaluator
    ev_s = evaluator(ds, Models([src]))
    s = ev_s.npred_sources(Models([src]).parameters.values)
    ev_r = evaluator(ds, rest)
    k = ev_r.npred(rest.parameters.values)
    split = tuple(d for d in ("obs", "event_type") if d in ds.dims)[:1]  # as the evaluators split
    dims = (*split, "energy", *(("pix",) if hpx else ("y", "x")))
    mask = np.ones(s.shape, bool)
    for var in ("mask_safe", "mask_fit"):
        if var in ds:
            mask &= np.broadcast_to(ds[var].broadcast_like(ds["counts"]).transpose(*dims).values.astype(bool), s.shape)
    n = ds["counts"].transpose(*dims).values.astype(float)
    e_axis = len(split)
    shape = [1] * s.ndim
    shape[e_axis] = -1
    e = np.broadcast_to(np.asarray(ds["energy"].values, float).reshape(shape), s.shape)
    z = np.zeros(int(mask.sum()))
    return _Cells(e[mask], n[mask], s[mask], k[mask], z, z.copy(), np.zeros(z.size, bool))


def _dataset_cells(datasets: Sequence[xr.Dataset], models: Models, source: str) -> list[_Cells]:

    return [_cells_3d(d, models, source) if is_map_dataset(d) or is_hpx_dataset(d) else _cells_1d(d, models, source)
            for d in datasets]


def snap_edges(requested: Any, edges: Any) -> np.ndarray:
    """Snap requested energy edges to the nearest (in log) of the dataset's bin edges (unique).

    Examples
    --------
    >>> snap_edges([0.9, 3.5, 11.0], [0.1, 1.0, 3.0, 10.0, 30.0]).tolist()
    [1.0, 3.0, 10.0]
    """
    req = np.asarray(requested, float)
    e = np.asarray(edges, float)
    idx = np.abs(np.log(req)[:, None] - np.log(e)[None, :]).argmin(axis=1)
    return np.unique(e[idx])


# --------------------------------------------------------------------------------------------
# the one-norm likelihood of a bin


class BinLikelihood:
    """The statistic of one flux-point bin as a function of the norm (numpy only).

    ``stat(x)`` accepts a scalar or an array of norms (vectorised); Cash cells give
    ``2 sum(mu - n log mu)``, WStat cells the profiled ON/OFF statistic (as :func:`xgamma.stats.wstat`).

    Examples
    --------
    >>> b = BinLikelihood(n=np.array([0.0]), s=np.array([1.0]), k=np.array([0.5]))
    >>> r = b.solve(n_sigma_ul=2.0)
    >>> round(r["norm_ul"], 6)     # n = 0: 2 mu = 4 above the minimum at norm = 0 -> mu = 2
    2.0
    """

    def __init__(self, n: np.ndarray, s: np.ndarray, k: np.ndarray, n_off: np.ndarray | None = None,
                 alpha: np.ndarray | None = None, wstat: np.ndarray | None = None) -> None:
        w = np.zeros(n.size, bool) if wstat is None else np.asarray(wstat, bool)
        c = ~w
        self.cn, self.cs, self.ck = n[c], s[c], k[c]
        self.wn, self.ws, self.wk = n[w], s[w], k[w]
        self.wo = np.zeros(0) if n_off is None else np.asarray(n_off, float)[w]
        a = np.zeros(0) if alpha is None else np.asarray(alpha, float)[w]
        self.wa = a
        with np.errstate(divide="ignore", invalid="ignore"):
            self._k3 = 4 * a * (a + 1) * self.wo
            self._k4 = 1 / (2 * a * (a + 1))

        self._wconst = float((2 * (self.wn - xlogy(self.wn, self.wn)) + 2 * (self.wo - xlogy(self.wo, self.wo))).sum())
        self._cpos = self.cn > 0
        self._wpos = self.wn > 0
        self.counts = float(n.sum())
        # domain: Cash cells with counts need mu > 0, all need mu >= 0
        pos = self.cs > 0
        lo = -np.inf
        if pos.any():
            lo = float(np.max(-self.ck[pos] / self.cs[pos]))
        self.x_min = lo

    # --- pieces
    def _wbkg(self, mu: np.ndarray) -> np.ndarray:
        a = self.wa
        c = a * (self.wn + self.wo) - (1 + a) * mu
        b = (c + np.sqrt(np.maximum(c * c + self._k3 * mu, 0.0))) * self._k4
        b = np.where(self.wn == 0, self.wo / (1 + a), b)
        return np.maximum(b, 0.0)

    def _mu(self, x: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        x = np.asarray(x, float)[..., None]
        mc = x * self.cs + self.ck
        mw = x * self.ws + self.wk
        b = self._wbkg(mw) if self.wn.size else np.zeros(mw.shape)
        return mc, mw, b, mw + self.wa * b

    def valid(self, x: float) -> bool:
        """Whether ``x`` is inside the physical domain (all ``mu_on >= 0``, ``> 0`` with counts)."""
        mc, _, _, mon = self._mu(x)
        ok = bool(np.all(mc >= 0) and np.all(mc[..., self._cpos] > 0))
        if self.wn.size:
            ok = ok and bool(np.all(mon >= 0) and np.all(mon[..., self._wpos] > 0))
        return ok

    def stat(self, x: Any) -> Any:
        """The statistic at norm(s) ``x`` (``inf`` outside the domain)."""
        mc, mw, b, mon = self._mu(x)
        with np.errstate(divide="ignore", invalid="ignore"):
            tc = 2 * (mc.sum(-1) - (self.cn * np.log(np.where(self._cpos, mc, 1.0))).sum(-1))
            bad = (mc < 0).any(-1) | ((mc <= 0) & self._cpos).any(-1)
            if self.wn.size:
                lon = np.log(np.where(self._wpos, np.maximum(mon, _TINY), 1.0))
                lb = np.log(np.where(self.wo > 0, np.maximum(b, _TINY), 1.0))
                tw = 2 * ((mw + (1 + self.wa) * b).sum(-1) - (self.wn * lon).sum(-1) - (self.wo * lb).sum(-1)) - self._wconst
                bad = bad | ((mon <= 0) & self._wpos).any(-1) | (mon < 0).any(-1)
            else:
                tw = 0.0
        out = np.where(bad, np.inf, tc + tw)
        return float(out) if np.ndim(out) == 0 else out

    def grad(self, x: float) -> float:
        """d stat / d norm (analytic; WStat by the envelope theorem)."""
        mc, _, _, mon = self._mu(x)
        with np.errstate(divide="ignore", invalid="ignore"):
            g = 2 * float(np.sum(self.cs * (1 - np.where(self._cpos, self.cn / mc, 0.0))))
            if self.wn.size:
                g += 2 * float(np.sum(self.ws * (1 - np.where(self._wpos, self.wn / mon, 0.0))))
        return g

    def curvature(self, x: float) -> float:
        """d2 stat / d norm2 (analytic for Cash, numerical for WStat)."""
        mc, _, _, _ = self._mu(x)
        h = 2 * float(np.sum(np.where(self._cpos, self.cn * self.cs**2 / np.maximum(mc, _TINY) ** 2, 0.0)))
        if self.wn.size:
            sub = BinLikelihood(self.wn, self.ws, self.wk, self.wo, self.wa, np.ones(self.wn.size, bool))
            d = 1e-5 * max(abs(x), 1e-3)
            if not (sub.valid(x - d) and sub.valid(x + d)):
                d = 1e-8 * max(abs(x), 1e-3)
            h += (sub.grad(x + d) - sub.grad(x - d)) / (2 * d)
        return h

    # --- solving
    def _boundary(self, inside: float, outside: float) -> float:
        """The domain's lower end between a valid and an invalid norm (bisection)."""
        for _ in range(60):
            mid = 0.5 * (inside + outside)
            if self.valid(mid):
                inside = mid
            else:
                outside = mid
            if abs(inside - outside) <= 1e-12 * max(1.0, abs(inside)):
                break
        return inside

    def minimize(self, x0: float = 1.0) -> tuple[float, bool]:
        """Best norm (``success`` False when it cannot be bracketed)."""
        if not self.valid(x0):
            x0 = max(1.0, abs(self.x_min) + 1.0) if math.isfinite(self.x_min) else 1.0
            if not self.valid(x0):
                return math.nan, False
        g0 = self.grad(x0)
        h0 = self.curvature(x0)
        step = 1.0 / math.sqrt(h0 / 2) if h0 > 0 and math.isfinite(h0) else max(abs(x0), 1.0)
        if g0 == 0:
            return x0, True
        sign = -1.0 if g0 > 0 else 1.0
        a = x0
        for _ in range(200):
            b = a + sign * step
            if sign < 0 and not self.valid(b):
                b = self._boundary(a, b)
                if self.grad(b) >= 0 or b == a:
                    return b, True  # minimum at the domain boundary
                break
            if np.sign(self.grad(b)) != np.sign(g0):
                break
            a, step = b, step * 2
        else:
            return math.nan, False
        lo, hi = sorted((a, b))
        x = brentq(self.grad, lo, hi, xtol=1e-12 * max(1.0, abs(hi)), rtol=1e-12, maxiter=200)
        return float(x), True

    def crossing(self, x_from: float, target: float, direction: float, scale: float) -> float:
        """Norm beyond ``x_from`` in ``direction`` where the statistic reaches ``target``
        (NaN if the domain ends first)."""
        a = x_from
        step = max(scale, 1e-12)
        for _ in range(200):
            b = a + direction * step
            if direction < 0 and not self.valid(b):
                b = self._boundary(a, b)
                if self.stat(b) < target:
                    return math.nan
            if self.stat(b) >= target:
                lo, hi = sorted((a, b))
                return float(brentq(lambda v: self.stat(v) - target, lo, hi, xtol=1e-10 * max(1.0, abs(hi)), rtol=1e-10))
            a, step = b, step * 2
        return math.nan

    def solve(self, n_sigma: float = 1.0, n_sigma_ul: float = 2.0, norm_scan: Any = None,
              optional: Sequence[str] = ("errn-errp", "ul", "scan"), x0: float = 1.0) -> dict[str, Any]:
        """All flux-point quantities of the bin (a dict of floats, ``stat_scan`` an array).

        Examples
        --------
        >>> b = BinLikelihood(n=np.array([10.0]), s=np.array([10.0]), k=np.array([0.0]))
        >>> r = b.solve()
        >>> round(r["norm"], 9), round(r["norm_err"], 6)
        (1.0, 0.316228)
        """
        out: dict[str, Any] = {"counts": self.counts}
        x, ok = self.minimize(x0)
        smin = float(self.stat(x)) if ok else math.nan
        out.update(norm=x, success=ok, stat=smin)
        h = self.curvature(x) if ok else math.nan
        err = math.sqrt(2.0 / h) if ok and h > 0 and math.isfinite(h) else math.nan
        out["norm_err"] = err
        s0 = float(self.stat(0.0)) if self.valid(0.0) else math.inf
        out["stat_null"] = s0
        out["ts"] = s0 - smin if ok else math.nan
        scale = err if math.isfinite(err) and err > 0 else max(abs(x), 1.0) if ok else 1.0
        if ok and "errn-errp" in optional:
            up = self.crossing(x, smin + n_sigma**2, 1.0, scale * n_sigma)
            dn = self.crossing(x, smin + n_sigma**2, -1.0, scale * n_sigma)
            out["norm_errp"] = up - x
            out["norm_errn"] = x - dn
        if ok and "ul" in optional:
            base = max(x, 0.0) if self.valid(max(x, 0.0)) else x
            out["norm_ul"] = self.crossing(base, float(self.stat(base)) + n_sigma_ul**2, 1.0, scale * n_sigma_ul)
        mu_s = x * float(self.cs.sum() + self.ws.sum()) if ok else math.nan
        out["npred_excess"] = mu_s
        if ok:
            mc, _, _, mon = self._mu(x)
            out["npred"] = float(mc.sum() + mon.sum())
        else:
            out["npred"] = math.nan
        if "scan" in optional and norm_scan is not None:
            out["stat_scan"] = np.asarray(self.stat(np.asarray(norm_scan, float)), float)
        return out


def bin_likelihood(cells: _Cells) -> BinLikelihood:
    """:class:`BinLikelihood` of a cells selection."""
    return BinLikelihood(cells.n, cells.s, cells.k, cells.n_off, cells.alpha, cells.wstat)


def _solve_bin(cells: _Cells, kw: dict[str, Any]) -> dict[str, Any]:
    if cells.n.size == 0 or not np.any(cells.s > 0):
        return {"success": False, "valid": False}
    out = bin_likelihood(cells).solve(**kw)
    out["valid"] = True
    return out


# --------------------------------------------------------------------------------------------
# re-optimised bins (through xgamma.fit)


def _solve_bin_reopt(datasets: list[xr.Dataset], models: Models, source: str, lo: float, hi: float,
                     kw: dict[str, Any]) -> dict[str, Any]:

    dsb = []
    for d in datasets:
        c = d["energy"]
        m = ((c >= lo) & (c < hi)).reset_coords(drop=True).assign_coords(d["energy"].coords)
        if "mask_fit" in d:
            m = m & d["mask_fit"].astype(bool)
        dsb.append(d.assign(mask_fit=m))
    if not any(bool((fit_mask(d)).any()) for d in dsb):
        return {"success": False, "valid": False}
    src = models[source]
    scaled = SkyModel(src.name, ScaleSpectralModel(src.spectral.with_frozen(), Parameter("norm", 1.0)),
                      src.spatial, src.temporal, src.datasets_names)
    ms = models.replace(source, scaled).with_covariance(None)
    res = run_fit(dsb, ms)
    key = f"{source}.spectral.norm"
    x = float(res.models.parameters[key].value)
    err = float(res.models.parameters[key].error)
    smin = res.stat_sum
    best = res.models

    def prof(v: float) -> float:
        return float(stat_profile(dsb, best, key, [v], reoptimize=True).stat_scan.values[0])

    out: dict[str, Any] = {"norm": x, "norm_err": err, "stat": smin, "success": res.success, "valid": True}
    s0 = prof(0.0)
    out["stat_null"], out["ts"] = s0, s0 - smin
    scale = err if math.isfinite(err) and err > 0 else 1.0

    def cross(x_from: float, target: float, direction: float) -> float:
        a, step = x_from, scale
        for _ in range(40):
            b = a + direction * step
            if prof(b) >= target:
                lo_, hi_ = sorted((a, b))
                return float(brentq(lambda v: prof(v) - target, lo_, hi_, xtol=1e-6 * scale))
            a, step = b, step * 2
        return math.nan

    opt = kw["optional"]
    if "errn-errp" in opt:
        out["norm_errp"] = cross(x, smin + kw["n_sigma"] ** 2, 1.0) - x
        out["norm_errn"] = x - cross(x, smin + kw["n_sigma"] ** 2, -1.0)
    if "ul" in opt:
        base = max(x, 0.0)
        out["norm_ul"] = cross(base, prof(base) + kw["n_sigma_ul"] ** 2, 1.0)
    if "scan" in opt and kw["norm_scan"] is not None:
        out["stat_scan"] = stat_profile(dsb, best, key, list(kw["norm_scan"]), reoptimize=True).stat_scan.values
    out["counts"] = float(sum(float((d["counts"].where(fit_mask(d))).sum()) for d in dsb))
    return out


# --------------------------------------------------------------------------------------------
# public


def estimator_options(n_sigma: float, n_sigma_ul: float, norm_scan: Any, selection_optional: Sequence[str]) -> dict[str, Any]:
    return {"n_sigma": n_sigma, "n_sigma_ul": n_sigma_ul,
            "norm_scan": norm_scan if "scan" in selection_optional else None, "optional": tuple(selection_optional)}


def _in_bin(cells: _Cells, lo: float, hi: float) -> _Cells:
    return cells.select((cells.energy >= lo) & (cells.energy < hi))


def flux_point_rows(datasets: Sequence[xr.Dataset], models: Models, source: str, edges: np.ndarray,
                    kw: dict[str, Any], reoptimize: bool = False) -> list[dict[str, Any]]:
    """Serial flux-point solutions (one dict per bin of the already snapped ``edges``); the
    building block of light curves (one task per time bin).

    Examples
    --------
    >>> from xgamma.fold import example_dataset
    >>> from xgamma.models import Models, SkyModel, spectral_model
    >>> m = Models([SkyModel("crab", spectral_model("pl", index=2.6, amplitude=4e-11))])
    >>> rows = flux_point_rows([example_dataset()], m, "crab", np.array([1.0, 10.0]), estimator_options(1, 2, None, ()))
    >>> round(rows[0]["norm"], 2), rows[0]["valid"]
    (1.0, True)
    """
    if not datasets:
        return [{"success": False, "valid": False} for _ in edges[:-1]]
    if reoptimize:
        return [_solve_bin_reopt(list(datasets), models, source, lo, hi, kw)
                for lo, hi in zip(edges[:-1], edges[1:], strict=True)]
    cells = _concat(_dataset_cells(datasets, models, source))
    return [_solve_bin(_in_bin(cells, lo, hi), kw) for lo, hi in zip(edges[:-1], edges[1:], strict=True)]


def flux_points(datasets: Any, models: Any, source: str, energy_edges: Any, n_sigma: float = 1.0,
                n_sigma_ul: float = 2.0, reoptimize: bool = False, norm_scan: Any = DEFAULT_NORM_SCAN,
                selection_optional: Sequence[str] = ("errn-errp", "ul", "scan"),
                sqrt_ts_threshold_ul: float = 2.0, progress: bool = False) -> xr.Dataset:
    """Flux points of ``source`` in energy bins (see the module docstring).

    Parameters
    ----------
    datasets : xarray.Dataset or list of them
        1D (spectrum) or 3D (map, WCS or HEALPix) datasets, possibly stacked along ``obs`` (or
        ``event_type`` on HEALPix); joint likelihood.
    models : Models
        The fitted models; ``models[source]``'s spectral model is the reference (norm = 1).
    source : str
        Name of the sky model.
    energy_edges : array-like [TeV] or Quantity
        Requested bin edges; they snap to the first dataset's reco-energy edges.
    n_sigma, n_sigma_ul : float
        Width of the profile errors and confidence of the upper limits (in sigma).
    reoptimize : bool
        Re-fit the other free parameters in every bin (slow path through :func:`xgamma.fitting.fitter.fit`; 1D only).
    norm_scan : array-like
        Norm values of ``stat_scan``.
    selection_optional : sequence of {"errn-errp", "ul", "scan"}
        Optional quantities to compute.
    progress : bool
        Show a tqdm progress bar.

    Returns
    -------
    xarray.Dataset
        The estimator result of :mod:`xgamma.estimators.core` (dim ``energy``).

    Examples
    --------
    >>> from xgamma.fold import example_dataset
    >>> from xgamma.models import Models, SkyModel, spectral_model
    >>> m = Models([SkyModel("crab", spectral_model("pl", index=2.6, amplitude=4e-11))])
    >>> fp = flux_points(example_dataset(), m, "crab", energy_edges=[1, 10, 100])
    >>> bool((fp.ts > 25).all()), fp.sizes["norm_scan"]
    (True, 11)
    """
    import astropy.units as u

    dlist = dataset_list(datasets)
    models = as_models(models)
    if isinstance(energy_edges, u.Quantity):
        energy_edges = energy_edges.to_value("TeV")
    ref_ds = dlist[0]
    reco_edges = np.append(np.asarray(ref_ds["energy_min"].values, float), float(ref_ds["energy_max"].values[-1]))
    edges = snap_edges(energy_edges, reco_edges)
    if edges.size < 2:
        raise ValueError(f"energy_edges {energy_edges} snap to fewer than two reco-energy edges {edges}")
    kw = estimator_options(n_sigma, n_sigma_ul, norm_scan, selection_optional)
    tasks = []
    if reoptimize:
        if any("y" in d.dims or "pix" in d.dims for d in dlist):
            raise NotImplementedError("reoptimize=True supports 1D datasets only")
        for lo, hi in zip(edges[:-1], edges[1:], strict=True):
            tasks.append(dask.delayed(_solve_bin_reopt, pure=True)(dlist, models, source, lo, hi, kw))
    else:
        cells = _concat(_dataset_cells(dlist, models, source))
        for lo, hi in zip(edges[:-1], edges[1:], strict=True):
            tasks.append(dask.delayed(_solve_bin, pure=True)(_in_bin(cells, lo, hi), kw))
    rows = compute(tasks, progress, "flux points")
    energy = axis_from_edges(edges, "energy", unit="TeV")
    return assemble_rows(rows, energy, models[source], kw, ("energy",), {}, n_sigma, n_sigma_ul, sqrt_ts_threshold_ul)


_VARS = ("norm", "norm_err", "norm_errp", "norm_errn", "norm_ul", "ts", "npred", "npred_excess", "counts",
         "stat", "stat_null")


def assemble_rows(rows: list[dict[str, Any]], energy: xr.DataArray, reference: Any, kw: dict[str, Any],
              dims: tuple[str, ...], coords: dict[str, Any], n_sigma: float, n_sigma_ul: float,
              sqrt_ts_threshold_ul: float, shape: tuple[int, ...] | None = None,
              attrs: dict[str, Any] | None = None) -> xr.Dataset:
    """Rows (one dict per bin, in C order of ``shape``) -> estimator result."""
    shape = shape or (len(rows),)
    present = [v for v in _VARS if any(v in r for r in rows)]
    if any(r.get("valid", False) for r in rows):
        present = [v for v in _VARS if v in ("norm", "norm_err", "ts", "npred", "npred_excess", "counts", "stat",
                                               "stat_null") or any(v in r for r in rows)]
    data: dict[str, Any] = {v: np.array([r.get(v, math.nan) for r in rows], float).reshape(shape) for v in present}
    data["success"] = np.array([bool(r.get("success", False)) for r in rows]).reshape(shape)
    data["valid"] = np.array([bool(r.get("valid", False)) for r in rows]).reshape(shape)
    scan = kw.get("norm_scan")
    if scan is not None:
        ns = len(scan)
        data["stat_scan"] = np.array([r.get("stat_scan", np.full(ns, math.nan)) for r in rows], float).reshape(shape + (ns,))
    return estimator_result(data, energy, reference, dims=dims, coords=coords, norm_scan=scan, n_sigma=n_sigma,
                            n_sigma_ul=n_sigma_ul, sqrt_ts_threshold_ul=sqrt_ts_threshold_ul, attrs=attrs)
