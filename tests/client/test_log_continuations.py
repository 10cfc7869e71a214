"""`polyaxon ops logs --follow` keeps following, line for line, across the follow answers
a server ends after POLYAXON_LOG_STREAM_SECONDS while the run goes on."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.client.conftest import POLYAXON, Deployment
from tests.client.test_remote_cli import _polyaxonfile, _wait_status


@pytest.fixture
def short_streams(tmp_path: Path) -> Iterator[Deployment]:
    """A server whose follow answers last one second."""
    setup = Deployment(tmp_path, None, server_env={"POLYAXON_LOG_STREAM_SECONDS": "1"})
    setup.create_user("ada", "owner")
    setup.server.start()
    setup.login("ada")
    yield setup
    setup.stop()


def test_following_continues_seamlessly_across_answers(short_streams: Deployment,
                                                       tmp_path: Path) -> None:
    short_streams.cli("project", "create", "talk")
    polyaxonfile = _polyaxonfile(tmp_path, "talker", """
        import time
        for line in range(40):
            print(f"line {line}", flush=True)
            time.sleep(0.1)
        """)
    uuid = json.loads(short_streams.cli("run", "-f", str(polyaxonfile), "-p", "talk",
                                        "-o", "json").stdout)["uuid"]
    _wait_status(short_streams, "talk", uuid, {"running"})
    followed = subprocess.run([POLYAXON, "ops", "logs", uuid, "-p", "talk", "--follow"],
                              capture_output=True, text=True, env=short_streams.client_env,
                              timeout=120)
    assert followed.returncode == 0, followed.stderr
    # about four seconds of output through answers of one second: nothing lost or repeated
    assert followed.stdout.splitlines() == [f"line {line}" for line in range(40)]
