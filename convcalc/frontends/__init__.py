"""Front-ends: readers of model files that convcalc did not write (ONNX, later PyTorch)."""
