"""The settings this process was started with, for code that runs outside a
request (Huey tasks, the periodic validators). Set once by boot()."""
from app.clock import Clock

_settings = None


def configure(settings):
    global _settings
    _settings = settings


def settings():
    if _settings is None:
        raise RuntimeError('app.boot.boot(settings) has not run in this process')
    return _settings


def clock():
    return Clock(settings().tz)
