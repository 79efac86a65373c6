"""The README is the user's manual: its example outputs are real runs of this version, and its
tables of conventions match the code."""

import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_readme_examples_are_current():
    r = subprocess.run(
        [sys.executable, os.path.join(ROOT, "scripts", "readme_examples.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stdout + r.stderr + "\nrun: python scripts/readme_examples.py"


def test_readme_activation_costs_match_the_code():
    from convcalc.layers.simple import ACTIVATION_FLOPS

    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as fh:
        text = fh.read()
    table = text[text.index("| fn | FLOPs |") :].split("\n\n")[0]
    found = {}
    for name, cost in re.findall(r"\| ([a-z0-9_]+)(?: \([a-z]+\))? \| (\d+) \|", table):
        found[name] = int(cost)
    assert found == ACTIVATION_FLOPS


def test_readme_setup_blocks_exist():
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as fh:
        text = fh.read()
    assert "<!-- ci:setup -->\n```bash\npip install . && convcalc report layers.example.yaml\n```" in text
    assert "<!-- ci:test -->\n```bash\n" in text and "pytest" in text
