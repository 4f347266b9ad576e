"""Source catalogs: readers, queries, models (checked against the catalogs' own fluxes), flux
points, light curves and errors."""

from __future__ import annotations

import math
import warnings

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.table import Table

import xgamma as xg
from xgamma.catalogs import (
    CatalogError,
    catalog_flux_points,
    catalog_light_curve,
    catalog_models,
    catalog_names,
    catalog_row,
    catalog_spectral_model,
    cone,
    plot_catalog,
    read_catalog,
)
from xgamma.catalogs.fermi import GAUSS_R68, fermi_release
from xgamma.errors import XgammaIOError
from xgamma.estimators import to_sed_type

FILES = {
    "3fgl": "fermi/gll_psc_v16.fit.gz",
    "2fhl": "fermi/gll_psch_v09.fit.gz",
    "3fhl": "fermi/gll_psch_v13.fit.gz",
    "hgps": "hgps_catalog_v1.fits.gz",
    "gamma-cat": "gammacat/gammacat.fits.gz",
    "2hwc": "2HWC.ecsv",
    "3hwc": "3HWC.ecsv",
    "1lhaaso": "1LHAASO_catalog.fits",
}
ERG = 1.602176634  # TeV in erg


@pytest.fixture(scope="module")
def cats(data_path):
    return {}


def _cat(cats, name):
    if name not in cats:
        cats[name] = read_catalog(name)
    return cats[name]


@pytest.mark.parametrize("name", list(FILES))
def test_row_count_equals_file_table(cats, data_path, name):
    path = data_path / "catalogs" / FILES[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = Table.read(path, format="ascii.ecsv") if path.suffix == ".ecsv" else Table.read(path, hdu=1)
    df = _cat(cats, name)
    assert len(df) == len(t)
    assert df.attrs["catalog"] == name
    assert all(c == c.lower() for c in df.columns)
    assert df["source_name"].is_unique
    for c in ("ra", "dec", "glon", "glat"):
        assert df.attrs["units"][c] == "deg" and np.isfinite(df[c].to_numpy(float)).all()
    # positions agree between frames (the readers add the missing frame)
    c = SkyCoord(df.ra.to_numpy(float), df.dec.to_numpy(float), unit="deg").galactic
    sep = c.separation(SkyCoord(df.glon.to_numpy(float), df.glat.to_numpy(float), unit="deg",
                                       frame="galactic")).deg
    assert np.max(sep) < 0.01


def test_names_and_path_reading(data_path):
    assert set(FILES) | {"4fgl"} == set(catalog_names())
    by_path = read_catalog(data_path / "catalogs" / "3HWC.ecsv")
    assert by_path.attrs["catalog"] == "3hwc" and len(by_path) == 65


def _integral(model, lo, hi):
    return float(model.spectral.integral(lo, hi))


def test_3fgl_crab_flux1000(cats):
    df = _cat(cats, "3fgl")
    crab = catalog_row(df, "Crab")
    assert sorted(crab.source_name) == ["3FGL J0534.5+2201", "3FGL J0534.5+2201i", "3FGL J0534.5+2201s"]
    rows = catalog_row(df, "PSR J0534+2200")
    assert rows.source_name.tolist() == ["3FGL J0534.5+2201"] and rows.spectrumtype.iloc[0] == "PLExpCutoff"
    models = catalog_models(cone(df, 83.633, 22.014, 0.2))
    assert len(models) == 3
    for m in models:
        row = catalog_row(df, m.name)
        assert _integral(m, 1e-3, 0.1) == pytest.approx(float(row.flux1000.iloc[0]), rel=0.01)
        assert m.spatial.type == "PointSpatialModel"
        assert m.spatial.position == pytest.approx((float(row.ra.iloc[0]), float(row.dec.iloc[0])))
    # the pulsar: 3FGL's PLExpCutoff (E0 - E)/Ecut form, Ecut in MeV -> TeV
    psr = models["3FGL J0534.5+2201"].spectral
    assert psr.type == "ExpCutoffPowerLaw3FGLSpectralModel"
    assert psr.parameters["ecut"].value == pytest.approx(float(rows.cutoff.iloc[0]) * 1e-6)


def test_3fgl_all_sources_flux_and_energy_flux(cats):
    df = _cat(cats, "3fgl")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        models = catalog_models(df, skip_unsupported=True)
    assert len(models) == len(df) - 6  # 5 template sources, 1 two-Gaussian (LMC)
    byname = df.set_index("source_name")
    flux = np.array([_integral(m, 1e-3, 0.1) for m in models])
    eflux = np.array([float(m.spectral.energy_flux(1e-4, 0.1)) * ERG for m in models])
    ref = byname.loc[list(models.names), "flux1000"].to_numpy(float)
    ref_e = byname.loc[list(models.names), "energy_flux100"].to_numpy(float)
    rel = np.abs(flux / ref - 1)
    # all four spectral types, within 1 % except two degenerate fits with Flux_Density ~ 0
    types = byname.loc[list(models.names), "spectrumtype"].to_numpy()
    assert set(types) == {"PowerLaw", "LogParabola", "PLExpCutoff", "PLSuperExpCutoff"}
    assert np.sum(rel > 0.01) <= 2
    for t in set(types):
        assert np.median(rel[types == t]) < 0.003
    assert np.nanmax(np.abs(eflux / ref_e - 1)) < 0.01


def test_3fhl_crab_flux(cats):
    df = _cat(cats, "3fhl")
    row = catalog_row(df, "Crab Nebula")
    (m,) = catalog_models(row)
    assert m.name == "3FHL J0534.5+2201"
    assert _integral(m, 0.01, 1.0) == pytest.approx(float(row.flux.iloc[0]), rel=0.01)
    assert m.spectral.parameters["index"].value == pytest.approx(float(row.powerlaw_index.iloc[0]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        models = catalog_models(df, skip_unsupported=True)
    rel = np.array([_integral(mm, 0.01, 1.0) for mm in models]) / df.set_index("source_name").loc[
        list(models.names), "flux"].to_numpy(float) - 1
    assert np.median(np.abs(rel)) < 0.002 and np.sum(np.abs(rel) > 0.012) == 0


def test_hgps_integral_flux_all_sources(cats):
    # the Crab is outside the HGPS region (l = 184.6 deg): every source's Flux_Spec_Int_1TeV instead
    df = _cat(cats, "hgps")
    with pytest.raises(CatalogError, match="Crab"):
        catalog_row(df, "Crab")
    for row in df.to_dict("records"):
        spec = catalog_spectral_model(df[df.source_name == row["source_name"]])
        assert float(spec.integral(1.0, 1e5)) == pytest.approx(row["flux_spec_int_1tev"], rel=0.01)


def test_hgps_components_and_spatial(cats):
    df = _cat(cats, "hgps")
    vela = catalog_row(df, "Vela X")
    assert vela.source_name.tolist() == ["HESS J0835-455"]
    comps = catalog_models(vela)
    assert comps.names == ("HGPSC 001", "HGPSC 002", "HGPSC 003")
    total = sum(_integral(c, 1.0, 1e5) for c in comps)
    assert total == pytest.approx(float(vela.flux_spec_int_1tev.iloc[0]), rel=0.01)
    assert comps[0].spatial.frame == "galactic" and comps[0].spatial.type == "GaussianSpatialModel"
    assert comps[0].spatial.parameters["sigma"].value == pytest.approx(vela.gauss_components.iloc[0][0]["size"])
    one = catalog_models(vela, which="source")
    assert one.names == ("HESS J0835-455",) and one[0].spatial.parameters["sigma"].value == pytest.approx(
        float(vela["size"].iloc[0]))
    shell = catalog_models(catalog_row(df, "Vela Junior"))[0]
    assert shell.spatial.type == "ShellSpatialModel"
    p = shell.spatial.parameters
    assert p["radius"].value + p["width"].value == pytest.approx(1.0)
    pl = catalog_spectral_model(vela, which="pl")
    assert float(pl.integral(1.0, 1e5)) == pytest.approx(float(vela.flux_spec_pl_int_1tev.iloc[0]), rel=0.01)


def test_hgps_flux_points(cats):
    df = _cat(cats, "hgps")
    row = catalog_row(df, "HESS J1825-137")
    fp = catalog_flux_points(row)
    n = int(row.n_flux_points.iloc[0])
    assert fp.sizes["energy"] == n
    r = row.iloc[0]
    spec = catalog_spectral_model(row)
    e = np.asarray(r.flux_points_energy[:n], float)
    # norm x model at the published energy gives back the published dnde
    dnde = fp.norm.values * spec(e)
    ok = ~np.asarray(r.flux_points_flux_is_ul[:n], bool)
    np.testing.assert_allclose(dnde[ok], np.asarray(r.flux_points_flux[:n], float)[ok], rtol=1e-6)
    assert fp.is_ul.values.tolist() == np.asarray(r.flux_points_flux_is_ul[:n], bool).tolist()
    # the published points follow the catalog spectra: median norm of each source near 1
    medians = []
    for i in range(len(df)):
        f = catalog_flux_points(df.iloc[[i]])
        ok = ~f.is_ul.values & np.isfinite(f.norm.values)
        medians.append(np.median(f.norm.values[ok]))
    assert np.median(medians) == pytest.approx(1.0, abs=0.05) and np.percentile(medians, 90) < 1.2
    crab = catalog_flux_points(catalog_row(_cat(cats, "gamma-cat"), "Crab nebula"))
    assert crab.sizes["energy"] == 12 and np.all(np.abs(crab.norm.values - 1) < 0.3)


def test_3hwc_crab_dnde_7tev(cats):
    df = _cat(cats, "3hwc")
    row = catalog_row(df, "3HWC J0534+220")
    (m,) = catalog_models(row)
    assert float(m.spectral(7.0)) == pytest.approx(float(row.spec0_dnde.iloc[0]), rel=0.01)
    assert m.spectral.parameters["index"].value == pytest.approx(-float(row.spec0_index.iloc[0]))
    assert m.spatial.type == "PointSpatialModel"
    ext = catalog_models(df[df.spec0_radius > 0].iloc[[0]])[0]
    assert ext.spatial.type == "DiskSpatialModel" and ext.spatial.parameters["r_0"].value > 0
    two = catalog_models(catalog_row(_cat({}, "2hwc"), "2HWC J1837-065"), which="spec1")[0]
    assert two.spatial.parameters["r_0"].value == 2.0 and float(two.spectral(7.0)) == pytest.approx(3.41e-13)


def test_other_crabs(cats):
    gc = _cat(cats, "gamma-cat")
    row = catalog_row(gc, "Crab nebula")
    (m,) = catalog_models(row)
    assert _integral(m, 1.0, 1e5) == pytest.approx(float(row.spec_flux_1tev.iloc[0]), rel=0.01)
    lh = _cat(cats, "1lhaaso")
    row = catalog_row(lh, "Crab")
    wcda, km2a = catalog_models(row)
    assert float(wcda.spectral(3.0)) == pytest.approx(2.11e-12) and float(km2a.spectral(50.0)) == pytest.approx(6.23e-16)
    fhl = _cat(cats, "2fhl")
    row = catalog_row(fhl, "Crab")
    (m,) = catalog_models(row)
    assert _integral(m, 0.05, 2.0) == pytest.approx(float(row.flux50.iloc[0]), rel=1e-6)


def test_fermi_extended_sources(cats):
    df = _cat(cats, "3fhl")
    ext = df[df.model_form != ""]
    gauss = ext[ext.model_form == "2D Gaussian"].iloc[[0]]
    (m,) = catalog_models(gauss)
    assert m.spatial.type == "GaussianSpatialModel"
    assert m.spatial.parameters["sigma"].value == pytest.approx(float(gauss.model_semimajor.iloc[0]) / GAUSS_R68)
    # 68 % of a 2D Gaussian lies within 1.5096 sigma
    assert 1 - math.exp(-(GAUSS_R68**2) / 2) == pytest.approx(0.68)
    disk = ext[ext.model_form == "Disk"].iloc[[0]]
    assert catalog_models(disk)[0].spatial.parameters["r_0"].value == pytest.approx(float(disk.model_semimajor.iloc[0]))


def test_flux_points_3fgl_3fhl(cats):
    df = _cat(cats, "3fgl")
    row = catalog_row(df, "3FGL J0534.5+2201i")
    fp = catalog_flux_points(row)
    assert fp.sizes["energy"] == 5
    np.testing.assert_allclose(fp.energy_min.values, [1e-4, 3e-4, 1e-3, 3e-3, 1e-2])
    sed = to_sed_type(fp, "flux")
    r = row.iloc[0]
    np.testing.assert_allclose(sed.flux.values, [r.flux100_300, r.flux300_1000, r.flux1000_3000, r.flux3000_10000,
                                                 r.flux10000_100000], rtol=1e-6)
    # a band with a missing lower error is an upper limit: flux + 2 x upper error
    with_ul = df[[bool(np.isnan(np.asarray(v, float)[0])) for v in df.unc_flux100_300]].iloc[[0]]
    fp_ul = catalog_flux_points(with_ul)
    ul = to_sed_type(fp_ul, "flux")
    v = with_ul.iloc[0]
    assert bool(fp_ul.is_ul[0]) and float(ul.flux_ul[0]) == pytest.approx(v.flux100_300 + 2 * v.unc_flux100_300[1], rel=1e-6)
    h = _cat(cats, "3fhl")
    fp = catalog_flux_points(catalog_row(h, "Crab Nebula"))
    np.testing.assert_allclose(to_sed_type(fp, "flux").flux.values, catalog_row(h, "Crab Nebula").flux_band.iloc[0],
                               rtol=1e-6)
    assert fp.energy_max.values[-1] == pytest.approx(2.0)


def test_light_curve_3fgl(cats):
    df = _cat(cats, "3fgl")
    row = catalog_row(df, "3FGL J0534.5+2201")
    lc = catalog_light_curve(row)
    assert lc.sizes["time"] == 48 and lc.sizes["energy"] == 1
    flux = to_sed_type(lc, "flux").flux.values[:, 0]
    np.testing.assert_allclose(flux, row.flux_history.iloc[0], rtol=1e-6)
    # bin starts: the file's Hist_Start (Fermi MET, seconds since MJD 51910 TT), ~monthly
    from astropy.io import fits as afits
    from astropy.time import Time

    from xgamma.estimators.core import time_mjd

    with afits.open(df.attrs["path"]) as h:
        met = np.asarray(h["Hist_Start"].data["Hist_Start"], float)
    expected = (Time(51910, format="mjd", scale="tt") + met * u.s).mjd
    np.testing.assert_allclose(time_mjd(lc, "time_min"), expected[:-1], atol=1e-6)
    np.testing.assert_allclose(time_mjd(lc, "time_max"), expected[1:], atol=1e-6)
    assert np.median(np.diff(expected)) == pytest.approx(30.4, abs=0.2)


def _fake_4fgl(path, release):
    n_hist = {"DR1": 8, "DR3": 12}[release]
    n_band = {"DR1": 7, "DR3": 8}[release]
    cols = [
        fits.Column("Source_Name", "18A", array=["4FGL J0000.0+0000", "4FGL J0001.0+0000"]),
        fits.Column("RAJ2000", "E", unit="deg", array=[10.0, 11.0]),
        fits.Column("DEJ2000", "E", unit="deg", array=[-5.0, -5.0]),
        fits.Column("GLON", "E", unit="deg", array=[104.46, 106.43]),
        fits.Column("GLAT", "E", unit="deg", array=[-67.79, -67.65]),
        fits.Column("Pivot_Energy", "E", unit="MeV", array=[1000.0, 2000.0]),
        fits.Column("SpectrumType", "17A", array=["PLSuperExpCutoff" + ("4" if release == "DR3" else "2"), "LogParabola"]),
        fits.Column("PL_Flux_Density", "E", unit="photon/cm**2/MeV/s", array=[1e-11, 2e-12]),
        fits.Column("PL_Index", "E", array=[2.0, 2.2]),
        fits.Column("LP_Flux_Density", "E", unit="photon/cm**2/MeV/s", array=[1e-11, 2e-12]),
        fits.Column("LP_Index", "E", array=[2.0, 2.1]),
        fits.Column("LP_beta", "E", array=[0.1, 0.05]),
        fits.Column("PLEC_Flux_Density", "E", unit="photon/cm**2/MeV/s", array=[1e-11, 2e-12]),
        fits.Column("PLEC_Exp_Index", "E", array=[0.6667, 0.6667]),
        fits.Column("Flux_Band", f"{n_band}E", unit="photon/cm**2/s", array=np.full((2, n_band), 1e-9)),
        fits.Column("Unc_Flux_Band", f"{2 * n_band}E", unit="photon/cm**2/s", dim=f"(2,{n_band})",
                    array=np.tile([-1e-10, 1e-10], (2, n_band, 1))),
        fits.Column("Sqrt_TS_Band", f"{n_band}E", array=np.full((2, n_band), 5.0)),
        fits.Column("Flux_History", f"{n_hist}E", unit="photon/cm**2/s", array=np.full((2, n_hist), 1e-8)),
        fits.Column("Unc_Flux_History", f"{2 * n_hist}E", unit="photon/cm**2/s", dim=f"(2,{n_hist})",
                    array=np.tile([-1e-9, 1e-9], (2, n_hist, 1))),
        fits.Column("Extended_Source_Name", "18A", array=["", ""]),
        fits.Column("ASSOC1", "26A", array=["PSR J0000+0000", "a blazar"]),
    ]
    if release == "DR3":
        cols += [fits.Column("PLEC_IndexS", "E", array=[1.5, 1.5]), fits.Column("PLEC_ExpfactorS", "E", array=[0.3, 0.3])]
    else:
        cols += [fits.Column("PLEC_Index", "E", array=[1.5, 1.5]), fits.Column("PLEC_Expfactor", "E", array=[5e-3, 5e-3])]
    hist = fits.BinTableHDU.from_columns([fits.Column("Hist_Start", "D", unit="s",
                                                      array=239557417.0 + 31557600.0 * np.arange(n_hist + 1))],
                                         name="Hist_Start")
    fits.HDUList([fits.PrimaryHDU(), fits.BinTableHDU.from_columns(cols, name="LAT_Point_Source_Catalog"),
                  hist]).writeto(path)


@pytest.mark.parametrize("release", ["DR1", "DR3"])
def test_4fgl_layouts(tmp_path, release):
    path = tmp_path / f"gll_psc_v{'22' if release == 'DR1' else '31'}.fit"
    _fake_4fgl(path, release)
    with pytest.raises(CatalogError, match="4fgl.*path"):
        read_catalog("4fgl")
    df = read_catalog("4fgl", path=path)
    assert df.attrs["release"] == release and read_catalog(path).attrs["catalog"] == "4fgl"
    psr, lp = catalog_models(df)
    e = np.array([0.1, 1.0, 10.0]) * 1e-3  # TeV
    x = e / 1e-3
    if release == "DR3":  # PLSuperExpCutoff4: K x^(d/b - G) exp(d/b^2 (1 - x^b))
        d, b = 0.3, 0.6667
        expected = 1e-11 * 1e6 * x ** (d / b - 1.5) * np.exp(d / b**2 * (1 - x**b))
    else:  # PLSuperExpCutoff2: K x^-G exp(a (E0^b - E^b)), E in MeV
        a, b = 5e-3, 0.6667
        expected = 1e-11 * 1e6 * x**-1.5 * np.exp(a * (1000.0**b - (e * 1e6) ** b))
    np.testing.assert_allclose(psr.spectral(e), expected, rtol=1e-5)
    assert lp.spectral.type == "LogParabolaSpectralModel" and lp.spectral.parameters["beta"].value == pytest.approx(0.05)
    fp = catalog_flux_points(df.iloc[[1]])
    assert fp.sizes["energy"] == (8 if release == "DR3" else 7)
    assert fp.energy_max.values[-1] == pytest.approx(1.0 if release == "DR3" else 0.3)
    lc = catalog_light_curve(df.iloc[[0]])
    assert lc.sizes["time"] == (12 if release == "DR3" else 8)
    assert catalog_models(df.iloc[[0]], which="pl")[0].spectral.type == "PowerLawSpectralModel"
    assert fermi_release(df.columns, 14) == ("DR4" if release == "DR3" else "DR2")


def test_cone_and_queries(cats):
    df = _cat(cats, "3fgl")
    near = cone(df, 184.557, -5.784, "0.5 deg", frame="galactic")
    assert near.source_name.iloc[:3].str.startswith("3FGL J0534.5+2201").all()
    assert near.separation.is_monotonic_increasing and near.attrs["units"]["separation"] == "deg"
    assert near.attrs["catalog"] == "3fgl"
    # plain pandas queries keep the attrs, so the rows still turn into models
    bright = df[(df.flux1000 > 1e-7) & (df.glat.abs() < 5)]
    assert len(catalog_models(bright)) == len(bright)


def test_bad_inputs(cats, data_path, tmp_path):
    with pytest.raises(CatalogError) as exc:
        read_catalog("4FGL-DR9")
    msg = str(exc.value)
    assert "\n" not in msg and "'4FGL-DR9'" in msg and "3fgl" in msg and "1lhaaso" in msg
    with pytest.raises(XgammaIOError) as exc:
        read_catalog("3hwc", path=tmp_path / "missing.ecsv")
    assert "missing.ecsv" in str(exc.value) and "\n" not in str(exc.value)
    with pytest.raises(CatalogError) as exc:
        catalog_row(_cat(cats, "3fhl"), "No Such Source")
    assert "'No Such Source'" in str(exc.value) and "\n" not in str(exc.value)
    lmc = catalog_row(_cat(cats, "2fhl"), "2FHL J0526.6-6825e")
    with pytest.raises(CatalogError) as exc:
        catalog_models(lmc)
    assert str(exc.value) == "source '2FHL J0526.6-6825e': spatial model '2D Gaussian x2' is not supported"
    gc = _cat(cats, "gamma-cat")
    with pytest.raises(CatalogError, match="spectral model 'none' is not supported"):
        catalog_models(gc[gc.spec_type == "none"].iloc[[0]])
    template = _cat(cats, "3fgl")
    w44 = template[template.extended_source_name == "W44"]
    with pytest.raises(CatalogError, match="'3FGL J1855.9\\+0121e'.*'W44.fits'.*template_dir"):
        catalog_models(w44)
    with pytest.raises(CatalogError, match="not found"):
        catalog_models(w44, template_dir=tmp_path)
    bare = template.iloc[[0]].copy()
    bare.attrs = {}
    with pytest.raises(CatalogError, match="catalog="):
        catalog_models(bare)
    assert catalog_models(bare.assign(), catalog="3fgl").names == (template.source_name.iloc[0],)


def test_plot_catalog_over_map(cats):
    import matplotlib.pyplot as plt

    df = _cat(cats, "hgps")
    m = xg.sky.empty(xg.wcs_geom((0.0, 0.0), (20.0, 6.0), 0.1, frame="galactic")) + 1.0
    ax = plot_catalog(df, sky_map=m, labels=True)
    inside = df[(df.glon.where(df.glon < 180, df.glon - 360).abs() < 10) & (df.glat.abs() < 3)]
    assert len(ax.collections[-1].get_offsets()) == len(inside)
    plt.close("all")


def test_models_yaml_round_trip(cats, tmp_path):
    fgl, hgps, fhl = _cat(cats, "3fgl"), _cat(cats, "hgps"), _cat(cats, "2fhl")
    models = (catalog_models(catalog_row(fgl, "Crab")) + catalog_models(catalog_row(hgps, "Vela X"))
              + catalog_models(fhl[fhl.model_form == "Elliptical Disk"])
              + catalog_models(catalog_row(_cat(cats, "gamma-cat"), "RCW 86"))
              + catalog_models(fgl[fgl.spectrumtype == "PLSuperExpCutoff"].iloc[[0]])
              + catalog_models(fgl[fgl.spectrumtype == "LogParabola"].iloc[[0]]))
    xg.write_models(models, tmp_path / "catalog.yaml")
    back = xg.read_models(tmp_path / "catalog.yaml")
    assert back == models
    e = np.geomspace(1e-4, 10, 7)
    for a, b in zip(models, back, strict=True):
        np.testing.assert_allclose(b.spectral(e), a.spectral(e), rtol=1e-12)
    disk = back["2FHL J1923.2+1408e"].spatial
    assert disk.type == "DiskSpatialModel" and 0 < disk.parameters["e"].value < 1


def test_fermi_template_from_template_dir(cats, tmp_path):
    fgl = _cat(cats, "3fgl")
    w44 = fgl[fgl.extended_source_name == "W44"]
    hdr = fits.Header({"CTYPE1": "RA---CAR", "CTYPE2": "DEC--CAR", "CRPIX1": 11.0, "CRPIX2": 11.0,
                       "CRVAL1": 284.0, "CRVAL2": 0.0, "CDELT1": -0.05, "CDELT2": 0.05})
    img = np.zeros((21, 21))
    img[8:13, 8:13] = 1.0
    fits.PrimaryHDU(img, hdr).writeto(tmp_path / str(w44.spatial_filename.iloc[0]))
    (m,) = catalog_models(w44, template_dir=tmp_path)
    assert m.spatial.type == "TemplateSpatialModel" and w44.model_form.iloc[0] == "Ring"
    # normalised template: the peak surface brightness is 1 / (25 pixels x pixel solid angle)
    val = float(np.asarray(m.spatial.evaluate_values(np.array([284.0]), np.array([0.0]), []))[0])
    assert val == pytest.approx(1 / (25 * np.radians(0.05) ** 2), rel=0.01)
