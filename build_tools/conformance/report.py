"""Suite reports: JUnit XML for CI, and a case x target markdown matrix from several JSON results."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from .runner import SuiteResult

MARKS = {"passed": "pass", "failed": "**FAIL**", "skipped": "skip"}


def junit_xml(result: SuiteResult) -> str:
    suite = ET.Element(
        "testsuite",
        name=f"conformance.{result.target}",
        tests=str(len(result.cases)),
        failures=str(result.count("failed")),
        skipped=str(result.count("skipped")),
        time=f"{sum(c.seconds for c in result.cases):.3f}",
    )
    for c in result.cases:
        tc = ET.SubElement(
            suite,
            "testcase",
            classname=f"conformance.{result.target}",
            name=c.id,
            time=f"{c.seconds:.3f}",
        )
        if c.ram_high_water is not None:
            props = ET.SubElement(tc, "properties")
            ET.SubElement(props, "property", name="ram_high_water", value=str(c.ram_high_water))
        if c.status == "failed":
            ET.SubElement(tc, "failure", message=c.detail[:500]).text = c.detail
        elif c.status == "skipped":
            ET.SubElement(tc, "skipped", message=c.detail[:500])
    return ET.tostring(suite, encoding="unicode", xml_declaration=True)


def kib(n: int) -> str:
    return f"{n / 1024:.1f} KiB"


def markdown_matrix(results: list[dict[str, Any]]) -> str:
    """Rows are case ids, columns targets; cells pass / FAIL / skip (details as footnote-free
    hover text is not possible in markdown, so skips keep their reason in the JSON only), with
    the case's RAM high-water in KiB where the device reported it."""
    targets = [r["target"] for r in results]
    ids: list[str] = []
    cells: dict[tuple[str, str], str] = {}
    for r in results:
        for c in r["cases"]:
            if c["id"] not in ids:
                ids.append(c["id"])
            cell = MARKS.get(c["status"], c["status"])
            if c.get("ram_high_water") is not None:
                cell += f" ({kib(c['ram_high_water'])})"
            cells[(c["id"], r["target"])] = cell
    lines = [
        "| case | " + " | ".join(targets) + " |",
        "|---|" + "---|" * len(targets),
    ]
    for cid in ids:
        lines.append(f"| {cid} | " + " | ".join(cells.get((cid, t), "-") for t in targets) + " |")
    totals = [f"{r['passed']}/{r['passed'] + r['failed'] + r['skipped']}" for r in results]
    lines.append("| **passed** | " + " | ".join(totals) + " |")
    return "\n".join(lines) + "\n"


def load_results(paths: list[Path]) -> list[dict[str, Any]]:
    return [json.loads(p.read_text(encoding="utf-8")) for p in paths]
