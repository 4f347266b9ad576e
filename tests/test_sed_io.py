"""GADF SED / light-curve tables (ECSV, FITS) and zarr: round trips and the HAWC Crab flux points."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from astropy.table import Table

from xgamma.estimators.core import read_zarr, to_sed_type, write_zarr
from xgamma.estimators.flux_points import flux_points
from xgamma.estimators.light_curve import light_curve_datasets
from xgamma.estimators.sed import read_sed, sed_table, write_sed
from xgamma.fitting.fold import example_dataset, fake, with_fit_range
from xgamma.models import Models, SkyModel, spectral_model

TRUTH = Models([SkyModel("src", spectral_model("pl", index=2.6, amplitude=4e-11))])


@pytest.fixture(scope="module")
def fp():
    ds = with_fit_range(example_dataset(livetime=3600.0), 0.2, None)
    # a bin outside the fit range (flagged, NaN values) and high-energy upper limits
    return flux_points(ds, TRUTH, "src", [0.1, 0.3, 1, 3, 10, 30, 100])


@pytest.fixture(scope="module")
def lc():
    dss = [fake(example_dataset(livetime=1800.0), TRUTH, seed=i) for i in range(4)]
    t0 = 55000 + np.arange(4) / 24
    return light_curve_datasets(dss, t0, t0 + 1 / 24, TRUTH, "src", [0.3, 1, 3, 30],
                                selection_optional=("errn-errp", "ul", "scan"),
                                norm_scan=np.linspace(0, 3, 7))


def test_flux_points_have_flags_and_uls(fp):
    assert not bool(fp.valid[0]) and bool(fp.valid[1])
    assert bool(fp.is_ul[-1]) and np.isfinite(fp.norm_ul[-1])


@pytest.mark.parametrize("suffix", [".ecsv", ".fits"])
def test_flux_points_round_trip(fp, tmp_path, suffix):
    p = tmp_path / f"sed{suffix}"
    write_sed(fp, p)
    back = read_sed(p)
    # ref_eflux is written in erg (as the established tool does): TeV -> erg -> TeV costs an ulp
    np.testing.assert_allclose(back.ref_eflux, fp.ref_eflux, rtol=1e-14)
    xr.testing.assert_identical(back.drop_vars("ref_eflux"), fp.drop_vars("ref_eflux"))
    t = Table.read(p) if suffix == ".ecsv" else Table.read(p, hdu=1)
    assert t.meta["SED_TYPE"] == "likelihood"
    for c in ("e_ref", "e_min", "e_max", "norm", "norm_err", "norm_errp", "norm_errn", "norm_ul", "ts",
              "sqrt_ts", "stat_scan", "norm_scan", "ref_dnde", "ref_flux", "ref_eflux", "is_ul"):
        assert c in t.colnames
    assert t["stat_scan"].shape == (6, fp.sizes["norm_scan"])
    np.testing.assert_allclose(t.meta["UL_CONF"], 0.9544997, rtol=1e-6)


@pytest.mark.parametrize("suffix", [".ecsv", ".fits"])
def test_light_curve_round_trip(lc, tmp_path, suffix):
    p = tmp_path / f"lc{suffix}"
    write_sed(lc, p)
    back = read_sed(p)
    xr.testing.assert_identical(back, lc)
    t = Table.read(p) if suffix == ".ecsv" else Table.read(p, hdu=1)
    assert len(t) == 4 and t["norm"].shape == (4, 3) and t["e_min"].shape == (4, 3)
    np.testing.assert_allclose(t["time_min"], 55000 + np.arange(4) / 24, rtol=1e-12)


@pytest.mark.parametrize("sed_type", ["dnde", "e2dnde", "flux", "eflux"])
def test_sed_types_round_trip_values(fp, tmp_path, sed_type):
    p = tmp_path / f"sed_{sed_type}.ecsv"
    write_sed(fp, p, sed_type=sed_type)
    back = read_sed(p)  # no reference model in the table: a PL reference, SED values kept
    a, b = to_sed_type(fp, sed_type), to_sed_type(back, sed_type)
    for v in (sed_type, f"{sed_type}_err", f"{sed_type}_errp", f"{sed_type}_ul"):
        np.testing.assert_allclose(b[v].values, a[v].values, rtol=1e-12, equal_nan=True)
    assert b[sed_type].attrs["units"] == a[sed_type].attrs["units"]


def test_zarr_round_trip(fp, lc, tmp_path):
    for name, r in (("fp", fp), ("lc", lc)):
        write_zarr(r, tmp_path / f"{name}.zarr")
        xr.testing.assert_identical(read_zarr(tmp_path / f"{name}.zarr"), r)


def test_hawc_flux_points(data):
    path = data / "hawc/crab_flux/HAWC19_flux_points.fits"
    t = Table.read(path, hdu=1)
    r = read_sed(path)
    assert r.sizes["energy"] == len(t) == 10
    np.testing.assert_allclose(r.energy_min, t["e_min"])
    np.testing.assert_allclose(r.energy_max, t["e_max"])
    sed = to_sed_type(r, "dnde")
    det = ~np.asarray(t["is_ul"], bool)
    np.testing.assert_allclose(sed.dnde.values[det], np.asarray(t["dnde"])[det], rtol=1e-12)
    np.testing.assert_allclose(sed.dnde_err.values[det], np.asarray(t["dnde_err"])[det], rtol=1e-12)
    assert r.is_ul.values.tolist() == (~det).tolist() and bool(r.is_ul[-1])
    np.testing.assert_allclose(float(sed.dnde_ul[-1]), float(t["dnde_ul"][-1]), rtol=1e-12)
    np.testing.assert_allclose(r.ts, t["ts"])
    # the HAWC Crab: E^2 dN/dE ~ 2-4e-11 TeV cm-2 s-1 at a few TeV
    e2 = to_sed_type(r, "e2dnde").e2dnde.values
    assert 1e-11 < e2[2] < 6e-11
    # and it writes back as a GADF table
    t2 = sed_table(r, "dnde")
    np.testing.assert_allclose(t2["dnde"][det], np.asarray(t["dnde"])[det], rtol=1e-12)
