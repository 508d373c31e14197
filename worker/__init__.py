"""The Celery side: the app, the beat schedule and thin tasks that call the domain."""
