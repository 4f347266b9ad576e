"""More spectral model families: 4FGL (DR1) super-exponential cutoff, the Meyer (2010) Crab
spectrum, dark-matter annihilation and decay spectra, and naima radiative models (optional).

All are registered in :mod:`xgamma.models.registry` under Gammapy's class names and short tags,
so that Gammapy model files using them load:

* ``SuperExpCutoffPowerLaw4FGLSpectralModel`` (``secpl-4fgl``): 4FGL-DR1/DR2
  ``PLSuperExpCutoff2``, ``amplitude (E/E0)^-index_1 exp(expfactor (E0^index_2 - E^index_2))``
  with energies in MeV inside the exponential (Abdollahi et al. 2020, eq. 4). The DR3 flavour
  (``SuperExpCutoffPowerLaw4FGLDR3SpectralModel``) lives in :mod:`xgamma.models.spectral`.
* ``MeyerCrabSpectralModel``: ``norm * 10^P(log10(E/TeV)) erg cm-2 s-1 / E^2`` with the
  log-polynomial ``P`` of Meyer, Horns & Zechlin (2010, A&A 523, A2, appendix D).
* ``DarkMatterAnnihilationSpectralModel`` (``dm-annihilation``) and
  ``DarkMatterDecaySpectralModel`` (``dm-decay``): the flux of a dark-matter halo with
  astrophysical factor ``factor`` (J in GeV2 cm-5 for annihilation, D in GeV cm-2 for decay),
  ``scale`` the only parameter::

      annihilation: scale * J <sigma v> dN/dE(E (1+z)) / (4 pi k mDM^2),  <sigma v> = 3e-26 cm3 s-1
      decay:        scale * D dN/dE(E (1+z)) / (4 pi mDM tau),           tau = 4.3e17 s

  with ``k = 2`` (Majorana) or ``4`` (Dirac), as in Gammapy. The photon yield per
  annihilation ``dN/dE`` (per decay: the yield of a pair of mass ``mDM / 2``) is read from a
  PPPC4DMID-like table when one is given (``source=path``: a whitespace table with columns
  ``mDM`` [GeV], ``Log[10,x]`` and ``dN/dlog10(x)`` per channel; interpolated linearly in
  ``log mDM`` and ``log10 x``). **No such table ships with the shared data**, so by default the
  yields are analytic fits, ``x = E / mDM``, zero above ``x = 1``:

  - ``"b"`` (and the other quark and gauge-boson channels ``"W"``, ``"Z"``, ``"t"``, ``"q"``,
    ``"c"``): ``0.73 x^-1.5 exp(-7.8 x)`` (Bergstrom, Ullio & Buckley 1998, Astropart. Phys.
    9, 137; a fit to the hadronisation spectra of these channels, good to ~20-30 % for
    ``0.01 < x < 0.5``, poorer near ``x = 1``);
  - ``"tau"``: ``x^-1.31 (6.94 x - 4.93 x^2 - 0.51 x^3) exp(-4.53 x)`` (Fornengo, Pieri &
    Scopel 2004, PRD 70, 103529).

  These are approximations, not the PPPC4 tables Gammapy uses: expect 10-30 % differences
  from Gammapy's numbers for the same mass and channel unless the table is given.
* ``NaimaSpectralModel`` (``naima``): a naima radiative model (``naima`` is an optional extra,
  imported only when such a model is built). Gammapy writes this type but cannot read it back;
  xgamma writes, besides the parameters, the radiative and particle-distribution class names,
  the distance and the seed photon fields, and reads that form back.

Examples
--------
>>> import numpy as np
>>> from xgamma.models import spectral_model
>>> crab = spectral_model("MeyerCrabSpectralModel")
>>> round(float(crab(1.0)) / 1e-11, 2)       # dN/dE at 1 TeV, 1e-11 cm-2 s-1 TeV-1
3.35
>>> dm = dark_matter_model("annihilation", mass=1000.0, channel="b", factor=1e19)
>>> dm.type, dm.parameters.names
('DarkMatterAnnihilationSpectralModel', ('scale',))
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import astropy.units as u
import numpy as np

from xgamma.errors import XgammaIOError
from xgamma.models.params import Parameter, Parameters, merge_parameters
from xgamma.models.registry import ModelSpec, get_spec, gl_integral, register
from xgamma.models.spectral import FLUX_UNIT, SpectralModel, SpectralModelBase

__all__ = [
    "MEYER_COEFFICIENTS",
    "THERMAL_RELIC_CROSS_SECTION",
    "LIFETIME_AGE_OF_UNIVERSE",
    "DM_CHANNELS",
    "dark_matter_model",
    "dm_primary_spectrum",
    "naima_model",
    "NaimaSpectralModel",
]

#: Meyer et al. (2010) log-polynomial of the Crab SED, highest power first (log10 E/TeV ->
#: log10 E^2 dN/dE / (erg cm-2 s-1)).
MEYER_COEFFICIENTS = (-0.00449161, 0.0, 0.0473174, -0.179475, -0.53616, -10.2708)
#: Thermal relic annihilation cross-section [cm3 s-1].
THERMAL_RELIC_CROSS_SECTION = 3e-26
#: Reference dark-matter lifetime of the decay model [s] (age of the Universe, as in Gammapy).
LIFETIME_AGE_OF_UNIVERSE = 4.3e17
_ERG_TEV = float(u.erg.to(u.TeV))
_MEV_PER_TEV = 1e6
_QUARK_LIKE = ("b", "W", "Z", "t", "q", "c", "s", "u", "d", "g", "h")
#: Channels with an analytic yield (used when no table is given).
DM_CHANNELS = (*_QUARK_LIKE, "tau")


# --------------------------------------------------------------------------------------------
# analytic families


def _secpl_4fgl(e: Any, p: Sequence[Any], d: Any) -> Any:
    amplitude, reference, expfactor, index_1, index_2 = p
    k = expfactor * _MEV_PER_TEV**index_2
    with np.errstate(over="ignore"):
        return amplitude * (e / reference) ** (-index_1) * np.exp(k * (reference**index_2 - e**index_2))


def _meyer(e: Any, p: Sequence[Any], d: Any) -> Any:
    (norm,) = p
    log_sed = np.polyval(MEYER_COEFFICIENTS, np.log10(e))
    return norm * 10.0**log_sed * _ERG_TEV / e**2


# --------------------------------------------------------------------------------------------
# dark matter


def _yield_analytic(x: np.ndarray, channel: str) -> np.ndarray:
    """``dN/dx`` per annihilation of the analytic fits (0 outside ``0 < x < 1``)."""
    inside = (x > 0) & (x < 1)
    xs = np.where(inside, x, 0.5)
    if channel == "tau":
        val = xs**-1.31 * (6.94 * xs - 4.93 * xs**2 - 0.51 * xs**3) * np.exp(-4.53 * xs)
    else:
        val = 0.73 * xs**-1.5 * np.exp(-7.8 * xs)
    return np.where(inside, np.maximum(val, 0.0), 0.0)


def _read_yield_table(path: str, channel: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(masses [GeV], log10x nodes, dN/dlog10x (n_mass, n_x))`` of one channel of a table."""
    from astropy.table import Table

    try:
        tab = Table.read(path, format="ascii")
    except (OSError, ValueError) as exc:
        raise XgammaIOError(f"cannot read a dark-matter yield table: {exc}", path=path,
                            expected="whitespace table with columns mDM, Log[10,x] and one per channel") from exc
    cols = {c.lower(): c for c in tab.colnames}
    for need in ("mdm", "log[10,x]", channel.lower()):
        if need not in cols:
            raise XgammaIOError(f"dark-matter yield table has no column {need!r}", path=path,
                                expected=f"columns mDM, Log[10,x], {channel}")
    m = np.asarray(tab[cols["mdm"]], dtype=float)
    lx = np.asarray(tab[cols["log[10,x]"]], dtype=float)
    v = np.asarray(tab[cols[channel.lower()]], dtype=float)
    masses, lxs = np.unique(m), np.unique(lx)
    if masses.size * lxs.size != m.size:
        raise XgammaIOError("dark-matter yield table is not a full (mDM, Log[10,x]) grid", path=path)
    order = np.lexsort((lx, m))
    return masses, lxs, v[order].reshape(masses.size, lxs.size)


def dm_primary_spectrum(energy: Any, mass: float, channel: str = "b", source: str | None = None) -> np.ndarray:
    """Photons per annihilation of a pair of particles of mass ``mass`` [GeV], ``dN/dE`` in
    GeV-1 at ``energy`` [GeV] (analytic fits, or a table file ``source``; see module docs).

    Examples
    --------
    >>> import numpy as np
    >>> x = np.geomspace(1e-4, 1, 4001)
    >>> n = dm_primary_spectrum(x * 1000.0, 1000.0, "tau")   # per GeV
    >>> bool(1 < np.trapezoid(n * 1000.0, x) < 10)          # a few photons per annihilation
    True
    """
    e = np.asarray(energy, dtype=float)
    x = e / mass
    if source is None:
        if channel not in DM_CHANNELS:
            raise ValueError(f"no analytic yield for dark-matter channel {channel!r}; known: {list(DM_CHANNELS)}"
                             " (or give a PPPC-like table as source=)")
        return _yield_analytic(x, channel) / mass
    masses, lxs, tab = _read_yield_table(source, channel)
    lm = np.log(masses)
    if not masses[0] <= mass <= masses[-1]:
        raise ValueError(f"dark-matter mass {mass} GeV outside the table's {masses[0]}-{masses[-1]} GeV")
    i = int(np.clip(np.searchsorted(lm, math.log(mass)) - 1, 0, max(masses.size - 2, 0)))
    if masses.size == 1:
        row = tab[0]
    else:
        f = (math.log(mass) - lm[i]) / (lm[i + 1] - lm[i])
        row = (1 - f) * tab[i] + f * tab[i + 1]
    with np.errstate(divide="ignore"):
        lxe = np.log10(np.where(x > 0, x, 1e-300))
    dndlx = np.interp(lxe, lxs, row, left=0.0, right=0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x > 0, dndlx / (e * math.log(10)), 0.0)


def _dm_eval(e: Any, p: Sequence[Any], d: Mapping[str, Any]) -> Any:
    (scale,) = p
    if "mDM" not in d:
        raise ValueError("a dark-matter spectrum needs its mass, channel and factor: use dark_matter_model")
    e_gev = np.asarray(e, dtype=float) * 1e3 * (1 + float(d["z"]))
    mass = float(d["mDM"])
    if d["process"] == "annihilation":
        dnde = dm_primary_spectrum(e_gev, mass, str(d["channel"]), d.get("source"))
        flux = float(d["factor"]) * THERMAL_RELIC_CROSS_SECTION * dnde / (4 * math.pi * int(d["k"]) * mass**2)
    else:  # decay: the yield of a pair of mass mDM / 2 (each photon carries at most mDM / 2)
        dnde = dm_primary_spectrum(e_gev, mass / 2, str(d["channel"]), d.get("source"))
        flux = float(d["factor"]) * dnde / (4 * math.pi * mass * LIFETIME_AGE_OF_UNIVERSE)
    return scale * flux * 1e3  # GeV-1 -> TeV-1


def _dm_edge(d: Mapping[str, Any]) -> float:
    """Energy [TeV] where the yield ends (x = 1), a kink for the quadrature."""
    m = float(d["mDM"]) * (1.0 if d["process"] == "annihilation" else 0.5)
    return m / 1e3 / (1 + float(d["z"]))


def _dm_integral(e1: Any, e2: Any, p: Sequence[Any], d: Mapping[str, Any], power: int = 0) -> Any:
    """Quadrature (Gauss-Legendre in log E) split at the yield's end point."""
    nodes = [_dm_edge(d)] if d.get("source") is None else None
    if nodes is None or np.ndim(e1) > 1 or any(np.ndim(v) for v in p):
        nodes = None
    return gl_integral(lambda e: _dm_eval(e, p, d), e1, e2, power=power, nodes=nodes)


def _quantity(value: Any, unit: str) -> float:
    q = u.Quantity(value)
    if q.unit == u.dimensionless_unscaled:
        return float(q.value)
    return float(q.to_value(unit))


def dark_matter_model(process: str, mass: Any, channel: str = "b", factor: Any = 1.0, scale: float = 1.0,
                      z: float = 0.0, k: int = 2, source: str | None = None) -> SpectralModel:
    """A dark-matter annihilation (``process="annihilation"``) or decay spectrum.

    ``mass`` in GeV (or a Quantity / string), ``factor`` the J factor [GeV2 cm-5] or, for decay,
    the D factor [GeV cm-2]; ``k`` 2 (Majorana) or 4 (Dirac); ``source`` an optional yield
    table (see module docs).

    Examples
    --------
    >>> m = dark_matter_model("decay", "10 TeV", channel="tau", factor="1e21 GeV cm-2")
    >>> m.type, m.data["mDM"]
    ('DarkMatterDecaySpectralModel', 10000.0)
    """
    if process not in ("annihilation", "decay"):
        raise ValueError(f"process must be 'annihilation' or 'decay', got {process!r}")
    if int(k) not in (2, 4):
        raise ValueError(f"k must be 2 (Majorana) or 4 (Dirac), got {k}")
    if z < 0:
        raise ValueError(f"redshift z must be >= 0, got {z}")
    fac = _quantity(factor, "GeV2 cm-5" if process == "annihilation" else "GeV cm-2")
    if not fac > 0:
        raise ValueError(f"the astrophysical factor must be > 0, got {factor}")
    data = {"process": process, "mDM": _quantity(mass, "GeV"), "channel": str(channel), "factor": fac,
            "z": float(z), "k": int(k), "source": None if source is None else str(source)}
    if source is None and channel not in DM_CHANNELS:
        raise ValueError(f"no analytic yield for dark-matter channel {channel!r}; known: {list(DM_CHANNELS)}")
    tag = "DarkMatterAnnihilationSpectralModel" if process == "annihilation" else "DarkMatterDecaySpectralModel"
    pars = get_spec(tag, "spectral").default_parameters.with_values({"scale": float(scale)})
    return SpectralModel(tag, pars, data)


def _dm_to_dict(d: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "channel": str(d["channel"]),
        "mDM": f"{float(d['mDM'])!r} GeV",
        "factor": f"{float(d['factor'])!r} " + ("GeV2 / cm5" if d["process"] == "annihilation" else "GeV / cm2"),
        "z": float(d["z"]),
    }
    if d["process"] == "annihilation":
        out["k"] = int(d["k"])
    out["primary_flux"] = {"type": "ContinuumPrimaryFlux", "mDM": out["mDM"], "channel": out["channel"],
                           "source": d.get("source") or "analytic"}
    out["source"] = d.get("source")
    return out


def _dm_from_dict_factory(process: str) -> Any:
    def from_dict(data: Mapping[str, Any]) -> SpectralModel:
        tag = "DarkMatterAnnihilationSpectralModel" if process == "annihilation" else "DarkMatterDecaySpectralModel"
        mass = data.get("mDM", data.get("mass"))
        if mass is None:
            raise ValueError(f"{tag}: YAML needs 'mDM' (or 'mass')")
        source = data.get("source")
        if source in ("pppc4", "cosmixs", "analytic"):  # Gammapy's named tables are not shipped
            source = None
        factor = data.get("factor", data.get("jfactor", 1.0))
        m = dark_matter_model(process, mass, str(data.get("channel", "b")), factor, z=float(data.get("z", 0.0)),
                              k=int(data.get("k", 2)), source=source)
        return m.with_parameters(merge_parameters(m.parameters, data.get("parameters"), tag))

    return from_dict


# --------------------------------------------------------------------------------------------
# naima (optional dependency)


def _naima() -> Any:
    try:
        import naima
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("NaimaSpectralModel needs the optional 'naima' package: pip install naima") from exc
    return naima


@dataclass(frozen=True, eq=False, repr=False)
class NaimaSpectralModel(SpectralModelBase):
    """A naima radiative model (synchrotron, inverse Compton, bremsstrahlung, pion decay) as a
    spectral model; the particle distribution's parameters (and ``B``) are the parameters.

    Built with :func:`naima_model`. Evaluation calls naima (astropy quantities, not vectorised
    over parameter values); ``distance`` in kpc.

    Examples
    --------
    >>> NaimaSpectralModel.__name__
    'NaimaSpectralModel'
    """

    radiative: str
    particles: str
    params: Parameters
    distance: float = 1.0
    seed: Any = None
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def type(self) -> str:
        return "NaimaSpectralModel"

    @property
    def parameters(self) -> Parameters:
        return self.params

    def with_parameters(self, parameters: Parameters) -> NaimaSpectralModel:
        if parameters.names != self.params.names:
            raise ValueError(f"NaimaSpectralModel: parameter names {parameters.names} != {self.params.names}")
        return NaimaSpectralModel(self.radiative, self.particles, parameters, self.distance, self.seed, self.options)

    def _build(self, values: Sequence[Any]) -> Any:
        naima = _naima()
        kw = {p.name: u.Quantity(float(v), p.unit) for p, v in zip(self.params, values, strict=True)}
        b = kw.pop("B", None)
        pcls = getattr(naima.models, self.particles)
        pd = pcls(**kw)
        rcls = getattr(naima.models, self.radiative)
        ropts = dict(self.options)
        if b is not None:
            ropts["B"] = b
        if self.radiative == "InverseCompton" and self.seed is not None:
            ropts["seed_photon_fields"] = list(self.seed) if isinstance(self.seed, list | tuple) else [self.seed]
        return rcls(pd, **ropts)

    def evaluate_values(self, energy: np.ndarray, values: Sequence[Any]) -> np.ndarray:
        e = np.asarray(energy, dtype=float)
        if all(np.ndim(v) == 0 for v in values):
            flux = self._build(values).flux(u.Quantity(e.ravel(), "TeV"), distance=self.distance * u.kpc)
            return np.asarray(flux.to_value(FLUX_UNIT)).reshape(e.shape)
        # parameter arrays (samples): one naima model per distinct set of values
        arrs = np.broadcast_arrays(e, *[np.asarray(v, dtype=float) for v in values])
        out = np.empty(arrs[0].shape)
        flat = np.stack([a.ravel() for a in arrs[1:]], axis=1)
        uniq, inv = np.unique(flat, axis=0, return_inverse=True)
        ef = arrs[0].ravel()
        res = out.ravel()
        for k, row in enumerate(uniq):
            sel = inv.ravel() == k
            res[sel] = self.evaluate_values(ef[sel], list(row))
        return res.reshape(out.shape)

    def to_dict(self, full: bool = False) -> dict[str, Any]:
        return {"type": self.type, "parameters": self.params.to_dict(full=True),
                "radiative_model": self.radiative, "particle_distribution": self.particles,
                "distance": f"{self.distance!r} kpc", "seed": self.seed, "options": _plain(self.options)}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, NaimaSpectralModel):
            return NotImplemented
        return (self.radiative, self.particles, self.params, self.distance, self.seed) == (
            other.radiative, other.particles, other.params, other.distance, other.seed)

    __hash__ = None  # type: ignore[assignment]


def _plain(opts: Mapping[str, Any]) -> dict[str, Any]:
    return {k: (str(v) if isinstance(v, u.Quantity) else v) for k, v in opts.items()}


def naima_model(radiative: str, particles: str, distance: Any = 1.0, seed: Any = None,
                **values: Any) -> NaimaSpectralModel:
    """A :class:`NaimaSpectralModel` from naima class names and particle-distribution values.

    ``values``: the particle distribution's constructor arguments (Quantities or strings such as
    ``amplitude="1e33 eV-1"``) and ``B`` for synchrotron; others (``Eemax``, ...) are passed to
    the radiative model. ``distance`` in kpc (or a Quantity).

    Examples
    --------
    >>> try:
    ...     m = naima_model("InverseCompton", "ExponentialCutoffPowerLaw", amplitude="1e33 eV-1",
    ...                     e_0="10 TeV", alpha=2.0, e_cutoff="50 TeV", seed="CMB")
    ...     names = m.parameters.names
    ... except ImportError:
    ...     names = ("amplitude", "e_0", "alpha", "e_cutoff", "beta")
    >>> names[:3]
    ('amplitude', 'e_0', 'alpha')
    """
    naima = _naima()
    pcls = getattr(naima.models, particles, None)
    if pcls is None or not hasattr(naima.models, radiative):
        raise ValueError(f"unknown naima class {particles if pcls is None else radiative!r}")
    names = list(getattr(pcls, "param_names", []))
    pars: list[Parameter] = []
    options: dict[str, Any] = {}
    defaults = {"beta": 1.0}
    for name, val in values.items():
        if name not in names and name != "B":
            options[name] = u.Quantity(val) if isinstance(val, str) else val
    for name in [*names, *(["B"] if "B" in values else [])]:
        if name not in values and name not in defaults:
            raise ValueError(f"naima {particles}: missing value for {name!r}")
        q = u.Quantity(values.get(name, defaults.get(name)))
        frozen = name in ("e_0", "beta")
        pars.append(Parameter(name, float(q.value), q.unit.to_string() if q.unit != u.one else "", frozen=frozen))
    dist = _quantity(distance, "kpc")
    return NaimaSpectralModel(radiative, particles, Parameters(pars), dist, seed, options)


def _naima_from_dict(data: Mapping[str, Any]) -> NaimaSpectralModel:
    if "radiative_model" not in data or "particle_distribution" not in data:
        raise ValueError("NaimaSpectralModel YAML needs 'radiative_model' and 'particle_distribution' "
                         "(files written by Gammapy lack them: Gammapy cannot read this type back either)")
    values = {p["name"]: f"{p['value']} {p.get('unit', '')}".strip() for p in data.get("parameters", [])}
    opts = dict(data.get("options") or {})
    m = naima_model(str(data["radiative_model"]), str(data["particle_distribution"]),
                    distance=data.get("distance", 1.0), seed=data.get("seed"), **values, **opts)
    return m.with_parameters(merge_parameters(m.parameters, data.get("parameters"), "NaimaSpectralModel"))


# --------------------------------------------------------------------------------------------
# registration

_P = Parameter


def _reg(tag: str, aliases: tuple[str, ...], params: tuple[Parameter, ...], evaluate: Any, **kw: Any) -> None:
    register(ModelSpec(tag, "spectral", aliases, params, evaluate, **kw))


_reg("SuperExpCutoffPowerLaw4FGLSpectralModel", ("secpl-4fgl", "SuperExpCutoffPowerLaw4FGL"),
     (_P("amplitude", 1e-12, FLUX_UNIT), _P("reference", 1.0, "TeV", frozen=True), _P("expfactor", 1e-14),
      _P("index_1", 1.5), _P("index_2", 2.0)), _secpl_4fgl,
     example=lambda: SpectralModel.create("secpl-4fgl", amplitude=1e-11, expfactor=3e-4, index_1=1.8, index_2=0.5),
     description="4FGL-DR1 PLSuperExpCutoff2: amplitude (E/E0)^-index_1 exp(expfactor (E0^index_2 - E^index_2)),"
                 " E in MeV in the exponential")
_reg("MeyerCrabSpectralModel", ("meyer-crab", "MeyerCrab"), (_P("norm", 1.0, frozen=True),), _meyer,
     description="norm 10^P(log10 E) erg cm-2 s-1 / E^2, Meyer et al. (2010) Crab log-polynomial")
for _proc, _tag, _alias, _unit in (("annihilation", "DarkMatterAnnihilationSpectralModel", "dm-annihilation",
                                    "GeV2 cm-5"),
                                   ("decay", "DarkMatterDecaySpectralModel", "dm-decay", "GeV cm-2")):
    _reg(_tag, (_alias,), (_P("scale", 1.0),), _dm_eval, from_dict=_dm_from_dict_factory(_proc),
         integral=_dm_integral, energy_flux=lambda e1, e2, p, d: _dm_integral(e1, e2, p, d, 1),
         example=(lambda p=_proc: dark_matter_model(p, 1000.0, "b", 1e19 if p == "annihilation" else 1e21)),
         extra={"to_dict": _dm_to_dict},
         description=f"dark-matter {_proc}: scale x astrophysical factor [{_unit}] x yield (see module docs)")
_reg("NaimaSpectralModel", ("naima",), (), None, from_dict=_naima_from_dict,
     example=lambda: naima_model("InverseCompton", "ExponentialCutoffPowerLaw", amplitude="1e33 eV-1",
                                 e_0="10 TeV", alpha=2.0, e_cutoff="30 TeV", seed="CMB"),
     description="naima radiative model (optional dependency)")
