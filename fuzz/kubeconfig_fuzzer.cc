// kubeconfig YAML. lib/kube has no pure parse entry point (LoadKubeconfig reads the files it
// is given and checks the files they name), so each input is written to a private file on
// tmpfs and loaded from there. Relative file names in it resolve inside that directory,
// which holds one readable file, "ca.crt", so the file-naming paths are reachable too.

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "common/logging.h"
#include "fuzz_check.h"
#include "kube/config.h"

namespace {

std::filesystem::path& WorkDir() {
  static std::filesystem::path dir;
  return dir;
}

void RemoveWorkDir() {
  std::error_code ignored;
  std::filesystem::remove_all(WorkDir(), ignored);
}

void WriteFile(const std::filesystem::path& path, const std::uint8_t* data, std::size_t size) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  kvip::SetupLogging(spdlog::level::off, kvip::LogFormat::kLogfmt);
  std::filesystem::path base = std::filesystem::exists("/dev/shm")
                                   ? std::filesystem::path("/dev/shm")
                                   : std::filesystem::temp_directory_path();
  WorkDir() = base / ("kvip-fuzz-kubeconfig-" + std::to_string(getpid()));
  std::filesystem::create_directories(WorkDir());
  static const char kCa[] = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
  WriteFile(WorkDir() / "ca.crt", reinterpret_cast<const std::uint8_t*>(kCa), sizeof kCa - 1);
  std::atexit(RemoveWorkDir);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::filesystem::path file = WorkDir() / "config";
  WriteFile(file, data, size);
  std::string error;
  auto config = kvip::kube::LoadKubeconfig(file.string(), error);
  if (!config) {
    KVIP_FUZZ_CHECK(!error.empty(), "rejected without saying why");
    KVIP_FUZZ_CHECK(error.find("kubeconfig") != std::string::npos, "error does not say kubeconfig",
                    error);
    return 0;
  }
  KVIP_FUZZ_CHECK(
      config->server.rfind("https://", 0) == 0 || config->server.rfind("http://", 0) == 0,
      "accepted a server that is not an http(s) URL", config->server);
  KVIP_FUZZ_CHECK(config->HasClientCertificate() ==
                      (!config->tls.client_key_file.empty() || !config->tls.client_key_pem.empty()),
                  "a client certificate without its key, or the reverse");
  KVIP_FUZZ_CHECK(config->source == file.string(), "source does not name the file", config->source);
  return 0;
}
