"""Runnable applications and science experiments: `gated example NAME`.

Every module of this package whose name does not start with `_` is a recipe. Its name on the
command line is the module name with `-` for `_` (`forecast_ett.py` -> `gated example
forecast-ett`), its description is the first paragraph of its docstring, and the rest of
the docstring says what it does and the numbers it reached (with the command and the machine).
Listing the recipes reads the docstrings without importing the modules.

A recipe module defines:

    def add_arguments(parser: argparse.ArgumentParser) -> None   # optional, extra options
    def run(args: argparse.Namespace) -> dict                    # the numbers it reached

`args` always carries `quick` (a budget under 5 minutes on 2 cores), `data` (the folder that
holds the real data sets, or None), `output` (a folder for plots and the JSON of the numbers),
`seed` and `verbose`. `run` prints its table (its number against its baselines and the
published anchor) and returns a JSON-able dict, which `run_recipe` writes to
`<output>/<name>.json` atomically.

Example:
>>> from gated.recipes import available
>>> "name" in available() or True
True
"""

from __future__ import annotations

import argparse
import ast
import importlib
import json
import os
import pkgutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["available", "build_parser", "data_dir", "run_recipe", "write_json"]

#: The environment variable that names the data folder when `--data` is not given.
DATA_ENV = "GATED_DATA"


def _modules() -> dict[str, str]:
    """Recipe name -> module name, for every public module of this package."""
    return {name.replace("_", "-"): name for name in _files()}


def _files() -> dict[str, Path]:
    """Module name -> source file, for every public module of this package."""
    return {info.name: Path(info.module_finder.path) / f"{info.name}.py"
            for info in pkgutil.iter_modules(__path__)
            if not info.name.startswith("_") and not info.ispkg}


def available() -> dict[str, str]:
    """Every recipe's name and one-line description, sorted by name (no module is imported).

    Returns:
        A dict `{name: description}`.
    """
    out = {}
    files = _files()
    for name, module in sorted(_modules().items()):
        source = files[module].read_text(encoding="utf-8")
        doc = ast.get_docstring(ast.parse(source)) or ""
        out[name] = " ".join(doc.strip().split("\n\n")[0].split())
    return out


def _load(name: str) -> Any:
    modules = _modules()
    if name not in modules:
        from gated._checks import close_matches

        hint = close_matches(name, list(modules), n=1)
        raise ValueError(f"Unknown recipe {name!r}" + (f" (did you mean {hint[0]!r}?)" if hint
                         else "") + f"; expected one of: {', '.join(sorted(modules))}.")
    return importlib.import_module(f"{__name__}.{modules[name]}")


def build_parser(name: str, prog: str | None = None) -> argparse.ArgumentParser:
    """The argument parser of one recipe: the common options plus the recipe's own.

    Args:
        name: the recipe's name, e.g. `"forecast-ett"`.
        prog: the program name shown in usage lines.

    Returns:
        An `argparse.ArgumentParser`.
    """
    module = _load(name)
    doc = (module.__doc__ or "").strip()
    parser = argparse.ArgumentParser(prog=prog or f"gated example {name}", description=doc,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="a reduced budget that runs in under 5 minutes on 2 CPU cores")
    parser.add_argument("--data", default=os.environ.get(DATA_ENV), metavar="DIR",
                        help=f"the folder that holds the real data sets (default: ${DATA_ENV})")
    parser.add_argument("--output", default=os.path.join("gated-output", name), metavar="DIR",
                        help="folder for plots and the JSON of the numbers "
                             f"(default ./gated-output/{name})")
    parser.add_argument("--seed", type=int, default=0, metavar="N",
                        help="random seed (default 0)")
    parser.add_argument("--quiet", dest="verbose", action="store_const", const=0, default=1,
                        help="no progress bars; only the results")
    if hasattr(module, "add_arguments"):
        module.add_arguments(parser)
    return parser


def data_dir(args: argparse.Namespace, subfolder: str, *required: str) -> Path:
    """The folder of one data set, checked to hold the files a recipe needs.

    `--data` may name the folder that holds all data sets (`.../data`, which has `subfolder`
    inside) or the data set's own folder.

    Args:
        args: the recipe's parsed arguments (its `data`).
        subfolder: the data set's folder name, e.g. `"ett"`.
        *required: file names (relative to the data set's folder) that must exist.

    Returns:
        The data set's folder.

    Raises:
        FileNotFoundError: naming the folder and the missing file, and how to pass `--data`.
    """
    if not args.data:
        raise FileNotFoundError(
            f"This recipe needs the {subfolder!r} data set: pass --data DIR (the folder that "
            f"holds {subfolder}/) or set ${DATA_ENV}.")
    root = Path(args.data).expanduser()
    folder = root / subfolder if (root / subfolder).is_dir() else root
    missing = [f for f in required if not (folder / f).exists()]
    if missing or not folder.is_dir():
        raise FileNotFoundError(
            f"--data {str(root)!r}: expected the {subfolder!r} data set in {str(folder)!r}, "
            f"missing {', '.join(missing) or 'the folder'}.")
    return folder


def write_json(path: str | os.PathLike, numbers: dict) -> Path:
    """Writes `numbers` as indented JSON, atomically (a failed write keeps the old file).

    Returns:
        The path written.
    """
    from gated.models.saving import atomic_write

    text = json.dumps(numbers, indent=2, sort_keys=True, default=float).encode("utf-8")
    return atomic_write(path, lambda f: f.write(text + b"\n"))


def run_recipe(name: str, argv: Sequence[str] = ()) -> dict:
    """Runs one recipe with command-line style arguments and writes its JSON.

    Args:
        name: the recipe's name (see `available()`).
        argv: its arguments, e.g. `["--quick", "--data", "../shared/data"]`.

    Returns:
        The numbers the recipe reached (also written to `<output>/<name>.json`).
    """
    args = build_parser(name).parse_args(list(argv))
    numbers = _load(name).run(args)
    if not isinstance(numbers, dict):
        raise TypeError(f"recipe {name!r}: run() must return a dict of numbers; "
                        f"received {type(numbers).__name__}.")
    path = write_json(Path(args.output) / f"{name}.json", numbers)
    if args.verbose:
        print(f"numbers written to {path}")
    return numbers
