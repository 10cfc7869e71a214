"""Workspace services for polyaxon-core, each a plugin of its own.

* ``notebook`` runs JupyterLab (the hub's ``jupyterlab`` component) on a project's
  folder: ``polyaxon notebook start -p PROJECT --culling 3600``;
* ``tensorboard`` runs TensorBoard over the event files of runs, of a sweep's trials or
  of a DAG's operations: ``polyaxon tensorboard start -u UUID [-u UUID ...]``.

Both are ``run.kind: service`` components: the orchestrator starts them on the configured
scheduler, marks them running once their port answers, culls the idle ones, and the
server's proxy lets in only the users who may read the run.
"""
