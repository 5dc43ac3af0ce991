"""Firmware footprint from the ELF (pyelftools) and the linker map: bytes of code, read-only
data, data and bss per component (platform, core, engine, backend, each guest, each model,
libc), against the target's budgets."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from elftools.elf.elffile import ELFFile

_MAP_LINE = re.compile(
    r"^\s*(?:(\S+)\s+)?0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S+\.(?:o|obj|a\(.+\)))$"
)
KINDS = ("text", "rodata", "data", "bss")


@dataclass(frozen=True)
class ImageUsage:
    flash: int  # everything loaded from flash: code, rodata, .data initialisers
    static_ram: int  # .data + .bss (+ TLS)
    stack: int
    heap: int


def _symbols(elf: ELFFile) -> dict[str, tuple[int, int]]:
    table = elf.get_section_by_name(".symtab")
    out: dict[str, tuple[int, int]] = {}
    if table is None:
        return out
    for sym in table.iter_symbols():  # type: ignore[attr-defined]
        out[sym.name] = (int(sym["st_value"]), int(sym["st_size"]))
    return out


def image_usage(elf_path: Path) -> ImageUsage:
    with elf_path.open("rb") as f:
        elf = ELFFile(f)
        syms = _symbols(elf)
        flash = 0
        ram = 0
        stack = 0
        for sec in elf.iter_sections():
            name, size = sec.name, int(sec["sh_size"])
            if not sec["sh_flags"] & 0x2:  # SHF_ALLOC
                continue
            if name == ".stack":
                stack = size
            elif name in (".tbss_space",):
                continue
            elif sec["sh_type"] == "SHT_NOBITS":
                ram += size
            elif name in (".data", ".tdata"):
                ram += size
                flash += size
            else:
                flash += size
    heap = syms.get("__heap_end", (0, 0))[0] - syms.get("__heap_start", (0, 0))[0]
    return ImageUsage(flash, ram, stack, heap)


def _kind(input_section: str) -> str | None:
    s = input_section
    if s.startswith((".text", ".init")):
        return "text"
    if s.startswith((".rodata", ".srodata", ".rdata")):
        return "rodata"
    if s.startswith((".data", ".sdata", ".tdata")):
        return "data"
    if s.startswith((".bss", ".sbss", ".tbss", "COMMON")):
        return "bss"
    return None


def by_component(
    map_file: Path, objects: dict[str, str], models: list[str], elf_path: Path
) -> dict[str, dict[str, int]]:
    """component -> {text, rodata, data, bss} bytes. Objects not in `objects` (libc, libgcc)
    are "libc"; each built-in model array is its own component (`model:<name>`)."""
    totals: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(KINDS, 0))
    pending: str | None = None
    in_memory_map = False
    for line in map_file.read_text(errors="replace").splitlines():
        if line.startswith("Linker script and memory map"):
            in_memory_map = True
            continue
        if not in_memory_map or line.startswith("/DISCARD/"):
            continue
        m = _MAP_LINE.match(line)
        if m is None:
            stripped = line.strip()
            pending = (
                stripped if stripped.startswith((".", "COMMON")) and " " not in stripped else None
            )
            continue
        section = m.group(1) or pending
        pending = None
        if section is None:
            continue
        kind = _kind(section)
        size = int(m.group(3), 16)
        if kind is None or size == 0:
            continue
        obj = m.group(4)
        name = Path(obj.split("(")[0]).name
        component = objects.get(name, "libc" if ".a(" in obj or obj.endswith(".a") else "other")
        totals[component][kind] += size
    # Split the model table into one component per model (static arrays model_<i>).
    with elf_path.open("rb") as f:
        syms = _symbols(ELFFile(f))
    for i, model in enumerate(models):
        size = syms.get(f"model_{i}", (0, 0))[1]
        if size and "models" in totals:
            totals["models"]["rodata"] -= size
            totals[f"model:{model}"]["rodata"] += size
    return {k: dict(v) for k, v in sorted(totals.items())}
