"""Malformed configurations, model files and corrupt data files through the command line
(issue 14, scope 5): every one must exit non-zero with one line on stderr (no traceback) that
names the key, file or observation.

``python tests/test_probes.py`` prints the counts (tried / clean / traceback or cryptic).
"""

from __future__ import annotations

import contextlib
import io
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from astropy.io import fits

from xgamma import cli
from xgamma._paths import data_dir

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "examples" / "crab_1d_models.yaml"
RUN = 23523
FILE = f"hess_dl3_dr1_obs_id_0{RUN}.fits.gz"

BASE = {
    "general": {"log": {"level": "error"}},
    "observations": {"datastore": "$XGAMMA_DATA/hess-dl3-dr1", "obs_ids": [RUN],
                     "required_irf": ["aeff", "edisp", "bkg"]},
    "datasets": {"type": "1d", "background": {"method": "reflected"},
                 "on_region": {"frame": "icrs", "lon": "83.63 deg", "lat": "22.01 deg",
                               "radius": "0.11 deg"}},
    "output": {"plots": False},
}
GEOM3D = {"wcs": {"skydir": {"frame": "icrs", "lon": "83.633 deg", "lat": "22.014 deg"}}}


def _merge(a, b):
    out = dict(a)
    for k, v in b.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _cfg(**sections) -> str:
    return yaml.safe_dump(_merge(BASE, sections))


# (id, config text or dict of section changes, expected words in the one line)
CONFIGS: list[tuple[str, object, str]] = [
    ("yaml-tab", "datasets:\n\ttype: 1d\n", "not valid YAML"),
    ("yaml-unclosed", "datasets: {type: 1d\n", "not valid YAML"),
    ("yaml-bad-indent", "datasets:\n  type: 1d\n bad: 2\n", "not valid YAML"),
    ("yaml-list", "- 1\n- 2\n", "must be a mapping"),
    ("yaml-scalar", "hello\n", "must be a mapping"),
    ("unknown-section", {"analysis": {}}, "analysis: unknown key"),
    ("unknown-general", {"general": {"outdirr": "x"}}, "general.outdirr: unknown key"),
    ("unknown-obs", {"observations": {"obsids": [1]}}, "observations.obsids: unknown key"),
    ("unknown-datasets", {"datasets": {"tpye": "1d"}}, "datasets.tpye: unknown key"),
    ("unknown-geom", {"datasets": {"geom": {"wcs": {"bins": 1}}}}, "datasets.geom.wcs.bins: unknown key"),
    ("unknown-fit", {"fit": {"range": 1}}, "fit.range: unknown key"),
    ("unknown-fp", {"flux_points": {"sources": "x"}}, "flux_points.sources: unknown key"),
    ("unknown-lc", {"light_curve": {"interval": 1}}, "light_curve.interval: unknown key"),
    ("unknown-dask", {"dask": {"workers": 2}}, "dask.workers: unknown key"),
    ("unknown-output", {"output": {"format": "x"}}, "output.format: unknown key"),
    ("type-2d", {"datasets": {"type": "2d"}}, "datasets.type"),
    ("stack-str", {"datasets": {"stack": "maybe"}}, "datasets.stack"),
    ("nbins-str", {"datasets": {"geom": {"axes": {"energy": {"nbins": "ten"}}}}},
     "datasets.geom.axes.energy.nbins"),
    ("nbins-zero", {"datasets": {"geom": {"axes": {"energy": {"nbins": 0}}}}},
     "datasets.geom.axes.energy.nbins"),
    ("nbins-negative", {"datasets": {"geom": {"axes": {"energy_true": {"nbins": -3}}}}},
     "datasets.geom.axes.energy_true.nbins"),
    ("nbins-bomb", {"datasets": {"geom": {"axes": {"energy": {"nbins": 1000000000}}}}},
     "datasets.geom.axes.energy.nbins: the edisp map would need"),
    ("binsize-bomb", {"datasets": {"type": "3d", "geom": {**GEOM3D, "wcs": {**GEOM3D["wcs"],
                      "binsize": "0.0001 deg"}}}}, "datasets.geom.wcs.binsize: the exposure map would need 298.0 GiB"),
    ("width-bomb", {"datasets": {"type": "3d", "geom": {"wcs": {**GEOM3D["wcs"], "width": {
                    "width": "180 deg", "height": "180 deg"}, "binsize": "0.002 deg"}}}},
     "datasets.geom.wcs.binsize: the exposure map would need"),
    ("irf-bomb", {"datasets": {"type": "3d", "geom": {"wcs": {**GEOM3D["wcs"], "binsize_irf":
                  "0.001 deg"}, "axes": {"energy_true": {"nbins": 100}}}}},
     "datasets.geom.wcs.binsize_irf: the"),
    ("fp-bomb", {"flux_points": {"energy": {"min": "1 TeV", "max": "10 TeV", "nbins": 100000000}}},
     "flux_points.energy.nbins"),
    ("max-memory-unit", {"datasets": {"max_memory": "8 deg"}}, "datasets.max_memory"),
    ("max-memory-neg", {"datasets": {"max_memory": "-1 GB"}}, "datasets.max_memory"),
    ("max-memory-small", {"datasets": {"max_memory": "16 B"}}, "above datasets.max_memory"),
    ("energy-unit", {"datasets": {"geom": {"axes": {"energy": {"min": "1 deg"}}}}},
     "datasets.geom.axes.energy.min"),
    ("energy-order", {"datasets": {"geom": {"axes": {"energy": {"min": "10 TeV", "max": "1 TeV"}}}}},
     "datasets.geom.axes.energy: min"),
    ("energy-zero", {"datasets": {"geom": {"axes": {"energy": {"min": "0 TeV"}}}}},
     "datasets.geom.axes.energy: min must be positive"),
    ("energy-nan", {"datasets": {"geom": {"axes": {"energy": {"min": "nan TeV"}}}}},
     "datasets.geom.axes.energy"),
    ("energy-list", {"datasets": {"geom": {"axes": {"energy": {"min": [1, 2]}}}}},
     "datasets.geom.axes.energy.min"),
    ("angle-unit", {"datasets": {"on_region": {"radius": "1 TeV"}}}, "datasets.on_region.radius"),
    ("radius-negative", {"datasets": {"on_region": {"radius": "-1 deg"}}}, "datasets.on_region.radius"),
    ("binsize-zero", {"datasets": {"geom": {"wcs": {"binsize": "0 deg"}}}}, "datasets.geom.wcs.binsize"),
    ("frame-bad", {"datasets": {"on_region": {"frame": "fk4"}}}, "datasets.on_region.frame"),
    ("on-region-missing", {"datasets": {"on_region": {"radius": None}}}, "datasets.on_region"),
    ("bkg-method-1d", {"datasets": {"background": {"method": "ring"}}}, "datasets.background.method"),
    ("bkg-method-bad", {"datasets": {"background": {"method": "magic"}}}, "datasets.background.method"),
    ("reflected-3d", {"datasets": {"type": "3d", "geom": GEOM3D}}, "datasets.background.method"),
    ("3d-no-center", {"datasets": {"type": "3d", "background": {"method": None}, "on_region": {
                      "lon": None, "lat": None, "radius": None}}}, "datasets.geom.wcs.skydir"),
    ("exclusion-bad", {"datasets": {"background": {"exclusion": "circle(1,2"}}},
     "datasets.background.exclusion"),
    ("safe-mask-bad", {"datasets": {"safe_mask": {"methods": ["aeff-min"]}}}, "datasets.safe_mask.methods"),
    ("map-selection-bad", {"datasets": {"map_selection": ["counts", "flux"]}}, "datasets.map_selection"),
    ("required-irf-bad", {"observations": {"required_irf": ["aeff", "psff"]}}, "observations.required_irf"),
    ("on-error-bad", {"observations": {"on_error": "ignore"}}, "observations.on_error"),
    ("obs-ids-str", {"observations": {"obs_ids": ["abc"]}}, "observations.obs_ids"),
    ("obs-ids-missing", {"observations": {"obs_ids": [RUN, 99999]}},
     "observations.obs_ids: [99999] not in the data store"),
    ("obs-ids-all-missing", {"observations": {"obs_ids": [1, 2, 3, 4, 5, 6, 7]}},
     "observations.obs_ids: [1, 2, 3, 4, 5] and 2 more not in the data store"),
    ("obs-file-missing", {"observations": {"obs_file": "/nonexistent/ids.txt"}},
     "observations.obs_file: file not found"),
    ("datastore-missing", {"observations": {"datastore": "/nonexistent/store"}}, "observations.datastore"),
    ("datastore-env", {"observations": {"datastore": "$XGAMMA_NO_SUCH_VAR/x"}},
     "observations.datastore: environment variable $XGAMMA_NO_SUCH_VAR"),
    ("cone-partial", {"observations": {"obs_ids": [], "obs_cone": {"lon": "83 deg"}}},
     "observations.obs_cone"),
    ("cone-empty", {"observations": {"obs_ids": [], "obs_cone": {"frame": "icrs", "lon": "0 deg",
                    "lat": "-89 deg", "radius": "0.1 deg"}}}, "the selection (obs_ids"),
    ("time-order", {"observations": {"obs_time": {"start": "2005-01-01", "stop": "2004-01-01"}}},
     "observations.obs_time"),
    ("time-bad", {"observations": {"obs_time": {"start": "yesterday"}}}, "observations.obs_time.start"),
    ("time-partial", {"observations": {"obs_time": {"start": "2004-01-01"}}}, "observations.obs_time"),
    ("fit-range-order", {"fit": {"fit_range": {"min": "10 TeV", "max": "1 TeV"}}}, "fit.fit_range: min"),
    ("fit-range-outside", {"fit": {"fit_range": {"min": "100 TeV", "max": "200 TeV"}}},
     "fit.fit_range: [100.0 TeV, 200.0 TeV] does not overlap"),
    ("fit-range-unit", {"fit": {"fit_range": {"min": "1 m"}}}, "fit.fit_range.min"),
    ("lc-length", {"light_curve": {"time_intervals": {"start": ["2004-01-01", "2004-01-02"],
                   "stop": ["2004-01-03"]}}}, "light_curve.time_intervals"),
    ("lc-only-start", {"light_curve": {"time_intervals": {"start": ["2004-01-01"]}}},
     "light_curve.time_intervals"),
    ("lc-order", {"light_curve": {"time_intervals": {"start": ["2004-01-02"], "stop": ["2004-01-01"]}}},
     "light_curve.time_intervals"),
    ("log-level", {"general": {"log": {"level": "loud"}}}, "general.log.level"),
    ("n-workers", {"dask": {"n_workers": 0}}, "dask.n_workers"),
    ("output-datasets", {"output": {"datasets": "hdf5"}}, "output.datasets"),
    ("models-file-missing", {"general": {"models_file": "/nonexistent/models.yaml"}},
     "general.models_file: file not found"),
    ("fp-source", {"general": {"models_file": str(MODELS)}, "flux_points": {"source": "Vela"}},
     "flux_points.source: no model component 'Vela'"),
    ("lc-source", {"general": {"models_file": str(MODELS)}, "light_curve": {
                   "source": "Vela", "time_intervals": {"start": ["2004-12-04"], "stop": ["2004-12-05"]}}},
     "light_curve.source: no model component 'Vela'"),
]

# (id, model YAML text, expected words); checked with ``xgamma check CONFIG --models FILE``
MODEL_FILES: list[tuple[str, str, str]] = [
    ("not-yaml", "components: [\n", "models.yaml"),
    ("scalar", "42\n", "models.yaml"),
    ("no-name", "components:\n- type: SkyModel\n  spectral: {type: PowerLawSpectralModel}\n", "name"),
    ("bad-spectral-type", "components:\n- name: s\n  type: SkyModel\n  spectral: {type: NoSuchModel}\n",
     "NoSuchModel"),
    ("bad-spatial-type", "components:\n- name: s\n  type: SkyModel\n  spectral: {type: PowerLawSpectralModel}"
     "\n  spatial: {type: Blob, frame: icrs}\n", "Blob"),
    ("bad-param-name", "components:\n- name: s\n  type: SkyModel\n  spectral:\n    type: PowerLawSpectralModel"
     "\n    parameters:\n    - {name: indx, value: 2}\n", "indx"),
    ("bad-param-value", "components:\n- name: s\n  type: SkyModel\n  spectral:\n    type: PowerLawSpectralModel"
     "\n    parameters:\n    - {name: index, value: two}\n", "models.yaml: ValueError: could not convert"),
    ("bad-param-unit", "components:\n- name: s\n  type: SkyModel\n  spectral:\n    type: PowerLawSpectralModel"
     "\n    parameters:\n    - {name: amplitude, value: 1e-12, unit: parsec}\n", "models.yaml: UnitConversionError: 'pc'"),
    ("components-not-list", "components: {name: s}\n", "components"),
    ("missing-file-ref", "components:\n- name: s\n  type: SkyModel\n  spectral: {type: PowerLawSpectralModel}"
     "\n  spatial: {type: TemplateSpatialModel, frame: icrs, filename: /nonexistent/t.fits}\n", "t.fits"),
    ("duplicate-names", "components:\n- name: s\n  type: SkyModel\n  spectral: {type: PowerLawSpectralModel}"
     "\n- name: s\n  type: SkyModel\n  spectral: {type: PowerLawSpectralModel}\n", "s"),
]


def _call(argv: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = cli.main(argv)
        except SystemExit as exc:  # argparse
            code = int(exc.code or 0)
        except Exception:  # noqa: BLE001 - an escaped exception is a traceback for the user
            import traceback

            traceback.print_exc()
            code = 99
    return code, err.getvalue()


def _verdict(code: int, err: str, expect: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    if "Traceback" in err:
        return "traceback"
    if code == 0 or len(lines) != 1 or not lines[0].startswith("xgamma: error: ") or expect not in lines[0]:
        return "cryptic"
    return "clean"


def _config_probe(tmp: Path, case: object) -> tuple[int, str]:
    cfg = tmp / "probe.yaml"
    cfg.write_text(case if isinstance(case, str) else _cfg(**case))  # type: ignore[arg-type]
    return _call(["check", str(cfg)])


def _model_probe(tmp: Path, text: str) -> tuple[int, str]:
    cfg = tmp / "probe.yaml"  # 3D: every model part is evaluated
    cfg.write_text(_cfg(datasets={"type": "3d", "geom": GEOM3D, "background": {"method": "fov_background"}}))
    mod = tmp / "models.yaml"
    mod.write_text(text)
    return _call(["check", str(cfg), "--models", str(mod)])


# ------------------------------------------------------------------------------- corrupt data

def _store(tmp: Path) -> Path:
    """A one-run copy of the H.E.S.S. store (index files and the file of run 23523)."""
    src = data_dir() / "hess-dl3-dr1"
    store = tmp / "store"
    (store / "data").mkdir(parents=True)
    for f in src.glob("*.fits.gz"):
        shutil.copy(f, store / f.name)
    shutil.copy(src / "data" / FILE, store / "data" / FILE)
    return store


def _edit(path: Path, fn) -> None:
    with fits.open(path) as hdul:
        hdul = fits.HDUList([h.copy() for h in hdul])
    fn(hdul)
    hdul.writeto(path, overwrite=True)


def _col(hdu: str, col: str, fn):
    def edit(hdul):
        data = hdul[hdu].data
        data[col] = fn(np.array(data[col]))
    return edit


def _drop_col(hdu: str, col: str):
    def edit(hdul):
        t = hdul[hdu]
        cols = [c for c in t.columns if c.name != col]
        new = fits.BinTableHDU.from_columns(cols, header=t.header)
        hdul[hdul.index_of(hdu)] = new
    return edit


def _rows(hdu: str, n: int):
    def edit(hdul):
        t = hdul[hdu]
        hdul[hdul.index_of(hdu)] = fits.BinTableHDU(data=t.data[:n], header=t.header)
    return edit


def _rename(hdu: str, name: str):
    def edit(hdul):
        hdul[hdu].header["EXTNAME"] = name
    return edit


def _bytes(fn):
    def write(path: Path):
        path.write_bytes(fn(path.read_bytes()))
    return write


def _fits_edit(fn):
    return lambda path: _edit(path, fn)


# (id, how the run's file is damaged, expected words)
DATA: list[tuple[str, object, str]] = [
    ("truncated", _bytes(lambda b: b[:20000]), FILE),
    ("empty-file", _bytes(lambda b: b""), FILE),
    ("random-bytes", _bytes(lambda b: np.random.default_rng(1).bytes(5000)), FILE),
    ("plain-text", _bytes(lambda b: b"SIMPLE = not really\n" * 40), FILE),
    ("gzip-crc", _bytes(lambda b: b[:-8] + bytes(8)), FILE),
    ("events-hdu-renamed", _fits_edit(_rename("EVENTS", "EVENTZ")), FILE),
    ("aeff-hdu-renamed", _fits_edit(_rename("AEFF", "AEFZ")), FILE),
    ("energy-col-missing", _fits_edit(_drop_col("EVENTS", "ENERGY")), "ENERGY"),
    ("ra-col-missing", _fits_edit(_drop_col("EVENTS", "RA")), "RA"),
    ("effarea-col-missing", _fits_edit(_drop_col("AEFF", "EFFAREA")), "EFFAREA"),
    ("energy-all-nan", _fits_edit(_col("EVENTS", "ENERGY", lambda v: v * np.nan)),
     f"observation {RUN}: none of the"),
    ("aeff-all-nan", _fits_edit(_col("AEFF", "EFFAREA", lambda v: v * np.nan)),
     f"observation {RUN}: the aeff IRF is all NaN"),
    ("aeff-negative", _fits_edit(_col("AEFF", "EFFAREA", lambda v: -v)),
     f"observation {RUN}: the aeff IRF is mostly negative"),
    ("aeff-zero", _fits_edit(_col("AEFF", "EFFAREA", lambda v: v * 0)),
     f"observation {RUN}: the aeff IRF is zero everywhere"),
    ("aeff-inf", _fits_edit(_col("AEFF", "EFFAREA", lambda v: v * np.inf)), f"observation {RUN}"),
    ("edisp-all-nan", _fits_edit(_col("EDISP", "MATRIX", lambda v: v * np.nan)),
     f"observation {RUN}: the edisp IRF is all NaN"),
    ("bkg-all-nan", _fits_edit(_col("BKG", "BKG", lambda v: v * np.nan)),
     f"observation {RUN}: the bkg IRF is all NaN"),
    ("bkg-negative", _fits_edit(_col("BKG", "BKG", lambda v: -v)), f"observation {RUN}: the bkg IRF is mostly negative"),
    ("gti-empty", _fits_edit(_rows("GTI", 0)), f"observation {RUN}: no good time"),
    ("gti-reversed", _fits_edit(lambda h: h["GTI"].data.__setitem__("STOP", h["GTI"].data["START"] - 10)),
     f"observation {RUN}: no good time"),
    ("aeff-no-rows", _fits_edit(_rows("AEFF", 0)), FILE),
    ("edisp-hdu-renamed", _fits_edit(_rename("EDISP", "EDISZ")), FILE),
    ("file-is-dir", "dir", FILE),
    ("file-missing", "missing", FILE),
    ("hdu-index-garbage", "hdu-index", "hdu-index.fits.gz"),
    ("obs-index-garbage", "obs-index", "obs-index.fits.gz"),
]


def _data_probe(tmp: Path, how: object) -> tuple[int, str]:
    store = _store(tmp)
    target = store / "data" / FILE
    if how == "dir":
        target.unlink()
        target.mkdir()
    elif how == "missing":
        target.unlink()
    elif how in ("hdu-index", "obs-index"):
        (store / f"{how}.fits.gz").write_bytes(b"garbage" * 100)
    elif callable(how) and getattr(how, "__name__", "") == "write":
        how(target)
    else:
        plain = store / "data" / FILE.removesuffix(".gz")
        import gzip

        plain.write_bytes(gzip.decompress(target.read_bytes()))
        how(plain)  # type: ignore[operator]
        target.write_bytes(gzip.compress(plain.read_bytes(), mtime=0))
        plain.unlink()
    cfg = tmp / "probe.yaml"
    cfg.write_text(_cfg(observations={"datastore": str(store)}))
    return _call(["run", str(cfg), "--out", str(tmp / "out"), "-q"])


# ------------------------------------------------------------------------------------- tests

@pytest.mark.parametrize("case,expect", [c[1:] for c in CONFIGS], ids=[c[0] for c in CONFIGS])
def test_bad_config(tmp_path, data_path, case, expect):
    code, err = _config_probe(tmp_path, case)
    assert _verdict(code, err, expect) == "clean", (code, err)


@pytest.mark.parametrize("text,expect", [c[1:] for c in MODEL_FILES], ids=[c[0] for c in MODEL_FILES])
def test_bad_model_file(tmp_path, data_path, text, expect):
    code, err = _model_probe(tmp_path, text)
    assert _verdict(code, err, expect) == "clean", (code, err)


@pytest.mark.parametrize("how,expect", [c[1:] for c in DATA], ids=[c[0] for c in DATA])
def test_corrupt_data(tmp_path, data_path, how, expect):
    code, err = _data_probe(tmp_path, how)
    assert _verdict(code, err, expect) == "clean", (code, err)
    assert not (tmp_path / "out").exists()


def test_counts():
    assert len(CONFIGS) + len(MODEL_FILES) >= 60 and len(DATA) >= 20


def main() -> None:  # pragma: no cover - `python tests/test_probes.py`
    import tempfile

    counts = {"clean": 0, "cryptic": 0, "traceback": 0}
    for kind, cases, fn in (("config", CONFIGS, _config_probe), ("model", MODEL_FILES, _model_probe),
                            ("data", DATA, _data_probe)):
        for name, case, expect in cases:
            tmp = Path(tempfile.mkdtemp())
            code, err = fn(tmp, case)
            v = _verdict(code, err, expect)
            counts[v] += 1
            if v != "clean" or "-v" in sys.argv:
                print(f"{kind:6s} {name:22s} {v:9s} exit {code}: {err.strip()[:300]!r}")
    n = sum(counts.values())
    print(f"tried {n}: clean {counts['clean']}, cryptic {counts['cryptic']}, "
          f"traceback {counts['traceback']}")


if __name__ == "__main__":  # pragma: no cover
    main()
