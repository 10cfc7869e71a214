"""What can be done to projects, queues and runs: the domain functions the CLI, the API,
the orchestrator and the schedulers all call, one room per concern.

* :mod:`.projects` — projects and the names they may take;
* :mod:`.queues` — named queues with a priority and a concurrency;
* :mod:`.state` — the single writer of a run's status (compare-and-set on the row);
* :mod:`.commands` — creating runs and acting on them (submit, trial, stop, clone,
  resume, archive, delete);
* :mod:`.metrics` — storing metric batches exactly once;
* :mod:`.artifacts` — copying and discarding run files;
* :mod:`.listing` — finding, listing and serializing runs, for the CLI and the API alike.
"""
