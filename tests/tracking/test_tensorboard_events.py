"""The event files the tracking SDK writes for TensorBoard, read back by TensorBoard's own
reader (which checks every record's checksums)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from polyaxon_core.tracking.tensorboard import EventFile, crc32c


def test_the_checksum_is_crc32c() -> None:
    assert crc32c(b"123456789") == 0xE3069283  # the check value of CRC-32C
    assert crc32c(b"") == 0


def test_points_are_scalars_tensorboard_reads_with_their_steps(tmp_path: Path) -> None:
    events = EventFile(tmp_path)
    events.add([("loss", 0.5, 0, 100.0), ("accuracy", 0.75, 0, 100.0)])
    events.add([("loss", 0.25, 1, 101.0)])
    events.add([("loss", 0.125, None, 102.0), ("accuracy", 0.875, None, 102.0)])
    events.close()

    reader = EventAccumulator(str(tmp_path))
    reader.Reload()

    assert sorted(reader.Tags()["scalars"]) == ["accuracy", "loss"]
    assert [(e.step, e.value, e.wall_time) for e in reader.Scalars("loss")] == [
        (0, 0.5, 100.0), (1, 0.25, 101.0), (2, 0.125, 102.0)]
    # a point without a step comes after the name's last one
    assert [(e.step, e.value) for e in reader.Scalars("accuracy")] == [(0, 0.75), (1, 0.875)]


def test_a_run_writes_them_when_asked_and_not_otherwise(tmp_path: Path) -> None:
    script = ("from polyaxon_core import tracking\n"
              "tracking.init(project='p', is_new=True, track_resources=False, track_code=False)\n"
              "tracking.log_metrics(step=1, loss=0.5)\n"
              "print(tracking.get_artifacts_path())\n")
    env = {key: value for key, value in os.environ.items() if not key.startswith("POLYAXON_")}
    env["POLYAXON_HOME"] = str(tmp_path / "home")
    subprocess.run([sys.executable, "-m", "polyaxon_core.cli", "project", "create", "p"],
                   env=env, check=True, capture_output=True)

    plain = subprocess.run([sys.executable, "-c", script], env=env, check=True,
                           capture_output=True, text=True)
    asked = subprocess.run([sys.executable, "-c", script],
                           env={**env, "POLYAXON_TRACKING_TENSORBOARD": "1"}, check=True,
                           capture_output=True, text=True)

    assert not (Path(plain.stdout.strip()) / "tensorboard").exists()
    (written,) = (Path(asked.stdout.strip()) / "tensorboard").glob("events.out.tfevents.*")
    reader = EventAccumulator(str(written))
    reader.Reload()
    assert [(e.step, e.value) for e in reader.Scalars("loss")] == [(1, 0.5)]
