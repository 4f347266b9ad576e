"""The xgamma version (one place; read by the package, the CLI and the YAML writers)."""

__version__ = "0.1.0.dev0"
