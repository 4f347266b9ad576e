"""The ``xgamma simulate CONFIG --out DIR`` command: observations from IRFs, events, a DL3 store.

The configuration (YAML)::

    simulation:
      irf: $XGAMMA_DATA/cta-caldb/Prod5-South-20deg-AverageAz-14MSTs37SSTs.180000s-v0.1.fits.gz
      # or "demo" for the analytic demo instrument (no data needed)
      models: examples/simulate_cta_models.yaml    # Gammapy model YAML, relative to the config
      seed: 42
      outdir: results/simulate_cta                  # default of --out
      observations:                                 # a list, each with these keys
        - obs_id: 1
          pointing: {ra: 83.633 deg, dec: 22.514 deg}   # or {lon, lat, frame}
          livetime: 1 h
          tstart: "2025-01-01T00:00:00"             # UTC date, or seconds since MJDREF
          deadc: 1.0                                # optional
      repeat: {n: 4, step: 1.5 h}                   # optional: copies of the list, later in time

``$VAR`` in ``irf`` is expanded (``$XGAMMA_DATA`` falls back to xgamma's data folder). Each
observation gets its own random stream (``seed`` + its position), so a store is reproducible
and observations can be simulated in any order. Errors are one line
(:class:`~xgamma.config.ConfigError`) naming the key.

Examples
--------
>>> import tempfile, pathlib, textwrap
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> _ = (d / "sim.yaml").write_text(textwrap.dedent('''
...     simulation:
...       irf: demo
...       seed: 1
...       observations:
...         - {obs_id: 5, pointing: {ra: 10 deg, dec: 20 deg}, livetime: 1 min, tstart: 0}
... '''))
>>> simulate_from_config(d / "sim.yaml", d / "out").name
'out'
"""

from __future__ import annotations

import os
import re
import shutil
import string
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import astropy.units as u
import numpy as np
import yaml

from xgamma._paths import data_dir
from xgamma.config import ConfigError
from xgamma.io.yaml import read_models
from xgamma.simulation.demo import demo_irfs
from xgamma.simulation.dl3 import (
    WrittenObservation,
    check_ids,
    finish_store,
    start_store,
    write_observation,
)
from xgamma.simulation.events import simulate_observation
from xgamma.simulation.observation import (
    SimulatedObservation,
    SimulationError,
    observation_from_irfs,
    read_irfs,
    start_seconds,
)

__all__ = ["simulate_from_config", "simulate_to_store", "read_simulation_config", "observations_from_config"]

_KEYS = {"irf", "models", "seed", "outdir", "observations", "repeat", "deadc", "mjdref"}
_OBS_KEYS = {"obs_id", "pointing", "livetime", "tstart", "deadc"}


def _expand(raw: str) -> str:
    env = dict(os.environ)
    if "XGAMMA_DATA" not in env:
        d = data_dir(required=False)
        if d is not None:
            env["XGAMMA_DATA"] = str(d)
    missing = [m for m in re.findall(r"\$\{?(\w+)\}?", raw) if m not in env]
    if missing:
        raise ConfigError(f"simulation.irf: environment variable ${missing[0]} is not set ({raw!r}); "
                          "set XGAMMA_DATA or use irf: demo")
    return string.Template(raw).substitute(env)


def read_simulation_config(path: str | Path) -> dict[str, Any]:
    """Read and check the ``simulation`` section of a YAML file (paths resolved).

    Examples
    --------
    >>> read_simulation_config("/nonexistent.yaml")
    Traceback (most recent call last):
    ...
    xgamma.config.ConfigError: /nonexistent.yaml: file not found
    """
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{p}: file not found")
    try:
        doc = yaml.safe_load(p.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{p}: not valid YAML ({str(exc).splitlines()[0]})") from exc
    sim = doc.get("simulation") if isinstance(doc, Mapping) else None
    if not isinstance(sim, Mapping):
        raise ConfigError(f"{p}: no 'simulation' section")
    unknown = set(sim) - _KEYS
    if unknown:
        raise ConfigError(f"simulation: unknown key(s) {sorted(unknown)}; allowed {sorted(_KEYS)}")
    cfg = dict(sim)
    if "irf" not in cfg:
        raise ConfigError("simulation.irf: missing (a GADF IRF file or 'demo')")
    if str(cfg["irf"]).strip().lower() != "demo":
        irf = Path(_expand(str(cfg["irf"]))).expanduser()
        irf = irf if irf.is_absolute() or irf.exists() else p.parent / irf
        if not irf.is_file():
            raise ConfigError(f"simulation.irf: no IRF file at {irf}")
        cfg["irf"] = irf
    if cfg.get("models") is not None:
        m = Path(str(cfg["models"]))
        if not m.is_absolute() and not m.exists():
            m = p.parent / m
        if not m.is_file():
            raise ConfigError(f"simulation.models: file not found: {cfg['models']}")
        cfg["models"] = m
    obs = cfg.get("observations")
    if not isinstance(obs, list) or not obs:
        raise ConfigError("simulation.observations: need a non-empty list of observations")
    for i, o in enumerate(obs):
        if not isinstance(o, Mapping):
            raise ConfigError(f"simulation.observations[{i}]: expected a mapping")
        bad = set(o) - _OBS_KEYS
        if bad:
            raise ConfigError(f"simulation.observations[{i}]: unknown key(s) {sorted(bad)}")
        for key in ("pointing", "livetime"):
            if key not in o:
                raise ConfigError(f"simulation.observations[{i}].{key}: missing")
    return cfg


def observations_from_config(cfg: Mapping[str, Any]) -> list[SimulatedObservation]:
    """The observations (without events) of a checked simulation config.

    Examples
    --------
    >>> obs = observations_from_config({"irf": "demo", "observations": [
    ...     {"pointing": {"ra": 1, "dec": 2}, "livetime": "2 min"}], "repeat": {"n": 3, "step": "1 h"}})
    >>> [o.obs_id for o in obs], obs[2].tstart - obs[0].tstart
    ([1, 2, 3], 7200.0)
    """
    irfs: Any = demo_irfs() if str(cfg["irf"]).strip().lower() == "demo" else cfg["irf"]
    irf_arg: Mapping[str, Any]
    sources: dict[str, tuple[str, str]] = {}
    if not isinstance(irfs, Mapping):
        irf_arg, sources = read_irfs(irfs)  # read once for all observations
    else:
        irf_arg = irfs
    mjdref = float(cfg.get("mjdref", 51544.5))
    rep = dict(cfg.get("repeat") or {"n": 1, "step": 0})
    n_rep = int(rep.get("n", 1))
    step = float(u.Quantity(rep.get("step", 0), "s").value) if not isinstance(rep.get("step", 0), str) \
        else float(u.Quantity(rep["step"]).to_value("s"))
    out: list[SimulatedObservation] = []
    n_list = len(cfg["observations"])
    for r in range(n_rep):
        for i, o in enumerate(cfg["observations"]):
            where = f"simulation.observations[{i}]"
            try:
                t0 = start_seconds(o.get("tstart", 0.0), mjdref) + r * step
                ob = observation_from_irfs(irf_arg, _pointing(o["pointing"], where), o["livetime"], t0,
                                           obs_id=int(o.get("obs_id", i + 1)) + r * n_list,
                                           deadc=float(o.get("deadc", cfg.get("deadc", 1.0))),
                                           mjdref=mjdref)
            except SimulationError as exc:
                raise ConfigError(f"{where}: {exc}") from exc
            out.append(replace(ob, irf_sources=sources))
    return out


def _pointing(p: Any, where: str) -> Any:
    if isinstance(p, Mapping):
        return {k: (u.Quantity(v) if isinstance(v, str) and k != "frame" else v) for k, v in p.items()}
    if isinstance(p, list | tuple) and len(p) == 2:
        return tuple(u.Quantity(v) if isinstance(v, str) else v for v in p)
    raise ConfigError(f"{where}.pointing: expected {{ra, dec}} or [ra, dec], got {p!r}")


def simulate_from_config(path: str | Path, out: str | Path | None = None, overwrite: bool = False) -> Path:
    r"""Simulate the observations of a configuration file and write them as a DL3 store.

    Parameters
    ----------
    path : str or Path
        YAML file with a ``simulation`` section (see the module docstring).
    out : str or Path, optional
        Output store folder (default: ``simulation.outdir``).
    overwrite : bool
        Replace an existing store.

    Returns
    -------
    Path
        The store folder (open it with :func:`xgamma.open_store`).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "s.yaml").write_text("simulation:\n  irf: demo\n  observations:\n"
    ...                               "    - {pointing: [0, 0], livetime: 1 min}\n")
    >>> import xgamma as xg
    >>> len(xg.open_store(simulate_from_config(d / "s.yaml", d / "out")).obs_ids)
    1
    """
    cfg = read_simulation_config(path)
    target = out if out is not None else cfg.get("outdir")
    if target is None:
        raise ConfigError("no output folder: pass --out or set simulation.outdir")
    if Path(target).exists() and not overwrite:
        start_store(target)  # the one-line error, before any work
    models = read_models(cfg["models"]) if cfg.get("models") is not None else None
    return simulate_to_store(observations_from_config(cfg), models, target,
                             seed=int(cfg.get("seed", 0)), overwrite=overwrite)


def _simulate_and_write(obs: Any, models: Any, seed: int, i: int, folder: Path,
                        compress: bool) -> WrittenObservation:
    sim = simulate_observation(obs, models, rng=np.random.default_rng([seed, i]))
    return write_observation(sim, folder, compress)


def simulate_to_store(observations: Sequence[Any], models: Any, outdir: str | Path, seed: int = 0,
                      overwrite: bool = False, compress: bool = False) -> Path:
    """Simulate observations and write them as a DL3 store, one dask task per observation.

    Each task draws the events of one observation (random stream ``(seed, position)``) and
    writes its file, so only the observations in flight are in memory; the index files are
    written at the end and the store appears atomically. The active dask scheduler runs the
    tasks (threads by default, a ``distributed.Client`` when one is active).

    Examples
    --------
    >>> import tempfile, pathlib, xgamma as xg
    >>> from xgamma.simulation import demo_irfs, observation_from_irfs
    >>> obs = [observation_from_irfs(demo_irfs(), (0, 0), "1 min", obs_id=i) for i in (1, 2, 3)]
    >>> out = simulate_to_store(obs, None, pathlib.Path(tempfile.mkdtemp()) / "s", seed=4)
    >>> len(xg.open_store(out).obs_ids)
    3
    """
    import dask

    out = Path(outdir)
    check_ids([o.obs_id for o in observations], out)
    tmp = start_store(out, overwrite)
    try:
        tasks = [dask.delayed(_simulate_and_write)(o, models, seed, i, tmp, compress)
                 for i, o in enumerate(observations)]
        written = dask.compute(*tasks)
        return finish_store(tmp, out, written)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
