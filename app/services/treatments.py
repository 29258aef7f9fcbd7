"""Amending a recorded visit and reading its versions (SPEC §9).

Treatment holds a visit's current record; every report, export and page
reads it there. TreatmentVersion keeps the versions once a visit is
amended: the first amendment keeps the record it replaces as version 1
(written by the appointment's doctor, the only one who can record it, when
the record was made), and each amendment adds itself as the next number.
A visit never amended has no version rows: its history is its record."""
import peewee

from app.db import database
from app.errors import ApiError, conflict
from app.models import Treatment, TreatmentVersion, User, utcnow
from app.services import appointments, audit


def _versions(appointment_id):
    return (TreatmentVersion
            .select(TreatmentVersion, User)
            .join(User, peewee.JOIN.LEFT_OUTER, on=(TreatmentVersion.recorded_by == User.id),
                  attr='recorder')
            .where(TreatmentVersion.appointment == appointment_id)
            .order_by(TreatmentVersion.number.desc()))


def _original(appt, treatment):
    """The record as first made, as an unsaved version 1."""
    version = TreatmentVersion(appointment=appt.id, number=1, diagnosis=treatment.diagnosis,
                               treatment=treatment.treatment,
                               prescription=treatment.prescription,
                               recorded_by=appt.doctor.id, recorded_at=treatment.created_at)
    version.recorder = appt.doctor
    return version


def history_of(appt):
    """Every version of the visit's record, newest (the current one) first;
    empty for a visit with no record."""
    versions = list(_versions(appt.id))
    treatment = getattr(appt, 'treatment_row', None)
    if versions or treatment is None or treatment.id is None:
        return versions
    return [_original(appt, treatment)]


def history(user, appointment_id, ip=None):
    """The versions of a visit `user` may open; opening them is opening the
    appointment (audited as such for doctors and admins)."""
    if not appointments.reads_clinical_text(user):
        raise ApiError(403, 'your account cannot read clinical records')
    return history_of(appointments.view(user, appointment_id, ip))


def amend(user, appointment_id, data, ip=None):
    """Replace a completed visit's record, keeping what it replaces."""
    fields = appointments.clinical_fields(data)
    if user.role != 'doctor':
        raise ApiError(403, 'only the appointment\'s doctor can amend its record')
    appt = appointments.get_for(user, appointment_id)
    if appt.status != 'completed':
        raise conflict(f'appointment is {appt.status.replace("_", "-")}; only a completed '
                       'visit has a record to amend')
    try:
        with database.atomic():
            _write_version(user, appt, fields)
            audit.record('treatment.amend', user, appt.patient.id, f'appointment:{appt.id}', ip)
    except peewee.IntegrityError:
        raise conflict('the record was amended meanwhile; reload and try again')
    return appointments.get_for(user, appointment_id)


def _write_version(user, appt, fields):
    current = Treatment.get(Treatment.appointment == appt.id)
    latest = (TreatmentVersion
              .select(peewee.fn.MAX(TreatmentVersion.number))
              .where(TreatmentVersion.appointment == appt.id)
              .scalar())
    if latest is None:
        _original(appt, current).save(force_insert=True)
        latest = 1
    TreatmentVersion.create(appointment=appt.id, number=latest + 1, recorded_by=user.id,
                            recorded_at=utcnow(), **fields)
    Treatment.update(**fields).where(Treatment.id == current.id).execute()


def version_json(version, clock):
    recorder = getattr(version, 'recorder', None)
    return {'version': version.number,
            'diagnosis': version.diagnosis, 'treatment': version.treatment,
            'prescription': version.prescription,
            'recorded_by': ({'id': recorder.id, 'name': recorder.name}
                            if recorder is not None and recorder.id else None),
            'recorded_at': clock.iso(version.recorded_at)}
