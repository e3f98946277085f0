"""Export and interop, one module each (imported on use; ONNX needs the `onnx` package):

- `gated.export.onnx`: ONNX export (`model.export(path, format="onnx")`, `gated export`);
- `gated.export.keras_format`: Keras 3 `.keras` files, read and written;
- `gated.export.torch_nn`: `torch.nn.LSTM` / `nn.GRU` <-> gated;
- `gated.export.quantize`: int8 dynamic quantization (torch and ONNX Runtime);
- `gated.export.layouts`: the weight layouts of Keras, ONNX and PyTorch.
"""
