"""Running the system: recorded job runs, the scheduler lease, database health, the administration
pages' read models, and the demo data.

May import: ``imports``, ``orders``, ``accounts``, ``tracker.domain``, ``tracker.models``, ``tracker.db``.
"""

from tracker.services.operations import admin_views, job_runs
from tracker.services.operations.backup import BackupError, create_backup, restore_backup
from tracker.services.operations.demo import ensure_demo_users, load_samples
from tracker.services.operations.health import Readiness, readiness, schema_problem
from tracker.services.operations.job_runs import JobFunc, JobResult, run_recorded
from tracker.services.operations.leadership import SCHEDULER_LOCK_KEY, active_scheduler, hold_lease
from tracker.services.operations.metrics_export import Sample, database_samples
from tracker.services.operations.retention import RetentionPolicy, retention_job, run_retention

__all__ = [
    "SCHEDULER_LOCK_KEY",
    "BackupError",
    "JobFunc",
    "JobResult",
    "Readiness",
    "RetentionPolicy",
    "Sample",
    "active_scheduler",
    "admin_views",
    "create_backup",
    "database_samples",
    "ensure_demo_users",
    "hold_lease",
    "job_runs",
    "load_samples",
    "readiness",
    "restore_backup",
    "retention_job",
    "run_recorded",
    "run_retention",
    "schema_problem",
]
