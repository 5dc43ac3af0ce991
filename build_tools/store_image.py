"""The data-partition store: guests and models as an append-only list of records (docs/esp32.md).

The ESP-IDF firmware maps the partition with `esp_partition_mmap` and uses every item in place
(models straight from flash, never copied to RAM); uploads at run time are appended as new
records. The format is chosen over a file system (littlefs) because an item must be one
contiguous, aligned run of bytes to be used in place.

Record (all integers little-endian), starting at a 16-byte aligned offset:

| offset | size | field |
|---|---|---|
| 0 | 4 | magic `RTS1` |
| 4 | 1 | kind: 0 module (wasm), 1 model (tflite) |
| 5 | 1 | name length (1..64) |
| 6 | 2 | flags: 0xFFFF live; bit 0 cleared = deleted (flash bits only go 1 -> 0) |
| 8 | 4 | data size in bytes |
| 12 | 4 | CRC-32 (zlib) of bytes 0..5, 8..11 and 16..127 (everything but flags and itself) |
| 16 | 32 | sha256 of the data |
| 48 | 64 | name, zero padded |
| 112 | 16 | reserved, 0xFF |
| 128 | size | data (16-byte aligned: TFLM needs an aligned flatbuffer) |

The list ends at the first offset whose 128 bytes do not hold a record with a valid magic and CRC
(erased flash reads 0xFF). A later live record of the same kind and name shadows an earlier one.
Invariant for run-time appends: the bytes from the end of the list to the next 4 KiB boundary are
erased (0xFF); this image is padded that way.
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from collections.abc import Iterable
from dataclasses import dataclass

from .errors import BuildToolsError

MAGIC = b"RTS1"
HEADER_SIZE = 128
ALIGN = 16
SECTOR = 4096
NAME_MAX = 64
FLAG_LIVE = 0xFFFF
FLAG_DELETED_BIT = 0x0001
KIND_MODULE = 0
KIND_MODEL = 1
KIND_NAMES = {KIND_MODULE: "module", KIND_MODEL: "model"}
_HEAD = struct.Struct("<4sBBHII32s64s16s")
assert _HEAD.size == HEADER_SIZE


class StoreError(BuildToolsError):
    """A store image is malformed or does not fit its partition."""


@dataclass(frozen=True)
class StoreItem:
    kind: int
    name: str
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass(frozen=True)
class StoreRecord:
    offset: int  # of the record header in the partition
    kind: int
    name: str
    size: int
    sha256: str
    live: bool

    @property
    def data_offset(self) -> int:
        return self.offset + HEADER_SIZE


def _align(n: int, a: int) -> int:
    return (n + a - 1) // a * a


def _crc(header: bytes) -> int:
    return zlib.crc32(header[0:6] + header[8:12] + header[16:HEADER_SIZE])


def encode_record(item: StoreItem) -> bytes:
    name = item.name.encode()
    if not 1 <= len(name) <= NAME_MAX:
        raise StoreError(f"store item {item.name!r}: name must be 1..{NAME_MAX} bytes")
    if item.kind not in KIND_NAMES:
        raise StoreError(f"store item {item.name!r}: unknown kind {item.kind}")
    sha = hashlib.sha256(item.data).digest()
    head = bytearray(
        _HEAD.pack(
            MAGIC, item.kind, len(name), FLAG_LIVE, len(item.data), 0, sha, name, b"\xff" * 16
        )
    )
    struct.pack_into("<I", head, 12, _crc(bytes(head)))
    body = bytes(head) + item.data
    return body + b"\xff" * (_align(len(body), ALIGN) - len(body))


def build_image(items: Iterable[StoreItem]) -> bytes:
    """Records for the items, each (kind, sha256) once (content addressing), padded with 0xFF
    to a 4 KiB boundary. A duplicate name of the same kind with different bytes is an error."""
    seen: dict[tuple[int, str], str] = {}
    out = bytearray()
    for item in items:
        key = (item.kind, item.name)
        if key in seen:
            if seen[key] != item.sha256:
                raise StoreError(
                    f"store: two different {KIND_NAMES[item.kind]}s named {item.name!r}"
                )
            continue
        seen[key] = item.sha256
        out += encode_record(item)
    return bytes(out) + b"\xff" * (_align(len(out), SECTOR) - len(out))


def parse_image(image: bytes) -> list[StoreRecord]:
    """Every record up to the end of the list (see the module docstring), deleted ones too."""
    records = []
    off = 0
    while off + HEADER_SIZE <= len(image):
        head = image[off : off + HEADER_SIZE]
        magic, kind, name_len, flags, size, crc, sha, name, _ = _HEAD.unpack(head)
        if magic != MAGIC or crc != _crc(head) or not 1 <= name_len <= NAME_MAX:
            break
        if off + HEADER_SIZE + size > len(image):
            raise StoreError(f"store: record at 0x{off:x} runs past the end of the image")
        records.append(
            StoreRecord(
                off,
                kind,
                name[:name_len].decode(errors="replace"),
                size,
                sha.hex(),
                bool(flags & FLAG_DELETED_BIT),  # bit cleared: deleted
            )
        )
        off = _align(off + HEADER_SIZE + size, ALIGN)
    return records


def read_item(image: bytes, record: StoreRecord) -> bytes:
    data = image[record.data_offset : record.data_offset + record.size]
    if hashlib.sha256(data).hexdigest() != record.sha256:
        raise StoreError(f"store: {record.name!r} at 0x{record.offset:x}: sha256 mismatch")
    return data


def live_items(image: bytes) -> dict[tuple[int, str], bytes]:
    """What the firmware sees: the last live record per (kind, name), sha256-checked."""
    out: dict[tuple[int, str], bytes] = {}
    for r in parse_image(image):
        if r.live:
            out[(r.kind, r.name)] = read_item(image, r)
        else:
            out.pop((r.kind, r.name), None)
    return out


def check_fits(image: bytes, partition_name: str, partition_size: int) -> None:
    if len(image) > partition_size:
        raise StoreError(
            f"data partition {partition_name!r} too small: the guests and models need "
            f"{len(image)} bytes, the partition has {partition_size}",
            hint="raise its size in the target's [flash] partitions, or list fewer models",
        )
