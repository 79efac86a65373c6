"""Hand-written PyTorch twins of the zoo models (test-only).

Each twin is transcribed from the model's reference code, not from convcalc's spec:
torchvision's vgg.py, resnet.py, alexnet.py, googlenet.py and squeezenet.py, pytorch/examples'
dcgan/main.py, megvii-model/ShuffleNet-Series' ShuffleNetV1 (network.py, blocks.py) and the
MobileNet paper's Table 1 / TF-slim's mobilenet_v1.py. torchvision itself is not importable
here, so the modules are rebuilt in plain torch.nn, keeping the reference code's structure.

``measure(model, input_shape)`` is the judge: the output shape of a forward pass,
``sum(p.numel())`` and ``FlopCounterMode``'s total / 2 (torch counts a multiply-accumulate as
two FLOPs). The forward pass runs on the ``meta`` device by default: torch's own shape functions
and FLOP formulas, without the arithmetic (``device="cpu"`` runs it for real).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


# -- measuring ------------------------------------------------------------------------------
def build(builder, device: str = "meta") -> nn.Module:
    """Construct a twin directly on ``device`` (on meta: no weight initialisation to wait for)."""
    with torch.device(device):
        return builder()


def measure(model: nn.Module, input_shape, device: str = "meta") -> dict:
    """{"params", "macs", "output_shape"} of ``model`` on one sample of ``input_shape``."""
    model = model.to(device).eval()
    x = torch.zeros((1,) + tuple(input_shape), device=device)
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        y = model(x)
    flops = counter.get_total_flops()
    assert flops % 2 == 0
    return {
        "params": sum(p.numel() for p in model.parameters()),
        "macs": flops // 2,
        "output_shape": tuple(y.shape[1:]),
    }


def weights(model: nn.Module) -> int:
    """Parameters of the conv and linear layers only (no BN): what the papers count."""
    return sum(
        p.numel()
        for m in model.modules()
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear))
        for p in m.parameters(recurse=False)
    )


# -- MobileNet v1 (paper Table 1; TF-slim mobilenet_v1.py) ------------------------------------
MOBILENET_DEFS = (
    [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)] + [(512, 1)] * 5 + [(1024, 2), (1024, 1)]
)


def mobilenet_v1(alpha: float = 1.0, num_classes: int = 1000, min_depth: int = 8) -> nn.Module:
    """3x3 conv, 13 x (3x3 depthwise, BN, ReLU, 1x1 conv, BN, ReLU), avg pool, FC (no bias).
    TF-slim's depth(): max(int(d * alpha), min_depth). 'SAME' padding is padding=1 for these
    3x3 kernels (the same output sizes)."""

    def depth(d):
        return max(int(d * alpha), min_depth)

    c = depth(32)
    layers = [nn.Conv2d(3, c, 3, 2, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU(inplace=True)]
    for d, s in MOBILENET_DEFS:
        o = depth(d)
        layers += [
            nn.Conv2d(c, c, 3, s, 1, groups=c, bias=False),
            nn.BatchNorm2d(c),
            nn.ReLU(inplace=True),
            nn.Conv2d(c, o, 1, bias=False),
            nn.BatchNorm2d(o),
            nn.ReLU(inplace=True),
        ]
        c = o
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, num_classes, bias=False)]
    return nn.Sequential(*layers)


# -- VGG-16 (torchvision vgg.py, cfg 'D') -------------------------------------------------------
VGG_D = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]


class VGG(nn.Module):
    def __init__(self, cfg=VGG_D, num_classes: int = 1000):
        super().__init__()
        layers, c = [], 3
        for v in cfg:
            if v == "M":
                layers += [nn.MaxPool2d(kernel_size=2, stride=2)]
            else:
                layers += [nn.Conv2d(c, v, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
                c = v
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096),
            nn.ReLU(True),
            nn.Dropout(),
            nn.Linear(4096, 4096),
            nn.ReLU(True),
            nn.Dropout(),
            nn.Linear(4096, num_classes),
        )

    def forward(self, x):
        x = self.avgpool(self.features(x))
        return self.classifier(torch.flatten(x, 1))


def vgg16() -> nn.Module:
    return VGG()


# -- ResNet-50 (torchvision resnet.py) ------------------------------------------------------------
class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None, stride_on_3x3=True):
        super().__init__()
        s1, s3 = (1, stride) if stride_on_3x3 else (stride, 1)  # v1.5 (torchvision) or v1 (paper)
        self.conv1 = nn.Conv2d(inplanes, planes, 1, stride=s1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=s3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        return self.relu(out + identity)


class ResNet(nn.Module):
    def __init__(self, layers=(3, 4, 6, 3), num_classes=1000, stride_on_3x3=True):
        super().__init__()
        self.inplanes = 64
        self.v15 = stride_on_3x3
        self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(64, layers[0])
        self.layer2 = self._make_layer(128, layers[1], stride=2)
        self.layer3 = self._make_layer(256, layers[2], stride=2)
        self.layer4 = self._make_layer(512, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * 4, num_classes)

    def _make_layer(self, planes, blocks, stride=1):
        downsample = None
        if stride != 1 or self.inplanes != planes * 4:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, planes * 4, 1, stride=stride, bias=False), nn.BatchNorm2d(planes * 4)
            )
        layers = [Bottleneck(self.inplanes, planes, stride, downsample, self.v15)]
        self.inplanes = planes * 4
        layers += [Bottleneck(self.inplanes, planes, stride_on_3x3=self.v15) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def resnet50(v1: bool = False) -> nn.Module:
    return ResNet(stride_on_3x3=not v1)


# -- AlexNet (torchvision alexnet.py; and the original two-tower net, for the 720 M figure) ---------
class AlexNet(nn.Module):
    def __init__(self, num_classes: int = 1000, dropout: float = 0.5):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(64, 192, kernel_size=5, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(192, 384, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
        )
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout),
            nn.Linear(256 * 6 * 6, 4096),
            nn.ReLU(inplace=True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, 4096),
            nn.ReLU(inplace=True),
            nn.Linear(4096, num_classes),
        )

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


def alexnet() -> nn.Module:
    return AlexNet()


def alexnet_original() -> nn.Module:
    """Krizhevsky et al. 2012 (227x227 input): 96/256/384/384/256 channels; conv2, conv4 and
    conv5 split over two GPUs (groups=2); LRN omitted (no MACs)."""
    return nn.Sequential(
        nn.Conv2d(3, 96, 11, stride=4),
        nn.ReLU(),
        nn.MaxPool2d(3, 2),
        nn.Conv2d(96, 256, 5, padding=2, groups=2),
        nn.ReLU(),
        nn.MaxPool2d(3, 2),
        nn.Conv2d(256, 384, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(384, 384, 3, padding=1, groups=2),
        nn.ReLU(),
        nn.Conv2d(384, 256, 3, padding=1, groups=2),
        nn.ReLU(),
        nn.MaxPool2d(3, 2),
        nn.Flatten(),
        nn.Linear(9216, 4096),
        nn.ReLU(),
        nn.Linear(4096, 4096),
        nn.ReLU(),
        nn.Linear(4096, 1000),
    )


# -- GoogLeNet (torchvision googlenet.py, inference: aux_logits=False) -----------------------------
class BasicConv2d(nn.Module):
    def __init__(self, in_channels, out_channels, **kwargs):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, bias=False, **kwargs)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)), inplace=True)


class Inception(nn.Module):
    def __init__(self, in_channels, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj, k5=3):
        super().__init__()
        self.branch1 = BasicConv2d(in_channels, ch1x1, kernel_size=1)
        self.branch2 = nn.Sequential(
            BasicConv2d(in_channels, ch3x3red, kernel_size=1),
            BasicConv2d(ch3x3red, ch3x3, kernel_size=3, padding=1),
        )
        # torchvision: kernel_size=3 here ("a known bug", pytorch/vision#906); the paper: 5
        self.branch3 = nn.Sequential(
            BasicConv2d(in_channels, ch5x5red, kernel_size=1),
            BasicConv2d(ch5x5red, ch5x5, kernel_size=k5, padding=k5 // 2),
        )
        self.branch4 = nn.Sequential(
            nn.MaxPool2d(kernel_size=3, stride=1, padding=1, ceil_mode=True),
            BasicConv2d(in_channels, pool_proj, kernel_size=1),
        )

    def forward(self, x):
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


class GoogLeNet(nn.Module):
    def __init__(self, num_classes=1000, k5=3):
        super().__init__()
        self.conv1 = BasicConv2d(3, 64, kernel_size=7, stride=2, padding=3)
        self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.conv2 = BasicConv2d(64, 64, kernel_size=1)
        self.conv3 = BasicConv2d(64, 192, kernel_size=3, padding=1)
        self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception3a = Inception(192, 64, 96, 128, 16, 32, 32, k5)
        self.inception3b = Inception(256, 128, 128, 192, 32, 96, 64, k5)
        self.maxpool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception4a = Inception(480, 192, 96, 208, 16, 48, 64, k5)
        self.inception4b = Inception(512, 160, 112, 224, 24, 64, 64, k5)
        self.inception4c = Inception(512, 128, 128, 256, 24, 64, 64, k5)
        self.inception4d = Inception(512, 112, 144, 288, 32, 64, 64, k5)
        self.inception4e = Inception(528, 256, 160, 320, 32, 128, 128, k5)
        self.maxpool4 = nn.MaxPool2d(2, stride=2, ceil_mode=True)
        self.inception5a = Inception(832, 256, 160, 320, 32, 128, 128, k5)
        self.inception5b = Inception(832, 384, 192, 384, 48, 128, 128, k5)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(0.2)
        self.fc = nn.Linear(1024, num_classes)

    def forward(self, x):
        x = self.maxpool1(self.conv1(x))
        x = self.maxpool2(self.conv3(self.conv2(x)))
        x = self.maxpool3(self.inception3b(self.inception3a(x)))
        for m in (self.inception4a, self.inception4b, self.inception4c, self.inception4d, self.inception4e):
            x = m(x)
        x = self.inception5b(self.inception5a(self.maxpool4(x)))
        return self.fc(self.dropout(torch.flatten(self.avgpool(x), 1)))


def googlenet(paper_5x5: bool = False) -> nn.Module:
    return GoogLeNet(k5=5 if paper_5x5 else 3)


# -- SqueezeNet 1.0 (torchvision squeezenet.py) -------------------------------------------------------
class Fire(nn.Module):
    def __init__(self, inplanes, squeeze_planes, expand1x1_planes, expand3x3_planes):
        super().__init__()
        self.squeeze = nn.Conv2d(inplanes, squeeze_planes, kernel_size=1)
        self.squeeze_activation = nn.ReLU(inplace=True)
        self.expand1x1 = nn.Conv2d(squeeze_planes, expand1x1_planes, kernel_size=1)
        self.expand1x1_activation = nn.ReLU(inplace=True)
        self.expand3x3 = nn.Conv2d(squeeze_planes, expand3x3_planes, kernel_size=3, padding=1)
        self.expand3x3_activation = nn.ReLU(inplace=True)

    def forward(self, x):
        x = self.squeeze_activation(self.squeeze(x))
        return torch.cat(
            [self.expand1x1_activation(self.expand1x1(x)), self.expand3x3_activation(self.expand3x3(x))], 1
        )


class SqueezeNet(nn.Module):
    def __init__(self, num_classes=1000, dropout=0.5):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 96, kernel_size=7, stride=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),
            Fire(96, 16, 64, 64),
            Fire(128, 16, 64, 64),
            Fire(128, 32, 128, 128),
            nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),
            Fire(256, 32, 128, 128),
            Fire(256, 48, 192, 192),
            Fire(384, 48, 192, 192),
            Fire(384, 64, 256, 256),
            nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),
            Fire(512, 64, 256, 256),
        )
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout),
            nn.Conv2d(512, num_classes, kernel_size=1),
            nn.ReLU(inplace=True),
            nn.AdaptiveAvgPool2d((1, 1)),
        )

    def forward(self, x):
        return torch.flatten(self.classifier(self.features(x)), 1)


def squeezenet1_0() -> nn.Module:
    return SqueezeNet()


# -- ShuffleNet v1 (megvii-model/ShuffleNet-Series, ShuffleNetV1/blocks.py and network.py) ----------
class ShuffleV1Block(nn.Module):
    def __init__(self, inp, oup, *, group, first_group, mid_channels, ksize, stride):
        super().__init__()
        assert stride in (1, 2)
        self.stride, self.group = stride, group
        pad = ksize // 2
        outputs = oup - inp if stride == 2 else oup
        self.branch_main_1 = nn.Sequential(
            nn.Conv2d(inp, mid_channels, 1, 1, 0, groups=1 if first_group else group, bias=False),
            nn.BatchNorm2d(mid_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(mid_channels, mid_channels, ksize, stride, pad, groups=mid_channels, bias=False),
            nn.BatchNorm2d(mid_channels),
        )
        self.branch_main_2 = nn.Sequential(
            nn.Conv2d(mid_channels, outputs, 1, 1, 0, groups=group, bias=False), nn.BatchNorm2d(outputs)
        )
        if stride == 2:
            self.branch_proj = nn.AvgPool2d(kernel_size=3, stride=2, padding=1)

    def forward(self, old_x):
        x = self.branch_main_1(old_x)
        if self.group > 1:
            x = self.channel_shuffle(x)
        x = self.branch_main_2(x)
        if self.stride == 1:
            return F.relu(x + old_x)
        return torch.cat((self.branch_proj(old_x), F.relu(x)), 1)

    def channel_shuffle(self, x):
        b, c, h, w = x.shape
        x = x.reshape(b, c // self.group, self.group, h, w).permute(0, 2, 1, 3, 4)
        return x.reshape(b, c, h, w)


# stage_out_channels [-1, stem, stage2, stage3, stage4]: the official code (g = 3, 8 at four
# scales) and the paper's Table 1 (1x, g = 1, 2, 4, which the official code does not ship)
SHUFFLENET_CHANNELS = {
    ("1x", 1): [-1, 24, 144, 288, 576],
    ("1x", 2): [-1, 24, 200, 400, 800],
    ("1x", 3): [-1, 24, 240, 480, 960],
    ("1x", 4): [-1, 24, 272, 544, 1088],
    ("1x", 8): [-1, 24, 384, 768, 1536],
    ("0.5x", 3): [-1, 12, 120, 240, 480],
    ("0.5x", 8): [-1, 16, 192, 384, 768],
    ("1.5x", 3): [-1, 24, 360, 720, 1440],
    ("1.5x", 8): [-1, 24, 576, 1152, 2304],
    ("2x", 3): [-1, 48, 480, 960, 1920],
    ("2x", 8): [-1, 48, 768, 1536, 3072],
}


class ShuffleNetV1(nn.Module):
    def __init__(self, stage_out_channels, group, n_class=1000):
        super().__init__()
        self.stage_repeats = [4, 8, 4]
        self.stage_out_channels = stage_out_channels
        input_channel = stage_out_channels[1]
        self.first_conv = nn.Sequential(
            nn.Conv2d(3, input_channel, 3, 2, 1, bias=False),
            nn.BatchNorm2d(input_channel),
            nn.ReLU(inplace=True),
        )
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        features = []
        for idxstage, numrepeat in enumerate(self.stage_repeats):
            output_channel = stage_out_channels[idxstage + 2]
            for i in range(numrepeat):
                stride = 2 if i == 0 else 1
                first_group = idxstage == 0 and i == 0
                features.append(
                    ShuffleV1Block(
                        input_channel,
                        output_channel,
                        group=group,
                        first_group=first_group,
                        mid_channels=output_channel // 4,
                        ksize=3,
                        stride=stride,
                    )
                )
                input_channel = output_channel
        self.features = nn.Sequential(*features)
        self.globalpool = nn.AvgPool2d(7)
        self.classifier = nn.Sequential(nn.Linear(stage_out_channels[-1], n_class, bias=False))

    def forward(self, x):
        x = self.features(self.maxpool(self.first_conv(x)))
        x = self.globalpool(x).contiguous().view(-1, self.stage_out_channels[-1])
        return self.classifier(x)


def shufflenet_v1(scale: str, group: int) -> nn.Module:
    return ShuffleNetV1(SHUFFLENET_CHANNELS[(scale, group)], group)


# -- DCGAN generator (pytorch/examples dcgan/main.py; nz=100, ngf=64, nc=3) --------------------------
def dcgan_generator(nz: int = 100, ngf: int = 64, nc: int = 3) -> nn.Module:
    return nn.Sequential(
        nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False),
        nn.BatchNorm2d(ngf * 8),
        nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False),
        nn.BatchNorm2d(ngf * 4),
        nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False),
        nn.BatchNorm2d(ngf * 2),
        nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False),
        nn.BatchNorm2d(ngf),
        nn.ReLU(True),
        nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False),
        nn.Tanh(),
    )


# -- the small U-Net of convcalc's zoo (its own design: see unet_small.yaml's header) ----------------
def _double_conv(cin, cout, dilations=(1, 1)):
    layers = []
    for d in dilations:
        layers += [
            nn.Conv2d(cin, cout, 3, padding=d, dilation=d, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
        ]
        cin = cout
    return nn.Sequential(*layers)


class UNetSmall(nn.Module):
    def __init__(self, in_channels=3, num_classes=2):
        super().__init__()
        self.enc1 = _double_conv(in_channels, 32)
        self.enc2 = _double_conv(32, 64)
        self.mid = _double_conv(64, 128, dilations=(2, 4))
        self.up2 = nn.ConvTranspose2d(128, 64, 2, stride=2)
        self.dec2 = _double_conv(128, 64)
        self.up1 = nn.ConvTranspose2d(64, 32, 2, stride=2)
        self.dec1 = _double_conv(64, 32)
        self.head = nn.Conv2d(32, num_classes, 1)

    def forward(self, x):
        e1 = self.enc1(x)
        e2 = self.enc2(F.max_pool2d(e1, 2))
        m = self.mid(F.max_pool2d(e2, 2))
        d2 = self.dec2(torch.cat([e2, self.up2(m)], 1))
        d1 = self.dec1(torch.cat([e1, self.up1(d2)], 1))
        return self.head(d1)


def unet_small() -> nn.Module:
    return UNetSmall()


# -- the lecture's separable example ---------------------------------------------------------------
def lecture_separable() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 3, 5, groups=3, bias=False), nn.Conv2d(3, 256, 1, bias=False))


def lecture_standard() -> nn.Module:
    return nn.Conv2d(3, 256, 5, bias=False)


# -- every zoo model: name -> (twin builder, input shape) -------------------------------------------
TWINS = {
    "mobilenet_v1": (mobilenet_v1, (3, 224, 224)),
    "vgg16": (vgg16, (3, 224, 224)),
    "resnet50": (resnet50, (3, 224, 224)),
    "alexnet": (alexnet, (3, 224, 224)),
    "googlenet": (googlenet, (3, 224, 224)),
    "squeezenet1_0": (squeezenet1_0, (3, 224, 224)),
    "dcgan_generator": (dcgan_generator, (100, 1, 1)),
    "unet_small": (unet_small, (3, 128, 128)),
    "lecture_separable": (lecture_separable, (3, 12, 12)),
}
for _scale, _g in SHUFFLENET_CHANNELS:
    _name = f"shufflenet_v1_g{_g}" if _scale == "1x" else f"shufflenet_v1_{_scale}_g{_g}"
    TWINS[_name] = ((lambda s=_scale, g=_g: shufflenet_v1(s, g)), (3, 224, 224))
