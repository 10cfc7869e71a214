"""`polyaxon run` on this machine fetches a urlRef (here from 127.0.0.1) and runs it."""

from __future__ import annotations

import json
from pathlib import Path

from tests.orchestrator.conftest import FILES, Cli, wait_final
from tests.spec.conftest import ComponentServer


def test_a_local_run_fetches_its_url_ref_once_and_runs_the_component(
    cli: Cli, tmp_path: Path
) -> None:
    server = ComponentServer()
    component = (FILES / "task.yaml").read_text()
    # served from a URL, the component has no folder of its own: its script by full path
    server.files["/task.yaml"] = component.replace("{{ globals.context_path }}/task.py",
                                                   str(FILES / "task.py"))
    operation = tmp_path / "op.yaml"
    operation.write_text(f"kind: operation\nurlRef: {server.url}/task.yaml\nparams: {{x: 2}}\n")
    try:
        uuid = json.loads(cli("run", "-f", str(operation), "-o", "json").stdout)["uuid"]
        state = wait_final(uuid)
    finally:
        server.close()

    assert state["status"] == "succeeded"
    assert state["outputs"] == {"result": 6.0}
    assert server.requested == ["/task.yaml"]
