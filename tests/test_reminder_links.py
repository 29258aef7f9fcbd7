"""Answering a reminder (SPEC §11): the Confirm, Cancel and Reschedule links
work without logging in, until the visit starts, for that one appointment
and patient and that one purpose; anything else is a clear page that shows
nothing of the appointment. Confirm shows on the desk's day list, Cancel
keeps the cut-off, Reschedule offers the doctor's next free times and bumps
the .ics SEQUENCE. The reminder record answers the patient, the desk and
admins, and nobody else."""
import datetime
import re

import pytest

from app.clock import fixed_clock
from app.db import database
from app.models import Appointment, AuditEvent, OutboxAttachment, OutboxMessage
from app.services import appointments, reminder_links, reminders
from tests.calendar_site import MONDAY, NOW, new_doctor, people, reception, site
from tests.client import Client
from tests.conftest import create_user

ADDRESS = '1 Harbour Road, Springfield'
FORM = {'Content-Type': 'application/x-www-form-urlencoded'}


@pytest.fixture
def clinic(settings):
    return settings.with_changes(clinic_address=ADDRESS, clinic_phone='+44 20 7946 0000')


@pytest.fixture
def visit(base_url):
    """A booked visit on MONDAY at 15:00 with Dr Rosa Quill, and its patient."""
    owner = create_user(base_url, 'patient', name='Pat Owner')
    every_day = tuple((day, '09:00', '17:00') for day in range(7))
    doctor_id = new_doctor(week=every_day, name='Dr Rosa Quill')
    with database.connection_context():
        appt = Appointment.create(patient=owner.user['id'], doctor=doctor_id, date=MONDAY,
                                  time='15:00', created_at=datetime.datetime(2031, 1, 1))
    return appt, owner


def link(settings, appt, purpose, patient_id=None):
    with database.connection_context():
        starts = appointments.starts_at(settings, appt)
    token = reminder_links.token(settings, purpose, appt.id, patient_id or appt.patient_id, starts)
    return f'/r/{token}'


def post(client, path, body='', origin=None):
    headers = dict(FORM, Origin=origin or client.base_url)
    return client.request('POST', path, data=body, headers=headers)


def fresh(appt):
    with database.connection_context():
        return Appointment.get_by_id(appt.id)


def audited(appt, action):
    with database.connection_context():
        return [(e.actor_id, e.actor_role) for e in AuditEvent.select().where(
            AuditEvent.action == action, AuditEvent.target == f'appointment:{appt.id}')]


def test_confirm_from_the_link_needs_no_login_and_shows_on_the_day_list(clinic, visit):
    appt, owner = visit
    with site(clinic) as server:
        anon = Client(server.url)
        page = anon.get(link(clinic, appt, 'confirm'))
        assert page.status == 200
        for shown in ('Dr Rosa Quill', 'Mon 3 Mar 2031', '15:00', 'Confirm', 'Reschedule',
                      'Cancel', '+44 20 7946 0000'):
            assert shown in page.text
        done = post(anon, link(clinic, appt, 'confirm'))
        assert done.status == 200 and 'confirmed' in done.text
        assert fresh(appt).confirmed_at == NOW.replace(tzinfo=None)
        assert audited(appt, 'appointment.confirm') == [(owner.user['id'], 'patient')]

        desk = reception(server.url).get(f'/reception?date={MONDAY.isoformat()}')
        row = re.search(rf'<tr id="appt-{appt.id}".*?</tr>', desk.text, re.S).group(0)
        assert 'Confirmed' in row and '03 Mar 08:10' in row


def test_cancel_from_the_link_cancels_as_the_patient_and_a_second_time_says_so(clinic, visit):
    appt, owner = visit
    with site(clinic) as server:
        anon = Client(server.url)
        done = post(anon, link(clinic, appt, 'cancel'))
        assert done.status == 200 and 'cancelled' in done.text
        assert fresh(appt).status == 'cancelled'
        assert audited(appt, 'appointment.cancel') == [(owner.user['id'], 'patient')]

        again = post(anon, link(clinic, appt, 'cancel'))
        assert again.status == 409 and 'already cancelled' in again.text
        page = anon.get(link(clinic, appt, 'confirm'))
        assert page.status == 200 and 'This appointment is cancelled' in page.text
        assert post(anon, link(clinic, appt, 'confirm')).status == 409
        assert fresh(appt).confirmed_at is None


def test_cancel_inside_the_cut_off_is_refused_with_the_clinic_phone(clinic, visit):
    appt, _ = visit
    # 08:10 and the visit is at 15:00: inside a 24-hour cut-off.
    with site(clinic, change_cutoff_hours=24) as server:
        refused = post(Client(server.url), link(clinic, appt, 'cancel'))
    assert refused.status == 409
    assert '24 hours before it starts' in refused.text and '+44 20 7946 0000' in refused.text
    assert fresh(appt).status == 'booked'


def test_reschedule_offers_the_doctors_next_free_times_and_moves_with_a_new_sequence(
        clinic, visit):
    appt, _ = visit
    with site(clinic) as server:
        anon = Client(server.url)
        page = anon.get(link(clinic, appt, 'reschedule'))
        assert page.status == 200 and 'Other times with Dr Rosa Quill' in page.text
        offered = re.findall(r'name="date" value="([0-9-]+)">\s*<input type="hidden" '
                             r'name="time" value="([0-9:]+)"', page.text)
        # The 60-minute notice from 08:10: 09:30 is the first free start.
        assert offered[0] == (MONDAY.isoformat(), '09:30') and len(offered) == 8
        moved = post(anon, link(clinic, appt, 'reschedule'), 'date=2031-03-03&time=09:30')
        assert moved.status == 200 and 'moved to Mon 3 Mar 2031, 09:30' in moved.text
        taken = post(anon, link(clinic, appt, 'reschedule'), 'date=2031-03-03&time=23:30')
        assert taken.status == 409 and 'working hours' in taken.text
    row = fresh(appt)
    assert (row.time, row.ics_sequence) == ('09:30', 1)
    with database.connection_context():
        [message] = OutboxMessage.select().where(
            OutboxMessage.dedupe_key.startswith(f'reschedule:{appt.id}:'))
        event = ics_event(message)
    assert event['SEQUENCE'] == '1' and event['LOCATION'] == ADDRESS.replace(',', '\\,')
    assert event['UID'] == f'appointment-{appt.id}@127.0.0.1'
    assert event['DTSTART'] == '20310303T093000Z'


def ics_event(message):
    """The one VEVENT of `message`'s .ics, unfolded, as {name: value}."""
    [attachment] = OutboxAttachment.select().where(OutboxAttachment.message == message.id)
    text = bytes(attachment.content).decode().replace('\r\n ', '')
    assert text.count('BEGIN:VEVENT') == 1
    body = text.split('BEGIN:VEVENT\r\n')[1].split('END:VEVENT')[0]
    return dict(line.split(':', 1) for line in body.split('\r\n') if line)


def test_ics_keeps_its_uid_and_carries_the_sequence_and_the_clinic_address(clinic, visit):
    appt, owner = visit
    clock = fixed_clock(NOW.tzinfo, NOW)
    with database.connection_context():
        reminders.send_for_day(clinic, MONDAY, clock)
        [first] = OutboxMessage.select().where(
            OutboxMessage.dedupe_key == reminders.dedupe_key(owner.user['id'], MONDAY))
        before = ics_event(first)
        Appointment.update(ics_sequence=3).where(Appointment.id == appt.id).execute()
        reminders.send_for_day(clinic, MONDAY, clock, kind='day_before')
        [second] = OutboxMessage.select().where(OutboxMessage.dedupe_key == reminders.dedupe_key(
            owner.user['id'], MONDAY, 'day_before'))
        after = ics_event(second)
    assert before['UID'] == after['UID'] == f'appointment-{appt.id}@127.0.0.1'
    assert (before['SEQUENCE'], after['SEQUENCE']) == ('0', '3')
    assert before['LOCATION'] == after['LOCATION'] == '1 Harbour Road\\, Springfield'
    assert before['DTSTART'] == '20310303T150000Z'


def test_expired_forged_tampered_and_other_patients_links_show_nothing_of_the_visit(
        clinic, visit, base_url):
    appt, _ = visit
    other = create_user(base_url, 'patient', name='Olga Other')
    good = link(clinic, appt, 'confirm')
    purpose, appt_id, patient_id, expires, signature = good[3:].split('.')
    cases = {
        'forged signature': (f'/r/{purpose}.{appt_id}.{patient_id}.{expires}.{"A" * 24}', 404),
        'another appointment': (f'/r/{purpose}.{int(appt_id) + 1}.{patient_id}.{expires}.'
                                f'{signature}', 404),
        'later expiry': (f'/r/{purpose}.{appt_id}.{patient_id}.{int(expires) + 86400}.'
                         f'{signature}', 404),
        'cancel with a confirm signature': (f'/r/cancel.{appt_id}.{patient_id}.{expires}.'
                                            f'{signature}', 404),
        'truncated': (good[:-5], 400),
        'signed for another patient': (link(clinic, appt, 'confirm', other.user['id']), 404),
    }
    with site(clinic) as server:
        anon = Client(server.url)
        for name, (path, status) in cases.items():
            for resp in (anon.get(path), post(anon, path)):
                assert resp.status == status, name
                assert 'Rosa Quill' not in resp.text and '15:00' not in resp.text, name
    started = NOW.replace(hour=15, minute=0)
    with site(clinic, now=started) as server:
        anon = Client(server.url)
        for path in (good, link(clinic, appt, 'cancel'), link(clinic, appt, 'reschedule')):
            resp = anon.get(path)
            assert resp.status == 410 and 'expired' in resp.text
            assert 'call the clinic on <a href="tel:+442079460000">' in resp.text
            assert 'Rosa Quill' not in resp.text
            assert post(anon, path).status == 410
    row = fresh(appt)
    assert (row.status, row.confirmed_at) == ('booked', None)


def test_a_form_sent_from_another_site_is_refused(clinic, visit):
    appt, _ = visit
    with site(clinic) as server:
        resp = post(Client(server.url), link(clinic, appt, 'cancel'), origin='https://evil.test')
    assert resp.status == 403
    assert fresh(appt).status == 'booked'


def test_reminder_record_is_for_its_patient_the_desk_and_admins(clinic, visit, base_url):
    appt, owner = visit
    with database.connection_context():
        reminders.send_for_day(clinic, MONDAY, fixed_clock(NOW.tzinfo, NOW))
    path = f'/api/appointments/{appt.id}/reminders'
    everyone = people(base_url)
    expected = [{'kind': 'same_day', 'status': 'pending', 'reason': None,
                 'at': '2031-03-03T08:10:00+00:00'}]
    for client in (owner, everyone['reception'], everyone['admin']):
        resp = client.get(path)
        assert resp.status == 200 and resp.json in (expected, [dict(expected[0], status='sent',
                                                                     at=resp.json[0]['at'])])
    assert everyone['other_patient'].get(path).status == 404  # not theirs
    assert everyone['doctor'].get(path).status == 403  # not a doctor's business
    assert everyone['anon'].get(path).status == 401
