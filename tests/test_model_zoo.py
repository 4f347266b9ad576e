"""The model families of issue 13: values against formulas and published numbers, model files in
Gammapy's layout (the exact tags, keys and parameter names Gammapy writes) and YAML round trips."""

from __future__ import annotations

import math

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table

import xgamma as xg
from xgamma import sky
from xgamma.models import Models, SkyModel, spectral_model
from xgamma.models.spatial import spatial_model
from xgamma.models.spatial_extra import (
    piecewise_norm_spatial_model,
    read_template_nd,
    template_nd_spatial_model,
)
from xgamma.models.spectral_extra import dark_matter_model, dm_primary_spectrum, naima_model
from xgamma.models.temporal import temporal_model
from xgamma.models.temporal_extra import phase_curve_model, read_phase_curve


def _component(spectral: str, spatial: str = "", temporal: str = "") -> str:
    text = "components:\n- name: src\n  type: SkyModel\n  spectral:\n" + _indent(spectral, 4)
    if spatial:
        text += "  spatial:\n" + _indent(spatial, 4)
    if temporal:
        text += "  temporal:\n" + _indent(temporal, 4)
    return text


def _indent(block: str, n: int) -> str:
    return "".join(" " * n + ln + "\n" for ln in block.strip("\n").splitlines())


PL = """
type: PowerLawSpectralModel
parameters:
- {name: index, value: 2.0}
- {name: amplitude, value: 1.0e-12, unit: TeV-1 s-1 cm-2}
- {name: reference, value: 1.0, unit: TeV}
"""


def _round_trip(models: Models, tmp_path) -> Models:
    path = tmp_path / "models.yaml"
    xg.write_models(models, path)
    back = xg.read_models(path)
    assert repr(back.to_dict()) == repr(models.to_dict())  # (repr: NaN bounds compare equal)
    return back


# ------------------------------------------------------------------------------ spectral


def test_secpl_4fgl_dr1_gammapy_file(tmp_path):
    text = _component("""
type: SuperExpCutoffPowerLaw4FGLSpectralModel
parameters:
- {name: amplitude, value: 2.0e-09, unit: MeV-1 s-1 cm-2}
- {name: reference, value: 1000.0, unit: MeV}
- {name: expfactor, value: 0.0075}
- {name: index_1, value: 1.9}
- {name: index_2, value: 0.6667}
""")
    m = xg.read_models(text)
    spec = m["src"].spectral
    assert spec.parameters["amplitude"].value == pytest.approx(2e-3)  # TeV-1
    e_mev = np.array([100.0, 1000.0, 3e4])
    truth = 2e-9 * (e_mev / 1000) ** -1.9 * np.exp(0.0075 * (1000**0.6667 - e_mev**0.6667))  # MeV-1
    np.testing.assert_allclose(spec(e_mev / 1e6), truth * 1e6, rtol=1e-10)
    _round_trip(m, tmp_path)


def test_meyer_crab_published_values(tmp_path):
    """Meyer et al. (2010) appendix D: E^2 dN/dE = 10^P(log10 E) erg cm-2 s-1; at 1 TeV
    10^-10.2708 = 5.36e-11 erg cm-2 s-1 = 3.35e-11 TeV cm-2 s-1."""
    m = xg.read_models(_component("""
type: MeyerCrabSpectralModel
parameters:
- {name: norm, value: 1.0}
"""))
    crab = m["src"].spectral
    assert float(crab(1.0)) == pytest.approx(10**-10.2708 * 0.624150907, rel=1e-6)
    # local index 2 - dP/dlog10(E): 2.536 at 1 TeV (the linear coefficient), 2.0 near 80 GeV
    e = np.array([0.999, 1.001])
    index = -np.diff(np.log(crab(e))) / np.diff(np.log(e))
    assert float(index[0]) == pytest.approx(2.53616, abs=1e-4)
    _round_trip(m, tmp_path)


DM_GAMMAPY_22 = """
type: DarkMatterAnnihilationSpectralModel
parameters:
- {name: scale, value: 1.0}
channel: b
mDM: 5000.0 GeV
factor: 3.41e+19 GeV2 / cm5
z: 0
k: 2
primary_flux: {type: ContinuumPrimaryFlux, mDM: 5000.0 GeV, channel: b, source: pppc4}
source: pppc4
mapping_dict: null
"""
DM_GAMMAPY_1 = """
type: DarkMatterAnnihilationSpectralModel
parameters:
- {name: scale, value: 2.0}
mass: 5 TeV
channel: tau
jfactor: 3.41e+19 GeV2 / cm5
z: 0.5
k: 4
"""


def test_dark_matter_annihilation_gammapy_files(tmp_path):
    new = xg.read_models(_component(DM_GAMMAPY_22))["src"].spectral
    old = xg.read_models(_component(DM_GAMMAPY_1))["src"].spectral
    assert new.data["mDM"] == 5000.0 and new.data["factor"] == 3.41e19 and new.data["channel"] == "b"
    assert old.data["mDM"] == 5000.0 and old.data["k"] == 4 and old.data["z"] == 0.5
    # the formula: scale J <sigma v> dN/dE / (4 pi k m^2), dN/dE from the analytic yield
    e_tev = np.array([0.1, 1.0, 3.0])
    dnde = dm_primary_spectrum(e_tev * 1e3, 5000.0, "b")  # GeV-1
    truth = 3.41e19 * 3e-26 * dnde / (4 * np.pi * 2 * 5000.0**2) * 1e3
    np.testing.assert_allclose(new(e_tev), truth, rtol=1e-12)
    # redshift: the yield at E (1 + z)
    dnde_z = dm_primary_spectrum(e_tev * 1e3 * 1.5, 5000.0, "tau")
    np.testing.assert_allclose(old(e_tev), 2 * 3.41e19 * 3e-26 * dnde_z / (4 * np.pi * 4 * 5000.0**2) * 1e3,
                               rtol=1e-12)
    assert float(new(6.0)) == 0.0  # above the mass
    _round_trip(Models([SkyModel("dm", new), SkyModel("dm2", old)]), tmp_path)


def test_dark_matter_decay_and_yields(tmp_path):
    m = xg.read_models(_component("""
type: DarkMatterDecaySpectralModel
parameters:
- {name: scale, value: 1.0}
channel: tau
mDM: 10 TeV
factor: 1.0e+21 GeV / cm2
z: 0
"""))["src"].spectral
    e = np.array([0.5, 2.0, 4.9, 5.1])
    truth = 1e21 * dm_primary_spectrum(e * 1e3, 5000.0, "tau") / (4 * np.pi * 1e4 * 4.3e17) * 1e3
    np.testing.assert_allclose(m(e), truth, rtol=1e-12)
    assert float(m(5.1)) == 0.0  # photons of a decay carry at most mDM / 2
    # the published fits, written out at x = 0.1 (dN/dx = mass * dN/dE)
    tau = 0.1**-1.31 * (0.694 - 4.93e-2 - 0.51e-3) * math.exp(-0.453)
    b = 0.73 * 0.1**-1.5 * math.exp(-0.78)
    assert float(dm_primary_spectrum(100.0, 1e3, "tau")) * 1e3 == pytest.approx(tau, rel=1e-12)
    assert float(dm_primary_spectrum(100.0, 1e3, "b")) * 1e3 == pytest.approx(b, rel=1e-12)
    _round_trip(Models([SkyModel("dm", m)]), tmp_path)


def test_dark_matter_table_source(tmp_path):
    """A PPPC-like table (mDM, Log[10,x], channel): interpolated in log mass and log10 x."""
    lx = np.linspace(-6, 0, 61)
    rows = []
    for mass, amp in ((100.0, 1.0), (1000.0, 3.0)):
        for v in lx:
            rows.append((mass, v, amp * (1 - 10**v)))
    t = Table(rows=rows, names=("mDM", "Log[10,x]", "b"))
    path = tmp_path / "AtProduction_gammas.dat"
    t.write(path, format="ascii.basic", delimiter=" ")
    m = dark_matter_model("annihilation", 1000.0, "b", 1e19, source=str(path))
    e_gev = np.array([10.0, 100.0])
    expected = 3.0 * (1 - e_gev / 1000.0) / (e_gev * math.log(10))
    np.testing.assert_allclose(dm_primary_spectrum(e_gev, 1000.0, "b", str(path)), expected, rtol=1e-3)
    mid = dm_primary_spectrum(np.array([1.0]), math.sqrt(1e5), "b", str(path))  # half way in log mass
    assert float(mid[0]) == pytest.approx(2.0 * (1 - 1 / math.sqrt(1e5)) / math.log(10), rel=1e-3)
    back = _round_trip(Models([SkyModel("dm", m)]), tmp_path)
    assert back["dm"].spectral.data["source"] == str(path)
    with pytest.raises(xg.XgammaIOError, match="no column 'tau'"):
        dm_primary_spectrum(e_gev, 1000.0, "tau", str(path))


def test_dark_matter_bad_input():
    with pytest.raises(ValueError, match="channel 'nu'"):
        dark_matter_model("annihilation", 1000.0, "nu", 1e19)
    with pytest.raises(ValueError, match="k must be"):
        dark_matter_model("annihilation", 1000.0, "b", 1e19, k=3)
    with pytest.raises(ValueError, match="process"):
        dark_matter_model("scattering", 1000.0)


def test_naima_round_trip(tmp_path):
    pytest.importorskip("naima")
    m = naima_model("InverseCompton", "ExponentialCutoffPowerLaw", amplitude="1e33 eV-1", e_0="10 TeV",
                    alpha=2.0, e_cutoff="50 TeV", seed="CMB", distance="2 kpc")
    # 1 / d^2 scaling, and the cutoff shows at high energy
    m1 = naima_model("InverseCompton", "ExponentialCutoffPowerLaw", amplitude="1e33 eV-1", e_0="10 TeV",
                     alpha=2.0, e_cutoff="50 TeV", seed="CMB", distance="1 kpc")
    np.testing.assert_allclose(m(np.array([1.0, 10.0])) * 4, m1(np.array([1.0, 10.0])), rtol=1e-10)
    # integrals (Gauss-Legendre in log E) against a fine trapezoid of one vectorised evaluation
    e = np.geomspace(0.1, 100, 3001)
    f = m(e)
    edges = np.array([0.1, 1.0, 10.0, 100.0])
    ref = [np.trapezoid(f[(e >= a) & (e <= b)], e[(e >= a) & (e <= b)]) for a, b in zip(edges[:-1], edges[1:],
                                                                                          strict=True)]
    np.testing.assert_allclose(m.integral(edges[:-1], edges[1:]), ref, rtol=1e-4)
    back = _round_trip(Models([SkyModel("ic", m)]), tmp_path)
    np.testing.assert_allclose(back["ic"].spectral(np.array([1.0, 10.0])), m(np.array([1.0, 10.0])), rtol=1e-12)
    with pytest.raises(ValueError, match="radiative_model"):
        xg.read_models(_component("""
type: NaimaSpectralModel
parameters:
- {name: amplitude, value: 1.0e+33, unit: eV-1}
"""))


# ------------------------------------------------------------------------------ spatial


def test_shell2_gammapy_file_equals_shell(tmp_path):
    m = xg.read_models(_component(PL, """
type: Shell2SpatialModel
frame: galactic
parameters:
- {name: lon_0, value: 10.0, unit: deg}
- {name: lat_0, value: 0.5, unit: deg}
- {name: r_0, value: 30.0, unit: arcmin}
- {name: eta, value: 0.25}
"""))
    s2 = m["src"].spatial
    assert s2.type == "Shell2SpatialModel" and s2.parameters["r_0"].value == 0.5 and s2.frame == "galactic"
    shell = spatial_model("shell", frame="galactic", lon_0=10.0, lat_0=0.5, radius=0.375, width=0.125)
    g = xg.wcs_geom((10.0, 0.5), 1.4, 0.02, frame="galactic")
    np.testing.assert_allclose(s2.integrate_geom(g).values, shell.integrate_geom(g).values, atol=1e-15)
    assert float(s2.integrate_geom(g).sum()) == pytest.approx(1.0, abs=2e-3)
    # Gammapy's formula at the centre: norm * (sqrt(r0^2) - sqrt(rin^2)), flat-sky
    r0, rin = math.radians(0.5), math.radians(0.375)
    centre = 3 / (2 * math.pi * (r0**3 - rin**3)) * (r0 - rin)
    assert float(s2(10.0, 0.5)) == pytest.approx(centre, rel=1e-4)
    assert s2.evaluation_radius == 0.5
    _round_trip(m, tmp_path)


def test_constant_flux_gammapy_file(tmp_path):
    m = xg.read_models(_component(PL, """
type: ConstantFluxSpatialModel
parameters: []
"""))
    cf = m["src"].spatial
    g = xg.wcs_geom((83.6, 22.0), 2.0, 0.1)
    np.testing.assert_array_equal(cf.integrate_geom(g).values, 1.0)
    np.testing.assert_allclose(cf.evaluate_geom(g).values * sky.solid_angle(g).values, 1.0)
    assert "frame" not in cf.to_dict()
    _round_trip(m, tmp_path)


def test_piecewise_norm_spatial_gammapy_file(tmp_path):
    m = xg.read_models(_component(PL, """
type: PiecewiseNormSpatialModel
frame: galactic
parameters:
- {name: norm_0, value: 1.0}
- {name: norm_1, value: 2.0}
- {name: norm_2, value: 3.0}
- {name: norm_3, value: 4.0}
- {name: norm_4, value: 2.5}
lon:
  data: [359.0, 1.0, 359.0, 1.0, 0.0]
  unit: deg
lat:
  data: [-1.0, -1.0, 1.0, 1.0, 0.0]
  unit: deg
"""))
    pw = m["src"].spatial
    assert pw.parameters.names == ("norm_0", "norm_1", "norm_2", "norm_3", "norm_4") and pw.unit == ""
    # values at the nodes (across lon = 0), a linear field is reproduced exactly, 0 outside
    np.testing.assert_allclose(pw(np.array([359.0, 1.0, 0.0]), np.array([-1.0, 1.0, 0.0])), [1.0, 4.0, 2.5],
                               rtol=1e-12)
    lin = piecewise_norm_spatial_model([359.0, 1.0, 359.0, 1.0], [-1.0, -1.0, 1.0, 1.0], [1.0, 3.0, 2.0, 4.0])
    assert float(lin(0.5, 0.2)) == pytest.approx(2.5 + 0.5 + 0.1, rel=1e-6)  # 2.5 + lon (per deg) + lat / 2
    assert float(pw(5.0, 0.0)) == 0.0
    logm = piecewise_norm_spatial_model([0, 1, 0, 1], [0, 0, 1, 1], [1.0, 100.0, 1.0, 100.0], interp="log")
    assert float(logm(0.5, 0.5)) == pytest.approx(10.0, rel=1e-6)
    _round_trip(m, tmp_path)
    with pytest.raises(ValueError, match="at least 4"):
        piecewise_norm_spatial_model([0, 1, 2], [0, 0, 1])


def _gauss_stack(g, sigmas):
    lon = (np.where(g.ra.values > 180, g.ra.values - 360, g.ra.values) - 83.6) * math.cos(math.radians(22.0))
    r2 = lon**2 + (g.dec.values - 22.0) ** 2
    return np.stack([np.exp(-0.5 * r2 / s**2) / (2 * np.pi * math.radians(s) ** 2) for s in sigmas])


def test_template_nd_file_and_interpolation(tmp_path):
    g = xg.wcs_geom((83.6, 22.0), 1.0, 0.02)
    sig = np.array([0.05, 0.1, 0.2])
    cube = _gauss_stack(g, sig)
    hdr = sky.wcs_of(g).to_header()
    hdr["BANDSHDU"] = "BANDS"
    hdr["BUNIT"] = "sr-1"
    bands = fits.BinTableHDU(Table({"CHANNEL": np.arange(3), "SIGMA": sig}), name="BANDS")
    path = tmp_path / "template_nd.fits"
    fits.HDUList([fits.PrimaryHDU(cube, header=hdr), bands]).writeto(path)
    m = xg.read_models(_component(PL, f"""
type: TemplateNDSpatialModel
frame: icrs
filename: {path}
unit: sr-1
parameters:
- {{name: sigma, value: 0.1, min: 0.05, max: 0.2}}
"""))
    t = m["src"].spatial
    assert t.type == "TemplateNDSpatialModel" and t.parameters.names == ("sigma",)
    # at a node: the node's map; between nodes: geometric mean of the neighbours (log interpolation)
    y, x = 25, 25
    lon, lat = float(g.ra.values[y, x]), float(g.dec.values[y, x])
    assert float(t(lon, lat)) == pytest.approx(cube[1, y, x], rel=1e-9)
    mid = float(t(lon, lat, sigma=0.075))
    assert mid == pytest.approx(math.sqrt(cube[0, y, x] * cube[1, y, x]), rel=1e-9)
    assert read_template_nd(path).parameters["sigma"].max == 0.2
    back = _round_trip(m, tmp_path)
    assert back["src"].spatial.data["filename"] == str(path)


def test_template_nd_from_dataarray():
    import xarray as xr

    g = xg.wcs_geom((83.6, 22.0), 1.0, 0.05)
    cube = xr.DataArray(_gauss_stack(g, [0.1, 0.3]), dims=("sigma", "y", "x"), coords={"sigma": [0.1, 0.3]})
    cube = cube.assign_coords({k: v for k, v in g.coords.items()}).assign_attrs(g.attrs)
    t = template_nd_spatial_model(cube)
    assert t.parameters["sigma"].value == pytest.approx(0.2)
    frac = t.with_values(sigma=0.1).integrate_geom(g)
    assert float(frac.sum()) == pytest.approx(1.0, abs=0.01)
    with pytest.raises(ValueError, match="does not match"):
        template_nd_spatial_model(cube.values[0], sky.wcs_of(g), axes={"sigma": [0.1, 0.3]})


# ------------------------------------------------------------------------------ temporal


def test_powerlaw_temporal_gammapy_file(tmp_path):
    m = xg.read_models(_component(PL, "", """
type: PowerLawTemporalModel
parameters:
- {name: alpha, value: -1.5}
- {name: t_ref, value: 55000.0, unit: d}
- {name: t0, value: 24.0, unit: h}
"""))
    pl = m["src"].temporal
    assert pl.parameters["t0"].value == 1.0
    assert float(pl(55004.0)) == pytest.approx(4**-1.5)
    # integral: int_1^4 x^-1.5 dx = 2 (1 - 1/2) = 1, over 3 days
    assert float(pl.integral(55001.0, 55004.0)) == pytest.approx(1 / 3)
    assert float(temporal_model("powerlaw", alpha=-1.0, t_ref=0.0).integral(1.0, math.e)) == pytest.approx(
        1 / (math.e - 1))
    _round_trip(m, tmp_path)


def test_generalized_gaussian_temporal_gammapy_file(tmp_path):
    m = xg.read_models(_component(PL, "", """
type: GeneralizedGaussianTemporalModel
parameters:
- {name: t_ref, value: 55000.0, unit: d}
- {name: t_rise, value: 12.0, unit: h}
- {name: t_decay, value: 2.0, unit: d}
- {name: eta, value: 0.5}
"""))
    gg = m["src"].temporal
    assert float(gg(54999.5)) == pytest.approx(math.exp(-0.5))
    assert float(gg(55002.0)) == pytest.approx(math.exp(-0.5))
    # eta = 1/2: half Gaussians, int over all time = sqrt(2 pi) (t_rise + t_decay) / 2
    total = float(gg.integral(54900.0, 55100.0)) * 200.0
    assert total == pytest.approx(math.sqrt(2 * math.pi) * 2.5 / 2, rel=1e-9)
    # eta = 1: exp(-|dt| / (2 tau)): int_0^inf = 2 tau
    e1 = temporal_model("gengauss", t_ref=0.0, t_rise=1.0, t_decay=1.0, eta=1.0)
    assert float(e1.integral(0.0, 100.0)) * 100 == pytest.approx(2.0, rel=1e-9)
    # analytic integral = quadrature
    t1, t2 = np.array([54999.0, 55000.0]), np.array([55000.0, 55003.0])  # (quadrature: not across the kink)
    x, w = np.polynomial.legendre.leggauss(60)
    quad = [(b - a) / 2 * np.sum(w * gg((a + b) / 2 + (b - a) / 2 * x)) for a, b in zip(t1, t2, strict=True)]
    np.testing.assert_allclose(gg.integral(t1, t2) * (t2 - t1).sum(), quad, rtol=1e-8)
    _round_trip(m, tmp_path)


def test_phase_curve_gammapy_file(tmp_path):
    path = tmp_path / "phasecurve.fits"
    Table({"PHASE": [0.0, 0.2, 0.4, 0.6, 0.8, 1.0], "NORM": [1.0, 5.0, 1.0, 1.0, 3.0, 1.0]}).write(path)
    m = xg.read_models(_component(PL, "", f"""
type: TemplatePhaseCurveTemporalModel
parameters:
- {{name: t_ref, value: 48442.5, unit: d}}
- {{name: phi_ref, value: 0.0}}
- {{name: f0, value: 29.946923, unit: s-1}}
- {{name: f1, value: -3.77535e-10, unit: s-2}}
- {{name: f2, value: 1.1147e-20, unit: s-3}}
filename: {path}
normalize: true
"""))
    pc = m["src"].temporal
    # normalised: mean 1 over a period (the raw table's trapezoid mean is 2.2)
    # (MJD floats near 5e4 resolve 0.6 us: 2e-5 of the Crab's period, 1e-4 here on the steep peak)
    assert float(pc(48442.5 + 0.2 / 29.946923 / 86400)) == pytest.approx(5 / 2.2, rel=3e-4)
    # over a long interval the average is 1
    assert float(pc.integral(48442.5, 48443.5)) == pytest.approx(1.0, rel=1e-6)
    # the phase uses f1: after 10 days the period has grown
    pc0 = phase_curve_model([0.0, 0.5, 1.0], [1.0, 2.0, 1.0], f0=10.0, f1=-1e-6, t_ref=0.0)
    dt = 1000.0  # s
    ph = 10.0 * dt - 1e-6 * dt**2 / 2
    frac = ph - math.floor(ph)
    assert float(pc0(dt / 86400)) == pytest.approx(np.interp(frac, [0, 0.5, 1], [1, 2, 1]) / 1.5, rel=1e-6)
    assert read_phase_curve(path).data["filename"] == str(path)
    back = _round_trip(m, tmp_path)
    assert back["src"].temporal.parameters["f1"].value == pytest.approx(-3.77535e-10)


def test_registered_families_build_from_examples():
    from xgamma.models import registry

    for tag in ("SuperExpCutoffPowerLaw4FGLSpectralModel", "MeyerCrabSpectralModel",
                "DarkMatterAnnihilationSpectralModel", "DarkMatterDecaySpectralModel"):
        spec = registry.get_spec(tag, "spectral")
        m = spec.example() if spec.example else spectral_model(tag)
        assert np.all(np.isfinite(m(np.geomspace(0.05, 50, 7))))
    for tag in ("Shell2SpatialModel", "ConstantFluxSpatialModel", "PiecewiseNormSpatialModel",
                "TemplateNDSpatialModel"):
        assert tag in registry.names("spatial")
    for tag in ("PowerLawTemporalModel", "GeneralizedGaussianTemporalModel", "TemplatePhaseCurveTemporalModel"):
        assert tag in registry.names("temporal")


@pytest.mark.parametrize("name", ["PiecewiseNormSpatialModel", "TemplateNDSpatialModel"])
def test_contract_of_spatial_families_with_data(name):
    """The contract of tests/test_spatial.py for the families it leaves out: labelled and lazy
    evaluation, parameters as DataArrays (samples), finite gradients, YAML (piecewise norm)."""
    import dask.array as da
    import xarray as xr
    import yaml

    from xgamma.models.spatial import example_spatial_model, spatial_from_dict

    m = example_spatial_model(name)
    lon = 83.6 + np.linspace(-0.2, 0.25, 7) / math.cos(math.radians(22.0))
    lat = 22.0 + np.linspace(-0.15, 0.2, 7)
    base = m(lon, lat)
    assert np.all(np.isfinite(base)) and np.all(base > 0)
    lon_da = xr.DataArray(np.tile(lon, (3, 1)), dims=("y", "x"))
    lat_da = xr.DataArray(np.tile(lat, (3, 1)), dims=("y", "x"))
    p0 = m.parameters[0]
    samples = xr.DataArray(p0.value * np.array([1.0, 1.1]), dims="sample")
    out = m(lon_da, lat_da, **{p0.name: samples})
    assert set(out.dims) == {"y", "x", "sample"} and out.attrs["units"] == m.unit
    ref = m.with_values(**{p0.name: float(samples[1])})(lon, lat)
    np.testing.assert_allclose(out.isel(sample=1, y=0).transpose("x").values, ref, rtol=1e-12)
    lazy = m(lon_da.chunk({"y": 1}), lat_da.chunk({"y": 1}))
    assert isinstance(lazy.data, da.Array)
    np.testing.assert_allclose(lazy.compute().isel(y=2).values, base, rtol=1e-12)
    for p in m.parameters:
        h = 1e-5 * max(abs(p.value), 1.0)
        grad = (m(lon, lat, **{p.name: p.value + h}) - base) / h
        assert np.all(np.isfinite(grad)) and np.any(grad != 0), p.name
    if name == "PiecewiseNormSpatialModel":
        back = spatial_from_dict(yaml.safe_load(yaml.safe_dump(m.to_dict(full=True))))
        assert back == m


def test_families_with_data_say_how_to_build_them():
    with pytest.raises(ValueError, match="use dark_matter_model"):
        spectral_model("dm-annihilation")(1.0)
    with pytest.raises(ValueError, match="use piecewise_norm_spatial_model"):
        spatial_model("piecewise-norm")(0.0, 0.0)
    with pytest.raises(ValueError, match="use template_nd_spatial_model"):
        spatial_model("templateND")(0.0, 0.0)
    with pytest.raises(ValueError, match="use phase_curve_model"):
        temporal_model("template-phase")(55000.0)
    with pytest.raises(xg.XgammaIOError, match="cannot read a phase curve"):
        read_phase_curve("/no/such/phasecurve.fits")
