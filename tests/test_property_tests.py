"""Every property test asserts something on every example: no ``if`` without an ``else``; and
every argument of a helper that property tests test is varied by one of them (``ignore_index``
included).

An ``if`` with no ``else`` in a hypothesis test lets the examples that miss the branch pass
while checking nothing; the test suite itself is read here, so a new one cannot slip in.
"""

from __future__ import annotations

import ast
import inspect
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


# --- every argument of a helper is varied by some property test ------------------------------


def _helpers() -> dict[str, inspect.Signature]:
    """The public functions of lmloss and its modules, by name, with their signatures."""
    import lmloss
    import lmloss.diagrams

    found = {}
    for module in (lmloss, lmloss.diagrams, *(getattr(lmloss, m) for m in ("sft",))):
        for name in getattr(module, "__all__", []):
            obj = getattr(module, name)
            if inspect.isfunction(obj):
                found[name] = inspect.signature(obj)
    return found


def arguments_passed(source: str, helpers: dict[str, inspect.Signature]) -> dict[str, set[str]]:
    """For each helper a property test of ``source`` calls: the parameters some call passes.

    A positional argument is its parameter; ``**kwargs`` passes the string keys of the dict
    literals the test builds (``kwargs = {"shift_labels": ...}``).
    """
    passed: dict[str, set[str]] = {}
    for function in ast.walk(ast.parse(source)):
        if not isinstance(function, ast.FunctionDef) or not _is_property_test(function):
            continue
        dict_keys = {
            key.value
            for node in ast.walk(function)
            if isinstance(node, ast.Dict)
            for key in node.keys
            if isinstance(key, ast.Constant) and isinstance(key.value, str)
        }
        for call in ast.walk(function):
            if not isinstance(call, ast.Call):
                continue
            name = ast.unparse(call.func).rpartition(".")[2]
            if name not in helpers:
                continue
            parameters = list(helpers[name].parameters)
            names = set(parameters[: len(call.args)])
            for keyword in call.keywords:
                names |= dict_keys if keyword.arg is None else {keyword.arg}
            passed.setdefault(name, set()).update(names & set(parameters))
    return passed


def unvaried(helpers: dict[str, inspect.Signature], sources: list[str]) -> list[str]:
    """``helper(parameter)`` for each parameter of a property-tested helper no property test passes."""
    passed: dict[str, set[str]] = {}
    for source in sources:
        for name, names in arguments_passed(source, helpers).items():
            passed.setdefault(name, set()).update(names)
    return sorted(
        f"{name}({parameter})"
        for name, names in passed.items()
        for parameter in helpers[name].parameters
        if parameter not in names and parameter not in NOT_VARIED
    )


# Parameters a property test does not vary, each with its reason. Keep this list short.
NOT_VARIED = {"lang": "the language of the text only; the text tests cover both"}


def test_property_tests_vary_every_argument_of_the_helpers_they_test():
    found = unvaried(_helpers(), [p.read_text(encoding="utf-8") for p in TEST_FILES])
    assert not found, f"vary these in a property test: {found}"


def test_the_audit_finds_an_argument_no_property_test_varies():
    helpers = {"shift_labels": inspect.signature(lambda labels, ignore_index=-100: None)}
    source = """
@given(st.integers())
def test_x(labels):
    assert shift_labels(labels) is not None
"""
    assert unvaried(helpers, [source]) == ["shift_labels(ignore_index)"]
    assert unvaried(helpers, [source.replace("(labels) is", "(labels, ignore_index=n) is")]) == []
