"""ONNX graphs: passes and counts, the FP16 and INT8 graphs, the inputs engines are fed."""
