"""A tiny, safe expression language for feature filters and values (no ``eval``).

Grammar (lowest precedence first)::

    expr    := or
    or      := and ("or" and)*
    and     := not ("and" not)*
    not     := "not" not | compare
    compare := sum (("=="|"!="|"<"|"<="|">"|">=") sum)? | sum "in" "(" literal ("," literal)* ")"
    sum     := product (("+"|"-") product)*
    product := unary (("*"|"/") unary)*
    unary   := "-" unary | atom
    atom    := NUMBER | STRING | "true" | "false" | NAME | NAME "(" expr ("," expr)* ")" | "(" expr ")"

Functions: ``min(a, b)``, ``max(a, b)``, ``abs(x)``, ``log1p(x)``, ``coalesce(x, default)``,
``if(cond, a, b)``, ``is_null(column)``. Names are event columns, columns joined from reference
data, the built-ins ``hour``/``weekday`` (local time of the event) or features computed earlier
for the same event. Missing numbers are NaN; any comparison with NaN is false.

>>> parse("duration_s >= 1200 and disposition == 'answered'")[0]
'and'
>>> parse("duration_s >= 1200")
('cmp', '>=', ('name', 'duration_s'), ('num', 1200.0))
>>> parse("caller_type in ('voip', 'international')")
('in', ('name', 'caller_type'), ('voip', 'international'))
"""

from __future__ import annotations

import re
from typing import Any

from fraud_brain.errors import ConfigError

Node = tuple[Any, ...]
"""An AST node: a tuple whose first item is the node kind."""

_TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)"
    r"|(?P<str>'[^']*'|\"[^\"]*\")"
    r"|(?P<name>[A-Za-z_][A-Za-z_0-9]*)"
    r"|(?P<op>==|!=|<=|>=|<|>|\+|-|\*|/|\(|\)|,))"
)
_KEYWORDS = {"and", "or", "not", "in", "true", "false"}
FUNCTIONS = {"min": 2, "max": 2, "abs": 1, "log1p": 1, "coalesce": 2, "if": 3, "is_null": 1}
"""Function name → number of arguments."""


class ExprError(ConfigError):
    """A syntax or name error in an expression, with the position of the problem (also a ValueError)."""


def _tokens(text: str) -> list[tuple[str, str, int]]:
    out: list[tuple[str, str, int]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise ExprError(f"unexpected character {text[pos:].strip()[:1]!r} at column {pos + 1} in {text!r}")
        group = match.lastgroup or ""
        value = match.group(group)
        kind = "kw" if group == "name" and value in _KEYWORDS else group
        out.append((kind, value, match.start(group) + 1))
        pos = match.end()
    out.append(("end", "", len(text) + 1))
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = _tokens(text)
        self.i = 0

    def peek(self) -> tuple[str, str, int]:
        return self.toks[self.i]

    def take(self) -> tuple[str, str, int]:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def fail(self, what: str) -> ExprError:
        kind, value, col = self.peek()
        found = "end of expression" if kind == "end" else repr(value)
        return ExprError(f"expected {what} at column {col}, found {found} in {self.text!r}")

    def expect(self, value: str) -> None:
        if self.peek()[1] != value or self.peek()[0] in ("str",):
            raise self.fail(repr(value))
        self.take()

    def parse(self) -> Node:
        node = self.or_()
        if self.peek()[0] != "end":
            raise self.fail("an operator or end of expression")
        return node

    def or_(self) -> Node:
        node = self.and_()
        while self.peek()[:2] == ("kw", "or"):
            self.take()
            node = ("or", node, self.and_())
        return node

    def and_(self) -> Node:
        node = self.not_()
        while self.peek()[:2] == ("kw", "and"):
            self.take()
            node = ("and", node, self.not_())
        return node

    def not_(self) -> Node:
        if self.peek()[:2] == ("kw", "not"):
            self.take()
            return ("not", self.not_())
        return self.compare()

    def compare(self) -> Node:
        left = self.sum_()
        kind, value, _ = self.peek()
        if kind == "op" and value in ("==", "!=", "<", "<=", ">", ">="):
            self.take()
            return ("cmp", value, left, self.sum_())
        if (kind, value) == ("kw", "in"):
            self.take()
            self.expect("(")
            items = [self.literal()]
            while self.peek()[1] == ",":
                self.take()
                items.append(self.literal())
            self.expect(")")
            return ("in", left, tuple(items))
        return left

    def literal(self) -> str | float:
        kind, value, _ = self.peek()
        if kind == "str":
            self.take()
            return value[1:-1]
        if kind == "num":
            self.take()
            return float(value)
        raise self.fail("a string or number literal")

    def sum_(self) -> Node:
        node = self.product()
        while self.peek()[0] == "op" and self.peek()[1] in ("+", "-"):
            op = self.take()[1]
            node = ("bin", op, node, self.product())
        return node

    def product(self) -> Node:
        node = self.unary()
        while self.peek()[0] == "op" and self.peek()[1] in ("*", "/"):
            op = self.take()[1]
            node = ("bin", op, node, self.unary())
        return node

    def unary(self) -> Node:
        if self.peek()[:2] == ("op", "-"):
            self.take()
            return ("neg", self.unary())
        return self.atom()

    def atom(self) -> Node:
        kind, value, col = self.peek()
        if kind == "num":
            self.take()
            return ("num", float(value))
        if kind == "str":
            self.take()
            return ("str", value[1:-1])
        if kind == "kw" and value in ("true", "false"):
            self.take()
            return ("num", 1.0 if value == "true" else 0.0)
        if kind == "name":
            self.take()
            if self.peek()[1] != "(":
                return ("name", value)
            if value not in FUNCTIONS:
                raise ExprError(f"unknown function {value!r} at column {col} in {self.text!r}; "
                                f"known: {', '.join(sorted(FUNCTIONS))}")
            self.take()
            args = [self.or_()]
            while self.peek()[1] == ",":
                self.take()
                args.append(self.or_())
            self.expect(")")
            if len(args) != FUNCTIONS[value]:
                raise ExprError(f"{value}() takes {FUNCTIONS[value]} argument(s), got {len(args)} in {self.text!r}")
            return ("call", value, tuple(args))
        if (kind, value) == ("op", "("):
            self.take()
            node = self.or_()
            self.expect(")")
            return node
        raise self.fail("a number, string, name or '('")


def parse(text: str) -> Node:
    """Parse an expression into a tuple AST, raising :class:`ExprError` on bad syntax.

    >>> parse("1 + 2 * x")
    ('bin', '+', ('num', 1.0), ('bin', '*', ('num', 2.0), ('name', 'x')))
    """
    return _Parser(text).parse()


def names(node: Node) -> set[str]:
    """Every name an expression refers to.

    >>> sorted(names(parse("max(a, b) > c or is_null(d)")))
    ['a', 'b', 'c', 'd']
    """
    kind = node[0]
    if kind == "name":
        return {node[1]}
    if kind in ("num", "str"):
        return set()
    if kind == "call":
        return set().union(*(names(arg) for arg in node[2]))
    if kind == "in":
        return names(node[1])
    if kind == "cmp" or kind == "bin":
        return names(node[2]) | names(node[3])
    return set().union(*(names(child) for child in node[1:] if isinstance(child, tuple)))
