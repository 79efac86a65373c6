"""The counting conventions, stated once; every report prints them."""

from __future__ import annotations

from .layers.simple import ADD_FLOPS_PER_ELEMENT, BN_FLOPS_PER_ELEMENT

CONVENTIONS = {
    "macs": "multiply-accumulates of convolutions and linear layers (the papers' 'mult-adds'; "
    "torchvision's GFLOPS); a transposed conv counts one MAC per input element per "
    "kernel tap per output channel of its group (not its zero-inserted view)",
    "flops": "2 x MACs, plus one add per output element for a bias, plus element-wise work "
    f"(batchnorm {BN_FLOPS_PER_ELEMENT}, residual add {ADD_FLOPS_PER_ELEMENT}, "
    "max pool k-1, avg pool k per output element, activations as in the docs' conventions page); "
    "torch's FlopCounterMode counts 2 x MACs",
    "params": "learnable parameters as torch.nn counts them (weights, biases, batchnorm weight "
    "and bias; not running statistics)",
    "activations": "elements of every layer's output, times the batch",
    "memory": "weights + peak live activations (inputs, outputs and tensors held for "
    "residual/concat), at the chosen dtype",
}

SHORT = (
    "MACs = multiply-accumulates (papers' mult-adds); FLOPs = 2 x MACs + bias adds"
    " + element-wise ops; params as torch.nn counts them"
)

DTYPE_BYTES = {"fp32": 4, "fp16": 2, "bf16": 2, "int8": 1, "fp64": 8}

# Layer types that move no data at inference and launch no kernel (identity, dropout, and
# flatten: a view of a contiguous tensor): see convcalc.traffic.
VIEWS = frozenset({"identity", "dropout", "flatten"})
