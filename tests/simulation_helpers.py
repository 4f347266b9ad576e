"""Shared helpers of the simulation tests (imported by the test_simulation*/test_dl3_write files;
the ``sim_irfs`` fixture is in conftest)."""

from __future__ import annotations

import numpy as np
from scipy import stats

import xgamma as xg
from xgamma.simulation import observation_from_irfs
from xgamma.simulation.events import EventSampler

PNT = (83.633, 22.514)
SRC = (83.633, 22.014)
PROD5 = "cta-caldb/Prod5-South-20deg-AverageAz-14MSTs37SSTs.180000s-v0.1.fits.gz"


def sim_obs(irfs, livetime=600.0, **kw):
    return observation_from_irfs(irfs, PNT, livetime, tstart=1000.0, **kw)


def sim_geom(width=1.2, binsz=0.1, center=SRC, emin=1.0, emax=10.0, nbins=3):
    return xg.wcs_geom(center, width, binsz, axes=[xg.energy_axis(emin, emax, nbins)])


def sim_dataset(obs, geom):
    # 36 true-energy bins per decade: with 12, npred's forward folding (exposure and edisp at
    # the bin centres) is 0.3 % high for these spectra, which 500 realisations would resolve
    et = xg.energy_axis(0.3, 30, 72, name="energy_true")
    return xg.reduce(obs, geom, energy_true=et)


def summed_counts(obs, models, geom, n, seed, background):
    rng = np.random.default_rng(seed)
    sampler = EventSampler(obs)
    total = np.zeros(tuple(geom.sizes[d] for d in ("energy", "y", "x")))
    for _ in range(n):
        ev = sampler.sample(models, rng=rng, background=background)
        total += np.asarray(xg.bin_events(ev, geom).transpose("energy", "y", "x").values)
    return total


def chi2_pvalue(total, mu, n):
    m = mu > 0
    chi2 = float(np.sum((total[m] - n * mu[m]) ** 2 / (n * mu[m])))
    return chi2, int(m.sum()), float(stats.chi2.sf(chi2, int(m.sum())))


def signal_npred(ds, models):
    return np.asarray((xg.npred_map(ds, models) - xg.npred_map(ds, models, component="background"))
                      .transpose("energy", "y", "x").values)
