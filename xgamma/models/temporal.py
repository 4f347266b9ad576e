"""Temporal models: dimensionless light-curve shapes, pure functions of time and parameters.

Registered (kind ``"temporal"``) under Gammapy's names: ``ConstantTemporalModel`` (``const``),
``LinearTemporalModel`` (``linear``), ``ExpDecayTemporalModel`` (``exp-decay``),
``GaussianTemporalModel`` (``gauss``), ``SineTemporalModel`` (``sinus``) and
``LightCurveTemplateTemporalModel`` (``template``).

Time
----
Model functions take time as **MJD** (days, TT) and parameters such as ``t_ref`` are MJD in
``d`` (Gammapy's convention). :meth:`TemporalModel.__call__` and
:meth:`TemporalModel.integral` also accept astropy ``Time`` objects, or seconds relative to a
reference with ``time_ref=`` (MJD float or ``Time``), as in the event lists' ``time`` column
(seconds since ``MJDREF``).

Integrals
---------
``integral(t_min, t_max)`` returns, for each interval, ``int f dt`` divided by the **total**
duration of all the intervals given: over the GTIs of a dataset the sum is the time-average of
the model (the factor the predicted counts get), and each entry is the share of one interval.
The integrals are analytic (light-curve templates: exact for their linear interpolation).

Examples
--------
>>> from xgamma.models.temporal import temporal_model
>>> m = temporal_model("exp-decay", t0="2 d", t_ref=55000.0)
>>> round(float(m(55002.0)), 6)          # exp(-1)
0.367879
>>> round(float(m.integral(55000.0, 55002.0)), 6)   # mean of exp(-t/2) over 2 days
0.632121
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import astropy.units as u
import numpy as np
import xarray as xr
from dask.base import is_dask_collection
from scipy.special import erf

from xgamma.errors import XgammaIOError
from xgamma.models.base import RegisteredModel
from xgamma.models.params import Parameter, Parameters, merge_parameters
from xgamma.models.registry import ModelSpec, apply_elementwise, get_spec, register, to_unit
from xgamma.times import datetime_to_seconds

__all__ = [
    "TemporalModel",
    "temporal_model",
    "temporal_from_dict",
    "lightcurve_template_model",
    "read_lightcurve_template",
    "example_temporal_model",
    "to_mjd",
    "DEFAULT_T_REF",
]

#: Default reference time (MJD, TT): 2000-01-01 as in Gammapy.
DEFAULT_T_REF = 51544.0
_SECONDS_PER_DAY = 86400.0


def to_mjd(time: Any, time_ref: Any = None) -> Any:
    """Time as MJD: astropy ``Time`` -> ``mjd`` (TT); ``datetime64`` UTC dates (the ``time``
    column of events, a ``Timestamp``) -> MJD (TT); with ``time_ref`` (MJD or ``Time``), the
    input is seconds since ``time_ref``; otherwise it is already MJD (returned unchanged).

    Examples
    --------
    >>> to_mjd(86400.0, time_ref=51544.0)
    51545.0
    >>> from astropy.time import Time
    >>> float(to_mjd(Time(51544.5, format="mjd", scale="tt")))
    51544.5
    >>> import numpy as np
    >>> to_mjd(np.array(["2000-01-01T12:00"], "datetime64[ns]")).round(9).tolist()  # TT - UTC
    [51544.500742870]
    """
    from astropy.time import Time

    if isinstance(time, Time):
        return time.tt.mjd
    if isinstance(time, np.datetime64 | datetime.datetime) or (
            getattr(time, "dtype", None) is not None and np.dtype(time.dtype).kind == "M"):
        sec = datetime_to_seconds(np.asarray(time, dtype="datetime64[ns]"),
                                  {"mjdref": DEFAULT_T_REF, "timesys": "TT"})
        return DEFAULT_T_REF + sec / _SECONDS_PER_DAY
    if time_ref is None:
        return time
    ref = float(time_ref.tt.mjd) if isinstance(time_ref, Time) else float(time_ref)
    if isinstance(time, u.Quantity):
        time = time.to_value("s")
    return ref + time / _SECONDS_PER_DAY


# --------------------------------------------------------------------------------------------
# model functions f(t, p, data) with t in MJD; integrals F(t1, t2, p, data) = int f dt [d]


def _const(t: Any, p: Sequence[Any], d: Any) -> Any:
    return np.ones_like(t * 1.0)


def _const_int(t1: Any, t2: Any, p: Sequence[Any], d: Any) -> Any:
    return t2 - t1


def _linear(t: Any, p: Sequence[Any], d: Any) -> Any:
    alpha, beta, t_ref = p
    return alpha + beta * (t - t_ref)


def _linear_int(t1: Any, t2: Any, p: Sequence[Any], d: Any) -> Any:
    alpha, beta, t_ref = p
    return alpha * (t2 - t1) + beta / 2 * ((t2 - t_ref) ** 2 - (t1 - t_ref) ** 2)


def _expdecay(t: Any, p: Sequence[Any], d: Any) -> Any:
    t0, t_ref = p
    return np.exp(-(t - t_ref) / t0)


def _expdecay_int(t1: Any, t2: Any, p: Sequence[Any], d: Any) -> Any:
    t0, t_ref = p
    return t0 * (np.exp(-(t1 - t_ref) / t0) - np.exp(-(t2 - t_ref) / t0))


def _gauss(t: Any, p: Sequence[Any], d: Any) -> Any:
    t_ref, sigma = p
    return np.exp(-((t - t_ref) ** 2) / (2 * sigma**2))


def _gauss_int(t1: Any, t2: Any, p: Sequence[Any], d: Any) -> Any:
    t_ref, sigma = p
    s = math.sqrt(2) * sigma
    return sigma * math.sqrt(math.pi / 2) * (erf((t2 - t_ref) / s) - erf((t1 - t_ref) / s))


def _sine(t: Any, p: Sequence[Any], d: Any) -> Any:
    amp, omega, t_ref = p
    return 1 + amp * np.sin(omega * (t - t_ref))


def _sine_int(t1: Any, t2: Any, p: Sequence[Any], d: Any) -> Any:
    amp, omega, t_ref = p
    return (t2 - t1) - amp / omega * (np.cos(omega * (t2 - t_ref)) - np.cos(omega * (t1 - t_ref)))


def _lc(t: Any, p: Sequence[Any], d: Mapping[str, Any]) -> Any:
    (t_ref,) = p
    return np.interp(t - t_ref, d["time"], d["norm"], left=0.0, right=0.0)


def _lc_cumulative(x: Any, d: Mapping[str, Any]) -> Any:
    """``int_{-inf}^{x} f`` of the linear interpolation (0 outside the nodes), x relative [d]."""
    tn, yn = np.asarray(d["time"], float), np.asarray(d["norm"], float)
    seg = 0.5 * (yn[1:] + yn[:-1]) * np.diff(tn)
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    xc = np.clip(x, tn[0], tn[-1])
    k = np.clip(np.searchsorted(tn, xc, side="right") - 1, 0, tn.size - 2)
    dt = xc - tn[k]
    slope = (yn[k + 1] - yn[k]) / (tn[k + 1] - tn[k])
    return cum[k] + yn[k] * dt + 0.5 * slope * dt**2


def _lc_int(t1: Any, t2: Any, p: Sequence[Any], d: Mapping[str, Any]) -> Any:
    (t_ref,) = p
    return _lc_cumulative(t2 - t_ref, d) - _lc_cumulative(t1 - t_ref, d)


# --------------------------------------------------------------------------------------------
# model object


@dataclass(frozen=True, eq=False, repr=False)
class TemporalModel(RegisteredModel):
    """A registered temporal model type with its parameters (and the table of a template).

    Examples
    --------
    >>> m = TemporalModel.create("gauss", t_ref=55000.0, sigma="12 h")
    >>> m.parameters["sigma"].value, round(float(m(55000.5)), 6)
    (0.5, 0.606531)
    """

    tag: str
    params: Parameters
    data: Mapping[str, Any] = field(default_factory=dict)

    kind = "temporal"

    @classmethod
    def create(cls, name: str, **values: Any) -> TemporalModel:
        spec = get_spec(name, "temporal")
        if spec.tag == "LightCurveTemplateTemporalModel":
            raise ValueError("a light-curve template needs a table: use lightcurve_template_model")
        m = cls(spec.tag, spec.default_parameters)
        return m.with_values(**values) if values else m

    def convert_value(self, name: str, value: Any) -> float:
        """``value`` in the unit of parameter ``name``; an astropy ``Time`` becomes MJD (TT)."""
        from astropy.time import Time

        return float(value.tt.mjd) if isinstance(value, Time) else float(to_unit(value, self.params[name].unit))

    # --- numpy cores (time in MJD)
    def evaluate_values(self, time: Any, values: Sequence[Any]) -> Any:
        ev = self.spec.evaluate
        assert ev is not None
        return ev(time, tuple(values), self.data)

    def integral_values(self, t_min: Any, t_max: Any, values: Sequence[Any]) -> Any:
        """``int_{t_min}^{t_max} f dt`` in days (not normalised)."""
        fn = self.spec.integral
        if fn is not None:
            return fn(t_min, t_max, tuple(values), self.data)
        x, w = np.polynomial.legendre.leggauss(32)
        t1, t2 = np.asarray(t_min, float), np.asarray(t_max, float)
        tt = (t1 + t2)[..., None] / 2 + (t2 - t1)[..., None] / 2 * x
        return np.sum(w * self.evaluate_values(tt, values), axis=-1) * (t2 - t1) / 2

    # --- user-facing
    def __call__(self, time: Any, time_ref: Any = None, **overrides: Any) -> Any:
        """Model value (dimensionless) at ``time`` (MJD; or ``Time``; or ``datetime64`` UTC dates
        such as the events' ``time`` column; or s since ``time_ref``)."""
        t = to_mjd(time, time_ref)
        names = list(overrides)
        ov = [to_unit(overrides[n], self.params[n].unit) for n in names]
        base = list(self.params.values)
        idx = [self.params.index(n) for n in names]

        def fn(tt: Any, *a: Any) -> Any:
            vals: list[Any] = list(base)
            for i, v in zip(idx, a, strict=True):
                vals[i] = v
            return self.evaluate_values(tt, vals)

        return apply_elementwise(fn, t, *ov)

    def integral(self, t_min: Any, t_max: Any, time_ref: Any = None) -> Any:
        """``int f dt`` over each interval divided by the total duration of all intervals (so
        the sum over the GTIs of a dataset is the model's time-average over them).

        Examples
        --------
        >>> m = temporal_model("linear", alpha=1.0, beta="0.5 d-1", t_ref=0.0)
        >>> [round(float(v), 6) for v in m.integral([0.0, 1.0], [1.0, 2.0])]
        [0.625, 0.875]
        """
        t1, t2 = to_mjd(t_min, time_ref), to_mjd(t_max, time_ref)
        vals = list(self.params.values)

        def fn(a: Any, b: Any) -> Any:
            total = np.sum(b - a)
            return self.integral_values(a, b, vals) / (total if total > 0 else 1.0)

        if any(is_dask_collection(a) or isinstance(a, xr.DataArray) for a in (t1, t2)):
            num = apply_elementwise(lambda a, b: self.integral_values(a, b, vals), t1, t2)
            return num / (t2 - t1).sum()
        return fn(np.asarray(t1, dtype=float), np.asarray(t2, dtype=float))

    def to_dict(self, full: bool = False) -> dict[str, Any]:
        d: dict[str, Any] = {"type": self.tag}
        extra = self.spec.extra.get("to_dict")
        if extra is not None:
            d.update(extra(self.data))
        if len(self.params):
            d["parameters"] = self.params.to_dict(full=full)
        return d

    def __repr__(self) -> str:
        pars = ", ".join(f"{p.name}={p.value:.6g}" for p in self.params)
        return f"{self.tag}({pars})"


# --------------------------------------------------------------------------------------------
# light-curve templates


def lightcurve_template_model(time: Any, norm: Any, t_ref: Any = None, filename: str | None = None) -> TemporalModel:
    """Light curve from a table, interpolated linearly in time (0 outside the table).

    ``time`` are MJD (or astropy ``Time``); with ``t_ref`` (MJD or ``Time``) they are seconds
    since ``t_ref``. The table is stored relative to the frozen parameter ``t_ref``.

    Examples
    --------
    >>> lc = lightcurve_template_model([55000.0, 55001.0, 55002.0], [1.0, 3.0, 1.0])
    >>> float(lc(55000.5)), round(float(lc.integral(55000.0, 55002.0)), 6)
    (2.0, 2.0)
    """
    from astropy.time import Time

    if t_ref is not None:
        ref = float(t_ref.tt.mjd) if isinstance(t_ref, Time) else float(t_ref)
        tn = np.asarray(u.Quantity(time, "s").to_value("d") if not isinstance(time, u.Quantity)
                        else time.to_value("d"), dtype=float)
    else:
        mjd = np.asarray(to_mjd(time), dtype=float)
        ref = float(mjd[0])
        tn = mjd - ref
    yn = np.asarray(norm, dtype=float)
    if tn.ndim != 1 or tn.shape != yn.shape or tn.size < 2 or np.any(np.diff(tn) <= 0):
        raise ValueError("need increasing times and as many norms, at least 2")
    spec = get_spec("LightCurveTemplateTemporalModel", "temporal")
    pars = spec.default_parameters.with_values({"t_ref": ref})
    return TemporalModel(spec.tag, pars, {"time": tn, "norm": yn, "filename": filename})


def read_lightcurve_template(path: str | Path, hdu: str | int = 1) -> TemporalModel:
    """Read a light-curve template: FITS table with ``TIME`` (unit from ``TUNIT``, default s,
    relative to ``MJDREFI + MJDREFF``) and ``NORM`` columns.

    Examples
    --------
    >>> import tempfile, os
    >>> from astropy.table import Table
    >>> p = os.path.join(tempfile.mkdtemp(), "lc.fits")
    >>> t = Table({"TIME": [0.0, 86400.0], "NORM": [1.0, 2.0]}); t["TIME"].unit = "s"
    >>> t.meta.update({"MJDREFI": 55000, "MJDREFF": 0.0}); t.write(p)
    >>> float(read_lightcurve_template(p)(55000.5))
    1.5
    """
    from astropy.table import Table

    try:
        tab = Table.read(path, hdu=hdu)
        cols = {c.upper(): c for c in tab.colnames}
        time = u.Quantity(tab[cols["TIME"]].data, tab[cols["TIME"]].unit or "s")
        norm = np.asarray(tab[cols["NORM"]].data, dtype=float)
        ref = float(tab.meta.get("MJDREFI", 0)) + float(tab.meta.get("MJDREFF", 0.0))
    except (OSError, KeyError) as exc:
        raise XgammaIOError(f"cannot read a light-curve template: {exc}", path=str(path), hdu=hdu,
                            expected="table with TIME and NORM columns and MJDREFI/MJDREFF") from exc
    return lightcurve_template_model(time.to_value("s"), norm, t_ref=ref, filename=str(path))


def _lc_to_dict(d: Mapping[str, Any]) -> dict[str, Any]:
    if d.get("filename"):
        return {"filename": str(d["filename"])}
    return {"time": {"data": [float(x) for x in d["time"]], "unit": "d"},
            "norm": {"data": [float(x) for x in d["norm"]], "unit": ""}}


def _lc_from_dict(data: Mapping[str, Any]) -> TemporalModel:
    spec = get_spec("LightCurveTemplateTemporalModel", "temporal")
    if "filename" in data and "time" not in data:
        m = read_lightcurve_template(str(data["filename"]))
    else:
        t = u.Quantity(data["time"]["data"], data["time"].get("unit", "d") or "d").to_value("d")
        table = {"time": np.asarray(t, dtype=float), "norm": np.asarray(data["norm"]["data"], dtype=float),
                 "filename": None}
        m = TemporalModel(spec.tag, spec.default_parameters, table)
    return m.with_parameters(merge_parameters(m.params, data.get("parameters"), spec.tag))


def temporal_from_dict(data: Mapping[str, Any]) -> TemporalModel:
    """Build a temporal model from its YAML dict (Gammapy names or xgamma aliases).

    Examples
    --------
    >>> m = temporal_from_dict({"type": "ExpDecayTemporalModel", "parameters": [
    ...     {"name": "t0", "value": 48, "unit": "h"}]})
    >>> m.parameters["t0"].value
    2.0
    """
    spec = get_spec(str(data["type"]), "temporal")
    if spec.from_dict is not None and spec.from_dict is not temporal_from_dict:  # families with data
        return spec.from_dict(data)
    if spec.tag == "LightCurveTemplateTemporalModel":
        return _lc_from_dict(data)
    return TemporalModel(spec.tag, merge_parameters(spec.default_parameters, data.get("parameters"), spec.tag))


# --------------------------------------------------------------------------------------------
# registration

_P = Parameter


def _tref(frozen: bool = True) -> Parameter:
    return _P("t_ref", DEFAULT_T_REF, "d", frozen=frozen)


def _reg(tag: str, aliases: tuple[str, ...], params: tuple[Parameter, ...], evaluate: Any, integral: Any,
         **kw: Any) -> None:
    register(ModelSpec(tag, "temporal", aliases, params, evaluate, integral=integral,
                       from_dict=temporal_from_dict, **kw))


_reg("ConstantTemporalModel", ("const", "Constant"), (), _const, _const_int, description="f = 1")
_reg("LinearTemporalModel", ("linear", "Linear"), (_P("alpha", 1.0), _P("beta", 0.0, "d-1"), _tref()),
     _linear, _linear_int, description="alpha + beta (t - t_ref)")
_reg("ExpDecayTemporalModel", ("exp-decay", "ExpDecay"), (_P("t0", 1.0, "d"), _tref()), _expdecay,
     _expdecay_int, description="exp(-(t - t_ref) / t0)")
_reg("GaussianTemporalModel", ("gauss", "Gaussian"), (_tref(frozen=False), _P("sigma", 1.0, "d")), _gauss,
     _gauss_int, description="exp(-(t - t_ref)^2 / (2 sigma^2))")
_reg("SineTemporalModel", ("sinus", "Sine"), (_P("amp", 1.0), _P("omega", 1.0, "rad d-1"), _tref()), _sine,
     _sine_int, description="1 + amp sin(omega (t - t_ref))")
_reg("LightCurveTemplateTemporalModel", ("template", "LightCurveTemplate"), (_tref(),), _lc, _lc_int,
     extra={"to_dict": _lc_to_dict}, description="table interpolated linearly in time, 0 outside")


def example_temporal_model(name: str) -> TemporalModel:
    """An example instance of every registered type (t_ref at MJD 55000).

    Examples
    --------
    >>> example_temporal_model("sinus").type
    'SineTemporalModel'
    """
    spec = get_spec(name, "temporal")
    if spec.example is not None:  # families registered elsewhere bring their own
        return spec.example()
    t = 55000.0
    ex: dict[str, dict[str, Any]] = {
        "ConstantTemporalModel": {},
        "LinearTemporalModel": {"alpha": 1.0, "beta": 0.2, "t_ref": t},
        "ExpDecayTemporalModel": {"t0": 1.5, "t_ref": t},
        "GaussianTemporalModel": {"t_ref": t + 1.0, "sigma": 0.7},
        "SineTemporalModel": {"amp": 0.5, "omega": 2.0, "t_ref": t},
    }
    if spec.tag == "LightCurveTemplateTemporalModel":
        tn = t + np.linspace(-1.0, 4.0, 11)
        return lightcurve_template_model(tn, 1 + np.sin(np.linspace(0, 3, 11)) ** 2)
    return TemporalModel.create(spec.tag, **ex[spec.tag])


def temporal_model(name: str, **values: Any) -> TemporalModel:
    """A registered temporal model with default parameters, some values overridden.

    Examples
    --------
    >>> temporal_model("SineTemporalModel", amp=0.3, omega="0.5 rad / h").parameters["omega"].value
    12.0
    """
    return TemporalModel.create(name, **values)
