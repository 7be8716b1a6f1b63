"""Label documents on their own: page size, text beyond Latin-1, CSV cells that a
spreadsheet would run as formulas."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from server.documents.labels import labels_csv, labels_pdf
from server.domain.profile import Address
from server.domain.shipping import Label, LabelLine, PrintedLabel
from tests.helpers.after_sale import pdf_page_sizes, pdf_pages

HOST = Address("Ателье Дмитрия", "1 Return Road", None, "Lyon", None, "69001", "FR")
BUYER = Address("Zoë Ωmega", '=HYPERLINK("http://x")', None, "Athens", None, "10557", "GR")


def printed(index: int, lines: int = 2) -> PrintedLabel:
    label = Label(
        id=f"label{index}",
        shipment_id=f"ship{index}",
        stream_id="stream",
        buyer="zoe",
        tracking=f"CS{index:016d}",
        from_address=HOST,
        to_address=BUYER,
        consignor="bob",
        created_at=datetime.now(UTC),
        sent_at=None,
    )
    items = tuple(LabelLine(f"o{i}", f"Item {i} — vinyl 12″", 1 + i) for i in range(lines))
    return PrintedLabel(label, items)


def test_one_4x6_page_per_label_with_every_script_printed() -> None:
    pdf = labels_pdf([printed(1), printed(2, lines=60)], "Show")
    assert pdf_page_sizes(pdf) == [(288.0, 432.0), (288.0, 432.0)]
    first, crowded = pdf_pages(pdf)
    for text in (first, crowded):
        assert "Ателье Дмитрия" in text and "Zoë Ωmega" in text and "CS" in text
    assert "2 × Item 1 — vinyl 12″" in first
    # Too many lines for one label: the rest is counted, never drawn off the page.
    assert "more item(s)" in crowded and "Item 59" not in crowded


def test_an_empty_document_says_so() -> None:
    assert "No labels yet." in pdf_pages(labels_pdf([], "Show"))[0]


def test_csv_rows_and_formula_cells_are_defused() -> None:
    rows = list(csv.DictReader(io.StringIO(labels_csv([printed(1), printed(2)]))))
    assert [row["tracking"] for row in rows] == [f"CS{1:016d}", f"CS{2:016d}"]
    assert rows[0]["to_line1"] == '\'=HYPERLINK("http://x")'
    assert rows[0]["from_name"] == "Ателье Дмитрия"
    assert rows[0]["items"] == "1 x Item 0 — vinyl 12″; 2 x Item 1 — vinyl 12″"
    assert rows[0]["order_ids"] == "o0 o1"
