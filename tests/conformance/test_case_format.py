"""The case format (tests/conformance/README.md) is checked on load: a typo is an error naming
file, case and key, never a step that silently passes."""

from __future__ import annotations

from pathlib import Path

import pytest

from build_tools.conformance.cases import CaseError, load_cases

CALL_KEYS = (
    "args, call, expect, expect_exit, expect_message, expect_min, expect_status, instance, "
    "repeat, save"
)


def _load(tmp_path: Path, body: str) -> list:  # type: ignore[type-arg]
    (tmp_path / "t.toml").write_text(f'[[case]]\nid = "x"\nguest = "hello"\n{body}')
    return load_cases(tmp_path)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            'step = [{ call = "trap", args = [], expect_stauts = "trap" }]',
            f"t.toml: case 'x': step 1 (call): unknown key 'expect_stauts' (allowed: {CALL_KEYS})",
        ),
        (
            'step = [{ call = "trap", expect_status = "trapped" }]',
            "t.toml: case 'x': step 1 (call): expect_status 'trapped' is not one of "
            "ok, trap, timeout, exit, error",
        ),
        (
            'step = [{ call = "nn_compute", args = [0], expect = "not_fuond" }]',
            "t.toml: case 'x': step 1 (call): expect 'not_fuond' is neither an integer nor a "
            "wasi-nn error name (success, invalid_argument, invalid_encoding, missing_memory, "
            "busy, runtime_error, unsupported_operation, too_large, not_found)",
        ),
        (
            'requries = { models = ["m"] }\nstep = [{ call = "add" }]',
            "t.toml: case 'x': case: unknown key 'requries' (allowed: buffer, description, "
            "guest, id, requires, step, tolerance)",
        ),
        (
            'requires = { model = ["m"] }\nstep = [{ call = "add" }]',
            "t.toml: case 'x': requires: unknown key 'model' (allowed: memory_kib, models)",
        ),
        (
            'buffer = [{ name = "b", synthetic = { count = 1, sead = 2 } }]\nstep = [{ call = "add" }]',
            "t.toml: case 'x': buffer 'b' synthetic: unknown key 'sead' (allowed: count, seed)",
        ),
        (
            'buffer = [{ name = "b", zeros = 4, fromat = true }]\nstep = [{ call = "add" }]',
            "t.toml: case 'x': buffer 'b': unknown key 'fromat' (allowed: name, zeros)",
        ),
        (
            'step = [{ read = "b", expect_hxe = "00" }]',
            "t.toml: case 'x': step 1 (read): unknown key 'expect_hxe' (allowed: expect_hex, "
            "expect_image, expect_output, expect_u32, read, save)",
        ),
        (
            'step = [{ read = "b", expect_image = { input = "f", ops = [["rotat", 1]] } }]',
            "t.toml: case 'x': step 1 (read) expect_image: op ['rotat', 1] is not one of "
            "['crop', 4 args], ['resize', 3 args], ['rotate', 1 args], ['convert', 1 args]",
        ),
        (
            'step = [{ read = "b", expect_image = { input = "f", ops = [["crop", 1, 2]] } }]',
            "t.toml: case 'x': step 1 (read) expect_image: op ['crop', 1, 2] is not one of "
            "['crop', 4 args], ['resize', 3 args], ['rotate', 1 args], ['convert', 1 args]",
        ),
        (
            'step = [{ read = "b", expect_image = { inptu = "f" } }]',
            "t.toml: case 'x': step 1 (read) expect_image: unknown key 'inptu' (allowed: input, ops)",
        ),
        (
            'buffer = [{ name = "b", pixels = { width = 1, height = 1, format = "rgb", seed = 1 } }]'
            '\nstep = [{ call = "add" }]',
            "t.toml: case 'x': buffer 'b': format must be one of gray8, rgb888, yuv422",
        ),
        (
            'step = [{ compare = ["var:a", "=>", 1] }]',
            "t.toml: case 'x': step 1 (compare): compare needs [left, op, right], op one of "
            "('>', '<', '==', '!=', '>=')",
        ),
    ],
    ids=[
        "step-key-typo",
        "status-typo",
        "error-name-typo",
        "case-key-typo",
        "requires-key-typo",
        "buffer-table-typo",
        "buffer-key-typo",
        "read-key-typo",
        "image-op-typo",
        "image-op-arity",
        "expect-image-key-typo",
        "pixels-format-typo",
        "compare-op",
    ],
)
def test_malformed_case_is_named(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(CaseError) as e:
        _load(tmp_path, body)
    assert str(e.value) == message


def test_error_names_resolve_to_the_abi_codes(tmp_path: Path) -> None:
    (case,) = _load(
        tmp_path,
        'step = [{ call = "nn_compute", args = [0], expect = "not_found" },'
        ' { call = "nn_compute", args = [0], expect = "success" }, { call = "add", expect = 8 }]',
    )
    assert [s["expect"] for s in case.steps] == [8, 0, 8]


def test_shipped_cases_name_their_wasi_nn_errors() -> None:
    """Every nn_* call of the suite spells its expected code as a name (checked in the text)."""
    text = "".join(p.read_text() for p in sorted(Path(__file__).parent.glob("cases/*.toml")))
    assert 'expect = "not_found"' in text
    for line in text.splitlines():
        if 'call = "nn_' in line and "expect = " in line:
            assert 'expect = "' in line, line
