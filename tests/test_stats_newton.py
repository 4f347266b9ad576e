"""The profile-likelihood crossings of xgamma.stats (errn, errp, ul) solved by safeguarded Newton:
each crossing lies where the statistic rose by exactly n_sigma^2, edge cases included."""

from __future__ import annotations

import numpy as np
import pytest

from xgamma import stats


def _wstat(mu, n_on, n_off, alpha):
    return np.asarray(stats.wstat(n_on, n_off, alpha, mu, extra_terms=False), float)


def _cash(mu, n_on, bkg):
    return np.asarray(stats.cash(n_on, mu + bkg), float)


@pytest.fixture(scope="module")
def counts():
    rng = np.random.default_rng(3)
    n_on = rng.poisson(rng.uniform(0, 50, 4000)).astype(float)
    n_off = rng.poisson(rng.uniform(0, 200, 4000)).astype(float)
    alpha = rng.uniform(0.05, 1.0, 4000)
    bkg = rng.uniform(0.0, 40.0, 4000)
    return n_on, n_off, alpha, bkg


@pytest.mark.parametrize("n_sigma", [1.0, 2.0, 3.0])
def test_onoff_crossings(counts, n_sigma):
    n_on, n_off, alpha, _ = counts
    best = n_on - alpha * n_off
    smin = _wstat(best, n_on, n_off, alpha)
    errp = np.asarray(stats.counts_errp(n_on, n_off, alpha, n_sigma=n_sigma))
    np.testing.assert_allclose(_wstat(best + errp, n_on, n_off, alpha) - smin, n_sigma**2, atol=1e-8)
    errn = np.asarray(stats.counts_errn(n_on, n_off, alpha, n_sigma=n_sigma))
    floor = -alpha * n_off
    inside = best - errn > floor + 1e-6
    np.testing.assert_allclose((_wstat(best - errn, n_on, n_off, alpha) - smin)[inside], n_sigma**2, atol=1e-8)
    assert np.all(best - errn >= floor - 1e-6)
    ul = np.asarray(stats.counts_ul(n_on, n_off, alpha, n_sigma=n_sigma))
    start = np.maximum(best, 0)
    crossing = ul > start + 1e-9
    np.testing.assert_allclose((_wstat(ul, n_on, n_off, alpha) - smin)[crossing], n_sigma**2, atol=1e-8)
    # where the crossing lies below max(best, 0), the limit is that start
    np.testing.assert_array_equal(ul[~crossing], start[~crossing])


def test_cash_crossings(counts):
    n_on, _, _, bkg = counts
    best = n_on - bkg
    smin = _cash(best, n_on, bkg)
    errp = np.asarray(stats.counts_errp(n_on, mu_bkg=bkg))
    np.testing.assert_allclose(_cash(best + errp, n_on, bkg) - smin, 1.0, atol=1e-8)
    errn = np.asarray(stats.counts_errn(n_on, mu_bkg=bkg))
    inside = best - errn > -bkg + 1e-6
    np.testing.assert_allclose((_cash(best - errn, n_on, bkg) - smin)[inside], 1.0, atol=1e-8)
    # few counts on a large background: the lower error is not clipped at the floor
    assert float(stats.counts_errn(6.0, mu_bkg=26.309)) == pytest.approx(2.12812773, rel=1e-6)


def test_known_values_and_dask():
    import dask.array as da
    from scipy.optimize import brentq

    # n = 100, no background: 2 (mu - n ln mu) - 2 (n - n ln n) = 1, solved independently
    def g(mu):
        return 2 * (mu - 100 * np.log(mu)) - 2 * (100 - 100 * np.log(100)) - 1

    assert float(stats.counts_errn(100.0, mu_bkg=0.0)) == pytest.approx(100 - brentq(g, 80, 100), abs=1e-9)
    assert float(stats.counts_errp(100.0, mu_bkg=0.0)) == pytest.approx(brentq(g, 100, 120) - 100, abs=1e-9)
    n = np.array([0.0, 3.0, 30.0])
    lazy = stats.counts_ul(da.from_array(n, chunks=1), mu_bkg=da.from_array(np.full(3, 2.0), chunks=1))
    np.testing.assert_array_equal(np.asarray(lazy.compute()), np.asarray(stats.counts_ul(n, mu_bkg=2.0)))


def test_cash_crossings_solved_per_distinct_count_match_the_full_iteration(counts):
    # Cash errors depend on n_on alone: solved once per distinct count, they equal the Newton
    # iteration run on every (n_on, background) pair; non-integer counts take the np.unique path
    n_on, _, _, bkg = counts
    for n in (n_on, n_on + 0.37):
        for side, ns in (("errn", 1.0), ("errp", 1.0), ("ul", 2.0)):
            full = stats._root(n, np.zeros(()), np.zeros(()), bkg, False, ns, side)  # noqa: SLF001
            fast = getattr(stats, f"counts_{side}")(n, mu_bkg=bkg, n_sigma=ns)
            np.testing.assert_allclose(fast, full, rtol=1e-9, atol=1e-9)
    # no counts: errn 0, errp n_sigma^2 / 2, whatever the background
    np.testing.assert_allclose(stats.counts_errn([0.0, 0.0], mu_bkg=[0.0, 5.0]), [0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(stats.counts_errp([0.0, 0.0], mu_bkg=[0.0, 5.0]), [0.5, 0.5], atol=1e-12)
