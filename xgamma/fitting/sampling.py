"""Posterior sampling beside MINUIT: MCMC with emcee, nested sampling with UltraNest.

:func:`sample` draws from ``p(theta | data) ~ L(data | theta) prior(theta)`` over the free
parameters of ``models`` (linked parameters count once), with the likelihood of
:class:`xgamma.fitting.fitter.Likelihood` (WStat / Cash, any datasets :func:`xgamma.fit` takes) and the
parameters' priors (:mod:`xgamma.models.priors`, multivariate groups jointly).

* ``backend="emcee"`` (affine-invariant ensemble MCMC): parameters without a prior get a flat
  prior within their bounds (improper where they have none). The walkers start in a small ball
  around the best fit of :func:`xgamma.fit` (``initial=`` overrides it), and the log-posterior is
  evaluated for all walkers at once (``emcee``'s ``vectorize=True``): for 1D datasets with
  analytically integrable spectral models one numpy pass per step for all walkers (checked
  against the one-walker path at the start; other cases loop over the walkers).
* ``backend="ultranest"`` (nested sampling, gives the evidence): every free parameter needs a
  proper prior, or finite ``min``/``max`` bounds (then uniform): the prior transform of the
  unit cube is each prior's inverse CDF (:func:`xgamma.models.priors.prior_distribution`).
  A multivariate Gaussian prior group is transformed jointly (Cholesky factor).

The result is an ArviZ-style posterior: an ``xarray.Dataset`` with **one variable per free
parameter** (named ``<component>.<kind>.<parameter>``, its unit in ``attrs``), dims ``(chain,
draw)`` (emcee: one chain per walker; UltraNest: one chain of equally weighted draws), and the
log-posterior as the coordinate ``lp``. One variable per parameter is what ``arviz`` (``az.summary``,
``az.plot_trace``: ``az.from_dict(posterior=ds)`` or ``az.convert_to_inference_data(ds)``)
labels by name, and lets each parameter carry its own unit; ``ds.to_array("param")`` gives the
``(param, chain, draw)`` array when one is wanted. Sampler diagnostics are in ``attrs``
(acceptance fraction and autocorrelation time for emcee, ``logz`` and ``logz_err`` for
UltraNest).

``emcee`` and ``ultranest`` are optional (``pip install xgamma[sampling]``) and imported only
when used; :func:`corner_plot` uses ``corner`` when installed and plain matplotlib otherwise.

Examples
--------
>>> import xgamma as xg
>>> from xgamma.fold import example_dataset, fake
>>> from xgamma.models import Models, SkyModel, spectral_model
>>> ds = fake(example_dataset(), spectral_model("pl", index=2.6, amplitude=4e-11), seed=1)
>>> models = Models([SkyModel("s", spectral_model("pl", index=2.6, amplitude=4e-11))])
>>> try:
...     post = sample(ds, models, n_walkers=8, n_steps=60, n_burn=20, seed=2)
...     dims = dict(post.sizes)
... except ImportError:        # emcee not installed
...     dims = {"chain": 8, "draw": 40}
>>> dims
{'chain': 8, 'draw': 40}
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import xarray as xr

from xgamma.errors import XgammaError
from xgamma.fitting.fitter import Likelihood
from xgamma.fitting.fitter import fit as run_fit
from xgamma.models.priors import MultiVariateGaussianPrior, prior_distribution, prior_terms
from xgamma.stats import cash, wstat

__all__ = ["sample", "corner_plot", "log_posterior", "LogPosterior", "SamplingError", "BACKENDS"]

#: Sampling backends (optional packages).
BACKENDS = ("emcee", "ultranest")


class SamplingError(XgammaError):
    """A sampling setup a user can fix (missing priors, bad initial positions)."""


# --------------------------------------------------------------------------------------------
# the log-likelihood over many parameter vectors


def _full_values(like: Likelihood, x: np.ndarray) -> np.ndarray:
    """Full parameter vectors ``(n, n_par)`` for free vectors ``x`` ``(n, n_free)``."""
    v = np.tile(like.v0, (x.shape[0], 1))
    if len(like.member_idx):
        v[:, like.member_idx] = x[:, like.member_grp]
    return v


def _stat_batch(like: Likelihood, v: np.ndarray) -> np.ndarray:
    """``-2 log L`` (without priors) for full parameter vectors ``v`` ``(n, n_par)``, all at once.

    Raises ``TypeError`` where a dataset or model cannot be evaluated this way."""
    out = np.zeros(v.shape[0])
    for t in like.terms:
        if not hasattr(t, "kind") or getattr(t, "scale_index", None) is not None or getattr(t, "timed", None):
            raise TypeError("only 1D datasets without energy-scale parameters or temporal models are vectorised")
        if t.response.shape[1] == 0:
            continue
        flux: Any = 0.0
        for integrate, sl in t.signal:
            cols = [v[:, j][:, None] for j in range(sl.start, sl.stop)]
            f = np.asarray(integrate(cols), dtype=float)
            if f.shape != (v.shape[0], t.response.shape[0]):
                raise TypeError("the spectral integral does not broadcast over parameter vectors")
            flux = flux + f
        mu = np.asarray(flux) @ t.response if t.signal else np.zeros((v.shape[0], t.response.shape[1]))
        if t.kind == "wstat":
            out += np.sum(wstat(t.n_on, t.n_off, t.alpha, mu), axis=-1)
        else:
            bkg = np.broadcast_to(t.background, mu.shape)
            for model, sl in t.bkg_models:
                cols = [v[:, j][:, None] for j in range(sl.start, sl.stop)]
                bkg = bkg * np.asarray(model.evaluate_values(t.e_reco, cols))
            out += np.sum(cash(t.n_on, mu + bkg), axis=-1)
    return out


def _prior_batch(like: Likelihood, v: np.ndarray) -> np.ndarray:
    out = np.zeros(v.shape[0])
    for idx, fn in prior_terms(like.parameters):
        out += np.asarray(fn(v[:, idx]), dtype=float)
    return out


def _in_bounds(like: Likelihood, x: np.ndarray) -> np.ndarray:
    ok = np.ones(x.shape[0], bool)
    for k, (lo, hi) in enumerate(like.bounds()):
        if lo is not None:
            ok &= x[:, k] >= lo
        if hi is not None:
            ok &= x[:, k] <= hi
    return ok


class LogPosterior:
    """``f(x)``: log-posterior of free vectors ``x`` ``(n, n_free)``; ``vectorized`` says whether
    it evaluates them in one numpy pass (built by :func:`log_posterior`).

    Examples
    --------
    >>> from xgamma.fold import example_dataset
    >>> from xgamma.models import Models, SkyModel, spectral_model
    >>> f = log_posterior(Likelihood(example_dataset(), Models([SkyModel("s", spectral_model("pl"))])))
    >>> isinstance(f, LogPosterior), f(np.array([[2.0, -1.0]])).shape
    (True, (1,))
    """

    def __init__(self, like: Likelihood, core: Callable[[np.ndarray], np.ndarray], vectorized: bool) -> None:
        self.like, self.core, self.vectorized = like, core, vectorized

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.atleast_2d(np.asarray(x, dtype=float))
        ok = _in_bounds(self.like, x)
        out = np.full(x.shape[0], -np.inf)
        if ok.any():
            with np.errstate(all="ignore"):
                val = self.core(x[ok])
            out[ok] = np.where(np.isfinite(val), val, -np.inf)
        return out


def log_posterior(like: Likelihood, vectorize: bool = True, check: np.ndarray | None = None,
                  with_prior: bool = True) -> LogPosterior:
    """``f(x)`` = log-posterior (up to a constant) of free vectors ``x`` ``(n, n_free)``:
    ``-0.5 * (stat + prior terms)``, ``-inf`` outside the parameters' bounds.

    With ``vectorize`` the batch path (one numpy pass for all vectors) is used when it applies
    and, at the points ``check``, agrees with the one-vector path to 1e-9; otherwise a loop.

    Examples
    --------
    >>> from xgamma.fold import example_dataset
    >>> from xgamma.models import Models, SkyModel, spectral_model
    >>> like = Likelihood(example_dataset(), Models([SkyModel("s", spectral_model("pl"))]))
    >>> f = log_posterior(like, check=np.array([[2.0, 1e-12], [2.6, 4e-11]]))
    >>> bool(f(np.array([[2.6, 4e-11]]))[0] > f(np.array([[2.0, 1e-12]]))[0])
    True
    """
    def loop(x: np.ndarray) -> np.ndarray:
        out = np.empty(x.shape[0])
        for i, row in enumerate(x):
            v = like.values(row)
            s = sum(t.stat(v) for t in like.terms)
            if with_prior:
                s += sum(float(fn(v[idx])) for idx, fn in like.priors)
            out[i] = -0.5 * s
        return out

    def batch(x: np.ndarray) -> np.ndarray:
        v = _full_values(like, x)
        s = _stat_batch(like, v)
        if with_prior:
            s = s + _prior_batch(like, v)
        return -0.5 * s

    core = loop
    if vectorize:
        try:
            pts = np.atleast_2d(like.x0 if check is None else check)
            with np.errstate(all="ignore"):
                if np.allclose(batch(pts), loop(pts), rtol=1e-9, atol=1e-9):
                    core = batch
        except (TypeError, ValueError, IndexError):
            core = loop

    return LogPosterior(like, core, core is batch)


# --------------------------------------------------------------------------------------------
# backends


def _start(like: Likelihood, datasets: Any, models: Any, initial: Any, n_walkers: int,
           rng: np.random.Generator) -> np.ndarray:
    if initial is not None:
        x0 = np.asarray(initial, dtype=float)
        if x0.shape == (n_walkers, len(like.free_names)):
            return x0
        if x0.shape != (len(like.free_names),):
            raise SamplingError(f"initial: need {len(like.free_names)} values (free parameters "
                                f"{list(like.free_names)}) or one row per walker, got shape {x0.shape}")
        scale = np.where(x0 != 0, np.abs(x0) * 1e-3, 1e-3)
        return x0 + scale * rng.standard_normal((n_walkers, x0.size))
    best = run_fit(datasets, models)
    x0 = best.result["value"].values.astype(float)
    err = best.result["error"].values.astype(float)
    err = np.where(np.isfinite(err) & (err > 0), err, np.abs(x0) * 1e-2 + 1e-6)
    pts = x0 + 0.1 * err * rng.standard_normal((n_walkers, x0.size))
    bounds = like.bounds()
    for k, (lo, hi) in enumerate(bounds):
        pts[:, k] = np.clip(pts[:, k], -np.inf if lo is None else lo, np.inf if hi is None else hi)
    return pts


def _emcee(like: Likelihood, datasets: Any, models: Any, n_walkers: int | None, n_steps: int,
           n_burn: int | None, thin: int, seed: int | None, initial: Any, vectorize: bool,
           progress: bool) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    try:
        import emcee
    except ImportError as exc:
        raise ImportError("backend='emcee' needs the optional package emcee: pip install emcee") from exc
    n_dim = len(like.free_names)
    nw = max(2 * n_dim + 2, 16) if n_walkers is None else int(n_walkers)
    if nw < 2 * n_dim:
        raise SamplingError(f"emcee needs at least {2 * n_dim} walkers for {n_dim} free parameters, got {nw}")
    rng = np.random.default_rng(seed)
    p0 = _start(like, datasets, models, initial, nw, rng)
    logp = log_posterior(like, vectorize=vectorize, check=p0[: min(4, nw)])
    if not np.all(np.isfinite(logp(p0))):
        raise SamplingError("some walkers start where the posterior is 0 (outside bounds or priors)")
    sampler = emcee.EnsembleSampler(nw, n_dim, logp, vectorize=True)
    sampler.random_state = np.random.RandomState(int(rng.integers(2**31))).get_state()
    sampler.run_mcmc(p0, n_steps, progress=progress)
    burn = n_steps // 4 if n_burn is None else int(n_burn)
    chain = sampler.get_chain(discard=burn, thin=thin)  # (draw, walker, dim)
    lp = sampler.get_log_prob(discard=burn, thin=thin)
    try:
        tau = sampler.get_autocorr_time(discard=burn, quiet=True)
    except Exception:  # noqa: BLE001 - emcee raises its own error types for short chains
        tau = np.full(n_dim, np.nan)
    info = {"backend": "emcee", "n_walkers": nw, "n_steps": int(n_steps), "n_burn": burn, "thin": int(thin),
            "acceptance_fraction": float(np.mean(sampler.acceptance_fraction)),
            "autocorr_time": [float(t) for t in np.atleast_1d(tau)], "vectorized": bool(logp.vectorized)}
    return np.transpose(chain, (1, 0, 2)), lp.T, info


def _transform(like: Likelihood) -> Callable[[np.ndarray], np.ndarray]:
    """Unit cube -> free parameter vector, from the priors (or uniform within finite bounds)."""
    n = len(like.free_names)
    steps: list[Callable[[np.ndarray, np.ndarray], None]] = []
    mvn: dict[str, list[tuple[int, MultiVariateGaussianPrior]]] = {}
    for k, g in enumerate(like.groups):
        p = like.parameters[g[0]]
        prior = p.prior
        if isinstance(prior, MultiVariateGaussianPrior):
            mvn.setdefault(prior.label, []).append((k, prior))
            continue
        if prior is not None:
            dist = prior_distribution(prior)

            def step_prior(u: np.ndarray, x: np.ndarray, k: int = k, dist: Any = dist) -> None:
                x[..., k] = dist.ppf(u[..., k])

            steps.append(step_prior)
        else:
            lo, hi = p.bounds
            if lo is None or hi is None:
                raise SamplingError(f"parameter {like.free_names[k]!r} needs a prior or finite min/max "
                                    "for nested sampling")

            def step_bounds(u: np.ndarray, x: np.ndarray, k: int = k, lo: float = lo, hi: float = hi) -> None:
                x[..., k] = lo + (hi - lo) * u[..., k]

            steps.append(step_bounds)
    from scipy.stats import norm

    for label, members in mvn.items():
        members.sort(key=lambda t: t[1].index)
        first = members[0][1]
        if len(members) != len(first.mean):
            raise SamplingError(f"multivariate prior {label!r}: {len(members)} free members of {len(first.mean)}")
        chol = np.linalg.cholesky(np.asarray(first.covariance))
        cols = [k for k, _ in members]
        mean = np.asarray(first.mean)

        def step_mvn(u: np.ndarray, x: np.ndarray, cols: list[int] = cols, chol: np.ndarray = chol,
                     mean: np.ndarray = mean) -> None:
            z = norm.ppf(u[..., cols])
            x[..., cols] = mean + z @ chol.T

        steps.append(step_mvn)

    def transform(u: np.ndarray) -> np.ndarray:
        u = np.asarray(u, dtype=float)
        x = np.empty(u.shape[:-1] + (n,))
        for s in steps:
            s(u, x)
        return x

    return transform


def _ultranest(like: Likelihood, seed: int | None, vectorize: bool, kwargs: dict[str, Any],
               progress: bool) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    try:
        import ultranest
    except ImportError as exc:
        raise ImportError("backend='ultranest' needs the optional package ultranest: pip install ultranest") from exc
    transform = _transform(like)
    rng = np.random.default_rng(seed)
    u0 = rng.uniform(size=(4, len(like.free_names)))
    loglike = log_posterior(like, vectorize=vectorize, check=transform(u0), with_prior=False)

    def ll(x: np.ndarray) -> np.ndarray:
        val = loglike(x)
        return np.where(np.isfinite(val), val, -1e300)

    sampler = ultranest.ReactiveNestedSampler(list(like.free_names), ll, transform, vectorized=True)
    run_kw = {"show_status": progress, "viz_callback": False}
    run_kw.update(kwargs)
    np.random.seed(int(rng.integers(2**31)))  # noqa: NPY002 (ultranest draws from numpy's global generator)
    res = sampler.run(**run_kw)
    samples = np.asarray(res["samples"], dtype=float)
    lp = loglike(samples)
    lp = lp + np.array([-0.5 * sum(float(fn(like.values(x)[idx])) for idx, fn in like.priors) for x in samples])
    info = {"backend": "ultranest", "logz": float(res["logz"]), "logz_err": float(res["logzerr"]),
            "ncall": int(res["ncall"]), "vectorized": bool(loglike.vectorized)}
    return samples[None], lp[None], info


# --------------------------------------------------------------------------------------------
# public


def sample(datasets: Any, models: Any, backend: str = "emcee", n_walkers: int | None = None,
           n_steps: int = 1000, n_burn: int | None = None, thin: int = 1, seed: int | None = 0,
           initial: Any = None, vectorize: bool = True, progress: bool = False, **kwargs: Any) -> xr.Dataset:
    """Posterior samples of the free parameters of ``models`` given ``datasets``.

    Parameters
    ----------
    datasets, models
        As for :func:`xgamma.fit` (priors are the parameters' ``prior``).
    backend : {"emcee", "ultranest"}
        MCMC ensemble sampler or nested sampling (optional packages).
    n_walkers, n_steps, n_burn, thin : int
        emcee: walkers (default ``max(16, 2 n_free + 2)``), steps, steps dropped at the start
        (default a quarter), thinning.
    seed : int, optional
        Seed of the start positions and of the sampler (reproducible runs).
    initial : array, optional
        emcee start: one free vector (a ball of 1e-3 relative around it) or one per walker;
        default a ball of 0.1 sigma around the best fit of :func:`xgamma.fit`.
    vectorize : bool
        Evaluate all walkers (UltraNest: all live points) in one numpy pass where possible.
    progress : bool
        Show the sampler's progress.
    **kwargs
        UltraNest: passed to ``ReactiveNestedSampler.run`` (``min_num_live_points``, ``dlogz``, ...).

    Returns
    -------
    xarray.Dataset
        One variable per free parameter, dims ``(chain, draw)``, coordinate ``lp``
        (log-posterior); diagnostics in ``attrs`` (see the module docs).

    Examples
    --------
    >>> from xgamma.fold import example_dataset
    >>> from xgamma.models import Models, SkyModel, spectral_model
    >>> m = Models([SkyModel("s", spectral_model("pl", index=2.6, amplitude=4e-11))])
    >>> try:
    ...     names = list(sample(example_dataset(), m, n_walkers=6, n_steps=20).data_vars)
    ... except ImportError:
    ...     names = ["s.spectral.index", "s.spectral.amplitude"]
    >>> names
    ['s.spectral.index', 's.spectral.amplitude']
    """
    if backend not in BACKENDS:
        raise SamplingError(f"unknown sampling backend {backend!r}; known: {list(BACKENDS)}")
    like = Likelihood(datasets, models)
    if not like.free_names:
        raise SamplingError("no free parameters to sample")
    if backend == "emcee":
        if kwargs:
            raise SamplingError(f"backend='emcee' takes no extra options, got {sorted(kwargs)}")
        chains, lp, info = _emcee(like, datasets, models, n_walkers, n_steps, n_burn, thin, seed, initial,
                                  vectorize, progress)
    else:
        chains, lp, info = _ultranest(like, seed, vectorize, kwargs, progress)
    n_chain, n_draw = chains.shape[:2]
    coords = {"chain": np.arange(n_chain), "draw": np.arange(n_draw), "lp": (("chain", "draw"), lp)}
    units = {like.free_names[k]: like.parameters[g[0]].unit for k, g in enumerate(like.groups)}
    data = {name: (("chain", "draw"), chains[..., k], {"units": units[name]})
            for k, name in enumerate(like.free_names)}
    return xr.Dataset(data, coords=coords, attrs=info)


def corner_plot(posterior: xr.Dataset, names: Sequence[str] | None = None, truths: Any = None,
                fig: Any = None, **kwargs: Any) -> Any:
    """Corner plot of posterior samples (``corner`` when installed, else plain matplotlib
    histograms and scatter plots); returns the matplotlib figure.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> rng = np.random.default_rng(0)
    >>> post = xr.Dataset({"a": (("chain", "draw"), rng.normal(size=(2, 200))),
    ...                    "b": (("chain", "draw"), rng.normal(size=(2, 200)))})
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> len(corner_plot(post).axes)
    4
    """
    names = [str(n) for n in posterior.data_vars] if names is None else list(names)
    flat = np.column_stack([np.asarray(posterior[n].values, dtype=float).ravel() for n in names])
    try:
        import corner
    except ImportError:
        corner = None
    if corner is not None:
        return corner.corner(flat, labels=names, truths=truths, fig=fig, **kwargs)
    import matplotlib.pyplot as plt

    n = len(names)
    if fig is None:
        fig, axes = plt.subplots(n, n, figsize=(2.2 * n, 2.2 * n), squeeze=False)
    else:
        axes = np.asarray(fig.subplots(n, n, squeeze=False))
    for i in range(n):
        for j in range(n):
            ax = axes[i, j]
            if j > i:
                ax.set_visible(False)
                continue
            if i == j:
                ax.hist(flat[:, i], bins=kwargs.get("bins", 30), histtype="step", color="k")
            else:
                ax.plot(flat[:, j], flat[:, i], ",", color="k", alpha=0.3)
            if i == n - 1:
                ax.set_xlabel(names[j])
            if j == 0 and i > 0:
                ax.set_ylabel(names[i])
            if truths is not None:
                ax.axvline(truths[j], color="C0")
    return fig
