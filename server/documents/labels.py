"""Shipping-label documents: a PDF (reportlab, one 4x6 in page per label with a Code128
barcode of the tracking number) and a CSV (the csv module), both from PrintedLabels.

Rendering the PDF is CPU work: callers run `labels_pdf` in a worker thread.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from reportlab.graphics.barcode.code128 import Code128
from reportlab.lib.units import inch
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from server.domain.profile import ADDRESS_FIELDS, Address
from server.domain.shipping import PrintedLabel

PAGE = (4 * inch, 6 * inch)
MARGIN = 0.2 * inch
# DejaVu covers far more scripts than the PDF base fonts (Latin-1 only); Debian ships it.
_DEJAVU = Path("/usr/share/fonts/truetype/dejavu")


def _fonts() -> tuple[str, str]:
    """(regular, bold) font names, registering DejaVu once when it is installed."""
    if "DejaVuSans" in pdfmetrics.getRegisteredFontNames():
        return "DejaVuSans", "DejaVuSans-Bold"
    regular, bold = _DEJAVU / "DejaVuSans.ttf", _DEJAVU / "DejaVuSans-Bold.ttf"
    if regular.is_file() and bold.is_file():
        pdfmetrics.registerFont(TTFont("DejaVuSans", str(regular)))
        pdfmetrics.registerFont(TTFont("DejaVuSans-Bold", str(bold)))
        return "DejaVuSans", "DejaVuSans-Bold"
    return "Helvetica", "Helvetica-Bold"


def _fit(canvas: Canvas, text: str, font: str, size: float, width: float) -> str:
    """`text` cut (with an ellipsis) to fit `width` points."""
    if canvas.stringWidth(text, font, size) <= width:
        return text
    while text and canvas.stringWidth(text + "…", font, size) > width:
        text = text[:-1]
    return text + "…"


def _draw_page(canvas: Canvas, printed: PrintedLabel, title: str, fonts: tuple[str, str]) -> None:
    regular, bold = fonts
    label = printed.label
    width, height = PAGE
    usable = width - 2 * MARGIN
    y = height - MARGIN

    def block(heading: str, address: Address, size: float) -> None:
        nonlocal y
        y -= 10
        canvas.setFont(bold, 8)
        canvas.drawString(MARGIN, y, heading)
        for i, line in enumerate(address.lines()):
            font = bold if i == 0 else regular
            y -= size + 2
            canvas.setFont(font, size)
            canvas.drawString(MARGIN, y, _fit(canvas, line, font, size, usable))
        y -= 6
        canvas.line(MARGIN, y, width - MARGIN, y)

    block("FROM (returns to the host)", label.from_address, 8)
    y -= 6
    block("SHIP TO", label.to_address, 12)

    barcode = Code128(label.tracking, barHeight=0.7 * inch, barWidth=1.1, quiet=False)
    scale = min(1.0, usable / barcode.width)
    y -= 0.7 * inch + 8
    canvas.saveState()
    canvas.translate(MARGIN + (usable - barcode.width * scale) / 2, y)
    canvas.scale(scale, 1)
    barcode.drawOn(canvas, 0, 0)
    canvas.restoreState()
    y -= 12
    canvas.setFont(bold, 10)
    canvas.drawCentredString(width / 2, y, f"TRACKING {label.tracking}")
    y -= 8
    canvas.line(MARGIN, y, width - MARGIN, y)

    y -= 12
    canvas.setFont(bold, 8)
    sender = f"@{label.consignor}" if label.consignor else "the host"
    canvas.drawString(MARGIN, y, _fit(canvas, f"Contents (ships from {sender})", bold, 8, usable))
    canvas.setFont(regular, 8)
    room = int((y - MARGIN - 20) // 10)
    shown = printed.lines if len(printed.lines) <= room else printed.lines[: max(room - 1, 0)]
    for line in shown:
        y -= 10
        canvas.drawString(
            MARGIN, y, _fit(canvas, f"{line.quantity} × {line.title}", regular, 8, usable)
        )
    if len(shown) < len(printed.lines):
        y -= 10
        canvas.drawString(MARGIN, y, f"+ {len(printed.lines) - len(shown)} more item(s)")

    canvas.setFont(regular, 6)
    footer = f"{title} · shipment {label.shipment_id} · buyer @{label.buyer}"
    canvas.drawString(MARGIN, MARGIN, _fit(canvas, footer, regular, 6, usable))


def labels_pdf(labels: list[PrintedLabel], title: str) -> bytes:
    """A PDF with one 4x6 in page per label (a single explanatory page when empty)."""
    fonts = _fonts()
    out = io.BytesIO()
    canvas = Canvas(out, pagesize=PAGE, pageCompression=1)
    canvas.setTitle(f"Shipping labels: {title}")
    canvas.setAuthor("Costream")
    for printed in labels:
        _draw_page(canvas, printed, title, fonts)
        canvas.showPage()
    if not labels:
        canvas.setFont(fonts[0], 10)
        canvas.drawString(MARGIN, PAGE[1] / 2, "No labels yet.")
        canvas.showPage()
    canvas.save()
    return out.getvalue()


CSV_COLUMNS = (
    "label_id",
    "tracking",
    "shipment_id",
    "stream_id",
    "consignor",
    "buyer",
    "to_name",
    "to_line1",
    "to_line2",
    "to_city",
    "to_region",
    "to_postal_code",
    "to_country",
    "from_name",
    "from_line1",
    "from_line2",
    "from_city",
    "from_region",
    "from_postal_code",
    "from_country",
    "order_ids",
    "items",
)
# A cell starting with one of these is a formula to spreadsheet programs.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def labels_csv(labels: list[PrintedLabel]) -> str:
    """One row per label: addresses, order ids and the items (`2 x Title; 1 x Other`)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for printed in labels:
        label = printed.label
        to, sender = label.to_address.to_dict(), label.from_address.to_dict()
        writer.writerow(
            _cell(value)
            for value in (
                label.id,
                label.tracking,
                label.shipment_id,
                label.stream_id,
                label.consignor,
                label.buyer,
                *(to[name] for name in ADDRESS_FIELDS),
                *(sender[name] for name in ADDRESS_FIELDS),
                " ".join(line.order_id for line in printed.lines),
                "; ".join(f"{line.quantity} x {line.title}" for line in printed.lines),
            )
        )
    return out.getvalue()


class LabelDocuments:
    """The documents the shipping service hands out (see server.domain.shipping)."""

    def pdf(self, labels: list[PrintedLabel], title: str) -> bytes:
        return labels_pdf(labels, title)

    def csv(self, labels: list[PrintedLabel]) -> str:
        return labels_csv(labels)
