"""WSGI entry point: creates the app and nothing else."""

from tracker import create_app

app = create_app()
