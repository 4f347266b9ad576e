"""OGIP reading/writing: joint-Crab spectra (five instruments), Gammapy's variant, round trips."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits

from xgamma.errors import XgammaIOError
from xgamma.fitting.fold import alpha, example_dataset
from xgamma.io.ogip import read_ogip, write_ogip
from xgamma.obs import concat_obs

# Nigro et al. 2019: counts in the ON region and background within the safe energy range
PUBLISHED_COUNTS = {"magic": (784, 129.9), "veritas": (289, 13.7), "fact": (691, 272.8), "hess": (459, 27.5)}


@pytest.fixture(scope="module")
def spectra(data):
    base = data / "joint-crab" / "spectra"
    return {inst: read_ogip(sorted((base / inst).glob("pha_*.fits")), name=inst)
            for inst in ("fermi", "magic", "veritas", "fact", "hess")}


@pytest.mark.parametrize("inst", sorted(PUBLISHED_COUNTS))
def test_joint_crab_counts_match_paper(spectra, inst):
    ds = spectra[inst]
    n_on = float(ds.counts.where(ds.mask_safe).sum())
    n_bkg = float((alpha(ds) * ds.counts_off).where(ds.mask_safe).sum())
    assert n_on == PUBLISHED_COUNTS[inst][0]
    assert n_bkg == pytest.approx(PUBLISHED_COUNTS[inst][1], abs=0.05)


def test_layout_and_units(spectra):
    ds = spectra["magic"]
    assert dict(ds.sizes) == {"obs": 2, "energy": 80, "energy_true": 80}
    assert list(ds.obs.values) == [5029747, 5029748]
    assert ds.attrs["obs_id"] == [5029747, 5029748] and ds.attrs["geom"] == "region"
    assert ds.energy_min.values[0] == pytest.approx(0.01)  # 1e7 keV
    assert ds.energy_true_max.values[-1] == pytest.approx(100.0)
    assert ds.exposure.attrs["units"] == "cm2 s"
    assert float(ds.livetime.sum()) == pytest.approx(ds.attrs["livetime"])
    rows = ds.edisp.sum("energy")
    assert float(rows.max()) <= 1 + 1e-6 and float(rows.max()) > 0.99
    # safe range from QUALITY agrees with LO_THRES/HI_THRES
    m = ds.mask_safe.isel(obs=0)
    assert float(ds.energy_min[m].min()) == pytest.approx(0.0794328, rel=1e-5)
    assert float(ds.energy_max[m].max()) == pytest.approx(44.668, rel=1e-4)


def test_rmf_groups_decoded(data):
    # compare a row of the dense matrix with the raw variable-length groups
    path = data / "joint-crab/spectra/magic/rmf_obs5029747.fits"
    ds = read_ogip(data / "joint-crab/spectra/magic/pha_obs5029747.fits")
    with fits.open(path) as h:
        row = h["MATRIX"].data[50]
        tlmin = int(h["MATRIX"].header.get("TLMIN4", 1))
        dense = np.zeros(80)
        k = 0
        for f, n in zip(np.atleast_1d(row["F_CHAN"]), np.atleast_1d(row["N_CHAN"]), strict=False):
            dense[f - tlmin : f - tlmin + n] = row["MATRIX"][k : k + n]
            k += n
    np.testing.assert_allclose(ds.edisp.isel(energy_true=50).values, dense, rtol=1e-7)
    assert dense.sum() > 0.5


def test_fermi_exposure_in_arf(data, spectra):
    ds = spectra["fermi"]
    assert ds.attrs["livetime"] == 1.0
    with fits.open(data / "joint-crab/spectra/fermi/arf_obs0.fits") as h:
        arf = h["SPECRESP"].data["SPECRESP"]
    np.testing.assert_allclose(ds.exposure.values, arf, rtol=1e-12)
    assert float(ds.exposure.max()) > 1e11  # cm2 s: the exposure lives in the ARF
    assert float((alpha(ds) * ds.counts_off).sum()) == pytest.approx(39 / 33.333333, rel=1e-5)


def test_fact_many_obs_ids(spectra):
    ids = spectra["fact"].attrs["obs_id"]
    assert isinstance(ids, list) and len(ids) > 100 and ids[0] == 20131103093


def test_gammapy_simulated_variant(data):
    ds = read_ogip(data / "datasets/simulations/simulated_spectrum_dataset_PL.fits")
    assert ds.attrs["obs_id"] == "test_onoff" and ds.attrs["livetime"] == 360000.0
    assert bool(ds.mask_safe.all())  # logical QUALITY, all False = good
    assert ds.attrs["region"] == "icrs;circle(0.000000,0.000000,0.100000)"
    with fits.open(data / "datasets/simulations/simulated_spectrum_dataset_PL_arf.fits") as h:
        arf = h["SPECRESP"].data["SPECRESP"]  # m2 s h-1
    np.testing.assert_allclose(ds.exposure.values, arf * 1e4 / 3600 * 360000.0, rtol=1e-12)
    assert float(alpha(ds).max()) == pytest.approx(0.2)
    assert int(ds.counts.sum()) == 2281 and int(ds.counts_off.sum()) == 5850


def test_round_trip_real_and_synthetic(tmp_path, spectra):
    for ds in (example_dataset(), spectra["magic"]):
        files = write_ogip(ds, tmp_path / ds.attrs["name"])
        back = read_ogip(files, name=ds.attrs["name"]) if len(files) > 1 else read_ogip(files[0], name=ds.attrs["name"])
        for var in ("counts", "counts_off", "acceptance", "acceptance_off", "mask_safe"):
            np.testing.assert_array_equal(back[var].values, ds[var].values)
        np.testing.assert_allclose(back.exposure.values, ds.exposure.values, rtol=1e-14)
        np.testing.assert_allclose(back.edisp.values, ds.edisp.values, rtol=1e-7, atol=1e-9)  # float32 matrix
        for c in ("energy_min", "energy_max", "energy_true_min", "energy_true_max"):
            np.testing.assert_allclose(back[c].values, ds[c].values, rtol=1e-14)
        assert back.attrs["obs_id"] == ds.attrs["obs_id"]
        assert back.attrs["livetime"] == pytest.approx(ds.attrs["livetime"], rel=1e-14)
    with pytest.raises(OSError):
        write_ogip(example_dataset(), tmp_path / "example")  # exists, no overwrite


def test_explicit_paths_and_errors(data, tmp_path):
    base = data / "joint-crab/spectra/veritas"
    ds = read_ogip(base / "pha_obs54809.fits", bkg=base / "bkg_obs57993.fits")
    ref = read_ogip(base / "pha_obs54809.fits")
    assert float(ds.counts_off.sum()) != float(ref.counts_off.sum())
    with pytest.raises(XgammaIOError, match="cannot open"):
        read_ogip(tmp_path / "missing.fits")
    with pytest.raises(ValueError, match="differ"):
        concat_obs([example_dataset(), read_ogip(base / "pha_obs54809.fits")])
