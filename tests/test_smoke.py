def test_health_reports_database_queue_and_worker(anon, worker):
    resp = anon.get('/healthz')
    assert resp.status == 200, resp
    assert resp.json == {'status': 'ok', 'database': 'ok', 'queue': 'ok', 'worker': 'ok'}
