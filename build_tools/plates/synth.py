"""Synthetic licence-plate frames for the plate demo, rendered with Pillow.

A frame is a binary PGM (P5, 8-bit gray) of FRAME_W x FRAME_H: a cluttered, unevenly lit
background with one plate (dark characters on a light plate, format FORMAT) at a random
position, scale, rotation and shear, then blur and noise. Everything comes from
`numpy.random.default_rng([seed, index])`, so a set is the same bytes on every machine with the
pinned Pillow and numpy and the font of the Debian package FONT_PACKAGE.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from ..errors import BuildToolsError

FRAME_W, FRAME_H = 192, 96
ALPHABET = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ"  # the OCR model's classes, in output order
LETTERS = ALPHABET[10:]
FORMAT = "LLDDLLL"  # L letter, D digit (the assembler's default format)
FONT_PACKAGE = "fonts-dejavu-core"
FONT_FILE = Path("/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf")
HELDOUT_SEED = 20261129  # the held-out set; training uses other seeds
RENDER_PX = 48  # glyph size of the upright plate before it is scaled into the frame


@dataclass(frozen=True)
class Plate:
    text: str
    pgm: bytes


def font(size: int = RENDER_PX) -> ImageFont.FreeTypeFont:
    if not FONT_FILE.is_file():
        raise BuildToolsError(
            f"plate font {FONT_FILE} is missing", hint=f"install the Debian package {FONT_PACKAGE}"
        )
    return ImageFont.truetype(str(FONT_FILE), size)


def random_text(rng: np.random.Generator, fmt: str = FORMAT) -> str:
    pools = {"L": LETTERS, "D": ALPHABET[:10]}
    return "".join(
        pools.get(k, ALPHABET)[int(rng.integers(len(pools.get(k, ALPHABET))))] for k in fmt
    )


def _plate_image(text: str, rng: np.random.Generator) -> Image.Image:
    """The upright plate: light paper, dark glyphs, a gap after the fourth character."""
    f = font()
    ink = int(rng.integers(0, 50))
    paper = int(rng.integers(200, 256))
    pitch = int(RENDER_PX * 0.68)
    gap = int(RENDER_PX * 0.45)
    margin_x, margin_y = int(RENDER_PX * 0.35), int(RENDER_PX * 0.28)
    width = 2 * margin_x + pitch * len(text) + gap
    height = 2 * margin_y + int(RENDER_PX * 1.0)
    img = Image.new("L", (width, height), paper)
    draw = ImageDraw.Draw(img)
    x = margin_x
    for i, ch in enumerate(text):
        if i == 4:
            x += gap
        left, top, right, bottom = draw.textbbox((0, 0), ch, font=f)
        cx = x + (pitch - (right - left)) // 2 - left
        cy = margin_y + (RENDER_PX - (bottom - top)) // 2 - top
        draw.text((cx, cy), ch, fill=ink, font=f)
        x += pitch
    return img


def _background(rng: np.random.Generator) -> np.ndarray:
    yy, xx = np.mgrid[0:FRAME_H, 0:FRAME_W].astype(np.float32)
    base = rng.uniform(40, 110)
    gx, gy = rng.uniform(-0.25, 0.25, size=2)
    bg = base + gx * (xx - FRAME_W / 2) + gy * (yy - FRAME_H / 2)
    for _ in range(int(rng.integers(3, 9))):  # clutter: darker and mid-gray blocks
        x0, y0 = int(rng.integers(0, FRAME_W)), int(rng.integers(0, FRAME_H))
        w, h = int(rng.integers(6, 50)), int(rng.integers(4, 30))
        bg[y0 : y0 + h, x0 : x0 + w] = rng.uniform(10, 130)
    return bg


def render(text: str, rng: np.random.Generator) -> np.ndarray:
    """One frame (FRAME_H x FRAME_W uint8) showing `text`."""
    plate = _plate_image(text, rng)
    # Scale to 100-165 px wide, then shear and rotate (the mask marks the plate's pixels).
    width = int(rng.integers(100, 166))
    height = max(8, round(plate.height * width / plate.width))
    plate = plate.resize((width, height), Image.Resampling.LANCZOS)
    mask = Image.new("L", plate.size, 255)
    shear = float(rng.uniform(-0.12, 0.12))
    angle = float(rng.uniform(-4.0, 4.0))
    sw = width + int(abs(shear) * height) + 1
    # output (x, y) samples input (x + shear * y + c, y); c keeps the sheared plate in view
    coeffs = (1.0, shear, -shear * height if shear > 0 else 0.0, 0.0, 1.0, 0.0)
    plate = plate.transform((sw, height), Image.Transform.AFFINE, coeffs, Image.Resampling.BILINEAR)
    mask = mask.transform((sw, height), Image.Transform.AFFINE, coeffs, Image.Resampling.BILINEAR)
    plate = plate.rotate(angle, Image.Resampling.BILINEAR, expand=True)
    mask = mask.rotate(angle, Image.Resampling.BILINEAR, expand=True)
    if plate.width >= FRAME_W - 4 or plate.height >= FRAME_H - 4:
        scale = min((FRAME_W - 6) / plate.width, (FRAME_H - 6) / plate.height)
        size = (int(plate.width * scale), int(plate.height * scale))
        plate = plate.resize(size, Image.Resampling.BILINEAR)
        mask = mask.resize(size, Image.Resampling.BILINEAR)
    x = int(rng.integers(2, FRAME_W - plate.width - 1))
    y = int(rng.integers(2, FRAME_H - plate.height - 1))
    bg = _background(rng)
    p = np.asarray(plate, dtype=np.float32)
    m = np.asarray(mask, dtype=np.float32) / 255.0
    region = bg[y : y + plate.height, x : x + plate.width]
    bg[y : y + plate.height, x : x + plate.width] = region * (1 - m) + p * m
    # Lighting: a gain ramp across the frame and an offset.
    yy, xx = np.mgrid[0:FRAME_H, 0:FRAME_W].astype(np.float32)
    gain = rng.uniform(0.65, 1.1) + rng.uniform(-0.25, 0.25) * (xx / FRAME_W - 0.5)
    gain += rng.uniform(-0.15, 0.15) * (yy / FRAME_H - 0.5)
    frame = bg * gain + rng.uniform(-15, 15)
    img = Image.fromarray(np.clip(frame, 0, 255).astype(np.uint8))
    img = img.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.0, 0.9))))
    noisy = np.asarray(img, dtype=np.float32) + rng.normal(0, rng.uniform(0, 7), img.size[::-1])
    return np.clip(np.rint(noisy), 0, 255).astype(np.uint8)


def pgm(pixels: np.ndarray) -> bytes:
    h, w = pixels.shape
    return f"P5\n{w} {h}\n255\n".encode() + pixels.astype(np.uint8).tobytes()


def plate(seed: int, index: int) -> Plate:
    rng = np.random.default_rng([seed, index])
    text = random_text(rng)
    return Plate(text, pgm(render(text, rng)))


def plate_set(count: int, seed: int = HELDOUT_SEED) -> list[Plate]:
    """`count` plates of the set `seed` (the same bytes every time)."""
    return [plate(seed, i) for i in range(count)]
