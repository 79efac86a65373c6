"""The HTML report in a real headless browser (Debian's chromium, driven by Playwright): the page
loads with no console error and no network request, the layer table sorts (exact integers), its
numbers equal the JSON report's, the graph draws every layer and merge, and a screenshot is kept
under artifacts/ (CI keeps that folder).

Needs ``chromium`` (``apt-get install -y chromium``; or $CONVCALC_CHROMIUM) and the ``playwright``
package (the test extra). It fails rather than skips without them: CI must run it."""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import ROOT, run_cli

ARTIFACTS = os.path.join(ROOT, "artifacts")
EXAMPLE = os.path.join(ROOT, "layers.example.yaml")


def chromium() -> str:
    path = os.environ.get("CONVCALC_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        pytest.fail(
            "chromium is needed for the HTML test: apt-get install -y chromium (or set CONVCALC_CHROMIUM)"
        )
    return path


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=chromium(),
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
                "--disable-sync",
            ],
        )
        yield b
        b.close()


class Page:
    def __init__(self, browser: Any, path: str):
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page = browser.new_page(viewport={"width": 1400, "height": 1000})
        self.page.on(
            "console", lambda m: self.errors.append(m.text) if m.type in ("error", "warning") else None
        )
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.goto("file://" + path)
        self.page.wait_for_load_state("load")

    def column(self, table: str, key: str) -> list[str]:
        idx = self.page.eval_on_selector_all(
            f"{table} thead th", "els => els.map(e => e.getAttribute('data-key'))"
        ).index(key)
        return self.page.eval_on_selector_all(
            f"{table} tbody tr td:nth-child({idx + 1})",
            "els => els.map(e => e.getAttribute('data-v') ?? e.textContent)",
        )


def write(tmp_path: Any, *args: str) -> str:
    path = str(tmp_path / "page.html")
    r = run_cli(*args, "--format", "html", "--output", path)
    assert r.code in (0, 1), r.err
    return path


def test_report_page_loads_sorts_and_matches_the_json(browser: Any, tmp_path: Any) -> None:
    path = write(tmp_path, "report", EXAMPLE)
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", text)  # self-contained
    d = json.loads(run_cli("report", EXAMPLE, "-f", "json").out)
    page = Page(browser, path)
    assert page.errors == []
    assert all(u.startswith("file://") for u in page.requests), page.requests
    layers = d["layers"]
    # the table holds every layer with the JSON's numbers, in network order
    assert page.column("#table1", "name") == [x["name"] for x in layers]
    for key in ("params", "macs", "flops", "activations"):
        assert [int(v) for v in page.column("#table1", key)] == [x[key] for x in layers]
    # sorting: MACs descending, then ascending (ties keep network order)
    page.page.click("#table1 thead th[data-key=macs]")
    got = [int(v) for v in page.column("#table1", "macs")]
    assert got == sorted((x["macs"] for x in layers), reverse=True)
    names = page.column("#table1", "name")
    expect = [x["name"] for x in sorted(layers, key=lambda x: -x["macs"])]  # stable: ties in order
    assert names == expect
    page.page.click("#table1 thead th[data-key=macs]")
    assert [int(v) for v in page.column("#table1", "macs")] == sorted(x["macs"] for x in layers)
    page.page.click("#table1 thead th[data-key=name]")
    assert page.errors == []
    # totals as the JSON has them
    totals = page.page.inner_text("table.kv")
    for key in ("params", "macs", "flops", "activations"):
        assert f"{d['totals'][key]:,}" in totals
    # the bar chart: one bar per layer per series
    assert page.page.locator("svg.chart rect").count() == 2 * len(layers)
    # the graph: input, every layer, output; merges (add, concat) with two or more inputs
    assert page.page.locator("svg.graph g.node").count() == len(layers) + 2
    merges = [x for x in layers if x["type"] in ("add", "concat")]
    assert page.page.locator("svg.graph g.node.merge").count() == len(merges)
    edges = page.page.locator("svg.graph .edges path").count()
    assert edges >= len(layers) + 1 + len(merges)
    os.makedirs(ARTIFACTS, exist_ok=True)
    page.page.screenshot(path=os.path.join(ARTIFACTS, "html-report.png"), full_page=True)
    assert os.path.getsize(os.path.join(ARTIFACTS, "html-report.png")) > 10_000


def test_sweep_page_charts_macs_and_params_against_the_multiplier(browser: Any, tmp_path: Any) -> None:
    widths = ["1", "0.75", "0.5", "0.25"]
    path = write(tmp_path, "report", "zoo:mobilenet_v1", "--width-mult", ",".join(widths))
    d = json.loads(run_cli("report", "zoo:mobilenet_v1", "--width-mult", ",".join(widths), "-f", "json").out)
    page = Page(browser, path)
    assert page.errors == []
    assert page.page.locator("svg.chart circle").count() == 2 * len(widths)  # MACs and params
    titles = page.page.eval_on_selector_all("svg.chart circle title", "els => els.map(e => e.textContent)")
    for s in d["summary"]:
        assert any(f"{s['macs']:,} MACs" in t for t in titles)
        assert any(f"{s['params']:,} params" in t for t in titles)
    assert [int(v) for v in page.column("#table1", "macs")] == [s["macs"] for s in d["summary"]]
    page.page.screenshot(path=os.path.join(ARTIFACTS, "html-sweep.png"), full_page=True)


def test_check_page_gives_the_verdict(browser: Any, tmp_path: Any) -> None:
    path = write(tmp_path, "check", "zoo:resnet50", "--max-macs", "4G", "--max-params", "30M")
    page = Page(browser, path)
    assert page.errors == []
    assert page.page.inner_text("h1").startswith("FAIL")
    verdicts = page.column("#table1", "verdict")
    assert sorted(verdicts) == ["FAIL", "PASS"]
    page.page.screenshot(path=os.path.join(ARTIFACTS, "html-check.png"), full_page=True)


def test_a_resnet_graph_has_its_residual_merges(browser: Any, tmp_path: Any) -> None:
    path = write(tmp_path, "report", "zoo:resnet50")
    page = Page(browser, path)
    assert page.errors == []
    adds = page.page.locator("svg.graph g.node.merge").count()
    assert adds == 16  # one add per bottleneck block
    # each add reads two tensors: its body and its shortcut (or the block's input)
    d = json.loads(run_cli("report", "zoo:resnet50", "-f", "json").out)
    assert sum(x["type"] == "add" for x in d["layers"]) == adds
