"""Huey tasks. Each is a few lines that call a service; the Huey instance and
its storage come from app.queue, configured at start by app.boot."""
from app.queue import huey  # noqa: F401
