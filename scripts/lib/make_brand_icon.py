"""Draw the integration's brand icon (a gauge with a needle) as PNG files, with no dependencies.

Usage: python scripts/lib/make_brand_icon.py custom_components/ai_performance/brand
Writes icon.png (256 px) and icon@2x.png (512 px), as Home Assistant's brand images expect, and
the same picture as logo.png and logo@2x.png: the integration has no wordmark, and Home Assistant
shows the logo where it has room for one (the integration page, HACS).
"""

import math
from pathlib import Path
import struct
import sys
import zlib

BACKGROUND = (3, 105, 161)  # a calm blue
FOREGROUND = (255, 255, 255)
ACCENT = (250, 204, 21)  # the "hot" end of the gauge
SUPERSAMPLE = 3


def _coverage(x: float, y: float) -> tuple[float, tuple[int, int, int]] | None:
    """Return the colour at (x, y) in a unit square, or None for transparent."""
    cx, cy = x - 0.5, y - 0.5
    # Rounded square background.
    r, half = 0.18, 0.5
    qx, qy = max(abs(cx) - (half - r), 0.0), max(abs(cy) - (half - r), 0.0)
    if math.hypot(qx, qy) > r:
        return None
    gy = cy - 0.08  # the gauge sits a little low
    dist = math.hypot(cx, gy)
    angle = math.degrees(math.atan2(-gy, cx))  # 0 = right, 90 = up
    # Arc from 200 deg (lower left) over the top to -20 deg (lower right).
    sweep = (200 - angle) % 360
    if 0.28 <= dist <= 0.36 and sweep <= 220:
        return (1.0, ACCENT if sweep > 160 else FOREGROUND)
    # Needle from the hub towards 50 degrees, and the hub itself.
    nx, ny = math.cos(math.radians(50)), -math.sin(math.radians(50))
    along = cx * nx + gy * ny
    across = abs(cx * ny - gy * nx)
    if (0 <= along <= 0.27 and across <= 0.028 * (1 - along / 0.3)) or dist <= 0.055:
        return (1.0, FOREGROUND)
    return (1.0, BACKGROUND)


def render(size: int) -> bytes:
    """Return a PNG of the icon, size x size pixels, RGBA."""
    rows = []
    step = 1 / (size * SUPERSAMPLE)
    for py in range(size):
        row = bytearray([0])  # filter type: none
        for px in range(size):
            red = green = blue = alpha = 0.0
            for sy in range(SUPERSAMPLE):
                for sx in range(SUPERSAMPLE):
                    hit = _coverage(
                        (px * SUPERSAMPLE + sx + 0.5) * step,
                        (py * SUPERSAMPLE + sy + 0.5) * step,
                    )
                    if hit is not None:
                        alpha += 1
                        red, green, blue = (
                            red + hit[1][0],
                            green + hit[1][1],
                            blue + hit[1][2],
                        )
            n = SUPERSAMPLE * SUPERSAMPLE
            if alpha:
                row += bytes(
                    (
                        round(red / alpha),
                        round(green / alpha),
                        round(blue / alpha),
                        round(255 * alpha / n),
                    )
                )
            else:
                row += bytes(4)
        rows.append(bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"".join(rows), 9))
        + chunk(b"IEND", b"")
    )


if __name__ == "__main__":
    target = Path(sys.argv[1])
    target.mkdir(parents=True, exist_ok=True)
    for name in ("icon", "logo"):
        (target / f"{name}.png").write_bytes(render(256))
        (target / f"{name}@2x.png").write_bytes(render(512))
