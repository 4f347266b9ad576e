"""More priors: generalized Gaussian, log-normal, sample KDE and the multi-parameter
(multivariate) Gaussian; prior transforms for nested sampling; the prior terms of a fit.

Gammapy's priors are ``GaussianPrior``, ``UniformPrior``, ``LogUniformPrior`` (in
:mod:`xgamma.models.params`), ``GeneralizedGaussianPrior``, ``LogNormalPrior`` and
``SamplesKDEPrior`` (here); each contributes ``weight * (-2 log p(value))`` to the fit statistic
and has the same YAML form and parameter names as in Gammapy (``{type, parameters: [{name,
value}], weight}``; the KDE prior ``{type, samples, weights}``). The multi-parameter prior is
Gammapy's ``GaussianPriorPenalty`` idea (a multivariate normal over several parameters) made a
prior: :class:`MultiVariateGaussianPrior` is attached to each parameter it covers, with the
parameter's position ``index`` in the mean vector and a ``label`` shared by the group; the fit
(:func:`prior_terms`) evaluates the group once, jointly. Gammapy has no YAML for its penalty;
xgamma writes ``{type: MultiVariateGaussianPrior, mean, covariance, index, label, weight}``.

:func:`prior_distribution` gives each one-dimensional prior as a frozen ``scipy.stats``
distribution (``ppf`` is the transform of the unit cube used by nested samplers).

Examples
--------
>>> from xgamma.models.priors import GeneralizedGaussianPrior, LogNormalPrior
>>> p = GeneralizedGaussianPrior(mu=0.0, sigma=1.0, eta=0.5)   # eta = 1/2: a Gaussian
>>> round(float(p(1.0) - p(0.0)), 12)
1.0
>>> round(float(LogNormalPrior(mu=2.0, sigma=0.5).ppf(0.5)), 12)   # median mu
2.0
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats as sps
from scipy.special import gammaln

from xgamma.models.params import (
    GaussianPrior,
    LogUniformPrior,
    Parameters,
    Prior,
    UniformPrior,
    register_prior,
)

__all__ = [
    "GeneralizedGaussianPrior",
    "LogNormalPrior",
    "SamplesKDEPrior",
    "MultiVariateGaussianPrior",
    "multivariate_gaussian_prior",
    "prior_distribution",
    "prior_terms",
]


@dataclass(frozen=True)
class GeneralizedGaussianPrior(Prior):
    """Generalized Gaussian: ``p ~ exp(-(|x - mu| / (sqrt(2) sigma))^(1/eta))``; ``eta = 1/2`` is
    the Gaussian of width ``sigma``, ``eta = 1`` a Laplace distribution (Gammapy's definition:
    ``scipy.stats.gennorm(beta=1/eta, loc=mu, scale=sqrt(2) sigma)``).

    Examples
    --------
    >>> lap = GeneralizedGaussianPrior(mu=0.0, sigma=1.0, eta=1.0)
    >>> round(float(lap(2.0) - lap(0.0)), 12)    # -2 log p: 2 |x| / sqrt(2)
    2.828427124746
    """

    mu: float = 0.0
    sigma: float = 1.0
    eta: float = 0.5

    def _stat(self, value: Any) -> Any:
        beta = 1.0 / self.eta
        scale = math.sqrt(2) * self.sigma
        logpdf = (math.log(beta) - math.log(2 * scale) - float(gammaln(1 / beta))
                  - (np.abs(value - self.mu) / scale) ** beta)
        return -2 * logpdf

    def ppf(self, q: Any) -> Any:
        return prior_distribution(self).ppf(q)


@dataclass(frozen=True)
class LogNormalPrior(Prior):
    """Log-normal: ``log(x)`` is Gaussian with mean ``log(mu)`` and width ``sigma`` (``mu`` the
    median; Gammapy's ``scipy.stats.lognorm(s=sigma, scale=mu)``); ``inf`` for ``x <= 0``.

    Examples
    --------
    >>> p = LogNormalPrior(mu=1.0, sigma=1.0)
    >>> round(float(p(1.0)), 6)      # -2 log(1 / sqrt(2 pi))
    1.837877
    """

    mu: float = 1.0
    sigma: float = 1.0

    def _stat(self, value: Any) -> Any:
        with np.errstate(divide="ignore", invalid="ignore"):
            lx = np.log(value)
            z = (lx - math.log(self.mu)) / self.sigma
            out = z * z + 2 * lx + math.log(2 * math.pi * self.sigma**2)
        out = np.where(value > 0, out, np.inf)
        return out.item() if np.ndim(out) == 0 else out

    def ppf(self, q: Any) -> Any:
        return prior_distribution(self).ppf(q)


@dataclass(frozen=True)
class SamplesKDEPrior(Prior):
    """Prior from (weighted) samples of the parameter, e.g. a previous posterior: a Gaussian
    kernel density estimate (``scipy.stats.gaussian_kde``, Scott's bandwidth).

    Examples
    --------
    >>> import numpy as np
    >>> p = SamplesKDEPrior(samples=tuple(np.random.default_rng(1).normal(3.0, 0.5, 4000)))
    >>> bool(abs(float(p.ppf(0.5)) - 3.0) < 0.05)
    True
    """

    samples: tuple[float, ...] = ()
    weights: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        s = tuple(float(x) for x in np.asarray(self.samples, dtype=float).ravel())
        if len(s) < 2:
            raise ValueError("SamplesKDEPrior needs at least 2 samples")
        object.__setattr__(self, "samples", s)
        if self.weights is not None:
            w = np.asarray(self.weights, dtype=float).ravel()
            if w.size != len(s):
                raise ValueError(f"SamplesKDEPrior: {w.size} weights for {len(s)} samples")
            object.__setattr__(self, "weights", tuple(float(x) for x in w / w.sum()))

    def _kde(self) -> Any:
        return sps.gaussian_kde(np.asarray(self.samples), weights=None if self.weights is None else
                                np.asarray(self.weights))

    def _stat(self, value: Any) -> Any:
        v = np.asarray(value, dtype=float)
        with np.errstate(divide="ignore"):
            out = -2 * self._kde().logpdf(v.ravel()).reshape(v.shape)
        return out.item() if np.ndim(out) == 0 else out

    def ppf(self, q: Any) -> Any:
        """Inverse CDF of the KDE (a mixture of Gaussians), by interpolation on a fine grid."""
        kde = self._kde()
        x = np.asarray(self.samples)
        w = np.full(x.size, 1 / x.size) if self.weights is None else np.asarray(self.weights)
        bw = float(np.sqrt(kde.covariance[0, 0]))
        grid = np.linspace(x.min() - 6 * bw, x.max() + 6 * bw, 4096)
        cdf = (w[None, :] * sps.norm.cdf((grid[:, None] - x[None, :]) / bw)).sum(axis=1)
        return np.interp(q, cdf, grid)

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "samples": list(self.samples),
                "weights": list(self.weights) if self.weights is not None else None, "weight": float(self.weight)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SamplesKDEPrior:
        w = data.get("weights")
        return cls(samples=tuple(data["samples"]), weights=None if w is None else tuple(w),
                   weight=float(data.get("weight", 1.0)))


@dataclass(frozen=True)
class MultiVariateGaussianPrior(Prior):
    """One member of a multivariate normal prior over several parameters.

    Attach it (:func:`multivariate_gaussian_prior`) to each parameter of the group, with the
    parameter's ``index`` in ``mean``; members with the same ``label`` are evaluated jointly by
    fits and samplers: ``(x - mean)^T C^-1 (x - mean) + log det(2 pi C)``. Called on one value it
    is the marginal Gaussian of its parameter.

    Examples
    --------
    >>> p = MultiVariateGaussianPrior(mean=(0.0, 0.0), covariance=((1.0, 0.5), (0.5, 1.0)), index=1)
    >>> round(float(p(1.0) - p(0.0)), 12)      # marginal: one sigma
    1.0
    >>> round(float(p.joint([1.0, 1.0]) - p.joint([0.0, 0.0])), 6)   # (1 1) C^-1 (1 1)^T
    1.333333
    """

    mean: tuple[float, ...] = (0.0,)
    covariance: tuple[tuple[float, ...], ...] = ((1.0,),)
    index: int = 0
    label: str = "mvn"
    _inv: Any = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        mean = tuple(float(x) for x in np.asarray(self.mean, dtype=float).ravel())
        cov = np.asarray(self.covariance, dtype=float)
        if cov.shape != (len(mean), len(mean)) or not np.allclose(cov, cov.T):
            raise ValueError(f"MultiVariateGaussianPrior {self.label!r}: covariance must be symmetric "
                             f"{len(mean)}x{len(mean)}, got shape {cov.shape}")
        if not 0 <= int(self.index) < len(mean):
            raise ValueError(f"MultiVariateGaussianPrior {self.label!r}: index {self.index} outside 0..{len(mean) - 1}")
        try:
            chol = np.linalg.cholesky(cov)
        except np.linalg.LinAlgError as exc:
            raise ValueError(f"MultiVariateGaussianPrior {self.label!r}: covariance not positive definite") from exc
        object.__setattr__(self, "mean", mean)
        object.__setattr__(self, "covariance", tuple(tuple(float(x) for x in row) for row in cov))
        object.__setattr__(self, "index", int(self.index))
        logdet = 2 * float(np.sum(np.log(np.diag(chol))))
        object.__setattr__(self, "_inv", (np.linalg.inv(cov), logdet + len(mean) * math.log(2 * math.pi)))

    def _stat(self, value: Any) -> Any:
        s2 = self.covariance[self.index][self.index]
        z = (value - self.mean[self.index]) / math.sqrt(s2)
        return z * z + math.log(2 * math.pi * s2)

    def joint(self, values: Any) -> Any:
        """``weight * (-2 log p)`` of the whole group at ``values`` (``(..., n)``, in ``index`` order)."""
        inv, const = self._inv
        d = np.asarray(values, dtype=float) - np.asarray(self.mean)
        return self.weight * (np.einsum("...i,ij,...j->...", d, inv, d) + const)

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "mean": list(self.mean), "covariance": [list(r) for r in self.covariance],
                "index": self.index, "label": self.label, "weight": float(self.weight)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MultiVariateGaussianPrior:
        return cls(mean=tuple(data["mean"]), covariance=tuple(tuple(r) for r in data["covariance"]),
                   index=int(data.get("index", 0)), label=str(data.get("label", "mvn")),
                   weight=float(data.get("weight", 1.0)))


for _cls in (GeneralizedGaussianPrior, LogNormalPrior, SamplesKDEPrior, MultiVariateGaussianPrior):
    register_prior(_cls)


def multivariate_gaussian_prior(parameters: Parameters, names: Sequence[str], mean: Sequence[float],
                                covariance: Any, label: str = "mvn", weight: float = 1.0) -> Parameters:
    """``parameters`` with a multivariate normal prior over ``names`` (one member per name).

    Examples
    --------
    >>> from xgamma.models.params import Parameter
    >>> pars = Parameters([Parameter("a", 1.0), Parameter("b", 2.0)])
    >>> pars = multivariate_gaussian_prior(pars, ["a", "b"], [1.0, 2.0], [[0.04, 0.01], [0.01, 0.09]])
    >>> pars["b"].prior.index, pars["b"].prior.label
    (1, 'mvn')
    """
    cov = tuple(tuple(float(x) for x in row) for row in np.asarray(covariance, dtype=float))
    out = parameters
    for k, name in enumerate(names):
        prior = MultiVariateGaussianPrior(mean=tuple(mean), covariance=cov, index=k, label=label, weight=weight)
        out = out.with_prior(name, prior)
    return out


def prior_distribution(prior: Prior) -> Any:
    """A frozen ``scipy.stats`` distribution of a one-dimensional prior (for ``ppf``, ``rvs``).

    Examples
    --------
    >>> round(float(prior_distribution(UniformPrior(min=1.0, max=3.0)).ppf(0.25)), 12)
    1.5
    """
    if isinstance(prior, GaussianPrior):
        return sps.norm(prior.mu, prior.sigma)
    if isinstance(prior, UniformPrior):
        return sps.uniform(prior.min, prior.max - prior.min)
    if isinstance(prior, LogUniformPrior):
        return sps.loguniform(prior.min, prior.max)
    if isinstance(prior, GeneralizedGaussianPrior):
        return sps.gennorm(beta=1.0 / prior.eta, loc=prior.mu, scale=math.sqrt(2) * prior.sigma)
    if isinstance(prior, LogNormalPrior):
        return sps.lognorm(s=prior.sigma, scale=prior.mu)
    if isinstance(prior, MultiVariateGaussianPrior):
        return sps.norm(prior.mean[prior.index], math.sqrt(prior.covariance[prior.index][prior.index]))
    if isinstance(prior, SamplesKDEPrior):
        return _KDEDistribution(prior)
    raise TypeError(f"no distribution for prior type {prior.type!r}")


@dataclass(frozen=True)
class _KDEDistribution:
    prior: SamplesKDEPrior

    def ppf(self, q: Any) -> Any:
        return self.prior.ppf(q)

    def logpdf(self, x: Any) -> Any:
        return -0.5 * self.prior._stat(np.asarray(x, dtype=float))


@dataclass(frozen=True)
class _OnePrior:
    prior: Prior

    def __call__(self, v: Any) -> Any:
        return self.prior(np.asarray(v)[..., 0])


def prior_terms(parameters: Parameters) -> list[tuple[np.ndarray, Callable[[np.ndarray], Any]]]:
    """The prior terms of a parameter table: ``(indices, f)`` with ``f(values[..., indices])``
    the term's ``-2 log p`` (broadcasting over leading axes, e.g. walkers); one term per
    one-dimensional prior, one per multivariate group (by ``label``).

    Examples
    --------
    >>> from xgamma.models.params import Parameter
    >>> pars = Parameters([Parameter("a", 0.0, prior=GaussianPrior(mu=0.0, sigma=1.0)), Parameter("b", 0.0)])
    >>> [(idx.tolist(), round(float(f(np.array([1.0]))), 6)) for idx, f in prior_terms(pars)]
    [([0], 2.837877)]
    """
    terms: list[tuple[np.ndarray, Callable[[np.ndarray], Any]]] = []
    groups: dict[str, list[tuple[int, MultiVariateGaussianPrior]]] = {}
    for i, p in enumerate(parameters):
        if p.prior is None:
            continue
        if isinstance(p.prior, MultiVariateGaussianPrior):
            groups.setdefault(p.prior.label, []).append((i, p.prior))
            continue
        terms.append((np.array([i]), _OnePrior(p.prior)))
    for label, members in groups.items():
        first = members[0][1]
        n = len(first.mean)
        if sorted(m.index for _, m in members) != list(range(n)):
            raise ValueError(f"multivariate prior {label!r}: members cover indices "
                             f"{sorted(m.index for _, m in members)}, need 0..{n - 1}")
        order = np.array([i for i, _ in sorted(members, key=lambda t: t[1].index)])
        terms.append((order, first.joint))
    return terms
