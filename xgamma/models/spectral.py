"""Spectral models: pure functions of energy (TeV) and parameter values, plus small immutable
model objects that carry a :class:`~xgamma.models.params.Parameters` table.

Every model type is registered in :mod:`xgamma.models.registry` under its Gammapy class name
(``PowerLawSpectralModel``) and short aliases (``pl``, ``PowerLaw``). Flux models return
``dN/dE`` in ``cm-2 s-1 TeV-1``; norm models (``PowerLawNormSpectralModel``, EBL absorption, ...)
are dimensionless. Evaluation accepts numpy arrays, dask arrays and DataArrays (numpy or dask
backed; the output keeps the input's dims and laziness), and parameter values may be given as
DataArrays to broadcast over extra dims (e.g. samples).

Integrals over energy bins are analytic where a closed form exists (power laws, broken power law,
Gaussian line, log-log tables); other models use Gauss-Legendre quadrature in ``log E``.

This module holds the model objects, the analytic model functions and the registration of every
spectral type; the tabulated models (:func:`template_model`, :func:`piecewise_norm_model`,
:func:`ebl_absorption`, :data:`EBL_TABLES`) live in :mod:`xgamma.models.spectral_tables` and are
re-exported here.

Examples
--------
>>> import numpy as np
>>> from xgamma.models.spectral import spectral_model
>>> pl = spectral_model("pl", index=2.0, amplitude="1e-12 cm-2 s-1 TeV-1")
>>> float(pl(np.array([1.0, 10.0]))[1])
1e-14
>>> float(pl.integral(1.0, 10.0))       # analytic: 1e-12 * (1 - 0.1)
9e-13
>>> lp10 = spectral_model("LogParabola10", amplitude=4e-11, alpha=2.5, beta=0.4)
>>> round(float(lp10(10.0)) / 4e-11, 8)   # 10^(-2.5 - 0.4)
0.00125893
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.special import erf, erfcx

from xgamma.models.params import Parameter
from xgamma.models.registry import (
    ModelSpec,
    get_spec,
    gl_integral,
    powerlaw_integral,
    register,
)
from xgamma.models.spectral_base import (
    FLUX_UNIT,
    CompoundSpectralModel,
    ScaleSpectralModel,
    SpectralModel,
    SpectralModelBase,
    compound_from_dict,
    scale_from_dict,
    spectral_from_dict,
    spectral_model,
)
from xgamma.models.spectral_tables import (
    EBL_TABLES,
    ebl_absorption,
    piecewise_norm_model,
    template_model,
)

__all__ = [
    "FLUX_UNIT",
    "SpectralModelBase",
    "SpectralModel",
    "CompoundSpectralModel",
    "ScaleSpectralModel",
    "spectral_model",
    "template_model",
    "piecewise_norm_model",
    "ebl_absorption",
    "spectral_from_dict",
    "example_spectral_model",
    "EBL_TABLES",
]

#: Unit of differential flux models.
def _pl(e: Any, p: Sequence[Any], d: Any) -> Any:
    index, amplitude, reference = p
    return amplitude * (e / reference) ** (-index)


def _pl2_norm(p: Sequence[Any]) -> Any:
    """``dN/dE = N (E/emax)^-index`` with ``N`` fixing the integral over [emin, emax]."""
    amplitude, index, emin, emax = p
    g = 1 - np.asarray(index, dtype=float)
    small = np.abs(g) < 1e-10
    gs = np.where(small, 1.0, g)
    k = np.where(small, 1 / np.log(emax / emin), gs / (1 - (emin / emax) ** gs))
    return amplitude * k / emax


def _bpl(e: Any, p: Sequence[Any], d: Any) -> Any:
    index1, index2, amplitude, ebreak = p
    return amplitude * (e / ebreak) ** (-np.where(e < ebreak, index1, index2))


def _bpl_int(e1: Any, e2: Any, p: Sequence[Any], power: int) -> Any:
    index1, index2, amplitude, ebreak = p
    lo_hi = np.minimum(e2, ebreak)
    hi_lo = np.maximum(e1, ebreak)
    low = np.where(e1 < lo_hi, powerlaw_integral(amplitude, ebreak, index1, e1, np.maximum(lo_hi, e1), power), 0.0)
    high = np.where(hi_lo < e2, powerlaw_integral(amplitude, ebreak, index2, np.minimum(hi_lo, e2), e2, power), 0.0)
    return low + high


def _sbpl(e: Any, p: Sequence[Any], d: Any) -> Any:
    index1, index2, amplitude, ebreak, reference, beta = p
    sign = np.where(np.sign(index2 - index1) == 0, 1.0, np.sign(index2 - index1))
    b = beta * sign
    return amplitude * (e / reference) ** (-index1) * (1 + (e / ebreak) ** ((index2 - index1) / b)) ** (-b)


def _ecpl(e: Any, p: Sequence[Any], d: Any) -> Any:
    index, amplitude, reference, lambda_, alpha = p
    return amplitude * (e / reference) ** (-index) * np.exp(-((lambda_ * e) ** alpha))


def _ecpl_3fgl(e: Any, p: Sequence[Any], d: Any) -> Any:
    index, amplitude, reference, ecut = p
    return amplitude * (e / reference) ** (-index) * np.exp((reference - e) / ecut)


def _secpl_3fgl(e: Any, p: Sequence[Any], d: Any) -> Any:
    amplitude, reference, ecut, index_1, index_2 = p
    return amplitude * (e / reference) ** (-index_1) * np.exp((reference / ecut) ** index_2 - (e / ecut) ** index_2)


def _secpl_4fgl_dr3(e: Any, p: Sequence[Any], d: Any) -> Any:
    amplitude, reference, expfactor, index_1, index_2 = p
    x = e / reference
    lnx = np.log(x)
    small = np.abs(index_2 * lnx) < 1e-2
    b = np.where(index_2 == 0, 1.0, index_2)
    with np.errstate(over="ignore", invalid="ignore"):
        full = x ** (expfactor / b) * np.exp(expfactor / b**2 * (1 - x**b))
    # 4FGL-DR3 (Abdollahi+2022, eq. 2-3); for |b ln x| < 0.01 the Taylor series of the cutoff
    # ln C = -d ln(x) (ln(x)/2 + b ln(x)^2/6 + b^2 ln(x)^3/24) avoids the 0/0 of b -> 0
    series = x ** (-expfactor * (lnx / 2 + index_2 / 6 * lnx**2 + index_2**2 / 24 * lnx**3))
    cutoff = np.where(small, series, full)
    return amplitude * x ** (-index_1) * cutoff


def _lp(e: Any, p: Sequence[Any], d: Any) -> Any:
    amplitude, reference, alpha, beta = p
    x = e / reference
    return amplitude * x ** (-alpha - beta * np.log(x))


def _lp10(e: Any, p: Sequence[Any], d: Any) -> Any:
    amplitude, reference, alpha, beta = p
    x = e / reference
    return amplitude * x ** (-alpha - beta * np.log10(x))


def _lp_int(e1: Any, e2: Any, p: Sequence[Any], power: int = 0, log10: bool = False) -> Any:
    """Analytic ``int E^power dN/dE`` of a log-parabola (Gaussian in ``y = ln(E/E0)``).

    ``int exp(-b y^2 - c y) dy`` with ``b = beta`` (ln flavour), ``c = alpha - 1 - power``, written
    with ``erfcx`` so that it is stable for all ``y``; ``b <= 1e-6`` falls back to quadrature.
    """
    amplitude, reference, alpha, beta = p
    b = np.asarray(beta, dtype=float) / (math.log(10) if log10 else 1.0)
    c = np.asarray(alpha, dtype=float) - 1 - power
    ok = b > 1e-6
    bs = np.where(ok, b, 1.0)
    y1, y2 = np.log(e1 / reference), np.log(e2 / reference)
    sq = np.sqrt(bs)
    u1, u2 = sq * (y1 + c / (2 * bs)), sq * (y2 + c / (2 * bs))
    g1, g2 = -bs * y1**2 - c * y1, -bs * y2**2 - c * y2
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        pos = np.exp(g1) * erfcx(u1) - np.exp(g2) * erfcx(u2)  # both u >= 0
        neg = np.exp(g2) * erfcx(-u2) - np.exp(g1) * erfcx(-u1)  # both u <= 0
        mid = np.exp(c**2 / (4 * bs)) * (erf(u2) - erf(u1))  # the peak lies inside the bin
    diff = np.where(u1 >= 0, pos, np.where(u2 <= 0, neg, mid))
    val = amplitude * reference ** (power + 1) * np.sqrt(np.pi / (4 * bs)) * diff
    if np.all(ok):
        return val
    f = _lp10 if log10 else _lp
    num = gl_integral(lambda e: f(e, p, None), e1, e2, power=power)
    return np.where(ok, val, num)


def _gauss(e: Any, p: Sequence[Any], d: Any) -> Any:
    amplitude, mean, sigma = p
    return amplitude / (sigma * math.sqrt(2 * math.pi)) * np.exp(-((e - mean) ** 2) / (2 * sigma**2))


def _gauss_integral(e1: Any, e2: Any, p: Sequence[Any], d: Any) -> Any:
    amplitude, mean, sigma = p
    s2 = math.sqrt(2) * sigma
    return amplitude / 2 * (erf((e2 - mean) / s2) - erf((e1 - mean) / s2))


def _gauss_eflux(e1: Any, e2: Any, p: Sequence[Any], d: Any) -> Any:
    amplitude, mean, sigma = p
    pdf2, pdf1 = _gauss(e2, (1.0, mean, sigma), d), _gauss(e1, (1.0, mean, sigma), d)
    return mean * _gauss_integral(e1, e2, p, d) - amplitude * sigma**2 * (pdf2 - pdf1)


# --------------------------------------------------------------------------------------------
# constructors


# --------------------------------------------------------------------------------------------
# registration


_P = Parameter


def _amp(value: float = 1e-12, unit: str = FLUX_UNIT) -> Parameter:
    return _P("amplitude", value, unit)


def _ref(value: float = 1.0) -> Parameter:
    return _P("reference", value, "TeV", frozen=True)


def _reg(tag: str, aliases: tuple[str, ...], params: tuple[Parameter, ...], evaluate: Any, **kw: Any) -> None:
    register(ModelSpec(tag, "spectral", aliases, params, evaluate, **kw))


_reg("ConstantSpectralModel", ("const", "Constant"), (_P("const", 1e-12, FLUX_UNIT),),
     lambda e, p, d: p[0] * np.ones_like(e), integral=lambda e1, e2, p, d: p[0] * (e2 - e1),
     energy_flux=lambda e1, e2, p, d: p[0] * (e2**2 - e1**2) / 2, description="dN/dE = const")
_reg("PowerLawSpectralModel", ("pl", "PowerLaw"), (_P("index", 2.0), _amp(), _ref()), _pl,
     integral=lambda e1, e2, p, d: powerlaw_integral(p[1], p[2], p[0], e1, e2),
     energy_flux=lambda e1, e2, p, d: powerlaw_integral(p[1], p[2], p[0], e1, e2, power=1),
     description="amplitude (E/reference)^-index")
_reg("PowerLawNormSpectralModel", ("pl-norm", "PowerLawNorm"),
     (_P("norm", 1.0), _P("tilt", 0.0, frozen=True), _ref()), lambda e, p, d: p[0] * (e / p[2]) ** (-p[1]),
     integral=lambda e1, e2, p, d: powerlaw_integral(p[0], p[2], p[1], e1, e2),
     energy_flux=lambda e1, e2, p, d: powerlaw_integral(p[0], p[2], p[1], e1, e2, power=1),
     is_norm=True, description="norm (E/reference)^-tilt")
_reg("PowerLaw2SpectralModel", ("pl-2", "PowerLaw2"),
     (_amp(1e-12, "cm-2 s-1"), _P("index", 2.0), _P("emin", 0.1, "TeV", frozen=True),
      _P("emax", 100.0, "TeV", frozen=True)), lambda e, p, d: _pl2_norm(p) * (e / p[3]) ** (-p[1]),
     integral=lambda e1, e2, p, d: powerlaw_integral(_pl2_norm(p), p[3], p[1], e1, e2),
     energy_flux=lambda e1, e2, p, d: powerlaw_integral(_pl2_norm(p), p[3], p[1], e1, e2, power=1),
     description="power law normalised by its integral flux between emin and emax")
_reg("BrokenPowerLawSpectralModel", ("bpl", "BrokenPowerLaw"),
     (_P("index1", 2.0), _P("index2", 2.0), _amp(), _P("ebreak", 1.0, "TeV")), _bpl,
     integral=lambda e1, e2, p, d: _bpl_int(e1, e2, p, 0),
     example=lambda: spectral_model("bpl", index1=1.8, index2=2.8, ebreak=3.0),
     energy_flux=lambda e1, e2, p, d: _bpl_int(e1, e2, p, 1),
     description="amplitude (E/ebreak)^-index1 below ebreak, ^-index2 above")
_reg("SmoothBrokenPowerLawSpectralModel", ("sbpl", "SmoothBrokenPowerLaw"),
     (_P("index1", 2.0), _P("index2", 2.0), _amp(), _P("ebreak", 1.0, "TeV"), _ref(),
      _P("beta", 1.0, frozen=True)), _sbpl, example=lambda: spectral_model("sbpl", index1=1.8, index2=2.8, ebreak=3.0),
     description="amplitude (E/E0)^-index1 [1 + (E/ebreak)^((index2-index1)/beta)]^-beta")
_reg("ExpCutoffPowerLawSpectralModel", ("ecpl", "ExpCutoffPowerLaw"),
     (_P("index", 1.5), _amp(), _ref(), _P("lambda_", 0.1, "TeV-1"), _P("alpha", 1.0, frozen=True)),
     _ecpl, description="amplitude (E/E0)^-index exp(-(lambda_ E)^alpha)")
_reg("ExpCutoffPowerLawNormSpectralModel", ("ecpl-norm", "ExpCutoffPowerLawNorm"),
     (_P("index", 0.0), _P("norm", 1.0), _ref(), _P("lambda_", 0.1, "TeV-1"), _P("alpha", 1.0, frozen=True)),
     _ecpl, is_norm=True, description="norm (E/E0)^-index exp(-(lambda_ E)^alpha)")
_reg("ExpCutoffPowerLaw3FGLSpectralModel", ("ecpl-3fgl", "ExpCutoffPowerLaw3FGL"),
     (_P("index", 1.5), _amp(), _ref(), _P("ecut", 10.0, "TeV")), _ecpl_3fgl,
     description="amplitude (E/E0)^-index exp((E0 - E)/ecut)")
_reg("SuperExpCutoffPowerLaw3FGLSpectralModel", ("secpl-3fgl", "SuperExpCutoffPowerLaw3FGL"),
     (_amp(), _ref(), _P("ecut", 10.0, "TeV"), _P("index_1", 1.5), _P("index_2", 2.0)), _secpl_3fgl,
     description="amplitude (E/E0)^-index_1 exp((E0/ecut)^index_2 - (E/ecut)^index_2)")
_reg("SuperExpCutoffPowerLaw4FGLDR3SpectralModel", ("secpl-4fgl-dr3", "SuperExpCutoffPowerLaw4FGLDR3"),
     (_amp(), _ref(), _P("expfactor", 1e-2), _P("index_1", 1.5), _P("index_2", 2.0)), _secpl_4fgl_dr3,
     description="4FGL-DR3 PLSuperExpCutoff4: K x^(d/b - G1) exp(d/b^2 (1 - x^b)), x = E/E0")
_reg("LogParabolaSpectralModel", ("lp", "LogParabola"),
     (_amp(), _ref(10.0), _P("alpha", 2.0), _P("beta", 1.0)), _lp,
     integral=lambda e1, e2, p, d: _lp_int(e1, e2, p), energy_flux=lambda e1, e2, p, d: _lp_int(e1, e2, p, 1),
     description="amplitude (E/E0)^(-alpha - beta ln(E/E0))  (natural log, as Gammapy)")
_reg("LogParabola10SpectralModel", ("lp10", "LogParabola10"),
     (_amp(), _ref(1.0), _P("alpha", 2.0), _P("beta", 0.5)), _lp10,
     integral=lambda e1, e2, p, d: _lp_int(e1, e2, p, log10=True),
     energy_flux=lambda e1, e2, p, d: _lp_int(e1, e2, p, 1, log10=True),
     description="amplitude (E/E0)^(-alpha - beta log10(E/E0))  (base-10 log, e.g. Nigro+2019)")
_reg("LogParabolaNormSpectralModel", ("lp-norm", "LogParabolaNorm"),
     (_P("norm", 1.0), _ref(10.0), _P("alpha", 0.0), _P("beta", 0.0)), _lp, is_norm=True,
     integral=lambda e1, e2, p, d: _lp_int(e1, e2, p), energy_flux=lambda e1, e2, p, d: _lp_int(e1, e2, p, 1),
     description="norm (E/E0)^(-alpha - beta ln(E/E0))")
_reg("GaussianSpectralModel", ("gauss", "Gaussian"),
     (_amp(1e-12, "cm-2 s-1"), _P("mean", 1.0, "TeV"), _P("sigma", 2.0, "TeV")), _gauss,
     integral=_gauss_integral, energy_flux=_gauss_eflux,
     description="amplitude / (sigma sqrt(2 pi)) exp(-(E - mean)^2 / (2 sigma^2))")
_reg("CompoundSpectralModel", ("compound",), (), None, from_dict=compound_from_dict,
     example=lambda: spectral_model("pl", index=2.6) * ebl_absorption("dominguez", redshift=0.2),
     description="model1 <operator> model2")
_reg("ScaleSpectralModel", ("scale",), (), None, from_dict=scale_from_dict,
     example=lambda: ScaleSpectralModel(spectral_model("ecpl"), Parameter("norm", 1.5)),
     description="norm * model")


def example_spectral_model(name: str) -> SpectralModelBase:
    """An instance of every registered type (defaults, or the spec's example).

    Examples
    --------
    >>> example_spectral_model("pl").type
    'PowerLawSpectralModel'
    """
    spec = get_spec(name, "spectral")
    if spec.example is not None:
        return spec.example()
    return SpectralModel.create(spec.tag)
