"""A real Jupyter server on loopback: lists the notebooks and the python3 kernel, runs a cell importing helpers."""

from __future__ import annotations

import asyncio
import json
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
import uuid

import pytest
from tornado.websocket import websocket_connect

from helpers import config

TOKEN = secrets.token_hex(16)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def call(base: str, path: str, method: str = "GET", body: dict | None = None):
    request = urllib.request.Request(
        f"{base}{path}", method=method, data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"token {TOKEN}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        payload = response.read()
    return json.loads(payload) if payload else None


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    port = free_port()
    runtime = tmp_path_factory.mktemp("jupyter-runtime")
    process = subprocess.Popen(
        [sys.executable, "-m", "jupyter_server", "--no-browser", "--ServerApp.ip=127.0.0.1",
         f"--ServerApp.port={port}", f"--IdentityProvider.token={TOKEN}",
         f"--ServerApp.root_dir={config.PROJECT_ROOT}", "--ServerApp.port_retries=0", "--allow-root"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={**__import__("os").environ, "JUPYTER_RUNTIME_DIR": str(runtime)},
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            call(base, "/api/status")
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"Jupyter server did not start: {process.stdout.read().decode()[-2000:]}")
            time.sleep(0.5)
    yield base
    try:
        call(base, "/api/shutdown", method="POST")
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()


def test_server_lists_the_notebooks_and_the_python3_kernel(server):
    listing = call(server, "/api/contents/notebooks")
    names = sorted(item["name"] for item in listing["content"])
    expected = sorted(path.name for path in config.NOTEBOOKS_DIR.glob("*.ipynb"))
    assert names == expected and len(names) >= 5
    assert "python3" in call(server, "/api/kernelspecs")["kernelspecs"]


async def execute(server: str, kernel_id: str, code: str) -> str:
    url = server.replace("http", "ws") + f"/api/kernels/{kernel_id}/channels?token={TOKEN}"
    connection = await websocket_connect(url)
    msg_id = uuid.uuid4().hex
    connection.write_message(json.dumps({
        "header": {"msg_id": msg_id, "msg_type": "execute_request", "username": "test", "session": uuid.uuid4().hex,
                   "version": "5.3"},
        "parent_header": {}, "metadata": {}, "channel": "shell",
        "content": {"code": code, "silent": False, "store_history": False, "user_expressions": {},
                    "allow_stdin": False, "stop_on_error": True},
    }))
    output, status, idle = [], None, False
    # Output comes on iopub and may trail the shell reply: stop at both the
    # reply and the kernel's return to idle for this request.
    while status is None or not idle:
        message = json.loads(await asyncio.wait_for(connection.read_message(), timeout=60))
        if message.get("parent_header", {}).get("msg_id") != msg_id:
            continue
        if message["msg_type"] == "stream":
            output.append(message["content"]["text"])
        elif message["msg_type"] == "error":
            output.append("\n".join(message["content"]["traceback"]))
        elif message["msg_type"] == "execute_reply":
            status = message["content"]["status"]
        elif message["msg_type"] == "status" and message["content"]["execution_state"] == "idle":
            idle = True
    connection.close()
    assert status == "ok", "".join(output)
    return "".join(output)


def test_a_kernel_imports_helpers(server):
    kernel = call(server, "/api/kernels", method="POST", body={"name": "python3"})
    try:
        printed = asyncio.run(execute(
            server, kernel["id"],
            "import helpers, helpers.config\nprint(helpers.__version__, helpers.config.PROJECT_ROOT.name)",
        ))
    finally:
        call(server, f"/api/kernels/{kernel['id']}", method="DELETE")
    import helpers

    assert printed.split() == [helpers.__version__, config.PROJECT_ROOT.name]
