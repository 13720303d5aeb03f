"""--web.config.file end to end: TLS only, client certificates, basic auth with bcrypt,
reloads (file change and SIGHUP), and clear errors at start. Every config the tests use is
first accepted by `promtool check web-config`, so the format is the one users know.

Each test runs the exporter and curl in its own network namespace (loopback only).
Certificates are made with openssl in the test's temporary directory.
"""
import signal
import subprocess
import warnings

import pytest

from conftest import wait_for

LISTEN = "127.0.0.1:9112"
HTTPS = f"https://{LISTEN}"
HTTP = f"http://{LISTEN}"


def bcrypt(password):
    """A $2b$ hash at the lowest cost, made by libcrypt through Python's crypt module."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt
        return crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16))


@pytest.fixture
def pki(tmp_path):
    """CA, server certificate for 127.0.0.1, a client certificate from the CA and a
    self-signed one nobody trusts."""
    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2"]
    leaf = ["-addext", "basicConstraints=critical,CA:FALSE"]

    def req(name, *extra):
        subprocess.run(["openssl", "req", "-x509", *key, "-keyout", tmp_path / f"{name}.key",
                        "-out", tmp_path / f"{name}.crt", *extra],
                       check=True, capture_output=True)

    ca = ["-CA", tmp_path / "ca.crt", "-CAkey", tmp_path / "ca.key"]
    req("ca", "-subj", "/CN=kvip-test-ca")
    req("server", *ca, "-subj", "/CN=localhost", *leaf,
        "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-addext", "extendedKeyUsage=serverAuth")
    req("client", *ca, "-subj", "/CN=prometheus", *leaf, "-addext", "extendedKeyUsage=clientAuth")
    req("stranger", "-subj", "/CN=stranger", *leaf, "-addext", "extendedKeyUsage=clientAuth")
    return tmp_path


def write_config(path, text, check=True):
    """Writes a web config; good ones must pass promtool's own validation first."""
    path.write_text(text)
    if check:
        out = subprocess.run(["promtool", "check", "web-config", str(path)],
                             capture_output=True, text=True)
        assert out.returncode == 0, out.stdout + out.stderr
    return path


TLS = "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"


class Exporter:
    def __init__(self, netns, exporter_bin, tmp_path, config):
        self.netns = netns
        self.log_path = tmp_path / "exporter.log"
        self.proc = netns.popen(exporter_bin, f"--web.listen-address={LISTEN}",
                                f"--web.config.file={config}",
                                "--kubevip.metrics-url=http://127.0.0.1:2112/metrics",
                                f"--kubevip.manifest={tmp_path}/no-manifest.yaml",
                                "--node-name=test-node", "--no-lease.watch", "--no-vip.healthz", "--no-apiserver.livez", "--no-kubevip.pod",
                                "--no-kubevip.log",
                                stdout=subprocess.DEVNULL, stderr=open(self.log_path, "w"))
        wait_for(lambda: self.netns.run("ss", "-Htln", "src", LISTEN).stdout.strip(),
                 what="exporter listening")

    def log(self):
        return self.log_path.read_text()


def curl(netns, url, *args):
    """(exit code, HTTP status, body) of one curl inside the namespace."""
    out = netns.run("curl", "-sS", "--max-time", "5", "-o", "-", "-w", "\n%{http_code}", *args, url,
                    check=False)
    body, _, status = out.stdout.rpartition("\n")
    return out.returncode, int(status or 0), body


@pytest.fixture
def start(netns, exporter_bin, tmp_path):
    return lambda config: Exporter(netns, exporter_bin, tmp_path, config)


def test_tls_only_and_plain_http_fails_cleanly(netns, pki, start):
    start(write_config(pki / "web.yml", TLS))
    code, status, body = curl(netns, f"{HTTPS}/metrics", "--cacert", pki / "ca.crt")
    assert (code, status) == (0, 200)
    assert "kvip_exporter_build_info{" in body
    assert "kvip_exporter_web_config_last_reload_successful 1" in body
    # The web server's own families pass promtool's lint.
    ours = "".join(line + "\n" for line in body.splitlines() if "kvip_exporter_web_" in line)
    lint = subprocess.run(["promtool", "check", "metrics"], input=ours, capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr

    code, status, body = curl(netns, f"{HTTP}/metrics")
    assert (code, status) == (0, 400)
    assert body == "Client sent an HTTP request to an HTTPS server.\n"

    code, _, _ = curl(netns, f"{HTTPS}/metrics")  # our CA is not in the system store
    assert code == 60


def test_min_version_tls13_refuses_tls12_clients(netns, pki, start):
    start(write_config(pki / "web.yml", TLS + "  min_version: TLS13\n"))
    assert curl(netns, f"{HTTPS}/healthz", "--cacert", pki / "ca.crt")[:2] == (0, 200)
    code, _, _ = curl(netns, f"{HTTPS}/healthz", "--cacert", pki / "ca.crt", "--tls-max", "1.2")
    assert code != 0


def test_basic_auth(netns, pki, start):
    start(write_config(pki / "web.yml",
                       TLS + f"basic_auth_users:\n  prometheus: {bcrypt('s3cret')}\n"))
    ca = ("--cacert", pki / "ca.crt")
    assert curl(netns, f"{HTTPS}/metrics", *ca)[1] == 401
    assert curl(netns, f"{HTTPS}/metrics", *ca, "-u", "prometheus:wrong")[1] == 401
    assert curl(netns, f"{HTTPS}/metrics", *ca, "-u", "someone:s3cret")[1] == 401
    code, status, body = curl(netns, f"{HTTPS}/metrics", *ca, "-u", "prometheus:s3cret")
    assert (code, status) == (0, 200)
    assert 'kvip_exporter_web_requests_total{code="401"} 3' in body


def test_client_certificate_required(netns, pki, start):
    start(write_config(pki / "web.yml", TLS + "  client_auth_type: RequireAndVerifyClientCert\n"
                                              "  client_ca_file: ca.crt\n"))
    ca = ("--cacert", pki / "ca.crt")
    code, _, _ = curl(netns, f"{HTTPS}/metrics", *ca)
    assert code != 0, "served without a client certificate"
    code, _, _ = curl(netns, f"{HTTPS}/metrics", *ca,
                      "--cert", pki / "stranger.crt", "--key", pki / "stranger.key")
    assert code != 0, "served to an untrusted client certificate"
    code, status, body = curl(netns, f"{HTTPS}/metrics", *ca,
                              "--cert", pki / "client.crt", "--key", pki / "client.key")
    assert (code, status) == (0, 200)
    assert 'kvip_exporter_web_connections_dropped_total{reason="tls_handshake"} 2' in body


def test_reload_on_change_and_sighup_keeps_serving(netns, pki, start):
    config = write_config(pki / "web.yml", TLS + f"basic_auth_users:\n  alice: {bcrypt('a')}\n")
    exporter = start(config)
    ca = ("--cacert", pki / "ca.crt")

    def status(user):
        return curl(netns, f"{HTTPS}/healthz", *ca, "-u", user)[1]

    assert status("alice:a") == 200

    # A changed file is picked up by itself.
    write_config(pki / "web.yml.new", TLS + f"basic_auth_users:\n  bob: {bcrypt('b')}\n")
    (pki / "web.yml.new").rename(config)
    wait_for(lambda: status("bob:b") == 200, what="bob accepted after the file changed")
    assert status("alice:a") == 401

    # A bad file is refused, logged, and the previous config stays.
    write_config(config, TLS + "basic_auth_users:\n  carol: not-a-hash\n", check=False)
    exporter.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: "web config reload failed" in exporter.log(), what="reload failure logged")
    assert "basic_auth_users.carol: not a bcrypt hash" in exporter.log()
    assert status("bob:b") == 200
    code, _, body = curl(netns, f"{HTTPS}/metrics", *ca, "-u", "bob:b")
    assert "kvip_exporter_web_config_last_reload_successful 0" in body

    # SIGHUP applies a good file again.
    write_config(config, TLS + f"basic_auth_users:\n  carol: {bcrypt('c')}\n")
    exporter.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: status("carol:c") == 200, what="carol accepted after SIGHUP")
    assert exporter.proc.poll() is None


@pytest.mark.parametrize("text, error", [
    ("tls_server_config:\n  cert_file: server.crt\n", "tls_server_config.key_file is missing"),
    (TLS.replace("server.crt", "missing.crt"), "missing.crt: No such file or directory"),
    ("basic_auth_users:\n  alice: plaintext\n", "basic_auth_users.alice: not a bcrypt hash"),
    ("tls_server_config: [\n", "line 2, column 1"),
    ("tls_config: {}\n", 'unknown field \\"tls_config\\"'),
])
def test_bad_config_at_start_is_a_clear_error(netns, pki, exporter_bin, text, error):
    config = write_config(pki / "web.yml", text, check=False)
    out = netns.run(exporter_bin, f"--web.listen-address={LISTEN}", f"--web.config.file={config}",
                    "--no-lease.watch", "--no-vip.healthz", "--no-apiserver.livez", "--no-kubevip.pod", "--no-kubevip.log",
                    f"--kubevip.manifest={pki}/no-manifest.yaml", check=False, timeout=10)
    assert out.returncode == 1
    assert f"web config {config}: " in out.stderr
    assert error in out.stderr
    # promtool agrees that these files are bad.
    assert subprocess.run(["promtool", "check", "web-config", str(config)],
                          capture_output=True).returncode != 0
