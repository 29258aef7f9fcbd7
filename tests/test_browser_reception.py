"""The front desk's day list in Chromium: it reads on a phone and a desktop,
and printed (to PDF, as the print dialog would) it is one page holding one
table of the day, with no navigation, search or buttons."""
import datetime
import re
import unicodedata
import uuid
import zlib

import pytest

from app.auth import hash_password
from app.db import database
from app.models import Appointment, User
from tests.browser import DESKTOP, check_width, log_in
from tests.calendar_site import site
from tests.conftest import PASSWORD, create_user

pytest_plugins = ['tests.browser']

UTC = datetime.timezone.utc
# A Monday morning of this module's own, so the day holds only its visits.
NOW = datetime.datetime(2033, 7, 4, 8, 10, tzinfo=UTC)
TABLET = 820
PATIENTS = ('Hana Okafor', 'Liam Brennan', 'Sofia Marchetti', 'Tomasz Wrobel')


def pdf_objects(data):
    return {int(n): body for n, body in re.findall(rb'\n(\d+) 0 obj\s*(.*?)endobj', data, re.S)}


def pdf_stream(body):
    length = int(re.search(rb'/Length (\d+)', body).group(1))
    start = body.index(b'stream') + len(b'stream')
    start += 2 if body[start:start + 2] == b'\r\n' else 1
    raw = body[start:start + length]
    return zlib.decompress(raw) if b'/FlateDecode' in body[:body.index(b'stream')] else raw


def to_unicode(cmap):
    """{glyph code: text} from a ToUnicode CMap's bfchar and bfrange lists."""
    codes = {}
    for block in re.findall(rb'beginbfchar(.*?)endbfchar', cmap, re.S):
        for code, text in re.findall(rb'<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>', block):
            codes[int(code, 16)] = bytes.fromhex(text.decode()).decode('utf-16-be')
    for block in re.findall(rb'beginbfrange(.*?)endbfrange', cmap, re.S):
        for low, high, first in re.findall(
                rb'<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>', block):
            for offset in range(int(high, 16) - int(low, 16) + 1):
                codes[int(low, 16) + offset] = chr(int(first, 16) + offset)
    return codes


def pdf_text(data):
    """The text Chromium drew: its fonts are Identity-H with a ToUnicode map,
    so each shown string is decoded with the map of the font in use. One
    line per text object (BT … ET), ligatures ('ﬁ') spelled out."""
    objects = pdf_objects(data)
    fonts = {}
    for body in objects.values():
        for font_dict in re.findall(rb'/Font\s*<<(.*?)>>', body, re.S):
            for name, number in re.findall(rb'/(\w+) (\d+) 0 R', font_dict):
                cmap = re.search(rb'/ToUnicode (\d+) 0 R', objects[int(number)])
                fonts[name] = to_unicode(pdf_stream(objects[int(cmap.group(1))])) if cmap else {}
    lines = []
    for body in objects.values():
        if b'stream' not in body or b'/Length1' in body:
            continue  # not a page's content (font files are streams too)
        content = pdf_stream(body)
        for block in re.findall(rb'BT(.*?)ET', content, re.S):
            codes, line = {}, ''
            for font, shown in re.findall(rb'/(\w+) [\d.]+ Tf|<([0-9A-Fa-f]*)> Tj', block):
                if font:
                    codes = fonts.get(font, {})
                    continue
                line += ''.join(codes.get(int(shown[i:i + 4], 16), '?')
                                for i in range(0, len(shown), 4))
            lines.append(line)
    return unicodedata.normalize('NFKC', '\n'.join(lines))


def pdf_pages(data):
    return len(re.findall(rb'/Type /Page\b(?!s)', data))


@pytest.fixture
def day_list(settings):
    """The clinic at NOW with a small day: four visits, two doctors, a
    receptionist's email to log in with."""
    with site(settings, now=NOW) as server:
        email = f'reception-{uuid.uuid4().hex[:10]}@example.test'
        doctors = [create_user(server.url, 'doctor', name=n).user['id']
                   for n in ('Dr Nadia Ilves', 'Dr Owen Price')]
        patients = [create_user(server.url, 'patient', name=n, phone=f'0700 000 10{i}')
                    .user['id'] for i, n in enumerate(PATIENTS)]
        with database.connection_context():
            User.create(email=email, password_hash=hash_password(PASSWORD),
                        name='Rita Desk', role='reception')
            for i, patient in enumerate(patients):
                Appointment.create(doctor=doctors[i % 2], patient=patient, date=NOW.date(),
                                   time=f'{8 + i}:{"30" if i % 2 else "00"}'.zfill(5),
                                   status='booked')
        yield server.url, email


def test_the_day_list_prints_on_one_page_as_one_table(page, day_list, check_page):
    url, email = day_list
    log_in(page, url, email, '/reception')
    check_page(page, 'reception-day')
    check_width(page, 'reception-day', TABLET)
    page.set_viewport_size({'width': DESKTOP, 'height': 900})
    pdf = page.pdf(format='A4')
    assert pdf_pages(pdf) == 1
    text = pdf_text(pdf)
    for name in PATIENTS + ('Dr Nadia Ilves', 'Dr Owen Price', '0700 000 100'):
        assert name in text, f'{name!r} is not on the printed page:\n{text}'
    for hidden in ('Log out', 'Rita Desk', 'Find a patient', 'Search', 'Check in',
                   'Reschedule', 'Cancel', 'Print the day list'):
        assert hidden not in text, f'{hidden!r} is printed:\n{text}'
