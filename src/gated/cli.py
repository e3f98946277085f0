"""The `gated` command.

    gated demo [--epochs N] [--output DIR] [--window N] [--seed N] [--quiet]
    gated example --list
    gated example NAME [--quick] [--data DIR] [--output DIR] [--seed N] [recipe options]
    gated --version
    gated --help

Errors in the arguments are reported on stderr with exit status 2 (argparse's convention).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

__all__ = ["main", "build_parser"]


def _version() -> str:
    try:
        from importlib.metadata import PackageNotFoundError, version

        return version("gated")
    except PackageNotFoundError:
        pass
    try:  # running from a source tree that is not installed
        import gated

        return str(getattr(gated, "__version__", "unknown"))
    except ImportError:  # pragma: no cover - this module is part of gated
        return "unknown"


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    """Returns the argument parser of the `gated` command."""
    from gated.demo import DEFAULT_EPOCHS, DEFAULT_OUTPUT_DIR, DEFAULT_WINDOW

    parser = argparse.ArgumentParser(
        prog="gated",
        description="gated: the LSTM family behind the Keras API, on PyTorch.",
        epilog="Run `gated demo` for a forecasting run on the built-in sunspot series.",
    )
    parser.add_argument("--version", action="version", version=f"gated {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = commands.add_parser(
        "demo",
        help="train an LSTM on yearly sunspot numbers and compare it with naive baselines",
        description=(
            "Train LSTM(50) -> Dense(1) on the yearly sunspot numbers 1700-2008 (shipped with "
            "gated), forecast the last 40 years one step ahead and compare MAE/RMSE with the "
            "naive and seasonal naive (11-year cycle) forecasts. Writes forecast.png and "
            'history.png (plots need `pip install "gated[plot]"`).'
        ),
    )
    demo.add_argument(
        "--epochs",
        type=_positive_int,
        default=DEFAULT_EPOCHS,
        metavar="N",
        help=f"maximum training epochs; early stopping may stop sooner (default {DEFAULT_EPOCHS})",
    )
    demo.add_argument(
        "--output",
        default=DEFAULT_OUTPUT_DIR,
        metavar="DIR",
        help=f"folder for the plots (default ./{DEFAULT_OUTPUT_DIR})",
    )
    demo.add_argument(
        "--window",
        type=_positive_int,
        default=DEFAULT_WINDOW,
        metavar="N",
        help=f"years of history the LSTM sees (default {DEFAULT_WINDOW})",
    )
    demo.add_argument("--seed", type=_int, default=0, metavar="N", help="random seed (default 0)")
    demo.add_argument(
        "--quiet",
        action="store_true",
        help="no model summary or training progress; only the results table",
    )
    demo.set_defaults(command_parser=demo)

    example = commands.add_parser(
        "example",
        help="run a recipe: an application or experiment on real data (`--list` shows them)",
        description="Run one recipe of gated.recipes; `gated example NAME --help` shows its "
                    "options. Each prints its numbers against its baselines and writes them "
                    "as JSON (and its plots) to --output.",
        add_help=False,
    )
    example.add_argument("--list", action="store_true", help="list the recipes and exit")
    example.add_argument("name", nargs="?", metavar="NAME", help="the recipe to run")
    example.add_argument("recipe_args", nargs=argparse.REMAINDER,
                         help="the recipe's options (see `gated example NAME --help`)")
    example.add_argument("-h", "--help", action="store_true", help="show this help and exit")
    example.set_defaults(command_parser=example)

    export = commands.add_parser(
        "export", help="export a saved model (.gated) to ONNX or a Keras 3 .keras file",
        description="Export a model saved by model.save() to ONNX (format from the suffix).")
    export.add_argument("model", metavar="MODEL", help="the saved model file")
    export.add_argument("output", metavar="OUT", help="the file to write (.onnx or .keras)")
    export.add_argument("--format", choices=("onnx", "keras"), default=None,
                        help="output format (default: from the suffix of OUT)")
    export.add_argument("--step", action="store_true",
                        help="ONNX: export the streaming step graph (states in and out)")
    export.set_defaults(command_parser=export)
    return parser


def _run_demo(args: argparse.Namespace) -> int:
    from gated.demo import run_demo, validate_demo_arguments

    try:
        validate_demo_arguments(args.epochs, args.window)
    except ValueError as error:
        args.command_parser.error(str(error))  # usage + error on stderr, exit status 2
    run_demo(
        epochs=args.epochs,
        output_dir=args.output,
        window=args.window,
        seed=args.seed,
        verbose=0 if args.quiet else 1,
    )
    return 0


def _run_example(args: argparse.Namespace) -> int:
    from gated import recipes

    if args.list or (args.help and not args.name):
        if args.help:
            args.command_parser.print_help()
        for name, description in recipes.available().items():
            print(f"{name:24s} {description}")
        return 0
    if not args.name:
        args.command_parser.error("a recipe NAME or --list is required")
    try:
        parser = recipes.build_parser(args.name)
    except ValueError as error:
        args.command_parser.error(str(error))
    rest = list(args.recipe_args) + (["--help"] if args.help else [])
    try:
        recipes.run_recipe(args.name, rest)
    except FileNotFoundError as error:
        parser.error(str(error))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `gated` command.

    Args:
        argv: arguments without the program name; `None` reads `sys.argv[1:]`.

    Returns:
        The exit status (0 on success). Bad arguments raise `SystemExit(2)` after printing
        the usage and the error on stderr, as argparse does.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        print("\ngated: error: a command is required, e.g. `gated demo`", file=sys.stderr)
        return 2
    try:
        if args.command == "demo":
            return _run_demo(args)
        if args.command == "example":
            return _run_example(args)
        if args.command == "export":
            from gated.export.command import run_export

            return run_export(args)
    except KeyboardInterrupt:
        print("gated: interrupted", file=sys.stderr)
        return 130
    parser.error(f"unknown command {args.command!r}")  # pragma: no cover - argparse catches it
    return 2  # pragma: no cover


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
