"""The report files themselves, read back: the PDF treatment log wraps long
text instead of cutting it, XLSX dates are date cells and its headers and
statuses are words, the report CSV opens in Excel with its accents (BOM)
while the history export's CSV stays plain UTF-8 (SPEC §5)."""
import codecs
import datetime
import re
import zipfile

from app.services import csv_file, report_writers
from app.services.report_engine import (APPOINTMENT_COLUMNS, TREATMENT_COLUMNS, ReportData)
from tests.test_reports import pdf_text, xlsx_rows

HEADING = report_writers.Heading('Treatment log', 'Wed 14 Mar 2001', 'made 15 Mar 2001 07:00')
LONG_TREATMENT = ('Physiotherapy twice a week for six weeks, then a review with the '
                  'orthopaedic surgeon; avoid lifting over five kilograms; ice packs '
                  'after exercise; continue the home programme sheet given at the visit')
LONG_PRESCRIPTION = ('Ibuprofen 400 mg three times a day with food for ten days, '
                     'omeprazole 20 mg each morning while taking it')
EXCEL_EPOCH = datetime.date(1899, 12, 30)


def treatments(rows):
    return ReportData('Treatment log', TREATMENT_COLUMNS, iter(rows))


def test_pdf_treatment_log_wraps_long_treatment_and_prescription(tmp_path):
    rows = [('2001-03-14', '09:00', 'Zoë Brontë', 'Dr Ada', 'Sprain', LONG_TREATMENT,
             LONG_PRESCRIPTION)] + [('2001-03-14', '10:00', f'P{n}', 'Dr Ada', 'Cold', 'Rest', '')
                                    for n in range(60)]
    path = tmp_path / 'log.pdf'
    assert report_writers.write_pdf(path, treatments(rows), HEADING, compress=False) == 61
    text = pdf_text(path.read_bytes())
    shown = re.findall(r'\((.*?)\) Tj', text)
    assert not [line for line in shown if line.endswith('...') or '\u2026' in line]
    assert ' '.join(line for line in shown if line and line in LONG_TREATMENT) == LONG_TREATMENT
    assert ' '.join(line for line in shown if line and line in LONG_PRESCRIPTION) == LONG_PRESCRIPTION
    assert sum(bool(line) and line in LONG_TREATMENT for line in shown) >= 3  # it took several lines
    assert shown.count('Rest') == 60 and 'page 2 of' in text


def test_pdf_row_taller_than_a_page_continues_on_the_next(tmp_path):
    huge = ' '.join(f'step{n}' for n in range(1500))
    path = tmp_path / 'huge.pdf'
    rows = [('2001-03-14', '09:00', 'Ann', 'Dr Ada', 'Long', huge, 'after')]
    assert report_writers.write_pdf(path, treatments(rows), HEADING, compress=False) == 1
    shown = re.findall(r'\((.*?)\) Tj', pdf_text(path.read_bytes()))
    words = ' '.join(line for line in shown if line.startswith('step')).split()
    assert words == huge.split()
    assert 'page 3 of' in pdf_text(path.read_bytes())


def sheet_cells(path):
    """{cell ref: (style index, type, raw value)} and the number format of each style."""
    with zipfile.ZipFile(path) as book:
        sheet = book.read('xl/worksheets/sheet1.xml').decode('utf-8')
        styles = book.read('xl/styles.xml').decode('utf-8')
    cells = {ref: (int(style or 0), kind, value) for ref, style, kind, value in re.findall(
        r'<c r="([A-Z]+\d+)"(?: s="(\d+)")?(?: t="(\w+)")?>(?:<v>([^<]*)</v>)?', sheet)}
    formats = dict(re.findall(r'<numFmt numFmtId="(\d+)" formatCode="([^"]*)"', styles))
    xfs = re.search(r'<cellXfs[^>]*>(.*?)</cellXfs>', styles, re.S).group(1)
    style_formats = [formats.get(num, num) for num in re.findall(r'<xf numFmtId="(\d+)"', xfs)]
    return cells, style_formats


def test_xlsx_has_date_cells_readable_headers_and_statuses(tmp_path):
    rows = [('2001-03-14', '09:00', 'Zoë', 'Dr Ada', 'Cardiology', 'no_show'),
            ('2001-03-15', '09:30', 'Ann', 'Dr Ada', 'Cardiology', 'completed')]
    path = tmp_path / 'appointments.xlsx'
    data = ReportData('Appointments', APPOINTMENT_COLUMNS, iter(rows))
    assert report_writers.write_xlsx(path, data, HEADING) == 2
    table = xlsx_rows(path.read_bytes())
    assert table[0] == ['Date', 'Time', 'Patient', 'Doctor', 'Specialization', 'Status']
    assert [row[5] for row in table[1:]] == ['No-show', 'Completed']
    assert table[1][2] == 'Zoë'
    cells, style_formats = sheet_cells(path)
    for ref, day in (('A2', datetime.date(2001, 3, 14)), ('A3', datetime.date(2001, 3, 15))):
        style, kind, value = cells[ref]
        assert kind == '' and float(value) == (day - EXCEL_EPOCH).days  # a number, not text
        assert style_formats[style] == 'yyyy-mm-dd'
    assert cells['B2'][1] in ('s', 'inlineStr')  # times stay text


def test_report_csv_has_a_bom_and_keeps_accents_and_codes(tmp_path):
    rows = [('2001-03-14', '09:00', 'Zoë Brontë', 'Dr Ådne', 'Cardiología', 'no_show')]
    path = tmp_path / 'appointments.csv'
    data = ReportData('Appointments', APPOINTMENT_COLUMNS, iter(rows))
    assert report_writers.write('csv', path, data, HEADING) == 1
    content = path.read_bytes()
    assert content.startswith(codecs.BOM_UTF8)
    assert content.decode('utf-8-sig').splitlines() == [
        'date,time,patient,doctor,specialization,status',
        '2001-03-14,09:00,Zoë Brontë,Dr Ådne,Cardiología,no_show']


def test_history_export_csv_stays_without_a_bom(tmp_path):
    """SPEC §5 names the exact header row; a BOM would become part of its
    first column name for anything that reads the file as plain UTF-8."""
    path = tmp_path / 'history.csv'
    csv_file.write_csv(path, ['date', 'time'], [['2001-03-14', '09:00']])
    assert path.read_bytes() == b'date,time\r\n2001-03-14,09:00\r\n'
