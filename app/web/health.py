"""GET /healthz: database, queue and worker, for load balancers and the
container's health check."""
from app.services import health
from app.web.base import json_response, settings


def healthz():
    report = health.check(settings())
    status = 200 if all(v == 'ok' for v in report.values()) else 503
    return json_response({'status': 'ok' if status == 200 else 'down', **report}, status=status)


ROUTES = [
    ('GET', '/healthz', healthz, None, {}),
]
