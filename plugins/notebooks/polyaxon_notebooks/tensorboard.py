"""``tensorboard``: TensorBoard over the event files of the runs given (a sweep or a DAG
stands for its runs), through the hub's ``tensorboard`` component."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from polyaxon_core.hookspecs import hookimpl
from polyaxon_core.interfaces import PluginConfigError, WorkspaceService


class TensorboardService(WorkspaceService):
    name = "tensorboard"
    description = ("TensorBoards over runs, sweeps and DAGs: start, list, open and stop them "
                   "(the runs log event files with tracking.init(tensorboard=True)).")
    component = "tensorboard"
    reads_runs = True

    def inputs(self, runs: Sequence[str], params: Mapping[str, str]) -> dict[str, str]:
        given = [uuid for uuid in params.get("uuids", "").split(",") if uuid.strip()]
        uuids = list(dict.fromkeys([*runs, *(uuid.strip() for uuid in given)]))
        if not uuids:
            raise PluginConfigError("a TensorBoard reads the event files of runs: name them with "
                                    "-u UUID (repeatable; a sweep's or a DAG's uuid reads its runs)")
        return {**params, "uuids": ",".join(uuids)}


@hookimpl
def polyaxon_register_services() -> list[type[WorkspaceService]]:
    return [TensorboardService]
