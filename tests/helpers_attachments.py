"""Test files made on the spot with Pillow: photos with EXIF (GPS and capture time), bad files of every kind."""

from __future__ import annotations

import io

from PIL import Image

GPS_IFD, EXIF_IFD = 0x8825, 0x8769
PDF_WITH_JS = (
    b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R /OpenAction 3 0 R >>\nendobj\n"
    b"2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n"
    b"3 0 obj\n<< /S /JavaScript /JS (app.alert('pwned');) >>\nendobj\n"
    b"trailer\n<< /Root 1 0 R >>\n%%EOF\n"
)
PHP = b"<?php system($_GET['cmd']); ?>\n"


def photo(
    width: int = 640,
    height: int = 480,
    *,
    fmt: str = "JPEG",
    taken: str | None = "2026:11:25 14:30:05",
    gps: bool = True,
    comment: bytes = b"",
) -> bytes:
    """A photo as a phone makes it: EXIF capture time and a GPS position (Shanghai), optionally a comment."""
    image = Image.new("RGB", (width, height), (40, 120, 200))
    for x in range(0, width, 16):  # some detail, so the thumbnail is a picture
        image.putpixel((x, height // 2), (255, 255, 0))
    exif = Image.Exif()
    if taken:
        exif[0x0132] = taken
        exif.get_ifd(EXIF_IFD)[0x9003] = taken
    if gps:
        exif.get_ifd(GPS_IFD).update({1: "N", 2: (31.0, 13.0, 30.0), 3: "E", 4: (121.0, 26.0, 40.0)})
    out = io.BytesIO()
    if fmt == "JPEG":
        image.save(out, format="JPEG", exif=exif, quality=85, comment=comment or None)
    else:
        image.save(out, format=fmt, exif=exif)
    return out.getvalue()


def decompression_bomb_png() -> bytes:
    """A small PNG (about 12 KB) that decodes to 100 million pixels: 1-bit, all black."""
    out = io.BytesIO()
    Image.new("1", (10_000, 10_000)).save(out, format="PNG")
    return out.getvalue()


def padded_photo(total_bytes: int) -> bytes:
    """A valid JPEG grown to ``total_bytes`` with bytes after its end (a camera's maker data does the same)."""
    content = photo(gps=False)
    return content + b"\0" * (total_bytes - len(content))


def heic_photo() -> bytes:
    """A HEIC photo (pillow-heif's encoder)."""
    from pillow_heif import register_heif_opener

    register_heif_opener()
    out = io.BytesIO()
    Image.new("RGB", (320, 240), (200, 80, 40)).save(out, format="HEIF", quality=80)
    return out.getvalue()
