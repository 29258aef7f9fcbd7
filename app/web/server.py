"""The Waitress server of the web process, built one way for `run.py web`
and for the tests, so both run with the same settings."""
from waitress.server import create_server


def server_options(settings):
    options = {'host': settings.host, 'port': settings.port, 'threads': settings.web_threads,
               'ident': 'ClinicDesk', 'channel_timeout': 60,
               # Forwarded headers from anyone but the trusted proxy are
               # dropped, so a client cannot choose its own address.
               'clear_untrusted_proxy_headers': True}
    if settings.trusted_proxy:
        # Waitress then sets REMOTE_ADDR to the forwarded client (the last
        # hop: one proxy) and wsgi.url_scheme to the forwarded scheme.
        options.update(trusted_proxy=settings.trusted_proxy, trusted_proxy_count=1,
                       trusted_proxy_headers={'x-forwarded-for', 'x-forwarded-proto'})
    return options


def web_server(app, settings, **overrides):
    """A Waitress server for `app`, not yet running: call .run()."""
    return create_server(app, **{**server_options(settings), **overrides})
