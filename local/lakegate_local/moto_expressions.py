"""moto's UpdateExpression validation with the same checks and answers, at a fraction of its CPU.

Every UpdateItem (the rate limiter's leases: about one a single-row request under load) has moto validate
its update expression: a deep copy of the expression's syntax tree (the validators write values into it),
then ten walks over the copy. Measured on this machine, moto's DynamoDB backend took ~1.3-1.6 ms an
UpdateItem with moto_memo's caches and ~0.45 ms with these (its HTTP handling aside), in the one process
(one GIL) that serves every AWS call of the local server. Three things are cheaper here, and none
changes what a call answers:
- the copy: a tree as moto's parser builds it holds only nodes, strings and parents; copying those node
  by node gives what `copy.deepcopy` gives, 3-5x faster. Anything else (a value, a subtree with a parent
  outside it) goes to `copy.deepcopy` as before;
- the walks: at every node moto asks `isinstance` twice, of ABCs (slow), against a tuple it rebuilds
  from a dict of bound methods each time; the answers depend only on the node's class and the walker's
  class (a walker's map is keyed by classes; moto registers no virtual subclasses), so they are
  remembered per pair of classes and the walk is otherwise moto's, step for step;
- the first three walks only check the expression's shape against its names and the table's keys
  (clause counts, overlapping paths, no key attribute updated) and change nothing: once an expression
  has passed them with the same names on a table with the same keys, it passes them again, so they are
  skipped. An expression that fails them is checked again every time, and fails again.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from typing import Any

import moto.dynamodb.models
from moto.dynamodb.parsing import validators
from moto.dynamodb.parsing.ast_nodes import DepthFirstTraverser, Node  # type: ignore[attr-defined]

MOTO_VALIDATOR = validators.UpdateExpressionValidator
MOTO_DEEPCOPY = validators.deepcopy  # type: ignore[attr-defined]
MOTO_TRAVERSE = DepthFirstTraverser.traverse_node_recursively
# The walks that only check the expression, its names and the table's keys: they return the tree as it was.
SHAPE_CHECKS = (
    validators.ActionCountValidator,
    validators.OverlappingPathsValidator,
    validators.UpdateHashRangeKeyValidator,
)
_ATOMS = (str, int, float, bool, bytes, type(None))
# Expressions that passed the shape checks: key -> the (cached, so kept alive) tree they were made on.
_PASSED_LIMIT = 1024
_passed: OrderedDict[str, Any] = OrderedDict()
_is_node: dict[type, bool] = {}
_processes: dict[tuple[type, type], bool] = {}


class _NotPlain(Exception):
    """The tree holds something a node-by-node copy would not copy as deepcopy does."""


def _clone(node: Any, parent: Any) -> Any:
    new = object.__new__(type(node))
    for name, value in vars(node).items():
        if name == "children":
            copied = (
                None
                if value is None
                else [_clone(c, new) if isinstance(c, Node) else _atom(c) for c in value]
            )
        elif name == "parent":
            copied = parent
        else:
            copied = _atom(value)
        setattr(new, name, copied)
    return new


def _atom(value: Any) -> Any:
    if type(value) not in _ATOMS:
        raise _NotPlain
    return value


def deepcopy(value: Any, memo: Any = None) -> Any:
    """`copy.deepcopy`, node by node for a tree of nodes and strings whose root has no parent."""
    if memo is None and isinstance(value, Node) and value.parent is None:
        try:
            return _clone(value, None)
        except _NotPlain:
            pass
    return MOTO_DEEPCOPY(value, memo)


def _traverse_node_recursively(self: Any, node: Any, child_id: int = -1) -> Any:
    """moto's DepthFirstTraverser.traverse_node_recursively, its two isinstance answers remembered."""
    cls = type(node)
    is_node = _is_node.get(cls)
    if is_node is None:
        is_node = _is_node[cls] = isinstance(node, Node)
    if is_node:
        parent_node = node.parent
        if node.children is not None:
            for i, child_node in enumerate(node.children):
                self.pre_processing_of_child(node, i)
                self.traverse_node_recursively(child_node, i)
        key = (type(self), cls)
        processes = _processes.get(key)
        if processes is None:
            processes = _processes[key] = isinstance(node, self.nodes_to_be_processed())
        if processes:
            node = self.process(node)
            node.parent = parent_node
            if parent_node:
                parent_node.children[child_id] = node
    return node


class UpdateExpressionValidator(MOTO_VALIDATOR):
    """moto's validator, skipping the shape checks for an expression that has passed them as it is now."""

    def __init__(
        self,
        expression: Node,
        expression_attribute_names: dict[str, str],
        expression_attribute_values: dict[str, dict[str, Any]],
        item: Any,
        table: Any,
    ) -> None:
        self._key = json.dumps(
            [id(expression), expression_attribute_names, list(table.table_key_attrs)],
            sort_keys=True,
            default=repr,
        )
        self._expression = expression
        self._checked = _passed.get(self._key) is expression
        super().__init__(expression, expression_attribute_names, expression_attribute_values, item, table)

    def get_ast_processors(self) -> list[DepthFirstTraverser]:
        processors: list[DepthFirstTraverser] = super().get_ast_processors()
        if self._checked:
            return [p for p in processors if not isinstance(p, SHAPE_CHECKS)]
        # The shape checks come first (moto's order): passed once the last of them has returned.
        self._passed_after = max(i for i, p in enumerate(processors) if isinstance(p, SHAPE_CHECKS))
        return processors

    def validate(self) -> Node:
        n = self.node_to_validate
        for i, processor in enumerate(self.processors):
            n = processor.traverse(n)
            if not self._checked and i == self._passed_after:
                self._checked = True
                _passed[self._key] = self._expression
                if len(_passed) > _PASSED_LIMIT:
                    _passed.popitem(last=False)
        return n


def install() -> None:
    """moto's DynamoDB in this process validates update expressions this way from now on."""
    validators.deepcopy = deepcopy  # type: ignore[attr-defined, assignment]
    DepthFirstTraverser.traverse_node_recursively = _traverse_node_recursively
    moto.dynamodb.models.UpdateExpressionValidator = UpdateExpressionValidator  # type: ignore[attr-defined]
