"""`gated export MODEL OUT`: a saved model to ONNX or a Keras 3 `.keras` file."""

from __future__ import annotations

import argparse
from pathlib import Path


def run_export(args: argparse.Namespace) -> int:
    """Run the `export` subcommand; bad files and unexportable layers end with exit status 2
    and the reason on stderr."""
    from gated.models.saving import load_model

    fmt = args.format or {".onnx": "onnx", ".keras": "keras"}.get(Path(args.output).suffix)
    if fmt is None:
        args.command_parser.error(f"cannot tell the format from '{args.output}': use a .onnx "
                                  "or .keras suffix, or --format")
    if args.step and fmt != "onnx":
        args.command_parser.error("--step applies to --format onnx only")
    try:
        model = load_model(args.model, compile=False)
        if fmt == "onnx":
            from gated.export.onnx import export_onnx

            path = export_onnx(model, args.output, step=args.step)
        else:
            from gated.export.keras_format import save_keras

            path = save_keras(model, args.output)
    except (ValueError, FileNotFoundError, ImportError) as error:
        args.command_parser.error(str(error))
    print(f"wrote {path}")
    return 0
