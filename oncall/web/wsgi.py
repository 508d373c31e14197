"""The WSGI entry point for gunicorn: ``gunicorn oncall.web.wsgi:app``. Like every
production process, it refuses to start without ``ONCALL_SECRET_KEY``."""

from oncall.config import load_settings, require_secret_key
from oncall.web import create_app

settings = load_settings()
require_secret_key(settings, "the web app")
app = create_app(settings)
