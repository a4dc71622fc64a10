"""Draw the trainee app's icons (192 and 512 px PNG) with Pillow: a white voucher with a QR-like
mark on the theme colour, kept inside the maskable safe zone (the central 80 %).

    python pwa/icons/make_icons.py
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

HERE = Path(__file__).resolve().parent
THEME = (21, 101, 192)  # #1565c0, as manifest.webmanifest's theme_color
SIZES = (192, 512)
# A 7×7 finder-like pattern per corner and a few data modules: looks like a QR code, reads as none.
DATA_MODULES = [(9, 1), (11, 3), (9, 5), (12, 9), (10, 11), (14, 12), (9, 13), (13, 14), (11, 9), (14, 10)]


def draw(size: int) -> Image.Image:
    image = Image.new("RGB", (size, size), THEME)
    d = ImageDraw.Draw(image)
    unit = size / 24
    card = (4 * unit, 4 * unit, 20 * unit, 20 * unit)
    d.rounded_rectangle(card, radius=2 * unit, fill="white")
    module = 12 * unit / 16
    x0, y0 = 6 * unit, 6 * unit

    def cell(cx: float, cy: float, w: float = 1, h: float = 1, fill=THEME) -> None:
        d.rectangle((x0 + cx * module, y0 + cy * module, x0 + (cx + w) * module - 1,
                     y0 + (cy + h) * module - 1), fill=fill)

    for fx, fy in ((0, 0), (9, 0), (0, 9)):
        cell(fx, fy, 7, 7)
        cell(fx + 1, fy + 1, 5, 5, "white")
        cell(fx + 2, fy + 2, 3, 3)
    for mx, my in DATA_MODULES:
        cell(mx, my)
    return image


def main() -> None:
    for size in SIZES:
        draw(size).save(HERE / f"icon-{size}.png", optimize=True)
        print(f"icon-{size}.png")


if __name__ == "__main__":
    main()
