"""nginx and HAProxy as industry baselines, started by the bench on loopback.

Each proxy runs in the foreground as a child process of the bench (never a system
service), with a generated config, pid file, logs and temp paths inside a private temp
directory, listening on a free 127.0.0.1 port; :meth:`ExternalProxy.stop` kills it and
removes the directory. When the binary is missing, :func:`start_proxy` returns None and
:func:`missing_reason` says why, so the tables can mark the row as skipped.

Both are configured as a careful operator would for this fleet: passive failure detection
(nginx ``max_fails=1``; HAProxy active ``/health`` checks plus ``observe layer7``), and a
retry on another server after a connection error, a timeout or a 5xx for the idempotent
GETs the bench sends.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ._balancers import Target

#: (label, binary, balancing directive) of every proxy row.
PROXIES = (
    ("nginx round robin", "nginx", "round_robin"),
    ("nginx least_conn", "nginx", "least_conn"),
    ("HAProxy roundrobin", "haproxy", "roundrobin"),
    ("HAProxy leastconn", "haproxy", "leastconn"),
)

_SEARCH = ("/usr/sbin", "/usr/local/sbin", "/usr/bin", "/usr/local/bin")


def find_binary(name: str) -> str | None:
    """The path of ``name`` on PATH or in the usual sbin directories, or None."""
    found = shutil.which(name)
    if found:
        return found
    for folder in _SEARCH:
        path = Path(folder) / name
        if path.is_file():
            return str(path)
    return None


def missing_reason(binary: str) -> str | None:
    """Why the proxy cannot run here (None when it can)."""
    if find_binary(binary) is None:
        return f"{binary} not installed (Debian: apt-get install nginx-light haproxy)"
    return None


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def nginx_config(directory: Path, port: int, targets: Sequence[Target], method: str) -> str:
    """An nginx config that proxies 127.0.0.1:port to the targets with ``method``."""
    d = directory
    balance = "" if method == "round_robin" else f"        {method};\n"
    servers = "".join(
        f"        server {t.host}:{t.port} max_fails=1 fail_timeout=10s;\n" for t in targets
    )
    return (
        "daemon off;\nmaster_process off;\nworker_processes 1;\n"
        f"pid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n"
        "events { worker_connections 512; }\n"
        "http {\n    access_log off;\n"
        f"    client_body_temp_path {d}/body;\n    proxy_temp_path {d}/proxy;\n"
        f"    fastcgi_temp_path {d}/fastcgi;\n    uwsgi_temp_path {d}/uwsgi;\n"
        f"    scgi_temp_path {d}/scgi;\n"
        f"    upstream fleet {{\n{balance}{servers}        keepalive 32;\n    }}\n"
        "    server {\n"
        f"        listen 127.0.0.1:{port};\n"
        "        location / {\n"
        "            proxy_pass http://fleet;\n"
        "            proxy_http_version 1.1;\n"
        '            proxy_set_header Connection "";\n'
        "            proxy_connect_timeout 1s;\n"
        "            proxy_read_timeout 2s;\n"
        "            proxy_next_upstream error timeout http_500 http_502 http_503 http_504;\n"
        "            proxy_next_upstream_tries 3;\n"
        "        }\n    }\n}\n"
    )


def haproxy_config(directory: Path, port: int, targets: Sequence[Target], method: str) -> str:
    """An HAProxy config that proxies 127.0.0.1:port to the targets with ``balance method``."""
    servers = "".join(
        f"    server {t.name} {t.host}:{t.port} check inter 1s fall 2 rise 2 "
        "observe layer7 error-limit 2 on-error mark-down\n"
        for t in targets
    )
    return (
        "global\n    maxconn 512\n"
        f"    pidfile {directory}/haproxy.pid\n"
        "defaults\n    mode http\n    timeout connect 1s\n    timeout client 10s\n"
        "    timeout server 2s\n    retries 2\n    option redispatch 1\n"
        "    retry-on conn-failure empty-response response-timeout 500 502 503 504\n"
        "    option http-keep-alive\n"
        f"frontend bench\n    bind 127.0.0.1:{port}\n    default_backend fleet\n"
        f"backend fleet\n    balance {method}\n    option httpchk GET /health\n{servers}"
    )


@dataclass
class ExternalProxy:
    """A running proxy process: its URL, and how to stop it."""

    label: str
    url: str
    process: subprocess.Popen[bytes]
    directory: Path

    def stop(self) -> None:
        """Kill the process (it is ours: started by :func:`start_proxy`) and clean up."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5.0)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5.0)
        shutil.rmtree(self.directory, ignore_errors=True)


def _wait_listening(port: int, process: subprocess.Popen[bytes], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def start_proxy(label: str, binary: str, method: str, targets: Sequence[Target]) -> ExternalProxy:
    """Start one proxy row in the foreground on a free loopback port.

    Raises FileNotFoundError when the binary is missing and RuntimeError (with the
    proxy's own error output) when it does not come up within 10 seconds.
    """
    path = find_binary(binary)
    if path is None:
        raise FileNotFoundError(missing_reason(binary))
    directory = Path(tempfile.mkdtemp(prefix=f"huddle-bench-{binary}-"))
    port = free_port()
    if binary == "nginx":
        text = nginx_config(directory, port, targets, method)
        argv = [path, "-p", str(directory), "-c", str(directory / "nginx.conf")]
        conf = directory / "nginx.conf"
    else:
        text = haproxy_config(directory, port, targets, method)
        conf = directory / "haproxy.cfg"
        argv = [path, "-db", "-f", str(conf)]
    conf.write_text(text)
    log = (directory / "stderr.log").open("wb")
    process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=directory)
    log.close()
    proxy = ExternalProxy(label, f"http://127.0.0.1:{port}", process, directory)
    if not _wait_listening(port, process, 10.0):
        output = (directory / "stderr.log").read_text(errors="replace")[-2000:]
        proxy.stop()
        raise RuntimeError(f"{label} did not start: {output.strip() or 'no output'}")
    return proxy
