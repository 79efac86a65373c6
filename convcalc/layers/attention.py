"""Multi-head self-attention over the spatial positions of a feature map, for hybrid
convolution/attention backbones.

The N = prod(spatial) positions are the tokens and the C channels their embedding (E = C),
as ``torch.nn.MultiheadAttention(E, heads)`` sees ``x.flatten(2).transpose(1, 2)``:
  params = 4 E^2 (+ 4 E with bias)    the q, k, v and output projections
  MACs   = 4 N E^2 + 2 N^2 E          the four projections; q k^T and (softmax) v over all heads
  FLOPs  = 2 MACs + 4 N E (bias adds of the projections)
           + ``SCORE_FLOPS`` (4) per score element (heads x N^2): scaling by 1/sqrt(E/heads),
           then softmax's 3 (exp, sum, divide; as the softmax activation counts it)
The output has the input's shape; every output position depends on every input position.
"""

from __future__ import annotations

from math import prod

from ..errors import GeometryError
from .base import Cost, Layer, Shape, register
from .fields import BIAS, Field, Int
from .simple import ACTIVATION_FLOPS

SCORE_FLOPS = 1 + ACTIVATION_FLOPS["softmax"]  # scale, then softmax


def _shape(shape: Shape) -> str:
    return "[" + ", ".join(map(str, shape)) + "]"


@register
class Attention(Layer):
    type_name = "attention"
    summary = "multi-head self-attention over the spatial positions (tokens), embedding = channels"
    spatial = True
    fields = (
        Field("heads", Int(1), help="number of heads (must divide the channels)"),
        BIAS,
    )

    def cost(self, shape: Shape) -> Cost:
        self.require_spatial(shape)
        e, h, n = shape[0], self.heads, prod(shape[1:])
        if e % h:
            raise GeometryError("{heads} must divide {in_channels}", field="heads", heads=h, in_channels=e)
        proj = 4 * n * e * e
        attn = 2 * n * n * e
        macs = proj + attn
        scores = h * n * n
        return Cost(
            self.type_name,
            shape,
            shape,
            params=4 * e * e + (4 * e if self.bias else 0),
            macs=macs,
            flops=2 * macs + (4 * n * e if self.bias else 0) + SCORE_FLOPS * scores,
            rf=("whole",),
            extra={"tokens": n, "head_dim": e // h, "projection_macs": proj, "attention_macs": attn},
        )

    def explain(self, shape: Shape) -> list[str]:
        c = self.cost(shape)
        e, h, n = shape[0], self.heads, prod(shape[1:])
        bias_p = f" + 4 x {e}" if self.bias else ""
        bias_f = f" + 4 x {n:,} x {e} (bias adds)" if self.bias else ""
        return [
            f"attention: input {_shape(shape)}: N = {n:,} tokens of E = {e} channels, {h} heads of {e // h}",
            f"params = 4 E^2{' + 4 E' if self.bias else ''} = 4 x {e}^2{bias_p} = {c.params:,}",
            f"MACs = 4 N E^2 (q, k, v, out projections) + 2 N^2 E (q k^T, scores x v) = "
            f"{4 * n * e * e:,} + {2 * n * n * e:,} = {c.macs:,}",
            f"FLOPs = 2 x MACs{bias_f} + {SCORE_FLOPS} x heads x N^2 (scaling, softmax) = {c.flops:,}",
        ]
