"""tau-bench's ``calculate`` tool, without ``eval``: the same arithmetic, the same strings."""

from __future__ import annotations

import ast
import operator

_ALLOWED = set("0123456789+-*/(). ")
_BINOPS = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Pow: operator.pow,
}  # fmt: skip
_UNARY = {ast.UAdd: operator.pos, ast.USub: operator.neg}


def _eval(node: ast.AST) -> float:
    if isinstance(node, ast.Expression):
        return _eval(node.body)
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        return _BINOPS[type(node.op)](_eval(node.left), _eval(node.right))
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_eval(node.operand))
    raise ValueError("unsupported expression")


def calculate(expression: str) -> str:
    if not all(char in _ALLOWED for char in expression):
        return "Error: invalid characters in expression"
    try:
        tree = compile(expression, "<string>", "eval", ast.PyCF_ONLY_AST)
        return str(round(float(_eval(tree)), 2))
    except Exception as exc:  # the tool reports any failure as a string
        return f"Error: {exc}"
