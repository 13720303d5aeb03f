"""`cmake --install` and `cpack -G DEB` from the build tree of the binary under test
(no second compile): binary, systemd unit and default flags land in standard places, the
unit names the paths of the prefix it was installed to, and the package is well formed."""
import os
import shutil
import subprocess
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def build_dir(exporter_bin):
    build = Path(exporter_bin).resolve().parent.parent
    if not (build / "CMakeCache.txt").is_file() or not (build / "cmake_install.cmake").is_file():
        reason = f"SKIP: {exporter_bin} is not inside a CMake build tree to install from"
        print(reason)
        pytest.skip(reason)
    if "install-service.cmake" not in (build / "cmake_install.cmake").read_text():
        # Configured before cmake/install.cmake existed: re-run CMake's configure step only.
        subprocess.run(["cmake", str(build)], check=True, capture_output=True)
    return build


def install(build_dir, destdir, *extra):
    r = subprocess.run(["cmake", "--install", str(build_dir), *extra], capture_output=True, text=True,
                       env=dict(os.environ, DESTDIR=str(destdir)))
    assert r.returncode == 0, r.stderr
    return r


@pytest.mark.parametrize("prefix, bindir, etc, unitdir", [
    ("/usr", "/usr/bin", "/etc", "/usr/lib/systemd/system"),
    ("/usr/local", "/usr/local/bin", "/usr/local/etc", "/usr/local/lib/systemd/system"),
])
def test_cmake_install_layout(build_dir, tmp_path, prefix, bindir, etc, unitdir):
    install(build_dir, tmp_path, "--prefix", prefix)
    binary = tmp_path / bindir.lstrip("/") / "kvip-exporter"
    assert binary.is_file() and os.access(binary, os.X_OK)
    unit = (tmp_path / unitdir.lstrip("/") / "kvip-exporter.service").read_text()
    assert f"ExecStart={bindir}/kvip-exporter $KVIP_EXPORTER_ARGS" in unit
    assert f"EnvironmentFile=-{etc}/default/kvip-exporter" in unit
    assert f"LoadCredential=kubeconfig:{etc}/kvip-exporter/kubeconfig" in unit
    flags = tmp_path / etc.lstrip("/") / "default" / "kvip-exporter"
    assert "KVIP_EXPORTER_ARGS=" in flags.read_text()
    assert (tmp_path / prefix.lstrip("/") / "share/doc/kvip-exporter/deploy.md").is_file()
    if shutil.which("systemd-analyze"):
        r = subprocess.run(["systemd-analyze", "verify", str(tmp_path / unitdir.lstrip("/") / "kvip-exporter.service")],
                           capture_output=True, text=True)
        # The installed unit names the installed path, which is under DESTDIR here: only
        # that complaint is expected.
        problems = [l for l in r.stderr.splitlines() if "is not executable" not in l]
        assert not problems, r.stderr


def test_cpack_debian_package(build_dir, tmp_path):
    if not shutil.which("dpkg-shlibdeps"):
        pytest.skip("SKIP: dpkg-dev is not installed")
    r = subprocess.run(["cpack", "-G", "DEB", "-B", str(tmp_path), "--config", str(build_dir / "CPackConfig.cmake")],
                       cwd=build_dir, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    (deb,) = tmp_path.glob("kvip-exporter_*.deb")
    contents = subprocess.run(["dpkg-deb", "-c", str(deb)], capture_output=True, text=True, check=True).stdout
    for path in ("./usr/bin/kvip-exporter", "./usr/lib/systemd/system/kvip-exporter.service",
                 "./etc/default/kvip-exporter", "./usr/share/doc/kvip-exporter/metrics.md"):
        assert path in contents, contents
    fields = subprocess.run(["dpkg-deb", "-f", str(deb)], capture_output=True, text=True, check=True).stdout
    assert "Package: kvip-exporter" in fields and "libcurl4" in fields and "libprometheus-cpp-core" in fields, fields
    conffiles = subprocess.run(f"dpkg-deb --ctrl-tarfile {deb} | tar -xO ./conffiles", shell=True,
                               capture_output=True, text=True, check=True).stdout
    assert conffiles.split() == ["/etc/default/kvip-exporter"]
    unpacked = tmp_path / "root"
    subprocess.run(["dpkg-deb", "-x", str(deb), str(unpacked)], check=True)
    unit = (unpacked / "usr/lib/systemd/system/kvip-exporter.service").read_text()
    assert "ExecStart=/usr/bin/kvip-exporter " in unit and "EnvironmentFile=-/etc/default/kvip-exporter" in unit
