"""Records expressions (JMESPath): compiled once, evaluated within a bound on what they build.

A 95-character expression such as ``[@,@]|[@,@]|...`` doubles its output at every step, so
the evaluation is metered: ``BoundedInterpreter`` (jmespath's ``TreeInterpreter`` with the
``visit_*`` methods that build lists and objects extended) and ``BoundedFunctions`` (jmespath's
documented custom-functions hook) charge every list, object and string they build to a
``Budget``, which fails the job as soon as it is spent. What the result then serialises to is
bounded by ``records.extract_records``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

import jmespath
from jmespath import exceptions as jmespath_errors
from jmespath import functions
from jmespath.parser import ParsedResult
from jmespath.visitor import TreeInterpreter

from website.services.fetch.body import describe_size
from website.services.fetch.canonical import canonical_size
from website.services.fetch.request import FetchError

__all__ = ["Budget", "compile_records_expression", "select_records"]

COMPILED_EXPRESSIONS = 256  # distinct records expressions kept compiled per process
NESTED_TOO_DEEPLY = "nested too deeply"
POINTER_BYTES = 8  # what one more element costs a list
EMPTY_LIST_BYTES = sys.getsizeof([])
BUILT_TYPES = (list, dict, str)  # what a function can build; numbers and booleans are small


class Budget:
    """Bytes an expression may still build before its job fails, and whether it may repeat a value.

    Only a multi-select of two or more, a literal or a function can put one value in several
    places of the result (``[@, @]``); any other result is a part of the response, shared nowhere.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.left = limit
        self.may_repeat = False

    def spend(self, size: int) -> None:
        self.left -= size
        if self.left < 0:
            raise FetchError(
                "The records expression produces too much: more than "
                f"{describe_size(self.limit)} while it runs (FETCH_MAX_RECORDS_BYTES)."
            )


@lru_cache(maxsize=COMPILED_EXPRESSIONS)
def compile_records_expression(expression: str) -> ParsedResult:
    """The compiled JMESPath ``expression``; raises ``ValueError`` saying where it is wrong."""
    try:
        return jmespath.compile(expression)
    except jmespath_errors.JMESPathError as error:
        position = getattr(error, "lex_position", None)
        where = f" at column {position + 1}" if isinstance(position, int) else ""
        raise ValueError(f"Invalid JMESPath expression{where}.") from None
    except RecursionError:
        raise ValueError(f"Invalid JMESPath expression: {NESTED_TOO_DEEPLY}.") from None


def select_records(expression: str, payload: Any, max_bytes: int) -> tuple[Any, bool]:
    """What ``expression`` selects in ``payload``, building at most ``max_bytes``, and whether
    the selection may hold one value several times; raises ``FetchError``."""
    try:
        compiled = compile_records_expression(expression)
    except ValueError as error:
        raise FetchError(f"Records expression: {error}") from None
    budget = Budget(max_bytes)
    interpreter = BoundedInterpreter(budget)
    try:
        selected = interpreter.visit(compiled.parsed, payload)
    except jmespath_errors.JMESPathTypeError as error:
        raise FetchError(
            f"Records expression failed: {error.function_name}() got a {error.actual_type}."
        ) from None
    except jmespath_errors.JMESPathError:
        raise FetchError("Records expression failed on this response.") from None
    except RecursionError:
        raise FetchError(f"Records expression: {NESTED_TOO_DEEPLY}.") from None
    if selected is None:
        raise FetchError("Records expression selected nothing in this response.")
    return selected, budget.may_repeat


class BoundedFunctions(functions.Functions):
    """JMESPath's functions, charging what they build; ``to_string`` and ``join`` beforehand."""

    def __init__(self, budget: Budget) -> None:
        super().__init__()
        self.budget = budget

    def call_function(self, function_name: str, resolved_args: Iterable[Any]) -> Any:
        arguments = list(resolved_args)
        self.budget.may_repeat = True
        if function_name == "to_string" and arguments and type(arguments[0]) is not str:
            # Its text may be far larger than the value, which can share one part many times.
            self.budget.spend(canonical_size(arguments[0], self.budget.left))
        elif function_name == "join" and len(arguments) == 2:
            self.budget.spend(_joined_size(*arguments))
        result = super().call_function(function_name, arguments)
        if isinstance(result, BUILT_TYPES) and all(result is not arg for arg in arguments):
            self.budget.spend(sys.getsizeof(result))
        return result


class BoundedInterpreter(TreeInterpreter):
    """jmespath's interpreter, charging every list and object it builds to ``budget``.

    A projection, filter or slice builds a list no longer than one that exists already, so it is
    charged once built; a flatten can build a longer one, so it is charged before.
    """

    def __init__(self, budget: Budget) -> None:
        super().__init__(jmespath.Options(custom_functions=BoundedFunctions(budget)))
        self.budget = budget

    def visit_flatten(self, node: Any, value: Any) -> Any:
        base = self.visit(node["children"][0], value)
        if not isinstance(base, list):
            return None
        length = sum(len(element) if isinstance(element, list) else 1 for element in base)
        self.budget.spend(EMPTY_LIST_BYTES + POINTER_BYTES * length)
        merged: list[Any] = []
        for element in base:
            if isinstance(element, list):
                merged.extend(element)
            else:
                merged.append(element)
        return merged

    def visit_projection(self, node: Any, value: Any) -> Any:
        return self._charged(super().visit_projection(node, value))

    def visit_filter_projection(self, node: Any, value: Any) -> Any:
        return self._charged(super().visit_filter_projection(node, value))

    def visit_value_projection(self, node: Any, value: Any) -> Any:
        return self._charged(super().visit_value_projection(node, value))

    def visit_slice(self, node: Any, value: Any) -> Any:
        return self._charged(super().visit_slice(node, value))

    def visit_multi_select_list(self, node: Any, value: Any) -> Any:
        self.budget.may_repeat |= len(node["children"]) > 1
        return self._charged(super().visit_multi_select_list(node, value))

    def visit_multi_select_dict(self, node: Any, value: Any) -> Any:
        self.budget.may_repeat |= len(node["children"]) > 1
        return self._charged(super().visit_multi_select_dict(node, value))

    def visit_literal(self, node: Any, value: Any) -> Any:
        self.budget.may_repeat = True  # one object, returned each time the node is visited
        return super().visit_literal(node, value)

    def _charged(self, built: Any) -> Any:
        if built is not None:
            self.budget.spend(sys.getsizeof(built))
        return built


def _joined_size(separator: Any, items: Any) -> int:
    """The length of ``join(separator, items)``, or 0 when jmespath will refuse the arguments."""
    if type(separator) is not str or type(items) is not list:
        return 0
    joined = sum(len(item) for item in items if type(item) is str)
    return joined + len(separator) * max(len(items) - 1, 0)
