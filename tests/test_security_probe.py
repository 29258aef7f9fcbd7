"""Where account security meets the other features (SPEC §10): each test
is an attack tried from outside, through the HTTP API, on a real server."""
from app.db import database
from app.models import Session


def test_deactivating_a_doctor_ends_their_sessions_for_good(base_url, admin, make_user):
    doctor = make_user(base_url, 'doctor')
    assert doctor.get('/api/me').status == 200
    assert doctor.get('/api/me').status == 200  # a GET may now answer from the session cache
    resp = admin.put(f'/api/doctors/{doctor.user["id"]}', {'active': False})
    assert resp.status == 200 and resp.json['active'] is False
    assert doctor.get('/api/me').status == 401
    with database.connection_context():
        assert not Session.select().where(Session.user == doctor.user['id']).exists()

    # Reactivated, the account needs a new login: the old cookie stays dead.
    assert admin.put(f'/api/doctors/{doctor.user["id"]}', {'active': True}).status == 200
    assert doctor.get('/api/me').status == 401
