CELLS = [
("md", """
# Quickstart: a whole Crab analysis from one configuration

xgamma runs a complete analysis (observation selection, data reduction, model fit, flux points)
from a YAML configuration with the keys of Gammapy's `AnalysisConfig`. Here: four H.E.S.S. runs
of the Crab Nebula, a 1D ON/OFF spectrum with reflected-regions background, and a power-law fit.
The same analysis runs from the shell with `xgamma run examples/crab_1d.yaml --out results/`.
"""),
("code", """
%matplotlib inline
import logging
from pathlib import Path

import xgamma as xg

logging.basicConfig(level=logging.INFO, format="%(message)s")
root = Path.cwd().parent if Path.cwd().name == "notebooks" else Path.cwd()
config = xg.AnalysisConfig.read(root / "examples" / "crab_1d.yaml")
print(config.to_yaml()[:900])
"""),
("md", "## Select the observations and reduce them"),
("code", """
analysis = xg.Analysis(config)
observations = analysis.get_observations()
datasets = analysis.get_datasets()
datasets[0]
"""),
("code", """
from xgamma.reduction.spectrum import spectrum_info

spectrum_info(datasets[0])
"""),
("md", "## Fit a power law"),
("code", """
analysis.set_models(root / "examples" / "crab_1d_models.yaml")
result = analysis.run_fit()
result.result.to_dataframe()[["value", "error"]]
"""),
("md", """
## Flux points and the SED

Flux points fit the norm of the source model in each energy bin; the bins outside the fit range
are flagged (`valid` is False) rather than returned as numbers.
"""),
("code", """
fp = analysis.get_flux_points()
xg.estimators.to_sed_type(fp, "e2dnde")[["e2dnde", "e2dnde_err", "ts", "valid"]].to_dataframe()
"""),
("code", """
from xgamma.estimators import plot_sed

ax = plot_sed(fp, model=analysis.models["Crab"])
ax.set_title("Crab Nebula, H.E.S.S. DL3 DR1 (4 runs)");
"""),
("md", "## Write every product"),
("code", """
import tempfile

out = Path(tempfile.mkdtemp()) / "crab_1d"
for path in analysis.write(out):
    print(path.relative_to(out.parent))
"""),
]
