"""Simulation: observations from IRFs, event sampling, binned fakes and GADF DL3 writing.

- :func:`observation_from_irfs`: an observation (the data-store Observation interface) from an
  IRF file or IRF DataArrays, a pointing, a livetime and a start time;
- :func:`simulate_events` / :func:`simulate_observation`: event lists from sky models (spectral x
  spatial x temporal), PSF, energy dispersion and the background IRF;
- :func:`simulate_dataset`: a Poisson realisation of a reduced dataset's ``npred``;
- :func:`write_dl3` / :func:`check_gadf` (errors) / :func:`gadf_report` (errors and warnings): a GADF data store (events, GTI, pointing, IRFs,
  obs-index, hdu-index) and a format checker written from the GADF spec;
- :func:`demo_irfs`: an analytic demo instrument (no data needed);
- :func:`simulate_from_config`: the ``xgamma simulate`` command.

Examples
--------
>>> from xgamma.simulation import demo_irfs, observation_from_irfs, simulate_events
>>> obs = observation_from_irfs(demo_irfs(), (83.63, 22.51), "1 min")
>>> len(simulate_events(obs, rng=0)) > 0
True
"""

from __future__ import annotations

from xgamma.simulation.demo import demo_irfs
from xgamma.simulation.dl3 import GadfReport, check_gadf, gadf_report, write_dl3
from xgamma.simulation.events import (
    EventSampler,
    simulate_dataset,
    simulate_events,
    simulate_observation,
)
from xgamma.simulation.observation import (
    SimulatedObservation,
    SimulationError,
    observation_from_irfs,
)
from xgamma.simulation.run import simulate_from_config

__all__ = [
    "observation_from_irfs",
    "SimulatedObservation",
    "SimulationError",
    "simulate_events",
    "EventSampler",
    "simulate_observation",
    "simulate_dataset",
    "write_dl3",
    "check_gadf",
    "gadf_report",
    "GadfReport",
    "demo_irfs",
    "simulate_from_config",
]
