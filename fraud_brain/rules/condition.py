"""Rule conditions: a small SQL-like language parsed by our own parser into an allow-listed tree.

A condition such as ``score >= 0.9 AND amount >= 5000`` is tokenized and parsed here (never
``eval``, never a SQL engine) into a tree of a few node kinds — columns, literals, arithmetic,
comparisons, ``AND``/``OR``/``NOT``, ``IN`` lists, ``BETWEEN``, ``IS [NOT] NULL``, ``LIKE``,
``CASE``, ``EXTRACT`` and a named set of row-wise functions — and only that tree is turned into
a polars expression. There is no way to name a table, a file, a sub-query or a function outside
the allow-list, so a condition cannot read or write anything outside the frame it runs on.
Every column must exist in the scored frame's schema, the condition must type-check and give
one Boolean per event; a rule decides about one event, so aggregates and window functions do
not exist in the language. Nulls count as "no hit" when evaluated. Errors name the offending
token of the condition and never echo any data.

>>> import polars as pl
>>> schema = pl.Schema({"score": pl.Float64, "amount": pl.Float64})
>>> expr = compile_condition("score >= 0.9 AND amount >= 5000", schema)
>>> pl.DataFrame({"score": [0.95, 0.95], "amount": [9000.0, 10.0]}).select(expr).to_series().to_list()
[True, False]
>>> compile_condition("score > avg(score)", schema)
Traceback (most recent call last):
...
fraud_brain.rules.condition.ConditionError: aggregate 'avg' is not allowed: a condition decides about one event,
not the batch
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import polars as pl

from fraud_brain.errors import ConfigError

if TYPE_CHECKING:
    from polars._typing import PolarsDataType

MAX_CONDITION_CHARS = 4_000
"""Longer conditions are almost surely a mistake (or an attempt to smuggle something in)."""
MAX_DEPTH = 40
"""Deepest nesting of parentheses and operators a condition may have."""
MAX_IN_ITEMS = 1_000
"""Longest IN list."""


class ConditionError(ConfigError):
    """A condition that does not parse, names unknown columns, or is not a row-wise boolean."""


_AGGREGATES = {"avg", "sum", "count", "min", "max", "mean", "median", "stddev", "variance", "first", "last",
               "array_agg", "string_agg", "bool_and", "bool_or", "any_value", "quantile"}
_WINDOWS = {"rank", "dense_rank", "row_number", "lag", "lead", "ntile", "percent_rank", "cume_dist",
            "first_value", "last_value", "nth_value"}
_EXTRACT = {"hour": "hour", "minute": "minute", "day": "day", "month": "month", "year": "year",
            "dow": "weekday", "weekday": "weekday"}


def _unary(fn: Callable[[pl.Expr], pl.Expr]) -> Callable[[list[pl.Expr]], pl.Expr]:
    return lambda args: fn(args[0])


# name → (min args, max args (None: any), argument kinds, result kind, builder)
_FUNCTIONS: dict[str, tuple[int, int | None, str, str, Callable[[list[pl.Expr]], pl.Expr]]] = {
    "coalesce": (1, None, "same", "same", lambda a: pl.coalesce(a)),
    "greatest": (1, None, "number", "number", lambda a: pl.max_horizontal(a)),
    "least": (1, None, "number", "number", lambda a: pl.min_horizontal(a)),
    "abs": (1, 1, "number", "number", _unary(lambda x: x.abs())),
    "round": (1, 2, "number", "number", lambda a: a[0].round(0)),
    "floor": (1, 1, "number", "number", _unary(lambda x: x.floor())),
    "ceil": (1, 1, "number", "number", _unary(lambda x: x.ceil())),
    "sqrt": (1, 1, "number", "number", _unary(lambda x: x.sqrt())),
    "ln": (1, 1, "number", "number", _unary(lambda x: x.log())),
    "lower": (1, 1, "string", "string", _unary(lambda x: x.cast(pl.String).str.to_lowercase())),
    "upper": (1, 1, "string", "string", _unary(lambda x: x.cast(pl.String).str.to_uppercase())),
    "length": (1, 1, "string", "number", _unary(lambda x: x.cast(pl.String).str.len_chars())),
    "starts_with": (2, 2, "string", "bool", lambda a: a[0].cast(pl.String).str.starts_with(a[1])),
    "ends_with": (2, 2, "string", "bool", lambda a: a[0].cast(pl.String).str.ends_with(a[1])),
    "contains": (2, 2, "string", "bool", lambda a: a[0].cast(pl.String).str.contains(a[1], literal=True)),
    "array_length": (1, 1, "list", "number", _unary(lambda x: x.list.len())),
}
"""The named functions a condition may call: each works on one event's values."""

_KEYWORDS = {"and", "or", "not", "in", "between", "is", "null", "true", "false", "like", "ilike", "case", "when",
             "then", "else", "end", "extract", "from"}
_TOKEN = re.compile(
    r"\s*(?:(?P<number>\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)"
    r"|(?P<string>'(?:[^']|'')*')"
    r"|(?P<quoted>\"(?:[^\"]|\"\")+\")"
    r"|(?P<name>[A-Za-z_][A-Za-z_0-9]*)"
    r"|(?P<op><=|>=|<>|!=|==|[-+*/%(),=<>])"
    r"|(?P<bad>\S))"
)


@dataclass(frozen=True)
class Token:
    """One token of a condition: its kind (number, string, name, keyword, op, end) and text."""

    kind: str
    text: str
    at: int


def tokenize(text: str) -> list[Token]:
    """The tokens of a condition, or a :class:`ConditionError` at the first character that is none.

    >>> [t.text for t in tokenize("score >= 0.9 AND name = 'O''Brien'")]
    ['score', '>=', '0.9', 'and', 'name', '=', "'O''Brien'", '']
    >>> tokenize("score > 1; drop")
    Traceback (most recent call last):
    ...
    fraud_brain.rules.condition.ConditionError: cannot parse: unexpected character ';' at position 9
    """
    tokens: list[Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:  # only white space is left
            break
        kind = match.lastgroup or "bad"
        value = match.group(kind)
        start = match.start(kind)
        if kind == "bad":
            raise ConditionError(f"cannot parse: unexpected character {value!r} at position {start}")
        if kind == "name" and value.lower() in _KEYWORDS:
            kind, value = "keyword", value.lower()
        tokens.append(Token(kind, value, start))
        position = match.end()
    tokens.append(Token("end", "", len(text)))
    return tokens


# The parsed tree: tuples (kind, ...) — plain data, easy to walk, compare and compile.
Node = tuple[Any, ...]


class _Parser:
    """Recursive descent over the tokens; the grammar is in :func:`parse_condition`."""

    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.i = 0
        self.depth = 0

    def peek(self, offset: int = 0) -> Token:
        return self.tokens[min(self.i + offset, len(self.tokens) - 1)]

    def take(self) -> Token:
        token = self.tokens[self.i]
        self.i = min(self.i + 1, len(self.tokens) - 1)
        return token

    def at_keyword(self, *words: str) -> bool:
        token = self.peek()
        return token.kind == "keyword" and token.text in words

    def expect(self, kind: str, text: str | None = None) -> Token:
        token = self.take()
        if token.kind != kind or (text is not None and token.text != text):
            wanted = repr(text) if text is not None else kind
            raise ConditionError(f"cannot parse: expected {wanted} at position {token.at}, found {_shown(token)}")
        return token

    def nested(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ConditionError(f"condition is nested deeper than {MAX_DEPTH} levels")

    def condition(self) -> Node:
        node = self.or_()
        token = self.peek()
        if token.kind != "end":
            raise ConditionError(f"cannot parse: unexpected {_shown(token)} at position {token.at}")
        return node

    def or_(self) -> Node:
        self.nested()
        node = self.and_()
        while self.at_keyword("or"):
            self.take()
            node = ("or", node, self.and_())
        self.depth -= 1
        return node

    def and_(self) -> Node:
        node = self.not_()
        while self.at_keyword("and"):
            self.take()
            node = ("and", node, self.not_())
        return node

    def not_(self) -> Node:
        if self.at_keyword("not"):
            self.take()
            self.nested()
            node = ("not", self.not_())
            self.depth -= 1
            return node
        return self.predicate()

    def predicate(self) -> Node:
        left = self.additive()
        token = self.peek()
        if token.kind == "op" and token.text in ("=", "==", "!=", "<>", "<", "<=", ">", ">="):
            self.take()
            op = {"==": "=", "<>": "!="}.get(token.text, token.text)
            return ("compare", op, left, self.additive())
        negated = False
        if self.at_keyword("not") and self.peek(1).kind == "keyword" and self.peek(1).text in ("in", "between", "like",
                                                                                              "ilike"):
            self.take()
            negated = True
        if self.at_keyword("in"):
            self.take()
            node: Node = ("in", left, self.in_list())
        elif self.at_keyword("between"):
            self.take()
            low = self.additive()
            self.expect("keyword", "and")
            node = ("between", left, low, self.additive())
        elif self.at_keyword("like", "ilike"):
            case = self.take().text
            pattern = self.expect("string")
            node = ("like", left, _unquote(pattern.text), case == "ilike")
        elif self.at_keyword("is") and not negated:
            self.take()
            is_not = self.at_keyword("not")
            if is_not:
                self.take()
            self.expect("keyword", "null")
            return ("is_null", left, is_not)
        else:
            return left
        return ("not", node) if negated else node

    def in_list(self) -> tuple[Any, ...]:
        self.expect("op", "(")
        if self.at_keyword("select") or (self.peek().kind == "name" and self.peek().text.lower() == "select"):
            raise ConditionError("sub-query is not allowed: a condition decides about one event, not the batch")
        values = [self.literal()]
        while self.peek().kind == "op" and self.peek().text == ",":
            self.take()
            values.append(self.literal())
            if len(values) > MAX_IN_ITEMS:
                raise ConditionError(f"an IN list may hold at most {MAX_IN_ITEMS} values")
        self.expect("op", ")")
        return tuple(values)

    def literal(self) -> Any:
        token = self.take()
        sign = 1
        if token.kind == "op" and token.text == "-":
            sign, token = -1, self.take()
        if token.kind == "number":
            return sign * _number(token.text)
        if sign == 1 and token.kind == "string":
            return _unquote(token.text)
        if sign == 1 and token.kind == "keyword" and token.text in ("true", "false", "null"):
            return {"true": True, "false": False, "null": None}[token.text]
        raise ConditionError(
            f"cannot parse: an IN list holds literal values, found {_shown(token)} at position {token.at}")

    def additive(self) -> Node:
        node = self.term()
        while self.peek().kind == "op" and self.peek().text in ("+", "-"):
            op = self.take().text
            node = ("arith", op, node, self.term())
        return node

    def term(self) -> Node:
        node = self.unary()
        while self.peek().kind == "op" and self.peek().text in ("*", "/", "%"):
            op = self.take().text
            node = ("arith", op, node, self.unary())
        return node

    def unary(self) -> Node:
        if self.peek().kind == "op" and self.peek().text == "-":
            self.take()
            self.nested()
            node = ("neg", self.unary())
            self.depth -= 1
            return node
        return self.primary()

    def primary(self) -> Node:
        token = self.take()
        if token.kind == "number":
            return ("lit", _number(token.text))
        if token.kind == "string":
            return ("lit", _unquote(token.text))
        if token.kind == "quoted":
            return ("col", token.text[1:-1].replace('""', '"'), token.at)
        if token.kind == "keyword":
            if token.text in ("true", "false", "null"):
                return ("lit", {"true": True, "false": False, "null": None}[token.text])
            if token.text == "case":
                return self.case()
            if token.text == "extract":
                return self.extract()
        if token.kind == "op" and token.text == "(":
            if self.peek().kind == "name" and self.peek().text.lower() == "select":
                raise ConditionError("sub-query is not allowed: a condition decides about one event, not the batch")
            self.nested()
            node = self.or_()
            self.depth -= 1
            self.expect("op", ")")
            return node
        if token.kind == "name":
            if self.peek().kind == "op" and self.peek().text == "(":
                return self.call(token)
            name = token.text
            if name.lower() in ("select", "exists", "with"):
                raise ConditionError("sub-query is not allowed: a condition decides about one event, not the batch")
            return ("col", name, token.at)
        raise ConditionError(f"cannot parse: unexpected {_shown(token)} at position {token.at}")

    def call(self, name_token: Token) -> Node:
        name = name_token.text.lower()
        if name in _AGGREGATES:
            raise ConditionError(
                f"aggregate {name!r} is not allowed: a condition decides about one event, not the batch")
        if name in _WINDOWS:
            raise ConditionError(f"window function {name!r} is not allowed: a condition decides about one event, "
                                 f"not the batch")
        if name in ("exists", "select"):
            raise ConditionError("sub-query is not allowed: a condition decides about one event, not the batch")
        if name not in _FUNCTIONS:
            close = difflib.get_close_matches(name, list(_FUNCTIONS), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else f"; functions: {', '.join(sorted(_FUNCTIONS))}"
            raise ConditionError(f"function {name!r} is not allowed{hint}")
        self.expect("op", "(")
        self.nested()
        args: list[Node] = []
        if not (self.peek().kind == "op" and self.peek().text == ")"):
            args.append(self.or_())
            while self.peek().kind == "op" and self.peek().text == ",":
                self.take()
                args.append(self.or_())
        self.depth -= 1
        self.expect("op", ")")
        if self.peek().kind == "name" and self.peek().text.lower() == "over":
            raise ConditionError("window function is not allowed: a condition decides about one event, not the batch")
        low, high = _FUNCTIONS[name][:2]
        if len(args) < low or (high is not None and len(args) > high):
            count = str(low) if low == high else f"{low} or more" if high is None else f"{low} to {high}"
            raise ConditionError(f"function {name!r} takes {count} argument(s), got {len(args)}")
        return ("call", name, tuple(args))

    def case(self) -> Node:
        branches: list[tuple[Node, Node]] = []
        self.nested()
        while self.at_keyword("when"):
            self.take()
            test = self.or_()
            self.expect("keyword", "then")
            branches.append((test, self.or_()))
        if not branches:
            token = self.peek()
            raise ConditionError(
                f"cannot parse: CASE needs WHEN ... THEN ..., found {_shown(token)} at position {token.at}")
        otherwise: Node = ("lit", None)
        if self.at_keyword("else"):
            self.take()
            otherwise = self.or_()
        self.expect("keyword", "end")
        self.depth -= 1
        return ("case", tuple(branches), otherwise)

    def extract(self) -> Node:
        self.expect("op", "(")
        part = self.take()
        field = part.text.lower()
        if part.kind not in ("name", "keyword") or field not in _EXTRACT:
            raise ConditionError(f"EXTRACT takes one of {', '.join(_EXTRACT)}, found {_shown(part)}")
        self.expect("keyword", "from")
        node = self.additive()
        self.expect("op", ")")
        return ("extract", field, node)


def _shown(token: Token) -> str:
    return "the end of the condition" if token.kind == "end" else repr(token.text)


def _number(text: str) -> int | float:
    return float(text) if any(c in text for c in ".eE") else int(text)


def _unquote(text: str) -> str:
    return text[1:-1].replace("''", "'")


def parse_condition(text: str) -> Node:
    """Parse a condition into its tree (no schema needed); :class:`ConditionError` when it is not one.

    Grammar (keywords in any case)::

        condition  := or
        or         := and (OR and)*            and := not (AND not)*
        not        := NOT not | predicate
        predicate  := sum [ (= | != | <> | < | <= | > | >=) sum | [NOT] IN (literal, ...)
                          | [NOT] BETWEEN sum AND sum | [NOT] LIKE 'pattern' | [NOT] ILIKE 'pattern'
                          | IS [NOT] NULL ]
        sum        := product ((+ | -) product)*     product := unary ((* | / | %) unary)*
        unary      := - unary | primary
        primary    := number | 'string' | TRUE | FALSE | NULL | column | "quoted column"
                    | function(args) | ( or ) | CASE WHEN or THEN or ... [ELSE or] END
                    | EXTRACT(hour|minute|day|month|year|dow FROM sum)

    >>> parse_condition("amount BETWEEN 1 AND 2")
    ('between', ('col', 'amount', 0), ('lit', 1), ('lit', 2))
    >>> parse_condition("score IN (SELECT 1)")
    Traceback (most recent call last):
    ...
    fraud_brain.rules.condition.ConditionError: sub-query is not allowed: a condition decides about one event,
    not the batch
    """
    if not isinstance(text, str) or not text.strip():
        raise ConditionError("condition is empty")
    if len(text) > MAX_CONDITION_CHARS:
        raise ConditionError(f"condition is {len(text)} characters long; at most {MAX_CONDITION_CHARS}")
    return _Parser(text).condition()


def _children(node: Node) -> list[Node]:
    """The sub-trees of a node (literal values of an IN list are not sub-trees)."""
    kind = node[0]
    if kind in ("or", "and", "compare", "arith"):
        return [node[-2], node[-1]]
    if kind in ("not", "in", "like", "is_null", "neg"):
        return [node[1]]
    if kind == "between":
        return [node[1], node[2], node[3]]
    if kind == "call":
        return list(node[2])
    if kind == "case":
        return [part for branch in node[1] for part in branch] + [node[2]]
    if kind == "extract":
        return [node[2]]
    return []


def _columns(node: Node) -> Iterator[tuple[str, int]]:
    """Every column the tree names, with its position in the condition."""
    if node[0] == "col":
        yield node[1], node[2]
    for child in _children(node):
        yield from _columns(child)


def _kind(dtype: pl.DataType | None) -> str:
    """The coarse kind of a dtype for type checks: number, string, bool, time, list, null or other."""
    if dtype is None or dtype == pl.Null:
        return "null"
    if dtype.is_numeric():
        return "number"
    if dtype == pl.Boolean:
        return "bool"
    if dtype in (pl.String, pl.Categorical) or isinstance(dtype, pl.Enum):
        return "string"
    if isinstance(dtype, pl.Datetime) or dtype in (pl.Date, pl.Time, pl.Duration):
        return "time"
    if isinstance(dtype, pl.List | pl.Array):
        return "list"
    return "other"


class _Compiler:
    """Tree → polars expression, checking columns, types and category values on the way."""

    def __init__(self, schema: pl.Schema) -> None:
        self.schema = schema

    def kind_of(self, node: Node) -> str:
        if node[0] == "col":
            return _kind(self.schema.get(node[1]))
        if node[0] == "lit":
            value = node[1]
            return ("null" if value is None else "bool" if isinstance(value, bool)
                    else "number" if isinstance(value, int | float) else "string")
        if node[0] in ("or", "and", "not", "compare", "in", "between", "like", "is_null"):
            return "bool"
        if node[0] in ("arith", "neg", "extract"):
            return "number"
        if node[0] == "call":
            result = _FUNCTIONS[node[1]][3]
            return self.kind_of(node[2][0]) if result == "same" else result
        if node[0] == "case":
            kinds = {self.kind_of(value) for _, value in node[1]} | {self.kind_of(node[2])}
            kinds.discard("null")
            return kinds.pop() if len(kinds) == 1 else "other"
        return "other"

    def need(self, node: Node, kinds: tuple[str, ...], what: str) -> None:
        kind = self.kind_of(node)
        if kind not in (*kinds, "null"):
            raise ConditionError(f"does not type-check: {what} needs {' or '.join(kinds)}, got {kind} "
                                 f"({_describe(node)})")

    def enum_check(self, column: Node, values: list[Any]) -> None:
        if column[0] != "col":
            return
        dtype = self.schema.get(column[1])
        if not isinstance(dtype, pl.Enum):
            return
        categories = dtype.categories.to_list()
        for value in values:
            if isinstance(value, str) and value not in categories:
                raise ConditionError(f"{value!r} is not a value of {column[1]} (values: {', '.join(categories)})")

    def compile(self, node: Node) -> pl.Expr:
        kind = node[0]
        if kind == "col":
            return pl.col(node[1])
        if kind == "lit":
            return pl.lit(node[1])
        if kind in ("or", "and"):
            for part in node[1:]:
                self.need(part, ("bool",), kind.upper())
            left, right = self.compile(node[1]), self.compile(node[2])
            return left | right if kind == "or" else left & right
        if kind == "not":
            self.need(node[1], ("bool",), "NOT")
            return ~self.compile(node[1])
        if kind == "compare":
            _, op, left, right = node
            self.comparable(left, right, op)
            for a, b in ((left, right), (right, left)):
                if b[0] == "lit":
                    self.enum_check(a, [b[1]])
            lhs, rhs = self.compile(left), self.compile(right)
            return {"=": lhs.eq, "!=": lhs.ne, "<": lhs.lt, "<=": lhs.le, ">": lhs.gt, ">=": lhs.ge}[op](rhs)
        if kind == "in":
            _, left, values = node
            kinds = {("null" if v is None else self.kind_of(("lit", v))) for v in values} - {"null"}
            for value_kind in kinds:
                self.comparable(left, ("lit", _example(value_kind)), "IN")
            self.enum_check(left, list(values))
            present = [v for v in values if v is not None]
            return self.compile(left).is_in(pl.Series(present, dtype=self.in_dtype(left, present)))
        if kind == "between":
            _, value, low, high = node
            self.comparable(value, low, "BETWEEN")
            self.comparable(value, high, "BETWEEN")
            for bound in (low, high):
                if bound[0] == "lit":
                    self.enum_check(value, [bound[1]])
            return self.compile(value).is_between(self.compile(low), self.compile(high))
        if kind == "like":
            _, value, pattern, insensitive = node
            self.need(value, ("string",), "LIKE")
            regex = "^" + "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern) + "$"
            return self.compile(value).cast(pl.String).str.contains(("(?is)" if insensitive else "(?s)") + regex)
        if kind == "is_null":
            expr = self.compile(node[1])
            return expr.is_not_null() if node[2] else expr.is_null()
        if kind == "arith":
            _, op, left, right = node
            self.need(left, ("number",), f"'{op}'")
            self.need(right, ("number",), f"'{op}'")
            lhs, rhs = self.compile(left), self.compile(right)
            return {"+": lhs.add, "-": lhs.sub, "*": lhs.mul, "/": lhs.truediv, "%": lhs.mod}[op](rhs)
        if kind == "neg":
            self.need(node[1], ("number",), "'-'")
            return -self.compile(node[1])
        if kind == "call":
            return self.call(node[1], node[2])
        if kind == "case":
            branches, otherwise = node[1], node[2]
            chain: Any = None
            for test, value in branches:
                self.need(test, ("bool",), "WHEN")
                chain = (pl.when(self.compile(test)) if chain is None else chain.when(self.compile(test))).then(
                    self.compile(value))
            result: pl.Expr = chain.otherwise(self.compile(otherwise))
            return result
        if kind == "extract":
            _, field, value = node
            self.need(value, ("time",), "EXTRACT")
            expr = self.compile(value)
            extracted: pl.Expr = getattr(expr.dt, _EXTRACT[field])()
            return extracted.cast(pl.Int32)
        raise ConditionError(f"cannot compile a {kind!r} node")

    def call(self, name: str, args: tuple[Node, ...]) -> pl.Expr:
        argument_kind = _FUNCTIONS[name][2]
        if argument_kind == "same":
            kinds = {self.kind_of(a) for a in args} - {"null"}
            if len(kinds) > 1:
                raise ConditionError(f"does not type-check: {name}() mixes {', '.join(sorted(kinds))}")
        else:
            for arg in args[:1] if name in ("starts_with", "ends_with", "contains") else args:
                self.need(arg, (argument_kind,), f"{name}()")
        if name in ("starts_with", "ends_with", "contains"):
            if args[1][0] != "lit" or not isinstance(args[1][1], str):
                raise ConditionError(f"{name}() takes a quoted text as its second argument")
            return _FUNCTIONS[name][4]([self.compile(args[0]), args[1][1]])  # type: ignore[list-item]
        if name == "round" and len(args) == 2:
            if args[1][0] != "lit" or not isinstance(args[1][1], int):
                raise ConditionError("round() takes a whole number of decimals as its second argument")
            return self.compile(args[0]).round(args[1][1])
        return _FUNCTIONS[name][4]([self.compile(a) for a in args])

    def comparable(self, left: Node, right: Node, op: str) -> None:
        kinds = {self.kind_of(left), self.kind_of(right)} - {"null"}
        if len(kinds) > 1 and kinds != {"number", "bool"}:
            compared = " with ".join(self.kind_of(n) for n in (left, right))
            raise ConditionError(f"does not type-check: {op} compares {compared} "
                                 f"({_describe(left)} {op} {_describe(right)})")
        if kinds & {"list", "other"}:
            raise ConditionError(f"does not type-check: {op} cannot compare {kinds.pop()} values")

    def in_dtype(self, left: Node, values: list[Any]) -> PolarsDataType | None:
        dtype = self.schema.get(left[1]) if left[0] == "col" else None
        if dtype is not None and _kind(dtype) == "string":
            return pl.String if not isinstance(dtype, pl.Enum) else dtype
        if all(isinstance(v, bool) for v in values):
            return pl.Boolean
        if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
            return pl.Float64 if any(isinstance(v, float) for v in values) or _kind(dtype) == "number" else pl.Int64
        return None


def _example(kind: str) -> Any:
    return {"number": 0, "string": "", "bool": True}.get(kind)


def _describe(node: Node) -> str:
    """A short name for a tree node in messages (the rule author's own words, no data)."""
    if node[0] == "col":
        return str(node[1])
    if node[0] == "lit":
        return repr(node[1])
    if node[0] == "call":
        return f"{node[1]}(...)"
    return str(node[0])


def _probe_values(dtype: PolarsDataType) -> list[Any]:
    """Two ordinary non-null values of a dtype (one of them awkward: a non-numeric string, a 0)."""
    if dtype.is_integer():
        return [0, 1]
    if dtype.is_float() or dtype.is_decimal():
        return [0.0, 1.5]
    if dtype == pl.Boolean:
        return [True, False]
    if dtype == pl.String or dtype == pl.Categorical:
        return ["0", "x"]
    if isinstance(dtype, pl.Enum):
        categories = dtype.categories.to_list()
        return [categories[0], categories[-1]] if categories else [None, None]
    if isinstance(dtype, pl.Datetime):
        return [0, 86_400_000_000]
    if dtype == pl.Date:
        return [0, 20_000]
    if isinstance(dtype, pl.List):
        return [[], [v for v in _probe_values(dtype.inner) if v is not None][:1]]
    return [None, None]


def _probe_frame(schema: pl.Schema, names: set[str]) -> pl.DataFrame:
    """Three rows of the named columns: all null, then ordinary values, to catch type errors at load."""
    columns = []
    for name, dtype in schema.items():
        if name not in names:
            continue
        try:
            values = _probe_values(dtype)
            if isinstance(dtype, pl.Datetime | pl.Date):
                physical = pl.Int32 if dtype == pl.Date else pl.Int64
                series = pl.Series(name, [None, *values], dtype=pl.Int64).cast(physical).cast(dtype)
            else:
                series = pl.Series(name, [None, *values], dtype=dtype)
        except Exception:  # an exotic dtype: nulls still check names and types
            series = pl.Series(name, [None, None, None], dtype=dtype)
        columns.append(series)
    return pl.DataFrame(columns)


def compile_condition(text: str, schema: pl.Schema) -> pl.Expr:
    """Parse and check a condition against the scored frame's schema; return the polars expression.

    >>> schema = pl.Schema({"score": pl.Float64, "caller": pl.String})
    >>> compile_condition("score > 0.5 AND caller LIKE '+882%'", schema).meta.root_names()
    ['score', 'caller']
    >>> compile_condition("scroe > 0.5", schema)
    Traceback (most recent call last):
    ...
    fraud_brain.rules.condition.ConditionError: unknown column 'scroe' (did you mean 'score'?)
    >>> compile_condition("score * 2", schema)
    Traceback (most recent call last):
    ...
    fraud_brain.rules.condition.ConditionError: condition gives Float64, not Boolean (true/false)
    """
    tree = parse_condition(text)
    named = list(_columns(tree))
    for name, _ in named:
        if name not in schema:
            close = difflib.get_close_matches(name, schema.names(), n=1)
            hint = f"did you mean {close[0]!r}?" if close else "columns: " + ", ".join(sorted(schema.names()))
            raise ConditionError(f"unknown column {name!r} ({hint})")
    if not named:
        raise ConditionError("condition refers to no column, so it would be the same for every event")
    expr = _Compiler(schema).compile(tree)
    # The tree is ours and type-checked; running it on three probe rows catches what polars
    # itself would refuse at run time (e.g. a cast it cannot make) while the rules load.
    try:
        probe = _probe_frame(schema, {name for name, _ in named}).select(expr)
    except Exception as error:  # any polars refusal is the condition's fault
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ConditionError(f"does not type-check: {first}") from None
    dtype = probe.schema.dtypes()[0]
    if dtype != pl.Boolean:
        raise ConditionError(f"condition gives {dtype}, not Boolean (true/false)")
    return expr
