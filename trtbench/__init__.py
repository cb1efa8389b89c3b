"""trtbench: PaddleClas ResNet variants exported to ONNX and benchmarked with TensorRT or ONNX Runtime."""

__version__ = "0.1.0"
