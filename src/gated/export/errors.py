"""The export errors (importable without onnx, h5py or keras)."""


class NotExportable(ValueError):
    """A layer or option that has no form in the target format (the message names it)."""
