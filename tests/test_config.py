import astropy.units as u
import pytest

from xgamma.config import AnalysisConfig, ConfigError


def test_reads_gammapy_config_unchanged(data_path):
    cfg = AnalysisConfig.read(data_path.parent / "reference" / "crab_1d_config.yaml")
    assert cfg.datasets.type == "1d"
    assert cfg.datasets.geom.axes.energy.nbins == 15
    assert cfg.datasets.geom.axes.energy_true.max == 60 * u.TeV
    assert cfg.datasets.on_region.radius == 0.11 * u.deg
    assert cfg.datasets.safe_mask.methods == ["aeff-default", "aeff-max"]
    assert cfg.fit.fit_range.min == 0.6 * u.TeV
    assert cfg.observations.required_irf == ["aeff", "edisp", "bkg"]
    assert cfg.datastore_path().name == "hess-dl3-dr1"


def test_round_trip_yaml(tmp_path):
    cfg = AnalysisConfig().update({"datasets": {"type": "3d", "geom": {"wcs": {"binsize": "0.05 deg"}}}})
    path = tmp_path / "c.yaml"
    cfg.write(path)
    back = AnalysisConfig.read(path)
    assert back == cfg
    assert back.datasets.geom.wcs.binsize == 0.05 * u.deg
    with pytest.raises(ConfigError, match="exists"):
        cfg.write(path)


def test_update_keeps_other_keys():
    cfg = AnalysisConfig.from_dict({"fit": {"fit_range": {"min": "1 TeV", "max": "10 TeV"}}})
    cfg2 = cfg.update("datasets: {stack: false}")
    assert cfg2.fit.fit_range.min == 1 * u.TeV
    assert cfg2.datasets.stack is False


BAD = [
    ({"datasets": {"typ": "1d"}}, r"^datasets\.typ: unknown key"),
    ({"dataset": {}}, r"^dataset: unknown key"),
    ({"datasets": {"type": "2d"}}, r"^datasets\.type: input should be '1d' or '3d'"),
    ({"datasets": {"geom": {"axes": {"energy": {"min": "1 m"}}}}}, r"^datasets\.geom\.axes\.energy\.min: expected an energy"),
    ({"datasets": {"geom": {"axes": {"energy": {"min": "abc"}}}}}, r"^datasets\.geom\.axes\.energy\.min: expected an energy"),
    ({"datasets": {"geom": {"axes": {"energy": {"min": "10 TeV", "max": "1 TeV"}}}}}, r"^datasets\.geom\.axes\.energy: min .* must be below max"),
    ({"datasets": {"geom": {"axes": {"energy": {"nbins": 0}}}}}, r"^datasets\.geom\.axes\.energy\.nbins: input should be greater than or equal to 1"),
    ({"datasets": {"geom": {"axes": {"energy": {"nbins": "many"}}}}}, r"^datasets\.geom\.axes\.energy\.nbins: input should be a valid integer"),
    ({"datasets": {"on_region": {"radius": "-0.1 deg"}}}, r"^datasets\.on_region\.radius: radius must be positive"),
    ({"datasets": {"on_region": {"radius": "0.1 TeV"}}}, r"^datasets\.on_region\.radius: expected an angle"),
    ({"datasets": {"geom": {"wcs": {"binsize": "0 deg"}}}}, r"^datasets\.geom\.wcs\.binsize: must be positive"),
    ({"datasets": {"stack": "perhaps"}}, r"^datasets\.stack: input should be a valid boolean"),
    ({"datasets": {"background": {"method": "magic"}}}, r"^datasets\.background\.method: input should be"),
    ({"datasets": {"safe_mask": {"methods": ["aeff-minimum"]}}}, r"^datasets\.safe_mask\.methods\.0: input should be"),
    ({"observations": {"obs_ids": ["abc"]}}, r"^observations\.obs_ids\.0: input should be a valid integer"),
    ({"observations": {"obs_time": {"start": "2020-01-02", "stop": "2020-01-01"}}}, r"^observations\.obs_time: start .* must be before stop"),
    ({"observations": {"obs_time": {"start": "yesterday"}}}, r"^observations\.obs_time\.start: expected a time"),
    ({"observations": {"required_irf": ["aef"]}}, r"^observations\.required_irf"),
    ({"light_curve": {"time_intervals": {"start": ["2020-01-01"], "stop": []}}}, r"^light_curve\.time_intervals: start and stop must have the same length"),
    ({"general": {"log": {"level": "loud"}}}, r"^general\.log\.level: expected one of"),
    ({"dask": {"n_workers": 0}}, r"^dask\.n_workers: input should be greater than or equal to 1"),
    ({"fit": {"fit_range": {"min": 3}}}, r"^fit\.fit_range\.min: expected an energy"),
]


@pytest.mark.parametrize("data, pattern", BAD)
def test_malformed_configs_name_the_key(data, pattern):
    with pytest.raises(ConfigError, match=pattern) as info:
        AnalysisConfig.from_dict(data)
    assert "\n" not in str(info.value)


def test_not_a_mapping_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="mapping"):
        AnalysisConfig.from_dict([1, 2])  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="not valid YAML"):
        AnalysisConfig.from_yaml("datasets: {type: 1d")
    with pytest.raises(ConfigError, match="not found"):
        AnalysisConfig.read(tmp_path / "nope.yaml")


def test_missing_datastore(tmp_path, monkeypatch):
    cfg = AnalysisConfig.from_dict({"observations": {"datastore": str(tmp_path / "nothing")}})
    with pytest.raises(ConfigError, match=r"^observations\.datastore: no data store"):
        cfg.datastore_path()
    monkeypatch.delenv("XGAMMA_UNSET_VAR", raising=False)
    cfg = AnalysisConfig.from_dict({"observations": {"datastore": "$XGAMMA_UNSET_VAR/x"}})
    with pytest.raises(ConfigError, match=r"XGAMMA_UNSET_VAR is not set"):
        cfg.datastore_path()
