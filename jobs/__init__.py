"""The scheduler process (``python -m jobs``): a registry of jobs, one module per job.

Each job is a thin call into ``tracker.services``; the process holds a lease so that only one
scheduler runs the jobs, the others stand by (see ``jobs.runner``).
"""
