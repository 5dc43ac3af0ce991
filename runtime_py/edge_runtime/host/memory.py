"""Bounds-checked access to one guest's linear memory during one host call.

A view is made per host call (memory can grow and move between calls) as a numpy array over the
store's memory: reads are slices, not copies, and writes go straight into the guest.
"""

from __future__ import annotations

import ctypes

import numpy as np

U32_MAX = 0xFFFFFFFF


class OutOfBounds(Exception):
    pass


class GuestMemory:
    __slots__ = ("bytes", "mv", "size")

    def __init__(self, data: np.ndarray) -> None:
        self.bytes = data  # uint8, the whole linear memory
        self.mv = data.data  # the same bytes: cheaper to slice, compare and copy
        self.size = int(data.shape[0])

    @classmethod
    def from_pointer(cls, ptr: ctypes._Pointer[ctypes.c_ubyte], size: int) -> GuestMemory:
        if size == 0:
            return cls(np.zeros(0, np.uint8))
        return cls(np.ctypeslib.as_array(ptr, shape=(size,)))

    def ok(self, ptr: int, n: int) -> bool:
        # Python ints do not overflow, so `ptr + n` is the true end (docs/abi.md section 2).
        return ptr >= 0 and n >= 0 and ptr + n <= self.size

    def check(self, ptr: int, n: int) -> None:
        if not self.ok(ptr, n):
            raise OutOfBounds(f"[{ptr:#x}, +{n}) is outside the {self.size}-byte memory")

    def view(self, ptr: int, n: int) -> np.ndarray:
        self.check(ptr, n)
        return self.bytes[ptr : ptr + n]

    def u32(self, ptr: int) -> int:
        self.check(ptr, 4)
        return int(self.bytes[ptr : ptr + 4].view("<u4")[0])

    def u32s(self, ptr: int, count: int) -> np.ndarray:
        return self.view(ptr, 4 * count).view("<u4")

    def write(self, ptr: int, data: bytes | np.ndarray) -> None:
        raw = np.frombuffer(data, np.uint8) if isinstance(data, bytes) else data.view(np.uint8)
        n = int(raw.size)
        self.check(ptr, n)
        self.bytes[ptr : ptr + n] = raw.reshape(-1)

    def write_u32(self, ptr: int, value: int) -> None:
        self.check(ptr, 4)
        self.bytes[ptr : ptr + 4].view("<u4")[0] = value & U32_MAX

    def write_u64(self, ptr: int, value: int) -> None:
        self.check(ptr, 8)
        self.bytes[ptr : ptr + 8].view("<u8")[0] = value & 0xFFFFFFFFFFFFFFFF
