"""Read GADF DL3 files: event lists, GTIs and IRF HDUs, and the xarray engine ``"gadf"``.

The FITS decoding is :mod:`xgamma.io.fits` (each file read once, as a stream, columns viewed
with ``numpy.frombuffer``); ``RawHDU``, ``Table``, ``read_hdus``, ``read_header`` and
``read_table`` are re-exported here.

Events become a :class:`pandas.DataFrame` (lower-case columns, ``time`` as ``datetime64[ns]``
UTC dates, ``energy`` in TeV, ``ra``/``dec`` in deg, units and the file's time reference in
``df.attrs``, see :mod:`xgamma.times`); GTIs stay float seconds since MJDREF (durations are
elapsed SI seconds, also across a leap second); IRFs become :class:`xarray.DataArray` objects following
:data:`xgamma.conventions.IRF_SCHEMAS` (see :func:`read_irf`).

Examples
--------
>>> import xgamma as xg
>>> from xgamma.io.gadf import read_events
>>> d = xg.data_dir(required=False)
>>> if d is not None:
...     ev = read_events(d / "hess-dl3-dr1/data/hess_dl3_dr1_obs_id_023523.fits.gz")
...     assert list(ev.columns[:5]) == ["event_id", "time", "ra", "dec", "energy"]
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import astropy.units as u
import numpy as np
import pandas as pd
import xarray as xr

from xgamma.axes import axis_from_edges
from xgamma.errors import XgammaIOError
from xgamma.io.fits import (
    STRUCTURAL_KEYS,
    RawHDU,
    Table,
    header_meta,
    lower_names,
    parse_unit,
    read_hdus,
    read_header,
    read_table,
    table_from_hdu,
    unit_factor,
)
from xgamma.irf.response import psf_from_params
from xgamma.times import datetime_to_seconds, seconds_to_datetime

__all__ = [
    "RawHDU",
    "Table",
    "read_hdus",
    "read_header",
    "read_table",
    "read_events",
    "read_gti",
    "read_irf",
    "read_psf_params",
    "events_from_hdu",
    "gti_from_hdu",
    "irf_from_hdus",
    "events_time",
    "irf_kind",
]

# ---------------------------------------------------------------------------------------------
# events and GTI
# ---------------------------------------------------------------------------------------------


def _time_attrs(h: Mapping[str, Any]) -> dict[str, Any]:
    if "MJDREFI" in h or "MJDREFF" in h:
        mi, mf = float(h.get("MJDREFI", 0) or 0), float(h.get("MJDREFF", 0) or 0)
    else:
        mjd = float(h.get("MJDREF", 0) or 0)
        mi, mf = float(np.floor(mjd)), mjd - float(np.floor(mjd))
    return {"mjdref": mi + mf, "mjdrefi": mi, "mjdreff": mf,
            "timesys": str(h.get("TIMESYS", "TT")).strip().upper() or "TT",
            "timeunit": str(h.get("TIMEUNIT", "s")).strip() or "s",
            "timeref": str(h.get("TIMEREF", "LOCAL")).strip().upper()}


def _time_factor(h: Mapping[str, Any], raw: RawHDU) -> float:
    return unit_factor(str(h.get("TIMEUNIT", "s") or "s"), "s", raw.path, raw.name, "TIMEUNIT")


_EVENT_UNITS = {"energy": "TeV", "ra": "deg", "dec": "deg"}


def events_from_hdu(raw: RawHDU, obs_id: Any = None) -> pd.DataFrame:
    """Build the events DataFrame from a raw EVENTS HDU (see :func:`read_events`).

    Examples
    --------
    >>> import xgamma as xg
    >>> d = xg.data_dir(required=False)
    >>> if d is not None:
    ...     f = d / "hess-dl3-dr1/data/hess_dl3_dr1_obs_id_023523.fits.gz"
    ...     assert len(events_from_hdu(read_hdus(f, ["EVENTS"])[0])) == 7613
    """
    tab = table_from_hdu(raw)
    h = raw.header
    upper = {n.upper(): n for n in tab.names}
    missing = [c for c in ("TIME", "RA", "DEC", "ENERGY") if c not in upper]
    if missing:
        raise XgammaIOError(f"EVENTS table lacks column(s) {missing}", path=raw.path,
                            hdu=raw.name, expected="TIME, RA, DEC, ENERGY")
    rename = lower_names(tab.names)
    cols: dict[str, np.ndarray] = {}
    units: dict[str, str] = {}
    if "EVENT_ID" in upper:
        ids = tab.columns[upper["EVENT_ID"]]
        if ids.dtype.kind in "ui" and ids.dtype != np.int64 and ids.max(initial=0) < 2**63:
            ids = ids.astype(np.int64)
        cols["event_id"] = ids
    else:
        cols["event_id"] = np.arange(tab.nrows, dtype=np.int64)
    units["event_id"] = ""
    t = tab.columns[upper["TIME"]].astype(np.float64, copy=False)
    ft, tz = _time_factor(h, raw), float(h.get("TIMEZERO", 0) or 0)
    tattrs = {**_time_attrs(h), "timezero": tz, "time_scale": "utc"}
    cols["time"] = seconds_to_datetime((t + tz) * ft if (ft != 1 or tz) else t, tattrs)
    units["time"] = "s"
    for col in ("ra", "dec", "energy"):
        n = upper[col.upper()]
        unit = _EVENT_UNITS[col]
        src = tab.units.get(n) or (str(h.get("EUNIT") or "TeV") if col == "energy" else unit)
        f = unit_factor(src, unit, raw.path, raw.name, f"column {n}")
        v = tab.columns[n].astype(np.float64)
        cols[col] = v * f if f != 1 else v
        units[col] = unit
    done = {upper[c] for c in ("EVENT_ID", "TIME", "RA", "DEC", "ENERGY") if c in upper}
    dropped = []
    for n in tab.names:
        if n in done:
            continue
        if tab.columns[n].ndim > 1:
            dropped.append(n)
            continue
        cols[rename[n]] = tab.columns[n]
        units[rename[n]] = tab.units.get(n, "")
    df = pd.DataFrame(cols, copy=False)
    if len(df) == 0:
        warnings.warn(f"{raw.path} [HDU {raw.name}]: empty event list", UserWarning, stacklevel=2)
    attrs: dict[str, Any] = {"units": units, **tattrs,
                             "obs_id": obs_id if obs_id is not None else h.get("OBS_ID"),
                             "meta": header_meta(h)}
    if dropped:
        attrs["dropped_columns"] = dropped
    df.attrs = attrs  # type: ignore[assignment]
    return df


def read_events(path: str | Path, hdu: str | int = "EVENTS") -> pd.DataFrame:
    """Read a GADF event list.

    Returns a DataFrame with lower-case columns, ``event_id, time, ra, dec, energy`` first
    (``time`` ``datetime64[ns]`` in UTC, ``energy`` float64 TeV, ``ra``/``dec`` float64 deg)
    followed by every other one-dimensional column of the file. ``df.attrs`` holds ``units``
    (``units["time"]`` is the file's unit, ``"s"``), what writes the times back to the file's
    numbers: ``mjdref`` (MJDREFI + MJDREFF), ``mjdrefi``, ``mjdreff``, ``timesys``,
    ``timeunit``, ``timeref``, ``timezero``, and ``time_scale`` (``"utc"``: the scale of the
    column), then ``obs_id`` and the header cards in ``meta``. The float seconds of the file
    are :func:`xgamma.times.event_seconds` (leap seconds handled, see :mod:`xgamma.times`). An
    empty list reads as an empty DataFrame, with a warning.

    Examples
    --------
    >>> import xgamma as xg
    >>> d = xg.data_dir(required=False)
    >>> if d is not None:
    ...     ev = read_events(d / "hess-dl3-dr1/data/hess_dl3_dr1_obs_id_023523.fits.gz")
    ...     assert ev.attrs["obs_id"] == 23523 and ev.attrs["timesys"] == "TT"
    ...     assert str(ev.time.iloc[0])[:10] == "2004-12-04"
    """
    return events_from_hdu(read_hdus(path, [hdu])[0])


def gti_from_hdu(raw: RawHDU) -> pd.DataFrame:
    """Build the GTI DataFrame (``start``, ``stop`` in s since MJDREF) from a raw GTI HDU.

    Examples
    --------
    >>> import xgamma as xg
    >>> d = xg.data_dir(required=False)
    >>> if d is not None:
    ...     f = d / "hess-dl3-dr1/data/hess_dl3_dr1_obs_id_023523.fits.gz"
    ...     assert len(gti_from_hdu(read_hdus(f, ["GTI"])[0])) == 1
    """
    tab = table_from_hdu(raw)
    upper = {n.upper(): n for n in tab.names}
    if "START" not in upper or "STOP" not in upper:
        raise XgammaIOError("GTI table lacks START/STOP", path=raw.path, hdu=raw.name,
                            expected="columns START and STOP")
    ft = _time_factor(raw.header, raw)
    tz = float(raw.header.get("TIMEZERO", 0) or 0)
    df = pd.DataFrame({
        "start": (tab.columns[upper["START"]].astype(np.float64) + tz) * ft,
        "stop": (tab.columns[upper["STOP"]].astype(np.float64) + tz) * ft,
    })
    attrs: dict[str, Any] = {"units": {"start": "s", "stop": "s"}, **_time_attrs(raw.header),
                             "meta": header_meta(raw.header)}
    df.attrs = attrs  # type: ignore[assignment]
    return df


def read_gti(path: str | Path, hdu: str | int = "GTI") -> pd.DataFrame:
    """Read good time intervals as a DataFrame with ``start``, ``stop`` (s since MJDREF).

    Examples
    --------
    >>> import xgamma as xg
    >>> d = xg.data_dir(required=False)
    >>> if d is not None:
    ...     g = read_gti(d / "hess-dl3-dr1/data/hess_dl3_dr1_obs_id_023523.fits.gz")
    ...     assert float(g.stop.iloc[0] - g.start.iloc[0]) == 1687.0
    """
    return gti_from_hdu(read_hdus(path, [hdu])[0])


def events_time(df: pd.DataFrame) -> Any:
    """The event times as an :class:`astropy.time.Time` in the file's time system (from
    ``attrs`` MJDREF and TIMESYS): the reference plus the file's seconds, so an event inside a
    leap second keeps its exact time. A float ``time`` column is read as seconds since MJDREF.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"time": [0.0, 86400.0]})
    >>> df.attrs = {"mjdref": 51910.0, "timesys": "TT"}
    >>> events_time(df).mjd.tolist()
    [51910.0, 51911.0]
    """
    from astropy.time import Time, TimeDelta

    a = df.attrs
    mi = float(a.get("mjdrefi", np.floor(a["mjdref"])))
    mf = float(a.get("mjdreff", a["mjdref"] - mi))
    scale = str(a.get("timesys", "TT")).lower()
    ref = Time(mi, mf, format="mjd", scale=scale)
    col = df["time"]
    sec = datetime_to_seconds(col.to_numpy(), a) if col.dtype.kind == "M" else np.asarray(col, float)
    return ref + TimeDelta(sec, format="sec")


# ---------------------------------------------------------------------------------------------
# IRFs
# ---------------------------------------------------------------------------------------------

#: IRF class -> (kind, dims, value columns, internal unit, GADF default unit of the file)
_IRF_SPEC: dict[str, tuple[str, tuple[str, ...], tuple[str, ...], str, str]] = {
    "aeff_2d": ("aeff", ("energy_true", "offset"), ("EFFAREA",), "cm2", "m2"),
    "edisp_2d": ("edisp", ("energy_true", "migra", "offset"), ("MATRIX",), "", ""),
    "psf_table": ("psf", ("energy_true", "offset", "rad"), ("RPSF",), "sr-1", "sr-1"),
    "psf_3gauss": ("psf", ("energy_true", "offset"),
                   ("SCALE", "SIGMA_1", "AMPL_2", "SIGMA_2", "AMPL_3", "SIGMA_3"), "", ""),
    "psf_king": ("psf", ("energy_true", "offset"), ("GAMMA", "SIGMA"), "", ""),
    "bkg_3d": ("bkg", ("energy", "fov_lon", "fov_lat"), ("BKG", "BGD"), "s-1 TeV-1 sr-1",
               "s-1 MeV-1 sr-1"),
    "bkg_2d": ("bkg", ("energy", "offset"), ("BKG", "BGD"), "s-1 TeV-1 sr-1", "s-1 MeV-1 sr-1"),
    "rad_max_2d": ("rad_max", ("energy", "offset"), ("RAD_MAX",), "deg", "deg"),
}
_AXIS_DIM = {"ENERG": "energy", "ETRUE": "energy_true", "EREC": "energy", "ERECO": "energy",
             "THETA": "offset", "MIGRA": "migra", "RAD": "rad", "DETX": "fov_lon",
             "DETY": "fov_lat"}
_AXIS_UNIT = {"energy": "TeV", "energy_true": "TeV", "offset": "deg", "rad": "deg",
              "fov_lon": "deg", "fov_lat": "deg", "migra": ""}
_CLAS4 = {"PSF_TABLE": "psf_table", "TABLE": "psf_table", "PSF_3GAUSS": "psf_3gauss",
          "3GAUSS": "psf_3gauss", "PSF_KING": "psf_king", "KING": "psf_king"}
_MAP_DIM = {"ENERGY_TRUE": "energy_true", "E": "energy", "ENERGY": "energy", "RAD": "rad",
            "MIGRA": "migra", "OFFSET": "offset"}


def irf_kind(header: Mapping[str, Any], columns: Iterable[str] = (), hdu_class: str = "") -> str:
    """The IRF class of an HDU (``aeff_2d``, ``edisp_2d``, ``psf_table``, ``psf_3gauss``,
    ``psf_king``, ``bkg_3d``, ``bkg_2d``, ``rad_max_2d`` or ``map``), or ``""`` if none.

    Uses HDUCLAS2/HDUCLAS4 (GADF and the OGIP-style variants of CTA 1DC), then the index's
    ``hdu_class``, then the column names.

    Examples
    --------
    >>> irf_kind({"HDUCLAS2": "RPSF", "HDUCLAS4": "3GAUSS"})
    'psf_3gauss'
    >>> irf_kind({}, columns=["ENERG_LO", "ENERG_HI", "THETA_LO", "THETA_HI", "EFFAREA"])
    'aeff_2d'
    """
    c2 = str(header.get("HDUCLAS2", "") or "").strip().upper()
    c4 = str(header.get("HDUCLAS4", "") or "").strip().upper()
    cols = {c.upper() for c in columns}
    if "BANDSHDU" in header and header.get("NAXIS", 0):
        return "map"
    if c2 == "EFF_AREA":
        return "aeff_2d"
    if c2 == "EDISP":
        return "edisp_2d"
    if c2 in ("RPSF", "PSF") and c4 in _CLAS4:
        return _CLAS4[c4]
    if c2 in ("BKG", "BGD"):
        if c4 in ("BKG_2D", "2D") or ("THETA_LO" in cols and "DETX_LO" not in cols):
            return "bkg_2d"
        return "bkg_3d"
    if c2 == "RAD_MAX":
        return "rad_max_2d"
    hc = hdu_class.strip().lower()
    if hc in _IRF_SPEC or hc == "map":
        return hc
    if "EFFAREA" in cols:
        return "aeff_2d"
    if "MATRIX" in cols and "MIGRA_LO" in cols:
        return "edisp_2d"
    if "RPSF" in cols:
        return "psf_table"
    if "SIGMA_1" in cols:
        return "psf_3gauss"
    if {"GAMMA", "SIGMA"} <= cols:
        return "psf_king"
    if cols & {"BKG", "BGD"}:
        return "bkg_3d" if "DETX_LO" in cols else "bkg_2d"
    if "RAD_MAX" in cols:
        return "rad_max_2d"
    return ""


def _axis_vars(dim: str, lo: np.ndarray, hi: np.ndarray, centre: np.ndarray, unit: str,
               interp: str) -> dict[str, xr.Variable]:
    at = {"units": unit, "interp": interp}
    return {dim: xr.Variable((dim,), centre, attrs=at),
            f"{dim}_min": xr.Variable((dim,), lo, attrs={"units": unit}),
            f"{dim}_max": xr.Variable((dim,), hi, attrs={"units": unit})}


def _dataarray(vals: np.ndarray, dims: tuple[str, ...], coords: dict[str, xr.Variable],
               attrs: dict[str, Any], name: str) -> xr.DataArray:
    """DataArray from coordinate Variables, with the dim indexes built directly.

    Uses xarray's ``fastpath`` constructor (10x faster: it skips re-validating coordinates we
    built consistently); falls back to the public constructor if that signature changes.
    """
    from xarray.indexes import PandasIndex

    idx = {d: PandasIndex(coords[d].values, d) for d in dims if d in coords}
    try:
        var = xr.Variable(dims, vals, attrs=attrs)
        return xr.DataArray(var, coords, name=name, indexes=idx, fastpath=True)  # type: ignore[arg-type]
    except TypeError:  # pragma: no cover - future xarray
        return xr.DataArray(vals, dims=dims, coords=xr.Coordinates(coords, indexes=idx),
                            name=name, attrs=attrs)


def _node_vars(nodes: Any, dim: str, unit: str, interp: str) -> dict[str, xr.Variable]:
    c = np.asarray(nodes, dtype=np.float64).ravel()
    x = np.log(c) if interp == "log" else c
    if c.size == 1:
        half = 0.5 if interp == "log" else max(abs(x[0]) * 0.5, 0.5)
        e = np.array([x[0] - half, x[0] + half])
    else:
        mid = 0.5 * (x[1:] + x[:-1])
        e = np.concatenate([[2 * x[0] - mid[0]], mid, [2 * x[-1] - mid[-1]]])
    e = np.exp(e) if interp == "log" else e
    if dim in ("offset", "rad"):
        e[0] = max(e[0], 0.0)
    return _axis_vars(dim, e[:-1], e[1:], c, unit, interp)


def node_axis(nodes: Any, dim: str, unit: str = "", interp: str = "lin") -> xr.DataArray:
    """An axis whose centres are given nodes; edges halfway between them (in log for log axes).

    Used for IRF tables that store node values (``THETA_LO == THETA_HI`` in H.E.S.S. DL3 DR1).
    Outer edges are extrapolated by half a spacing (clipped at 0 for offset and rad).

    Examples
    --------
    >>> ax = node_axis([0.0, 0.5, 1.0], "offset", unit="deg")
    >>> ax.values.tolist(), ax.offset_min.values.tolist(), ax.offset_max.values.tolist()
    ([0.0, 0.5, 1.0], [0.0, 0.25, 0.75], [0.25, 0.75, 1.25])
    """
    v = _node_vars(nodes, dim, unit, interp)
    return _dataarray(v[dim].values, (dim,), v, dict(v[dim].attrs), dim)


def _axis(dim: str, lo: np.ndarray, hi: np.ndarray, unit: str, raw: RawHDU) -> dict[str, xr.Variable]:
    """Coordinate Variables of an IRF axis (as :func:`xgamma.axes.axis_from_edges` makes them)."""
    interp = "log" if dim.startswith("energy") else "lin"
    lo, hi = np.asarray(lo, np.float64).ravel(), np.asarray(hi, np.float64).ravel()
    if np.array_equal(lo, hi) and (lo.size == 1 or np.all(np.diff(lo) > 0)):
        return _node_vars(lo, dim, unit, interp)
    e = np.append(lo, hi[-1:])
    why = ""
    if lo.size > 1 and not (np.abs(lo[1:] - hi[:-1]) <= 1e-5 * np.abs(hi[:-1]) + 1e-12).all():
        why = "bins are not contiguous"
    elif not (e[1:] > e[:-1]).all():
        why = "edges are not increasing"
    elif interp == "log" and e[0] <= 0:
        why = "log axis needs positive edges"
    if why:
        raise XgammaIOError(f"invalid {dim} axis ({why})", path=raw.path, hdu=raw.name,
                            expected="increasing, contiguous bin edges")
    lo, hi = e[:-1], e[1:]
    c = np.sqrt(lo * hi) if interp == "log" else 0.5 * (lo + hi)
    return _axis_vars(dim, lo, hi, c, unit, interp)


def _parse_cref(s: Any) -> list[str]:
    if not isinstance(s, str):
        return []
    return [p.split(":")[0].strip().upper()[:-3] for p in s.strip().strip("()").split(",") if p]


def _canon(prefix: str) -> str:
    return "ENERG" if prefix in ("ETRUE", "EREC", "ERECO") else prefix


def _irf_axes(tab: Table, raw: RawHDU, dims: tuple[str, ...]) -> dict[str, tuple[str, dict[str, xr.Variable]]]:
    """Axis columns of an IRF table: ``{prefix: (dim, axis)}`` in column order."""
    upper = {n.upper(): n for n in tab.names}
    out: dict[str, tuple[str, dict[str, xr.Variable]]] = {}
    edim = "energy_true" if "energy_true" in dims else "energy"
    for n in tab.names:
        un = n.upper()
        if not un.endswith("_LO") or un[:-3] + "_HI" not in upper:
            continue
        prefix = un[:-3]
        dim = _AXIS_DIM.get(prefix)
        if dim in ("energy", "energy_true"):
            dim = edim
        if dim is None or dim not in dims:
            continue
        unit = _AXIS_UNIT[dim]
        src = tab.units.get(n) or unit
        f = unit_factor(src, unit, raw.path, raw.name, f"column {n}") if unit else 1.0
        lo, hi = tab.columns[n][0], tab.columns[upper[prefix + "_HI"]][0]
        out[prefix] = (dim, _axis(dim, lo * f, hi * f, unit, raw))
    missing = set(dims) - {d for d, _ in out.values()}
    if missing:
        raise XgammaIOError(f"IRF table lacks axis columns for {sorted(missing)}", path=raw.path,
                            hdu=raw.name, expected=f"*_LO/*_HI columns for {list(dims)}")
    return out


def _value_array(tab: Table, raw: RawHDU, col: str,
                 axes: dict[str, tuple[str, dict[str, xr.Variable]]], dims: tuple[str, ...]
                 ) -> np.ndarray:
    """The value column (row 0) transposed to ``dims`` order, using TDIM, CREF, column order."""
    arr = np.asarray(tab.columns[col][0], dtype=np.float64)
    sizes = {p: a[d].size for p, (d, a) in axes.items()}
    col_order = list(axes)
    cref_key = next((k for k, v in raw.header.items() if k.startswith("CREF") and
                     str(raw.header.get("TTYPE" + k[4:], "")).strip().upper() == col.upper()), None)
    cref = [_canon(p) for p in _parse_cref(raw.header.get(cref_key))] if cref_key else []
    canon = {_canon(p): p for p in col_order}
    candidates = []
    if cref and set(cref) == set(canon):
        candidates.append([canon[p] for p in cref])
    candidates.append(col_order)
    target = arr.shape[::-1]  # fastest-first sizes
    if arr.ndim == 1 and arr.size == int(np.prod(list(sizes.values()))):
        target = tuple(sizes[p] for p in candidates[0])
        arr = arr.reshape(target[::-1])
    order = next((c for c in candidates if tuple(sizes[p] for p in c) == target), None)
    if order is None:
        import itertools

        perms = [list(p) for p in itertools.permutations(col_order)
                 if tuple(sizes[q] for q in p) == target]
        if not perms:
            raise XgammaIOError(
                f"shape {arr.shape} of column {col} does not match the axes "
                f"{ {p: sizes[p] for p in col_order} }", path=raw.path, hdu=raw.name,
                expected="TDIM consistent with the *_LO/*_HI columns")
        order = perms[0]
        warnings.warn(f"{raw.path} [HDU {raw.name}]: axis order of {col} inferred from sizes",
                      UserWarning, stacklevel=3)
    c_dims = [axes[p][0] for p in order[::-1]]
    return np.transpose(arr, [c_dims.index(d) for d in dims])


def _thresholds(h: Mapping[str, Any]) -> dict[str, float]:
    out = {}
    for key, name in (("LO_THRES", "lo_threshold"), ("HI_THRES", "hi_threshold")):
        if isinstance(h.get(key), int | float):
            out[name] = float(h[key])
    return out


def _irf_attrs(raw: RawHDU, kind: str, cls: str, unit: str) -> dict[str, Any]:
    h = raw.header
    at: dict[str, Any] = {"units": unit, "irf": kind, "hdu_class": cls.upper(),
                          "point_like": str(h.get("HDUCLAS3", "")).strip().upper() == "POINT-LIKE",
                          "source": raw.path, "hdu": raw.name}
    at.update(_thresholds(h))
    for key in ("TELESCOP", "INSTRUME", "OBS_ID", "RAD_MAX"):
        if isinstance(h.get(key), str | int | float) and not isinstance(h.get(key), bool):
            at[key.lower() if key != "RAD_MAX" else "rad_max_deg"] = h[key]
    return at


def read_psf_params(path: str | Path, hdu: str | int = "PSF") -> xr.Dataset:
    """Read the parameters of a PSF_3GAUSS or PSF_KING HDU as a Dataset on (energy_true, offset).

    Variables are the lower-cased columns (``scale, sigma_1, ampl_2, sigma_2, ampl_3,
    sigma_3`` or ``gamma, sigma``), sigmas in deg; ``attrs["psf_class"]`` names the class.

    Examples
    --------
    >>> import xgamma as xg
    >>> d = xg.data_dir(required=False)
    >>> if d is not None:
    ...     f = d / "cta-1dc/caldb/data/cta/1dc/bcf/South_z20_50h/irf_file.fits"
    ...     p = read_psf_params(f, "POINT SPREAD FUNCTION")
    ...     assert p.sigma_1.dims == ("energy_true", "offset")
    """
    return _psf_params(read_hdus(path, [hdu])[0])


def _psf_params(raw: RawHDU, cls: str | None = None) -> xr.Dataset:
    tab = table_from_hdu(raw)
    cls = cls or irf_kind(raw.header, tab.names)
    if cls not in ("psf_3gauss", "psf_king"):
        raise XgammaIOError(f"not a parametric PSF (class {cls or 'unknown'})", path=raw.path,
                            hdu=raw.name, expected="PSF_3GAUSS or PSF_KING")
    _, dims, cols, _, _ = _IRF_SPEC[cls]
    axes = _irf_axes(tab, raw, dims)
    upper = {n.upper(): n for n in tab.names}
    coords = {k: v for _, a in axes.values() for k, v in a.items()}
    data = {}
    for c in cols:
        if c not in upper:
            raise XgammaIOError(f"PSF table lacks column {c}", path=raw.path, hdu=raw.name,
                                expected=f"columns {list(cols)}")
        vals = _value_array(tab, raw, upper[c], axes, dims)
        unit = "deg" if c.startswith("SIGMA") else ""
        if c.startswith("SIGMA"):
            vals = vals * unit_factor(tab.units.get(upper[c]) or "deg", "deg", raw.path,
                                      raw.name, f"column {c}")
        data[c.lower()] = xr.Variable(dims, vals, attrs={"units": unit})
    return xr.Dataset(data, coords=coords, attrs={"psf_class": cls.upper(), "source": raw.path,
                                                  "hdu": raw.name})


def irf_from_hdus(raw: RawHDU, bands: RawHDU | None = None, hdu_class: str = "") -> xr.DataArray:
    """Build the IRF DataArray of one raw HDU (``bands``: the BANDS HDU of a map IRF).

    Examples
    --------
    >>> import xgamma as xg
    >>> d = xg.data_dir(required=False)
    >>> if d is not None:
    ...     f = d / "hess-dl3-dr1/data/hess_dl3_dr1_obs_id_023523.fits.gz"
    ...     assert irf_from_hdus(read_hdus(f, ["AEFF"])[0]).dims == ("energy_true", "offset")
    """
    if raw.header.get("XTENSION", "IMAGE").strip() != "BINTABLE":
        if irf_kind(raw.header, (), hdu_class) != "map" or bands is None:
            raise XgammaIOError("unknown IRF HDU (image without a BANDS table)", path=raw.path,
                                hdu=raw.name, expected="a GADF IRF table or a map with BANDSHDU")
        return _map_irf(raw, bands, hdu_class)
    tab = table_from_hdu(raw)
    cls = irf_kind(raw.header, tab.names, hdu_class)
    if cls not in _IRF_SPEC:
        raise XgammaIOError(
            f"unknown IRF HDU class (HDUCLAS2={raw.header.get('HDUCLAS2')!r}, "
            f"HDUCLAS4={raw.header.get('HDUCLAS4')!r})", path=raw.path, hdu=raw.name,
            expected=f"one of {sorted(_IRF_SPEC)}")
    if tab.nrows < 1:
        raise XgammaIOError("IRF table has no rows", path=raw.path, hdu=raw.name,
                            expected="one row of array columns")
    kind, dims, cols, unit, default = _IRF_SPEC[cls]
    if cls in ("psf_3gauss", "psf_king"):

        da = psf_from_params(_psf_params(raw, cls))
        da.attrs.update({k: v for k, v in _irf_attrs(raw, "psf", cls, "sr-1").items()
                         if k not in da.attrs})
        return da
    upper = {n.upper(): n for n in tab.names}
    col = next((upper[c] for c in cols if c in upper), None)
    if col is None:
        raise XgammaIOError(f"{cls.upper()} table lacks its value column", path=raw.path,
                            hdu=raw.name, expected=" or ".join(cols))
    axes = _irf_axes(tab, raw, dims)
    vals = _value_array(tab, raw, col, axes, dims)
    if cls == "bkg_3d" and vals.shape[1] == vals.shape[2]:
        # Orientation of the FoV axes as Gammapy reads BKG_3D (the data's C-order axes are
        # (energy, fov_lon, fov_lat)): checked against Gammapy's FoV background norms of the
        # H.E.S.S. Crab runs, which agree to 1e-5 this way and differ by up to 2 % with the
        # TDIM-order reading.
        vals = np.swapaxes(vals, 1, 2)
    src = tab.units.get(col) or default
    if not tab.units.get(col) and default:
        warnings.warn(f"{raw.path} [HDU {raw.name}]: no unit for {col}, assuming {default!r}",
                      UserWarning, stacklevel=2)
    if unit:
        f = unit_factor(src, unit, raw.path, raw.name, f"column {col}")
        if f != 1.0:
            vals = vals * f
    attrs = _irf_attrs(raw, kind, cls, unit)
    if kind == "edisp":
        vals, attrs["renormalized"] = _normalize_edisp(vals, axes)
    if kind == "bkg":
        attrs["fovalign"] = str(raw.header.get("FOVALIGN", "RADEC") or "RADEC").strip().upper()
    if kind == "psf":
        attrs["psf_class"] = cls.upper()
    coords = {k: v for d in dims for dd, a in axes.values() if dd == d for k, v in a.items()}
    return _dataarray(vals, dims, coords, attrs, kind)


def _normalize_edisp(vals: np.ndarray, axes: dict[str, tuple[str, dict[str, xr.Variable]]]
                     ) -> tuple[np.ndarray, bool]:
    """Rescale EDISP_2D rows to unit integral over migra if the file is not a density.

    CTA prod5 stores per-bin probabilities and CTA 1DC unnormalised values (median integral
    0.01 and 82); H.E.S.S., MAGIC and VERITAS store densities (median integral 1; rows cut by
    the migra range integrate to less), which are left as they are.
    """
    m = next(a for d, a in axes.values() if d == "migra")
    dm = m["migra_max"].values - m["migra_min"].values
    integral = np.einsum("imj,m->ij", vals, dm)[:, None, :]
    pos = integral > 0
    if not pos.any() or abs(float(np.median(integral[pos])) - 1.0) < 0.05:
        return vals, False
    return np.where(pos, vals / np.where(pos, integral, 1.0), 0.0), True


def _image(raw: RawHDU) -> np.ndarray:
    h = raw.header
    fmt = {8: "u1", 16: ">i2", 32: ">i4", 64: ">i8", -32: ">f4", -64: ">f8"}[int(h["BITPIX"])]
    shape = tuple(int(h[f"NAXIS{i}"]) for i in range(int(h["NAXIS"]), 0, -1))
    arr = np.frombuffer(raw.data, dtype=fmt, count=int(np.prod(shape))).reshape(shape)
    arr = arr.astype(np.float64)
    bscale, bzero = float(h.get("BSCALE", 1) or 1), float(h.get("BZERO", 0) or 0)
    return arr * bscale + bzero if (bscale, bzero) != (1.0, 0.0) else arr


def _map_irf(raw: RawHDU, bands: RawHDU, hdu_class: str = "") -> xr.DataArray:
    """A Gammapy-style WCS map HDU + BANDS table (HAWC IRFs) as a DataArray (..., y, x)."""
    from astropy.io import fits
    from astropy.wcs import WCS

    data = _image(raw)
    h = raw.header
    tab = table_from_hdu(bands)
    upper = {n.upper(): n for n in tab.names}
    nonsp = data.shape[:-2]
    dims: list[str] = [""] * len(nonsp)
    coords: dict[str, Any] = {}
    for n in range(1, len(nonsp) + 1):
        cols = [c.strip().upper() for c in str(h.get(f"AXCOLS{n}", "")).split(",") if c.strip()]
        if not cols or any(c not in upper for c in cols):
            raise XgammaIOError(f"map axis {n} columns {cols} not in the BANDS table",
                                path=raw.path, hdu=raw.name, expected="AXCOLSn in BANDSHDU")
        ax = len(nonsp) - n
        base = cols[0][:-4] if cols[0].endswith("_MIN") else cols[0]
        dim = _MAP_DIM.get(base, base.lower())
        lo_col = upper.get(base + "_MIN")
        hi_col = upper.get(base + "_MAX")

        def along(name: str, ax: int = ax) -> np.ndarray:
            v = np.asarray(tab.columns[name], dtype=np.float64).reshape(nonsp)
            idx = [0] * len(nonsp)
            idx[ax] = slice(None)  # type: ignore[call-overload]
            return v[tuple(idx)]

        unit = _AXIS_UNIT.get(dim, "")
        if lo_col and hi_col:
            f = unit_factor(tab.units.get(lo_col) or unit, unit, bands.path, bands.name) if unit else 1.0
            a = _axis(dim, along(lo_col) * f, along(hi_col) * f, unit, raw)
        else:
            nodes = along(upper[base])
            mid = 0.5 * (nodes[1:] + nodes[:-1])
            e = np.concatenate([[max(nodes[0] - (mid[0] - nodes[0]), 0)], mid,
                                [nodes[-1] + (nodes[-1] - mid[-1])]])
            a = {str(k): v.variable for k, v in
                 axis_from_edges(e, dim, unit=unit, interp="lin").coords.items()}
        dims[ax] = dim
        coords.update(a)
    wcs = WCS(fits.Header({k: v for k, v in h.items() if not STRUCTURAL_KEYS.match(k) and k not in (
        "BANDSHDU", "META") and not k.startswith(("AXCOLS", "INTERP"))}), naxis=2)
    ny, nx = data.shape[-2:]
    yy, xx = np.mgrid[0:ny, 0:nx]
    lon, lat = wcs.pixel_to_world_values(xx, yy)
    frame = "galactic" if str(wcs.wcs.ctype[0]).startswith("GLON") else "icrs"
    names = ("glon", "glat") if frame == "galactic" else ("ra", "dec")
    coords.update({"y": np.arange(ny), "x": np.arange(nx),
                   names[0]: (("y", "x"), lon, {"units": "deg"}),
                   names[1]: (("y", "x"), lat, {"units": "deg"})})
    unit = str(h.get("BUNIT", "") or "").strip()
    if unit and u.Unit(parse_unit(unit)).is_equivalent("sr-1"):
        data = data * unit_factor(unit, "sr-1", raw.path, raw.name, "BUNIT")
        unit = "sr-1"
    kind = {"aeff": "aeff", "edisp": "edisp", "psf": "psf", "bkg": "bkg"}.get(
        raw.name.lower(), raw.name.lower())
    attrs = {"units": unit, "irf": kind, "hdu_class": (hdu_class or "map").upper(),
             "point_like": False, "wcs": wcs.to_header_string(), "frame": frame,
             "source": raw.path, "hdu": raw.name}
    return xr.DataArray(data, dims=(*dims, "y", "x"), coords=coords, name=kind, attrs=attrs)


def rad_max_from_header(aeff: xr.DataArray, value: float) -> xr.DataArray:
    """A constant RAD_MAX (deg, from a header keyword) on the energy/offset bins of ``aeff``.

    Examples
    --------
    >>> import numpy as np, xarray as xr, xgamma as xg
    >>> e = xg.energy_axis(0.1, 10, 2, name="energy_true")
    >>> o = xg.linear_axis(0, 1, 1, unit="deg", name="offset")
    >>> a = xr.DataArray(np.ones((2, 1)), dims=("energy_true", "offset"),
    ...                  coords={**e.coords, **o.coords})
    >>> rad_max_from_header(a, 0.1).dims
    ('energy', 'offset')
    """
    ren = {"energy_true": "energy", "energy_true_min": "energy_min",
           "energy_true_max": "energy_max"}
    out = xr.full_like(aeff, float(value), dtype=np.float64).rename(ren)
    out.name = "rad_max"
    out.attrs = {"units": "deg", "irf": "rad_max", "hdu_class": "RAD_MAX_HEADER",
                 "point_like": True, "source": aeff.attrs.get("source", "")}
    return out


def read_irf(path: str | Path, hdu: str | int) -> xr.DataArray:
    """Read one IRF HDU as a DataArray following :data:`xgamma.conventions.IRF_SCHEMAS`.

    AEFF_2D -> ``aeff(energy_true, offset)`` cm2; EDISP_2D -> ``edisp(energy_true, migra,
    offset)``; PSF_TABLE -> ``psf(energy_true, offset, rad)`` sr-1 (PSF_3GAUSS and PSF_KING
    are evaluated on a rad grid, ``attrs["psf_class"]`` records the source class); BKG_3D ->
    ``bkg(energy, fov_lon, fov_lat)`` s-1 TeV-1 sr-1 (DETX/DETY -> fov_lon/fov_lat,
    ``attrs["fovalign"]``); BKG_2D -> ``bkg(energy, offset)``; RAD_MAX_2D ->
    ``rad_max(energy, offset)`` deg. Map IRFs (HAWC) become ``(..., y, x)`` sky maps.

    Examples
    --------
    >>> import xgamma as xg
    >>> d = xg.data_dir(required=False)
    >>> if d is not None:
    ...     f = d / "hess-dl3-dr1/data/hess_dl3_dr1_obs_id_023523.fits.gz"
    ...     bkg = read_irf(f, "BKG")
    ...     assert bkg.dims == ("energy", "fov_lon", "fov_lat") and bkg.attrs["fovalign"] == "RADEC"
    """
    raws = read_hdus(path)
    wanted = hdu.strip().upper() if isinstance(hdu, str) else hdu
    raw = next((r for r in raws if r.name == wanted or r.number == wanted), None)
    if raw is None:
        raise XgammaIOError(f"no HDU {hdu}", path=path, hdu=hdu,
                            expected=f"one of {[r.name or r.number for r in raws]}")
    return irf_from_hdus(raw, _bands_of(raw, raws))


def _bands_of(raw: RawHDU, raws: list[RawHDU]) -> RawHDU | None:
    name = raw.header.get("BANDSHDU")
    if not isinstance(name, str):
        return None
    return next((r for r in raws if r.name == name.strip().upper()), None)


def open_irf_dataset(path: str | Path, hdu: str | int | None = None,
                     drop_variables: Iterable[str] | None = None) -> xr.Dataset:
    """All IRF HDUs of a file (or the one named by ``hdu``) as one Dataset.

    Variables are named by kind (``aeff``, ``edisp``, ``psf``, ``bkg``, ``rad_max``); two HDUs
    of one kind get the HDU name appended. A dim whose bins differ from those of a variable
    already in the Dataset is renamed ``<dim>_<variable>`` (with its edge coordinates), and the
    variable's ``attrs["renamed_dims"]`` says so (``"energy_true_psf:energy_true"``).

    Examples
    --------
    >>> import xgamma as xg
    >>> d = xg.data_dir(required=False)
    >>> if d is not None:
    ...     f = d / "hess-dl3-dr1/data/hess_dl3_dr1_obs_id_023523.fits.gz"
    ...     assert sorted(open_irf_dataset(f).data_vars) == ["aeff", "bkg", "edisp", "psf"]
    """
    raws = read_hdus(path)
    if hdu is not None:
        w = hdu.strip().upper() if isinstance(hdu, str) else hdu
        sel = [r for r in raws if r.name == w or r.number == w]
        if not sel:
            raise XgammaIOError(f"no HDU {hdu}", path=path, hdu=hdu,
                                expected=f"one of {[r.name or r.number for r in raws]}")
    else:
        sel = raws
    das: list[xr.DataArray] = []
    for r in sel:
        cols = [str(r.header.get(f"TTYPE{i}", "")) for i in range(1, int(r.header.get("TFIELDS", 0) or 0) + 1)]
        if not irf_kind(r.header, cols) or (r.name.endswith("_BANDS") and hdu is None):
            if hdu is not None:
                raise XgammaIOError("not an IRF HDU", path=path, hdu=hdu,
                                    expected=f"one of {sorted(_IRF_SPEC)} or a map")
            continue
        das.append(irf_from_hdus(r, _bands_of(r, raws)))
    kinds = [str(d.name) for d in das]
    ds = xr.Dataset(attrs={"source": str(path)})
    for da in das:
        name = str(da.name)
        if kinds.count(name) > 1:
            name = f"{name}_{da.attrs['hdu'].lower().replace(' ', '_')}"
        if drop_variables and name in set(drop_variables):
            continue
        ren: dict[str, str] = {}
        for d in da.dims:
            if d in ds.dims and not all(
                c not in ds.coords or c not in da.coords or np.array_equal(ds[c].values, da[c].values)
                for c in (d, f"{d}_min", f"{d}_max")
            ):
                ren.update({f"{d}{s}": f"{d}_{name}{s}" for s in ("", "_min", "_max")
                            if f"{d}{s}" in da.coords or s == ""})
        if ren:
            renamed = ",".join(f"{v}:{k}" for k, v in ren.items() if k in da.dims)
            da = da.rename(ren)
            da.attrs["renamed_dims"] = renamed
        ds[name] = da
    return ds


def __getattr__(name: str) -> Any:
    # the engine class moved to xgamma.io.gadf_backend (light to load); installs whose entry-point
    # metadata still names xgamma.io.gadf:GADFBackendEntrypoint get it from there
    if name == "GADFBackendEntrypoint":
        return importlib.import_module("xgamma.io.gadf_backend").GADFBackendEntrypoint
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
