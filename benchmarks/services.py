"""Services through our server against services reached directly, in the same run.

Proxy overhead: two services, started through ``polyaxon run`` on a server, are asked for
a small static file over and over, directly at their loopback address and through the
server's proxy (with an API token), with ``polyaxon server``, with gunicorn's threaded
worker, and with nginx in front of gunicorn (``polyaxon gateway``, which passes the
services' requests on itself once the server said who may reach them):
``python -m http.server`` over a folder with a 1 KiB page (``rewritePath``), and
JupyterLab from our hub (a 1.1 KiB icon of its static files, and its ``lab`` page).
Rounds alternate between the ways, so slow moments of the machine hit them alike.

Start-up: from ``polyaxon run --hub jupyterlab`` (then ``polyaxon ops service``), or
``polyaxon notebook start``, against a running server, to a kernel printing the result of
a cell through the proxy, against starting ``jupyter lab`` by hand and doing the same
directly. Rounds alternate too.

    .venv/bin/python benchmarks/services.py --requests 1000 --starts 5
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid as uuid_module
from pathlib import Path
from urllib.parse import urlsplit

import jupyter_server
from servers import free_port, start, stop

BIN = Path(sys.executable).parent
PASSWORD = "correct horse battery"
PAGE = ("<!doctype html><title>bench</title><p>" + "x" * 980 + "</p>\n").encode()
ICON = "static/favicons/favicon-file.ico"
JUPYTER_ICON = Path(jupyter_server.__file__).parent / ICON


def cli(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    done = subprocess.run([str(BIN / "polyaxon"), *args], env=env, input=stdin, text=True,
                          capture_output=True, timeout=300)
    if done.returncode != 0:
        raise SystemExit(f"polyaxon {' '.join(args)} failed:\n{done.stderr}")
    return done.stdout


def latencies(url: str, headers: dict[str, str], count: int, expected: bytes | None) -> list[float]:
    """Seconds per GET of ``url`` by one client reusing its connection when it may;
    every answer must be ``expected`` (None: any page)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(str(parts.hostname), parts.port, timeout=30)
    taken = []
    for _ in range(count):
        began = time.perf_counter()
        connection.request("GET", parts.path, headers=headers)
        answer = connection.getresponse()
        body = answer.read()
        if answer.will_close:
            connection.close()
            connection = http.client.HTTPConnection(str(parts.hostname), parts.port, timeout=30)
        taken.append(time.perf_counter() - began)
        if answer.status != 200 or expected is not None and body != expected:
            raise SystemExit(f"GET {url} answered {answer.status}: {body[:200]!r}")
    connection.close()
    return taken


def throughput(url: str, headers: dict[str, str], clients: int, seconds: float,
               expected: bytes | None) -> float:
    """Requests per second ``clients`` threads get answered within ``seconds``."""
    counts = [0] * clients
    stop_at = time.perf_counter() + seconds

    def work(index: int) -> None:
        while time.perf_counter() < stop_at:
            counts[index] += len(latencies(url, headers, 20, expected))

    threads = [threading.Thread(target=work, args=(index,)) for index in range(clients)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts) / (time.perf_counter() - began)


def execute(url: str, headers: dict[str, str]) -> str:
    """Start a kernel at the JupyterLab of ``url``, run ``print(6 * 7)`` over its
    WebSocket, and return what it printed."""
    import websocket

    with urllib.request.urlopen(urllib.request.Request(url + "lab", headers=headers), timeout=60) as page:
        cookies = "; ".join(value.split(";")[0] for name, value in page.headers.items()
                            if name.lower() == "set-cookie")
    xsrf = dict(pair.split("=", 1) for pair in cookies.split("; "))["_xsrf"]
    request = urllib.request.Request(url + "api/kernels", data=b"{}", method="POST", headers={
        **headers, "Content-Type": "application/json", "X-XSRFToken": xsrf, "Cookie": cookies})
    with urllib.request.urlopen(request, timeout=60) as created:
        kernel = json.loads(created.read())["id"]
    channel = websocket.create_connection(
        url.replace("http://", "ws://") + f"api/kernels/{kernel}/channels",
        header=[f"{name}: {value}" for name, value in headers.items()] + [f"Cookie: {cookies}"],
        timeout=60)
    message_id = uuid_module.uuid4().hex
    channel.send(json.dumps({
        "header": {"msg_id": message_id, "username": "bench", "session": uuid_module.uuid4().hex,
                   "msg_type": "execute_request", "version": "5.3"},
        "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
        "content": {"code": "print(6 * 7)", "silent": False, "store_history": False,
                    "user_expressions": {}, "allow_stdin": False}}))
    try:
        while True:
            message = json.loads(channel.recv())
            if message.get("parent_header", {}).get("msg_id") != message_id:
                continue
            if message["msg_type"] == "stream":
                return str(message["content"]["text"])
    finally:
        channel.close()


def by_hand(work: Path) -> float:
    """Seconds from starting ``jupyter lab`` to a kernel printing a cell's result."""
    port = free_port()
    began = time.perf_counter()
    process = subprocess.Popen(
        [str(BIN / "jupyter"), "lab", "--no-browser", "--allow-root", "--ip=127.0.0.1",
         f"--port={port}", "--ServerApp.token=", "--ServerApp.password=",
         f"--ServerApp.root_dir={work}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}/"
        while True:
            try:
                urllib.request.urlopen(url + "api/status", timeout=5).close()
                break
            except OSError:
                if process.poll() is not None:
                    raise SystemExit("jupyter lab exited") from None
                time.sleep(0.05)  # waiting for it to listen, as a person's browser would
        assert execute(url, {}) == "42\n"
        return time.perf_counter() - began
    finally:
        stop(process)  # type: ignore[arg-type]


#: the ways from nothing to a cell's output that are measured, as the results name them
STARTS = {"by hand": "`jupyter lab` by hand",
          "run": "`polyaxon run --hub jupyterlab` + `polyaxon ops service`",
          "notebook": "`polyaxon notebook start`"}


def through_polyaxon(client_env: dict[str, str], token: str, way: str) -> float:
    """Seconds from ``polyaxon run --hub jupyterlab`` (then ``polyaxon ops service``), or
    from ``polyaxon notebook start`` (one command), to a kernel printing a cell's result
    through the server's proxy."""
    began = time.perf_counter()
    if way == "notebook":
        url = cli(client_env, "notebook", "start", "-p", "bench").strip()
        uuid = url.rstrip("/").split("/")[-2]
    else:
        uuid = json.loads(cli(client_env, "run", "--hub", "jupyterlab", "-p", "bench", "-o", "json"))["uuid"]
        url = cli(client_env, "ops", "service", uuid, "-p", "bench").strip()
    assert execute(url, {"Authorization": f"Token {token}"}) == "42\n"
    taken = time.perf_counter() - began
    cli(client_env, "ops", "stop", uuid, "-p", "bench", "-y")
    return taken


def proxy_rows(name: str, client_env: dict[str, str], local_env: dict[str, str], token: str,
               work: Path, options: argparse.Namespace) -> list[dict[str, object]]:
    """Latency and throughput of both services, direct and through the proxy."""
    auth = {"Authorization": f"Token {token}"}
    rows = []
    started: dict[tuple[str, ...], str] = {}
    for service, command, path, expected in (
            ("http.server page", ("run", "-f", str(work / "service.yaml")), "page.html", PAGE),
            ("JupyterLab icon", ("run", "--hub", "jupyterlab"), ICON, JUPYTER_ICON.read_bytes()),
            ("JupyterLab page", ("run", "--hub", "jupyterlab"), "lab", None)):
        if command not in started:
            started[command] = json.loads(cli(client_env, *command, "-p", "bench", "-o", "json"))["uuid"]
        uuid = started[command]
        proxied = cli(client_env, "ops", "service", uuid, "-p", "bench").strip() + path
        direct = cli(local_env, "ops", "service", uuid, "-p", "bench").strip() + path
        ways: dict[str, tuple[str, dict[str, str]]] = {"direct": (direct, {}), "proxy": (proxied, auth)}
        for url, headers in ways.values():
            latencies(url, headers, 50, expected)
        taken: dict[str, list[float]] = {way: [] for way in ways}
        for _ in range(max(1, options.requests // 100)):
            for way, (url, headers) in ways.items():
                taken[way] += latencies(url, headers, 100, expected)
        row: dict[str, object] = {"server": name, "service": service}
        for way, (url, headers) in ways.items():
            values = sorted(taken[way])
            row[f"{way}_median_ms"] = statistics.median(values) * 1000
            row[f"{way}_p95_ms"] = values[int(len(values) * 0.95)] * 1000
            row[f"{way}_rps"] = throughput(url, headers, options.clients, options.seconds, expected)
        row["ratio"] = float(str(row["proxy_median_ms"])) / float(str(row["direct_median_ms"]))
        rows.append(row)
    for uuid in started.values():
        cli(client_env, "ops", "stop", uuid, "-p", "bench", "-y")
    return rows


def nginx(env: dict[str, str], api_port: int, front: str, work: Path) -> subprocess.Popen[bytes]:
    """nginx with `polyaxon gateway --standalone`'s configuration, in front of the server."""
    folder = Path(tempfile.mkdtemp(prefix="gateway-", dir=work))
    folder.chmod(0o755)  # nginx's workers (`nobody` under root) write under it
    work.chmod(0o755)
    conf = folder / "nginx.conf"
    conf.write_text(cli(env, "gateway", "--api", f"127.0.0.1:{api_port}", "--listen",
                        urlsplit(front).netloc, "--standalone", str(folder)))
    executable = shutil.which("nginx") or "/usr/sbin/nginx"
    return start([executable, "-p", str(folder), "-c", str(conf), "-g", "daemon off;"], env,
                 f"{front}/healthz", work / "nginx.log")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000, help="sequential requests per way")
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients for req/s")
    parser.add_argument("--seconds", type=float, default=5.0, help="how long req/s is measured")
    parser.add_argument("--starts", type=int, default=5, help="start-ups measured per way")
    parser.add_argument("--output", type=Path, default=Path(__file__).parent / "results" / "services.md")
    options = parser.parse_args()
    rows: list[dict[str, object]] = []
    starts: dict[str, list[float]] = {way: [] for way in STARTS}
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        site = work / "site"
        site.mkdir()
        (site / "page.html").write_bytes(PAGE)
        (work / "service.yaml").write_text(json.dumps({"kind": "component", "run": {
            "kind": "service", "ports": [8000], "rewritePath": True, "container": {"command": [
                sys.executable, "-m", "http.server", "--bind", "{{ globals.bind_address }}",
                "--directory", str(site), "{{ globals.ports[0] }}"]}}}))
        for name in ("polyaxon server", "gunicorn", "nginx gateway"):
            home = work / name.replace(" ", "-")
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            env = {key: value for key, value in os.environ.items() if not key.startswith("POLYAXON_")}
            env.update(POLYAXON_HOME=str(home), POLYAXON_API_HOST=url, HOME=str(home))
            cli(env, "admin", "create-user", "ada", "--role", "owner", "--password-stdin",
                stdin=f"{PASSWORD}\n")
            cli(env, "project", "create", "bench")
            argv = ([str(BIN / "polyaxon"), "server", "--port", str(port)] if name == "polyaxon server"
                    else [str(BIN / "gunicorn"), "-w", "1", "-k",
                          "polyaxon_core.api.gunicorn_worker.JsonErrorWorker", "--threads", "8",
                          "-b", f"127.0.0.1:{port}", "polyaxon_core.api.app:create_app()"])
            servers = [start(argv, env, f"{url}/healthz", work / f"{home.name}.log")]
            try:
                front = url
                if name == "nginx gateway":
                    front = f"http://127.0.0.1:{free_port()}"
                    servers.append(nginx(env, port, front, work))
                from polyaxon_core.client import ApiClient

                token = ApiClient(url).create_token("ada", PASSWORD)
                client_env = {**env, "POLYAXON_HOST": front, "POLYAXON_AUTH_TOKEN": token}
                rows += proxy_rows(name, client_env, env, token, work, options)
                if name == "gunicorn":
                    for _ in range(options.starts):
                        starts["by hand"].append(by_hand(work))
                        for way in ("run", "notebook"):
                            starts[way].append(through_polyaxon(client_env, token, way))
            finally:
                for process in reversed(servers):
                    stop(process)
    write(rows, starts, options)


def write(rows: list[dict[str, object]], starts: dict[str, list[float]],
          options: argparse.Namespace) -> None:
    hand = statistics.median(starts["by hand"])
    lines = [
        "# Services through the server against services reached directly",
        "",
        f"Measured {datetime.date.today()} on {platform.platform()}, Python "
        f"{platform.python_version()}, {os.cpu_count()} CPUs, by `benchmarks/services.py "
        f"--requests {options.requests} --clients {options.clients} --seconds {options.seconds:g} "
        f"--starts {options.starts}`.",
        "",
        "## Proxy overhead",
        "",
        "One client, sequential requests (median and p95 latency), and "
        f"{options.clients} concurrent clients (requests per second). `http.server` speaks "
        "HTTP/1.0 (a connection per request, either way); JupyterLab (tornado) keeps "
        "connections. Goal: the proxy's median latency at most 1.3x the direct one.",
        "",
        "| server | service | direct median (p95) ms | proxy median (p95) ms | ratio | direct req/s "
        "| proxy req/s |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['server']} | {row['service']} | {row['direct_median_ms']:.2f} "
            f"({row['direct_p95_ms']:.2f}) | {row['proxy_median_ms']:.2f} ({row['proxy_p95_ms']:.2f}) "
            f"| {row['ratio']:.2f} | {row['direct_rps']:.0f} | {row['proxy_rps']:.0f} |")
    lines += [
        "",
        "## From nothing to a cell's output",
        "",
        "By hand: `jupyter lab` started, its API polled until it answers, a kernel created, "
        "`print(6 * 7)` executed over its WebSocket. Ours, against the running gunicorn "
        "server: `polyaxon run --hub jupyterlab` then `polyaxon ops service` (waits until the "
        "port answers), or `polyaxon notebook start` (both in one command); then the same "
        "kernel and cell through the proxy with a token. Goal: at most 1.5x.",
        "",
        "| way | median s | all (s) | ratio to by hand |",
        "|---|---|---|---|",
    ]
    for way, label in STARTS.items():
        median = statistics.median(starts[way])
        lines.append(f"| {label} | {median:.2f} | {', '.join(f'{value:.2f}' for value in starts[way])} "
                     f"| {median / hand:.2f} |")
    options.output.parent.mkdir(parents=True, exist_ok=True)
    options.output.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
