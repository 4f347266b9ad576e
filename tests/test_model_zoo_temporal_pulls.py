"""Simulation recovery of the temporal model families of issue 13: joint fits of small 3D
datasets, one per time bin (their GTIs give the time information), fitted back from the truth;
pulls as in test_model_zoo_pulls.py (whose helpers and tolerances this file uses)."""

from __future__ import annotations

import numpy as np
from test_model_zoo_pulls import _centre, check_pulls, map_pulls
from test_spatial_pulls import make_dataset

from xgamma.models import Models, SkyModel, spectral_model
from xgamma.models.spatial import spatial_model
from xgamma.models.temporal import temporal_model
from xgamma.models.temporal_extra import phase_curve_model


def time_datasets(t_edges_mjd: np.ndarray, n_energy: int = 1, mjdref: float = 55000.0) -> list:
    """One small 3D dataset per time bin (GTI attrs), for joint fits of temporal models."""
    base = make_dataset(nx=6, n_energy=n_energy, bkg=0.2)
    out = []
    for k, (t1, t2) in enumerate(zip(t_edges_mjd[:-1], t_edges_mjd[1:], strict=True)):
        out.append(base.assign_attrs(name=f"t{k}", mjdref=mjdref, tstart=(t1 - mjdref) * 86400.0,
                                     tstop=(t2 - mjdref) * 86400.0))
    return out


def _point(ds, amplitude: float, temporal) -> SkyModel:
    lon, lat = _centre(ds)
    return SkyModel("src", spectral_model("pl", index=2.5, amplitude=amplitude).with_frozen("index"),
                    spatial_model("point", lon_0=lon, lat_0=lat).with_frozen(), temporal)


def test_powerlaw_temporal_pulls():
    """A decaying afterglow, ((t - t_ref) / t0)^alpha, alpha = -1.2 and the amplitude free,
    six bins from 1 to 20 days after t_ref."""
    dss = time_datasets(55000.0 + np.geomspace(1, 20, 7))
    tm = temporal_model("powerlaw", alpha=-1.2, t_ref=55000.0, t0=1.0)
    truth = Models([_point(dss[0], 3e-10, tm)])
    pulls, n_ok = map_pulls(dss, truth, ["src.temporal.alpha", "src.spectral.amplitude"], 30, seed=41)
    check_pulls(pulls, n_ok, 30)


def test_generalized_gaussian_temporal_pulls():
    """An asymmetric flare (rise 0.5 d, decay 1.5 d, eta = 1/2 frozen): peak time, rise and
    decay times free, ten bins over 6 days (~27000 counts).

    The peak time is near MJD 2 (``mjdref = 0``): fitted near MJD 55000, 5 of 30 MIGRAD fits end
    "above EDM threshold" (the fit scales parameters by a power of ten of their start value, 1e4
    for t_ref there, and a 0.02 d error is then 4e-6 of it)."""
    dss = time_datasets(2.0 + np.linspace(-1.5, 4.5, 11), mjdref=0.0)
    tm = temporal_model("gengauss", t_ref=2.0, t_rise=0.5, t_decay=1.5, eta=0.5).with_frozen("eta")
    src = _point(dss[0], 1e-9, tm)
    truth = Models([src.with_parameters(src.parameters.with_frozen("spectral.amplitude"))])
    names = ["src.temporal.t_ref", "src.temporal.t_rise", "src.temporal.t_decay"]
    pulls, n_ok = map_pulls(dss, truth, names, 30, seed=42)
    check_pulls(pulls, n_ok, 30)


def test_phase_curve_pulls():
    """A pulsar with a 1-day period (so that the data are binned in phase by their GTIs): eight
    phase bins, the reference phase phi_ref and the amplitude free."""
    dss = time_datasets(55000.0 + np.linspace(0.0, 1.0, 9))
    tm = phase_curve_model([0.0, 0.2, 0.3, 0.4, 0.6, 0.7, 1.0], [0.5, 0.5, 4.0, 0.5, 0.5, 2.0, 0.5],
                           t_ref=55000.0, phi_ref=0.05, f0=1 / 86400.0).with_frozen("phi_ref", frozen=False)
    truth = Models([_point(dss[0], 3e-10, tm)])
    pulls, n_ok = map_pulls(dss, truth, ["src.temporal.phi_ref", "src.spectral.amplitude"], 30, seed=43)
    check_pulls(pulls, n_ok, 30)
