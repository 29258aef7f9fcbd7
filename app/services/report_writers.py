"""The three file formats of a report, written from one stream of rows.

Each writer takes a ReportData (title, columns, row iterator) and a path,
writes a temp file beside it and renames it into place, and returns the
number of rows. CSV is app.services.csv_file, the history export's writer.
CSV and XLSX keep memory flat: CSV goes straight to disk,
XlsxWriter's constant_memory mode flushes each row as it is written. PDF
(fpdf2) holds its pages until the end; it is meant for reports a person
reads, not for 100,000 rows (it still gets there, see bench/reports_100k.py).

XlsxWriter and fpdf2 (with Pillow) are imported only when a file of their
kind is written, so they cost the web process nothing.

The CSV is for the people who open it in a spreadsheet: it starts with a
UTF-8 byte order mark so Excel reads accents right, and keeps the column
names and status codes as they are (`no_show`) for anyone who reads it by
program. XLSX and PDF are for reading: headers and statuses in words
("No-show"), and in XLSX the dates are date cells, so they sort and filter.
"""
import dataclasses
import datetime
import os
import unicodedata
import uuid

from app.services import csv_file

MEDIA_TYPES = {
    'csv': 'text/csv',
    'xlsx': 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
    'pdf': 'application/pdf',
}
DATE_COLUMNS = ('date',)
STATUS_COLUMNS = ('status',)
WORDS = {'no_show': 'No-show'}


def readable(code):
    """A column name or status code as a person reads it."""
    return WORDS.get(code) or code.replace('_', ' ').capitalize()


@dataclasses.dataclass(frozen=True)
class Heading:
    """What the file says about itself: report name, period, when made."""
    title: str
    period: str
    generated: str


def write(fmt, path, data, heading):
    """Write `data` as `fmt` to `path` atomically; returns the row count."""
    if fmt == 'csv':  # csv_file writes through a temp file of its own
        return csv_file.write_csv(path, data.header, _guarded(data.rows), bom=True)[0]
    writer = {'xlsx': write_xlsx, 'pdf': write_pdf}[fmt]
    tmp = path.with_name(f'.{path.name}.{uuid.uuid4().hex[:8]}.tmp')
    try:
        rows = writer(tmp, data, heading)
        with open(tmp, 'rb') as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return rows


def _guarded(rows):
    for row in rows:
        yield [csv_file.guard(cell) if isinstance(cell, str) else cell for cell in row]


XLSX_CHARS_PER_WIDTH = 14


def write_xlsx(path, data, heading):
    import xlsxwriter

    workbook = xlsxwriter.Workbook(str(path), {
        'constant_memory': True,
        'tmpdir': str(path.parent),
        # Every string is a string: never a formula, number or link.
        'strings_to_formulas': False, 'strings_to_numbers': False, 'strings_to_urls': False,
    })
    workbook.set_properties({'title': heading.title, 'subject': heading.period,
                             'comments': heading.generated})
    sheet = workbook.add_worksheet(data.title[:31])
    bold = workbook.add_format({'bold': True, 'bg_color': '#E8EEF4', 'bottom': 1})
    day = workbook.add_format({'num_format': 'yyyy-mm-dd', 'align': 'left'})
    for index, column in enumerate(data.columns):
        sheet.set_column(index, index, column.width * XLSX_CHARS_PER_WIDTH)
        sheet.write_string(0, index, readable(column.label), bold)
    sheet.freeze_panes(1, 0)
    kinds = [_xlsx_kind(column) for column in data.columns]
    count = 0
    for count, row in enumerate(data.rows, start=1):
        for index, cell in enumerate(row):
            if cell is None:
                continue
            kind = kinds[index]
            if kind == 'number':
                sheet.write_number(count, index, cell)
            elif kind == 'date':
                sheet.write_datetime(count, index, _as_date(cell), day)
            elif kind == 'status':
                sheet.write_string(count, index, readable(cell))
            else:
                sheet.write_string(count, index, cell)
    sheet.autofilter(0, 0, count, len(data.columns) - 1)
    workbook.close()
    return count


def _xlsx_kind(column):
    if column.numeric:
        return 'number'
    if column.label in DATE_COLUMNS:
        return 'date'
    return 'status' if column.label in STATUS_COLUMNS else 'text'


def _as_date(value):
    if isinstance(value, datetime.date):
        return value
    return datetime.date.fromisoformat(str(value)[:10])


PDF_FONT = 'Helvetica'
# The page total is filled in at the end; the alias's length is the room
# kept for it, so a 7-character alias fits any page count we can make.
PAGES = '{pages}'
ROW_HEIGHT = 5.2
LINE_STEP = 3.4  # each further line of a wrapped cell
FONT_SIZE = 8


TYPOGRAPHY = str.maketrans({'‘': "'", '’': "'", '“': '"', '”': '"', '–': '-', '—': '-',
                            '…': '...', '•': '-', '\u00a0': ' '})


def pdf_text(value):
    """Core PDF fonts cover Latin-1 only: typographic marks become their
    plain forms, accents outside Latin-1 are dropped, what is left over
    becomes '?'. CSV and XLSX keep every character."""
    text = _plain(value).translate(TYPOGRAPHY)
    if text.isascii():
        return text
    return ''.join(ch if ord(ch) < 256 else _latin1(ch) for ch in text)


def _latin1(ch):
    base = ''.join(c for c in unicodedata.normalize('NFKD', ch) if not unicodedata.combining(c))
    return base if base and all(ord(c) < 256 for c in base) else '?'


def _plain(value):
    if value is None:
        return ''
    return ' '.join(str(value).split())


def write_pdf(path, data, heading, compress=True):
    from fpdf import FPDF

    class TablePdf(FPDF):
        def header(self):
            _page_header(self, data, heading, widths)

        def footer(self):
            self.set_y(-11)
            self.set_font(PDF_FONT, '', 8)
            self.set_text_color(100)
            self.cell(0, 6, f'{pdf_text(heading.title)} - page {self.page_no()} of {PAGES}',
                      align='C')

    pdf = TablePdf(orientation='L', unit='mm', format='A4')
    pdf.alias_nb_pages(PAGES)
    pdf.set_compression(compress)
    pdf.set_title(pdf_text(heading.title))
    pdf.set_subject(pdf_text(heading.period))
    pdf.set_auto_page_break(True, margin=14)
    pdf.set_margins(10, 10, 10)
    total = sum(column.width for column in data.columns)
    widths = [pdf.epw * column.width / total for column in data.columns]
    pdf.add_page()
    count = _table_rows(pdf, data, widths)
    if count == 0:
        pdf.set_font(PDF_FONT, 'I', 9)
        pdf.cell(0, 8, 'No rows in this period.', new_x='LMARGIN', new_y='NEXT')
    pdf.output(str(path))
    return count


def _page_header(pdf, data, heading, widths):
    pdf.set_font(PDF_FONT, 'B', 13)
    pdf.set_text_color(20)
    pdf.cell(0, 7, pdf_text(heading.title), new_x='LMARGIN', new_y='NEXT')
    pdf.set_font(PDF_FONT, '', 9)
    pdf.set_text_color(80)
    pdf.cell(0, 5, pdf_text(f'{data.title} - {heading.period} - {heading.generated}'),
             new_x='LMARGIN', new_y='NEXT')
    pdf.ln(2)
    pdf.set_font(PDF_FONT, 'B', FONT_SIZE)
    pdf.set_text_color(0)
    pdf.set_fill_color(232, 238, 244)
    for width, column in zip(widths, data.columns):
        pdf.cell(width, ROW_HEIGHT + 0.6, readable(column.label), border='B', fill=True,
                 align='R' if column.numeric else 'L')
    pdf.ln()
    pdf.set_font(PDF_FONT, '', FONT_SIZE)
    pdf.set_fill_color(246, 248, 250)


def _table_rows(pdf, data, widths):
    # FPDF.text() and one rect per row, not cell(): cell() does text shaping
    # and graphics-state copies per call, 5x slower over 100,000 rows.
    lefts = [pdf.l_margin + sum(widths[:index]) for index in range(len(widths))]
    room = [width - 2 * pdf.c_margin for width in widths]
    numeric = [column.numeric for column in data.columns]
    status = [column.label in STATUS_COLUMNS for column in data.columns]
    measure = _Measure(pdf)
    page_lines = _lines_that_fit(pdf)  # the table starts on a fresh page
    count = 0
    for row in data.rows:
        count += 1
        cells = [measure.lines(pdf_text(readable(cell) if status[index] and cell else cell),
                               room[index], wrap=not numeric[index])
                 for index, cell in enumerate(row)]
        lines = max(len(cell) for cell in cells)
        start = 0
        while start < lines:
            fit = _lines_that_fit(pdf)
            left = lines - start
            if fit < 1 or (start == 0 and fit < left <= page_lines):
                pdf.add_page()  # a row that fits on a page is not split
                continue
            shown = min(fit, left)
            _draw_lines(pdf, cells, start, shown, lefts, room, numeric, shade=count % 2 == 0)
            start += shown
            if start < lines:
                pdf.add_page()
    return count


def _lines_that_fit(pdf):
    space = pdf.page_break_trigger - pdf.y
    return 0 if space < ROW_HEIGHT else 1 + int((space - ROW_HEIGHT) / LINE_STEP)


def _draw_lines(pdf, cells, start, shown, lefts, room, numeric, shade):
    top = pdf.y
    height = ROW_HEIGHT + (shown - 1) * LINE_STEP
    if shade:
        pdf.set_fill_color(246, 248, 250)
        pdf.rect(pdf.l_margin, top, pdf.epw, height, style='F')
        pdf.set_fill_color(0)
    for index, lines in enumerate(cells):
        for number, (text, width) in enumerate(lines[start:start + shown]):
            x = lefts[index] + pdf.c_margin
            if numeric[index]:
                x += room[index] - width
            pdf.text(x, top + ROW_HEIGHT * 0.7 + number * LINE_STEP, text)
    pdf.set_y(top + height)


class _Measure:
    """Text widths from the core font's metrics; a cell's text broken into
    lines that fit its column (at spaces, inside a word only when the word
    alone is too wide). Names and dates repeat: results are cached."""
    CACHE = 20000

    def __init__(self, pdf):
        self.widths = pdf.current_font.cw
        self.scale = pdf.font_size_pt / 1000 / pdf.k
        self.cache = {}

    def width(self, text):
        return sum(self.widths.get(ch, 600) for ch in text) * self.scale

    def lines(self, text, room, wrap=True):
        key = (text, room)
        found = self.cache.get(key)
        if found is None:
            width = self.width(text)
            found = ((text, width),) if width <= room or not wrap else self._wrap(text, room)
            if len(self.cache) >= self.CACHE:
                self.cache.clear()
            self.cache[key] = found
        return found

    def _wrap(self, text, room):
        lines, line = [], ''
        for word in text.split(' '):
            candidate = f'{line} {word}' if line else word
            if self.width(candidate) <= room:
                line = candidate
                continue
            if line:
                lines.append(line)
            while self.width(word) > room and len(word) > 1:
                cut = len(word) - 1
                while cut > 1 and self.width(word[:cut]) > room:
                    cut -= 1
                lines.append(word[:cut])
                word = word[cut:]
            line = word
        lines.append(line)
        return tuple((line, self.width(line)) for line in lines)
