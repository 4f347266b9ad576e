"""The GADF checker on one run of every real public DL3 set in the shared data: no errors, and
exactly the warnings where the files depart from the GADF spec (v0.3) in ways that readers
tolerate (the HAWC index is checked as tables only: it lists unpublished files, see below)."""

from __future__ import annotations

import pytest

from xgamma.simulation import check_gadf, gadf_report

# path under the data folder, observations checked -> expected warnings (data folder stripped)
CASES: dict[tuple[str, tuple[int, ...] | None], list[str]] = {
    ('hess-dl3-dr1', (23523,)): [
        'hess-dl3-dr1/obs-index.fits.gz [HDU OBS_INDEX]: missing column OBS_MODE (a GADF required column)',
        'hess-dl3-dr1/data/hess_dl3_dr1_obs_id_023523.fits.gz [HDU EVENTS]: event times outside [TSTART, TSTOP] (by up to 0.00627 s)',
    ],
    ('cta-1dc/index/gps', (110380,)): [
        'cta-1dc/index/gps/obs-index.fits.gz [HDU OBS_INDEX]: missing column OBS_MODE (a GADF required column)',
        'cta-1dc/index/gps/../../data/baseline/gps/gps_baseline_110380.fits [HDU EVENTS]: missing header keyword HDUCLASS (a GADF mandatory keyword)',
        'cta-1dc/index/gps/../../data/baseline/gps/gps_baseline_110380.fits [HDU EVENTS]: missing header keyword HDUDOC (a GADF mandatory keyword)',
        'cta-1dc/index/gps/../../data/baseline/gps/gps_baseline_110380.fits [HDU EVENTS]: missing header keyword HDUVERS (a GADF mandatory keyword)',
        'cta-1dc/index/gps/../../data/baseline/gps/gps_baseline_110380.fits [HDU EVENTS]: missing header keyword HDUCLAS1 (a GADF mandatory keyword)',
        'cta-1dc/index/gps/../../data/baseline/gps/gps_baseline_110380.fits [HDU EVENTS]: missing header keyword ORIGIN (a GADF mandatory keyword)',
        'cta-1dc/index/gps/../../data/baseline/gps/gps_baseline_110380.fits [HDU EVENTS]: missing header keyword INSTRUME (a GADF mandatory keyword)',
        'cta-1dc/index/gps/../../data/baseline/gps/gps_baseline_110380.fits [HDU EVENTS]: missing header keyword OBS_MODE (a GADF mandatory keyword)',
        'cta-1dc/index/gps/../../data/baseline/gps/gps_baseline_110380.fits [HDU EVENTS]: event times outside [TSTART, TSTOP] (by up to 7.97 s)',
        'cta-1dc/index/gps/../../data/baseline/gps/gps_baseline_110380.fits [HDU GTI]: column START has no unit (GADF: unit s)',
        'cta-1dc/index/gps/../../data/baseline/gps/gps_baseline_110380.fits [HDU GTI]: column STOP has no unit (GADF: unit s)',
        "cta-1dc/index/gps/../../caldb/data/cta/1dc/bcf/South_z20_50h/irf_file.fits [HDU EFFECTIVE AREA]: HDUCLASS = 'OGIP', GADF: GADF",
        "cta-1dc/index/gps/../../caldb/data/cta/1dc/bcf/South_z20_50h/irf_file.fits [HDU EFFECTIVE AREA]: HDUCLAS4 = '2D', GADF: AEFF_2D",
        "cta-1dc/index/gps/../../caldb/data/cta/1dc/bcf/South_z20_50h/irf_file.fits [HDU ENERGY DISPERSION]: HDUCLASS = 'OGIP', GADF: GADF",
        "cta-1dc/index/gps/../../caldb/data/cta/1dc/bcf/South_z20_50h/irf_file.fits [HDU ENERGY DISPERSION]: HDUCLAS4 = '2D', GADF: EDISP_2D",
        'cta-1dc/index/gps/../../caldb/data/cta/1dc/bcf/South_z20_50h/irf_file.fits [HDU ENERGY DISPERSION]: column ETRUE_LO in place of the GADF column ENERG_LO',
        'cta-1dc/index/gps/../../caldb/data/cta/1dc/bcf/South_z20_50h/irf_file.fits [HDU ENERGY DISPERSION]: column ETRUE_HI in place of the GADF column ENERG_HI',
        "cta-1dc/index/gps/../../caldb/data/cta/1dc/bcf/South_z20_50h/irf_file.fits [HDU POINT SPREAD FUNCTION]: HDUCLASS = 'OGIP', GADF: GADF",
        "cta-1dc/index/gps/../../caldb/data/cta/1dc/bcf/South_z20_50h/irf_file.fits [HDU POINT SPREAD FUNCTION]: HDUCLAS4 = '3GAUSS', GADF: PSF_3GAUSS",
        "cta-1dc/index/gps/../../caldb/data/cta/1dc/bcf/South_z20_50h/irf_file.fits [HDU BACKGROUND]: HDUCLASS = 'OGIP', GADF: GADF",
        "cta-1dc/index/gps/../../caldb/data/cta/1dc/bcf/South_z20_50h/irf_file.fits [HDU BACKGROUND]: HDUCLAS4 = '3D', GADF: BKG_3D",
        'cta-1dc/index/gps/../../caldb/data/cta/1dc/bcf/South_z20_50h/irf_file.fits [HDU BACKGROUND]: column BGD in place of the GADF column BKG',
        "cta-1dc/index/gps/../../caldb/data/cta/1dc/bcf/South_z20_50h/irf_file.fits [HDU BACKGROUND]: column BGD has unit '1/s/MeV/sr', not a FITS-standard unit string (read as 1 / (MeV s sr); GADF: unit s-1 MeV-1 sr-1)",
    ],
    ('joint-crab/dl3/magic', (5029748,)): [
        'joint-crab/dl3/magic/obs-index.fits.gz [HDU OBS_INDEX]: missing column OBS_MODE (a GADF required column)',
        'joint-crab/dl3/magic/run_05029748_DL3.fits [HDU EVENTS]: missing header keyword OBS_MODE (a GADF mandatory keyword)',
    ],
    ('magic/rad_max/data', (5029747,)): [
        'magic/rad_max/data/obs-index.fits.gz [HDU OBS_INDEX]: missing header keyword MJDREFI (a GADF mandatory keyword)',
        'magic/rad_max/data/obs-index.fits.gz [HDU OBS_INDEX]: missing header keyword MJDREFF (a GADF mandatory keyword)',
        'magic/rad_max/data/obs-index.fits.gz [HDU OBS_INDEX]: missing header keyword TIMEUNIT (a GADF mandatory keyword)',
        'magic/rad_max/data/obs-index.fits.gz [HDU OBS_INDEX]: missing header keyword TIMESYS (a GADF mandatory keyword)',
        'magic/rad_max/data/obs-index.fits.gz [HDU OBS_INDEX]: missing column OBS_MODE (a GADF required column)',
        "magic/rad_max/data/hdu-index.fits.gz [HDU OBS_INDEX]: HDUCLAS2 = 'OBS', GADF: HDU",
    ],
    ('veritas/crab-point-like-ED', (64080,)): [
        'veritas/crab-point-like-ED/obs-index.fits.gz [HDU OBS_INDEX]: missing column OBS_MODE (a GADF required column)',
        'veritas/crab-point-like-ED/64080.fits.gz [HDU EVENTS]: missing header keyword OBS_MODE (a GADF mandatory keyword)',
    ],
    ('hawc/crab_events_pass4/hdu-index-table-GP-Crab.fits.gz', ()): [
        'hawc/crab_events_pass4/obs-index-table-GP-Crab.fits.gz [HDU ]: missing header keyword HDUCLASS (a GADF mandatory keyword)',
        'hawc/crab_events_pass4/obs-index-table-GP-Crab.fits.gz [HDU ]: missing header keyword HDUDOC (a GADF mandatory keyword)',
        'hawc/crab_events_pass4/obs-index-table-GP-Crab.fits.gz [HDU ]: missing header keyword HDUVERS (a GADF mandatory keyword)',
        'hawc/crab_events_pass4/obs-index-table-GP-Crab.fits.gz [HDU ]: missing header keyword HDUCLAS1 (a GADF mandatory keyword)',
        'hawc/crab_events_pass4/obs-index-table-GP-Crab.fits.gz [HDU ]: missing header keyword HDUCLAS2 (a GADF mandatory keyword)',
        'hawc/crab_events_pass4/obs-index-table-GP-Crab.fits.gz [HDU ]: missing header keyword MJDREFI (a GADF mandatory keyword)',
        'hawc/crab_events_pass4/obs-index-table-GP-Crab.fits.gz [HDU ]: missing header keyword MJDREFF (a GADF mandatory keyword)',
        'hawc/crab_events_pass4/obs-index-table-GP-Crab.fits.gz [HDU ]: missing header keyword TIMEUNIT (a GADF mandatory keyword)',
        'hawc/crab_events_pass4/obs-index-table-GP-Crab.fits.gz [HDU ]: missing header keyword TIMESYS (a GADF mandatory keyword)',
        'hawc/crab_events_pass4/obs-index-table-GP-Crab.fits.gz [HDU ]: missing column TSTART (a GADF required column)',
        'hawc/crab_events_pass4/obs-index-table-GP-Crab.fits.gz [HDU ]: missing column TSTOP (a GADF required column)',
        'hawc/crab_events_pass4/obs-index-table-GP-Crab.fits.gz [HDU ]: column ALT_PNT has no unit (GADF: unit deg)',
        'hawc/crab_events_pass4/obs-index-table-GP-Crab.fits.gz [HDU ]: column AZ_PNT has no unit (GADF: unit deg)',
        'hawc/crab_events_pass4/hdu-index-table-GP-Crab.fits.gz [HDU ]: missing header keyword HDUCLASS (a GADF mandatory keyword)',
        'hawc/crab_events_pass4/hdu-index-table-GP-Crab.fits.gz [HDU ]: missing header keyword HDUDOC (a GADF mandatory keyword)',
        'hawc/crab_events_pass4/hdu-index-table-GP-Crab.fits.gz [HDU ]: missing header keyword HDUVERS (a GADF mandatory keyword)',
        'hawc/crab_events_pass4/hdu-index-table-GP-Crab.fits.gz [HDU ]: missing header keyword HDUCLAS1 (a GADF mandatory keyword)',
        'hawc/crab_events_pass4/hdu-index-table-GP-Crab.fits.gz [HDU ]: missing header keyword HDUCLAS2 (a GADF mandatory keyword)',
    ],
    ('hawc/crab_events_pass4/events/EventList_Crab_fHitbin5GP.fits.gz', None): [
        'hawc/crab_events_pass4/events/EventList_Crab_fHitbin5GP.fits.gz [HDU EVENTS]: missing header keyword ORIGIN (a GADF mandatory keyword)',
    ],
    ('cta-caldb/Prod5-South-20deg-AverageAz-14MSTs37SSTs.180000s-v0.1.fits.gz', None): [
    ],
    ('cta-caldb/Prod5-North-20deg-AverageAz-4LSTs09MSTs.180000s-v0.1.fits.gz', None): [
    ],
}


@pytest.mark.parametrize(("path", "obs_ids"), list(CASES), ids=[f"{p}:{i}" for p, i in CASES])
def test_real_files_pass_with_exact_warnings(data_path, path, obs_ids):
    report = gadf_report(data_path / path, obs_ids)
    assert report.errors == []
    prefix = str(data_path) + "/"
    assert sorted(w.replace(prefix, "") for w in report.warnings) == sorted(CASES[path, obs_ids])


def test_whole_real_stores_have_no_errors(data_path):
    # every run of H.E.S.S. DR1 (105), CTA 1DC, MAGIC and VERITAS
    for path in ("hess-dl3-dr1", "cta-1dc/index/gps", "magic/rad_max/data", "veritas/crab-point-like-ED"):
        assert check_gadf(data_path / path) == [], path
    hess = gadf_report(data_path / "hess-dl3-dr1")
    late = [w for w in hess.warnings if "event times outside [TSTART, TSTOP]" in w]
    assert len(late) == 89 and len(hess.warnings) == 90  # events up to 0.93 s past TSTOP


def test_real_stores_with_unpublished_files(data_path):
    # the joint-crab MAGIC index lists run 5029747, whose file is not in the public set; the
    # HAWC index lists the fHit bin 1 files only (a template: bins 5-9 are published)
    assert check_gadf(data_path / "joint-crab/dl3/magic") == [
        f"{data_path}/joint-crab/dl3/magic/run_05029747_DL3.fits: file not found (listed in the HDU index)"]
    hawc = check_gadf(data_path / "hawc/crab_events_pass4/hdu-index-table-GP-Crab.fits.gz")
    assert len(hawc) == 5 and all("fHitbin1GP.fits.gz: file not found" in e for e in hawc)
