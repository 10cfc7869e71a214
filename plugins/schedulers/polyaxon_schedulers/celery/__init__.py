"""``scheduler-celery``: runs dispatched as Celery tasks to ``polyaxon worker`` processes.

The orchestrator sends each attempt of a run as a task naming only the run and the
attempt (:mod:`.scheduler`); a worker (:mod:`.worker`) takes the attempt's lease in the
database, rebuilds the launch there and runs it as the local scheduler would, beating
the lease's heartbeat while it lives. What crosses the broker carries no secret.
"""
