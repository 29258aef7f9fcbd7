"""The one Jinja2 setup over templates/, for pages and for email bodies.

.html and .xml templates are autoescaped, .txt ones (plain-text mail) are
not. The web layer adds its filters to this environment and renders pages
with its request context; mail bodies go through `render_email`.
"""
from pathlib import Path

import jinja2

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / 'templates'

environment = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
    # bottle.jinja2_template does not escape; this does, by file extension.
    autoescape=jinja2.select_autoescape(['html', 'xml'], default_for_string=True),
    trim_blocks=True, lstrip_blocks=True,
    # No stat() of the template file for each of 10,000 reminders (SPEC §7 P2).
    auto_reload=False)


def render_email(template, /, **context):
    """An email body from templates/mail/. It ends with a line break, as
    mail text does: the environment drops a file's last newline (pages
    include partials and want that)."""
    body = environment.get_template(template).render(**context)
    return body if body.endswith('\n') else body + '\n'
