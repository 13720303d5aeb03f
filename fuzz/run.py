#!/usr/bin/env python3
"""Builds the libFuzzer targets (build-fuzz/, clang-14) and runs each one, bounded by an
execution count and a time limit; prints executions, speed, coverage and findings.

Used by tools/fuzz-smoke (seconds per target, in tools/test) and bench/fuzz (millions of
executions per target). Exit status 1 when any target found a crash, leak, timeout or
broken invariant; its input is kept under <build>/fuzz-findings/<target>/ and the
command to replay it is printed.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FUZZ = REPO / "fuzz"

# Inputs beyond libFuzzer's default of 4 KiB where real inputs are larger.
MAX_LEN = {
    "promtext_parse": 16384,
    "manifest_parse": 8192,
    "manifest_rewrite": 8192,
    "manifest_api_json": 32768,
    "verify_json": 32768,
    "kubeconfig": 8192,
    "netlink_route": 8192,
    "cri_log": 8192,
    "kube_watch_stream": 8192,
}

STAT = re.compile(r"^stat::(\w+):\s+(\d+)", re.M)
COVERAGE = re.compile(r"#\d+\s+\w+\s+cov: (\d+) ft: (\d+)")


def targets_in_cmake():
    text = (FUZZ / "CMakeLists.txt").read_text()
    block = text.split("set(KVIP_FUZZ_TARGETS", 1)[1].split("\n)", 1)[0]
    entries = [line.split("#")[0].strip().strip('"') for line in block.splitlines()]
    return [entry.split(":")[0] for entry in entries if entry]


def build(build_dir, quiet):
    cmake = ["cmake", "-S", str(REPO), "-B", str(build_dir), "-G", "Ninja",
             "-DCMAKE_CXX_COMPILER=clang++-14", "-DCMAKE_BUILD_TYPE=RelWithDebInfo",
             "-DKVIP_FUZZ=ON", "-DKVIP_BUILD_TESTS=OFF", "-DKVIP_WERROR=ON"]
    out = subprocess.DEVNULL if quiet else None
    subprocess.run(cmake, check=True, stdout=out)
    subprocess.run(["ninja", "-C", str(build_dir), "kvip_fuzzers"], check=True, stdout=out)


def run_target(name, build_dir, runs, seconds, work_root, findings_root, jobs_env):
    binary = build_dir / "fuzz" / f"fuzz_{name}"
    work = work_root / name
    work.mkdir(parents=True, exist_ok=True)
    findings = findings_root / name
    findings.mkdir(parents=True, exist_ok=True)
    argv = [str(binary), f"-runs={runs}", f"-max_total_time={seconds}", "-timeout=10",
            "-rss_limit_mb=2048", "-print_final_stats=1", "-reload=0",
            f"-artifact_prefix={findings}/"]
    if name in MAX_LEN:
        argv.append(f"-max_len={MAX_LEN[name]}")
    dictionary = FUZZ / "dict" / f"{name}.dict"
    if dictionary.exists():
        argv.append(f"-dict={dictionary}")
    argv += [str(work), str(FUZZ / "corpus" / name)]
    before = set(findings.iterdir())
    started = time.monotonic()
    proc = subprocess.run(argv, capture_output=True, text=True, errors="replace", env=jobs_env)
    elapsed = time.monotonic() - started
    log = proc.stderr
    (findings_root / f"{name}.log").write_text(log)
    stats = {k: int(v) for k, v in STAT.findall(log)}
    coverage = COVERAGE.findall(log)
    new_findings = sorted(set(findings.iterdir()) - before)
    return {
        "name": name,
        "execs": stats.get("number_of_executed_units", 0),
        "seconds": elapsed,
        "rss_mb": stats.get("peak_rss_mb", 0),
        "new_units": stats.get("new_units_added", 0),
        "cov": int(coverage[-1][0]) if coverage else 0,
        "ft": int(coverage[-1][1]) if coverage else 0,
        "exit": proc.returncode,
        "findings": new_findings,
        "summary": next((line for line in log.splitlines()
                         if line.startswith(("SUMMARY:", "==ERROR", "ERROR:"))
                         or "invariant broken" in line), ""),
        "binary": binary,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("targets", nargs="*", help="targets to run (default: all)")
    parser.add_argument("--runs", type=int, default=10_000_000, help="executions per target")
    parser.add_argument("--seconds", type=int, default=1200, help="time limit per target")
    parser.add_argument("--build-dir", type=Path, default=REPO / "build-fuzz")
    parser.add_argument("--work-dir", type=Path, default=None,
                        help="where new corpus entries go (default: a temporary directory)")
    parser.add_argument("--no-build", action="store_true")
    parser.add_argument("--label", default="fuzz", help="prefix of the closing line")
    args = parser.parse_args()

    names = args.targets or targets_in_cmake()
    unknown = set(names) - set(targets_in_cmake())
    if unknown:
        parser.error(f"unknown targets: {', '.join(sorted(unknown))}")
    if not args.no_build:
        build(args.build_dir, quiet=True)
    findings_root = args.build_dir / "fuzz-findings"
    temporary = None
    if args.work_dir is None:
        temporary = tempfile.TemporaryDirectory(prefix="kvip-fuzz-")
        work_root = Path(temporary.name)
    else:
        work_root = args.work_dir
    env = dict(os.environ)
    # Leaks are findings; UBSan reports stop the run.
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=1:symbolize=1")
    # The suppressions (third-party UB, see fuzz/ubsan.supp) apply whatever the caller set:
    # tools/test exports UBSAN_OPTIONS for the unit tests before it runs tools/fuzz-smoke.
    env["UBSAN_OPTIONS"] = ":".join(filter(None, [
        env.get("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1"),
        f"suppressions={FUZZ / 'ubsan.supp'}"]))

    print(f"{'target':<20} {'execs':>11} {'exec/s':>8} {'secs':>6} {'cov':>5} {'ft':>6} "
          f"{'new':>5} {'rss MB':>6}  result", flush=True)
    failed = []
    total = 0
    for name in names:
        r = run_target(name, args.build_dir, args.runs, args.seconds, work_root, findings_root, env)
        total += r["execs"]
        ok = r["exit"] == 0 and not r["findings"]
        rate = r["execs"] / r["seconds"] if r["seconds"] else 0
        print(f"{name:<20} {r['execs']:>11} {rate:>8.0f} {r['seconds']:>6.0f} {r['cov']:>5} "
              f"{r['ft']:>6} {r['new_units']:>5} {r['rss_mb']:>6}  "
              f"{'ok' if ok else 'FINDING'}", flush=True)
        if not ok:
            failed.append(name)
            print(f"  {r['summary']}")
            for path in r["findings"]:
                print(f"  input: {path}\n  replay: UBSAN_OPTIONS='{env['UBSAN_OPTIONS']}' "
                      f"{r['binary']} {path}")
            print(f"  log: {findings_root / (name + '.log')}")
    if temporary:
        temporary.cleanup()
    print(f"{args.label}: {total} executions over {len(names)} targets")
    print(f"{args.label}: {len(names) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
