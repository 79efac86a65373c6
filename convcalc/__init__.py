"""convcalc: the cost of convolutional networks, computed analytically from a layer spec.

Library use (no Typer, Rich or YAML needed for the core)::

    from convcalc import layer, walk, load_spec
    cost = layer("conv", out_channels=32, kernel=3, stride=2, padding=1).cost((3, 224, 224))
    cost.output_shape, cost.params, cost.macs, cost.flops

    report = walk(load_spec("net.yaml"))
    report.totals()
"""

from __future__ import annotations

__version__ = "0.1.0"

from typing import TYPE_CHECKING, Any

from .errors import ConvcalcError, GeometryError, LimitError, SpecError

if TYPE_CHECKING:
    from .layers import Layer
    from .network import Network

__all__ = [
    "REGISTRY",
    "ConvcalcError",
    "Cost",
    "GeometryError",
    "Layer",
    "LimitError",
    "Network",
    "Report",
    "SpecError",
    "__version__",
    "layer",
    "load_spec",
    "parse_spec",
    "walk",
]


_LAZY = {
    "REGISTRY": "layers",
    "Cost": "layers",
    "Layer": "layers",
    "Network": "network",
    "Report": "network",
    "walk": "network",
}


def __getattr__(name: str) -> Any:
    # Lazy: the command line imports only what a command needs (start-up time).
    mod = _LAZY.get(name)
    if mod is None:
        raise AttributeError(f"module 'convcalc' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f".{mod}", __name__), name)


def layer(type_name: str, **values: Any) -> Layer:
    """Build a layer from spec values (``layer("conv", out_channels=8, kernel=3)``)."""
    from .layers import get

    return get(type_name).build(values)


def load_spec(ref: str) -> Network:
    """Load a YAML spec from a path or ``zoo:NAME`` (needs PyYAML)."""
    from .spec import load

    return load(ref)


def parse_spec(text: str, where: str = "<spec>") -> Network:
    """Parse YAML spec text (needs PyYAML)."""
    from .spec import parse_text

    return parse_text(text, where)
