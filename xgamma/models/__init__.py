"""Models: parameters, the model registry, spectral models and sky-model collections.

Examples
--------
>>> from xgamma.models import spectral_model, SkyModel, Models
>>> Models([SkyModel("Crab", spectral_model("lp10"))]).parameters.names[0]
'Crab.spectral.amplitude'
"""

from __future__ import annotations

# the family modules are imported to register their model types
from xgamma.models import (
    base,
    components,
    dark_matter,
    params,
    priors,
    registry,
    spatial,
    spatial_extra,
    spatial_template,
    spectral,
    spectral_base,
    spectral_extra,
    spectral_tables,
    temporal,
    temporal_extra,
)
from xgamma.models.base import RegisteredModel
from xgamma.models.components import BackgroundModel, GenericModel, Models, SkyModel, as_models
from xgamma.models.params import GaussianPrior, LogUniformPrior, Parameter, Parameters, UniformPrior
from xgamma.models.priors import (
    GeneralizedGaussianPrior,
    LogNormalPrior,
    MultiVariateGaussianPrior,
    SamplesKDEPrior,
    multivariate_gaussian_prior,
)
from xgamma.models.registry import ModelSpec, get_spec, register
from xgamma.models.spatial import SpatialModel, spatial_model
from xgamma.models.spatial_template import read_spatial_template, template_spatial_model
from xgamma.models.spectral import (
    CompoundSpectralModel,
    ScaleSpectralModel,
    SpectralModel,
    SpectralModelBase,
    spectral_from_dict,
    spectral_model,
)
from xgamma.models.spectral_tables import ebl_absorption, piecewise_norm_model, template_model
from xgamma.models.temporal import TemporalModel, lightcurve_template_model, temporal_model

__all__ = [
    "base",
    "dark_matter",
    "priors",
    "spatial_extra",
    "spectral_extra",
    "temporal_extra",
    "RegisteredModel",
    "GeneralizedGaussianPrior",
    "LogNormalPrior",
    "MultiVariateGaussianPrior",
    "SamplesKDEPrior",
    "multivariate_gaussian_prior",
    "SpatialModel",
    "spatial_model",
    "read_spatial_template",
    "template_spatial_model",
    "TemporalModel",
    "lightcurve_template_model",
    "temporal_model",
    "components",
    "spatial_template",
    "spectral_base",
    "spectral_tables",
    "as_models",
    "params",
    "registry",
    "spectral",
    "spatial",
    "temporal",
    "Parameter",
    "Parameters",
    "GaussianPrior",
    "UniformPrior",
    "LogUniformPrior",
    "ModelSpec",
    "get_spec",
    "register",
    "SkyModel",
    "BackgroundModel",
    "GenericModel",
    "Models",
    "SpectralModel",
    "SpectralModelBase",
    "CompoundSpectralModel",
    "ScaleSpectralModel",
    "spectral_model",
    "spectral_from_dict",
    "template_model",
    "piecewise_norm_model",
    "ebl_absorption",
]

