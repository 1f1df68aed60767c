"""The quick tier: ``pytest -m quick`` runs every test in ``tests/`` not marked ``slow``,
plus the one smallest case of each RTL testbench in ``sim/`` (marked ``quick_case``), so
every module runs at least once in the edit-test loop. The README's test command runs
all. Under ``-m quick`` the property-based tests draw a tenth of their examples
(``tests.examples``); the full run draws them all."""

import pytest

import tests


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "quick_case(**params): this parametrised case is in the quick tier when "
                   "every given parameter matches (e.g. quick_case(sim='icarus', pe=4))")
    expression = config.getoption("markexpr", "") or ""
    tests.QUICK = "quick" in expression and "not quick" not in expression


def _quick_case(item) -> bool:
    params = getattr(getattr(item, "callspec", None), "params", {})
    return any(all(params.get(key) == value for key, value in marker.kwargs.items())
               for marker in item.iter_markers("quick_case"))


def pytest_collection_modifyitems(items):
    for item in items:
        in_tests = "/tests/" in str(item.fspath) and item.get_closest_marker("slow") is None
        if in_tests or _quick_case(item):
            item.add_marker(pytest.mark.quick)
