"""Write the tutorial notebooks from the cell lists below (python notebooks/_make.py NAME).

Notebooks are stored without outputs; CI executes every notebook in this folder.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).parent


def write(name: str, cells: list[tuple[str, str]]) -> None:
    nb = new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [new_markdown_cell(src.strip()) if kind == "md" else new_code_cell(src.strip())
                for kind, src in cells]
    nbformat.write(nb, HERE / f"{name}.ipynb")
    print(f"wrote {name}.ipynb ({len(cells)} cells)")


if __name__ == "__main__":
    import importlib

    for name in sys.argv[1:]:
        mod = importlib.import_module(f"_nb_{name}")
        write(name, mod.CELLS)
