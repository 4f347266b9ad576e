"""Generate docs/config_reference.rst from the AnalysisConfig schema."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel

from xgamma.config import _SECTION_DOCS, AnalysisConfig


def _rows(model: type[BaseModel], prefix: str, out: list[tuple[str, str, str, str]]) -> None:
    default = model()
    for name, field in model.model_fields.items():
        path = f"{prefix}.{name}" if prefix else name
        ann: Any = field.annotation
        sub = getattr(default, name)
        if isinstance(sub, BaseModel):
            _rows(type(sub), path, out)
            continue
        value = default.model_dump(mode="json")[name]
        typ = str(ann).replace("typing.", "").replace("<class '", "").replace("'>", "")
        if "Quantity" in typ:
            typ = "quantity string"
        out.append((path, typ, repr(value), field.description or ""))


def write(path: Path) -> None:
    lines = [
        "Configuration reference",
        "=======================",
        "",
        "Every key of :class:`xgamma.AnalysisConfig`, with its type and default, generated from the",
        "schema. Quantities are strings with units (``\"0.2 TeV\"``, ``\"0.11 deg\"``). Unknown keys",
        "are errors. ``xgamma config`` prints the full default configuration with comments.",
        "",
    ]
    for section, sub in AnalysisConfig().model_dump().items():
        model = type(getattr(AnalysisConfig(), section))
        rows: list[tuple[str, str, str, str]] = []
        _rows(model, section, rows)
        lines += [f"``{section}``", "-" * (len(section) + 4), "", _SECTION_DOCS.get(section, ""), "",
                  ".. list-table::", "   :header-rows: 1", "   :widths: 30 25 25 20", "",
                  "   * - key", "     - type", "     - default", "     - note"]
        for key, typ, default, note in rows:
            lines += [f"   * - ``{key}``", f"     - {typ}", f"     - ``{default}``", f"     - {note}"]
        lines.append("")
    text = "\n".join(lines) + "\n"
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


if __name__ == "__main__":
    write(Path(__file__).resolve().parent / "config_reference.rst")
