"""Fermi-LAT map datasets: from the Science Tools cubes or from a Gammapy ``MapDataset`` file.

The Fermi-LAT has no background IRF and no observations to reduce: a binned analysis starts
from cubes made by the Fermi Science Tools,

=====================  =========================================================================
file                   content
=====================  =========================================================================
counts (``gtbin``)     primary image ``(energy, y, x)`` + ``EBOUNDS`` (``E_MIN``, ``E_MAX``, keV)
exposure               primary image ``(energy_true, y, x)`` [cm2 s] at the energies of the
(``gtexpcube2``)       ``ENERGIES`` table (MeV): **nodes**, not bins
PSF (``gtpsf``)        ``PSF`` table (``Energy`` [MeV], ``Exposure``, ``Psf`` [sr-1] per ``Theta``)
                       + ``THETA`` table (deg): one PSF for the whole (small) field
background             predicted counts of the diffuse + isotropic models (``gtmodel``), like the
(``gtmodel``)          counts cube
=====================  =========================================================================

:func:`read_fermi_cubes` turns them into an xgamma map dataset (the ``map`` kind of
:data:`xgamma.conventions.DATASET_SCHEMAS`): the exposure nodes become the ``energy_true`` bins
(log-midpoint edges, the node at the log-centre, as Gammapy reads them), the PSF is interpolated
(linear in log energy) onto those nodes and kept without sky dims (the same PSF everywhere),
the energy dispersion is diagonal (:func:`diagonal_edisp`, each true-energy bin sent to the
reco bins it overlaps) or given. :func:`read_fermi` reads the same dataset from a Gammapy
``MapDataset`` file (e.g. ``fermi-3fhl-gc.fits.gz``, with table-form PSF and EDISP maps) and
puts its PSF on the exposure's true-energy axis in the same way. Both datasets fit with
:func:`xgamma.fit` (a :class:`~xgamma.models.BackgroundModel` scales the background cube) and
write with :func:`xgamma.io.dl4.write_dl4`.

Examples
--------
>>> import xgamma as xg
>>> d = xg.data_dir(required=False)
>>> if d is not None:
...     gc = d / "fermi-3fhl-gc"
...     ds = read_fermi_cubes(gc / "fermi-3fhl-gc-counts-cube.fits.gz", gc / "fermi-3fhl-gc-exposure-cube.fits.gz",
...                           gc / "fermi-3fhl-gc-psf-cube.fits.gz", gc / "fermi-3fhl-gc-background-cube.fits.gz")
...     assert ds.psf.dims == ("energy_true", "rad") and int(ds.counts.sum()) == 32684
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import astropy.units as u
import numpy as np
import xarray as xr
from astropy.io import fits
from astropy.wcs import WCS, FITSFixedWarning

from xgamma import sky
from xgamma.axes import axis_from_edges, axis_variables, edges
from xgamma.conventions import validate
from xgamma.errors import ConventionError, XgammaIOError
from xgamma.io.dl4 import read_dl4
from xgamma.irf.interp import interp_along

__all__ = ["read_fermi_cubes", "read_fermi", "fermi_dataset", "diagonal_edisp", "node_axis"]

INSTRUMENT = "Fermi-LAT"


def node_axis(nodes: np.ndarray, name: str, unit: str = "TeV") -> xr.DataArray:
    """A log axis whose bin centres are ``nodes``: edges at the geometric midpoints, the outer
    edges half a (log) step beyond the outer nodes.

    Examples
    --------
    >>> ax = node_axis(np.array([1.0, 10.0, 100.0]), "energy_true")
    >>> ax.values.tolist(), ax.energy_true_min.values.round(4).tolist()
    ([1.0, 10.0, 100.0], [0.3162, 3.1623, 31.6228])
    """
    ln = np.log(np.asarray(nodes, dtype=float))
    if ln.size < 2 or not np.all(np.diff(ln) > 0):
        raise ConventionError(f"node axis {name!r}: need at least 2 increasing positive nodes")
    mid = 0.5 * (ln[1:] + ln[:-1])
    e = np.exp(np.concatenate([[ln[0] - (mid[0] - ln[0])], mid, [ln[-1] + (ln[-1] - mid[-1])]]))
    coords = axis_variables(np.asarray(nodes, float), e[:-1], e[1:], name, {"units": unit, "interp": "log"})
    return xr.DataArray(coords[name], coords=coords, name=name)


def diagonal_edisp(energy_true_edges: np.ndarray, energy_edges: np.ndarray) -> np.ndarray:
    """A diagonal energy dispersion ``(n_true, n_reco)``: each true-energy bin sends to a reco
    bin the fraction of its width (linear in energy) that the reco bin overlaps (Gammapy's
    ``EDispKernel.from_diagonal_response``); true bins that stick out of the reco range lose
    the part outside.

    Examples
    --------
    >>> diagonal_edisp(np.array([1.0, 2.0, 3.0]), np.array([1.5, 3.0])).tolist()
    [[0.5], [1.0]]
    """
    lo_t, hi_t = np.asarray(energy_true_edges[:-1], float), np.asarray(energy_true_edges[1:], float)
    lo_r, hi_r = np.asarray(energy_edges[:-1], float), np.asarray(energy_edges[1:], float)
    overlap = np.clip(np.minimum(hi_t[:, None], hi_r[None, :]) - np.maximum(lo_t[:, None], lo_r[None, :]), 0, None)
    return overlap / (hi_t - lo_t)[:, None]


def _open(path: Path, what: str) -> fits.HDUList:
    if not path.exists():
        raise XgammaIOError(f"{what} file not found", path=path)
    try:
        return fits.open(path, memmap=False)
    except OSError as exc:
        raise XgammaIOError(f"cannot read the {what} file as FITS: {exc}", path=path) from exc


def _hdu(hdul: fits.HDUList, name: str, path: Path, what: str) -> Any:
    if name not in hdul:
        raise XgammaIOError(f"no {name} HDU in the {what} file", path=path, hdu=name,
                            expected=f"HDUs {[h.name for h in hdul]} to include {name}")
    return hdul[name]


def _col(hdu: Any, names: tuple[str, ...], path: Path) -> np.ndarray:
    by_upper = {c.upper(): c for c in hdu.columns.names}
    for n in names:
        if n.upper() in by_upper:
            return np.asarray(hdu.data[by_upper[n.upper()]], dtype=float)
    raise XgammaIOError(f"missing column {names[0]!r}", path=path, hdu=hdu.name, expected=", ".join(names))


def _ebounds_cube(path: Path, what: str) -> tuple[np.ndarray, WCS, np.ndarray, fits.HDUList]:
    hdul = _open(path, what)
    data = hdul[0].data
    if data is None or data.ndim != 3:
        raise XgammaIOError(f"the {what} cube must be a 3D primary image (energy, y, x)", path=path, hdu="PRIMARY")
    eb = _hdu(hdul, "EBOUNDS", path, what)
    unit = eb.columns["E_MIN"].unit or "keV"
    scale = float(u.Unit(unit).to("TeV"))
    e = np.append(_col(eb, ("E_MIN",), path), _col(eb, ("E_MAX",), path)[-1]) * scale
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        w = WCS(hdul[0].header).celestial
    return np.asarray(data, dtype=float), w, e, hdul


def _same_pixels(a: WCS, b: WCS, shape: tuple[int, ...]) -> bool:
    """Whether two WCS put the corner and centre pixels of ``shape`` at the same sky positions."""
    ny, nx = shape
    px = np.array([0, nx - 1, 0, nx - 1, (nx - 1) / 2])
    py = np.array([0, 0, ny - 1, ny - 1, (ny - 1) / 2])
    la, ba = a.pixel_to_world_values(px, py)
    lb, bb = b.pixel_to_world_values(px, py)
    return bool(np.allclose(sky.separation_deg(la, ba, lb, bb), 0.0, atol=1e-6))


def _psf_table(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(energy [TeV], theta [deg], psf [sr-1] (n_e, n_theta))`` of a ``gtpsf`` file."""
    with _open(path, "PSF") as hdul:
        t = _hdu(hdul, "PSF", path, "PSF")
        th = _hdu(hdul, "THETA", path, "PSF")
        energy = _col(t, ("Energy", "ENERG"), path) * 1e-6  # MeV -> TeV
        psf = _col(t, ("Psf",), path)
        theta = _col(th, ("Theta",), path)
    return energy, theta, psf


def _rad_axis(theta: np.ndarray) -> xr.DataArray:
    mid = 0.5 * (theta[1:] + theta[:-1])
    e = np.concatenate([[0.0], mid, [theta[-1] + (theta[-1] - mid[-1])]])
    return axis_from_edges(e, "rad", unit="deg", interp="lin")


def _psf_on(psf: np.ndarray, energy: np.ndarray, energy_true: np.ndarray) -> np.ndarray:
    """PSF rows interpolated (linear in log energy) at the true energies, clipped at >= 0."""
    out = interp_along(psf, 0, energy, energy_true, log=True)
    return np.clip(out, 0.0, None)


def read_fermi_cubes(counts: str | Path, exposure: str | Path, psf: str | Path, background: str | Path | None = None,
                     edisp: str | np.ndarray = "diagonal", name: str = "fermi-lat") -> xr.Dataset:
    """A Fermi-LAT map dataset from the Science Tools cubes.

    Parameters
    ----------
    counts, exposure, psf : path
        ``gtbin`` counts cube, ``gtexpcube2`` exposure cube (same sky pixels), ``gtpsf`` PSF.
    background : path, optional
        Predicted background counts (diffuse + isotropic, ``gtmodel``), on the counts' pixels
        and energy bins.
    edisp : "diagonal" or array ``(n_true, n_reco)``
        Energy dispersion; the default sends each true-energy bin to the reco bins it overlaps.
    name : str
        Dataset name.

    Returns
    -------
    xarray.Dataset
        ``counts``, ``exposure``, ``background`` (if given), ``psf(energy_true, rad)``,
        ``edisp(energy_true, energy)``, ``mask_safe`` (all true); attrs ``name``,
        ``instrument``, ``tstart``/``tstop``/``mjdref`` from the counts' GTI.

    Raises
    ------
    XgammaIOError
        A missing file, HDU or column (named), sky pixels or energy bins that do not match.

    Examples
    --------
    >>> read_fermi_cubes("absent-counts.fits", "e.fits", "p.fits")
    Traceback (most recent call last):
    ...
    xgamma.errors.XgammaIOError: absent-counts.fits: counts file not found
    """
    pc, pe, pp = Path(counts), Path(exposure), Path(psf)
    cdata, cw, e_edges, hdul_c = _ebounds_cube(pc, "counts")
    with hdul_c:
        attrs: dict[str, Any] = {}
        if "GTI" in hdul_c and len(hdul_c["GTI"].data):
            g = hdul_c["GTI"]
            attrs["tstart"] = float(np.min(g.data["START"]))
            attrs["tstop"] = float(np.max(g.data["STOP"]))
            attrs["mjdref"] = float(g.header.get("MJDREFI", 0)) + float(g.header.get("MJDREFF", 0.0))
    geom = sky.geom_from_wcs(cw, cdata.shape[-2:])
    with _open(pe, "exposure") as hdul_e:
        edata = hdul_e[0].data
        if edata is None or edata.ndim != 3:
            raise XgammaIOError("the exposure cube must be a 3D primary image (energy, y, x)", path=pe, hdu="PRIMARY")
        edata = np.asarray(edata, dtype=float)
        nodes = _col(_hdu(hdul_e, "ENERGIES", pe, "exposure"), ("Energy", "ENERGY"), pe) * 1e-6
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FITSFixedWarning)
            ew = WCS(hdul_e[0].header).celestial
    if edata.shape[-2:] != cdata.shape[-2:] or not _same_pixels(ew, cw, cdata.shape[-2:]):
        raise XgammaIOError(f"exposure pixels {edata.shape[-2:]} do not match the counts pixels {cdata.shape[-2:]}",
                            path=pe, hdu="PRIMARY")
    if edata.shape[0] != nodes.size:
        raise XgammaIOError(f"{edata.shape[0]} exposure planes for {nodes.size} energies", path=pe, hdu="ENERGIES")
    et = node_axis(nodes, "energy_true")
    e_axis = axis_from_edges(e_edges, "energy", unit="TeV")
    p_energy, theta, p_values = _psf_table(pp)
    rad = _rad_axis(theta)
    coords: dict[str, Any] = {str(k): v.variable for k, v in geom.coords.items()}
    for ax in (e_axis, et, rad):
        coords.update({str(k): v.variable for k, v in ax.coords.items()})
    if isinstance(edisp, str):
        if edisp != "diagonal":
            raise ValueError(f"edisp must be 'diagonal' or an array (n_true, n_reco), got {edisp!r}")
        kernel = diagonal_edisp(edges(et), e_edges)
    else:
        kernel = np.asarray(edisp, dtype=float)
        if kernel.shape != (et.size, e_axis.size):
            raise ConventionError(f"edisp has shape {kernel.shape}, expected ({et.size}, {e_axis.size})")
    data: dict[str, Any] = {
        "counts": (("energy", "y", "x"), cdata, {"units": ""}),
        "exposure": (("energy_true", "y", "x"), edata, {"units": "cm2 s"}),
    }
    if background is not None:
        pb = Path(background)
        bdata, bw, b_edges, hdul_b = _ebounds_cube(pb, "background")
        hdul_b.close()
        if bdata.shape != cdata.shape or not np.allclose(b_edges, e_edges, rtol=1e-5):
            raise XgammaIOError(f"background cube {bdata.shape} does not match the counts cube {cdata.shape} "
                                "(pixels and energy bins)", path=pb)
        data["background"] = (("energy", "y", "x"), bdata, {"units": ""})
    data["psf"] = (("energy_true", "rad"), _psf_on(p_values, p_energy, et.values), {"units": "sr-1"})
    data["edisp"] = (("energy_true", "energy"), kernel, {"units": ""})
    data["mask_safe"] = (("energy", "y", "x"), np.ones(cdata.shape, bool), {})
    ds = xr.Dataset(data, coords=coords, attrs={**geom.attrs, **attrs, "name": name, "instrument": INSTRUMENT})
    validate(ds, "map")
    return ds


def fermi_dataset(ds: xr.Dataset, path: Any = None) -> xr.Dataset:
    """A Fermi-LAT map dataset made ready to fit: the PSF interpolated onto the exposure's
    ``energy_true`` nodes (a ``MapDataset`` file keeps it on its own ``energy_true_psf`` axis).

    Raises
    ------
    XgammaIOError
        The dataset has no PSF (a Fermi-LAT dataset cannot be folded without it).

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> fermi_dataset(xr.Dataset({"counts": ("energy", np.ones(2))}), path="lat.fits")
    Traceback (most recent call last):
    ...
    xgamma.errors.XgammaIOError: lat.fits [HDU PSF]: no PSF in the Fermi-LAT dataset (expected: a PSF map, e.g. from gtpsf)
    """
    if "psf" not in ds:
        raise XgammaIOError("no PSF in the Fermi-LAT dataset", path=path, hdu="PSF", expected="a PSF map, e.g. from gtpsf")
    p = ds["psf"]
    out = ds
    pdim = next((str(d) for d in p.dims if str(d).startswith("energy_true")), None)
    if pdim is None:
        raise XgammaIOError("the PSF has no energy_true axis", path=path, hdu="PSF")
    if pdim != "energy_true":
        nodes = np.asarray(ds[pdim].values, float)
        target = np.asarray(ds["energy_true"].values, float)
        axis = p.dims.index(pdim)
        vals = _psf_on(np.moveaxis(p.values, axis, 0), nodes, target)
        dims = ("energy_true", *[d for d in p.dims if d != pdim])
        out = ds.drop_vars(["psf"]).assign(psf=(dims, vals, dict(p.attrs)))
        drop = [str(k) for k, v in out.coords.items() if pdim in v.dims]
        if "exposure_irf" in out and pdim in out["exposure_irf"].dims:
            out = out.drop_vars("exposure_irf")
        out = out.drop_vars(drop)
    # IRF maps on coarse sky grids (the image form): taken at the grid pixel nearest the map
    # centre (the LAT response hardly varies over a field of a few degrees)
    for var in ("psf", "edisp"):
        if var not in out:
            continue
        ydim = next((str(d) for d in out[var].dims if str(d).startswith("y_")), None)
        if ydim is None:
            continue
        xdim = "x_" + ydim[2:]
        ny, nx = out.sizes["y"], out.sizes["x"]
        c = sky.pix_to_sky(out, (nx - 1) / 2, (ny - 1) / 2)
        sfx = ydim[1:]
        frame, lon_name, lat_name = (("icrs", "ra", "dec") if f"ra{sfx}" in out.coords
                                     else ("galactic", "glon", "glat"))
        lon_c, lat_c = sky.lonlat(c, frame)
        glon = out[f"{lon_name}{sfx}"].values
        glat = out[f"{lat_name}{sfx}"].values
        j, i = np.unravel_index(np.argmin(sky.separation_deg(glon, glat, float(lon_c), float(lat_c))), glon.shape)
        out = out.assign({var: out[var].isel({ydim: int(j), xdim: int(i)}, drop=True)})
        if not any(ydim in v.dims for v in out.data_vars.values()):
            out = out.drop_vars([str(k) for k, v in out.coords.items() if ydim in v.dims or xdim in v.dims])
            out.attrs.pop(f"wcs{ydim[1:]}", None)
    if "exposure_irf" in out and any(str(d).startswith("y_") for d in out["exposure_irf"].dims):
        out = out.drop_vars("exposure_irf")
        out = out.drop_vars([str(k) for k, v in out.coords.items()
                             if any(str(d).startswith(("y_", "x_")) for d in v.dims)])
    return out.assign_attrs(instrument=ds.attrs.get("instrument") or INSTRUMENT)


def read_fermi(path: str | Path) -> xr.Dataset:
    """Read a Fermi-LAT ``MapDataset`` file (Gammapy layout, table-form PSF/EDISP maps) and make
    it ready to fit (:func:`fermi_dataset`).

    Examples
    --------
    >>> import xgamma as xg
    >>> d = xg.data_dir(required=False)
    >>> if d is not None:
    ...     ds = read_fermi(d / "fermi-3fhl-gc/fermi-3fhl-gc.fits.gz")
    ...     assert ds.psf.dims == ("energy_true", "rad") and ds.edisp.dims == ("energy_true", "energy")
    """
    p = Path(path)
    ds = read_dl4(p)
    out = fermi_dataset(ds, path=p)
    if not out.attrs.get("name"):
        out = out.assign_attrs(name=p.name.split(".")[0])
    return out
