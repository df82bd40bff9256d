"""tau-bench's ``calculate`` tool, without ``eval``: the same arithmetic, the same strings,
within bounds.

tau-bench evaluates the expression with Python's ``eval`` after checking its characters, so
``9**9**9`` computes a number of ~370 million digits and never returns. Here the expression is
walked on its AST, an integer power whose result would exceed :data:`MAX_INT_BITS` bits is
refused before it is computed (any such result is beyond what ``float()`` accepts, so the
official tool could only have answered with an overflow error, had it ever finished), and so
is an expression longer than :data:`MAX_EXPRESSION_CHARS`. Everything within the bounds gives
the official string.
"""

from __future__ import annotations

import ast
import operator

_ALLOWED = set("0123456789+-*/(). ")
_BINOPS = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Pow: operator.pow,
}  # fmt: skip
_UNARY = {ast.UAdd: operator.pos, ast.USub: operator.neg}
MAX_INT_BITS = 1 << 16  # 65,536 bits: far past float's range (1,024 bits), fast to compute
MAX_EXPRESSION_CHARS = 10_000


class _TooLarge(OverflowError):
    pass


def _call(node: ast.Call) -> None:
    """A call evaluates as CPython does (the callee, the arguments in order, unpacking checked
    with CPython's messages), then fails: no value these characters spell is callable."""
    func = _eval(node.func)
    late = None
    if len(node.args) == 1 and isinstance(node.args[0], ast.Starred):
        value = _eval(node.args[0].value)
        if not isinstance(value, tuple):  # checked at the call, after the ** arguments
            late = f"{func!r} argument after * must be an iterable, not {type(value).__name__}"
    else:
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                value = _eval(arg.value)
                if not isinstance(value, tuple):
                    raise TypeError(f"Value after * must be an iterable, not "
                                    f"{type(value).__name__}")  # fmt: skip
            else:
                _eval(arg)
    for keyword in node.keywords:  # only **x: no names can be spelled
        value = _eval(keyword.value)
        raise TypeError(f"{func!r} argument after ** must be a mapping, not "
                        f"{type(value).__name__}")  # fmt: skip
    if late is not None:
        raise TypeError(late)
    raise TypeError(f"'{type(func).__name__}' object is not callable")


def _pow(base: object, exp: object) -> object:
    big = isinstance(base, int) and isinstance(exp, int) and exp > 0 and abs(base) > 1
    if big and (abs(base).bit_length() - 1) * exp > MAX_INT_BITS:
        raise _TooLarge("int too large to convert to float")
    return operator.pow(base, exp)


def _mul(a: object, b: object) -> object:
    ints = isinstance(a, int) and isinstance(b, int)
    if ints and abs(a).bit_length() + abs(b).bit_length() > MAX_INT_BITS + 2:
        raise _TooLarge("int too large to convert to float")
    return operator.mul(a, b)


def _eval(node: ast.AST) -> object:
    """What ``eval`` computes for the nodes the allowed characters can spell: numbers and
    ``...``, the empty tuple ``()``, arithmetic, and calls (``(1)(2)``: nothing is callable)."""
    if isinstance(node, ast.Expression):
        return _eval(node.body)
    if isinstance(node, ast.Constant):  # int, float or Ellipsis
        return node.value
    if isinstance(node, ast.Tuple) and not node.elts:
        return ()
    if isinstance(node, ast.Call):
        _call(node)
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        left, right = _eval(node.left), _eval(node.right)
        if isinstance(node.op, ast.Pow):
            return _pow(left, right)
        if isinstance(node.op, ast.Mult):
            return _mul(left, right)
        return _BINOPS[type(node.op)](left, right)
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_eval(node.operand))
    raise ValueError("unsupported expression")


def calculate(expression: str) -> str:
    if not isinstance(expression, str):
        return "Error: expression must be a string"
    if not all(char in _ALLOWED for char in expression):
        return "Error: invalid characters in expression"
    if len(expression) > MAX_EXPRESSION_CHARS:
        return f"Error: expression longer than {MAX_EXPRESSION_CHARS} characters"
    try:
        # eval() drops leading spaces and tabs from a source string before parsing it
        tree = compile(expression.lstrip(" \t"), "<string>", "eval", ast.PyCF_ONLY_AST)
        return str(round(float(_eval(tree)), 2))
    except Exception as exc:  # the tool reports any failure as a string
        return f"Error: {exc}"
