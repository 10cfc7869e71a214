"""Our verdict on each corpus file equals the official Polyaxon client's.

The official client (installed in ``.venv-official`` by ``make official-client``) checks
all files in one subprocess through ``official_check.py``; a separate test confirms that
this helper agrees with the client's own ``polyaxon check`` command.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from polyaxon_core.spec import PolyaxonfileError, read_polyaxonfile

from .helpers import CORPUS, INVALID_FILES, SPEC_TESTS, VALID_FILES

pytestmark = pytest.mark.official

REPOSITORY = SPEC_TESTS.parent.parent
OFFICIAL_BIN = REPOSITORY / ".venv-official" / "bin"
HELPER = SPEC_TESTS / "official_check.py"

#: Files on which we disagree with the official client on purpose, and why.
DELIBERATE_DIFFERENCES: dict[str, str] = {
    "valid/matrix-hyperopt.yaml": (
        "we also accept Polyaxon 1.x's `hyperopt` matrix kind (2.x renamed it tpe)"
    ),
    "invalid/matrix-tpe-pchoice.yaml": (
        "we refuse weighted choices in a TPE search when the file is checked; the official "
        "client's check accepts the file"
    ),
    "valid/matrix-asha.yaml": (
        "we also accept `asha` (asynchronous successive halving), which Polyaxon does not have"
    ),
    "invalid/termination-negative-timeout.yaml": (
        "we reject a negative timeout; the official client accepts any integer"
    ),
    "invalid/template-unknown-input.yaml": (
        "we check the names templates use at check time; the official client only fails "
        "when the run is compiled"
    ),
    "invalid/early-stopping-percent-over-100.yaml": (
        "we reject a failure percentage above 100, which can never be reached; the official "
        "client lets it through"
    ),
    "invalid/schedule-bad-cron.yaml": (
        "we validate cron expressions; the official client accepts any string"
    ),
    "invalid/distribution-pchoice-sum.yaml": (
        "we require pchoice probabilities to sum to 1; the official client only rejects sums above 1"
    ),
}


def _official_environment(tmp_path: Path) -> dict[str, str]:
    # The client may write its configuration under HOME: keep it in the test's folder.
    return {**os.environ, "HOME": str(tmp_path)}


def _require_official_client() -> None:
    if not (OFFICIAL_BIN / "python").exists() or not (OFFICIAL_BIN / "polyaxon").exists():
        pytest.fail(
            f"The official Polyaxon client is missing from {OFFICIAL_BIN.parent}; "
            "install it with `make official-client` (about 35 s) and run the tests again."
        )


def _official_verdicts(paths: list[Path], tmp_path: Path) -> dict[str, dict[str, object]]:
    _require_official_client()
    completed = subprocess.run(
        [str(OFFICIAL_BIN / "python"), str(HELPER), *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=300,
        env=_official_environment(tmp_path),
        check=False,
    )
    assert completed.returncode == 0, f"official_check.py failed:\n{completed.stderr}"
    verdicts: dict[str, dict[str, object]] = json.loads(completed.stdout)
    return verdicts


def _our_verdict(path: Path) -> tuple[bool, str]:
    try:
        read_polyaxonfile(path)
    except PolyaxonfileError as exc:
        return False, str(exc)
    return True, ""


def test_our_verdicts_equal_the_official_client_except_the_listed_differences(tmp_path: Path) -> None:
    paths = VALID_FILES + INVALID_FILES
    official = _official_verdicts(paths, tmp_path)
    disagreements = []
    for path in paths:
        name = path.relative_to(CORPUS).as_posix()
        ours, our_reason = _our_verdict(path)
        theirs = official[str(path)]["valid"]
        expected = ours if name not in DELIBERATE_DIFFERENCES else not ours
        if theirs != expected:
            disagreements.append(
                f"{name}: ours={'valid' if ours else 'invalid'} official={'valid' if theirs else 'invalid'}"
                f"{' (listed as a deliberate difference)' if name in DELIBERATE_DIFFERENCES else ''}\n"
                f"  ours: {our_reason or '-'}\n  official: {official[str(path)]['error'] or '-'}"
            )

    assert not disagreements, "verdicts differ from the official client:\n" + "\n".join(disagreements)


def test_every_deliberate_difference_names_a_corpus_file() -> None:
    names = {path.relative_to(CORPUS).as_posix() for path in VALID_FILES + INVALID_FILES}

    assert set(DELIBERATE_DIFFERENCES) <= names
    assert all(reason.strip() for reason in DELIBERATE_DIFFERENCES.values())


def test_helper_verdict_equals_the_official_cli_exit_code(tmp_path: Path) -> None:
    samples = [CORPUS / "valid" / "component-dag.yaml", CORPUS / "invalid" / "dag-cycle.yaml"]
    helper = _official_verdicts(samples, tmp_path)

    for path in samples:
        completed = subprocess.run(
            [str(OFFICIAL_BIN / "polyaxon"), "check", "-f", str(path)],
            capture_output=True,
            text=True,
            timeout=120,
            env=_official_environment(tmp_path),
            check=False,
        )
        assert (completed.returncode == 0) == helper[str(path)]["valid"], completed.stdout
    assert [helper[str(path)]["valid"] for path in samples] == [True, False]
