"""``fraud-brain run`` and ``serve`` work from any folder: models and sample data come with the package."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import orjson

from tests.api.conftest import free_port

CLI = [sys.executable, "-c", "from fraud_brain.cli import main; main()"]


def _env() -> dict[str, str]:
    # The package as installed, not the checkout as the working folder: no cwd on the path.
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "FRAUD_BRAIN_API_KEYS")}


def test_run_from_a_folder_outside_the_checkout_uses_the_bundled_models_and_sample(tmp_path: Path) -> None:
    done = subprocess.run([*CLI, "run", "--out", "out"], cwd=tmp_path, env=_env(), capture_output=True, text=True,
                          timeout=600, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    report = orjson.loads((tmp_path / "out" / "report.json").read_bytes())
    assert report["tables"]
    assert (tmp_path / "out" / "brain.sqlite").is_file()


def test_a_missing_models_folder_names_the_flag_to_give(tmp_path: Path) -> None:
    done = subprocess.run([*CLI, "run", "--models-dir", "nowhere", "--out", "out"], cwd=tmp_path, env=_env(),
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode != 0
    assert "--models-dir" in done.stdout + done.stderr


def test_serve_from_a_folder_outside_the_checkout_runs_the_pipeline(tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen([*CLI, "serve", "--port", str(port), "--state-dir", "state", "--pump-seconds", "0"],
                               cwd=tmp_path, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        health = None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        assert health is not None, (
            process.stdout.read().decode() if process.stdout and process.poll() is not None else ""
        )
        assert health.status_code == 200 and health.json()["engine"] is True
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
