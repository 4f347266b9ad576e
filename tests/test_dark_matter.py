"""Dark-matter profiles and J factors (xgamma.models.dark_matter) against closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest
from astropy.coordinates import SkyCoord

import xgamma as xg
from xgamma.models.dark_matter import KPC_CM, DMProfile, dm_profile, jfactor, jfactor_map


def test_profiles_gammapy_parameterisation():
    """Gammapy's formulas and default scale radii (PPPC4DMID), rho_s = 1 GeV cm-3."""
    r = np.array([0.5, 3.0, 20.0, 80.0])
    defaults = {"nfw": 24.42, "einasto": 28.44, "isothermal": 4.38, "burkert": 12.67, "moore": 30.28}
    for name, rs in defaults.items():
        assert dm_profile(name).r_s == rs
    x = r / 24.42
    np.testing.assert_allclose(dm_profile("nfw")(r), 1 / (x * (1 + x) ** 2), rtol=1e-14)
    x = r / 28.44
    np.testing.assert_allclose(dm_profile("einasto")(r), np.exp(-2 / 0.17 * (x**0.17 - 1)), rtol=1e-14)
    x = r / 4.38
    np.testing.assert_allclose(dm_profile("isothermal")(r), 1 / (1 + x**2), rtol=1e-14)
    x = r / 12.67
    np.testing.assert_allclose(dm_profile("burkert")(r), 1 / ((1 + x) * (1 + x**2)), rtol=1e-14)
    x = r / 30.28
    np.testing.assert_allclose(dm_profile("moore")(r), x**-1.16 * (1 + x) ** -1.84, rtol=1e-14)
    # Zhao (1, 3, 1) is NFW
    np.testing.assert_allclose(dm_profile("zhao")(r), dm_profile("nfw")(r), rtol=1e-14)
    for name in defaults:
        p = dm_profile(name).scaled_to_local_density()
        assert float(p(8.33)) == pytest.approx(0.3, rel=1e-12)
    with pytest.raises(ValueError, match="unknown dark-matter profile 'cored'"):
        dm_profile("cored")
    with pytest.raises(ValueError, match="no parameters"):
        dm_profile("nfw", alpha=0.2)


def test_isothermal_line_of_sight_closed_form():
    """rho = rho_s / (1 + r^2/r_s^2): int rho^2 dl from the observer to infinity is
    rho_s^2 r_s^4 [F(inf) - F(-l0)], F(s) = s / (2 a^2 (a^2 + s^2)) + atan(s / a) / (2 a^3),
    a^2 = r_s^2 + b^2, b = D sin(psi), l0 = D cos(psi)."""
    prof = DMProfile("isothermal", r_s=4.0, rho_s=2.0)
    d = 8.5
    psi = np.array([0.01, 0.5, 5.0, 30.0, 90.0, 150.0])
    rad = np.radians(psi)
    b, l0 = d * np.sin(rad), d * np.cos(rad)
    a = np.sqrt(16.0 + b**2)

    def f(s):
        return s / (2 * a**2 * (a**2 + s**2)) + np.arctan(s / a) / (2 * a**3)

    exact = 4.0 * 4.0**4 * (np.pi / (4 * a**3) - f(-l0)) * KPC_CM
    np.testing.assert_allclose(jfactor(psi, prof, d, r_max=1e8), exact, rtol=1e-7)
    # D factor (decay): int rho dl = rho_s r_s^2 (pi/2 - atan(-l0/a)) / a
    exact_d = 2.0 * 16.0 * (np.pi / 2 - np.arctan(-l0 / a)) / a * KPC_CM
    np.testing.assert_allclose(jfactor(psi, prof, d, r_max=1e9, annihilation=False), exact_d, rtol=1e-6)


def test_nfw_point_integrated_jfactor_of_a_distant_halo():
    """A truncated NFW halo (r_s = 1 kpc, r_max = 10 kpc) 1 Mpc away: the J factor summed over a
    map of it is (4 pi / 3) rho_s^2 r_s^3 (1 - (1 + c)^-3) / D^2, c = r_max / r_s (to (r/D)^2 ~
    1e-4), and the D factor 4 pi rho_s r_s^3 (ln(1 + c) - c / (1 + c)) / D^2."""
    prof = DMProfile("nfw", r_s=1.0, rho_s=3.0)
    d, rmax, c = 1000.0, 10.0, 10.0
    g = xg.wcs_geom((30.0, 10.0), 1.3, 0.005, frame="galactic", proj="TAN")
    jmap = jfactor_map(g, prof, distance=d, center=(30.0, 10.0), r_max=rmax)
    exact = 4 * np.pi / 3 * 9.0 * (1 - (1 + c) ** -3) / d**2 * KPC_CM
    assert float(jmap.sum()) == pytest.approx(exact, rel=5e-3)
    dmap = jfactor_map(g, prof, distance=d, center=(30.0, 10.0), r_max=rmax, annihilation=False)
    exact_d = 4 * np.pi * 3.0 * (math.log(1 + c) - c / (1 + c)) / d**2 * KPC_CM
    assert float(dmap.sum()) == pytest.approx(exact_d, rel=2e-3)
    assert jmap.attrs["units"] == "GeV2 cm-5" and dmap.attrs["units"] == "GeV cm-2"
    diff = jfactor_map(g, prof, distance=d, center=(30.0, 10.0), r_max=rmax, differential=True)
    assert diff.attrs["units"] == "GeV2 cm-5 sr-1"
    assert float(diff.max()) == pytest.approx(float(diff.values[129:131, 129:131].max()))


def test_galactic_centre_jfactor_scale():
    """Milky-Way NFW at the local density: J within 1 deg of the Galactic centre is of order
    1e21-1e22 GeV2 cm-5 (e.g. Cirelli et al. 2011 give ~3e21 for 0.1-1 deg regions), the map
    sum equals the integral of the differential J over the disc (analytic angular integral)."""
    prof = dm_profile("nfw").scaled_to_local_density()
    g = xg.wcs_geom((0, 0), 2.0, 0.02, frame="galactic")
    jmap = jfactor_map(g, prof)
    sep = xg.sky.separation(g, SkyCoord(0, 0, unit="deg", frame="galactic"))
    inside = float(jmap.where(sep < 1.0).sum())
    psi = np.concatenate([[0.0], np.geomspace(1e-5, 1.0, 20001)])
    j = jfactor(np.maximum(psi, 1e-9), prof)
    disc = float(np.trapezoid(j * 2 * np.pi * np.sin(np.radians(psi)), np.radians(psi)))
    assert 1e21 < inside < 1e23
    assert inside == pytest.approx(disc, rel=0.02)
