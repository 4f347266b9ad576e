"""Every public function and class has a docstring with an example (exceptions excepted)."""

import importlib
import inspect
import pkgutil

import xgamma


def _public_objects():
    for info in pkgutil.walk_packages(xgamma.__path__, "xgamma."):
        mod = importlib.import_module(info.name)
        for name in getattr(mod, "__all__", []):
            obj = getattr(mod, name, None)
            if not (inspect.isfunction(obj) or inspect.isclass(obj)):
                continue
            if getattr(obj, "__module__", "") != mod.__name__:
                continue  # re-exported: checked where it is defined
            if inspect.isclass(obj) and issubclass(obj, BaseException):
                continue
            yield f"{mod.__name__}.{name}", obj


def test_public_api_has_examples():
    objects = dict(_public_objects())
    assert len(objects) > 150
    missing = [n for n, o in objects.items() if ">>>" not in (inspect.getdoc(o) or "")]
    assert missing == []
