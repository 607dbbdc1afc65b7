"""What moto's server works out anew on every call, though the answer never changes, worked out once.

moto's own CPU per call, this machine, before: DynamoDB UpdateItem ~7.9 ms, Firehose PutRecordBatch
~4.4 ms; a single-row request makes two UpdateItems (rate limits) and one PutRecordBatch, all in the one
process that serves moto. Of that:
- which backend serves a host: moto lists its package's ~190 folders (a stat each) and tries its URL
  patterns, twice a call (~1.5-2 ms);
- which methods a response class has: `inspect.getmembers` over a class of hundreds (~0.5 ms);
- the syntax tree of an UpdateExpression, parsed twice a call from the same string (~1 ms); moto's
  validator works on a deep copy of it, so one tree can serve every call;
- the tree of a ConditionExpression with its names and values, parsed twice an UpdateItem and once
  per item of a transaction before moto's transaction parses it again (~0.5 ms each): 1,000 parses
  of one condition for a 1,000-ref claim. Its nodes take their values when built and only read them.
Each is a pure function of values that never change in a running server (a host name, a class, an
expression with its names and values): caching them changes no answer. The local server installs
them; tests keep moto's own.
"""

from __future__ import annotations

import functools
import json
from collections import OrderedDict
from typing import Any

import moto.core.responses
from moto.core.utils import method_names_from_class
from moto.dynamodb.comparisons import ConditionExpressionParser
from moto.dynamodb.parsing.expressions import UpdateExpressionParser  # type: ignore[attr-defined]
from moto.moto_server.werkzeug_app import DomainDispatcherApplication

MOTO_BACKEND_FOR_HOST = DomainDispatcherApplication.get_backend_for_host
MOTO_METHOD_NAMES = method_names_from_class
MOTO_UPDATE_EXPRESSION = UpdateExpressionParser.make
MOTO_PARSE_CONDITION = ConditionExpressionParser.parse
# Conditions carry values that change (a counter's window, a claim's time): the newest few are kept.
_CONDITIONS = 1024
_conditions: OrderedDict[str, tuple[Any, list[str], list[str]]] = OrderedDict()


def _backend_for_host(self: DomainDispatcherApplication, host: str | None) -> Any:
    # Called under the dispatcher's own lock.
    known: dict[str | None, Any] = self.__dict__.setdefault("_lakegate_backends", {})
    if host not in known:
        known[host] = MOTO_BACKEND_FOR_HOST(self, host)
    return known[host]


@functools.lru_cache(maxsize=1024)
def _update_expression(expression: str) -> Any:
    return MOTO_UPDATE_EXPRESSION(expression)


def _parse_condition(self: ConditionExpressionParser) -> Any:
    """moto's parse, remembered with the names and values it found (callers read those off the parser)."""
    key = json.dumps(
        [self.condition_expression, self.expression_attribute_names, self.expression_attribute_values],
        sort_keys=True,
        default=repr,
    )
    if key in _conditions:
        _conditions.move_to_end(key)
    else:
        tree = MOTO_PARSE_CONDITION(self)
        _conditions[key] = (tree, list(self.expr_attr_names_found), list(self.expr_attr_values_found))
        if len(_conditions) > _CONDITIONS:
            _conditions.popitem(last=False)
    tree, names, values = _conditions[key]
    self.expr_attr_names_found, self.expr_attr_values_found = list(names), list(values)
    return tree


def install() -> None:
    """Every moto server and backend of this process uses the cached answers from now on."""
    DomainDispatcherApplication.get_backend_for_host = _backend_for_host  # type: ignore[method-assign]
    moto.core.responses.method_names_from_class = functools.cache(MOTO_METHOD_NAMES)  # type: ignore[attr-defined]
    UpdateExpressionParser.make = staticmethod(_update_expression)
    ConditionExpressionParser.parse = _parse_condition  # type: ignore[method-assign]
