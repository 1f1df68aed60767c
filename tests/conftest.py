"""The quick tier: ``pytest -m quick`` runs every test here not marked ``slow`` (the
edit-test loop, under two minutes on 2 cores); the README's test command runs all."""

import pytest


def pytest_collection_modifyitems(items):
    for item in items:
        if item.get_closest_marker("slow") is None and "/tests/" in str(item.fspath):
            item.add_marker(pytest.mark.quick)
