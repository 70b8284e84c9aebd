"""Library code quoted on a page is the code of the pinned library, line for line.

A ```` ```text ```` block that is not an include and looks like code (a dotted call, a slice) is a
quote: either a signature, ``torch.nn.functional.pad(input, pad, ...) -> Tensor``, which must
equal ``inspect.signature`` of the named function, or lines of library code, each of which
must be a line of the real source of one module below, in the order that module has them.
A formula such as ``new size = size + left + right`` is not a quote.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
from functools import cache

import pytest

from page_structure import MARKDOWN_PAGES, Fence, all_fences, page_id

# The modules whose code the pages quote, as installed (the pinned versions).
QUOTED_MODULES = [
    "transformers.loss.loss_utils",
    "transformers.trainer",
    "transformers.data.data_collator",
    "trl.trainer.sft_trainer",
    "trl.trainer.utils",
    "torch.nn.functional",
]
_LOOKS_LIKE_CODE = re.compile(r"\w\.\w+\(|\[\.\.\.|\w+\(\w+.*\) *(->|$)")
_SIGNATURE = re.compile(r"^(?P<name>[A-Za-z_][\w.]*)\((?P<params>.*)\)(?: *-> *(?P<returns>.+))?$")


def quotes(text: str) -> list[Fence]:
    return [
        fence
        for fence in all_fences(text)
        if fence.language == "text"
        and fence.include is None
        and _LOOKS_LIKE_CODE.search(fence.body)
    ]


def _resolve(dotted: str):
    parts = dotted.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            target = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attribute in parts[cut:]:
            target = getattr(target, attribute, None)
        return target
    return None


def _annotation_name(annotation) -> str:
    text = annotation if isinstance(annotation, str) else inspect.formatannotation(annotation)
    return re.sub(r"\b(?:torch\.|typing\.)", "", text).replace(" ", "")


def signature_problems(line: str) -> list[str]:
    """How a quoted signature differs from the real one (names, kinds, defaults, return)."""
    match = _SIGNATURE.match(line.strip())
    function = _resolve(match["name"]) if match else None
    if not callable(function):
        return [f"{line!r} names no function that can be imported"]
    returns = f" -> {match['returns']}" if match["returns"] else ""
    quoted = ast.parse(f"def _({match['params']}){returns}: ...").body[0]
    real = inspect.signature(function)
    problems = []
    arguments = quoted.args
    positional = arguments.posonlyargs + arguments.args
    defaults = [None] * (len(positional) - len(arguments.defaults)) + arguments.defaults
    quoted_params = [(a, d, "POSITIONAL") for a, d in zip(positional, defaults, strict=True)]
    quoted_params += [
        (a, d, "KEYWORD_ONLY")
        for a, d in zip(arguments.kwonlyargs, arguments.kw_defaults, strict=True)
    ]
    real_params = list(real.parameters.values())
    if [a.arg for a, _, _ in quoted_params] != [p.name for p in real_params]:
        return [
            f"parameters {[a.arg for a, _, _ in quoted_params]}, really {list(real.parameters)}"
        ]
    for (arg, default, kind), param in zip(quoted_params, real_params, strict=True):
        if (kind == "KEYWORD_ONLY") != (param.kind is param.KEYWORD_ONLY):
            problems.append(f"{arg.arg}: keyword-only is {param.kind is param.KEYWORD_ONLY}")
        has_default = param.default is not param.empty
        if (default is not None) != has_default or (
            default is not None and ast.literal_eval(default) != param.default
        ):
            real_default = f"={param.default!r}" if has_default else " without a default"
            problems.append(f"{arg.arg}: really {param.name}{real_default}")
        if arg.annotation is not None and ast.unparse(arg.annotation) != _annotation_name(
            param.annotation
        ):
            problems.append(f"{arg.arg}: annotated {_annotation_name(param.annotation)}")
    if quoted.returns is not None and ast.unparse(quoted.returns) != _annotation_name(
        real.return_annotation
    ):
        problems.append(f"returns {_annotation_name(real.return_annotation)}")
    return problems


@cache
def _source_lines(module_name: str) -> list[str]:
    return [
        line.strip()
        for line in inspect.getsource(importlib.import_module(module_name)).splitlines()
    ]


def _in_order(quoted: list[str], source: list[str]) -> bool:
    position = 0
    for line in quoted:
        try:
            position = source.index(line, position) + 1
        except ValueError:
            return False
    return True


def code_problems(body: str) -> list[str]:
    """Empty when every line of ``body`` is a line of one quoted module, in that module's order."""
    quoted = [line.strip() for line in body.splitlines() if line.strip() and line.strip() != "..."]
    if any(_in_order(quoted, _source_lines(module)) for module in QUOTED_MODULES):
        return []
    best = max(QUOTED_MODULES, key=lambda m: sum(line in _source_lines(m) for line in quoted))
    not_there = [line for line in quoted if line not in _source_lines(best)]
    return [f"not lines of {best} (closest module) in its order: {not_there or quoted}"]


def quote_problems(fence: Fence) -> list[str]:
    lines = [line for line in fence.body.splitlines() if line.strip()]
    if len(lines) == 1 and _SIGNATURE.match(lines[0].strip()):
        return signature_problems(lines[0])
    return code_problems(fence.body)


PAGE_QUOTES = [
    (page, fence) for page in MARKDOWN_PAGES for fence in quotes(page.read_text("utf-8"))
]


def test_the_pages_quote_library_code():
    assert len(PAGE_QUOTES) >= 4


@pytest.mark.parametrize(
    ("page", "fence"), PAGE_QUOTES, ids=[f"{page_id(p)}:{f.line}" for p, f in PAGE_QUOTES]
)
def test_quoted_library_code_is_the_pinned_code(page, fence):
    problems = quote_problems(fence)
    assert not problems, f"{page_id(page)} line {fence.line}: " + "; ".join(problems)


def _fence(body: str) -> Fence:
    return Fence(1, 3, "text", None, body)


@pytest.mark.parametrize(
    "body",
    [
        'torch.nn.functional.pad(input, pad, mode="constant", value=None) -> Tensor',
        "torch.nn.functional.pad(input, pad, mode: str = 'constant', value=None)",
        "labels = nn.functional.pad(labels, (0, 1), value=ignore_index)\n"
        "shift_labels = labels[..., 1:].contiguous()",
    ],
)
def test_the_check_accepts_real_code(body):
    assert quote_problems(_fence(body)) == []


@pytest.mark.parametrize(
    ("body", "wanted"),
    [
        ('torch.nn.functional.pad(input, pad, mode="reflect", value=None) -> Tensor', "mode"),
        ('torch.nn.functional.pad(input, pad, value=0, mode="constant") -> Tensor', "parameters"),
        ("torch.nn.functional.pad(input, pad, mode='constant', value=None) -> int", "returns"),
        ("torch.nn.functional.pads(input, pad)", "names no function"),
        ("labels = nn.functional.pad(labels, (0, 1), value=-100)", "not lines of"),
        (  # the right lines in the wrong order
            "shift_labels = labels[..., 1:].contiguous()\n"
            "labels = nn.functional.pad(labels, (0, 1), value=ignore_index)",
            "not lines of",
        ),
    ],
)
def test_the_check_rejects_wrong_code(body, wanted):
    problems = quote_problems(_fence(body))
    assert any(wanted in p for p in problems), problems


def test_a_formula_is_not_a_quote():
    assert quotes("```text\nnew size = size + left + right\n```\n") == []
