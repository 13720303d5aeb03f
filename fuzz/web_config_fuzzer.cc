// --web.config.file YAML. Whatever a config holds, what the parser accepts is safe to act
// on: every user has a well-formed bcrypt hash, header names are on the allowed list and no
// header value can split a response, and TLS settings are consistent.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "web/web_config.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)kvip::IsBcryptHash(text);

  kvip::WebConfigResult result = kvip::ParseWebConfig(text, "/fuzz/web-config.yml");
  if (!result.ok()) {
    KVIP_FUZZ_CHECK(result.error.find("/fuzz/web-config.yml") != std::string::npos,
                    "error does not name the file", result.error);
    return 0;
  }
  const kvip::WebConfig& config = result.config;
  for (const auto& [user, hash] : config.basic_auth_users) {
    KVIP_FUZZ_CHECK(kvip::IsBcryptHash(hash), "accepted a user whose hash is not bcrypt", hash);
    KVIP_FUZZ_CHECK(config.FindUserHash(user) != nullptr, "an accepted user is not found", user);
  }
  for (const auto& [name, value] : config.headers) {
    KVIP_FUZZ_CHECK(name.find_first_of("\r\n:") == std::string::npos, "a header name that splits",
                    name);
    KVIP_FUZZ_CHECK(value.find_first_of(std::string_view("\r\n\0", 3)) == std::string::npos,
                    "a header value that splits the response", value);
  }
  if (config.tls) {
    KVIP_FUZZ_CHECK(!config.tls->cert_file.empty() && !config.tls->key_file.empty(),
                    "TLS without a certificate and key");
    KVIP_FUZZ_CHECK(config.tls->min_version <= config.tls->max_version,
                    "min_version above max_version");
    bool verifies = config.tls->client_auth == kvip::ClientAuth::kVerifyClientCertIfGiven ||
                    config.tls->client_auth == kvip::ClientAuth::kRequireAndVerifyClientCert;
    KVIP_FUZZ_CHECK(!verifies || !config.tls->client_ca_file.empty(),
                    "verifies client certificates without a client_ca_file");
  }
  (void)config.ReferencedFiles();
  return 0;
}
