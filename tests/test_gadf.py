"""Tests of xgamma.io.gadf: the FITS decoding, events, GTIs, IRF HDUs and the "gadf" engine.

Real data of several instruments (H.E.S.S., CTA 1DC and prod5, MAGIC, VERITAS, HAWC) is
compared against astropy's independent FITS reader and against the files' own contents;
synthetic files in ``tmp_path`` cover units, PSF_KING and every kind of bad input.
"""

from __future__ import annotations

import gzip
import warnings

import numpy as np
import pytest
import xarray as xr
from astropy.io import fits
from astropy.time import Time, TimeDelta

from xgamma.conventions import validate
from xgamma.errors import XgammaIOError
from xgamma.io import gadf
from xgamma.times import event_seconds

HESS = "hess-dl3-dr1/data/hess_dl3_dr1_obs_id_023523.fits.gz"
CTA1DC_EVENTS = "cta-1dc/data/baseline/gps/gps_baseline_110380.fits"
CTA1DC_IRF = "cta-1dc/caldb/data/cta/1dc/bcf/South_z20_50h/irf_file.fits"
PROD5 = "cta-caldb/Prod5-South-20deg-AverageAz-14MSTs37SSTs.180000s-v0.1.fits.gz"
VERITAS = "veritas/crab-point-like-ED/64080.fits.gz"
MAGIC = "magic/rad_max/data/20131004_05029747_DL3_CrabNebula-W0.40+035.fits"
JOINT_MAGIC = "joint-crab/dl3/magic/run_05029748_DL3.fits"
HAWC_EVENTS = "hawc/crab_events_pass4/events/EventList_Crab_fHitbin5GP.fits.gz"
HAWC_PSF = "hawc/crab_events_pass4/irfs/PSFMap_Crab_fHitbin5GP.fits.gz"


# ---------------------------------------------------------------------------------------------
# FITS decoding against astropy
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("rel", [HESS, CTA1DC_EVENTS, VERITAS, MAGIC, HAWC_EVENTS])
def test_headers_and_columns_match_astropy(data, rel):
    raws = gadf.read_hdus(data / rel)
    with fits.open(data / rel) as hl:
        assert [r.name for r in raws][1:] == [h.name for h in hl][1:]
        for raw, hdu in zip(raws, hl, strict=True):
            first: dict = {}
            for card in hdu.header.cards:
                if card.keyword not in ("COMMENT", "HISTORY", "") and card.keyword not in first:
                    first[card.keyword] = card.value
            for k, v in first.items():
                got = raw.header[k]
                if isinstance(v, float):
                    assert got == pytest.approx(v, rel=1e-15), k
                else:
                    assert got == v, k
            if isinstance(hdu, fits.BinTableHDU):
                tab = gadf.table_from_hdu(raw)
                for name in hdu.columns.names:
                    ref = np.asarray(hdu.data[name])
                    got = tab.columns[name]
                    if ref.dtype.kind in "SU":
                        assert list(got) == [str(s).rstrip() for s in ref]
                    else:
                        assert got.shape == ref.shape and np.array_equal(got, ref), name


def test_unsigned_event_id_from_tzero(data):
    """CTA 1DC stores EVENT_ID as 1J with TZERO = 2**31 (uint32)."""
    raw = gadf.read_hdus(data / CTA1DC_EVENTS, ["EVENTS"])[0]
    ids = gadf.table_from_hdu(raw).columns["EVENT_ID"]
    with fits.open(data / CTA1DC_EVENTS) as hl:
        ref = hl["EVENTS"].data["EVENT_ID"]
    assert ids.dtype == np.int64 and ref.dtype.kind == "u"
    assert np.array_equal(ids, ref.astype(np.int64))


def test_read_stops_early_and_index_access(data):
    raws = gadf.read_hdus(data / HESS, ["events", 2])
    assert [r.name for r in raws] == ["EVENTS", "GTI"]
    assert gadf.read_header(data / HESS, "psf")["HDUCLAS4"] == "PSF_TABLE"


# ---------------------------------------------------------------------------------------------
# events and GTI
# ---------------------------------------------------------------------------------------------


def test_hess_events(data):
    ev = gadf.read_events(data / HESS)
    assert list(ev.columns) == ["event_id", "time", "ra", "dec", "energy"]
    assert len(ev) == 7613
    assert all(ev[c].dtype == np.float64 for c in ("ra", "dec", "energy"))
    assert ev.time.dtype == np.dtype("datetime64[ns]") and ev.attrs["time_scale"] == "utc"
    # reference numbers (hess_dl3_dr1.json, summed in float32 there)
    assert ev.energy.sum() == pytest.approx(33634.29296875, rel=1e-6)
    assert int(((ev.energy >= 1) & (ev.energy <= 10)).sum()) == 2972
    a = ev.attrs
    assert a["mjdref"] == pytest.approx(51910 + 0.000742870370370241, abs=1e-12)
    assert a["timesys"] == "TT" and a["timeunit"] == "s" and a["obs_id"] == 23523
    assert a["units"]["energy"] == "TeV" and a["units"]["ra"] == "deg"
    assert a["meta"]["OBJECT"] == "Crab Nebula" and "TTYPE1" not in a["meta"]
    with fits.open(data / HESS) as hl:
        tfile = hl["EVENTS"].data["TIME"]
        # the dates go back to the file's float seconds bit for bit
        assert np.array_equal(event_seconds(ev).to_numpy(), tfile)
    # and are the UTC dates astropy gives, to its own nanosecond rounding
    ref = Time(a["mjdrefi"], a["mjdreff"], format="mjd", scale="tt")
    want = (ref + TimeDelta(tfile.astype(float), format="sec")).utc.datetime64
    diff = ev.time.to_numpy().astype(np.int64) - want.astype("datetime64[ns]").astype(np.int64)
    assert np.abs(diff).max() <= 1
    assert str(ev.time.iloc[0]) == "2004-12-04 22:07:06.668054819"


def test_events_time(data):
    ev = gadf.read_events(data / HESS)
    t = gadf.events_time(ev)
    h = fits.getheader(data / HESS, "EVENTS")
    t0 = float(event_seconds(ev).iloc[0])
    ref = Time(h["MJDREFI"] + h["MJDREFF"] + t0 / 86400.0, format="mjd", scale="tt")
    assert abs((t[0] - ref).to_value("s")) < 1e-3
    assert t.scale == "tt"
    # the run starts at DATE-OBS / TIME-OBS = 2004-12-04 22:08:10.184 (given in TT in this
    # release: the .184 is TT - TAI); the first event follows within a few seconds
    dt = (t[0] - Time("2004-12-04T22:08:10.184", scale="tt")).to_value("s")
    assert 0 <= dt < 5


def test_gti(data):
    g = gadf.read_gti(data / HESS)
    assert list(g.columns) == ["start", "stop"] and len(g) == 1
    assert float((g.stop - g.start).sum()) == 1687.0
    assert gadf.read_gti(data / HAWC_EVENTS).shape == (39250, 2)


def test_hawc_events_duplicate_lowercase_columns(data):
    ev = gadf.read_events(data / HAWC_EVENTS)
    raw = gadf.table_from_hdu(gadf.read_hdus(data / HAWC_EVENTS, ["EVENTS"])[0])
    # the GADF upper-case RA/DEC keep "ra"/"dec", the file's own lower-case ones get "_1"
    assert np.array_equal(ev.ra.to_numpy(), raw.columns["RA"])
    assert np.array_equal(ev.ra_1.to_numpy(), raw.columns["ra"])
    assert len(ev) == 13985 and ev.attrs["timesys"] == "TAI" and ev.attrs["mjdref"] == 44244


def _events_file(path, energy_unit="TeV", n=3, extra=None, bad_unit=None):
    cols = [
        fits.Column("EVENT_ID", "K", array=np.arange(n)),
        fits.Column("TIME", "D", unit="s", array=np.arange(n, dtype=float)),
        fits.Column("RA", "E", unit="deg", array=np.full(n, 83.6)),
        fits.Column("DEC", "E", unit=bad_unit or "deg", array=np.full(n, 22.0)),
        fits.Column("ENERGY", "E", unit=energy_unit, array=np.full(n, 1500.0)),
    ] + (extra or [])
    h = fits.BinTableHDU.from_columns(cols, name="EVENTS")
    h.header.update({"MJDREFI": 51910, "MJDREFF": 0.5, "TIMESYS": "TT", "OBS_ID": 7})
    fits.HDUList([fits.PrimaryHDU(), h]).writeto(path)
    return path


def test_energy_unit_conversion_and_multidim_columns(tmp_path):
    extra = [fits.Column("VEC", "3E", array=np.ones((3, 3)))]
    ev = gadf.read_events(_events_file(tmp_path / "ev.fits", "GeV", extra=extra))
    assert np.allclose(ev.energy, 1.5) and ev.attrs["units"]["energy"] == "TeV"
    assert "vec" not in ev and ev.attrs["dropped_columns"] == ["VEC"]
    assert ev.attrs["mjdref"] == 51910.5


def test_empty_event_list_warns(tmp_path):
    with pytest.warns(UserWarning, match="empty event list"):
        ev = gadf.read_events(_events_file(tmp_path / "ev.fits", n=0))
    assert len(ev) == 0 and list(ev.columns) == ["event_id", "time", "ra", "dec", "energy"]
    assert ev.time.dtype == np.dtype("datetime64[ns]")


# ---------------------------------------------------------------------------------------------
# IRFs: axis orientation pinned against astropy's arrays
# ---------------------------------------------------------------------------------------------


def test_hess_irfs_orientation_and_units(data):
    with fits.open(data / HESS) as hl:
        ea = hl["AEFF"].data["EFFAREA"][0]  # numpy (THETA, ENERG) for TDIM (96, 6)
        bkg = hl["BKG"].data["BKG"][0]  # numpy C-order (ENERG, 50, 50) for TDIM (50, 50, 20)
        ed = hl["EDISP"].data["MATRIX"][0]  # (THETA, MIGRA, ENERG)
        psf = hl["PSF"].data["RPSF"][0]  # (RAD, THETA, ENERG) for TDIM (32, 6, 144)
    aeff = gadf.read_irf(data / HESS, "AEFF")
    validate(aeff, "aeff")
    assert aeff.shape == (96, 6) and aeff.attrs["units"] == "cm2"
    assert float(aeff.isel(energy_true=50, offset=2)) == pytest.approx(ea[2, 50] * 1e4, rel=1e-6)
    assert aeff.attrs["lo_threshold"] == pytest.approx(0.870963589956081)
    assert aeff.attrs["point_like"] is False
    # THETA_LO == THETA_HI in this release: offset nodes 0, 0.5, ..., 2.5
    assert aeff.offset.values.tolist() == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5]
    b = gadf.read_irf(data / HESS, "BKG")
    validate(b, "bkg")
    assert b.dims == ("energy", "fov_lon", "fov_lat") and b.shape == (20, 50, 50)
    # Gammapy's orientation: C-order axes (energy, fov_lon, fov_lat) - it reproduces Gammapy's
    # FoV background norms (tests/test_reduce.py), the TDIM-order reading does not
    assert float(b.isel(energy=3, fov_lon=10, fov_lat=30)) == pytest.approx(bkg[3, 10, 30] * 1e6, rel=1e-6)
    e = gadf.read_irf(data / HESS, "EDISP")
    validate(e, "edisp")
    assert float(e.isel(energy_true=40, migra=70, offset=1)) == pytest.approx(ed[1, 70, 40], rel=1e-6)
    assert e.attrs["renormalized"] is False
    p = gadf.read_irf(data / HESS, "PSF")
    validate(p, "psf")
    assert p.shape == (32, 6, 144) and p.attrs["psf_class"] == "PSF_TABLE"
    assert float(p.isel(energy_true=10, offset=1, rad=5)) == pytest.approx(psf[5, 1, 10], rel=1e-6)


def test_prod5_irfs(data):
    with fits.open(data / PROD5) as hl:
        bkg = hl["BACKGROUND"].data["BKG"][0]  # TDIM (21, 60, 60): numpy (DETY, DETX, ENERG)
        assert bkg.shape == (60, 60, 21)
    ds = xr.open_dataset(data / PROD5, engine="gadf")
    assert set(ds.data_vars) == {"aeff", "edisp", "psf", "bkg"}
    b = ds["bkg"]
    assert float(b.isel(energy=5, fov_lon=12, fov_lat=40)) == pytest.approx(bkg[40, 12, 5] * 1e6, rel=1e-6)
    # PSF_3GAUSS evaluated to a table; dims renamed where the bins differ from aeff's
    assert ds["psf"].attrs["psf_class"] == "PSF_3GAUSS"
    assert "energy_true_psf" in ds["psf"].dims
    assert ds["psf"].attrs["renamed_dims"] == "energy_true_psf:energy_true"
    # the prod5 MATRIX holds per-bin probabilities: renormalised to a density in migra
    e = gadf.read_irf(data / PROD5, "ENERGY DISPERSION")
    assert e.attrs["renormalized"] is True
    integral = (e * (e.migra_max - e.migra_min)).sum("migra")
    assert np.allclose(integral.values[integral.values > 0], 1.0, rtol=1e-6)


def test_cta_1dc_irfs(data):
    e = gadf.read_irf(data / CTA1DC_IRF, "ENERGY DISPERSION")  # ETRUE_LO, OGIP-style HDUCLAS4
    validate(e, "edisp")
    assert e.shape == (500, 300, 6) and e.attrs["renormalized"] is True
    p = gadf.read_irf(data / CTA1DC_IRF, "POINT SPREAD FUNCTION")
    validate(p, "psf")
    params = gadf.read_psf_params(data / CTA1DC_IRF, "POINT SPREAD FUNCTION")
    with fits.open(data / CTA1DC_IRF) as hl:
        s1 = hl["POINT SPREAD FUNCTION"].data["SIGMA_1"][0]  # numpy (THETA, ENERG)
    assert np.allclose(params.sigma_1.values, s1.T)
    from xgamma.irf.response import psf_integral

    integ = psf_integral(p).values
    defined = params.sigma_1.values > 0
    assert np.allclose(integ[defined], 1.0, atol=1e-3)
    assert np.all(integ[~defined] == 0)
    b = gadf.read_irf(data / CTA1DC_IRF, "BACKGROUND")
    assert b.attrs["units"] == "s-1 TeV-1 sr-1" and b.dims == ("energy", "fov_lon", "fov_lat")


def test_point_like_irfs(data):
    rm = gadf.read_irf(data / MAGIC, "RAD_MAX")
    validate(rm, "rad_max")
    with fits.open(data / MAGIC) as hl:
        ref = hl["RAD_MAX"].data["RAD_MAX"][0]
    assert np.allclose(rm.values[:, 0], ref[0]) and rm.attrs["point_like"] is True
    # VERITAS: CREF names ETRUE_* while the columns are ENERG_* (GADF 0.3 file)
    e = gadf.read_irf(data / VERITAS, "ENERGY DISPERSION")
    validate(e, "edisp")
    assert e.shape == (30, 75, 9)
    integral = (e * (e.migra_max - e.migra_min)).sum("migra")
    assert np.allclose(integral.values[integral.values > 0], 1.0, atol=1e-4)
    a = gadf.read_irf(data / JOINT_MAGIC, "EFFECTIVE AREA")
    assert a.attrs["rad_max_deg"] == pytest.approx(0.1414213)
    r = gadf.rad_max_from_header(a, a.attrs["rad_max_deg"])
    validate(r, "rad_max")


def test_hawc_map_irfs(data):
    p = gadf.read_irf(data / HAWC_PSF, "PSF")
    assert p.dims == ("energy", "rad", "y", "x") and p.attrs["units"] == "sr-1"
    w = np.pi * (p.rad_max**2 - p.rad_min**2) * (np.pi / 180) ** 2
    integ = (p * w).sum("rad").isel(y=5, x=5).values
    assert np.allclose(integ[integ > 0], 1.0, atol=1e-3)
    assert "wcs" in p.attrs and p.ra.dims == ("y", "x")


def test_engine_single_hdu(data):
    ds = xr.open_dataset(data / HESS, engine="gadf", hdu="AEFF")
    assert list(ds.data_vars) == ["aeff"]
    ds = xr.open_dataset(data / HESS, engine="gadf")
    assert sorted(ds.data_vars) == ["aeff", "bkg", "edisp", "psf"]
    assert ds.aeff.dims == ("energy_true", "offset")
    with pytest.raises(XgammaIOError, match="not an IRF HDU"):
        xr.open_dataset(data / HESS, engine="gadf", hdu="EVENTS")


def _table_file(path, cols, header):
    h = fits.BinTableHDU.from_columns(cols, name="IRF")
    h.header.update(header)
    fits.HDUList([fits.PrimaryHDU(), h]).writeto(path)
    return path


def _axis_cols(name, edges, unit):
    e = np.asarray(edges, dtype=float)
    n = e.size - 1
    return [fits.Column(f"{name}_LO", f"{n}E", unit=unit, array=e[None, :-1]),
            fits.Column(f"{name}_HI", f"{n}E", unit=unit, array=e[None, 1:])]


def test_psf_king_synthetic(tmp_path):
    g, s = 3.0, 0.05
    cols = (_axis_cols("ENERG", [0.1, 1, 10], "TeV") + _axis_cols("THETA", [0, 1, 2], "deg") + [
        fits.Column("GAMMA", "4E", array=np.full((1, 4), g), dim="(2,2)"),
        fits.Column("SIGMA", "4E", unit="deg", array=np.full((1, 4), s), dim="(2,2)")])
    f = _table_file(tmp_path / "king.fits", cols, {"HDUCLAS2": "PSF", "HDUCLAS4": "PSF_KING"})
    p = gadf.read_irf(f, "IRF")
    validate(p, "psf")
    from xgamma.irf.response import psf_containment

    for r in (0.02, 0.1, 0.3):
        exact = 1 - (1 + r**2 / (2 * g * s**2)) ** (1 - g)
        assert float(psf_containment(p, r, 1.0, 0.5)) == pytest.approx(exact, abs=2e-3)


def test_aeff_axis_order_from_tdim_and_gev(tmp_path):
    vals = np.arange(6, dtype=float).reshape(3, 2)  # numpy (THETA=3, ENERG=2): TDIM (2, 3)
    cols = (_axis_cols("ENERG", [100, 1000, 10000], "GeV") + _axis_cols("THETA", [0, 1, 2, 3], "deg")
            + [fits.Column("EFFAREA", "6E", unit="km2", array=vals.reshape(1, 6), dim="(2,3)")])
    f = _table_file(tmp_path / "aeff.fits", cols, {"HDUCLAS2": "EFF_AREA", "HDUCLAS4": "AEFF_2D"})
    a = gadf.read_irf(f, "IRF")
    assert a.energy_true_min.values.tolist() == pytest.approx([0.1, 1.0])
    assert float(a.isel(energy_true=1, offset=2)) == pytest.approx(vals[2, 1] * 1e10)


def test_bkg_2d_synthetic(tmp_path):
    vals = np.array([[4.0, 2.0], [3.0, 1.5], [2.0, 1.0]])  # numpy (THETA=3, ENERG=2): TDIM (2, 3)
    cols = (_axis_cols("ENERG", [1, 10, 100], "TeV") + _axis_cols("THETA", [0, 1, 2, 3], "deg")
            + [fits.Column("BKG", "6E", unit="s-1 MeV-1 sr-1", array=vals.reshape(1, 6), dim="(2,3)")])
    f = _table_file(tmp_path / "bkg.fits", cols, {"HDUCLAS2": "BKG", "HDUCLAS4": "BKG_2D"})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        b = gadf.read_irf(f, "IRF")
    validate(b, "bkg")
    assert b.dims == ("energy", "offset") and b.attrs["hdu_class"] == "BKG_2D"
    assert np.allclose(b.values, vals.T * 1e6)


# ---------------------------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------------------------


def test_missing_file_and_hdu(data, tmp_path):
    with pytest.raises(XgammaIOError, match="file not found") as exc:
        gadf.read_events(tmp_path / "nope.fits.gz")
    assert exc.value.path.endswith("nope.fits.gz")
    with pytest.raises(XgammaIOError, match="no HDU FOO") as exc:
        gadf.read_irf(data / HESS, "FOO")
    assert "EVENTS" in str(exc.value) and exc.value.hdu == "FOO"


def test_truncated_and_corrupt_gzip(data, tmp_path):
    raw = (data / HESS).read_bytes()
    cut = tmp_path / "cut.fits.gz"
    cut.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(XgammaIOError, match="truncated") as exc:
        gadf.read_irf(cut, "BKG")
    assert str(cut) in str(exc.value)
    bad = bytearray(raw)
    bad[len(bad) // 3 : len(bad) // 3 + 64] = b"\x00" * 64
    corrupt = tmp_path / "corrupt.fits.gz"
    corrupt.write_bytes(bytes(bad))
    with pytest.raises(XgammaIOError, match="gzip"):
        gadf.read_hdus(corrupt)


def test_truncated_plain_fits_and_not_fits(data, tmp_path):
    raw = (data / MAGIC).read_bytes()
    f = tmp_path / "cut.fits"
    f.write_bytes(raw[: len(raw) - 4000])
    with pytest.raises(XgammaIOError, match="file ends inside"):
        gadf.read_hdus(f)
    t = tmp_path / "text.fits"
    t.write_text("hello" * 1000)
    with pytest.raises(XgammaIOError, match="not a FITS file"):
        gadf.read_events(t)
    gz = tmp_path / "empty.fits.gz"
    gz.write_bytes(gzip.compress(b""))
    with pytest.raises(XgammaIOError, match="not a FITS file"):
        gadf.read_hdus(gz)


def test_bad_unit_and_unknown_class(tmp_path):
    with pytest.raises(XgammaIOError, match="unit 'furlong'") as exc:
        gadf.read_events(_events_file(tmp_path / "ev.fits", bad_unit="furlong"))
    assert exc.value.hdu == "EVENTS" and "DEC" in str(exc.value)
    cols = _axis_cols("ENERG", [1, 10], "TeV") + [fits.Column("FOO", "1E", array=np.ones((1, 1)))]
    f = _table_file(tmp_path / "unknown.fits", cols, {"HDUCLAS2": "WHATEVER"})
    with pytest.raises(XgammaIOError, match="unknown IRF HDU class"):
        gadf.read_irf(f, "IRF")
    cols = (_axis_cols("ENERG", [1, 10, 100], "TeV") + _axis_cols("THETA", [0, 1], "deg")
            + [fits.Column("EFFAREA", "2E", unit="bogus^^", array=np.ones((1, 2)))])
    f = _table_file(tmp_path / "aeff.fits", cols, {"HDUCLAS2": "EFF_AREA"})
    with pytest.raises(XgammaIOError, match="EFFAREA"):
        gadf.read_irf(f, "IRF")


def test_events_missing_column(tmp_path):
    h = fits.BinTableHDU.from_columns([fits.Column("TIME", "D", array=np.ones(2))], name="EVENTS")
    f = tmp_path / "ev.fits"
    fits.HDUList([fits.PrimaryHDU(), h]).writeto(f)
    with pytest.raises(XgammaIOError, match="lacks column"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gadf.read_events(f)


def test_unit_factor():
    assert gadf.unit_factor("1/s/MeV/sr", "s-1 TeV-1 sr-1") == pytest.approx(1e6)
    assert gadf.unit_factor("m**2", "cm2") == pytest.approx(1e4)
    assert gadf.unit_factor("sr^(-1)", "sr-1") == 1.0
    with pytest.raises(XgammaIOError):
        gadf.unit_factor("m2", "s")
