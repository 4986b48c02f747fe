"""Work moto 5.2.5 repeats on every request, done once or not at all, answers unchanged.

1. The moto server finds a request's service among the folders of moto's package: it lists the
   package folder and asks ``isdir`` of each of its 200-odd entries on every request. The
   installed package does not change while the server runs, so the list is read once.
2. A DynamoDB Query sorts every item of the table (``Table.all_items``) before picking the few
   it answers, and does so under the one-request-at-a-time lock (moto_dynamodb_atomic): with a
   few thousand audit rows each query took tens of milliseconds and held every other item
   request back. The query sorts what it picks itself, on keys that tell every item apart (the
   table's keys come last), so it is given the items unsorted; the answer, its order and its
   pages are the same.
3. moto finds a request's handler by listing every function of the response class
   (``inspect.getmembers``) on each request: for IAM's large class, about a tenth of an
   in-process read (a GetUser plus a GetItem: 5.6 ms, 5.0 ms without it, medians of six runs).
   The list only changes when a class gains a method (the patches here add theirs at start-up),
   so it is kept per class and listed again only if the class changed.
4. moto's serializer looks each member of each answered structure up by asking six alias
   classes for the names it may go by (``AttributePicker.get_possible_keys``) and turning each
   into snake_case (``xform_name``): for a DynamoDB item, ten members per attribute, a third of
   a GetItem of 15 attributes (CPU 4.0 ms, 2.7 ms without it; medians of four alternating runs
   on a busy machine). When the value is a plain ``dict`` those names depend only on the
   member's shape, the structure it belongs to (``parent``, set just before), its key and the
   alias classes: a dict has no ``Meta`` and its class name is always "dict". botocore shapes
   compare by identity and a service's shapes live as long as its cached model, so the names
   are kept per (method, alias classes, shape, parent, key) for moto's own alias classes; any
   other value or alias class is asked as before.
5. Then for each member it builds a context with the path of the answer so far (a join of every
   key above it), probes each name through ``utils.get_value`` and tries the response's
   transformers on that path. When the value is a plain ``dict``, the picker moto's own and
   the response has no transformers, nothing reads the path or the models: the names are
   looked up in the dict directly (the same GetItem: 2.7 ms, 1.75 ms).
6. A ConditionExpression or FilterExpression is lexed and parsed on every request, twice for a
   write (the handler checks it, the backend applies it): 0.4 ms each for a lease's
   ``attribute_not_exists(pk) OR #u < :now OR #o = :owner``. Only moto's last step, building
   the operators, reads what the request's names and values stand for; the steps before read
   the string alone. moto's own parse is kept per string with a placeholder for each name and
   value; each request looks them up in moto's order (one missing fails as in moto) and builds
   its own operators with moto's last step (under 0.1 ms). A string moto rejects is kept as
   rejected and parsed by moto on every request: the same error each time.
7. An UpdateExpression is tokenized and parsed twice per UpdateItem, and the validator
   ``deepcopy``-s the tree before changing it. The tree is kept per string and each request
   handed a copy of its own, made as ``deepcopy`` makes it (a node's class and ``__dict__``,
   lists, the same memo) but without its generic dispatch, as is the validator's copy: 3 to 5
   times faster than ``deepcopy``. A string moto rejects is not kept: rejected again.
8. The validator walks the tree ten times; at each node it builds the processor's map of node
   classes and asks ``isinstance`` of abstract classes. The keys of moto's ten processors' maps
   are fixed classes, so the answer is kept per (processor, node) class.
   Items 6 to 8 together, CPU per request (medians of eight alternating runs of 150, two
   sessions): a lease's renewal (UpdateItem ``SET #u = :until`` if ``#o = :owner``) 2.6 and
   3.1 ms, from 3.6 and 4.2 ms; its taking (PutItem with item 6's condition) 2.5 and 2.9 ms,
   from 3.1 and 3.75 ms. Under a profile of the fault-injection suspend test, moto's expression
   work took 0.75 s, from 2.6 s (of 9 s in DynamoDB's handler).
"""

from __future__ import annotations

import copy
import copyreg
import functools
import threading
from typing import Any, NamedTuple

from moto import backends
from moto.core import responses, serialize, utils
from moto.dynamodb.comparisons import ConditionExpressionParser
from moto.dynamodb.models.table import Table
from moto.dynamodb.parsing import ast_nodes, validators
from moto.dynamodb.parsing.expressions import (  # type: ignore[attr-defined]
    UpdateExpressionParser,
)

_MARK = "_devstack_per_request"
_lock = threading.Lock()
_querying = threading.local()
_handlers: dict[tuple[type, int], list[str]] = {}
_names: dict[tuple[Any, ...], tuple[str, ...]] = {}
# Shapes made afresh (an error's, a model's shape_for) would each add entries: start over at this.
_NAMES_KEPT = 20_000
_ALIASES_OF_SHAPES = frozenset(serialize.DEFAULT_ALIAS_PROVIDERS)
_PICKERS = (serialize.AttributePicker, serialize.XFormedAttributePicker)
# Expressions kept per string: a few dozen in the app; a client inventing strings starts over.
_EXPRESSIONS_KEPT = 2_000
_conditions: dict[str, _Condition | None] = {}
_UNSEEN: Any = object()
_updates: dict[str, Any] = {}
_plain_nodes: dict[type, bool] = {}
_ATOMS = frozenset({str, int, float, bool, type(None), type})
# moto's own processors of an update's tree: each ``_processing_map`` is a dict literal whose
# keys are node classes, so the classes a processor processes are those of its class.
_PROCESSORS = frozenset(
    {
        validators.ActionCountValidator,
        validators.OverlappingPathsValidator,
        validators.UpdateHashRangeKeyValidator,
        validators.ExpressionAttributeValueProcessor,
        validators.ExpressionAttributeResolvingProcessor,
        validators.UpdateExpressionFunctionEvaluator,
        validators.NoneExistingPathChecker,
        validators.ExecuteOperations,
        validators.TypeMismatchValidator,
        validators.EmptyStringKeyValueValidator,
    }
)
_processes: dict[tuple[type, type], bool] = {}
_node_kinds: dict[type, bool] = {}


def _modules_once(listing: Any) -> Any:
    modules: tuple[str, ...] | None = None

    @functools.wraps(listing)
    def modules_of_moto() -> tuple[str, ...]:
        nonlocal modules
        if modules is None:
            modules = tuple(listing())
        return modules

    return modules_of_moto


def _unsorted_within_query(all_items: Any) -> Any:
    @functools.wraps(all_items)
    def items(self: Table) -> Any:
        if not getattr(_querying, "active", False):
            return all_items(self)
        if self.range_key_attr:
            return [item for by_range in self.items.values() for item in by_range.values()]
        return list(self.items.values())

    return items


def _picking_unsorted(query: Any) -> Any:
    @functools.wraps(query)
    def picked(self: Table, *args: Any, **kwargs: Any) -> Any:
        outer = getattr(_querying, "active", False)
        _querying.active = True
        try:
            return query(self, *args, **kwargs)
        finally:
            _querying.active = outer

    return picked


def _handler_names(clazz: Any) -> list[str]:
    key = (clazz, sum(len(vars(c)) for c in clazz.__mro__))
    names = _handlers.get(key)
    if names is None:
        names = _handlers[key] = utils.method_names_from_class(clazz)
    return names


def _names_of_dict_members(possible_keys: Any) -> Any:
    @functools.wraps(possible_keys)
    def names(self: serialize.AttributePicker, context: Any) -> Any:
        providers = tuple(self.alias_providers)
        if type(context.obj) is not dict or not _ALIASES_OF_SHAPES.issuperset(providers):
            return possible_keys(self, context)
        shape = context.shape
        # The method is part of the key: XFormed's names extend the base method's for one picker.
        key = (possible_keys, providers, shape, getattr(shape, "parent", None), context.key)
        found = _names.get(key)
        if found is None:
            if len(_names) >= _NAMES_KEPT:
                _names.clear()
            found = _names[key] = tuple(possible_keys(self, context))
        return found

    return names


def _dict_members_picked(get_value: Any) -> Any:
    @functools.wraps(get_value)
    def picked(self: serialize.ResponseSerializer, value: Any, key: str, shape: Any) -> Any:
        picker = self._value_picker
        if (
            type(value) is not dict
            or type(picker) not in _PICKERS
            or picker.response_transformers
            or not _ALIASES_OF_SHAPES.issuperset(picker.alias_providers)
        ):
            return get_value(self, value, key, shape)
        # AttributePicker.__call__ less what goes unread: the context's path and models (the
        # alias classes read the value, shape and key only) and a loop over no transformers.
        context = serialize.AttributePickerContext(obj=value, key=key, shape=shape)
        for name in picker.get_possible_keys(context):
            if "." not in name:
                if name in value:
                    return value[name]
            # utils.get_value walks a dotted name as a path.
            elif (found := utils.get_value(value, name, utils.MISSING)) is not utils.MISSING:
                return found
        return None

    return picked


class _Placeholder:
    """Where a request's ExpressionAttributeNames or ExpressionAttributeValues entry goes."""

    __slots__ = ("lookup", "name")

    def __init__(self, lookup: Any, name: str) -> None:
        self.lookup, self.name = lookup, name


class _Condition(NamedTuple):
    tree: Any  # moto's parse tree with a _Placeholder for each name and value
    placeholders: tuple[_Placeholder, ...]  # in the order moto looks them up
    names_found: tuple[str, ...]
    values_found: tuple[str, ...]


class _ConditionTemplate(ConditionExpressionParser):
    """moto's own parse, with placeholders for what the request's names and values would be."""

    def __init__(self, expression: str) -> None:
        super().__init__(expression, None, None)
        self.placeholders: list[_Placeholder] = []
        self.tree: Any = None

    def _lookup_expression_attribute_value(self, name: str) -> Any:
        return self._placeholder(ConditionExpressionParser._lookup_expression_attribute_value, name)

    def _lookup_expression_attribute_name(self, name: str) -> Any:
        return self._placeholder(ConditionExpressionParser._lookup_expression_attribute_name, name)

    def _placeholder(self, lookup: Any, name: str) -> Any:
        self.placeholders.append(placeholder := _Placeholder(lookup, name))
        return placeholder

    def _make_op_condition(self, node: Any) -> Any:
        self.tree = node  # the last step, the one that reads the values: done per request


def _condition_of(expression: str) -> _Condition | None:
    """The parse of ``expression`` less its names and values; None if moto rejects it."""
    template = _ConditionTemplate(expression)
    try:
        template.parse()
    except Exception:  # noqa: BLE001 - moto's own parse raises it again, request by request
        return None
    return _Condition(
        template.tree,
        tuple(template.placeholders),
        tuple(template.expr_attr_names_found),
        tuple(template.expr_attr_values_found),
    )


def _filled(node: Any, found: dict[_Placeholder, Any]) -> Any:
    value = found[node.value] if type(node.value) is _Placeholder else node.value
    children = [_filled(child, found) for child in node.children]
    return ConditionExpressionParser.Node(node.nonterminal, node.kind, node.text, value, children)


def _conditions_parsed_once(parse: Any) -> Any:
    @functools.wraps(parse)
    def parsed(self: ConditionExpressionParser) -> Any:
        expression = self.condition_expression
        if type(self) is not ConditionExpressionParser or type(expression) is not str:
            return parse(self)
        kept = _conditions.get(expression, _UNSEEN)
        if kept is _UNSEEN:
            if len(_conditions) >= _EXPRESSIONS_KEPT:
                _conditions.clear()
            kept = _conditions[expression] = _condition_of(expression) if expression else None
        if kept is None:  # empty, or an error moto raises again with its own message
            return parse(self)
        # Looked up one by one in moto's order: a missing one fails as it fails in moto.
        found = {
            placeholder: placeholder.lookup(self, placeholder.name)
            for placeholder in kept.placeholders
        }
        self.expr_attr_names_found.extend(kept.names_found)
        self.expr_attr_values_found.extend(kept.values_found)
        return self._make_op_condition(_filled(kept.tree, found))

    return parsed


def _plain(cls: type) -> bool:
    """A node class ``copy.deepcopy`` copies by its ``__dict__`` alone (no hooks of its own)."""
    plain = _plain_nodes.get(cls)
    if plain is None:
        plain = _plain_nodes[cls] = (
            issubclass(cls, ast_nodes.Node)  # type: ignore[attr-defined]
            and cls not in copyreg.dispatch_table
            and not hasattr(cls, "__deepcopy__")
            and not hasattr(cls, "__setstate__")
            and not hasattr(cls, "__slots__")
            and cls.__reduce_ex__ is object.__reduce_ex__
            and cls.__reduce__ is object.__reduce__
            and cls.__getstate__ is object.__getstate__
        )
    return plain


def _copied(value: Any, memo: dict[int, Any] | None = None) -> Any:
    """``copy.deepcopy`` of an expression's tree, its nodes and lists copied directly."""
    if memo is None:
        memo = {}
    kind: Any = type(value)
    if kind in _ATOMS:
        return value
    if (done := memo.get(id(value))) is not None:
        return done
    if kind is list:
        memo[id(value)] = items = []
        for item in value:
            items.append(item if type(item) in _ATOMS else _copied(item, memo))
        return items
    if not _plain(kind):
        return copy.deepcopy(value, memo)
    memo[id(value)] = node = kind.__new__(kind)
    state = node.__dict__
    for name, part in value.__dict__.items():
        state[name] = part if type(part) in _ATOMS else _copied(part, memo)
    return node


def _updates_parsed_once(make: Any) -> Any:
    @functools.wraps(make)
    def parsed(cls: type, expression_str: Any) -> Any:
        if cls is not UpdateExpressionParser or type(expression_str) is not str:
            return make(cls, expression_str)
        tree = _updates.get(expression_str)
        if tree is None:
            tree = make(cls, expression_str)  # an error is raised, and raised again next time
            if len(_updates) >= _EXPRESSIONS_KEPT:
                _updates.clear()
            _updates[expression_str] = tree
        return _copied(tree)  # the request's own: the validator and executor change theirs

    return classmethod(parsed)


def _is_node(kind: type) -> bool:
    found = _node_kinds.get(kind)
    if found is None:
        found = _node_kinds[kind] = issubclass(kind, ast_nodes.Node)  # type: ignore[attr-defined]
    return found


def _processed(processor: Any, kind: type) -> bool:
    found = _processes.get((type(processor), kind))
    if found is None:
        found = _processes[type(processor), kind] = issubclass(
            kind, processor.nodes_to_be_processed()
        )
    return found


def _walked_with_classes_kept(walk: Any) -> Any:
    @functools.wraps(walk)
    def walked(self: Any, node: Any, child_id: int = -1) -> Any:
        """moto's walk, asking once per class what moto asks of each node (``isinstance``)."""
        if type(self) not in _PROCESSORS:
            return walk(self, node, child_id)
        if not _is_node(type(node)):
            return node
        parent_node = node.parent
        if node.children is not None:
            for i, child_node in enumerate(node.children):
                self.pre_processing_of_child(node, i)
                walked(self, child_node, i)
        if _processed(self, type(node)):
            node = self.process(node)
            node.parent = parent_node
            if parent_node:
                parent_node.children[child_id] = node
        return node

    return walked


def apply() -> None:
    """Idempotent: once per process."""
    with _lock:
        if getattr(Table, _MARK, False):
            return
        backends.list_of_moto_modules = _modules_once(backends.list_of_moto_modules)
        Table.all_items = _unsorted_within_query(Table.all_items)  # type: ignore[method-assign]
        Table.query = _picking_unsorted(Table.query)  # type: ignore[method-assign]
        responses.method_names_from_class = _handler_names
        for picker in (serialize.AttributePicker, serialize.XFormedAttributePicker):
            picker.get_possible_keys = _names_of_dict_members(  # type: ignore[method-assign]
                vars(picker)["get_possible_keys"]
            )
        serializer = serialize.ResponseSerializer
        serializer.get_value = _dict_members_picked(serializer.get_value)  # type: ignore[method-assign]
        ConditionExpressionParser.parse = _conditions_parsed_once(  # type: ignore[method-assign]
            ConditionExpressionParser.parse
        )
        UpdateExpressionParser.make = _updates_parsed_once(
            vars(UpdateExpressionParser)["make"].__func__
        )
        validators.deepcopy = _copied  # type: ignore[assignment]
        traverser = ast_nodes.DepthFirstTraverser  # type: ignore[attr-defined]
        traverser.traverse_node_recursively = _walked_with_classes_kept(
            traverser.traverse_node_recursively
        )
        setattr(Table, _MARK, True)
