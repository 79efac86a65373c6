"""Every layer type, registered in one table: ``REGISTRY`` maps a spec's ``type:`` to its class.
To add a layer type, write its class in one of these modules with ``@register``."""

from .base import REGISTRY, Cost, Layer, register

# Registration order is the listing order of `convcalc types` and the schema.
from . import simple  # noqa: F401  # isort: skip
from . import conv  # noqa: F401  # isort: skip
from . import composite  # noqa: F401  # isort: skip
from . import norm  # noqa: F401  # isort: skip
from . import merge  # noqa: F401  # isort: skip
from . import spatial  # noqa: F401  # isort: skip
from . import attention  # noqa: F401  # isort: skip
from . import tensor  # noqa: F401  # isort: skip

__all__ = ["REGISTRY", "Cost", "Layer", "get", "register"]


def get(type_name: str) -> type[Layer]:
    """The layer class for a type name; raises SpecError with a suggestion if unknown."""
    cls = REGISTRY.get(type_name)
    if cls is None:
        from .._suggest import did_you_mean
        from ..errors import SpecError

        raise SpecError(f"unknown layer type {type_name!r}{did_you_mean(type_name, REGISTRY)}", field="type")
    return cls
