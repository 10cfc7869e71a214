"""Artifact upload and download through our API and S3 store, against s3fs straight to S3.

One moto S3 server on 127.0.0.1 serves both:

* ours: a file of ``--size`` bytes POSTed to our API's artifacts upload (gunicorn with
  the command ``polyaxon server`` prints for production, one worker, authentication
  off, ``POLYAXON_ARTIFACTS_STORE=s3://bench/runs``) and downloaded back through the API;
  the server streams both into and out of the bucket;
* direct: the same bytes put into the same bucket with s3fs by the benchmark itself and
  read back with s3fs.

The bytes are made on the fly and hashed on both ends (the sent and received files must
be equal). Rounds alternate the two; medians go to ``benchmarks/results/store_throughput.md``
with the ratio ours / direct in MiB/s, and the API server's peak memory. Goal: ours at
least 0.8x the direct throughput.

    .venv/bin/python benchmarks/store_throughput.py [--size 268435456] [--rounds 3]
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
from machine import described
from sqlalchemy import insert

from polyaxon_core.db.models import Run
from polyaxon_core.db.session import migrate, session_scope
from polyaxon_core.domain.projects import create_project

ROOT = Path(__file__).resolve().parent.parent
# the moto server the store tests start, from the repository this script is part of
sys.path.insert(0, str(ROOT))
from plugins.stores.tests.conftest import free_port, start_moto  # noqa: E402

GUNICORN = str(Path(sys.executable).parent / "gunicorn")
TARGET_RATIO = 0.8
CHUNK = 1024 * 1024
RUN_UUID = "0" * 31 + "1"


def generated(size: int) -> Iterator[bytes]:
    """``size`` bytes in chunks, the same on every call."""
    left, index = size, 0
    while left:
        count = min(CHUNK, left)
        yield bytes([index % 251]) * count
        left -= count
        index += 1


def expected_digest(size: int) -> str:
    digest = hashlib.sha256()
    for chunk in generated(size):
        digest.update(chunk)
    return digest.hexdigest()


def ours(port: int, size: int) -> tuple[float, float, str]:
    """Seconds to upload, seconds to download, and the digest of what came back."""
    path = f"/api/v1/default/bench/runs/{RUN_UUID}/artifacts"
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    begin = time.perf_counter()
    connection.request("POST", f"{path}/upload?path=data/blob.bin", body=generated(size),
                       headers={"Content-Length": str(size), "Content-Type": "application/octet-stream"})
    answer = connection.getresponse()
    answer.read()
    if answer.status != 201:
        raise SystemExit(f"our upload answered {answer.status}")
    uploaded = time.perf_counter() - begin
    digest = hashlib.sha256()
    begin = time.perf_counter()
    connection.request("GET", f"{path}/download?path=data/blob.bin")
    answer = connection.getresponse()
    while chunk := answer.read(CHUNK):
        digest.update(chunk)
    downloaded = time.perf_counter() - begin
    connection.close()
    return uploaded, downloaded, digest.hexdigest()


def direct_get(fs: object, size: int, work: Path) -> tuple[float, str]:
    """Seconds to download with s3fs's ``get_file`` (one streamed request, into a local
    file; hashed after the timing), and the digest."""
    target = work / "direct-get.bin"
    begin = time.perf_counter()
    fs.get_file("bench/direct/blob.bin", str(target))  # type: ignore[attr-defined]
    downloaded = time.perf_counter() - begin
    digest = hashlib.sha256()
    with open(target, "rb") as source:
        while chunk := source.read(CHUNK):
            digest.update(chunk)
    target.unlink()
    return downloaded, digest.hexdigest()


def direct(fs: object, size: int) -> tuple[float, float, str]:
    key = "bench/direct/blob.bin"
    begin = time.perf_counter()
    with fs.open(key, "wb", block_size=8 * CHUNK) as target:  # type: ignore[attr-defined]
        for chunk in generated(size):
            target.write(chunk)
    uploaded = time.perf_counter() - begin
    digest = hashlib.sha256()
    begin = time.perf_counter()
    with fs.open(key, "rb") as source:  # type: ignore[attr-defined]
        while chunk := source.read(CHUNK):
            digest.update(chunk)
    downloaded = time.perf_counter() - begin
    return uploaded, downloaded, digest.hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=256 * CHUNK)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks/results/store_throughput.md")
    args = parser.parse_args()
    digest = expected_digest(args.size)
    speeds: dict[str, dict[str, list[float]]] = {
        tool: {"upload": [], "download": []} for tool in ("ours", "direct", "direct get_file")}
    with start_moto() as moto, tempfile.TemporaryDirectory() as work:
        os.environ.update(moto.environment)
        moto.create_bucket("bench")
        home = Path(work)
        url = f"sqlite:///{home / 'polyaxon.db'}"
        migrate(url)
        with session_scope(url) as session:
            project = create_project(session, "bench")
            session.flush()
            session.execute(insert(Run), [{
                "uuid": RUN_UUID, "project_id": project.id, "name": "bench", "kind": "job",
                "runtime": "job", "status": "succeeded", "inputs": {}, "outputs": {}, "tags": [],
                "meta_info": {}, "last_metrics": {}, "scheduler_handle": {}}])
        port = free_port()
        env = {key: value for key, value in os.environ.items() if not key.startswith("POLYAXON_")}
        env.update(POLYAXON_HOME=str(home), POLYAXON_ARTIFACTS_STORE="s3://bench/runs",
                   POLYAXON_MAX_UPLOAD_BYTES=str(args.size * 2))
        with open(home / "server.log", "wb") as log:
            server = subprocess.Popen(
                [GUNICORN, "--workers", "1", "--threads", "8", "--worker-class",
                 "polyaxon_core.api.gunicorn_worker.JsonErrorWorker", "--timeout", "600",
                 "--bind", f"127.0.0.1:{port}", "polyaxon_core.api.app:create_app(auth=False)"],
                env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    http.client.HTTPConnection("127.0.0.1", port, timeout=2).request("GET", "/healthz")
                    break
                except OSError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        problem = (home / "server.log").read_text()[-2000:]
                        raise SystemExit(f"our server did not start: {problem}") from None
                    time.sleep(0.2)  # waiting for the server to listen, bounded by the deadline
            import fsspec

            fs = fsspec.filesystem("s3", use_listings_cache=False)
            for number in range(args.rounds):
                for tool in (("ours", "direct") if number % 2 == 0 else ("direct", "ours")):
                    up, down, received = ours(port, args.size) if tool == "ours" else direct(fs, args.size)
                    if received != digest:
                        raise SystemExit(f"{tool}: the file came back different")
                    speeds[tool]["upload"].append(args.size / CHUNK / up)
                    speeds[tool]["download"].append(args.size / CHUNK / down)
                    print(f"round {number + 1} {tool}: up {speeds[tool]['upload'][-1]:.0f} MiB/s, "
                          f"down {speeds[tool]['download'][-1]:.0f} MiB/s", flush=True)
                    if tool == "direct":
                        down, received = direct_get(fs, args.size, home)
                        if received != digest:
                            raise SystemExit("direct get_file: the file came back different")
                        speeds["direct get_file"]["download"].append(args.size / CHUNK / down)
            workers = [server, *psutil.Process(server.pid).children(recursive=True)]
            peak = max(_peak_mib(process.pid) for process in workers)
        finally:
            server.terminate()
            server.wait(30)
    report(args, speeds, peak)


def _peak_mib(pid: int) -> float:
    """A process's peak resident memory (VmHWM), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def report(args: argparse.Namespace, speeds: dict[str, dict[str, list[float]]], peak: float) -> None:
    lines = [
        "# Artifact throughput: our API and S3 store against s3fs straight to S3",
        "",
        f"Generated by `benchmarks/store_throughput.py`: a file of {args.size / CHUNK:,.0f} MiB, "
        "made on the fly and checked by its SHA-256 on return, uploaded and downloaded "
        "through our API (gunicorn, one worker, authentication off, the `s3` store) and "
        "with s3fs directly, both against one moto S3 server on 127.0.0.1. MiB/s, median "
        f"and range of {args.rounds} rounds, the two alternating (s3fs's `get_file` right "
        f"after its file interface). Goal: ours at least {TARGET_RATIO}x the direct throughput.",
        "",
        "| | ours (MiB/s) | direct (MiB/s) | ours / direct | goal met |",
        "|---|---|---|---|---|",
    ]
    rows = (("upload", "direct", "s3fs `open(\"wb\")`"),
            ("download", "direct", "s3fs `open(\"rb\").read()`"),
            ("download", "direct get_file", "s3fs `get_file`"))
    for way, tool, how in rows:
        ratio = statistics.median(speeds["ours"][way]) / statistics.median(speeds[tool][way])
        lines.append(f"| {way}, against {how} | {_summary(speeds['ours'][way])} "
                     f"| {_summary(speeds[tool][way])} "
                     f"| {ratio:.2f} | {'yes' if ratio >= TARGET_RATIO else 'no'} |")
    lines += [
        "",
        "- our download is one streamed GetObject read a MiB at a time, like s3fs's `get_file`; "
        "s3fs's file interface reads in ranged requests of 50 MiB blocks, each of which "
        "moto answers in a time that grows with the object rather than the range",
        f"- the API server's peak memory over all rounds: {peak:.0f} MiB",
        *described(),
        "",
    ]
    args.output.write_text("\n".join(lines))
    print("\n".join(lines))


def _summary(values: list[float]) -> str:
    return f"{statistics.median(values):.0f} ({min(values):.0f}-{max(values):.0f})"


if __name__ == "__main__":
    main()
