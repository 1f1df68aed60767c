"""The layer table reproduces every figure the MobileNet paper prints (Tables 2, 3, 6-9)."""

import pytest

from model.layers import mobilenet_v1
from model.paper import (PAPER_MODELS, TABLE2_MULT_ADDS_PERCENT, TABLE2_PARAMS_PERCENT,
                         agrees_with_print, paper_comparison, table3_rows)


def test_agrees_with_print_accepts_rounding_or_truncation_only():
    assert agrees_with_print(568.74, 569, 0)  # rounded
    assert agrees_with_print(290.68, 290, 0)  # truncated
    assert not agrees_with_print(290.68, 291.5, 0)
    assert not agrees_with_print(568.74, 570, 0)
    assert not agrees_with_print(1.9056, 1.19, 2)  # the Table 2 digit swap


@pytest.mark.parametrize("model", PAPER_MODELS, ids=lambda m: f"T{m.table}-{m.label}-{m.num_classes}")
def test_tables_6_to_9(model):
    net = mobilenet_v1(model.alpha, model.resolution, num_classes=model.num_classes)
    macs = net.mult_adds if model.mult_adds_classes is None else mobilenet_v1(
        model.alpha, model.resolution, num_classes=model.mult_adds_classes).mult_adds
    assert agrees_with_print(macs / 1e6, model.mult_adds_m, model.mult_adds_decimals)
    assert agrees_with_print(net.params / 1e6, model.params_m, model.params_decimals)


def test_headline_numbers_exactly():
    net = mobilenet_v1(1.0, 224)
    assert net.mult_adds == 568_740_352
    assert net.params == 4_209_088
    assert round(mobilenet_v1(1.0, 160).mult_adds / 1e6, 1) == 290.7
    assert round(mobilenet_v1(0.5, 160).params / 1e6, 2) == 1.32


def test_table2_shares():
    net = mobilenet_v1(1.0, 224)
    macs, params = net.mult_adds_by_type(), net.params_by_type()
    for row, printed in TABLE2_MULT_ADDS_PERCENT.items():
        assert round(100 * macs[row] / net.mult_adds, 2) == printed, row
    for row, printed in TABLE2_PARAMS_PERCENT.items():
        assert round(100 * params[row] / net.params, 2) == printed, row
    # With 1.91 (not the printed 1.19) the column sums to 100 within rounding.
    assert abs(sum(TABLE2_MULT_ADDS_PERCENT.values()) - 100) <= 0.02
    assert sum(macs.values()) == net.mult_adds


def test_table3_sequence():
    rows = table3_rows()
    assert [round(r.mult_adds / 1e6, 1) for r in rows] == [462.4, 52.3, 29.6, 15.1]
    assert [round(r.params / 1e6, 2) for r in rows] == [2.36, 0.27, 0.15, 0.15]


def test_every_printed_figure_agrees():
    rows = paper_comparison()
    assert len(rows) == 2 * len(PAPER_MODELS) + 8 + 8
    assert [r["what"] for r in rows if not r["ok"]] == []
