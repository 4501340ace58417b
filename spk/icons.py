"""Render SynoChatGPT's icon as PNG files of any size, with the standard library only.

The same drawing as app/static/icon.svg (a blue rounded square with a white speech bubble and
three dots), rasterised with 4x4 supersampling so small sizes stay smooth. DSM needs PNGs:
PACKAGE_ICON.PNG (64), PACKAGE_ICON_256.PNG and the main-menu sizes 16…256.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

BLUE = (37, 99, 235)
WHITE = (255, 255, 255)
SAMPLES = 4
DSM_SIZES = (16, 24, 32, 48, 64, 72, 256)


def _in_round_rect(x: float, y: float, box: tuple[float, float, float, float], r: float) -> bool:
    left, top, right, bottom = box
    if not (left <= x <= right and top <= y <= bottom):
        return False
    cx = min(max(x, left + r), right - r)
    cy = min(max(y, top + r), bottom - r)
    return (x - cx) ** 2 + (y - cy) ** 2 <= r * r


def _in_tail(x: float, y: float) -> bool:
    """The bubble's tail: the triangle (20,44) (30,44) (20,52) in the 64-unit drawing."""
    return x >= 20 and 44 <= y <= 52 and (x - 20) / 10 + (y - 44) / 8 <= 1


def _colour_at(x: float, y: float) -> tuple[int, int, int, int]:
    """The drawing in a 64×64 space: RGBA at one point."""
    if not _in_round_rect(x, y, (0, 0, 64, 64), 14):
        return (0, 0, 0, 0)
    for cx in (23, 32, 41):
        if (x - cx) ** 2 + (y - 31) ** 2 <= 9:
            return (*BLUE, 255)
    if _in_round_rect(x, y, (10, 18, 54, 44), 4) or _in_tail(x, y):
        return (*WHITE, 255)
    return (*BLUE, 255)


def render(size: int) -> bytes:
    """RGBA rows of the icon at size×size."""
    scale = 64 / size
    rows = bytearray()
    for py in range(size):
        rows.append(0)  # PNG filter type: none
        for px in range(size):
            total = [0, 0, 0, 0]
            for sy in range(SAMPLES):
                for sx in range(SAMPLES):
                    x = (px + (sx + 0.5) / SAMPLES) * scale
                    y = (py + (sy + 0.5) / SAMPLES) * scale
                    r, g, b, a = _colour_at(x, y)
                    total[0] += r * a
                    total[1] += g * a
                    total[2] += b * a
                    total[3] += a
            alpha = total[3]
            if alpha:
                rows += bytes((total[0] // alpha, total[1] // alpha, total[2] // alpha, alpha // SAMPLES**2))
            else:
                rows += b"\0\0\0\0"
    return bytes(rows)


def png(size: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(render(size), 9))
        + chunk(b"IEND", b"")
    )


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's header (for the package checks)."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise ValueError("not a PNG file")
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def write_all(folder: Path) -> dict[int, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for size in sorted({*DSM_SIZES, 64, 256}):
        path = folder / f"icon-{size}.png"
        path.write_bytes(png(size))
        written[size] = path
    return written
