"""A structural check of TFLite flatbuffers before any backend sees them.

Backends (TFLM especially) may crash the process on malformed bytes, and docs/abi.md asks for
`invalid_encoding` on truncated models, bad offsets or no subgraph. This walks only what that
needs: header, root table, the subgraphs vector and every buffer's data vector.
"""

from __future__ import annotations

import struct

IDENTIFIER = b"TFL3"
# Model table field ids (schema.fbs): 2 = subgraphs, 4 = buffers; Buffer field 0 = data.
_SUBGRAPHS = 2
_BUFFERS = 4
_DATA = 0


class MalformedModel(ValueError):
    pass


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.size = len(data)

    def u32(self, pos: int) -> int:
        self.need(pos, 4)
        return int(struct.unpack_from("<I", self.data, pos)[0])

    def need(self, pos: int, n: int) -> None:
        if pos < 0 or n < 0 or pos + n > self.size:
            raise MalformedModel(f"offset {pos}+{n} is outside the {self.size}-byte model")

    def field(self, table: int, field_id: int) -> int | None:
        """Absolute position of a table field, or None when absent."""
        self.need(table, 4)
        vtable = table - struct.unpack_from("<i", self.data, table)[0]
        self.need(vtable, 4)
        vt_size = struct.unpack_from("<H", self.data, vtable)[0]
        slot = 4 + 2 * field_id
        if slot + 2 > vt_size:
            return None
        self.need(vtable, vt_size)
        off = struct.unpack_from("<H", self.data, vtable + slot)[0]
        return table + off if off else None

    def vector(self, pos: int, elem_size: int) -> tuple[int, int]:
        """(start of elements, count) of the vector referenced at `pos`."""
        start = pos + self.u32(pos)
        count = self.u32(start)
        self.need(start + 4, count * elem_size)
        return start + 4, count

    def table_at(self, pos: int) -> int:
        return pos + self.u32(pos)


def io_counts(model: bytes) -> tuple[int, int]:
    """(inputs, outputs) of the first subgraph of a model that passed `check_tflite`."""
    r = _Reader(model)
    subgraphs = r.field(r.table_at(0), _SUBGRAPHS)
    assert subgraphs is not None
    start, _ = r.vector(subgraphs, 4)
    sg = r.table_at(start)
    counts = []
    for field_id in (1, 2):  # SubGraph.inputs, SubGraph.outputs
        pos = r.field(sg, field_id)
        counts.append(0 if pos is None else r.vector(pos, 4)[1])
    return counts[0], counts[1]


def check_tflite(model: bytes) -> None:
    """Raises MalformedModel with the reason when `model` is not a usable TFLite flatbuffer."""
    if len(model) < 8:
        raise MalformedModel(f"{len(model)} bytes is too short for a flatbuffer")
    if model[4:8] != IDENTIFIER:
        raise MalformedModel(f"file identifier is {model[4:8]!r}, expected {IDENTIFIER!r}")
    r = _Reader(model)
    root = r.table_at(0)
    subgraphs = r.field(root, _SUBGRAPHS)
    if subgraphs is None:
        raise MalformedModel("no subgraphs")
    start, count = r.vector(subgraphs, 4)
    if count == 0:
        raise MalformedModel("no subgraphs")
    for i in range(count):
        r.field(r.table_at(start + 4 * i), 0)
    buffers = r.field(root, _BUFFERS)
    if buffers is not None:
        bstart, bcount = r.vector(buffers, 4)
        for i in range(bcount):
            data = r.field(r.table_at(bstart + 4 * i), _DATA)
            if data is not None:
                r.vector(data, 1)
