"""The contract between xgamma modules: dimension names, internal units, IRF schemas.

Every xgamma object is a plain ``xarray`` object that follows these conventions, and
:func:`validate` checks an object against them and names what is wrong.

Examples
--------
>>> import numpy as np, xarray as xr
>>> import xgamma as xg
>>> from xgamma.conventions import validate
>>> e = xg.energy_axis(0.1, 100, 4, name="energy_true")
>>> o = xg.axes.linear_axis(0, 2, 2, unit="deg", name="offset")
>>> aeff = xr.DataArray(np.ones((4, 2)), dims=("energy_true", "offset"),
...                     coords={**e.coords, **o.coords}, attrs={"units": "cm2", "irf": "aeff"})
>>> validate(aeff, "aeff")
"""

from __future__ import annotations

from dataclasses import dataclass, field

import astropy.units as u
import xarray as xr

from xgamma.errors import ConventionError

__all__ = [
    "DIMS",
    "UNITS",
    "IRFSchema",
    "IRF_SCHEMAS",
    "DatasetSchema",
    "DATASET_SCHEMAS",
    "dataset_kind",
    "validate",
    "unit_of",
    "to_internal",
]

#: Standard dimension names.
DIMS = (
    "energy",  # reconstructed energy
    "energy_true",
    "offset",
    "migra",
    "rad",
    "fov_lon",
    "fov_lat",
    "time",
    "obs",
    "y",
    "x",
    "pix",
)

#: Internal units, by physical quantity or dim.
UNITS = {
    "energy": "TeV",
    "energy_true": "TeV",
    "offset": "deg",
    "rad": "deg",
    "fov_lon": "deg",
    "fov_lat": "deg",
    "migra": "",
    "time": "s",
    "area": "cm2",
    "solid_angle": "sr",
    "exposure": "cm2 s",
    "aeff": "cm2",
    "edisp": "",
    "psf": "sr-1",
    "bkg": "s-1 TeV-1 sr-1",
    "rad_max": "deg",
}


@dataclass(frozen=True)
class IRFSchema:
    """Dims and unit that a given IRF kind has as a DataArray.

    ``dims`` are the required dims in order; ``unit`` is the internal unit the values are
    converted to on reading (``None``: dimensionless/any); ``alternatives`` lists other
    valid dim tuples (e.g. BKG_2D vs BKG_3D).

    Examples
    --------
    >>> IRF_SCHEMAS["bkg"].all_dims
    (('energy', 'fov_lon', 'fov_lat'), ('energy', 'offset'))
    """

    kind: str
    dims: tuple[str, ...]
    unit: str | None
    alternatives: tuple[tuple[str, ...], ...] = field(default_factory=tuple)
    description: str = ""

    @property
    def all_dims(self) -> tuple[tuple[str, ...], ...]:
        return (self.dims, *self.alternatives)


#: One schema per IRF kind. PSF_3GAUSS and PSF_KING are evaluated to the table form on reading
#: (parameters are kept as a Dataset in ``attrs`` through :func:`xgamma.irf`), so ``psf`` has
#: one form.
IRF_SCHEMAS: dict[str, IRFSchema] = {
    "aeff": IRFSchema(
        "aeff", ("energy_true", "offset"), "cm2",
        description="effective area AEFF_2D",
    ),
    "edisp": IRFSchema(
        "edisp", ("energy_true", "migra", "offset"), "",
        description="energy dispersion EDISP_2D: probability density in migra = E_reco/E_true",
    ),
    "psf": IRFSchema(
        "psf", ("energy_true", "offset", "rad"), "sr-1",
        description="PSF_TABLE: probability density per steradian at rad",
    ),
    "bkg": IRFSchema(
        "bkg", ("energy", "fov_lon", "fov_lat"), "s-1 TeV-1 sr-1",
        alternatives=(("energy", "offset"),),
        description="background rate BKG_3D (energy, fov_lon, fov_lat) or BKG_2D (energy, offset)",
    ),
    "rad_max": IRFSchema(
        "rad_max", ("energy", "offset"), "deg",
        description="RAD_MAX_2D: ON-region radius of point-like IRFs",
    ),
}


@dataclass(frozen=True)
class DatasetSchema:
    """The variables a kind of dataset must have, with the dims each must carry.

    ``required`` maps a variable to the dims it must have (others may be added, e.g. sky dims
    or ``obs``); ``one_of`` lists groups of which at least one variable must be present;
    ``sky`` says whether the sky dims ``(y, x)`` or ``pix`` must be present (``True``), absent
    (``False``) or either (``None``).

    Examples
    --------
    >>> DATASET_SCHEMAS["onoff"].required["counts_off"]
    ('energy',)
    """

    kind: str
    required: dict[str, tuple[str, ...]]
    one_of: tuple[tuple[str, ...], ...] = ()
    sky: bool | None = None
    description: str = ""


#: One schema per dataset kind: map (3D), spectrum (1D), ON/OFF spectrum, flux points,
#: light curve. :func:`validate` checks them where datasets enter (readers, ``fit``,
#: estimators).
DATASET_SCHEMAS: dict[str, DatasetSchema] = {
    "map": DatasetSchema(
        "map", {"counts": ("energy",), "exposure": ("energy_true",)}, sky=True,
        description="reduced 3D dataset: counts, exposure (+ background, psf, edisp, masks)"),
    "spectrum": DatasetSchema(
        "spectrum", {"counts": ("energy",), "exposure": ("energy_true",)}, sky=False,
        description="reduced 1D dataset: counts, exposure (+ edisp, background, masks)"),
    "onoff": DatasetSchema(
        "onoff", {"counts": ("energy",), "exposure": ("energy_true",), "counts_off": ("energy",)},
        one_of=(("alpha", "acceptance_off"),),
        description="ON/OFF dataset: counts, counts_off, exposure and alpha or acceptances"),
    "flux_points": DatasetSchema(
        "flux_points", {"norm": ("energy",)}, sky=None,
        description="estimator result on an energy axis (GADF SED): norm (+ errors, ts, ...)"),
    "light_curve": DatasetSchema(
        "light_curve", {"norm": ("time", "energy")}, sky=None,
        description="estimator result along time and energy: norm (+ errors, ts, ...)"),
}


def dataset_kind(ds: xr.Dataset) -> str:
    """The dataset kind of :data:`DATASET_SCHEMAS` that ``ds`` looks like.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> dataset_kind(xr.Dataset({"norm": ("energy", np.ones(2))}))
    'flux_points'
    """
    if "norm" in ds.data_vars:
        return "light_curve" if "time" in ds.dims else "flux_points"
    if "counts_off" in ds.data_vars:
        return "onoff"
    return "map" if ({"y", "x"} <= set(ds.dims) or "pix" in ds.dims) else "spectrum"


def _check_dataset(ds: xr.Dataset, kind: str) -> list[str]:
    schema = DATASET_SCHEMAS[kind]
    name = ds.attrs.get("name")
    where = f"{kind} dataset" + (f" {name!r}" if name else "")
    problems = []
    for var, dims in schema.required.items():
        if var not in ds.data_vars:
            problems.append(f"{where}: missing variable {var!r} (needs {', '.join(schema.required)})")
        else:
            lacking = [d for d in dims if d not in ds[var].dims]
            if lacking:
                problems.append(f"{where}: variable {var!r} lacks dim(s) {lacking} "
                                f"(has {tuple(map(str, ds[var].dims))})")
    for group in schema.one_of:
        if not any(v in ds.data_vars for v in group):
            problems.append(f"{where}: needs one of the variables {list(group)}")
    has_sky = {"y", "x"} <= set(ds.dims) or "pix" in ds.dims
    if schema.sky is True and not has_sky:
        problems.append(f"{where}: no sky dims (y, x) or pix")
    return problems


def unit_of(obj: xr.DataArray | xr.Variable) -> u.UnitBase:
    """The astropy unit in ``obj.attrs["units"]`` (dimensionless if absent).

    Examples
    --------
    >>> import xarray as xr
    >>> unit_of(xr.DataArray(1.0, attrs={"units": "cm2 s"}))
    Unit("cm2 s")
    """
    s = obj.attrs.get("units", "")
    try:
        return u.Unit(s)
    except ValueError as exc:
        raise ConventionError(f"unparseable unit {s!r} in attrs['units']") from exc


def to_internal(da: xr.DataArray, unit: str) -> xr.DataArray:
    """Convert ``da`` to ``unit`` (an astropy unit string), updating ``attrs["units"]``.

    Examples
    --------
    >>> import xarray as xr
    >>> float(to_internal(xr.DataArray(1.0, attrs={"units": "m2"}), "cm2"))
    10000.0
    """
    src = unit_of(da)
    dst = u.Unit(unit)
    if src == dst:
        return da.assign_attrs(units=dst.to_string())
    try:
        f = src.to(dst)
    except u.UnitConversionError as exc:
        raise ConventionError(f"cannot convert {src} to {dst}") from exc
    out = da * f
    out.attrs = {**da.attrs, "units": dst.to_string()}
    out.name = da.name
    return out


def validate(obj: xr.DataArray | xr.Dataset, kind: str | None = None) -> None:
    """Check that ``obj`` follows the conventions; raise :class:`ConventionError` naming what is wrong.

    Checks, for every binned dim (one with a ``<dim>_min`` coordinate): both edge coordinates
    exist, have the dim's length, ``min < max``, ``interp`` is ``log`` or ``lin``; every
    ``units`` attr parses; for an IRF ``kind`` (see :data:`IRF_SCHEMAS`) the dims and that the
    unit converts to the internal unit.

    Parameters
    ----------
    obj : DataArray or Dataset
    kind : str, optional
        IRF kind (``aeff``, ``edisp``, ``psf``, ``bkg``, ``rad_max``) or dataset kind
        (``map``, ``spectrum``, ``onoff``, ``flux_points``, ``light_curve``; ``"dataset"``
        infers it with :func:`dataset_kind`) whose schema to check.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> from xgamma.axes import energy_axis
    >>> e = energy_axis(1, 10, 2)
    >>> validate(xr.DataArray(np.ones(2), dims="energy", coords=e.coords, attrs={"units": "cm2"}), "aeff")
    Traceback (most recent call last):
    ...
    xgamma.errors.ConventionError: aeff: dims ('energy',) do not match any of [('energy_true', 'offset')]
    >>> validate(xr.Dataset({"counts": ("energy", np.ones(2))}, coords=e.coords), "spectrum")
    Traceback (most recent call last):
    ...
    xgamma.errors.ConventionError: spectrum dataset: missing variable 'exposure' (needs counts, exposure)
    """
    problems: list[str] = []
    for dim in obj.dims:
        d = str(dim)
        has_min, has_max = f"{d}_min" in obj.coords, f"{d}_max" in obj.coords
        if has_min != has_max:
            problems.append(f"dim {d!r}: has only one of {d}_min/{d}_max")
            continue
        if not has_min:
            continue
        lo, hi = obj.coords[f"{d}_min"], obj.coords[f"{d}_max"]
        if lo.dims != (d,) or hi.dims != (d,):
            problems.append(f"dim {d!r}: edge coordinates must lie along {d!r}")
            continue
        if bool((lo >= hi).any()):
            problems.append(f"dim {d!r}: some bins have {d}_min >= {d}_max")
        interp = obj.coords[d].attrs.get("interp") if d in obj.coords else None
        if interp not in (None, "log", "lin"):
            problems.append(f"dim {d!r}: interp must be 'log' or 'lin', got {interp!r}")
    variables = [obj] if isinstance(obj, xr.DataArray) else list(obj.data_vars.values())
    for v in [*variables, *obj.coords.values()]:
        s = v.attrs.get("units")
        if s is None:
            continue
        try:
            u.Unit(s)
        except ValueError:
            problems.append(f"{v.name!r}: unparseable unit {s!r}")
    if kind == "dataset" and isinstance(obj, xr.Dataset):
        kind = dataset_kind(obj)
    if kind in DATASET_SCHEMAS:
        if not isinstance(obj, xr.Dataset):
            raise ConventionError(f"a {kind} dataset must be an xarray.Dataset, got "
                                  f"{type(obj).__name__}")
        problems += _check_dataset(obj, kind)
    elif kind is not None:
        if kind not in IRF_SCHEMAS:
            raise ConventionError(f"unknown kind {kind!r}; known: "
                                  f"{sorted(IRF_SCHEMAS) + sorted(DATASET_SCHEMAS)}")
        if not isinstance(obj, xr.DataArray):
            raise ConventionError(f"an IRF ({kind}) must be a DataArray, got {type(obj).__name__}")
        schema = IRF_SCHEMAS[kind]
        if tuple(obj.dims) not in schema.all_dims:
            problems.append(
                f"{kind}: dims {tuple(obj.dims)} do not match any of {list(schema.all_dims)}"
            )
        for dd in obj.dims:
            if f"{dd}_min" not in obj.coords:
                problems.append(f"{kind}: dim {dd!r} has no bin edges ({dd}_min/{dd}_max)")
        if schema.unit is not None:
            try:
                unit_of(obj).to(schema.unit)
            except (u.UnitConversionError, ConventionError):
                problems.append(
                    f"{kind}: unit {obj.attrs.get('units', '')!r} does not convert to {schema.unit!r}"
                )
    if problems:
        raise ConventionError("; ".join(problems))
