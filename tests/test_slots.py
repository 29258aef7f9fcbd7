"""The slot function of SPEC §8, alone: hours, breaks, time off, visits of
different lengths, notice, horizon, and the days clocks change."""
import datetime
import random
from zoneinfo import ZoneInfo

from app import slots
from app.slots import Calendar, Rules, TimeOff

T = datetime.time
D = datetime.date
UTC = ZoneInfo('UTC')
LONDON = ZoneInfo('Europe/London')
NEW_YORK = ZoneInfo('America/New_York')
WEEKDAYS = {day: [(T(9), T(12, 30)), (T(14), T(18))] for day in range(5)}
MONDAY = D(2026, 11, 30)


def at(tz, day, hour=8, minute=0):
    return datetime.datetime.combine(day, T(hour, minute), tzinfo=tz)


def times(found, day=None):
    return [f'{s.time:%H:%M}' for s in found if day is None or s.date == day]


def test_slots_follow_weekly_hours_and_leave_the_break_and_weekend_free():
    calendar = Calendar(UTC, WEEKDAYS)
    found = slots.free_slots(calendar, Rules(at(UTC, MONDAY)), MONDAY, MONDAY + datetime.timedelta(6))
    assert times(found, MONDAY) == ['09:00', '09:30', '10:00', '10:30', '11:00', '11:30', '12:00',
                                    '14:00', '14:30', '15:00', '15:30', '16:00', '16:30',
                                    '17:00', '17:30']
    assert {s.date.weekday() for s in found} == {0, 1, 2, 3, 4}
    assert all(s.minutes == 30 for s in found)


def test_a_longer_visit_must_fit_inside_one_range():
    calendar = Calendar(UTC, {0: [(T(9), T(10, 30))]}, slot_minutes=15)
    found = slots.free_slots(calendar, Rules(at(UTC, MONDAY)), MONDAY, MONDAY, minutes=45)
    assert times(found) == ['09:00', '09:15', '09:30', '09:45']


def test_a_range_ending_at_midnight_runs_to_the_end_of_the_day():
    calendar = Calendar(UTC, {0: [(T(22), T(0))]}, slot_minutes=60)
    found = slots.free_slots(calendar, Rules(at(UTC, MONDAY)), MONDAY, MONDAY)
    assert times(found) == ['22:00', '23:00']


def test_visits_of_other_lengths_block_every_start_they_overlap():
    calendar = Calendar(UTC, {0: [(T(9), T(13))]},
                        busy=((MONDAY, T(10, 15), 60), (MONDAY, T(12), 15)))
    found = slots.free_slots(calendar, Rules(at(UTC, MONDAY)), MONDAY, MONDAY)
    assert times(found) == ['09:00', '09:30', '11:30', '12:30']


def test_whole_day_and_part_day_time_off():
    calendar = Calendar(UTC, WEEKDAYS, time_off=(
        TimeOff(MONDAY, MONDAY),
        TimeOff(D(2026, 12, 1), D(2026, 12, 2), T(9), T(11)),
    ))
    found = slots.free_slots(calendar, Rules(at(UTC, MONDAY)), MONDAY, D(2026, 12, 3))
    assert times(found, MONDAY) == []
    assert times(found, D(2026, 12, 1))[:3] == ['11:00', '11:30', '12:00']
    assert times(found, D(2026, 12, 2))[:1] == ['11:00']
    assert times(found, D(2026, 12, 3))[:1] == ['09:00']


def test_notice_and_horizon():
    calendar = Calendar(UTC, WEEKDAYS)
    rules = Rules(at(UTC, MONDAY, 9, 10), notice_minutes=60, horizon_days=7)
    found = slots.free_slots(calendar, rules, MONDAY - datetime.timedelta(3),
                             MONDAY + datetime.timedelta(30))
    assert times(found, MONDAY)[0] == '10:30'
    assert max(s.date for s in found) == MONDAY + datetime.timedelta(7)


def test_spring_forward_gap_has_no_slots_in_london():
    day = D(2026, 3, 29)  # 01:00 GMT becomes 02:00 BST
    calendar = Calendar(LONDON, {6: [(T(0), T(4))]})
    found = slots.free_slots(calendar, Rules(at(LONDON, day - datetime.timedelta(2))), day, day)
    assert times(found) == ['00:00', '00:30', '02:00', '02:30', '03:00', '03:30']


def test_spring_forward_gap_in_new_york():
    day = D(2026, 3, 8)  # 02:00 EST becomes 03:00 EDT
    calendar = Calendar(NEW_YORK, {6: [(T(1), T(4))]})
    found = slots.free_slots(calendar, Rules(at(NEW_YORK, day - datetime.timedelta(2))), day, day)
    assert times(found) == ['01:00', '01:30', '03:00', '03:30']
    assert slots.why_not(calendar, Rules(at(NEW_YORK, day - datetime.timedelta(2))),
                         day, T(2, 30)) == slots.OFF_GRID


def test_fall_back_repeat_is_offered_once_and_a_visit_there_blocks_it():
    day = D(2026, 10, 25)  # 02:00 BST becomes 01:00 GMT: 01:00-02:00 happens twice
    calendar = Calendar(LONDON, {6: [(T(0), T(4))]})
    rules = Rules(at(LONDON, day - datetime.timedelta(2)))
    found = slots.free_slots(calendar, rules, day, day)
    assert times(found) == ['00:00', '00:30', '01:00', '01:30', '02:00', '02:30', '03:00', '03:30']
    busy = Calendar(LONDON, {6: [(T(0), T(4))]}, busy=((day, T(1), 30),))
    assert '01:00' not in times(slots.free_slots(busy, rules, day, day))
    assert '01:30' in times(slots.free_slots(busy, rules, day, day))


def test_fall_back_in_new_york_and_an_overnight_visit_length():
    day = D(2026, 11, 1)  # 02:00 EDT becomes 01:00 EST
    calendar = Calendar(NEW_YORK, {6: [(T(0), T(3))]}, slot_minutes=60)
    found = slots.free_slots(calendar, Rules(at(NEW_YORK, day - datetime.timedelta(1))), day, day)
    # Four real hours fit between 00:00 and 03:00 that night; the grid is wall time.
    assert times(found) == ['00:00', '01:00', '02:00']


def test_month_end_and_leap_day():
    calendar = Calendar(UTC, {1: [(T(9), T(10))]}, slot_minutes=60)  # Tuesdays
    rules = Rules(at(UTC, D(2028, 2, 20)), horizon_days=90)
    found = slots.free_slots(calendar, rules, D(2028, 2, 27), D(2028, 3, 8))
    assert [s.date for s in found] == [D(2028, 2, 29), D(2028, 3, 7)]
    rules = Rules(at(UTC, D(2026, 12, 28)))
    found = slots.free_slots(calendar, rules, D(2026, 12, 28), D(2027, 1, 6))
    assert [s.date for s in found] == [D(2026, 12, 29), D(2027, 1, 5)]


def test_why_not_names_the_reason_and_override_skips_only_hours_grid_time_off_and_notice():
    calendar = Calendar(UTC, WEEKDAYS, busy=((MONDAY, T(10), 30),),
                        time_off=(TimeOff(MONDAY, MONDAY, T(15), T(16)),))
    rules = Rules(at(UTC, MONDAY, 8, 45), notice_minutes=60, horizon_days=30)
    assert slots.why_not(calendar, rules, MONDAY, T(10, 30)) is None
    assert slots.why_not(calendar, rules, MONDAY, T(9, 30)) == slots.TOO_SOON
    assert slots.why_not(calendar, rules, MONDAY, T(7)) == slots.IN_PAST
    assert slots.why_not(calendar, rules, MONDAY, T(13)) == slots.OUTSIDE_HOURS
    assert slots.why_not(calendar, rules, MONDAY, T(12, 15)) == slots.OUTSIDE_HOURS
    assert slots.why_not(calendar, rules, MONDAY, T(9, 10)) == slots.OFF_GRID
    assert slots.why_not(calendar, rules, MONDAY, T(15, 30)) == slots.TIME_OFF
    assert slots.why_not(calendar, rules, MONDAY, T(10)) == slots.TAKEN
    assert slots.why_not(calendar, rules, MONDAY, T(9, 45), minutes=30) == slots.OFF_GRID
    assert slots.why_not(calendar, rules, MONDAY + datetime.timedelta(40), T(9)) == slots.TOO_FAR
    assert slots.why_not(calendar, rules, D(2026, 12, 5), T(9)) == slots.OUTSIDE_HOURS
    staff = Rules(rules.now, override=True)
    assert slots.why_not(calendar, staff, MONDAY, T(13)) is None
    assert slots.why_not(calendar, staff, MONDAY, T(9)) is None
    assert slots.why_not(calendar, staff, MONDAY, T(9, 50)) == slots.TAKEN
    assert slots.why_not(calendar, staff, MONDAY, T(7)) == slots.IN_PAST
    assert slots.why_not(calendar, staff, MONDAY + datetime.timedelta(91), T(9)) == slots.TOO_FAR


def test_free_slots_and_why_not_agree_on_every_start():
    rng = random.Random(7)
    day0 = D(2026, 10, 19)
    busy = tuple((day0 + datetime.timedelta(rng.randrange(14)),
                  T(rng.randrange(8, 18), rng.choice((0, 15, 30, 45))),
                  rng.choice((15, 30, 45, 60))) for _ in range(40))
    calendar = Calendar(LONDON, {d: [(T(8), T(12)), (T(13), T(18, 30))] for d in range(6)},
                        slot_minutes=15, busy=busy,
                        time_off=(TimeOff(day0 + datetime.timedelta(3), day0 + datetime.timedelta(3),
                                          T(10), T(14)),))
    rules = Rules(at(LONDON, day0, 9, 7), notice_minutes=90, horizon_days=10)
    found = {(s.date, s.time) for s in slots.free_slots(calendar, rules, day0,
                                                         day0 + datetime.timedelta(13),
                                                         minutes=30)}
    for offset in range(14):
        day = day0 + datetime.timedelta(offset)
        for minute in range(0, 24 * 60, 15):
            wall = T(minute // 60, minute % 60)
            bookable = slots.why_not(calendar, rules, day, wall, minutes=30) is None
            assert bookable == ((day, wall) in found), (day, wall)
