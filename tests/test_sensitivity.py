"""Differential sensitivity: Li & Ma root, the three criteria, 1/sqrt(T) scaling, Crab fraction."""

from __future__ import annotations

import numpy as np
import pytest

import xgamma as xg
from xgamma.estimators.sensitivity import crab_reference, excess_for_significance, sensitivity
from xgamma.fitting.fold import example_dataset, npred_signal
from xgamma.stats import li_ma_significance


@pytest.mark.parametrize("b,alpha", [(0.5, 0.2), (10.0, 1.0), (1e4, 0.1)])
def test_li_ma_root(b, alpha):
    s = excess_for_significance(b, alpha, 5.0)
    np.testing.assert_allclose(float(li_ma_significance(s + b, b / alpha, alpha)), 5.0, rtol=1e-9)
    if b > 1e3:  # Gaussian limit: s = 5 sqrt(b (1 + alpha))
        np.testing.assert_allclose(s, 5 * np.sqrt(b * (1 + alpha)), rtol=0.01)


def test_criteria_and_scaling():
    ds = example_dataset()
    s = sensitivity(ds)
    crit = s.criterion.values
    b = s.background.values
    # no background at the highest energies: gamma_min = 10 counts decides
    assert (s.excess.values[b == 0] == 10).all() and (crit[b == 0] == "gamma").all()
    sig = crit == "significance"
    for i in np.flatnonzero(sig):
        np.testing.assert_allclose(excess_for_significance(b[i], 0.2), s.excess.values[i], rtol=1e-9)
    # huge livetime: background systematics (5 % of b) dominate
    s_long = sensitivity(ds, livetime=1e3 * ds.attrs["livetime"])
    assert s_long.criterion.values[0] == "bkg"
    np.testing.assert_allclose(s_long.excess.values[0], 0.05 * s_long.background.values[0], rtol=1e-12)
    # background-dominated bins scale as 1 / sqrt(T)
    s4 = sensitivity(ds, livetime=4 * ds.attrs["livetime"])
    np.testing.assert_allclose((s.e2dnde / s4.e2dnde).values[2], 2.0, rtol=0.03)


def test_flux_conversion_and_crab_fraction():
    ds = example_dataset()
    crab = crab_reference()
    s = sensitivity(ds, spectrum=crab)
    # with the Crab as reference spectrum, the Crab fraction is the norm = excess / npred(Crab)
    npred = npred_signal(ds, crab).values
    mask = ds.mask_safe.values
    np.testing.assert_allclose(s.crab_fraction.values, s.excess.values / npred[mask], rtol=1e-10)
    # dnde at the bin's log centre times E^2 = e2dnde
    np.testing.assert_allclose(s.e2dnde, s.dnde * s.energy**2, rtol=1e-12)


def test_crab_runs_sensitivity(data):
    """H.E.S.S. Crab runs scaled to 50 h: a few per cent of the Crab near 1 TeV."""
    from xgamma.reduction.spectrum import reduce_spectrum, stack_spectra

    store = xg.open_store(data / "hess-dl3-dr1")
    geom = xg.region_geom("icrs;circle(83.63,22.01,0.11)", axes=[xg.energy_axis(0.2, 30, 15)])
    et = xg.energy_axis(0.1, 60, 30, name="energy_true")
    runs = [reduce_spectrum(store.observation(o), geom, energy_true=et, containment_correction=True,
                            safe_mask=["aeff-default"]) for o in (23523, 23526)]
    s = sensitivity(stack_spectra(runs), livetime=50 * 3600.0)
    i = int(np.argmin(np.abs(np.log(s.energy.values))))
    assert 0.002 < float(s.crab_fraction[i]) < 0.1
    assert s.attrs["livetime"] == 50 * 3600.0
