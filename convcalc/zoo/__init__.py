"""The reference model zoo: specs shipped with the package (convcalc/zoo/*.yaml).

Each spec opens with a comment header of ``# key: value`` fields, a field's continuation
lines indented (``#   more``), then free-text notes::

    # title: MobileNet v1 1.0-224
    # cite: Howard et al. 2017
    # source: A. G. Howard et al., "MobileNets: ...", arXiv:1704.04861 (2017)
    # code: https://github.com/...
    # published: 569 M mult-adds, 4.2 M parameters (paper Tables 1/8)
    # computed: 568,740,352 MACs and 4,209,088 parameters
    #
    # Notes: what the spec follows, and why a computed figure differs from a published one.

``info(name)`` parses that header; ``catalog()`` adds each model's computed totals.
"""

from __future__ import annotations

import os

from ..errors import SpecError

HERE = os.path.dirname(os.path.abspath(__file__))

# Header fields, in display order. ``source`` (the paper) and ``cite`` are required.
FIELDS = ("title", "cite", "source", "code", "published", "computed")
REQUIRED = ("title", "cite", "source", "published")


def names() -> list[str]:
    return sorted(f[:-5] for f in os.listdir(HERE) if f.endswith(".yaml"))


def path(name: str) -> str:
    p = os.path.join(HERE, name + ".yaml")
    if not name or "/" in name or "\\" in name or not os.path.isfile(p):
        from .._suggest import did_you_mean

        raise SpecError(
            f"no zoo model {name!r}{did_you_mean(name, names())} (convcalc zoo lists them)",
            where=f"zoo:{name}",
        )
    return p


def read(name: str) -> str:
    from ..yamlio import read_text

    return read_text(path(name))


def parse_header(text: str) -> dict:
    """The header fields of a spec's text (see the module docstring) and ``notes``: the
    comment lines that are not fields, joined with newlines (blank comment lines kept as
    paragraph breaks). Stops at the first line that is not a comment."""
    fields: dict[str, str] = {}
    notes: list[str] = []
    current = None  # the field that indented lines continue
    for raw in text.splitlines():
        line = raw.rstrip()
        if not line.startswith("#"):
            break
        body = line[2:] if line.startswith("# ") else line[1:]
        key, sep, value = body.partition(":")
        if not body.strip():
            current = None
            notes.append("")
        elif current is not None and body.startswith("  "):
            fields[current] += " " + body.strip()
        elif sep and key in FIELDS and key not in fields:
            current = key
            fields[key] = value.strip()
        else:
            current = None
            notes.append(body)
    while notes and not notes[0]:
        notes.pop(0)
    while notes and not notes[-1]:
        notes.pop()
    out = {k: fields.get(k, "") for k in FIELDS}
    out["notes"] = "\n".join(notes)
    return out


def info(name: str) -> dict:
    """A zoo model's header fields (``title``, ``cite``, ``source``, ``code``, ``published``,
    ``computed``, ``notes``) and its ``name``."""
    return {"name": name, **parse_header(read(name))}


def catalog() -> list[dict]:
    """Every zoo model: its header fields plus ``input_shape``, ``output_shape``, ``params``,
    ``macs`` and ``flops`` computed by convcalc (batch 1)."""
    from .. import network, spec

    out = []
    for name in names():
        text = read(name)
        report = network.walk(spec.parse_text(text, f"zoo:{name}"))
        out.append(
            {
                "name": name,
                **parse_header(text),
                "input_shape": list(report.input_shape),
                "output_shape": list(report.output_shape),
                "params": report.params,
                "macs": report.macs,
                "flops": report.flops,
            }
        )
    return out
