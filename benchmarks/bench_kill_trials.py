"""Kill ``xgamma run`` with SIGKILL at random moments over an existing output folder.

Run::

    python benchmarks/bench_kill_trials.py [--trials 30] [--seed 1] [--workdir /tmp/x]

Two configurations (A and B: the same H.E.S.S. Crab run 23523, 1D, 3 or 4 flux points) write
into one folder in turn. Each trial starts ``python -m xgamma.cli run`` as a subprocess over the
complete set of the other configuration, kills it (``kill -9``) after a delay drawn uniformly in
[0, 1.1 T] (T: the duration of an unkilled run), and checks that the folder is the complete old
set, the complete new set (manifest checksums verified, ``config.yaml`` of A or B) or carries
``.incomplete``, and that any leftover sibling folder is empty, marked or complete. Then it reruns
to completion and checks that the new set is in place and that no leftover remains. Two concurrent
runs: one must fail at once (exit 1, one line naming the folder), the other complete.
Prints one line per trial and the totals.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from xgamma.io.transaction import MARKER, folder_state

ROOT = Path(__file__).resolve().parents[1]

CONFIG = """
general: {{log: {{level: error}}, models_file: {models}}}
observations:
  datastore: $XGAMMA_DATA/hess-dl3-dr1
  obs_ids: [23523]
  required_irf: [aeff, edisp, bkg]
datasets:
  type: 1d
  geom:
    axes:
      energy: {{min: 0.2 TeV, max: 30.0 TeV, nbins: 15}}
      energy_true: {{min: 0.1 TeV, max: 60.0 TeV, nbins: 30}}
  background: {{method: reflected}}
  on_region: {{frame: icrs, lon: 83.63 deg, lat: 22.01 deg, radius: 0.11 deg}}
fit:
  fit_range: {{min: 0.6 TeV, max: 20.0 TeV}}
flux_points:
  energy: {{min: 0.4 TeV, max: 20.0 TeV, nbins: {nbins}}}
  source: Crab
"""


def _cmd(cfg: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "xgamma.cli", "run", str(cfg), "--out", str(out), "-q"]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("MPLBACKEND", "Agg")
    return env


def check(out: Path, configs: dict[str, str], allow_marker: bool = True) -> str:
    """The state of ``out``: 'old/new set A|B', 'incomplete'; raises AssertionError otherwise."""
    state = folder_state(out)
    for p in out.parent.iterdir():
        if p.name.startswith(f".{out.name}.xgamma-") and p.is_dir():
            assert folder_state(p) in ("empty", "incomplete", "complete"), (p, folder_state(p))
    if state == "incomplete" and allow_marker:
        return "incomplete"
    assert state == "complete", f"{out}: {state}"
    text = (out / "config.yaml").read_text()
    which = [k for k, v in configs.items() if v == text]  # the products match their config
    assert which, "config.yaml matches neither configuration"
    return f"set {which[0]}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=30)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workdir")
    ap.add_argument("--late", action="store_true",
                    help="draw the kill moments in [0.75 T, 1.1 T] (the writing phase)")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    work = Path(args.workdir or tempfile.mkdtemp(prefix="xgamma-kill-"))
    work.mkdir(parents=True, exist_ok=True)
    cfgs = {}
    for name, nbins in (("A", 3), ("B", 4)):
        cfgs[name] = work / f"{name}.yaml"
        cfgs[name].write_text(CONFIG.format(models=ROOT / "examples" / "crab_1d_models.yaml", nbins=nbins))
    out = work / "out"
    t0 = time.perf_counter()
    subprocess.run(_cmd(cfgs["A"], out), env=_env(), check=True)
    full = time.perf_counter() - t0
    texts = {"A": (out / "config.yaml").read_text()}
    subprocess.run(_cmd(cfgs["B"], out), env=_env(), check=True)
    texts["B"] = (out / "config.yaml").read_text()
    print(f"unkilled run: {full:.1f} s")
    current = "B"
    counts = {"old": 0, "new": 0, "incomplete": 0, "failed": 0, "leftover": 0}
    for i in range(args.trials):
        new = "A" if current == "B" else "B"
        delay = rng.uniform(0.75 * full if args.late else 0.0, 1.1 * full)
        proc = subprocess.Popen(_cmd(cfgs[new], out), env=_env(), stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        try:
            state = check(out, texts)
            kind = ("incomplete" if state == "incomplete" else "new" if state.endswith(new) else "old")
            counts[kind] += 1
            left = [folder_state(p) for p in work.iterdir() if p.name.startswith(".out.xgamma-tmp")]
            counts["leftover"] += len(left)
            kind += f" ({len(left)} leftover: {', '.join(left)})" if left else ""
            subprocess.run(_cmd(cfgs[new], out), env=_env(), check=True)
            assert check(out, texts, allow_marker=False) == f"set {new}"
            left = [p.name for p in work.iterdir() if p.name.startswith(".out.")]
            assert not left, left
            assert not (out / MARKER).exists()
            current = new
            print(f"trial {i + 1:2d}: kill after {delay:5.1f} s -> {kind:10s}; rerun: set {new}, "
                  "no leftovers")
        except AssertionError as exc:
            counts["failed"] += 1
            print(f"trial {i + 1:2d}: kill after {delay:5.1f} s -> FAILED: {exc}")
    print(f"{args.trials} trials: {counts['old']} old set, {counts['new']} new set, "
          f"{counts['incomplete']} marked .incomplete, {counts['failed']} failed; "
          f"{counts['leftover']} sibling folders left by the kills, all removed by the reruns")
    # two concurrent runs, started together: one takes the lock, the other fails at once
    t = time.perf_counter()
    procs = [subprocess.Popen(_cmd(cfgs[k], out), env=_env(), stderr=subprocess.PIPE, text=True)
             for k in ("A", "B")]
    ends = [0.0, 0.0]
    while any(p.poll() is None for p in procs):
        for k, p in enumerate(procs):
            if p.poll() is not None and not ends[k]:
                ends[k] = time.perf_counter() - t
        time.sleep(0.05)
    for k in range(len(procs)):
        ends[k] = ends[k] or time.perf_counter() - t
    errs = [p.stderr.read().strip() if p.stderr else "" for p in procs]
    codes = [p.returncode for p in procs]
    print(f"concurrent: exit codes {codes}, ended after {ends[0]:.1f} s and {ends[1]:.1f} s; "
          f"stderr of the failing one: {[e for e in errs if e]}; "
          f"folder: {check(out, texts, allow_marker=False)}")

if __name__ == "__main__":
    main()
