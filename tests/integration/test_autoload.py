"""The wheel's IPython startup file: every kernel of the environment has ``%%bql`` at once.

The test builds the wheel, installs it without dependencies into a fresh venv (whose
dependencies are borrowed from the running environment through a ``.pth`` file, so nothing is
downloaded), and starts real kernels of that venv with ``jupyter_client``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

import pytest
from shell import TestingShell

REPO = Path(__file__).resolve().parents[2]
STARTUP_FILE = REPO / "jupyter-config" / "ipython" / "startup" / "50-scuba_magic.py"
pytestmark = pytest.mark.slow

KERNEL_NAME = "scuba-magic-autoload-test"
PROBE = (
    "import sys\n"
    "print('bql' in get_ipython().magics_manager.magics['cell'], "
    "'scuba_magic' in get_ipython().extension_manager.loaded)\n"
)


@pytest.fixture(scope="module")
def wheel_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new venv with only the built wheel installed; returns its kernels' JUPYTER_PATH."""
    root = tmp_path_factory.mktemp("autoload")
    wheels = root / "wheels"
    # the build backend from this environment when it has one, else pip fetches it
    isolation = [] if importlib.util.find_spec("hatchling") is None else ["--no-build-isolation"]
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(REPO),
            "--no-deps",
            *isolation,
            "--quiet",
            "-w",
            str(wheels),
        ],
        check=True,
        timeout=300,
    )
    [wheel] = wheels.glob("scuba_magic-*.whl")
    venv = root / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120
    )
    python = venv / "bin" / "python"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--no-deps",
            "--no-index",
            "--quiet",
            str(wheel),
        ],
        check=True,
        timeout=300,
    )
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout.strip()
    # dependencies (IPython, ipykernel, pandas...) from the environment running the tests,
    # after the venv's own site-packages, so the wheel's scuba_magic is the one imported
    outer = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (Path(purelib) / "outer-environment.pth").write_text("\n".join(sorted(outer)) + "\n")
    assert (venv / "etc" / "ipython" / "startup" / "50-scuba_magic.py").is_file()

    jupyter_path = root / "share" / "jupyter"
    spec = jupyter_path / "kernels" / KERNEL_NAME
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "scuba-magic wheel venv",
                "language": "python",
            }
        )
    )
    return jupyter_path


def run_in_new_kernel(jupyter_path: Path, code: str, **env: str) -> tuple[str, str]:
    """Start a kernel of the wheel venv, run ``code``; return its stdout and stderr text."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    kernel_env = {k: v for k, v in os.environ.items() if k != "SCUBA_MAGIC_AUTOLOAD"}
    kernel_env.update(env)
    manager = KernelManager(
        kernel_name=KERNEL_NAME,
        kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(jupyter_path / "kernels")]),
    )
    manager.start_kernel(env=kernel_env, cwd=str(jupyter_path))
    client = manager.client()
    streams: dict[str, list[str]] = {"stdout": [], "stderr": []}

    def collect(message: dict[str, Any]) -> None:
        if message["msg_type"] == "stream":
            streams[message["content"]["name"]].append(message["content"]["text"])

    try:
        client.start_channels()
        client.wait_for_ready(timeout=120)
        reply = client.execute_interactive(code, output_hook=collect, timeout=120)
        assert reply["content"]["status"] == "ok", reply["content"]
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    return "".join(streams["stdout"]), "".join(streams["stderr"])


def test_a_new_kernel_has_the_magics_without_load_ext(wheel_venv):
    stdout, stderr = run_in_new_kernel(wheel_venv, PROBE + "%load_ext scuba_magic\n")
    lines = stdout.splitlines()
    assert lines[0] == "True True"
    # %load_ext stays valid: IPython says it is loaded already, and nothing fails
    assert "already loaded" in stdout
    assert "scuba_magic" not in stderr


def test_autoload_off(wheel_venv):
    stdout, _ = run_in_new_kernel(wheel_venv, PROBE, SCUBA_MAGIC_AUTOLOAD="0")
    assert stdout.splitlines()[0] == "False False"


def test_the_startup_file_never_raises_and_leaves_no_names(tmp_path, capsys, monkeypatch):
    shell = TestingShell.create(tmp_path / "ipython")
    before = dict(shell.user_ns)

    def broken(name: str) -> None:
        raise ImportError("No module named 'scuba_magic'")

    monkeypatch.setattr(shell.extension_manager, "load_extension", broken)
    monkeypatch.delenv("SCUBA_MAGIC_AUTOLOAD", raising=False)
    shell.safe_execfile(str(STARTUP_FILE), shell.user_ns, raise_exceptions=True)
    err = capsys.readouterr().err
    assert err == (
        "scuba_magic was not loaded automatically (ImportError: No module named "
        "'scuba_magic'). Run %load_ext scuba_magic to see the full error, or set "
        "SCUBA_MAGIC_AUTOLOAD=0.\n"
    )
    assert {k: v for k, v in shell.user_ns.items() if k != "__builtins__"} == {
        k: v for k, v in before.items() if k != "__builtins__"
    }
