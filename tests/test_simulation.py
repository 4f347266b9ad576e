"""Simulation: sampled source events against npred (point, Gaussian, disk).

The chi2 tests sum the binned counts of R realisations and compare them with R * npred of the
reduced dataset (xg.reduce + xg.npred_map: an independent path through exposure, PSF and edisp
maps). With the total of R Poisson realisations, ``chi2 = sum (N - R mu)^2 / (R mu)`` follows
a chi2 law with one degree of freedom per bin; the tests require a p-value above 1e-3, i.e.
they fail on a systematic difference of a few per cent in any bin.
"""

from __future__ import annotations

import numpy as np
import pytest
from simulation_helpers import (
    SRC,
    chi2_pvalue,
    signal_npred,
    sim_dataset,
    sim_geom,
    sim_obs,
    summed_counts,
)

import xgamma as xg
from xgamma.models import Models, SkyModel, spectral_model


@pytest.mark.parametrize("spatial", [
    {"name": "point"},
    {"name": "gauss", "sigma": 0.15, "e": 0.6, "phi": 30.0},
    {"name": "disk", "r_0": 0.25},
])
def test_source_counts_match_npred(sim_irfs, spatial):
    kw = dict(spatial)
    name = kw.pop("name")
    src = SkyModel("src", spectral_model("pl", index=2.2, amplitude=2e-12),
                   xg.spatial_model(name, lon_0=SRC[0], lat_0=SRC[1], **kw))
    obs = sim_obs(sim_irfs)
    geom = sim_geom()
    mu = signal_npred(sim_dataset(obs, geom), Models([src]))
    n = 500 if name == "point" else 300  # extended: 300 keep the file under a minute
    total = summed_counts(obs, [src], geom, n, 11, background=False)
    chi2, ndf, p = chi2_pvalue(total, mu, n)
    assert p > 1e-3, (chi2, ndf)
    assert total.sum() / n == pytest.approx(mu.sum(), rel=3 * np.sqrt(1 / total.sum()) + 0.01)
