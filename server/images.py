"""Pictures: covers decoded and re-encoded with Pillow (so nothing but pixels is kept),
and the share poster (title, time, cover, host and a QR code of the watch URL).

Everything here is blocking: callers run it on a worker thread.
"""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path

import qrcode
from PIL import Image, ImageDraw, ImageFont, ImageOps, UnidentifiedImageError

from server.domain.errors import ApiError

COVER_TYPES = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}
# Larger pictures are scaled down: a cover is shown at phone and card sizes.
COVER_MAX_SIDE = 1600
# Refuse decompression bombs before decoding a single pixel.
MAX_PIXELS = 40_000_000
POSTER_SIZE = (1080, 1500)
FONT_FILES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
)


def invalid_image(message: str) -> ApiError:
    return ApiError(400, "invalid_image", message)


def reencode_cover(data: bytes, content_type: str) -> bytes:
    """A fresh JPEG of the picture's pixels (EXIF orientation applied, metadata gone);
    400 `invalid_image` when it is not a picture of the declared type."""
    expected = COVER_TYPES[content_type]
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format != expected:
                raise invalid_image(f"the body is not a {expected} picture")
            if image.width * image.height > MAX_PIXELS:
                raise invalid_image("the picture has too many pixels")
            image.load()
            upright = ImageOps.exif_transpose(image)
            rgb = upright.convert("RGB")
    except ApiError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as error:
        raise invalid_image("the body is not a picture that can be decoded") from error
    rgb.thumbnail((COVER_MAX_SIDE, COVER_MAX_SIDE))
    out = io.BytesIO()
    rgb.save(out, "JPEG", quality=88, optimize=True)
    return out.getvalue()


def _font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    path = FONT_FILES[0 if bold else 1]
    if Path(path).is_file():
        return ImageFont.truetype(path, size)
    return ImageFont.load_default(size)


def _wrap(draw: ImageDraw.ImageDraw, text: str, font, width: int, lines: int) -> list[str]:
    """Greedy word wrap to `width` pixels, at most `lines` lines (the last one ellipsised)."""
    out: list[str] = []
    current = ""
    for word in text.split():
        trial = f"{current} {word}".strip()
        if draw.textlength(trial, font=font) <= width:
            current = trial
            continue
        if current:
            out.append(current)
        current = word
    if current:
        out.append(current)
    if len(out) > lines:
        out = out[:lines]
        while out[-1] and draw.textlength(out[-1] + "…", font=font) > width:
            out[-1] = out[-1][:-1]
        out[-1] += "…"
    return out


def render_poster(
    title: str, host: str, when: datetime | None, cover: Path | None, watch_url: str
) -> bytes:
    """The share poster as PNG."""
    width, height = POSTER_SIZE
    poster = Image.new("RGB", POSTER_SIZE, (20, 18, 28))
    draw = ImageDraw.Draw(poster)
    margin = 60
    cover_box = (width - 2 * margin, 560)
    if cover is not None and cover.is_file():
        with Image.open(cover) as picture:
            fitted = ImageOps.fit(picture.convert("RGB"), cover_box)
        poster.paste(fitted, (margin, margin))
    else:
        draw.rectangle(
            (margin, margin, margin + cover_box[0], margin + cover_box[1]), fill=(233, 30, 99)
        )
        draw.text(
            (width // 2, margin + cover_box[1] // 2),
            "LIVE",
            font=_font(160, bold=True),
            fill="white",
            anchor="mm",
        )
    y = margin + cover_box[1] + 40
    title_font = _font(58, bold=True)
    for line in _wrap(draw, title, title_font, width - 2 * margin, 2):
        draw.text((margin, y), line, font=title_font, fill="white")
        y += 70
    y += 10
    when_text = when.strftime("%a %d %b %Y, %H:%M UTC") if when else "Live soon"
    draw.text((margin, y), when_text, font=_font(40), fill=(255, 196, 0))
    y += 56
    draw.text((margin, y), f"with @{host}", font=_font(36), fill=(200, 200, 210))
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=10, border=4)
    qr.add_data(watch_url)
    qr.make(fit=True)
    code = qr.make_image(fill_color="black", back_color="white").get_image().convert("RGB")
    side = 400
    code = code.resize((side, side), Image.Resampling.NEAREST)
    qr_top = height - margin - side
    poster.paste(code, (margin, qr_top))
    text_x = margin + side + 40
    draw.text((text_x, qr_top + 120), "Scan to watch", font=_font(44, bold=True), fill="white")
    url_font = _font(26)
    for index, line in enumerate(_wrap(draw, watch_url.replace("/", "/ "), url_font, 520, 3)):
        draw.text(
            (text_x, qr_top + 190 + index * 34),
            line.replace("/ ", "/"),
            font=url_font,
            fill=(180, 180, 190),
        )
    out = io.BytesIO()
    poster.save(out, "PNG", optimize=True)
    return out.getvalue()
