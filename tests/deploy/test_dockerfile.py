"""deploy/Dockerfile's structural rules (hadolint is not packaged in Debian), checked
without a container runtime. test_image.py builds and runs it where buildah can."""
import fnmatch
import json
import re

from deploy_helpers import DEPLOY, REPO

DOCKERFILE = DEPLOY / "Dockerfile"
# Build-only packages of tools/setup the image does not need (tests, fuzzing, clang tools).
NOT_FOR_THE_IMAGE = {"libgtest-dev", "libgmock-dev", "libfuzzer-14-dev", "libclang-rt-14-dev"}


def instructions():
    """[(INSTRUCTION, arguments)] with line continuations joined and comments dropped."""
    out, pending = [], ""
    for line in DOCKERFILE.read_text().splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.lstrip().startswith("#"):
            continue
        pending += line.rstrip("\\").rstrip() + " " if line.endswith("\\") else line
        if not line.endswith("\\"):
            word, _, rest = pending.strip().partition(" ")
            out.append((word.upper(), " ".join(rest.split())))
            pending = ""
    return out


def stages():
    """[[instructions of stage 0], [stage 1], ...]; instructions before the first FROM dropped."""
    result = []
    for ins in instructions():
        if ins[0] == "FROM":
            result.append([])
        if result:
            result[-1].append(ins)
    return result


def installed_packages(stage):
    pkgs = set()
    for word, args in stage:
        if word == "RUN" and "apt-get install" in args:
            tail = args.split("apt-get install", 1)[1].split("&&")[0]
            pkgs |= {t for t in tail.split() if not t.startswith("-") and "/" not in t}
    return pkgs


def test_multi_stage_on_bookworm_slim():
    ins = instructions()
    assert ins[0] == ("ARG", "DEBIAN_IMAGE=debian:bookworm-slim"), ins[0]
    froms = [args for word, args in ins if word == "FROM"]
    assert len(froms) == 2 and froms[0] == "${DEBIAN_IMAGE} AS build" and froms[1] == "${DEBIAN_IMAGE}", froms


def test_no_add_no_latest_no_upgrade():
    for word, args in instructions():
        assert word != "ADD", "use COPY"
        assert ":latest" not in args
        assert "apt-get upgrade" not in args and "dist-upgrade" not in args
        assert "sudo " not in args and "curl " not in args and "wget " not in args, args


def test_every_apt_install_is_lean_and_cleans_up_in_the_same_layer():
    runs = [args for word, args in instructions() if word == "RUN" and "apt-get install" in args]
    assert len(runs) == 2, runs
    for args in runs:
        assert args.index("apt-get update") < args.index("apt-get install"), args
        assert "--no-install-recommends" in args and " -y " in f" {args} ", args
        assert "rm -rf /var/lib/apt/lists/*" in args, args


def test_runtime_stage_is_non_root_runtime_libraries_only():
    runtime = stages()[-1]
    users = [args for word, args in runtime if word == "USER"]
    assert users and re.fullmatch(r"[1-9]\d*:[1-9]\d*", users[-1]), users
    entry = [args for word, args in runtime if word == "ENTRYPOINT"]
    assert entry and json.loads(entry[0]) == ["/usr/bin/kvip-exporter"]
    pkgs = installed_packages(runtime)
    assert pkgs == {"ca-certificates"}, f"runtime installs {pkgs}; libraries come from runtime-packages"
    assert any("xargs -a /tmp/runtime-packages apt-get install" in a for w, a in runtime if w == "RUN")
    for word, args in runtime:
        if word == "COPY":
            assert args.startswith("--from=build "), args
    assert [a for w, a in runtime if w == "EXPOSE"] == ["9112"]


def test_build_stage_has_every_build_dependency_of_tools_setup():
    setup = (REPO / "tools" / "setup").read_text()
    block = setup.split("# build", 1)[1].split("# tests and tooling", 1)[0]
    dev = {w for w in block.split() if w.endswith("-dev")} - NOT_FOR_THE_IMAGE
    missing = dev - installed_packages(stages()[0])
    assert not missing, f"tools/setup builds with {sorted(missing)}, the image's build stage lacks them"


def ignored(path, patterns):
    """.dockerignore semantics for the patterns used here: last match wins, `!` re-includes,
    a directory pattern covers what is below it."""
    result = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        p = pattern.lstrip("!").rstrip("/")
        if fnmatch.fnmatch(path, p) or path.startswith(p + "/"):
            result = not negate
    return result


def test_dockerignore_lets_through_exactly_what_the_build_copies():
    patterns = [line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    copies = [args.split()[0] for word, args in stages()[0] if word == "COPY"]
    for src in copies:
        assert (REPO / src).exists(), src
        assert not ignored(src.rstrip("/"), patterns), f".dockerignore drops {src}"
    for unwanted in ("build", "build-x/CMakeCache.txt", ".git", "tests/unit/common_test.cc", "tools/testbed"):
        assert ignored(unwanted, patterns), f"{unwanted} would be sent to the build"
    # Every directory the top-level CMakeLists.txt always reads is copied (those under an
    # if(), tests and fuzzers, are off in the image build).
    needed, depth = {"cmake"}, 0
    for line in (REPO / "CMakeLists.txt").read_text().splitlines():
        line = line.strip()
        depth += line.startswith("if(") - line.startswith("endif(")
        m = re.fullmatch(r"add_subdirectory\((\S+)\)", line)
        if m and depth == 0:
            needed.add(m.group(1))
    assert needed <= {c.rstrip("/") for c in copies}, needed
