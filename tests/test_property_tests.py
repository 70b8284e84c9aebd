"""Every property test asserts something on every example: no ``if`` without an ``else``.

An ``if`` with no ``else`` in a hypothesis test lets the examples that miss the branch pass
while checking nothing; the test suite itself is read here, so a new one cannot slip in.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent


def _is_property_test(function: ast.FunctionDef) -> bool:
    for decorator in function.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        if isinstance(target, ast.Name | ast.Attribute) and ast.unparse(target).endswith("given"):
            return True
    return False


def ifs_without_else(source: str) -> list[str]:
    """``test_name:line`` of each ``if`` without ``else`` in a property test of ``source``.

    An ``if`` whose body ends the example (``return``, ``raise``, ``continue``) is an early
    exit: what follows it is its ``else``.
    """
    found = []
    for function in ast.walk(ast.parse(source)):
        if not isinstance(function, ast.FunctionDef) or not _is_property_test(function):
            continue
        for node in ast.walk(function):
            exits = isinstance(node, ast.If) and isinstance(
                node.body[-1], ast.Return | ast.Raise | ast.Continue
            )
            if isinstance(node, ast.If) and not node.orelse and not exits:
                found.append(f"{function.name}:{node.lineno}")
    return found


TEST_FILES = sorted(TESTS.rglob("test_*.py"))


@pytest.mark.parametrize("path", TEST_FILES, ids=lambda p: p.name)
def test_property_tests_assert_on_every_example(path):
    found = ifs_without_else(path.read_text(encoding="utf-8"))
    assert not found, f"{path.name}: give these an else that asserts: {found}"


def test_the_audit_finds_an_if_without_else():
    source = """
@given(st.integers())
def test_x(n):
    if n > 0:
        assert n
"""
    assert ifs_without_else(source) == ["test_x:4"]
    assert ifs_without_else(source + "    else:\n        assert n <= 0\n") == []
    assert ifs_without_else(source.replace("@given(st.integers())\n", "")) == []
