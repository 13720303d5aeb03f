#include "web/web_config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "common/read_file.h"

namespace kvip {
namespace {

constexpr size_t kMaxWebConfigBytes = 1 << 20;

constexpr std::array<std::pair<std::string_view, ClientAuth>, 6> kClientAuthNames = {{
    {"NoClientCert", ClientAuth::kNoClientCert},
    {"RequestClientCert", ClientAuth::kRequestClientCert},
    {"RequireAnyClientCert", ClientAuth::kRequireAnyClientCert},
    {"RequireClientCert", ClientAuth::kRequireAnyClientCert},  // exporter-toolkit's old name
    {"VerifyClientCertIfGiven", ClientAuth::kVerifyClientCertIfGiven},
    {"RequireAndVerifyClientCert", ClientAuth::kRequireAndVerifyClientCert},
}};

constexpr std::array<std::pair<std::string_view, TlsVersion>, 4> kTlsVersionNames = {{
    {"TLS10", TlsVersion::kTls10},
    {"TLS11", TlsVersion::kTls11},
    {"TLS12", TlsVersion::kTls12},
    {"TLS13", TlsVersion::kTls13},
}};

// Go's tls.CurveID names -> OpenSSL group names.
constexpr std::array<std::pair<std::string_view, std::string_view>, 4> kCurveNames = {{
    {"CurveP256", "P-256"},
    {"CurveP384", "P-384"},
    {"CurveP521", "P-521"},
    {"X25519", "X25519"},
}};

// The headers exporter-toolkit lets a config set, with their allowed values (none: any).
struct AllowedHeader {
  std::string_view name;
  std::vector<std::string_view> values;
};
const std::vector<AllowedHeader>& AllowedHeaders() {
  static const std::vector<AllowedHeader> headers = {
      {"Strict-Transport-Security", {}},
      {"X-Content-Type-Options", {"nosniff"}},
      {"X-Frame-Options", {"deny", "sameorigin"}},
      {"X-XSS-Protection", {}},
      {"Content-Security-Policy", {}},
  };
  return headers;
}

// Thrown inside the parser only, turned into WebConfigResult::error at its boundary.
struct ConfigError {
  std::string message;
};

[[noreturn]] void Fail(std::string message) { throw ConfigError{std::move(message)}; }

std::string Quoted(std::string_view text) { return "\"" + std::string(text) + "\""; }

template <size_t N, typename T>
std::string Choices(const std::array<std::pair<std::string_view, T>, N>& table) {
  std::string out;
  for (const auto& [name, value] : table) out += (out.empty() ? "" : ", ") + std::string(name);
  return out;
}

std::string Scalar(const YAML::Node& node, const std::string& field) {
  if (node.IsNull()) return "";
  if (!node.IsScalar()) Fail(field + ": want a string");
  return node.Scalar();
}

bool Bool(const YAML::Node& node, const std::string& field) {
  bool value = false;
  if (!node.IsScalar() || !YAML::convert<bool>::decode(node, value)) {
    Fail(field + ": want true or false");
  }
  return value;
}

std::vector<std::string> StringList(const YAML::Node& node, const std::string& field) {
  std::vector<std::string> out;
  if (node.IsNull()) return out;
  if (!node.IsSequence()) Fail(field + ": want a list of strings");
  for (size_t i = 0; i < node.size(); ++i) {
    out.push_back(Scalar(node[i], field + "[" + std::to_string(i) + "]"));
  }
  return out;
}

// Calls visit(key, value) for each field of a mapping; rejects duplicates and, through
// visit returning false, unknown fields.
template <typename Visit>
void ForEachField(const YAML::Node& node, const std::string& where, Visit visit) {
  if (node.IsNull()) return;
  if (!node.IsMap()) Fail((where.empty() ? "top level" : where) + ": want a mapping");
  std::set<std::string> seen;
  for (auto it = node.begin(); it != node.end(); ++it) {
    if (!it->first.IsScalar())
      Fail((where.empty() ? "top level" : where) + ": keys must be strings");
    std::string key = it->first.Scalar();
    std::string field = where.empty() ? key : where + "." + key;
    if (!seen.insert(key).second) Fail(field + ": defined more than once");
    if (!visit(key, it->second, field)) {
      Fail("unknown field " + Quoted(key) + (where.empty() ? "" : " in " + where));
    }
  }
}

template <size_t N, typename T>
T Lookup(const std::array<std::pair<std::string_view, T>, N>& table, const std::string& value,
         const std::string& field) {
  for (const auto& [name, result] : table) {
    if (name == value) return result;
  }
  Fail(field + ": unknown value " + Quoted(value) + " (want one of " + Choices(table) + ")");
}

std::string Resolve(const std::string& dir, const std::string& file) {
  if (file.empty() || file.front() == '/') return file;
  return (std::filesystem::path(dir) / file).lexically_normal().string();
}

TlsServerConfig ParseTls(const YAML::Node& node, const std::string& dir, bool& present) {
  TlsServerConfig tls;
  std::string client_auth;
  ForEachField(node, "tls_server_config",
               [&](const std::string& key, const YAML::Node& value, const std::string& field) {
                 if (key == "cert_file") {
                   tls.cert_file = Resolve(dir, Scalar(value, field));
                 } else if (key == "key_file") {
                   tls.key_file = Resolve(dir, Scalar(value, field));
                 } else if (key == "client_ca_file") {
                   tls.client_ca_file = Resolve(dir, Scalar(value, field));
                 } else if (key == "client_auth_type") {
                   client_auth = Scalar(value, field);
                 } else if (key == "min_version") {
                   tls.min_version = Lookup(kTlsVersionNames, Scalar(value, field), field);
                 } else if (key == "max_version") {
                   tls.max_version = Lookup(kTlsVersionNames, Scalar(value, field), field);
                 } else if (key == "cipher_suites") {
                   tls.cipher_suites = StringList(value, field);
                 } else if (key == "curve_preferences") {
                   for (const std::string& curve : StringList(value, field)) {
                     tls.curve_preferences.emplace_back(Lookup(kCurveNames, curve, field));
                   }
                 } else if (key == "prefer_server_cipher_suites") {
                   tls.prefer_server_cipher_suites = Bool(value, field);
                 } else {
                   return false;
                 }
                 return true;
               });
  if (!client_auth.empty()) {
    tls.client_auth = Lookup(kClientAuthNames, client_auth, "tls_server_config.client_auth_type");
  }
  // As exporter-toolkit: TLS is on when any of these four is set.
  present = !tls.cert_file.empty() || !tls.key_file.empty() || !client_auth.empty() ||
            !tls.client_ca_file.empty();
  if (!present) return tls;
  if (tls.cert_file.empty()) Fail("tls_server_config.cert_file is missing");
  if (tls.key_file.empty()) Fail("tls_server_config.key_file is missing");
  bool verifies = tls.client_auth == ClientAuth::kVerifyClientCertIfGiven ||
                  tls.client_auth == ClientAuth::kRequireAndVerifyClientCert;
  if (!tls.client_ca_file.empty() && tls.client_auth == ClientAuth::kNoClientCert) {
    Fail(
        "tls_server_config.client_ca_file is set but client_auth_type is NoClientCert; set "
        "client_auth_type: RequireAndVerifyClientCert to check client certificates");
  }
  if (verifies && tls.client_ca_file.empty()) {
    Fail("tls_server_config.client_auth_type " + std::string(ClientAuthName(tls.client_auth)) +
         " needs client_ca_file, the CA that signs client certificates");
  }
  if (tls.min_version > tls.max_version) {
    Fail("tls_server_config.min_version " + std::string(TlsVersionName(tls.min_version)) +
         " is above max_version " + std::string(TlsVersionName(tls.max_version)));
  }
  return tls;
}

void ParseHeaders(const YAML::Node& node, WebConfig& config) {
  ForEachField(
      node, "http_server_config.headers",
      [&](const std::string& key, const YAML::Node& value, const std::string& field) {
        const AllowedHeader* allowed = nullptr;
        for (const auto& header : AllowedHeaders()) {
          if (header.name == key) allowed = &header;
        }
        if (!allowed) {
          Fail("http_server_config.headers: header " + Quoted(key) +
               " can not be configured (allowed: Strict-Transport-Security, "
               "X-Content-Type-Options, X-Frame-Options, X-XSS-Protection, "
               "Content-Security-Policy)");
        }
        std::string text = Scalar(value, field);
        // RFC 9110 field values: visible characters, spaces and tabs. A CR or LF would split the
        // response, a NUL cut it short in some clients.
        bool printable = std::all_of(text.begin(), text.end(), [](char c) {
          auto byte = static_cast<unsigned char>(c);
          return byte == '\t' || (byte >= 0x20 && byte != 0x7f);
        });
        if (!printable) Fail(field + ": must be one line of printable text");
        if (text.empty()) return true;  // "unset if blank"
        bool ok = allowed->values.empty();
        for (std::string_view choice : allowed->values) ok = ok || choice == text;
        if (!ok) {
          std::string choices;
          for (std::string_view choice : allowed->values) {
            choices += (choices.empty() ? "" : ", ") + std::string(choice);
          }
          Fail(field + ": invalid value " + Quoted(text) + " (want one of " + choices + ")");
        }
        config.headers.emplace_back(key, text);
        return true;
      });
}

WebConfig Parse(std::string_view text, const std::string& dir) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& err) {
    Fail("line " + std::to_string(err.mark.line + 1) + ", column " +
         std::to_string(err.mark.column + 1) + ": " + err.msg);
  }
  WebConfig config;
  ForEachField(root, "", [&](const std::string& key, const YAML::Node& value, const std::string&) {
    if (key == "tls_server_config") {
      bool present = false;
      TlsServerConfig tls = ParseTls(value, dir, present);
      if (present) config.tls = std::move(tls);
    } else if (key == "http_server_config") {
      ForEachField(
          value, "http_server_config",
          [&](const std::string& inner, const YAML::Node& setting, const std::string& field) {
            if (inner == "headers") {
              ParseHeaders(setting, config);
            } else if (inner == "http2") {
              Bool(setting, field);  // accepted for compatibility; we speak HTTP/1.1
            } else {
              return false;
            }
            return true;
          });
    } else if (key == "basic_auth_users") {
      ForEachField(value, "basic_auth_users",
                   [&](const std::string& user, const YAML::Node& hash, const std::string& field) {
                     std::string hashed = Scalar(hash, field);
                     if (user.empty()) Fail("basic_auth_users: empty user name");
                     if (user.find(':') != std::string::npos) {
                       Fail("basic_auth_users: user name " + Quoted(user) +
                            " contains ':', which basic auth cannot carry");
                     }
                     if (!IsBcryptHash(hashed)) {
                       Fail(field +
                            ": not a bcrypt hash (want $2y$ or $2b$ with cost 04-31, "
                            "as `htpasswd -nBC 10 \"\" | tr -d ':\\n'` prints)");
                     }
                     config.basic_auth_users.emplace_back(user, hashed);
                     return true;
                   });
    } else {
      return false;
    }
    return true;
  });
  return config;
}

}  // namespace

std::string_view ClientAuthName(ClientAuth auth) {
  for (const auto& [name, value] : kClientAuthNames) {
    if (value == auth) return name;
  }
  return "?";
}

std::string_view TlsVersionName(TlsVersion version) {
  for (const auto& [name, value] : kTlsVersionNames) {
    if (value == version) return name;
  }
  return "?";
}

std::vector<std::string> WebConfig::ReferencedFiles() const {
  std::vector<std::string> files;
  if (tls) {
    files.push_back(tls->cert_file);
    files.push_back(tls->key_file);
    if (!tls->client_ca_file.empty()) files.push_back(tls->client_ca_file);
  }
  return files;
}

const std::string* WebConfig::FindUserHash(std::string_view user) const {
  for (const auto& [name, hash] : basic_auth_users) {
    if (name == user) return &hash;
  }
  return nullptr;
}

bool IsBcryptHash(std::string_view hash) {
  // $2y$10$ + 22 characters of salt + 31 of hash.
  if (hash.size() != 60 || hash[0] != '$' || hash[1] != '2' || hash[3] != '$' || hash[6] != '$') {
    return false;
  }
  if (hash[2] != 'a' && hash[2] != 'b' && hash[2] != 'y') return false;
  if (hash[4] < '0' || hash[4] > '9' || hash[5] < '0' || hash[5] > '9') return false;
  int cost = (hash[4] - '0') * 10 + (hash[5] - '0');
  if (cost < 4 || cost > 31) return false;
  for (char c : hash.substr(7)) {
    bool base64 = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '/';
    if (!base64) return false;
  }
  return true;
}

WebConfigResult ParseWebConfig(std::string_view text, const std::string& path) {
  WebConfigResult result;
  try {
    result.config = Parse(text, std::filesystem::path(path).parent_path().string());
  } catch (const ConfigError& err) {
    result.error = "web config " + path + ": " + err.message;
  } catch (const std::exception& err) {  // yaml-cpp's conversions; should not happen
    result.error = "web config " + path + ": " + err.what();
  }
  return result;
}

WebConfigResult LoadWebConfig(const std::string& path) {
  std::string text, error;
  if (!ReadFileBounded(path, text, kMaxWebConfigBytes, error)) {
    WebConfigResult result;
    result.error = "web config " + error;
    return result;
  }
  return ParseWebConfig(text, path);
}

}  // namespace kvip
