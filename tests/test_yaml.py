"""Model YAML: Gammapy files read, written and read back; covariance tables; aliases and units."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
import yaml

import xgamma as xg
from xgamma.io.yaml import models_to_yaml, read_covariance, write_covariance
from xgamma.models import GaussianPrior, Models, SkyModel, spectral_model
from xgamma.models.components import BackgroundModel, GenericModel


def _round_trip(models, tmp_path, name="m.yaml"):
    path = xg.write_models(models, tmp_path / name)
    return xg.read_models(path), path


def test_crab_1d_start_model(data, tmp_path):
    m = xg.read_models(data.parent / "reference" / "crab_1d_models.yaml")
    spec = m["Crab"].spectral
    assert spec.type == "PowerLawSpectralModel"
    p = spec.parameters
    assert (p["index"].value, p["amplitude"].value, p["reference"].value) == (2.5, 3e-11, 1.0)
    assert p["reference"].frozen and not p["index"].frozen
    spatial = m["Crab"].spatial
    assert spatial.type == "PointSpatialModel" and spatial.parameters["lon_0"].value == 83.633
    back, _ = _round_trip(m, tmp_path)
    assert back.parameters == m.parameters
    assert back["Crab"].spatial.type == "PointSpatialModel"


@pytest.mark.parametrize("kind,n", [("PL", 3), ("ECPL", 5)])
def test_simulated_spectrum_models_and_covariance(data, kind, n):
    m = xg.read_models(data / f"datasets/simulations/simulated_spectrum_dataset_{kind}_model.yaml")
    assert m.covariance is not None and m.covariance.shape == (n, n)
    assert list(m.covariance.param.values) == list(m.parameters.names)
    assert m.parameters["source.spectral.amplitude"].value == 1e-12
    if kind == "ECPL":
        assert m["source"].spectral.parameters["lambda_"].unit == "TeV-1"


def test_map_model_with_background_component(data, tmp_path):
    m = xg.read_models(data / "datasets/simulations/simulated_map_dataset_model.yaml")
    assert m.names == ("E4h3eiR--bkg", "source")
    bkg = m["E4h3eiR--bkg"]
    assert isinstance(bkg, BackgroundModel) and bkg.datasets_names == ("E4h3eiR-",)
    # the covariance file names are exactly our flat parameter names
    assert sorted(m.covariance.param.values) == sorted(m.parameters.names)
    assert m["source"].spatial.type == "GaussianSpatialModel"
    assert m["source"].spatial.parameters["sigma"].value == 0.4
    back, path = _round_trip(m, tmp_path)
    assert back.parameters == m.parameters and back.names == m.names
    text = yaml.safe_load(path.read_text())
    assert text["covariance"] == "m_covariance.dat" and (tmp_path / "m_covariance.dat").exists()
    assert text["components"][0]["type"] == "FoVBackgroundModel" and "name" not in text["components"][0]
    assert text["components"][1]["spatial"]["frame"] == "galactic"


def test_fermi_models(data, tmp_path):
    m = xg.read_models(data / "fermi-3fhl-crab/Fermi-LAT-3FHL_models.yaml")
    lp = m["Crab Nebula"].spectral
    assert lp.type == "LogParabolaSpectralModel"
    assert lp.parameters["amplitude"].error == pytest.approx(0.003026327991562108)
    assert lp.parameters["alpha"].bounds == (None, None)  # .nan in the file
    assert m["Fermi-LAT-bkg"].spectral.parameters["norm"].bounds == (0.0, None)
    back, _ = _round_trip(m, tmp_path)
    assert back.parameters == m.parameters


def test_aliases_units_and_unknown_types(tmp_path):
    text = """
components:
- name: src
  type: SkyModel
  spectral:
    type: ecpl
    parameters:
    - {name: amplitude, value: 1.0e-9, unit: MeV-1 cm-2 s-1}
    - {name: reference, value: 500, unit: GeV}
    - {name: lambda_, value: 0.5, unit: GeV-1}
  spatial:
    type: MyFancySpatialModel
    frame: galactic
    filename: somewhere.fits
    parameters:
    - {name: lon_0, value: 1.5, unit: deg}
  datasets_names: [a, b]
"""
    m = xg.read_models(text)
    p = m["src"].spectral.parameters
    assert p["amplitude"].value == pytest.approx(1e-3) and p["amplitude"].unit == "cm-2 s-1 TeV-1"
    assert p["reference"].value == pytest.approx(0.5) and p["reference"].frozen  # default frozen kept
    assert p["lambda_"].value == pytest.approx(500.0)
    sp = m["src"].spatial
    assert isinstance(sp, GenericModel) and sp.extra["filename"] == "somewhere.fits"
    assert m["src"].datasets_names == ("a", "b")
    back, path = _round_trip(m, tmp_path)
    d = yaml.safe_load(path.read_text())["components"][0]
    assert d["spectral"]["type"] == "ExpCutoffPowerLawSpectralModel"  # canonical Gammapy name
    assert d["spatial"] == {"type": "MyFancySpatialModel", "frame": "galactic", "filename": "somewhere.fits",
                            "parameters": [{"name": "lon_0", "value": 1.5, "unit": "deg"}]}
    assert back.parameters == m.parameters
    with pytest.raises(KeyError, match="known"):
        xg.read_models("components:\n- {name: x, type: SkyModel, spectral: {type: NoSuchModel}}\n")
    with pytest.raises(ValueError, match="unknown parameters"):
        xg.read_models("components:\n- {name: x, type: SkyModel, spectral: {type: pl, parameters: "
                       "[{name: indx, value: 2}]}}\n")


def test_priors_links_compound_round_trip(tmp_path, data):
    pl = spectral_model("pl", index=2.3)
    comp = spectral_model("lp10") * xg.models.ebl_absorption("dominguez", redshift=0.2)
    m = Models([SkyModel("a", pl), SkyModel("b", comp, datasets_names=("x",))])
    pars = m.parameters.with_prior("a.spectral.index", GaussianPrior(mu=2.3, sigma=0.1))
    pars = pars.with_link(["a.spectral.index", "b.spectral.model1.alpha"], "idx")
    m = m.with_parameters(pars)
    back, path = _round_trip(m, tmp_path)
    assert back.parameters == m.parameters
    assert back["b"].spectral.model2.data["filename"].endswith("ebl_dominguez11.fits.gz")
    e = np.geomspace(0.1, 10, 5)
    np.testing.assert_allclose(back["b"].spectral(e), m["b"].spectral(e), rtol=1e-13)
    assert "link: idx" in path.read_text() and "GaussianPrior" in path.read_text()


def test_covariance_tables(tmp_path):
    names = ["s.spectral.index", "s.spectral.amplitude"]
    cov = xr.DataArray([[0.01, -1e-14], [-1e-14, 4e-26]], dims=("param", "param_"),
                       coords={"param": names, "param_": names})
    p = write_covariance(cov, tmp_path / "c.dat")
    back = read_covariance(p)
    np.testing.assert_array_equal(back.values, cov.values)
    # a plain whitespace table
    (tmp_path / "w.dat").write_text("s.spectral.index 0.01 0.0\ns.spectral.amplitude 0.0 4e-26\n")
    np.testing.assert_array_equal(read_covariance(tmp_path / "w.dat").values, [[0.01, 0], [0, 4e-26]])
    # through a fit: errors and covariance land in the YAML and come back
    from xgamma.fitting.fold import example_dataset

    res = xg.fit(example_dataset(), Models([SkyModel("s", spectral_model("pl"))]))
    back, _ = _round_trip(res.models, tmp_path, "fit.yaml")
    np.testing.assert_allclose(back.covariance.sel(param=names, param_=names).values,
                               res.result.covariance.values, rtol=1e-14)
    assert back["s"].spectral.parameters["index"].error == pytest.approx(float(res.result.error[0]))
    assert models_to_yaml(back).startswith("components:")
