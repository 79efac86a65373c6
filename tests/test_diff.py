"""convcalc diff: the pure alignment and change logic (convcalc/diff.py) and the command."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest

from convcalc import parse_spec, walk
from convcalc.diff import align_by_name, align_by_sequence, diff_reports, select_report, validate_report
from convcalc.errors import ConvcalcError
from convcalc.export import report_dict

BASE = """\
name: net
input: [3, 32, 32]
layers:
  - {type: conv, out_channels: 8, kernel: 3, padding: same}
  - {type: activation}
  - {type: conv, out_channels: 16, kernel: 3, padding: same}
  - {type: activation}
  - {type: pool, mode: max, kernel: 2}
  - {type: conv, out_channels: 32, kernel: 3, padding: same}
  - {type: activation}
  - {type: global_pool}
  - {type: flatten}
  - {type: linear, out_features: 10}
"""
POOL = "  - {type: pool, mode: max, kernel: 2}\n"
INSERTED = BASE.replace(POOL, "  - {type: conv, out_channels: 16, kernel: 3, padding: same}\n" + POOL)
WIDER = BASE.replace("out_channels: 16,", "out_channels: 24,")


def rep(text: str, **kw) -> dict:
    return report_dict(walk(parse_spec(text), **kw))


def statuses(d) -> list[str]:
    return [r.status for r in d.rows]


# -- pure logic -----------------------------------------------------------------------------------------
def test_identical_reports_have_no_changes():
    d = diff_reports(rep(BASE), rep(BASE))
    assert d.changed_rows() == []
    assert d.counts() == {"added": 0, "removed": 0, "changed": 0, "unchanged": 10}
    assert all(t.change == 0 for t in d.totals) and d.alignment == "name"


def test_insertion_is_one_added_row_not_every_later_row_changed():
    old, new = rep(BASE), rep(INSERTED)
    d = diff_reports(old, new)
    assert d.alignment == "sequence"
    [added] = d.changed_rows()
    assert added.status == "added" and added.name == "conv3" and added.type == "conv"
    assert d.counts() == {"added": 1, "removed": 0, "changed": 0, "unchanged": 10}
    assert added.delta("params") == new["totals"]["params"] - old["totals"]["params"]
    assert added.delta("macs") == new["totals"]["macs"] - old["totals"]["macs"]
    # the later layers are paired across the shifted names (conv3 became conv4)
    later = [(r.old["name"], r.new["name"]) for r in d.rows if r.old and r.new and r.old["type"] == "conv"]
    assert later == [("conv1", "conv1"), ("conv2", "conv2"), ("conv3", "conv4")]
    # pairing by place in the spec would have shown many changed rows: that is what the sequence avoids
    by_path = list(
        align_by_name(
            [{"name": x["path"]} for x in old["layers"]], [{"name": x["path"]} for x in new["layers"]]
        )
    )
    assert (
        sum(
            1
            for i, j in by_path
            if i is not None
            and j is not None
            and old["layers"][i]["output_shape"] != new["layers"][j]["output_shape"]
        )
        >= 3
    )


def test_removal_is_one_removed_row():
    d = diff_reports(rep(INSERTED), rep(BASE))
    [removed] = d.changed_rows()
    assert removed.status == "removed" and removed.old["name"] == "conv3" and removed.new is None
    assert removed.delta("params") < 0


def test_width_change_pairs_by_name():
    old, new = rep(BASE), rep(WIDER)
    d = diff_reports(old, new)
    assert d.alignment == "name"
    changed = {r.name: r for r in d.changed_rows()}
    assert set(changed) == {"conv2", "relu2", "pool1", "conv3"}
    assert changed["conv2"].new["output_shape"] == [24, 32, 32]
    assert changed["conv3"].delta("params") == (24 - 16) * 9 * 32  # its input channels grew
    assert all(r.status == "changed" for r in changed.values())


def test_layer_changed_and_inserted_at_once():
    text = INSERTED.replace("out_features: 10", "out_features: 20")
    d = diff_reports(rep(BASE), rep(text))
    got = {(r.status, r.type) for r in d.changed_rows()}
    assert got == {("added", "conv"), ("changed", "linear")}


def test_type_replacement_at_the_same_path_is_one_changed_row():
    # same path, same output shape: one row reading pool -> conv is the smallest diff
    text = BASE.replace(POOL, "  - {type: conv, out_channels: 16, kernel: 2, stride: 2}\n")
    d = diff_reports(rep(BASE), rep(text))
    [row] = d.changed_rows()
    assert row.status == "changed" and (row.old["type"], row.new["type"]) == ("pool", "conv")
    assert row.as_dict()["old_type"] == "pool" and row.as_dict()["new_type"] == "conv"


def test_type_replacement_plus_insertion_is_removed_and_added():
    # paths shift too: the sequence alignment shows the pool removed and two convs added
    two = (
        "  - {type: conv, out_channels: 16, kernel: 3, padding: same}\n"
        "  - {type: conv, out_channels: 16, kernel: 2, stride: 2}\n"
    )
    d = diff_reports(rep(BASE), rep(BASE.replace(POOL, two)))
    got = sorted((r.status, r.type) for r in d.changed_rows())
    assert got == [("added", "conv"), ("added", "conv"), ("removed", "pool")]


def test_rows_keep_execution_order():
    d = diff_reports(rep(BASE), rep(INSERTED))
    new_names = [r.new["name"] for r in d.rows if r.new is not None]
    assert new_names == [x["name"] for x in rep(INSERTED)["layers"]]
    old_names = [r.old["name"] for r in d.rows if r.old is not None]
    assert old_names == [x["name"] for x in rep(BASE)["layers"]]


def test_labels_take_part_in_the_alignment():
    a = BASE.replace("{type: linear,", "{type: linear, name: head,")
    b = INSERTED.replace("{type: linear,", "{type: linear, name: head,")
    d = diff_reports(rep(a), rep(b))
    head = next(r for r in d.rows if r.type == "linear")
    assert head.status == "unchanged" and head.new["label"] == "head"


def test_totals_change_and_percent():
    old, new = rep(BASE), rep(WIDER)
    d = diff_reports(old, new)
    t = {x.metric: x for x in d.totals}
    assert set(t) == {"params", "macs", "flops", "activations", "memory", "memory_traffic"}
    for m, x in t.items():
        assert (x.old, x.new) == (old["totals"][m], new["totals"][m])
        assert x.change == new["totals"][m] - old["totals"][m]
        assert x.change_percent == pytest.approx(100 * x.change / x.old)


def test_largest_growth_names_the_layer():
    d = diff_reports(rep(BASE), rep(INSERTED))
    assert d.largest("macs").name == "conv3"
    assert diff_reports(rep(INSERTED), rep(BASE)).largest("macs") is None


def test_settings_that_differ_are_reported():
    d = diff_reports(rep(BASE), rep(BASE, batch=4))
    assert ("batch", 1, 4) in d.settings
    assert all(t.new == 4 * t.old for t in d.totals if t.metric == "macs")


def test_as_dict_hides_unchanged_unless_asked():
    d = diff_reports(rep(BASE), rep(INSERTED))
    small, full = d.as_dict(), d.as_dict(include_unchanged=True)
    assert [x["status"] for x in small["layers"]] == ["added"]
    assert len(full["layers"]) == 11
    x = small["layers"][0]
    assert x["old_name"] is None and x["new_name"] == "conv3" and x["old_params"] is None
    assert x["params_change"] == x["new_params"]
    assert small["totals"]["macs"]["change"] == x["macs_change"]
    assert small["alignment"] == "sequence" and small["counts"]["added"] == 1


def test_sequence_alignment_trims_the_common_head_and_tail_quickly():
    body = "".join(
        "  - {type: conv, out_channels: 8, kernel: 3, padding: same}\n  - {type: activation}\n"
        for _ in range(1500)
    )
    head = "name: deep\ninput: [8, 8, 8]\nlayers:\n"
    old = rep(head + body + body)
    new = rep(head + body + "  - {type: batchnorm}\n" + body)
    d = diff_reports(old, new)  # its work is counted in test_robustness (head/tail trimming)
    assert [(r.status, r.type) for r in d.changed_rows()] == [("added", "batchnorm")]


def test_sequence_alignment_gives_up_on_huge_unmatched_stretches():
    a = [{"name": f"l[{i}]", "type": "conv", "output_shape": [i + 1]} for i in range(3000)]
    b = [{"name": f"l[{i}]", "type": "conv", "output_shape": [i + 5000]} for i in range(3000)]
    assert align_by_sequence(a, b) is None
    assert align_by_name(a, b) == [(i, i) for i in range(3000)]


# -- reading saved reports ------------------------------------------------------------------------------
def test_select_report_single_and_multi():
    one = rep(BASE)
    assert select_report(one, "x.json") is one
    two = rep(WIDER)
    two["name"] = "wide"
    multi = {"reports": [one, two]}
    assert select_report(multi, "m.json", "wide") is two
    assert select_report({"reports": [one]}, "m.json") is one
    with pytest.raises(ConvcalcError, match=r"holds 2 reports \(net, wide\); pick one with m.json#NAME"):
        select_report(multi, "m.json")
    with pytest.raises(ConvcalcError, match="no report named 'nope'"):
        select_report(multi, "m.json", "nope")


@pytest.mark.parametrize(
    "doc, fragment",
    [
        ([], "got a list"),
        ({"totals": {}}, "'layers' must be a list"),
        ({"layers": [{"name": "a"}], "totals": {}}, "layers[0]: 'type' must be a string"),
        ({"layers": [{"name": "a", "type": "conv", "output_shape": "8x8"}], "totals": {}}, "'output_shape'"),
        (
            {
                "layers": [{"name": "a", "type": "conv", "output_shape": [8], "params": -1, "macs": 0}],
                "totals": {},
            },
            "'params' must be an integer",
        ),
        ({"layers": [], "totals": {"macs": 1.5}}, "totals.macs"),
        ({"layers": []}, "'totals' must be an object"),
        ({"reports": "x"}, "non-empty list"),
    ],
)
def test_invalid_saved_reports(doc, fragment):
    with pytest.raises(ConvcalcError) as e:
        select_report(doc, "r.json")
    assert fragment in str(e.value)


def test_validate_accepts_what_report_writes():
    d = rep(BASE)
    assert validate_report(json.loads(json.dumps(d)), "x") is not None


# -- the command -----------------------------------------------------------------------------------------
def test_cli_spec_vs_spec_insertion(cli, spec_file):
    a, b = spec_file(BASE), spec_file(INSERTED)
    r = cli("diff", a, b)
    assert r.code == 0, r
    layer_rows = [
        line
        for line in r.out.splitlines()
        if re.search(r"\b(conv|relu|pool)\d", line) and "growth" not in line
    ]
    assert len(layer_rows) == 1 and layer_rows[0].lstrip().startswith("+") and "conv3" in layer_rows[0]
    assert "1 added" in r.out and "Totals" in r.out


def test_cli_spec_vs_saved_json(cli, spec_file, tmp_path):
    a = spec_file(BASE)
    saved = str(tmp_path / "old.json")
    assert cli("report", a, "--format", "json", "--output", saved).code == 0
    r = cli("diff", saved, spec_file(WIDER), "--format", "json")
    assert r.code == 0, r
    d = json.loads(r.out)
    assert d["old_source"] == saved and d["alignment"] == "name"
    assert {x["name"] for x in d["layers"]} == {"conv2", "relu2", "pool1", "conv3"}
    old_t, new_t = rep(BASE)["totals"], rep(WIDER)["totals"]
    assert d["totals"]["params"] == {
        "metric": "params",
        "old": old_t["params"],
        "new": new_t["params"],
        "change": new_t["params"] - old_t["params"],
        "change_percent": pytest.approx(100 * (new_t["params"] - old_t["params"]) / old_t["params"]),
    }


def test_cli_json_without_json_suffix_is_detected(cli, spec_file, tmp_path):
    saved = tmp_path / "old.report"
    saved.write_text(json.dumps(rep(BASE)))
    r = cli("diff", str(saved), spec_file(INSERTED), "--format", "json")
    assert r.code == 0, r
    assert [x["status"] for x in json.loads(r.out)["layers"]] == ["added"]


def test_cli_yaml_flow_mapping_is_still_a_spec(cli, spec_file):
    flow = spec_file("{name: net, input: [3, 8, 8], layers: [{type: conv, out_channels: 4, kernel: 3}]}")
    other = spec_file("{name: net, input: [3, 8, 8], layers: [{type: conv, out_channels: 8, kernel: 3}]}")
    r = cli("diff", flow, other, "--format", "json")
    assert r.code == 0, r
    [x] = json.loads(r.out)["layers"]
    assert (x["old_params"], x["new_params"]) == (3 * 4 * 9 + 4, 3 * 8 * 9 + 8)


def test_cli_multi_report_needs_a_name(cli, spec_file, tmp_path):
    a = spec_file(BASE)
    b = spec_file(WIDER.replace("name: net", "name: wide"))
    saved = str(tmp_path / "two.json")
    assert cli("report", a, b, "--format", "json", "--output", saved).code == 0
    r = cli("diff", saved, a)
    assert r.code == 2 and "pick one with" in r.err
    r = cli("diff", f"{saved}#wide", a, "--format", "json")
    assert r.code == 0
    assert json.loads(r.out)["old"] == "wide"
    r = cli("diff", f"{a}#net", b)
    assert r.code == 2 and "is a spec" in r.err


def test_cli_all_shows_unchanged_rows(cli, spec_file):
    a, b = spec_file(BASE), spec_file(INSERTED)
    r = cli("diff", a, b, "--all", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(r.out)))
    layers = [x for x in rows if x["status"] != "total"]
    assert len(layers) == 11 and sum(x["status"] == "unchanged" for x in layers) == 10
    [total] = [x for x in rows if x["status"] == "total"]
    t_old, t_new = rep(BASE)["totals"], rep(INSERTED)["totals"]
    assert int(total["old_macs"]) == t_old["macs"] and int(total["new_macs"]) == t_new["macs"]
    assert int(total["macs_change"]) == t_new["macs"] - t_old["macs"]
    assert int(total["params_change"]) == t_new["params"] - t_old["params"]
    assert list(rows[0]) == [
        "status",
        "name",
        "type",
        "output_shape",
        "old_params",
        "new_params",
        "params_change",
        "old_macs",
        "new_macs",
        "macs_change",
        "memory_traffic_change",
    ]
    r = cli("diff", a, b, "--format", "csv")
    assert [x["status"] for x in csv.DictReader(io.StringIO(r.out))] == ["added", "total"]


def test_cli_markdown(cli, spec_file):
    r = cli("diff", spec_file(BASE), spec_file(WIDER), "--format", "markdown")
    assert r.code == 0
    assert r.out.startswith("## convcalc diff:")
    assert "| ~ | conv2 | conv | 16x32x32 -> 24x32x32 |" in r.out
    assert "### Totals" in r.out and "| params |" in r.out


def test_cli_no_changes(cli, spec_file):
    r = cli("diff", spec_file(BASE), spec_file(BASE))
    assert r.code == 0 and "no layer changed" in r.out


def test_cli_errors(cli, spec_file, tmp_path):
    a = spec_file(BASE)
    r = cli("diff", a, str(tmp_path / "missing.yaml"))
    assert r.code == 2 and "missing.yaml: no such file" in r.err
    bad = tmp_path / "bad.json"
    bad.write_text("{oops")
    r = cli("diff", str(bad), a)
    assert r.code == 2 and "not valid JSON" in r.err and r.err.count("\n") == 1
    assert cli("diff", "-", "-").code == 2
    assert cli("diff", a, a, "--batch", "0").code == 2


def test_cli_stdin_side(cli, spec_file):
    r = cli("diff", "-", spec_file(INSERTED), "--format", "json", stdin=BASE)
    assert r.code == 0
    assert json.loads(r.out)["counts"]["added"] == 1
    r = cli("diff", spec_file(BASE), "-", "--format", "json", stdin=json.dumps(rep(WIDER)))
    assert r.code == 0 and json.loads(r.out)["counts"]["changed"] == 4
