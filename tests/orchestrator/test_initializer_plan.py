"""How a run's ``init`` section becomes the steps its scheduler runs: where each step
writes, what it reads, and the refusals that name the initializer and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from polyaxon_core.entities import ConnectionEntity, ContainerSpec
from polyaxon_core.orchestrator.initializers import InitializerError, plan, repository_name

RUN = Path("/home/p/runs/abc")
ARTIFACTS = Path("/home/p/artifacts/abc")
CATALOG = {
    "code": ConnectionEntity(name="code", kind="git",
                             schema={"url": "https://git.example.org/org/models.git", "revision": "main"}),
    "data": ConnectionEntity(name="data", kind="host_path",
                             schema={"hostPath": "/srv/data", "mountPath": "/data"}),
    "bucket": ConnectionEntity(name="bucket", kind="s3", schema={"bucket": "s3://b"}),
}


def _plan(*init: dict, runs: tuple[str, ...] = ("d0c1",)) -> tuple:
    return plan(list(init), RUN, ARTIFACTS, CATALOG.__getitem__, lambda uuid: uuid in runs)


@pytest.mark.parametrize(("url", "name"), [
    ("https://github.com/org/repo.git", "repo"),
    ("https://github.com/org/repo/", "repo"),
    ("git@github.com:org/repo.git", "repo"),
    ("file:///srv/git/models", "models"),
])
def test_a_clone_goes_into_a_folder_named_after_its_repository(url: str, name: str) -> None:
    assert repository_name(url) == name
    (step,) = _plan({"git": {"url": url}})
    assert step.destination == str(RUN / name)


def test_a_git_connection_gives_the_url_and_the_initializer_overrides_its_revision() -> None:
    (step,) = _plan({"connection": "code", "git": {"revision": "v2"}, "path": "src"})
    assert step.kind == "git" and step.connection is CATALOG["code"]
    assert step.value["url"] == "https://git.example.org/org/models.git"
    assert step.value["revision"] == "v2" and step.destination == str(RUN / "src")


def test_files_and_paths_land_under_the_run_folder_or_the_given_path() -> None:
    file, dockerfile, paths, folder, container = _plan(
        {"file": {"content": "x", "filename": "conf/a.yaml"}},
        {"dockerfile": {"image": "python:3.11"}, "path": str(ARTIFACTS / "build")},
        {"paths": ["d0c1/outputs/model", ["d0c1/outputs/w.bin", "weights/w.bin"]]},
        {"connection": "data", "artifacts": {"files": ["train.csv"], "dirs": ["images"]}},
        {"container": ContainerSpec(image="busybox", command=("true",))},
    )
    assert file.destination == str(RUN / "conf" / "a.yaml")
    assert dockerfile.destination == str(ARTIFACTS / "build" / "Dockerfile")
    assert paths.sources == (("d0c1/outputs/model", str(RUN / "d0c1/outputs/model")),
                             ("d0c1/outputs/w.bin", str(RUN / "weights/w.bin")))
    assert paths.value == {"root": None}
    assert folder.value == {"root": "/srv/data"}
    assert folder.sources == (("train.csv", str(RUN / "train.csv")), ("images", str(RUN / "images")))
    assert container.kind == "container" and container.container is not None


@pytest.mark.parametrize(("init", "said"), [
    ({"git": {"url": "https://h/r.git", "flags": ["--depth=1", "rm -rf"]}},
     "`git.flags` must be a list of options"),
    ({"git": {"url": "https://h/r.git", "revision": "--upload-pack=evil"}}, "is not a commit"),
    ({"connection": "data", "git": {"url": "https://h/r.git"}}, "takes a `git` connection"),
    ({"git": {"url": "https://h/r.git"}, "path": "../elsewhere"}, "leads out of the run's folders"),
    ({"file": {"content": "x", "filename": "../../etc/cron.d/x"}}, "is not a path inside"),
    ({"paths": ["ffff/outputs"]}, "is not in the artifacts of a run of this project"),
    ({"paths": ["/etc/passwd"]}, "is not a path inside"),
    ({"paths": []}, "names nothing to copy"),
    ({"connection": "bucket", "paths": ["x"]}, "name a host_path or volume_claim connection"),
    ({"path": "somewhere"}, "does nothing here"),
])
def test_an_initializer_that_cannot_run_is_refused_with_its_place_and_the_fix(init: dict, said: str) -> None:
    with pytest.raises(InitializerError, match="initializer 1 of run.init") as raised:
        _plan(init)
    assert said in str(raised.value)


def test_a_tensorboard_gathers_each_runs_event_files_a_sweep_standing_for_its_trials() -> None:
    projects_runs = {"sweep": [("t1", "trial"), ("t2", "trial")], "job": [("job", "baseline")]}

    (step,) = plan([{"tensorboard": {"uuids": "sweep, job", "useNames": True}}], RUN, ARTIFACTS,
                   CATALOG.__getitem__, lambda uuid: True, lambda uuid: projects_runs.get(uuid, []))
    (by_uuid,) = plan([{"tensorboard": {"uuids": ["job"]}, "path": "boards"}], RUN, ARTIFACTS,
                      CATALOG.__getitem__, lambda uuid: True, lambda uuid: projects_runs.get(uuid, []))

    assert step.kind == "paths" and step.value == {"root": None, "missing_ok": True}
    # one folder per run, named after it; two of one name each keep their own
    assert step.sources == (("t1/tensorboard", str(RUN / "tensorboard" / "trial")),
                            ("t2/tensorboard", str(RUN / "tensorboard" / "trial-t2")),
                            ("job/tensorboard", str(RUN / "tensorboard" / "baseline")))
    assert by_uuid.sources == (("job/tensorboard", str(RUN / "boards" / "job")),)
    with pytest.raises(InitializerError, match="other is not a run of this project"):
        plan([{"tensorboard": {"uuids": "job,other"}}], RUN, ARTIFACTS, CATALOG.__getitem__,
             lambda uuid: True, lambda uuid: projects_runs.get(uuid, []))
    with pytest.raises(InitializerError, match="names no run"):
        plan([{"tensorboard": {"uuids": ""}}], RUN, ARTIFACTS, CATALOG.__getitem__,
             lambda uuid: True, lambda uuid: projects_runs.get(uuid, []))
    with pytest.raises(InitializerError, match="it has no place here"):
        _plan({"tensorboard": {"uuids": "job"}})
