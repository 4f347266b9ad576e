"""More temporal model families: power law, generalized Gaussian and pulsar phase curves.

Registered (kind ``"temporal"``) under Gammapy's names, tags and parameter names; time is MJD
(days, TT) as in :mod:`xgamma.models.temporal`:

* ``PowerLawTemporalModel`` (``powerlaw``): ``((t - t_ref) / t0)^alpha``; analytic integral.
* ``GeneralizedGaussianTemporalModel`` (``gengauss``): ``exp(-|t - t_ref|^(1/eta) /
  (2 t_rise^(1/eta)))`` before ``t_ref``, with ``t_decay`` after; ``eta = 1/2`` is a Gaussian,
  ``eta = 1`` an exponential. Analytic integral (regularised lower incomplete gamma function).
* ``TemplatePhaseCurveTemporalModel`` (``template-phase``): a pulsar light curve, the phase
  ``phi = phi_ref + f0 dt + f1 dt^2 / 2 + f2 dt^3 / 6`` (``dt = t - t_ref`` in s, ``f0, f1,
  f2`` in s-1, s-2, s-3) mapped to a table of ``(PHASE, NORM)`` interpolated linearly (the end
  segments extended to phases 0 and 1); the table is normalised to mean 1 over a period
  unless ``normalize=False``. Integral: whole periods plus the partial ones at the ends, with
  the frequency at the interval start (as Gammapy). Times are float MJD: near MJD 5e4 they
  resolve ~0.6 us, i.e. phases to ``~6e-7 s * f0`` (2e-5 for the Crab pulsar); give times
  relative to a nearby ``t_ref`` (``time_ref=``) where that matters.

Examples
--------
>>> from xgamma.models.temporal import temporal_model
>>> m = temporal_model("powerlaw", alpha=-1.0, t_ref=55000.0, t0=1.0)
>>> float(m(55002.0))
0.5
>>> g = temporal_model("gengauss", t_ref=55000.0, t_rise=0.5, t_decay=2.0, eta=0.5)
>>> round(float(g(55002.0)), 6)   # exp(-1/2)
0.606531
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy.special import gamma as gamma_fn
from scipy.special import gammainc

from xgamma.errors import XgammaIOError
from xgamma.models.params import Parameter, merge_parameters
from xgamma.models.registry import ModelSpec, get_spec, register
from xgamma.models.temporal import DEFAULT_T_REF, TemporalModel, temporal_from_dict

__all__ = ["phase_curve_model", "read_phase_curve", "CRAB_F0"]

_SECONDS_PER_DAY = 86400.0
#: Gammapy's default timing solution: the Crab pulsar, f0 = 29.946923 Hz at MJD 48442.5.
CRAB_F0 = 29.946923
_CRAB_T_REF = 48442.5


# --------------------------------------------------------------------------------------------
# power law


def _pl(t: Any, p: Sequence[Any], d: Any) -> Any:
    alpha, t_ref, t0 = p
    with np.errstate(invalid="ignore", divide="ignore"):
        return ((t - t_ref) / t0) ** alpha


def _pl_int(t1: Any, t2: Any, p: Sequence[Any], d: Any) -> Any:
    alpha, t_ref, t0 = p
    x1, x2 = (t1 - t_ref) / t0, (t2 - t_ref) / t0
    with np.errstate(invalid="ignore", divide="ignore"):
        if abs(alpha + 1) < 1e-12:
            return t0 * np.log(x2 / x1)
        return t0 / (alpha + 1) * (x2 ** (alpha + 1) - x1 ** (alpha + 1))


# --------------------------------------------------------------------------------------------
# generalized Gaussian


def _gg(t: Any, p: Sequence[Any], d: Any) -> Any:
    t_ref, t_rise, t_decay, eta = p
    dt = t - t_ref
    tau = np.where(dt < 0, t_rise, t_decay)
    return np.exp(-0.5 * (np.abs(dt) / tau) ** (1 / eta))


def _gg_cum(dt: Any, tau: Any, eta: float) -> Any:
    """``int_0^|dt| exp(-0.5 (s / tau)^(1/eta)) ds`` (with the sign of ``dt``)."""
    s = np.abs(dt)
    full = tau * 2**eta * eta * gamma_fn(eta)
    return np.sign(dt) * full * gammainc(eta, 0.5 * (s / tau) ** (1 / eta))


def _gg_int(t1: Any, t2: Any, p: Sequence[Any], d: Any) -> Any:
    t_ref, t_rise, t_decay, eta = p

    def cum(t: Any) -> Any:
        dt = np.asarray(t, dtype=float) - t_ref
        return np.where(dt < 0, _gg_cum(dt, t_rise, eta), _gg_cum(dt, t_decay, eta))

    return cum(t2) - cum(t1)


# --------------------------------------------------------------------------------------------
# pulsar phase curve


def _phase(t: Any, p: Sequence[Any]) -> Any:
    t_ref, phi_ref, f0, f1, f2 = p
    dt = (np.asarray(t, dtype=float) - t_ref) * _SECONDS_PER_DAY
    return phi_ref + dt * (f0 + dt / 2 * (f1 + dt / 3 * f2))


def _padded(d: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    if "phase" not in d:
        raise ValueError("TemplatePhaseCurveTemporalModel needs a (PHASE, NORM) table: use phase_curve_model "
                         "or read_phase_curve")
    x = np.asarray(d["phase"], dtype=float)
    y = np.asarray(d["norm"], dtype=float) * float(d.get("norm_scale", 1.0))
    if x[0] > 0:
        y0 = y[0] + (y[1] - y[0]) / (x[1] - x[0]) * (0 - x[0])
        x, y = np.concatenate([[0.0], x]), np.concatenate([[y0], y])
    if x[-1] < 1:
        y1 = y[-1] + (y[-1] - y[-2]) / (x[-1] - x[-2]) * (1 - x[-1])
        x, y = np.concatenate([x, [1.0]]), np.concatenate([y, [y1]])
    return x, y


def _pc(t: Any, p: Sequence[Any], d: Mapping[str, Any]) -> Any:
    x, y = _padded(d)
    ph = _phase(t, p)
    return np.interp(ph - np.floor(ph), x, y)


def _pc_cum(ph: Any, d: Mapping[str, Any]) -> Any:
    """``int_0^ph norm`` over the unwrapped phase ``ph`` (periods + the partial one)."""
    x, y = _padded(d)
    seg = 0.5 * (y[1:] + y[:-1]) * np.diff(x)
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    n = np.floor(ph)
    f = ph - n
    k = np.clip(np.searchsorted(x, f, side="right") - 1, 0, x.size - 2)
    df = f - x[k]
    slope = (y[k + 1] - y[k]) / (x[k + 1] - x[k])
    return n * cum[-1] + cum[k] + y[k] * df + 0.5 * slope * df**2


def _pc_int(t1: Any, t2: Any, p: Sequence[Any], d: Mapping[str, Any]) -> Any:
    t_ref, phi_ref, f0, f1, f2 = p
    dt = (np.asarray(t1, dtype=float) - t_ref) * _SECONDS_PER_DAY
    freq = f0 + dt * (f1 + dt * f2 / 2)  # at the interval start [s-1]
    return (_pc_cum(_phase(t2, p), d) - _pc_cum(_phase(t1, p), d)) / freq / _SECONDS_PER_DAY


def phase_curve_model(phase: Any, norm: Any, normalize: bool = True, filename: str | None = None,
                      **values: Any) -> TemporalModel:
    """A ``TemplatePhaseCurveTemporalModel`` from a ``(phase, norm)`` table (phases in
    ``[0, 1]``, increasing); ``values`` set ``t_ref``, ``phi_ref``, ``f0``, ``f1``, ``f2``.

    Examples
    --------
    >>> m = phase_curve_model([0.0, 0.25, 0.5, 0.75, 1.0], [0.0, 2.0, 0.0, 2.0, 0.0], f0=1.0, t_ref=55000.0)
    >>> float(m(55000.0 + 0.25 / 86400))     # a quarter period later
    2.0
    >>> round(float(m.integral(55000.0, 55001.0)), 9)   # mean over whole periods: 1
    1.0
    """
    x, y = np.asarray(phase, dtype=float), np.asarray(norm, dtype=float)
    if x.ndim != 1 or x.shape != y.shape or x.size < 2 or np.any(np.diff(x) <= 0) or x[0] < 0 or x[-1] > 1:
        raise ValueError("phase curve: need at least 2 increasing phases in [0, 1] and as many norms")
    data: dict[str, Any] = {"phase": x, "norm": y, "filename": filename, "normalize": bool(normalize),
                            "norm_scale": 1.0}
    if normalize:  # the table is kept as given (exact round trips), with the factor beside it
        total = float(_pc_cum(np.array(1.0), data))
        if not total > 0:
            raise ValueError("phase curve: the norm integrates to <= 0 over a period")
        data["norm_scale"] = 1.0 / total
    spec = get_spec("TemplatePhaseCurveTemporalModel", "temporal")
    m = TemporalModel(spec.tag, spec.default_parameters, data)
    return m.with_values(**values) if values else m


def read_phase_curve(path: str | Path, normalize: bool = True, **values: Any) -> TemporalModel:
    """Read a phase curve: a FITS (or any astropy-readable) table with ``PHASE`` and ``NORM``.

    Examples
    --------
    >>> import tempfile, os
    >>> from astropy.table import Table
    >>> p = os.path.join(tempfile.mkdtemp(), "pc.fits")
    >>> Table({"PHASE": [0.0, 0.5, 1.0], "NORM": [1.0, 3.0, 1.0]}).write(p)
    >>> float(read_phase_curve(p, f0=1.0)(51544.0 + 0.5 / 86400))
    1.5
    """
    from astropy.table import Table

    try:
        tab = Table.read(path)
        cols = {c.upper(): c for c in tab.colnames}
        phase = np.asarray(tab[cols["PHASE"]], dtype=float)
        norm = np.asarray(tab[cols["NORM"]], dtype=float)
    except (OSError, KeyError, ValueError) as exc:
        raise XgammaIOError(f"cannot read a phase curve: {exc}", path=str(path),
                            expected="table with PHASE and NORM columns") from exc
    return phase_curve_model(phase, norm, normalize=normalize, filename=str(path), **values)


def _pc_to_dict(d: Mapping[str, Any]) -> dict[str, Any]:
    if d.get("filename"):
        return {"filename": str(d["filename"]), "normalize": bool(d.get("normalize", True))}
    return {"phase": {"data": [float(x) for x in d["phase"]], "unit": ""},
            "norm": {"data": [float(x) for x in d["norm"]], "unit": ""}, "normalize": bool(d.get("normalize", True))}


def _pc_from_dict(data: Mapping[str, Any]) -> TemporalModel:
    spec = get_spec("TemplatePhaseCurveTemporalModel", "temporal")
    normalize = bool(data.get("normalize", True))
    if "phase" in data:
        m = phase_curve_model(data["phase"]["data"], data["norm"]["data"], normalize=normalize)
    elif data.get("filename"):
        m = read_phase_curve(str(data["filename"]), normalize=normalize)
    else:
        raise ValueError("TemplatePhaseCurveTemporalModel YAML needs 'filename'")
    return m.with_parameters(merge_parameters(m.params, data.get("parameters"), spec.tag))


# --------------------------------------------------------------------------------------------
# registration

_P = Parameter
#: Absolute initial fit steps: a step relative to t_ref (MJD ~ 5e4) would be hundreds of days.
_STEPS = {"t_ref": 0.01, "t_rise": 0.01, "t_decay": 0.01, "t0": 0.01, "eta": 0.01, "alpha": 0.01,
          "phi_ref": 0.01}


def _reg(tag: str, aliases: tuple[str, ...], params: tuple[Parameter, ...], evaluate: Any, integral: Any,
         **kw: Any) -> None:
    extra = {"steps": {k: v for k, v in _STEPS.items() if k in {p.name for p in params}}}
    extra.update(kw.pop("extra", {}))
    register(ModelSpec(tag, "temporal", aliases, params, evaluate, integral=integral,
                       from_dict=kw.pop("from_dict", temporal_from_dict), extra=extra, **kw))


_reg("PowerLawTemporalModel", ("powerlaw", "PowerLaw"),
     (_P("alpha", 1.0), _P("t_ref", DEFAULT_T_REF, "d", frozen=True), _P("t0", 1.0, "d", frozen=True)),
     _pl, _pl_int, description="((t - t_ref) / t0)^alpha",
     example=lambda: TemporalModel.create("powerlaw", alpha=-1.2, t_ref=54997.0, t0=2.0))
_reg("GeneralizedGaussianTemporalModel", ("gengauss", "GeneralizedGaussian"),
     (_P("t_ref", DEFAULT_T_REF, "d"), _P("t_rise", 1.0, "d"), _P("t_decay", 1.0, "d"), _P("eta", 0.5)),
     _gg, _gg_int, description="exp(-|t - t_ref|^(1/eta) / (2 t_rise|t_decay^(1/eta)))",
     example=lambda: TemporalModel.create("gengauss", t_ref=55001.0, t_rise=0.5, t_decay=1.5, eta=0.7))
_reg("TemplatePhaseCurveTemporalModel", ("template-phase", "TemplatePhaseCurve"),
     (_P("t_ref", _CRAB_T_REF, "d", frozen=True), _P("phi_ref", 0.0, frozen=True),
      _P("f0", CRAB_F0, "s-1", frozen=True), _P("f1", 0.0, "s-2", frozen=True), _P("f2", 0.0, "s-3", frozen=True)),
     _pc, _pc_int, from_dict=_pc_from_dict, extra={"to_dict": _pc_to_dict},
     example=lambda: phase_curve_model([0.0, 0.3, 0.5, 0.8, 1.0], [1.0, 3.0, 0.5, 2.0, 1.0], t_ref=55000.0,
                                       phi_ref=0.1, f0=1 / (0.7 * _SECONDS_PER_DAY)),
     description="pulsar phase curve: norm(phase(t)), phase from (t_ref, phi_ref, f0, f1, f2)")
