"""The WSGI entry point for gunicorn: ``gunicorn oncall.web.wsgi:app``."""

from oncall.web import create_app

app = create_app()
