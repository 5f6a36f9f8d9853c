"""Administration: users, streets and squads, categories, deadline rules, holiday calendar, job runs, reveal log,
the squads' notification channels.

Only the administrator opens these pages. Every change goes through a service, is committed
once, and on a refused input nothing is stored: the form comes back with the Chinese reason.
The blueprint (``common.bp``) is one; its routes are grouped by what they administer.
"""

from tracker.web.admin import deadlines, directory, notify, records, users
from tracker.web.admin.common import bp

__all__ = ["bp", "deadlines", "directory", "notify", "records", "users"]
