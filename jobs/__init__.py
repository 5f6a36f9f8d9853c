"""The scheduler process (``python -m jobs``): job registry and one module per job.

Not built yet: the scheduler issue adds the APScheduler process, the overdue scan, the
morning inbox import, the squad digests and the nightly metrics here. Each job will be a
thin call into ``tracker.services``.
"""
