"""Launch batch runs in child processes that share a Dagster instance with the test."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from authy_assets_tests.pipeline import Project


def write_spec(project: Project, path: Path) -> Path:
    spec = {
        "data_dir": str(project.data_dir),
        "user_ids_path": str(project.user_ids_path),
        "base_url": project.base_url,
        "batch_size": project.batch_size,
        "api_settings": project.api_settings,
    }
    path.write_text(json.dumps(spec))
    return path


def start_batch_process(
    spec_path: Path, batch_key: str, *, dagster_home: Path, api_key: str, log_path: Path
) -> subprocess.Popen:
    env = {**os.environ, "DAGSTER_HOME": str(dagster_home), "AUTHY_API_KEY": api_key}
    log = open(log_path, "ab")
    return subprocess.Popen(
        [sys.executable, "-m", "authy_assets_tests.run_batch", str(spec_path), batch_key],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=Path(__file__).resolve().parent.parent,
        start_new_session=True,
    )

