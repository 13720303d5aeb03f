#pragma once
// --web.config.file in the exporter-toolkit format node_exporter users know:
//
//   tls_server_config:
//     cert_file: server.crt            # relative names are relative to this file
//     key_file: server.key
//     client_auth_type: RequireAndVerifyClientCert
//     client_ca_file: clients-ca.crt
//     min_version: TLS12
//   http_server_config:
//     headers: {Strict-Transport-Security: max-age=31536000}
//   basic_auth_users:
//     prometheus: $2y$10$...           # bcrypt, e.g. htpasswd -nBC 10 "" | tr -d ':\n'
//
// Parsing is pure (no file access beyond reading the config itself); certificates are
// loaded by MakeTlsContext. Unknown fields are errors, as exporter-toolkit's strict parsing.

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kvip {

// Go's tls.ClientAuthType, spelled as exporter-toolkit spells it.
enum class ClientAuth {
  kNoClientCert,
  kRequestClientCert,           // asks for a certificate, accepts any or none
  kRequireAnyClientCert,        // requires one, does not verify it
  kVerifyClientCertIfGiven,     // verifies one against client_ca_file when sent
  kRequireAndVerifyClientCert,  // requires one that verifies against client_ca_file
};

enum class TlsVersion { kTls10, kTls11, kTls12, kTls13 };

std::string_view ClientAuthName(ClientAuth auth);
std::string_view TlsVersionName(TlsVersion version);

struct TlsServerConfig {
  std::string cert_file;  // paths as resolved against the config file's directory
  std::string key_file;
  ClientAuth client_auth = ClientAuth::kNoClientCert;
  std::string client_ca_file;
  TlsVersion min_version = TlsVersion::kTls12;
  TlsVersion max_version = TlsVersion::kTls13;
  std::vector<std::string> cipher_suites;      // Go/IANA names; TLS 1.2 and below only
  std::vector<std::string> curve_preferences;  // OpenSSL group names (P-256, X25519, ...)
  bool prefer_server_cipher_suites = true;
};

struct WebConfig {
  std::optional<TlsServerConfig> tls;  // nullopt: plain HTTP
  // user -> bcrypt hash; empty: no authentication.
  std::vector<std::pair<std::string, std::string>> basic_auth_users;
  // Extra response headers (http_server_config.headers), validated against the same
  // short list exporter-toolkit allows.
  std::vector<std::pair<std::string, std::string>> headers;

  // The files this configuration reads (certificates, keys, CAs): a change to any of them
  // is a reason to reload, so that a renewed certificate is picked up.
  std::vector<std::string> ReferencedFiles() const;

  // The bcrypt hash of `user`, or nullptr for an unknown user.
  const std::string* FindUserHash(std::string_view user) const;
};

struct WebConfigResult {
  WebConfig config;
  std::string error;  // empty on success; otherwise names the file and what is wrong
  bool ok() const { return error.empty(); }
};

// Parses `text`, the content of `path` (used in errors and to resolve relative names).
WebConfigResult ParseWebConfig(std::string_view text, const std::string& path);

// Reads and parses `path`.
WebConfigResult LoadWebConfig(const std::string& path);

// True for a hash as bcrypt writes it: $2a$, $2b$ or $2y$, cost 04..31, 53 characters of
// bcrypt's base64.
bool IsBcryptHash(std::string_view hash);

}  // namespace kvip
