"""WSGI entry point and composition root: the app, with the scheduler's ``run-job`` command added."""

import jobs.cli
from tracker import create_app

app = create_app()
jobs.cli.init_app(app)
