"""Round trip with the established tool: files written by Gammapy 2.1 (``gammapy-written/``) read
in xgamma, and what xgamma writes in those formats has the same columns, shapes and units."""

from __future__ import annotations

import numpy as np
import pytest
import yaml
from astropy.io import fits
from astropy.table import Table

from xgamma.config import AnalysisConfig, ConfigError
from xgamma.estimators.sed import read_sed, write_sed


@pytest.fixture(scope="module")
def ref(data_path):
    d = data_path.parent / "reference" / "gammapy-written"
    if not d.is_dir():
        pytest.skip("gammapy-written reference files not found")
    return d


def _tree(d, prefix=""):
    out = {}
    for k, v in d.items():
        if isinstance(v, dict) and v:
            out.update(_tree(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


# ------------------------------------------------------------------------------------ config

@pytest.mark.parametrize("name", ["analysis_config_default.yaml", "analysis_config_crab_1d.yaml"])
def test_config_reads_and_writes_every_key(ref, tmp_path, name):
    raw = yaml.safe_load((ref / name).read_text())
    cfg = AnalysisConfig.read(ref / name)
    out = tmp_path / "c.yaml"
    cfg.write(out, gammapy=True)
    written = yaml.safe_load(out.read_text())
    want, got = _tree(raw), _tree(written)
    assert list(got) == list(want)            # same keys, same order
    for key, value in want.items():
        if key == "observations.datastore":
            continue
        if isinstance(value, str) and value and value[0].isdigit() and " " in value:
            # quantities: "5.0 deg", "0.2 TeV"
            v, unit = value.split(" ", 1)
            gv, gunit = got[key].split(" ", 1)
            assert (float(gv), gunit) == (float(v), unit), key
        else:
            assert got[key] == value, key
    assert AnalysisConfig.read(out) == cfg


def test_config_null_energy_edges(ref):
    cfg = AnalysisConfig.read(ref / "analysis_config_default.yaml")
    assert cfg.flux_points.energy.edges_tev() is None
    assert cfg.excess_map.energy_edges.nbins is None and cfg.light_curve.energy_edges.min is None
    crab = AnalysisConfig.read(ref / "analysis_config_crab_1d.yaml")
    np.testing.assert_allclose(crab.flux_points.energy.edges_tev()[[0, -1]], [0.6, 20.0])
    assert crab.flux_points.energy.edges_tev().size == 7


def test_config_half_given_edges_is_one_line_error():
    with pytest.raises(ConfigError, match=r"^flux_points\.energy: give min, max and nbins together"):
        AnalysisConfig.from_dict({"flux_points": {"energy": {"min": "1 TeV", "max": "10 TeV"}}})


# ------------------------------------------------------------------------------------ SED

def _compare_tables(mine: Table, theirs: Table, extra=("valid",)):
    names = [c for c in mine.colnames if c not in extra]
    assert names == theirs.colnames
    for c in theirs.colnames:
        assert mine[c].shape == theirs[c].shape, c
        assert (mine[c].unit is None) == (theirs[c].unit is None), c
        if theirs[c].unit is not None:
            assert mine[c].unit == theirs[c].unit, c
        if theirs[c].dtype.kind == "b":
            np.testing.assert_array_equal(mine[c], theirs[c], err_msg=c)
        else:
            np.testing.assert_allclose(np.asarray(mine[c], float), np.asarray(theirs[c], float),
                                       rtol=1e-6, equal_nan=True, err_msg=c)
    for k in ("SED_TYPE", "UL_CONF"):
        assert mine.meta[k] == pytest.approx(theirs.meta[k]) if k == "UL_CONF" else mine.meta[k] == theirs.meta[k]


@pytest.mark.parametrize("name,sed_type", [
    ("crab_flux_points_likelihood.ecsv", "likelihood"),
    ("crab_flux_points_likelihood.fits", "likelihood"),
    ("crab_flux_points_e2dnde.ecsv", "e2dnde"),
])
def test_sed_column_by_column(ref, tmp_path, name, sed_type):
    src = ref / name
    theirs = Table.read(src, hdu=1) if name.endswith(".fits") else Table.read(src)
    res = read_sed(src)
    assert res.sizes["energy"] == 6 and res.sizes["norm_scan"] == 11
    np.testing.assert_allclose(res.energy_min[0], 0.5448139854853323)
    if sed_type == "likelihood":
        np.testing.assert_allclose(res.norm.values, np.asarray(theirs["norm"]))
        np.testing.assert_allclose(res.npred.values, np.asarray(theirs["npred"])[:, 0])
    out = tmp_path / src.name
    write_sed(res, out, sed_type=sed_type)
    mine = Table.read(out, hdu=1) if name.endswith(".fits") else Table.read(out)
    _compare_tables(mine, theirs)


def test_sed_fits_has_fluxpoints_hdu(ref, tmp_path):
    res = read_sed(ref / "crab_flux_points_likelihood.fits")
    write_sed(res, tmp_path / "fp.fits")

    with fits.open(tmp_path / "fp.fits") as h:
        assert h[1].name == "FLUXPOINTS"
        assert h[1].header["TDIM15"].strip() == "(1)"   # npred: energy x dataset


def test_sed_per_dataset_columns_sum(tmp_path, ref):
    t = Table.read(ref / "crab_flux_points_likelihood.ecsv")
    t["npred"] = np.repeat(np.asarray(t["npred"]), 2, axis=1) / 2   # two datasets
    t.write(tmp_path / "two.ecsv")
    np.testing.assert_allclose(read_sed(tmp_path / "two.ecsv").npred.values, np.asarray(
        Table.read(ref / "crab_flux_points_likelihood.ecsv")["npred"])[:, 0])
