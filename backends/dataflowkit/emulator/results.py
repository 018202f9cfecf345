"""Results files of the Dataflow Kit emulator, in the five formats a task can ask for.

Nothing is fetched from the web: a finished process gets rows made up from its task's
payload, one column per field and attribute named `<Field>_<attr>` with string values
(protocols/dataflowkit.md section 8), the same rows for the same process every time. `render(rows, columns, fmt)` writes them as `csv` (header row,
RFC 4180 quoting), `json` (an array of objects), `jsonl` (one object per line), `xlsx`
(an Excel workbook, written with openpyxl) or `xml` (`<items><item><Col>..</Col>..`).
"""

import csv
import hashlib
import io
import json
from xml.sax.saxutils import escape

FORMATS = {"csv": "csv", "json": "json", "jsonl": "jsonl", "excel": "xlsx", "xlsx": "xlsx",
           "xml": "xml"}
# xlsx files are zip archives; a fixed timestamp keeps their bytes reproducible.
XLSX_EPOCH = (2020, 1, 1, 0, 0, 0)


def extension(fmt):
    """The file extension of a payload `format` (case-insensitive), or None."""
    return FORMATS.get(str(fmt or "").lower())


def columns_of(payload):
    columns = []
    for field in payload.get("fields") or []:
        for attr in field.get("attrs") or ["text"]:
            columns.append(f"{field.get('name', 'field')}_{attr}")
    return columns or ["value_text"]


def make_rows(process_id, columns, count):
    rows = []
    for number in range(count):
        row = {}
        for column in columns:
            digest = hashlib.sha1(f"{process_id}:{number}:{column}".encode()).hexdigest()[:6]
            if column.endswith(("_href", "_src")):
                row[column] = f"https://example.test/{column.lower()}/{number}-{digest}"
            else:
                row[column] = f"{column.split('_')[0]} {number} “{digest}”, a\"b"
        rows.append(row)
    return rows


def render(rows, columns, ext):
    if ext == "csv":
        out = io.StringIO(newline="")
        writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\r\n")
        writer.writeheader()
        writer.writerows(rows)
        return out.getvalue().encode("utf-8")
    if ext == "json":
        return json.dumps(rows, ensure_ascii=False, indent=1).encode("utf-8")
    if ext == "jsonl":
        return b"".join(json.dumps(r, ensure_ascii=False).encode("utf-8") + b"\n" for r in rows)
    if ext == "xml":
        parts = ['<?xml version="1.0" encoding="UTF-8"?>\n<items>\n']
        for row in rows:
            parts.append("  <item>")
            parts.extend(f"<{c}>{escape(row[c])}</{c}>" for c in columns)
            parts.append("</item>\n")
        parts.append("</items>\n")
        return "".join(parts).encode("utf-8")
    if ext == "xlsx":
        return _xlsx(rows, columns)
    raise ValueError(f"unknown results format {ext!r}")


def _xlsx(rows, columns):
    import zipfile

    import openpyxl  # only the xlsx format needs it

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "results"
    sheet.append(columns)
    for row in rows:
        sheet.append([row[c] for c in columns])
    raw = io.BytesIO()
    book.save(raw)
    # Re-pack with fixed member times: openpyxl stamps "now", and a results file must be
    # the same bytes at every download.
    fixed = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(raw.getvalue())) as source, \
            zipfile.ZipFile(fixed, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                data = _fixed_core_times(data)
            target.writestr(zipfile.ZipInfo(info.filename, XLSX_EPOCH), data,
                            compress_type=zipfile.ZIP_DEFLATED)
    return fixed.getvalue()


def _fixed_core_times(data):
    import re

    return re.sub(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", b"2020-01-01T00:00:00Z", data)
