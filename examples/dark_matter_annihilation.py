"""Dark-matter annihilation in the Galactic centre halo: J-factor map, annihilation spectrum and
the signal a ground-based instrument would see.

Steps: an NFW profile scaled to the local density (0.3 GeV cm-3 at 8.33 kpc); its J-factor map
on a 4 x 4 deg galactic grid; the J factor of a 0.5 deg ON region; the gamma-ray spectrum of a
1 TeV WIMP annihilating into b quarks at the thermal cross-section (analytic yield, see
``xgamma.models.spectral_extra``); the number of signal photons above 100 GeV for a
1e9 cm2 effective area in 100 h; and the cross-section that would give 100 such photons.
Runs in a few seconds without data; writes PNGs when matplotlib is installed.

Run: ``python examples/dark_matter_annihilation.py --out results/dark_matter``
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import xgamma as xg
from xgamma.models.dark_matter import dm_profile, jfactor_map
from xgamma.models.spectral_extra import THERMAL_RELIC_CROSS_SECTION, dark_matter_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="results/dark_matter", help="output folder for the figures")
    parser.add_argument("--mass", type=float, default=1000.0, help="WIMP mass [GeV]")
    parser.add_argument("--channel", default="b", help="annihilation channel (b, tau, W, ...)")
    args = parser.parse_args()

    profile = dm_profile("nfw").scaled_to_local_density()
    print(f"NFW: r_s = {profile.r_s} kpc, rho_s = {profile.rho_s:.4f} GeV cm-3 (0.3 GeV cm-3 at 8.33 kpc)")

    geom = xg.wcs_geom((0.0, 0.0), 4.0, 0.02, frame="galactic")
    jmap = jfactor_map(geom, profile)
    sep = xg.sky.separation(geom, (0.0, 0.0))
    j_on = float(jmap.where(sep < 0.5).sum())
    print(f"J factor, 4 x 4 deg map: {float(jmap.sum()):.3e} GeV2 cm-5; within 0.5 deg: {j_on:.3e} GeV2 cm-5")

    spectrum = dark_matter_model("annihilation", args.mass, args.channel, j_on)
    e_min, e_max = 0.1, args.mass / 1e3
    flux = float(spectrum.integral(e_min, e_max))
    area, livetime = 1e9, 100 * 3600.0  # cm2, s
    n_sig = flux * area * livetime
    print(f"{args.mass:g} GeV -> {args.channel}, <sigma v> = {THERMAL_RELIC_CROSS_SECTION:g} cm3 s-1: "
          f"flux {e_min}-{e_max:g} TeV = {flux:.3e} cm-2 s-1, {n_sig:.2f} photons in 100 h x 1e9 cm2")
    print(f"<sigma v> for 100 photons: {THERMAL_RELIC_CROSS_SECTION * 100 / n_sig:.2e} cm3 s-1")

    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(5, 4))
    im = ax.imshow(np.log10(jmap.values), origin="lower", extent=(2, -2, -2, 2))
    ax.set_xlabel("GLON [deg]")
    ax.set_ylabel("GLAT [deg]")
    fig.colorbar(im, label="log10 J per pixel [GeV2 cm-5]")
    fig.savefig(out / "jfactor_map.png", dpi=100)
    e = np.geomspace(0.01, e_max, 200)
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.loglog(e, e**2 * spectrum(e))
    ax.set_xlabel("E [TeV]")
    ax.set_ylabel("E2 dN/dE [TeV cm-2 s-1]")
    fig.savefig(out / "annihilation_spectrum.png", dpi=100)
    print(f"figures in {out}/")


if __name__ == "__main__":
    main()
