"""Fast tests that need no HDL simulator (``pytest tests/``; the quick tier is
``pytest -m quick``, see the root ``conftest.py``)."""

#: True under ``pytest -m quick`` (set by the root conftest.py before collection).
QUICK = False


def examples(n: int) -> int:
    """Hypothesis examples for a property test: ``n`` in the full run, a tenth (at least
    20) in the quick tier."""
    return max(20, n // 10) if QUICK else n
