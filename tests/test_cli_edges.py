"""The command line at its edges: --version, a closed pipe, Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from xgamma.cli import main
from xgamma.version import __version__

ROOT = Path(__file__).resolve().parents[1]


def _env():
    return {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"xgamma {__version__}"


def test_config_into_closed_pipe_is_quiet():
    p = subprocess.run(f"{sys.executable} -m xgamma.cli config | head -1", shell=True, env=_env(),
                       capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert p.stdout.startswith("# general")
    assert "Traceback" not in p.stderr and "BrokenPipe" not in p.stderr


def test_ctrl_c_is_one_line(tmp_path):
    code = ("import time, xgamma.cli as c\n"
            "def slow(argv=None):\n    print('ready', flush=True)\n    time.sleep(30)\n"
            "c._main = slow\nraise SystemExit(c.main())")
    p = subprocess.Popen([sys.executable, "-c", code], env=_env(), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, cwd=ROOT,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert p.stdout is not None and p.stdout.readline().strip() == "ready"
    time.sleep(0.2)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=30)
    assert p.returncode == 130
    assert err.strip() == "xgamma: interrupted"
