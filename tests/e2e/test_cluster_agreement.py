"""Nodes sharing one PostgreSQL database agree on their secret, blobs and public URL, or a
node refuses to start in one line that names the setting to fix."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import RunningGateway, free_port, start_gateway, wait_terminal
from receiver import start_receiver

pytest_plugins = ["postgres", "seaweed"]  # PostgreSQL, and SeaweedFS for S3

SECRET = "cluster-agreement-tests-shared-secret"
SMALL = {"prompt": "a lighthouse", "duration": 2, "resolution": "480P"}


@pytest.fixture
def first_node(postgres_url: str, tmp_path: Path) -> Iterator[Callable[..., RunningGateway]]:
    """Start in-process gateways on this test's database, sharing one data dir and secret."""
    started: list[RunningGateway] = []

    def start(**overrides: Any) -> RunningGateway:
        values = {"database_url": postgres_url, "secret_key": SECRET, **overrides}
        running = start_gateway(tmp_path / "shared", **values)
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop()


def node_env(gateway: RunningGateway, **changes: str | None) -> dict[str, str]:
    """The environment of another node that matches ``gateway``, with ``changes`` (None
    removes a variable)."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("VIDGATE_")}
    env.update(
        VIDGATE_DATA_DIR=str(gateway.settings.data_dir),
        VIDGATE_DATABASE_URL=gateway.settings.database,
        VIDGATE_SECRET_KEY=SECRET,
        VIDGATE_PUBLIC_URL=gateway.url,
        VIDGATE_ALLOW_NETWORKS="127.0.0.0/8",
        VIDGATE_ENGINE_IDLE_INTERVAL="0.1",
    )
    for name, value in changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def refusal(command: list[str], env: dict[str, str]) -> str:
    """Run a node that must refuse; its one line of stderr."""
    done = subprocess.run(
        [sys.executable, "-m", "vidgate.cli.main", *command],
        env=env,
        capture_output=True,
        text=True,
        timeout=45,
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("vidgate: ")
    return lines[0]


def node_command(kind: str) -> list[str]:
    return ["worker"] if kind == "worker" else ["serve", "--port", str(free_port())]


@pytest.mark.parametrize("kind", ["worker", "gateway"])
def test_a_node_with_another_secret_refuses(
    first_node: Callable[..., RunningGateway], kind: str
) -> None:
    gateway = first_node(run_engine=False)
    line = refusal(node_command(kind), node_env(gateway, VIDGATE_SECRET_KEY="a-different-secret"))
    assert "VIDGATE_SECRET_KEY" in line and "403" in line
    assert SECRET not in line and "a-different-secret" not in line


def test_a_node_without_a_secret_of_its_own_refuses(
    first_node: Callable[..., RunningGateway], tmp_path: Path
) -> None:
    """No VIDGATE_SECRET_KEY: the node would sign with a secret from its own data dir."""
    gateway = first_node(run_engine=False)
    env = node_env(gateway, VIDGATE_SECRET_KEY=None, VIDGATE_DATA_DIR=str(tmp_path / "own"))
    assert "VIDGATE_SECRET_KEY" in refusal(["worker"], env)


@pytest.mark.parametrize("kind", ["worker", "gateway"])
def test_a_node_on_another_data_dir_refuses_with_the_canary(
    first_node: Callable[..., RunningGateway], tmp_path: Path, kind: str
) -> None:
    gateway = first_node(run_engine=False)
    line = refusal(
        node_command(kind), node_env(gateway, VIDGATE_DATA_DIR=str(tmp_path / "elsewhere"))
    )
    assert "cannot see the blobs other nodes write" in line
    assert "VIDGATE_BLOB_URL" in line and "VIDGATE_DATA_DIR" in line


def test_a_changed_canary_is_refused(first_node: Callable[..., RunningGateway]) -> None:
    gateway = first_node(run_engine=False)
    blob_dir = gateway.settings.blob_dir
    [canary] = [p for p in blob_dir.glob("*/cluster-canary-*")]
    canary.write_bytes(b"not what the first node wrote")
    line = refusal(["worker"], node_env(gateway))
    assert "cannot see the blobs" in line and "different" in line


def test_nodes_on_their_own_data_dirs_agree_through_one_bucket(
    first_node: Callable[..., RunningGateway], s3_server: Any, tmp_path: Path
) -> None:
    """With blobs on S3 the canary lives in the bucket: a node on its own data dir but the
    same bucket starts; one on another prefix is refused, naming what it looked at."""
    bucket = s3_server.target()
    gateway = first_node(run_engine=False, **bucket.settings)
    env = {**node_env(gateway, VIDGATE_DATA_DIR=str(tmp_path / "own")), **bucket.env}
    with (tmp_path / "worker.log").open("wb") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "vidgate.cli.main", "worker"], env=env, stdout=log, stderr=log
        )
    try:
        wait_running(worker, tmp_path / "worker.log")
    finally:
        worker.terminate()
        assert worker.wait(timeout=30) == 0
    elsewhere = s3_server.target()
    line = refusal(["worker"], {**env, **elsewhere.env})
    assert "cannot see the blobs other nodes write" in line and "missing" in line
    assert elsewhere in line and "VIDGATE_BLOB_URL" in line


def test_a_worker_on_postgres_needs_a_public_url(
    first_node: Callable[..., RunningGateway],
) -> None:
    gateway = first_node(run_engine=False)
    line = refusal(["worker"], node_env(gateway, VIDGATE_PUBLIC_URL=None))
    assert "VIDGATE_PUBLIC_URL" in line and "http://127.0.0.1:8000" in line


def test_a_gateway_on_a_wildcard_address_needs_a_public_url(
    first_node: Callable[..., RunningGateway],
) -> None:
    gateway = first_node(run_engine=False)
    env = node_env(gateway, VIDGATE_PUBLIC_URL=None)
    line = refusal(["serve", "--host", "0.0.0.0", "--port", str(free_port())], env)
    assert "VIDGATE_PUBLIC_URL" in line


def test_matching_nodes_start_and_a_workers_links_use_the_public_url(
    first_node: Callable[..., RunningGateway], tmp_path: Path
) -> None:
    gateway = first_node(run_engine=False)
    port = free_port()
    receiver = start_receiver()
    nodes: list[subprocess.Popen[bytes]] = []
    for command, name in ((["worker"], "worker"), (["serve", "--port", str(port)], "gateway")):
        with (tmp_path / f"{name}.log").open("wb") as log:
            nodes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "vidgate.cli.main", *command],
                    env=node_env(gateway, VIDGATE_RUN_ENGINE="false"),
                    stdout=log,
                    stderr=log,
                )
            )
    try:
        with gateway.client(gateway.make_key("cluster")) as api:
            submitted = api.post("/v1/tasks", json={**SMALL, "callback_url": receiver.url})
            assert submitted.status_code == 202, submitted.text
            body = wait_terminal(api, submitted.json()["task_id"])
            assert body["status"] == "completed", body
        [delivery] = receiver.wait_for(1, timeout=60)
        payload = json.loads(delivery.body)
        assert payload["type"] == "task.completed"
        video_url = payload["data"]["result"]["video_url"]
        assert video_url.startswith(gateway.url + "/v1/media/"), video_url
        for url in (video_url, body["result"]["video_url"]):
            download = httpx.get(url, timeout=30)
            assert download.status_code == 200
            assert download.content[4:8] == b"ftyp"
        second = f"http://127.0.0.1:{port}"
        wait_answering(second, nodes[1], tmp_path / "gateway.log")
        moved = video_url.replace(gateway.url, second)
        assert httpx.get(moved, timeout=30).status_code == 200
    finally:
        receiver.close()
        for node in nodes:
            node.terminate()
        nodes[1].wait(timeout=30)  # uvicorn ends by re-raising the SIGTERM it caught
        assert nodes[0].wait(timeout=30) == 0, (tmp_path / "worker.log").read_text()


def wait_answering(url: str, node: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while True:
        assert node.poll() is None, log.read_text()
        assert time.monotonic() < deadline, log.read_text()
        try:
            if httpx.get(f"{url}/healthz", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)


def test_a_new_secret_starts_once_the_record_is_forgotten(
    first_node: Callable[..., RunningGateway], postgres_cluster: Any, tmp_path: Path
) -> None:
    """The procedure in docs/operations.md for changing the secret on every node."""
    gateway = first_node(run_engine=False)
    gateway.stop()
    env = node_env(gateway, VIDGATE_SECRET_KEY="the-new-secret")
    assert "VIDGATE_SECRET_KEY" in refusal(["worker"], env)
    database = gateway.settings.database.rsplit("/", 1)[1]
    postgres_cluster.psql("DELETE FROM cluster;", database=database)
    with (tmp_path / "worker.log").open("wb") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "vidgate.cli.main", "worker"], env=env, stdout=log, stderr=log
        )
    try:
        wait_running(worker, tmp_path / "worker.log")
    finally:
        worker.terminate()
        assert worker.wait(timeout=30) == 0


def wait_running(worker: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while "running" not in log.read_text():
        assert worker.poll() is None, log.read_text()
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.05)


def test_nodes_start_on_sqlite_as_before(tmp_path: Path) -> None:
    """A single install is not checked: no canary, no public URL asked of a worker."""
    gateway = start_gateway(tmp_path / "data", run_engine=False)
    try:
        env = {
            **os.environ,
            "VIDGATE_DATA_DIR": str(gateway.settings.data_dir),
            "VIDGATE_ENGINE_IDLE_INTERVAL": "0.1",
        }
        env.pop("VIDGATE_PUBLIC_URL", None)
        env.pop("VIDGATE_DATABASE_URL", None)
        with (tmp_path / "worker.log").open("wb") as log:
            worker = subprocess.Popen(
                [sys.executable, "-m", "vidgate.cli.main", "worker"],
                env=env,
                stdout=log,
                stderr=log,
            )
        try:
            wait_running(worker, tmp_path / "worker.log")
        finally:
            worker.terminate()
            assert worker.wait(timeout=30) == 0
        assert not list(gateway.settings.blob_dir.glob("*/cluster-canary-*"))
    finally:
        gateway.stop()
