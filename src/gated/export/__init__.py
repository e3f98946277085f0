"""Export and interop: ONNX (`gated.export.onnx`), weight layouts of ONNX and PyTorch
(`gated.export.layouts`). Submodules are imported on use (ONNX needs the `onnx` package)."""
