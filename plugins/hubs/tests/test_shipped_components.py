"""The components polyaxon-hubs ships: each one read through the hub, checked by our
compiler with the params it needs, and valid for the official Polyaxon client too."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from polyaxon_hubs.public import COMPONENTS, PolyaxonHub

from polyaxon_core.hub import resolve
from polyaxon_core.spec import read_hub_component

REPOSITORY = Path(__file__).resolve().parents[3]
OFFICIAL_PYTHON = REPOSITORY / ".venv-official" / "bin" / "python"
#: what each shipped component needs to be run (its inputs without a default)
PARAMS: dict[str, dict[str, str]] = {
    "jupyterlab": {}, "notebook": {}, "vscode": {},
    "streamlit": {"app": "app.py"},
    "tensorboard": {"uuids": "8aac02e3a62a4f0aaa257c59da5eab80,56f1a7f20f1d4f7f9e1a108b3c6b6031"},
    "kaniko": {"destination": "registry.example.org/team/model:1"},
    "dockerize": {"destination": "registry.example.org/team/model:1", "image": "python:3.11-slim",
                  "run": "pip install numpy"},
    "git-clone": {"url": "https://git.example.org/team/models.git", "revision": "v1.0"},
}
KINDS = {"jupyterlab": "service", "notebook": "service", "vscode": "service", "streamlit": "service",
         "tensorboard": "service", "kaniko": "job", "dockerize": "job", "git-clone": "job"}


def test_the_hub_ships_every_component_polyaxons_public_hub_offers() -> None:
    entries = PolyaxonHub("polyaxon").components()
    assert {entry.name for entry in entries} == set(PARAMS)
    assert {entry.owner for entry in entries} == {"polyaxon"}


@pytest.mark.parametrize("name", sorted(PARAMS))
def test_each_component_compiles_with_the_params_it_needs(name: str) -> None:
    spec = read_hub_component(name, PARAMS[name])

    assert spec.component.name == name and spec.run_kind == KINDS[name]
    assert spec.to_dict()["hubRef"] == str(resolve(name).ref)
    container = spec.render_container(spec.resolve_inputs({}), {
        "ports": [8888], "base_url": "/services/v1/default/p/runs/u", "context_path": "/plx-context",
        "run_artifacts_path": "/plx-context/artifacts", "uuid": "u", "bind_address": "0.0.0.0"})
    assert container.image, "every component names its image"
    if KINDS[name] == "service":
        assert spec.component.to_dict()["run"]["ports"], "a service says which port it serves"


#: the official client's own check, with the params each component needs, every file in
#: one process (starting its CLI costs about two seconds a file)
OFFICIAL_SCRIPT = """
import contextlib, io, json, sys
from polyaxon._polyaxonfile.check import check_polyaxonfile
verdicts = {}
for path, params in json.loads(sys.argv[1]).items():
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            check_polyaxonfile(polyaxonfile=path, params=params, is_cli=False, verbose=False)
            verdicts[path] = None
        except Exception as exc:
            verdicts[path] = f"{type(exc).__name__}: {exc}"
print(json.dumps(verdicts))
"""


@pytest.mark.official
def test_the_official_client_accepts_every_component(tmp_path: Path) -> None:
    assert OFFICIAL_PYTHON.exists(), "install the official client with `make official-client`"
    files = sorted(COMPONENTS.glob("*/*/*.yaml"))
    assert len(files) == len(PARAMS)
    asked = {str(file): [f"{name}={value}" for name, value in PARAMS[file.parent.name].items()]
             for file in files}
    checked = subprocess.run([str(OFFICIAL_PYTHON), "-c", OFFICIAL_SCRIPT, json.dumps(asked)],
                             capture_output=True, text=True, timeout=300,
                             env={**os.environ, "HOME": str(tmp_path)}, check=True)
    verdicts = json.loads(checked.stdout)
    assert {Path(path).parent.name: error for path, error in verdicts.items()} == dict.fromkeys(PARAMS)
