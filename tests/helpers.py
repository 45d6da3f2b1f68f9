"""Helpers shared by the tests (imported as ``helpers``: pytest puts tests/ on the path)."""


def every(values) -> bool:
    """``all(values)`` that fails on an empty selection: a filter that matched nothing would
    make ``all`` true and prove nothing."""
    values = list(values)
    assert values, "the selection is empty"
    return all(values)
