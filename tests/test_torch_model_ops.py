"""``--torch`` import of nn.PReLU, F.prelu, nn.LocalResponseNorm, F.local_response_norm and
torch.argmax / argmin / Tensor.argmax: the imported report equals torch's own counts (params,
FlopCounterMode MACs, output shapes) and the report of the YAML spec written by hand for the same
network, layer by layer; the spec ``import`` writes reads back the same; ``export --torch`` of the
spec imports back to it.
"""

from __future__ import annotations

import json
import textwrap

import pytest
import torch  # at top level: CI must fail, not skip, without torch
import torch.nn.functional as F
import zoo_twins
from test_torch_import import assert_export_imports_back, imported_report, round_trip
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from convcalc.network import walk
from convcalc.spec import parse_text


class AlexNetStem(nn.Module):
    """AlexNet's first stages as in the paper (LRN after conv1 and conv2), PReLU activations
    (one shared slope, one per channel, and F.prelu with the model's own slope), then a
    segmentation-style head: class scores and the index of the best class."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 5, stride=2, padding=2)
        self.act1 = nn.PReLU()
        self.norm1 = nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0)
        self.conv2 = nn.Conv2d(16, 24, 3, padding=1)
        self.act2 = nn.PReLU(24)
        self.slope = nn.Parameter(torch.full((24,), 0.25))
        self.head = nn.Conv2d(24, 6, 1)

    def forward(self, x):
        y = self.norm1(self.act1(self.conv1(x)))
        y = F.local_response_norm(F.prelu(self.act2(self.conv2(y)), self.slope), 3)
        scores = self.head(y)
        return torch.argmax(scores, dim=1), scores.argmin(1, keepdim=True), scores.argmax(dim=-1)


SPEC = textwrap.dedent(
    """
    name: alexnet_stem
    input: [3, 20, 16]
    outputs: [am, amin, amw]
    layers:
      - {type: conv, out_channels: 16, kernel: 5, stride: 2, padding: 2}
      - {type: prelu}
      - {type: lrn, size: 5, k: 2}
      - {type: conv, out_channels: 24, kernel: 3, padding: 1}
      - {type: prelu, per_channel: true}
      - {type: prelu, per_channel: true}
      - {type: lrn, size: 3}
      - {type: pointwise, name: scores, out_channels: 6}
      - {type: reduce, name: am, op: argmax, axes: [0], keepdims: false}
      - {type: reduce, name: amin, from: scores, op: argmin, axes: [0]}
      - {type: reduce, name: amw, from: scores, op: argmax, axes: [2], keepdims: false}
    """
)


def test_model_ops_import_as_torch_counts_them_and_as_the_spec_reports_them():
    model = AlexNetStem()
    shape = (3, 20, 16)
    report, imp = imported_report(model, shape, "alexnet_stem")
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        outs = model(torch.zeros((2,) + shape))
    assert report.params == sum(p.numel() for p in model.parameters())
    assert 2 * report.macs * 2 == counter.get_total_flops()  # batch 2, 2 FLOPs per MAC
    assert [tuple(s) for s in report.outputs.values()] == [tuple(o.shape[1:]) for o in outs]
    assert [tuple(s) for s in report.outputs.values()] == [(10, 8), (1, 10, 8), (6, 10)]
    assert imp.warnings == []
    spec = walk(parse_text(SPEC))
    assert [(r.type, r.output_shape, r.params, r.cost.macs, r.cost.flops) for r in report.rows] == [
        (r.type, r.output_shape, r.params, r.cost.macs, r.cost.flops) for r in spec.rows
    ]
    assert report.totals() == spec.totals()
    round_trip(report)


def test_the_spec_exports_and_imports_back():
    """export --torch writes nn.PReLU, nn.LocalResponseNorm (with alpha, beta, k) and argmax;
    --torch reads the written module back to the same numbers."""
    assert_export_imports_back(parse_text(SPEC))


@pytest.mark.parametrize(
    "module,shape,layer",
    [
        (nn.PReLU(), (4, 5), {"type": "prelu", "per_channel": False}),
        (nn.PReLU(7), (7,), {"type": "prelu", "per_channel": True}),  # after a linear layer
        (nn.PReLU(3), (3, 2, 2, 2), {"type": "prelu", "per_channel": True}),
        (nn.LocalResponseNorm(2, 0.5, 0.5, 0.5), (5, 9), {"type": "lrn", "size": 2}),
    ],
)
def test_each_module_alone(module, shape, layer):
    report, _ = imported_report(module, shape)
    (row,) = report.rows
    assert row.type == layer["type"]
    for k, v in layer.items():
        if k != "type":
            assert row.node.layer.params[k] == v
    truth = zoo_twins.measure(module, shape)
    assert (report.params, report.macs, tuple(report.output_shape)) == (
        truth["params"],
        truth["macs"],
        truth["output_shape"],
    )


def test_what_is_not_mapped_is_said(cli, tmp_path):
    """argmax over the whole tensor (no dim) or the batch has no layer: refused in one line,
    or costed as zero with --allow-unknown."""
    (tmp_path / "m.py").write_text(
        textwrap.dedent(
            """
            import torch
            from torch import nn

            class Flat(nn.Module):
                def forward(self, x):
                    return x * torch.argmax(x)

            class Batch(nn.Module):
                def forward(self, x):
                    return x.argmax(0, keepdim=True) * x

            def flat():
                return Flat()

            def batch():
                return Batch()
            """
        )
    )
    for name, op in (("flat", "argmax over every dim"), ("batch", "argmax over the batch dim")):
        r = cli("report", "--torch", f"{tmp_path / 'm.py'}:{name}", "--input", "3x4x4")
        assert r.code == 2 and r.err.count("\n") == 1 and op in r.err, r.err
    r = cli(
        "report", "--torch", f"{tmp_path / 'm.py'}:batch", "--input", "3x4x4", "--allow-unknown", "-f", "json"
    )
    assert r.code == 0 and json.loads(r.out)["warnings"]
