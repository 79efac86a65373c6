"""The reference model zoo: specs shipped with the package (convcalc/zoo/*.yaml)."""

from __future__ import annotations

import os

from ..errors import SpecError

HERE = os.path.dirname(os.path.abspath(__file__))


def names() -> list[str]:
    return sorted(f[:-5] for f in os.listdir(HERE) if f.endswith(".yaml"))


def path(name: str) -> str:
    p = os.path.join(HERE, name + ".yaml")
    if not name or "/" in name or "\\" in name or not os.path.isfile(p):
        from .._suggest import did_you_mean

        raise SpecError(f"no zoo model {name!r}{did_you_mean(name, names())} (convcalc zoo lists them)",
                        where=f"zoo:{name}")
    return p


def read(name: str) -> str:
    from ..yamlio import read_text

    return read_text(path(name))
