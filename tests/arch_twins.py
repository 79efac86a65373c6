"""Hand-written PyTorch twins of ten modern architectures (test-only).

torchvision is not importable here (its wheels are CUDA builds that fail with this torch), so
each model is rebuilt in plain ``torch.nn``, transcribed from its reference code and keeping
that code's structure (module names, the order of operations, the channel arithmetic):

* torchvision/models/mobilenetv2.py, resnet.py (ResNeXt-50 32x4d and the dilated ResNet-50 of
  DeepLabv3), densenet.py, efficientnet.py, convnext.py, inception.py, regnet.py,
  segmentation/deeplabv3.py and fcn.py (FCNHead), ops/misc.py (Conv2dNormActivation,
  SqueezeExcitation, FrozenBatchNorm2d), ops/feature_pyramid_network.py (FPN,
  LastLevelMaxPool) and models/detection/backbone_utils.py (resnet_fpn_backbone);
* locuslab/TCN: TCN/tcn.py (TemporalBlock, Chomp1d) and TCN/mnist_pixel/model.py (the
  sequential-MNIST classifier of Bai et al. 2018, with pmnist_test.py's defaults).

Nothing here reads convcalc: the twins are the judges of the specs in ``examples/``.
Inference only (``eval()``): dropout and stochastic depth are identities, Inception's auxiliary
head is not run. ``ARCHITECTURES`` maps each name to ``(factory, input_shape, spec_path)``, with
the factory building exactly what the spec describes (see each entry's note).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.parametrizations import weight_norm as _weight_norm
from torch.utils.flop_counter import FlopCounterMode

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

Factory = Callable[[], nn.Module]
NormFactory = Callable[[int], nn.Module]
ActFactory = Callable[[], nn.Module]


# -- measuring ------------------------------------------------------------------------------------
def build(factory: Factory, device: str = "meta") -> nn.Module:
    """Construct a twin directly on ``device`` (on meta: no weights to initialise)."""
    with torch.device(device):
        return factory()


def measure(model: nn.Module, input_shape: Sequence[int], device: str = "meta") -> dict:
    """{"params", "macs", "outputs"} of ``model`` in eval mode on one sample of ``input_shape``:
    ``sum(p.numel())``, FlopCounterMode's total / 2 and the shape (without the batch) of every
    output, in order."""
    model = model.to(device).eval()
    x = torch.zeros((1, *input_shape), device=device)
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        y = model(x)
    flops = counter.get_total_flops()
    assert flops % 2 == 0, f"FlopCounterMode total {flops} is odd"
    ys = y if isinstance(y, tuple) else (y,)
    return {
        "params": sum(p.numel() for p in model.parameters()),
        "macs": flops // 2,
        "outputs": [tuple(t.shape[1:]) for t in ys],
    }


# -- shared pieces (torchvision ops/misc.py, models/_utils.py) -------------------------------------
def make_divisible(v: float, divisor: int, min_value: int | None = None) -> int:
    """torchvision's _make_divisible: round to the nearest multiple of ``divisor``, never more
    than 10% down."""
    if min_value is None:
        min_value = divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


def conv_norm_act(
    c_in: int,
    c_out: int,
    kernel: int = 3,
    stride: int = 1,
    groups: int = 1,
    act: ActFactory | None = nn.ReLU,
    norm: NormFactory | None = nn.BatchNorm2d,
    dilation: int = 1,
    padding: int | None = None,
    bias: bool | None = None,
) -> nn.Sequential:
    """Conv2dNormActivation: padding (k - 1) // 2 * dilation, bias only without a norm."""
    if padding is None:
        padding = (kernel - 1) // 2 * dilation
    if bias is None:
        bias = norm is None
    layers: list[nn.Module] = [
        nn.Conv2d(c_in, c_out, kernel, stride, padding, dilation=dilation, groups=groups, bias=bias)
    ]
    if norm is not None:
        layers.append(norm(c_out))
    if act is not None:
        layers.append(act())
    return nn.Sequential(*layers)


class SqueezeExcitation(nn.Module):
    """torchvision.ops.SqueezeExcitation: avgpool, fc1 (1x1 conv, bias), activation, fc2, gate,
    times the input."""

    def __init__(
        self, c_in: int, squeeze: int, activation: ActFactory = nn.ReLU, gate: ActFactory = nn.Sigmoid
    ) -> None:
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(c_in, squeeze, 1)
        self.fc2 = nn.Conv2d(squeeze, c_in, 1)
        self.activation = activation()
        self.scale_activation = gate()

    def forward(self, x: Tensor) -> Tensor:
        scale = self.scale_activation(self.fc2(self.activation(self.fc1(self.avgpool(x)))))
        return scale * x


class FrozenBatchNorm2d(nn.Module):
    """torchvision.ops.FrozenBatchNorm2d: batch norm whose statistics and affine weights are
    buffers (fixed), so it has no parameters: x * scale + shift."""

    weight: Tensor
    bias: Tensor
    running_mean: Tensor
    running_var: Tensor

    def __init__(self, num_features: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.register_buffer("weight", torch.ones(num_features))
        self.register_buffer("bias", torch.zeros(num_features))
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))

    def forward(self, x: Tensor) -> Tensor:
        scale = self.weight.reshape(1, -1, 1, 1) * (self.running_var.reshape(1, -1, 1, 1) + self.eps).rsqrt()
        shift = self.bias.reshape(1, -1, 1, 1) - self.running_mean.reshape(1, -1, 1, 1) * scale
        return x * scale + shift


# -- MobileNetV2 (torchvision mobilenetv2.py) -------------------------------------------------------
class InvertedResidual(nn.Module):
    def __init__(self, inp: int, oup: int, stride: int, expand_ratio: int) -> None:
        super().__init__()
        hidden = round(inp * expand_ratio)
        self.use_res_connect = stride == 1 and inp == oup
        layers: list[nn.Module] = []
        if expand_ratio != 1:
            layers.append(conv_norm_act(inp, hidden, 1, act=nn.ReLU6))  # pw
        layers += [
            conv_norm_act(hidden, hidden, 3, stride, groups=hidden, act=nn.ReLU6),  # dw
            nn.Conv2d(hidden, oup, 1, 1, 0, bias=False),  # pw-linear
            nn.BatchNorm2d(oup),
        ]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


MOBILENET_V2_SETTING = [  # t (expansion), c (channels), n (blocks), s (stride of the first)
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
]


class MobileNetV2(nn.Module):
    def __init__(self, num_classes: int = 1000, width_mult: float = 1.0, round_nearest: int = 8) -> None:
        super().__init__()
        c = make_divisible(32 * width_mult, round_nearest)
        last = make_divisible(1280 * max(1.0, width_mult), round_nearest)
        features: list[nn.Module] = [conv_norm_act(3, c, 3, 2, act=nn.ReLU6)]
        for t, ch, n, s in MOBILENET_V2_SETTING:
            out = make_divisible(ch * width_mult, round_nearest)
            for i in range(n):
                features.append(InvertedResidual(c, out, s if i == 0 else 1, t))
                c = out
        features.append(conv_norm_act(c, last, 1, act=nn.ReLU6))
        self.features = nn.Sequential(*features)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(last, num_classes))

    def forward(self, x: Tensor) -> Tensor:
        x = F.adaptive_avg_pool2d(self.features(x), (1, 1))
        return self.classifier(torch.flatten(x, 1))


def mobilenet_v2() -> nn.Module:
    return MobileNetV2()


# -- ResNet family (torchvision resnet.py): ResNeXt-50 32x4d, the dilated ResNet-50 ---------------
class Bottleneck(nn.Module):
    expansion = 4

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        groups: int = 1,
        base_width: int = 64,
        dilation: int = 1,
        norm: NormFactory = nn.BatchNorm2d,
    ) -> None:
        super().__init__()
        width = int(planes * (base_width / 64.0)) * groups
        self.conv1 = nn.Conv2d(inplanes, width, 1, bias=False)
        self.bn1 = norm(width)
        self.conv2 = nn.Conv2d(
            width, width, 3, stride, padding=dilation, groups=groups, dilation=dilation, bias=False
        )
        self.bn2 = norm(width)
        self.conv3 = nn.Conv2d(width, planes * self.expansion, 1, bias=False)
        self.bn3 = norm(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class ResNet(nn.Module):
    """torchvision's ResNet with Bottleneck blocks. ``head=False`` drops avgpool and fc (a
    backbone: ``stages(x)`` returns the outputs of layer1..layer4, C2..C5)."""

    def __init__(
        self,
        layers: Sequence[int] = (3, 4, 6, 3),
        num_classes: int = 1000,
        groups: int = 1,
        width_per_group: int = 64,
        replace_stride_with_dilation: Sequence[bool] = (False, False, False),
        norm: NormFactory = nn.BatchNorm2d,
        head: bool = True,
    ) -> None:
        super().__init__()
        self.inplanes, self.dilation = 64, 1
        self.groups, self.base_width, self.norm = groups, width_per_group, norm
        self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = norm(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(64, layers[0])
        self.layer2 = self._make_layer(128, layers[1], 2, replace_stride_with_dilation[0])
        self.layer3 = self._make_layer(256, layers[2], 2, replace_stride_with_dilation[1])
        self.layer4 = self._make_layer(512, layers[3], 2, replace_stride_with_dilation[2])
        self.head = head
        if head:
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.fc = nn.Linear(512 * Bottleneck.expansion, num_classes)

    def _make_layer(self, planes: int, blocks: int, stride: int = 1, dilate: bool = False) -> nn.Sequential:
        previous_dilation = self.dilation
        if dilate:  # keep the resolution: the stride becomes a dilation of the later 3x3 convs
            self.dilation *= stride
            stride = 1
        downsample = None
        if stride != 1 or self.inplanes != planes * Bottleneck.expansion:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, planes * Bottleneck.expansion, 1, stride=stride, bias=False),
                self.norm(planes * Bottleneck.expansion),
            )
        layers: list[nn.Module] = [
            Bottleneck(
                self.inplanes,
                planes,
                stride,
                downsample,
                self.groups,
                self.base_width,
                previous_dilation,
                self.norm,
            )
        ]
        self.inplanes = planes * Bottleneck.expansion
        for _ in range(1, blocks):
            layers.append(
                Bottleneck(
                    self.inplanes,
                    planes,
                    groups=self.groups,
                    base_width=self.base_width,
                    dilation=self.dilation,
                    norm=self.norm,
                )
            )
        return nn.Sequential(*layers)

    def stages(self, x: Tensor) -> list[Tensor]:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        c2 = self.layer1(x)
        c3 = self.layer2(c2)
        c4 = self.layer3(c3)
        return [c2, c3, c4, self.layer4(c4)]

    def forward(self, x: Tensor) -> Tensor:
        x = self.stages(x)[-1]
        return self.fc(torch.flatten(self.avgpool(x), 1)) if self.head else x


def resnext50_32x4d() -> nn.Module:
    return ResNet(groups=32, width_per_group=4)


# -- DenseNet-121 (torchvision densenet.py) --------------------------------------------------------
class DenseLayer(nn.Module):
    def __init__(self, c_in: int, growth_rate: int, bn_size: int) -> None:
        super().__init__()
        self.norm1 = nn.BatchNorm2d(c_in)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(c_in, bn_size * growth_rate, 1, bias=False)
        self.norm2 = nn.BatchNorm2d(bn_size * growth_rate)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(bn_size * growth_rate, growth_rate, 3, padding=1, bias=False)

    def forward(self, features: list[Tensor]) -> Tensor:
        x = torch.cat(features, 1)
        return self.conv2(self.relu2(self.norm2(self.conv1(self.relu1(self.norm1(x))))))


class DenseBlock(nn.ModuleDict):
    def __init__(self, num_layers: int, c_in: int, bn_size: int, growth_rate: int) -> None:
        super().__init__()
        for i in range(num_layers):
            self.add_module(f"denselayer{i + 1}", DenseLayer(c_in + i * growth_rate, growth_rate, bn_size))

    def forward(self, init: Tensor) -> Tensor:
        features = [init]
        for layer in self.values():
            features.append(layer(features))
        return torch.cat(features, 1)


class Transition(nn.Sequential):
    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__(
            nn.BatchNorm2d(c_in),
            nn.ReLU(inplace=True),
            nn.Conv2d(c_in, c_out, 1, bias=False),
            nn.AvgPool2d(kernel_size=2, stride=2),
        )


class DenseNet(nn.Module):
    def __init__(
        self,
        growth_rate: int = 32,
        block_config: Sequence[int] = (6, 12, 24, 16),
        num_init_features: int = 64,
        bn_size: int = 4,
        num_classes: int = 1000,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = [
            nn.Conv2d(3, num_init_features, kernel_size=7, stride=2, padding=3, bias=False),
            nn.BatchNorm2d(num_init_features),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
        ]
        c = num_init_features
        for i, n in enumerate(block_config):
            layers.append(DenseBlock(n, c, bn_size, growth_rate))
            c += n * growth_rate
            if i != len(block_config) - 1:
                layers.append(Transition(c, c // 2))
                c //= 2
        layers.append(nn.BatchNorm2d(c))  # norm5
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(c, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = F.adaptive_avg_pool2d(F.relu(self.features(x), inplace=True), (1, 1))
        return self.classifier(torch.flatten(x, 1))


def densenet121() -> nn.Module:
    return DenseNet()


# -- EfficientNet-B0 (torchvision efficientnet.py, MBConv) -----------------------------------------
class MBConv(nn.Module):
    def __init__(self, expand_ratio: float, kernel: int, stride: int, c_in: int, c_out: int) -> None:
        super().__init__()
        self.use_res_connect = stride == 1 and c_in == c_out
        expanded = make_divisible(c_in * expand_ratio, 8)
        layers: list[nn.Module] = []
        if expanded != c_in:
            layers.append(conv_norm_act(c_in, expanded, 1, act=nn.SiLU))  # expand
        layers.append(conv_norm_act(expanded, expanded, kernel, stride, groups=expanded, act=nn.SiLU))
        # the squeeze width is a quarter of the *block input*, not of the expanded channels
        layers.append(SqueezeExcitation(expanded, max(1, c_in // 4), activation=nn.SiLU))
        layers.append(conv_norm_act(expanded, c_out, 1, act=None))  # project
        self.block = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        out = self.block(x)
        return out + x if self.use_res_connect else out  # stochastic depth: identity in eval


EFFICIENTNET_B0 = [  # expand ratio, kernel, stride, in, out, layers (torchvision _efficientnet_conf)
    (1, 3, 1, 32, 16, 1),
    (6, 3, 2, 16, 24, 2),
    (6, 5, 2, 24, 40, 2),
    (6, 3, 2, 40, 80, 3),
    (6, 5, 1, 80, 112, 3),
    (6, 5, 2, 112, 192, 4),
    (6, 3, 1, 192, 320, 1),
]


class EfficientNet(nn.Module):
    def __init__(
        self,
        setting: Sequence[tuple[int, int, int, int, int, int]] = tuple(EFFICIENTNET_B0),
        width_mult: float = 1.0,
        depth_mult: float = 1.0,
        dropout: float = 0.2,
        num_classes: int = 1000,
    ) -> None:
        super().__init__()

        def adjust(c: int) -> int:
            return make_divisible(c * width_mult, 8)

        layers: list[nn.Module] = [conv_norm_act(3, adjust(setting[0][3]), 3, 2, act=nn.SiLU)]
        for t, k, s, c_in, c_out, n in setting:
            c_in, c_out = adjust(c_in), adjust(c_out)
            blocks = [
                MBConv(t, k, s if i == 0 else 1, c_in if i == 0 else c_out, c_out)
                for i in range(math.ceil(n * depth_mult))
            ]
            layers.append(nn.Sequential(*blocks))
        last_in = adjust(setting[-1][4])
        layers.append(conv_norm_act(last_in, 4 * last_in, 1, act=nn.SiLU))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout, inplace=True), nn.Linear(4 * last_in, num_classes)
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


def efficientnet_b0() -> nn.Module:
    return EfficientNet()


# -- ConvNeXt-T (torchvision convnext.py) -----------------------------------------------------------
class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of an NCHW tensor (channels-last, normalise, back)."""

    def forward(self, x: Tensor) -> Tensor:
        x = x.permute(0, 2, 3, 1)
        x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


class Permute(nn.Module):
    def __init__(self, dims: Sequence[int]) -> None:
        super().__init__()
        self.dims = list(dims)

    def forward(self, x: Tensor) -> Tensor:
        return torch.permute(x, self.dims)


class CNBlock(nn.Module):
    def __init__(self, dim: int, layer_scale: float = 1e-6) -> None:
        super().__init__()
        self.block = nn.Sequential(
            nn.Conv2d(dim, dim, kernel_size=7, padding=3, groups=dim, bias=True),
            Permute([0, 2, 3, 1]),
            nn.LayerNorm(dim, eps=1e-6),
            nn.Linear(dim, 4 * dim, bias=True),
            nn.GELU(),
            nn.Linear(4 * dim, dim, bias=True),
            Permute([0, 3, 1, 2]),
        )
        self.layer_scale = nn.Parameter(torch.ones(dim, 1, 1) * layer_scale)

    def forward(self, x: Tensor) -> Tensor:
        return self.layer_scale * self.block(x) + x  # stochastic depth: identity in eval


class ConvNeXt(nn.Module):
    def __init__(
        self,
        block_setting: Sequence[tuple[int, int | None, int]] = (
            (96, 192, 3),
            (192, 384, 3),
            (384, 768, 9),
            (768, None, 3),
        ),
        num_classes: int = 1000,
    ) -> None:
        super().__init__()

        def norm(c: int) -> nn.Module:
            return LayerNorm2d(c, eps=1e-6)

        first = block_setting[0][0]
        layers: list[nn.Module] = [
            conv_norm_act(3, first, kernel=4, stride=4, padding=0, norm=norm, act=None, bias=True)
        ]
        for c_in, c_out, n in block_setting:
            layers.append(nn.Sequential(*[CNBlock(c_in) for _ in range(n)]))
            if c_out is not None:  # downsampling
                layers.append(nn.Sequential(norm(c_in), nn.Conv2d(c_in, c_out, kernel_size=2, stride=2)))
        last = block_setting[-1][1] or block_setting[-1][0]
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(norm(last), nn.Flatten(1), nn.Linear(last, num_classes))

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.avgpool(self.features(x)))


def convnext_tiny() -> nn.Module:
    return ConvNeXt()


# -- Inception-v3 (torchvision inception.py) --------------------------------------------------------
class BasicConv2d(nn.Module):
    def __init__(
        self,
        c_in: int,
        c_out: int,
        kernel_size: int | tuple[int, int],
        stride: int = 1,
        padding: int | tuple[int, int] = 0,
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, kernel_size, stride, padding, bias=False)
        self.bn = nn.BatchNorm2d(c_out, eps=0.001)

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(self.bn(self.conv(x)), inplace=True)


class InceptionA(nn.Module):
    def __init__(self, c_in: int, pool_features: int) -> None:
        super().__init__()
        self.branch1x1 = BasicConv2d(c_in, 64, 1)
        self.branch5x5_1 = BasicConv2d(c_in, 48, 1)
        self.branch5x5_2 = BasicConv2d(48, 64, 5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(c_in, 64, 1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, 3, padding=1)
        self.branch_pool = BasicConv2d(c_in, pool_features, 1)

    def forward(self, x: Tensor) -> Tensor:
        b1 = self.branch1x1(x)
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        bp = self.branch_pool(F.avg_pool2d(x, kernel_size=3, stride=1, padding=1))
        return torch.cat([b1, b5, b3, bp], 1)


class InceptionB(nn.Module):
    def __init__(self, c_in: int) -> None:
        super().__init__()
        self.branch3x3 = BasicConv2d(c_in, 384, 3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(c_in, 64, 1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, 3, stride=2)

    def forward(self, x: Tensor) -> Tensor:
        b3 = self.branch3x3(x)
        bd = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([b3, bd, F.max_pool2d(x, kernel_size=3, stride=2)], 1)


class InceptionC(nn.Module):
    def __init__(self, c_in: int, channels_7x7: int) -> None:
        super().__init__()
        c7 = channels_7x7
        self.branch1x1 = BasicConv2d(c_in, 192, 1)
        self.branch7x7_1 = BasicConv2d(c_in, c7, 1)
        self.branch7x7_2 = BasicConv2d(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, 192, (7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(c_in, c7, 1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, (1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(c_in, 192, 1)

    def forward(self, x: Tensor) -> Tensor:
        b1 = self.branch1x1(x)
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        bd = self.branch7x7dbl_1(x)
        for m in (self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4, self.branch7x7dbl_5):
            bd = m(bd)
        bp = self.branch_pool(F.avg_pool2d(x, kernel_size=3, stride=1, padding=1))
        return torch.cat([b1, b7, bd, bp], 1)


class InceptionD(nn.Module):
    def __init__(self, c_in: int) -> None:
        super().__init__()
        self.branch3x3_1 = BasicConv2d(c_in, 192, 1)
        self.branch3x3_2 = BasicConv2d(192, 320, 3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(c_in, 192, 1)
        self.branch7x7x3_2 = BasicConv2d(192, 192, (1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192, 192, (7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192, 192, 3, stride=2)

    def forward(self, x: Tensor) -> Tensor:
        b3 = self.branch3x3_2(self.branch3x3_1(x))
        b7 = self.branch7x7x3_1(x)
        for m in (self.branch7x7x3_2, self.branch7x7x3_3, self.branch7x7x3_4):
            b7 = m(b7)
        return torch.cat([b3, b7, F.max_pool2d(x, kernel_size=3, stride=2)], 1)


class InceptionE(nn.Module):
    def __init__(self, c_in: int) -> None:
        super().__init__()
        self.branch1x1 = BasicConv2d(c_in, 320, 1)
        self.branch3x3_1 = BasicConv2d(c_in, 384, 1)
        self.branch3x3_2a = BasicConv2d(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384, 384, (3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(c_in, 448, 1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, 3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384, 384, (3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(c_in, 192, 1)

    def forward(self, x: Tensor) -> Tensor:
        b1 = self.branch1x1(x)
        b3 = self.branch3x3_1(x)
        b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
        bd = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        bd = torch.cat([self.branch3x3dbl_3a(bd), self.branch3x3dbl_3b(bd)], 1)
        bp = self.branch_pool(F.avg_pool2d(x, kernel_size=3, stride=1, padding=1))
        return torch.cat([b1, b3, bd, bp], 1)


class InceptionAux(nn.Module):
    def __init__(self, c_in: int, num_classes: int) -> None:
        super().__init__()
        self.conv0 = BasicConv2d(c_in, 128, 1)
        self.conv1 = BasicConv2d(128, 768, 5)
        self.fc = nn.Linear(768, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv1(self.conv0(F.avg_pool2d(x, kernel_size=5, stride=3)))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, (1, 1)), 1))


class Inception3(nn.Module):
    """torchvision's Inception3 (transform_input=False; it adds no MACs). The auxiliary head
    exists with ``aux_logits`` (its parameters count) but runs only in training mode."""

    def __init__(self, num_classes: int = 1000, aux_logits: bool = True, dropout: float = 0.5) -> None:
        super().__init__()
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, 3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, 3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, 3, padding=1)
        self.maxpool1 = nn.MaxPool2d(kernel_size=3, stride=2)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, 1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, 3)
        self.maxpool2 = nn.MaxPool2d(kernel_size=3, stride=2)
        self.Mixed_5b = InceptionA(192, pool_features=32)
        self.Mixed_5c = InceptionA(256, pool_features=64)
        self.Mixed_5d = InceptionA(288, pool_features=64)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = InceptionC(768, channels_7x7=128)
        self.Mixed_6c = InceptionC(768, channels_7x7=160)
        self.Mixed_6d = InceptionC(768, channels_7x7=160)
        self.Mixed_6e = InceptionC(768, channels_7x7=192)
        self.AuxLogits = InceptionAux(768, num_classes) if aux_logits else None
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = InceptionE(1280)
        self.Mixed_7c = InceptionE(2048)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(p=dropout)
        self.fc = nn.Linear(2048, num_classes)

    def forward(self, x: Tensor) -> Tensor | tuple[Tensor, Tensor]:
        m: nn.Module
        for m in (self.Conv2d_1a_3x3, self.Conv2d_2a_3x3, self.Conv2d_2b_3x3, self.maxpool1):
            x = m(x)
        for m in (self.Conv2d_3b_1x1, self.Conv2d_4a_3x3, self.maxpool2, self.Mixed_5b, self.Mixed_5c):
            x = m(x)
        for m in (self.Mixed_5d, self.Mixed_6a, self.Mixed_6b, self.Mixed_6c, self.Mixed_6d, self.Mixed_6e):
            x = m(x)
        aux = self.AuxLogits(x) if self.AuxLogits is not None and self.training else None
        x = self.Mixed_7c(self.Mixed_7b(self.Mixed_7a(x)))
        x = self.fc(torch.flatten(self.dropout(self.avgpool(x)), 1))
        return x if aux is None else (x, aux)


def inception_v3(aux_logits: bool = False) -> nn.Module:
    return Inception3(aux_logits=aux_logits)


# -- RegNetY-400MF (torchvision regnet.py) ------------------------------------------------------------
def regnet_stages(
    depth: int, w_0: int, w_a: float, w_m: float, group_width: int, bottleneck_multiplier: float = 1.0
) -> list[tuple[int, int, int, int, float]]:
    """BlockParams.from_init_params, as torchvision computes it (in torch, float32): per stage
    (width, stride, depth, group width, bottleneck multiplier)."""
    with torch.device("cpu"):  # real numbers, also while a twin is built on the meta device
        return _regnet_stages(depth, w_0, w_a, w_m, group_width, bottleneck_multiplier)


def _regnet_stages(
    depth: int, w_0: int, w_a: float, w_m: float, group_width: int, bottleneck_multiplier: float
) -> list[tuple[int, int, int, int, float]]:
    widths_cont = torch.arange(depth) * w_a + w_0
    block_capacity = torch.round(torch.log(widths_cont / w_0) / math.log(w_m))
    block_widths = (torch.round(torch.divide(w_0 * torch.pow(w_m, block_capacity), 8)) * 8).int().tolist()
    splits = [
        w != wp or r != rp
        for w, wp, r, rp in zip(
            block_widths + [0], [0] + block_widths, block_widths + [0], [0] + block_widths
        )
    ]
    stage_widths = [w for w, t in zip(block_widths, splits[:-1]) if t]
    stage_depths = torch.diff(torch.tensor([d for d, t in enumerate(splits) if t])).int().tolist()
    # _adjust_widths_groups_compatibilty
    ws_bot = [int(w * bottleneck_multiplier) for w in stage_widths]
    gws = [min(group_width, w) for w in ws_bot]
    ws_bot = [make_divisible(w, g) for w, g in zip(ws_bot, gws)]
    stage_widths = [int(w / bottleneck_multiplier) for w in ws_bot]
    return [(w, 2, d, g, bottleneck_multiplier) for w, d, g in zip(stage_widths, stage_depths, gws)]


class ResBottleneckBlock(nn.Module):
    def __init__(
        self,
        w_in: int,
        w_out: int,
        stride: int,
        group_width: int,
        bottleneck_multiplier: float,
        se_ratio: float | None,
    ) -> None:
        super().__init__()
        self.proj = None
        if w_in != w_out or stride != 1:
            self.proj = conv_norm_act(w_in, w_out, 1, stride, act=None)
        w_b = round(w_out * bottleneck_multiplier)
        layers: list[nn.Module] = [
            conv_norm_act(w_in, w_b, 1),  # a
            conv_norm_act(w_b, w_b, 3, stride, groups=w_b // group_width),  # b
        ]
        if se_ratio:  # the SE width is relative to the block's input width
            layers.append(SqueezeExcitation(w_b, round(se_ratio * w_in), activation=nn.ReLU))
        layers.append(conv_norm_act(w_b, w_out, 1, act=None))  # c
        self.f = nn.Sequential(*layers)
        self.activation = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        shortcut = x if self.proj is None else self.proj(x)
        return self.activation(shortcut + self.f(x))


class RegNet(nn.Module):
    def __init__(
        self,
        stages: Sequence[tuple[int, int, int, int, float]],
        se_ratio: float | None,
        stem_width: int = 32,
        num_classes: int = 1000,
    ) -> None:
        super().__init__()
        self.stem = conv_norm_act(3, stem_width, 3, 2)
        blocks: list[nn.Module] = []
        w = stem_width
        for w_out, stride, depth, gw, bm in stages:
            blocks.append(
                nn.Sequential(
                    *[
                        ResBottleneckBlock(
                            w if i == 0 else w_out, w_out, stride if i == 0 else 1, gw, bm, se_ratio
                        )
                        for i in range(depth)
                    ]
                )
            )
            w = w_out
        self.trunk_output = nn.Sequential(*blocks)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(w, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.avgpool(self.trunk_output(self.stem(x)))
        return self.fc(x.flatten(start_dim=1))


def regnet_y_400mf() -> nn.Module:
    return RegNet(regnet_stages(depth=16, w_0=48, w_a=27.89, w_m=2.09, group_width=8), se_ratio=0.25)


# -- DeepLabv3-ResNet50 (torchvision segmentation/deeplabv3.py, fcn.py, _utils.py) -------------------
class ASPPPooling(nn.Sequential):
    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__(
            nn.AdaptiveAvgPool2d(1), nn.Conv2d(c_in, c_out, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()
        )

    def forward(self, x: Tensor) -> Tensor:
        size = x.shape[-2:]
        for mod in self:
            x = mod(x)
        return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


class ASPP(nn.Module):
    def __init__(self, c_in: int, rates: Sequence[int], c_out: int = 256) -> None:
        super().__init__()
        convs: list[nn.Module] = [
            nn.Sequential(nn.Conv2d(c_in, c_out, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU())
        ]
        for r in rates:  # ASPPConv
            convs.append(
                nn.Sequential(
                    nn.Conv2d(c_in, c_out, 3, padding=r, dilation=r, bias=False),
                    nn.BatchNorm2d(c_out),
                    nn.ReLU(),
                )
            )
        convs.append(ASPPPooling(c_in, c_out))
        self.convs = nn.ModuleList(convs)
        self.project = nn.Sequential(
            nn.Conv2d(len(convs) * c_out, c_out, 1, bias=False),
            nn.BatchNorm2d(c_out),
            nn.ReLU(),
            nn.Dropout(0.5),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.project(torch.cat([conv(x) for conv in self.convs], dim=1))


class DeepLabHead(nn.Sequential):
    def __init__(self, c_in: int, num_classes: int) -> None:
        super().__init__(
            ASPP(c_in, [12, 24, 36]),
            nn.Conv2d(256, 256, 3, padding=1, bias=False),
            nn.BatchNorm2d(256),
            nn.ReLU(),
            nn.Conv2d(256, num_classes, 1),
        )


class FCNHead(nn.Sequential):
    def __init__(self, c_in: int, channels: int) -> None:
        inter = c_in // 4
        super().__init__(
            nn.Conv2d(c_in, inter, 3, padding=1, bias=False),
            nn.BatchNorm2d(inter),
            nn.ReLU(),
            nn.Dropout(0.1),
            nn.Conv2d(inter, channels, 1),
        )


class DeepLabV3(nn.Module):
    """deeplabv3_resnet50: ResNet-50 with the strides of layer3 and layer4 replaced by dilation
    (output stride 8), the DeepLab head on layer4 and, with ``aux``, the FCN head on layer3;
    each result resized (bilinear) back to the input's size. torchvision returns
    {"out": ..., "aux": ...}; this twin returns the same tensors as a tuple (out, aux)."""

    def __init__(self, num_classes: int = 21, aux: bool = True) -> None:
        super().__init__()
        self.backbone = ResNet(replace_stride_with_dilation=(False, True, True), head=False)
        self.classifier = DeepLabHead(2048, num_classes)
        self.aux_classifier = FCNHead(1024, num_classes) if aux else None

    def forward(self, x: Tensor) -> Tensor | tuple[Tensor, Tensor]:
        size = x.shape[-2:]
        _, _, c4, c5 = self.backbone.stages(x)
        out = F.interpolate(self.classifier(c5), size=size, mode="bilinear", align_corners=False)
        if self.aux_classifier is None:
            return out
        aux = F.interpolate(self.aux_classifier(c4), size=size, mode="bilinear", align_corners=False)
        return out, aux


def deeplabv3_resnet50(aux: bool = True) -> nn.Module:
    return DeepLabV3(aux=aux)


# -- FPN over ResNet-50 (torchvision resnet_fpn_backbone("resnet50"), FeaturePyramidNetwork) --------
class ResNet50FPN(nn.Module):
    """BackboneWithFPN as torchvision's resnet_fpn_backbone builds it for Faster R-CNN: ResNet-50
    without avgpool/fc, FrozenBatchNorm2d (no parameters), returned layers 1-4 (C2..C5), an FPN
    of 256 channels (1x1 lateral convs, 3x3 output convs, both with bias; the top-down path
    upsamples by nearest to the lateral's size) and LastLevelMaxPool (P6 = max_pool2d(P5, 1, 2)).
    Returns (P2, P3, P4, P5, P6): torchvision's OrderedDict "0", "1", "2", "3", "pool"."""

    def __init__(self, out_channels: int = 256, norm: NormFactory = FrozenBatchNorm2d) -> None:
        super().__init__()
        self.body = ResNet(norm=norm, head=False)
        in_channels = [256, 512, 1024, 2048]
        self.inner_blocks = nn.ModuleList(nn.Conv2d(c, out_channels, 1) for c in in_channels)
        self.layer_blocks = nn.ModuleList(
            nn.Conv2d(out_channels, out_channels, 3, padding=1) for _ in in_channels
        )

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        feats = self.body.stages(x)
        last_inner = self.inner_blocks[-1](feats[-1])
        results = [self.layer_blocks[-1](last_inner)]
        for idx in range(len(feats) - 2, -1, -1):
            lateral = self.inner_blocks[idx](feats[idx])
            top_down = F.interpolate(last_inner, size=lateral.shape[-2:], mode="nearest")
            last_inner = lateral + top_down
            results.insert(0, self.layer_blocks[idx](last_inner))
        results.append(F.max_pool2d(results[-1], 1, 2, 0))  # LastLevelMaxPool
        return tuple(results)


def fpn_resnet50() -> nn.Module:
    return ResNet50FPN()


class FasterRCNNHeads(nn.Module):
    """The rest of torchvision's fasterrcnn_resnet50_fpn (91 classes), for its published
    parameter count only: RPNHead (3x3 conv + ReLU, 1x1 objectness for 3 anchors, 1x1 box
    deltas), TwoMLPHead (256 * 7 * 7 -> 1024 -> 1024) and FastRCNNPredictor. Not run."""

    def __init__(self, channels: int = 256, anchors: int = 3, num_classes: int = 91) -> None:
        super().__init__()
        self.rpn_conv = nn.Conv2d(channels, channels, 3, padding=1)
        self.rpn_cls_logits = nn.Conv2d(channels, anchors, 1)
        self.rpn_bbox_pred = nn.Conv2d(channels, anchors * 4, 1)
        self.fc6 = nn.Linear(channels * 7 * 7, 1024)
        self.fc7 = nn.Linear(1024, 1024)
        self.cls_score = nn.Linear(1024, num_classes)
        self.bbox_pred = nn.Linear(1024, num_classes * 4)


# -- TCN (Bai, Kolter and Koltun 2018; locuslab/TCN) --------------------------------------------------
class Chomp1d(nn.Module):
    def __init__(self, chomp_size: int) -> None:
        super().__init__()
        self.chomp_size = chomp_size

    def forward(self, x: Tensor) -> Tensor:
        return x[:, :, : -self.chomp_size].contiguous()


class TemporalBlock(nn.Module):
    def __init__(
        self,
        n_in: int,
        n_out: int,
        kernel_size: int,
        stride: int,
        dilation: int,
        padding: int,
        dropout: float = 0.2,
        weight_norm: bool = False,
    ) -> None:
        super().__init__()

        def conv(c_in: int) -> nn.Module:
            c = nn.Conv1d(c_in, n_out, kernel_size, stride=stride, padding=padding, dilation=dilation)
            return _weight_norm(c) if weight_norm else c

        self.net = nn.Sequential(
            conv(n_in), Chomp1d(padding), nn.ReLU(), nn.Dropout(dropout),
            conv(n_out), Chomp1d(padding), nn.ReLU(), nn.Dropout(dropout),
        )  # fmt: skip
        self.downsample = nn.Conv1d(n_in, n_out, 1) if n_in != n_out else None
        self.relu = nn.ReLU()

    def forward(self, x: Tensor) -> Tensor:
        res = x if self.downsample is None else self.downsample(x)
        return self.relu(self.net(x) + res)


class TemporalConvNet(nn.Sequential):
    def __init__(
        self,
        num_inputs: int,
        num_channels: Sequence[int],
        kernel_size: int = 2,
        dropout: float = 0.2,
        weight_norm: bool = False,
    ) -> None:
        layers = []
        for i, c_out in enumerate(num_channels):
            d = 2**i
            c_in = num_inputs if i == 0 else num_channels[i - 1]
            layers.append(
                TemporalBlock(c_in, c_out, kernel_size, 1, d, (kernel_size - 1) * d, dropout, weight_norm)
            )
        super().__init__(*layers)


class TCN(nn.Module):
    """TCN/mnist_pixel/model.py: the TCN, then a linear layer on the last time step, log-softmax."""

    def __init__(
        self,
        input_size: int,
        output_size: int,
        num_channels: Sequence[int],
        kernel_size: int,
        dropout: float,
        weight_norm: bool = False,
    ) -> None:
        super().__init__()
        self.tcn = TemporalConvNet(input_size, num_channels, kernel_size, dropout, weight_norm)
        self.linear = nn.Linear(num_channels[-1], output_size)

    def forward(self, x: Tensor) -> Tensor:
        y = self.tcn(x)
        return F.log_softmax(self.linear(y[:, :, -1]), dim=1)


def tcn_seq_mnist(weight_norm: bool = False) -> nn.Module:
    """pmnist_test.py's model: 1 input channel, 10 classes, 8 levels of 25 channels, kernel 7,
    dropout 0.05. The reference wraps each dilated conv in weight_norm (a reparametrisation
    adding one gain per output channel); ``weight_norm=False`` is the plain-conv form the spec
    describes."""
    return TCN(1, 10, [25] * 8, kernel_size=7, dropout=0.05, weight_norm=weight_norm)


# -- every architecture: name -> (factory, input shape, spec) ---------------------------------------
ARCHITECTURES: dict[str, tuple[Factory, tuple[int, ...], Path]] = {
    "mobilenet_v2": (mobilenet_v2, (3, 224, 224), EXAMPLES / "mobilenet_v2.yaml"),
    "resnext50_32x4d": (resnext50_32x4d, (3, 224, 224), EXAMPLES / "resnext50_32x4d.yaml"),
    "densenet121": (densenet121, (3, 224, 224), EXAMPLES / "densenet121.yaml"),
    "efficientnet_b0": (efficientnet_b0, (3, 224, 224), EXAMPLES / "efficientnet_b0.yaml"),
    "convnext_tiny": (convnext_tiny, (3, 224, 224), EXAMPLES / "convnext_tiny.yaml"),
    # the main (inference) path: aux_logits=False; inception_v3(aux_logits=True) is torchvision's
    # default module, whose extra head (3,326,696 params) never runs in eval mode
    "inception_v3": (inception_v3, (3, 299, 299), EXAMPLES / "inception_v3.yaml"),
    "regnet_y_400mf": (regnet_y_400mf, (3, 224, 224), EXAMPLES / "regnet_y_400mf.yaml"),
    # with the auxiliary FCN head (torchvision's pretrained configuration): outputs (out, aux)
    "deeplabv3_resnet50": (deeplabv3_resnet50, (3, 520, 520), EXAMPLES / "deeplabv3_resnet50.yaml"),
    # outputs P2..P6
    "fpn_resnet50": (fpn_resnet50, (3, 800, 800), EXAMPLES / "fpn_resnet50.yaml"),
    # plain convs (no weight_norm)
    "tcn": (tcn_seq_mnist, (1, 784), EXAMPLES / "tcn.yaml"),
}
