"""Renders runtime_c/nn/builtin/nnb_opnames.c (operator names for error messages) from the
TFLite schema's BuiltinOperator enum:  python -m tests.nn_builtin.gen_opnames"""

from __future__ import annotations

from build_tools.paths import repo_root
from tests.nn_builtin.tflite_gen import schema

TARGET = repo_root() / "runtime_c" / "nn" / "builtin" / "nnb_opnames.c"


def names() -> dict[int, str]:
    enum = schema().BuiltinOperator
    return {v: k for k, v in vars(enum).items() if not k.startswith("_")}


def render() -> str:
    ops = names()
    n = max(ops) + 1
    lines = [
        "/* Generated from the TFLite schema's BuiltinOperator enum (names only).",
        " * Regenerate: python -m tests.nn_builtin.gen_opnames */",
        '#include "nnb_internal.h"',
        "",
        f"static const char *const nnb_op_names[{n}] = {{",
        *[f'    "{ops.get(i, "UNKNOWN")}",' for i in range(n)],
        "};",
        "",
        "const char *nnb_op_name(int32_t code) {",
        "    if (code < 0 || code >= (int32_t)(sizeof(nnb_op_names) / sizeof(nnb_op_names[0])))",
        '        return "UNKNOWN";',
        "    return nnb_op_names[code];",
        "}",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    TARGET.write_text(render())
