"""Runs the ESP-IDF tools' own parsers on generated files and prints the findings as JSON.

Run by the tests with two interpreters: the project venv (idf-component-manager 3.x,
esp-idf-kconfig 3.x) and the small extra venv ci/setup.sh makes with the 2.x lines that
PlatformIO's espressif32 platform pins. Standard library + those packages only.

    python check_generated.py manifest SRC_DIR
    python check_generated.py kconfig TOP_KCONFIG SDKCONFIG_DEFAULTS
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import io
import json
import re
import sys

_UNDEFINED = re.compile(r"undefined symbol (\w+)")


def manifest(src_dir: str) -> dict[str, object]:
    from idf_component_tools.manager import ManifestManager

    mm = ManifestManager(src_dir, name="main")
    errors = [str(e) for e in (mm.validation_errors or [])] if not mm.is_valid else []
    deps: list[str] = []
    if not errors:
        m = mm.load()
        deps = sorted(d.name for d in m.requirements)
    return {
        "version": importlib.metadata.version("idf-component-manager"),
        "valid": not errors,
        "errors": errors,
        "dependencies": deps,
    }


def kconfig(top: str, defaults: str) -> dict[str, object]:
    try:
        import esp_kconfiglib as kconfiglib  # esp-idf-kconfig 3.x
    except ImportError:
        import kconfiglib  # esp-idf-kconfig 2.x names the module kconfiglib

    kc = kconfiglib.Kconfig(top)
    kc.warn_assign_undef = True
    out = io.StringIO()
    with contextlib.redirect_stderr(out), contextlib.redirect_stdout(out):
        kc.load_config(defaults, replace=False)
    text = out.getvalue() + "\n".join(kc.warnings)
    warnings = [
        w for w in text.splitlines() if re.search(r"warning|invalid|ignored|error", w, re.I)
    ]
    undefined = sorted({m.group(1) for w in warnings if (m := _UNDEFINED.search(w))})
    other = [w for w in warnings if not _UNDEFINED.search(w)]
    values = {s.name: s.str_value for s in kc.unique_defined_syms}
    return {
        "version": importlib.metadata.version("esp-idf-kconfig"),
        "undefined": undefined,
        "other_warnings": other,
        "values": values,
    }


if __name__ == "__main__":
    what, *args = sys.argv[1:]
    result = manifest(*args) if what == "manifest" else kconfig(*args)
    print(json.dumps(result))
