"""A FAKE ESP32 serial bootloader on a pty, for testing `flash` without a board.

It speaks the documented serial protocol of Espressif's ROM loader and flasher stub (esptool's
"Serial Protocol" documentation): SLIP framing (0xC0 ends, 0xDB 0xDC / 0xDB 0xDD escapes),
request `00 op len:u16 chk:u32 data`, response `01 op len:u16 value:u32 data status`, the XOR
checksum seeded with 0xEF over data blocks, and these commands: SYNC, READ_REG / WRITE_REG (a
register file; writes to the SPI peripheral's CMD register run the flash command in USR2 — RDID
and SFDP answer like a real NOR flash), GET_SECURITY_INFO (chip id; the ESP32 ROM answers
"invalid message" as the real one does, so esptool falls back to the magic register),
SPI_ATTACH, SPI_SET_PARAMS, CHANGE_BAUDRATE, MEM_BEGIN/DATA/END (the stub upload: after MEM_END
it greets "OHAI" and answers as the stub from then on, with 2 status bytes instead of the ROM's
4), FLASH_BEGIN/DATA/END, FLASH_DEFL_BEGIN/DATA/END (zlib streams), SPI_FLASH_MD5 (32 hex
characters from the ROM, 16 raw bytes from the stub). Everything is written into a bytearray
that stands for the flash chip (erased = 0xFF).

Chip facts (the ROM's chip id, its magic register value, where its SPI registers are) are taken
from esptool's chip definitions, which is where the documentation's values are kept in code.

`drop_after_writes`: stop answering (the link drops) after that many flash data blocks.
"""

from __future__ import annotations

import hashlib
import os
import select
import struct
import threading
import tty
import zlib
from dataclasses import dataclass, field

from esptool.targets import CHIP_DEFS

SLIP_END, SLIP_ESC, SLIP_ESC_END, SLIP_ESC_ESC = 0xC0, 0xDB, 0xDC, 0xDD
CMD = {
    "FLASH_BEGIN": 0x02,
    "FLASH_DATA": 0x03,
    "FLASH_END": 0x04,
    "MEM_BEGIN": 0x05,
    "MEM_END": 0x06,
    "MEM_DATA": 0x07,
    "SYNC": 0x08,
    "WRITE_REG": 0x09,
    "READ_REG": 0x0A,
    "SPI_SET_PARAMS": 0x0B,
    "SPI_ATTACH": 0x0D,
    "CHANGE_BAUDRATE": 0x0F,
    "FLASH_DEFL_BEGIN": 0x10,
    "FLASH_DEFL_DATA": 0x11,
    "FLASH_DEFL_END": 0x12,
    "SPI_FLASH_MD5": 0x13,
    "GET_SECURITY_INFO": 0x14,
}
OPS = {v: k for k, v in CMD.items()}
INVALID_MESSAGE = 0x05  # ROM error code: "received message is invalid"
CHECKSUM_FAILED = 0x07
MAGIC_REG = 0x40001000
SPI_CMD_USR = 1 << 18
RDID, SFDP = 0x9F, 0x5A
WINBOND = 0xEF


def slip_encode(packet: bytes) -> bytes:
    body = packet.replace(b"\xdb", b"\xdb\xdd").replace(b"\xc0", b"\xdb\xdc")
    return b"\xc0" + body + b"\xc0"


def checksum(data: bytes) -> int:
    c = 0xEF
    for b in data:
        c ^= b
    return c


@dataclass
class FakeRomLoader:
    chip: str  # esptool chip name: esp32, esp32s3, esp32c3
    flash_size: int
    drop_after_writes: int | None = None
    flash: bytearray = field(init=False)
    log: list[str] = field(default_factory=list)  # commands received, in order

    def __post_init__(self) -> None:
        self.flash = bytearray(b"\xff" * self.flash_size)
        self.rom = CHIP_DEFS[self.chip]
        self.stub = False
        self.regs: dict[int, int] = {}
        self.writes = 0
        self.dropped = False
        self._decomp: zlib._Decompress | None = None
        self._write_at = 0
        self._begin_end = 0
        self._master, self._slave = os.openpty()
        tty.setraw(self._master)
        tty.setraw(self._slave)
        self.port = os.ttyname(self._slave)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="fake-rom-loader", daemon=True)

    # ---- lifecycle ----
    def __enter__(self) -> FakeRomLoader:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        os.close(self._master)
        os.close(self._slave)

    # ---- transport ----
    def _serve(self) -> None:
        frame: bytearray | None = None
        escape = False
        while not self._stop.is_set():
            ready, _, _ = select.select([self._master], [], [], 0.05)
            if not ready:
                continue
            try:
                chunk = os.read(self._master, 4096)
            except OSError:
                return
            for b in chunk:
                if b == SLIP_END:
                    if frame:
                        self._handle(bytes(frame))
                    frame = bytearray()
                elif frame is None:
                    continue  # noise before the first delimiter
                elif escape:
                    frame.append({SLIP_ESC_END: SLIP_END, SLIP_ESC_ESC: SLIP_ESC}.get(b, b))
                    escape = False
                elif b == SLIP_ESC:
                    escape = True
                else:
                    frame.append(b)

    def _send(self, packet: bytes) -> None:
        if not self.dropped:
            os.write(self._master, slip_encode(packet))

    def _respond(self, op: int, value: int = 0, data: bytes = b"", error: int = 0) -> None:
        status = bytes([1 if error else 0, error]) + (b"" if self.stub else b"\x00\x00")
        body = data + status
        self._send(struct.pack("<BBHI", 1, op, len(body), value) + body)

    # ---- commands ----
    def _handle(self, frame: bytes) -> None:
        if len(frame) < 8 or frame[0] != 0 or self.dropped:
            return
        _, op, size, chk = struct.unpack("<BBHI", frame[:8])
        data = frame[8 : 8 + size]
        name = OPS.get(op, f"0x{op:02x}")
        self.log.append(name)
        handler = getattr(self, f"_cmd_{name.lower()}", None)
        if handler is None:
            self._respond(op, error=INVALID_MESSAGE)
            return
        handler(op, data, chk)

    def _cmd_sync(self, op: int, data: bytes, chk: int) -> None:
        if data != b"\x07\x07\x12\x20" + b"\x55" * 32:
            return
        for _ in range(8):  # the ROM answers a SYNC eight times; the stub's value is 0
            self._respond(op, value=0 if self.stub else 0x20120707)

    def _cmd_read_reg(self, op: int, data: bytes, chk: int) -> None:
        (addr,) = struct.unpack("<I", data[:4])
        value = self.regs.get(addr, 0)
        if addr == MAGIC_REG and self.rom.USES_MAGIC_VALUE:
            value = self.rom.MAGIC_VALUE
        self._respond(op, value=value)

    def _cmd_write_reg(self, op: int, data: bytes, chk: int) -> None:
        for i in range(0, len(data) - 15, 16):
            addr, value, mask, _ = struct.unpack("<IIII", data[i : i + 16])
            old = self.regs.get(addr, 0)
            self.regs[addr] = (old & ~mask) | (value & mask)
            if addr == self.rom.SPI_REG_BASE and value & SPI_CMD_USR:
                self._spi_command()
        self._respond(op)

    def _spi_command(self) -> None:
        """The SPI peripheral runs the flash command in USR2 at once (a NOR flash chip)."""
        base = self.rom.SPI_REG_BASE
        command = self.regs.get(base + self.rom.SPI_USR2_OFFS, 0) & 0xFF
        capacity = self.flash_size.bit_length() - 1
        if command == RDID:
            w0 = WINBOND | 0x40 << 8 | capacity << 16
        elif command == SFDP:
            w0 = 0x50444653  # "SFDP"
        else:
            w0 = 0
        self.regs[base + self.rom.SPI_W0_OFFS] = w0
        self.regs[base] = self.regs[base] & ~SPI_CMD_USR

    def _cmd_get_security_info(self, op: int, data: bytes, chk: int) -> None:
        if self.rom.USES_MAGIC_VALUE:  # the ESP32 ROM has no such command
            self._respond(op, error=INVALID_MESSAGE)
            return
        info = struct.pack("<IBBBBBBBBII", 0, 0, *([0] * 7), self.rom.IMAGE_CHIP_ID, 0)
        self._respond(op, data=info)

    def _cmd_spi_attach(self, op: int, data: bytes, chk: int) -> None:
        self._respond(op)

    def _cmd_spi_set_params(self, op: int, data: bytes, chk: int) -> None:
        _, total, *_ = struct.unpack("<IIIIII", data[:24])
        self._respond(op, error=0 if total <= self.flash_size else 0x08)

    def _cmd_change_baudrate(self, op: int, data: bytes, chk: int) -> None:
        self._respond(op)  # a pty has no baud rate

    def _cmd_mem_begin(self, op: int, data: bytes, chk: int) -> None:
        self._respond(op)

    def _cmd_mem_data(self, op: int, data: bytes, chk: int) -> None:
        self._respond(op, error=0 if checksum(data[16:]) == chk else CHECKSUM_FAILED)

    def _cmd_mem_end(self, op: int, data: bytes, chk: int) -> None:
        self._respond(op)
        (no_entry, _entry) = struct.unpack("<II", data[:8])
        if no_entry == 0:  # "run the code at entry": the stub starts and greets
            self.stub = True
            self._send(b"OHAI")

    def _begin(self, data: bytes, compressed: bool) -> tuple[int, int]:
        erase_size, _blocks, _block_size, offset = struct.unpack("<IIII", data[:16])
        if offset + erase_size > self.flash_size:
            return offset, 0x06
        end = offset + (erase_size + 0xFFF) // 0x1000 * 0x1000
        self.flash[offset:end] = b"\xff" * (end - offset)
        self._write_at = offset
        self._begin_end = offset + erase_size
        self._decomp = zlib.decompressobj() if compressed else None
        return offset, 0

    def _cmd_flash_begin(self, op: int, data: bytes, chk: int) -> None:
        self._respond(op, error=self._begin(data, False)[1])

    def _cmd_flash_defl_begin(self, op: int, data: bytes, chk: int) -> None:
        self._respond(op, error=self._begin(data, True)[1])

    def _block(self, op: int, data: bytes, chk: int) -> None:
        (size, _seq, _, _) = struct.unpack("<IIII", data[:16])
        block = data[16 : 16 + size]
        if len(block) != size or checksum(block) != chk:
            self._respond(op, error=CHECKSUM_FAILED)
            return
        self.writes += 1
        if self.drop_after_writes is not None and self.writes > self.drop_after_writes:
            self.dropped = True  # the board went away mid-write: nothing more is answered
            return
        out = self._decomp.decompress(block) if self._decomp is not None else block
        out = out[: max(0, self._begin_end - self._write_at)]
        self.flash[self._write_at : self._write_at + len(out)] = out
        self._write_at += len(out)
        self._respond(op)

    def _cmd_flash_data(self, op: int, data: bytes, chk: int) -> None:
        self._block(op, data, chk)

    def _cmd_flash_defl_data(self, op: int, data: bytes, chk: int) -> None:
        self._block(op, data, chk)

    def _cmd_flash_end(self, op: int, data: bytes, chk: int) -> None:
        self._respond(op)

    def _cmd_flash_defl_end(self, op: int, data: bytes, chk: int) -> None:
        self._respond(op)

    def _cmd_spi_flash_md5(self, op: int, data: bytes, chk: int) -> None:
        addr, size, _, _ = struct.unpack("<IIII", data[:16])
        digest = hashlib.md5(self.flash[addr : addr + size])
        self._respond(op, data=digest.digest() if self.stub else digest.hexdigest().encode())
