#include "kube/config.h"

#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <vector>

#include "common/base64.h"
#include "common/logging.h"
#include "common/read_file.h"

namespace kvip::kube {
namespace {

namespace fs = std::filesystem;

// Bounds for files a kubeconfig names: kubeconfigs and CA bundles (Debian's whole
// ca-certificates bundle is ~200 KiB), and a bound service-account token (~1 KiB).
constexpr size_t kMaxKubeconfigFileBytes = 4 << 20;
constexpr size_t kMaxTokenBytes = 64 << 10;

std::string Trim(std::string text) {
  const char* space = " \t\r\n";
  size_t begin = text.find_first_not_of(space);
  if (begin == std::string::npos) return "";
  return text.substr(begin, text.find_last_not_of(space) - begin + 1);
}

std::vector<std::string> SplitList(const std::string& text, char separator) {
  std::vector<std::string> parts;
  std::string part;
  std::istringstream stream(text);
  while (std::getline(stream, part, separator)) {
    if (!part.empty()) parts.push_back(part);
  }
  return parts;
}

// A named entry (cluster, user or context) with the file that defined it, so relative paths
// resolve against that file's directory and errors name it.
struct Named {
  YAML::Node body;
  std::string file;
};

// The merged view of one or more kubeconfig files: first definition wins, as in kubectl.
struct Merged {
  std::map<std::string, Named> clusters, users, contexts;
  std::string current_context;
  std::string current_context_file;
  std::vector<std::string> files;
};

std::string Names(const std::map<std::string, Named>& entries) {
  std::string names;
  for (const auto& [name, _] : entries) names += (names.empty() ? "" : ", ") + name;
  return names.empty() ? "none" : names;
}

// The `kind` ("cluster", "user") entry a context names, or null with `error` saying which
// are defined.
const std::pair<const std::string, Named>* NamedEntry(const std::map<std::string, Named>& entries,
                                                      const std::string& kind,
                                                      const std::string& name,
                                                      const std::string& where,
                                                      std::string& error) {
  auto it = entries.find(name);
  if (it != entries.end()) return &*it;
  error = where + " names " + kind + " \"" + name + "\", which is not defined (" + kind +
          "s: " + Names(entries) + ")";
  return nullptr;
}

std::string FilesText(const Merged& merged) {
  std::string text;
  for (const auto& f : merged.files) text += (text.empty() ? "" : ":") + f;
  return text;
}

bool AddEntries(const YAML::Node& root, const char* key, const char* body_key,
                const std::string& file, std::map<std::string, Named>& into, std::string& error) {
  YAML::Node list = root[key];
  if (!list || list.IsNull()) return true;
  if (!list.IsSequence()) {
    error = "kubeconfig " + file + ": '" + key + "' is not a list";
    return false;
  }
  for (const auto& item : list) {
    if (!item.IsMap() || !item["name"] || !item["name"].IsScalar()) {
      error = "kubeconfig " + file + ": an entry of '" + key + "' has no name";
      return false;
    }
    std::string name = item["name"].as<std::string>();
    YAML::Node body = item[body_key];
    if (!body || !body.IsMap()) {
      error = "kubeconfig " + file + ": " + key + " entry \"" + name + "\" has no '" + body_key +
              "' map";
      return false;
    }
    into.try_emplace(name, Named{body, file});
  }
  return true;
}

bool MergeFile(const std::string& file, Merged& merged, std::string& error) {
  std::string content;
  if (!ReadFileBounded(file, content, kMaxKubeconfigFileBytes, error)) {
    error = "kubeconfig " + error;
    return false;
  }
  YAML::Node root;
  try {
    root = YAML::Load(content);
  } catch (const YAML::Exception& err) {
    error = "kubeconfig " + file + ": not valid YAML: line " + std::to_string(err.mark.line + 1) +
            ", column " + std::to_string(err.mark.column + 1) + ": " + err.msg;
    return false;
  }
  if (!root.IsMap()) {
    error = "kubeconfig " + file +
            ": not a kubeconfig (expected a YAML map with clusters, "
            "users and contexts)";
    return false;
  }
  try {
    if (!AddEntries(root, "clusters", "cluster", file, merged.clusters, error) ||
        !AddEntries(root, "users", "user", file, merged.users, error) ||
        !AddEntries(root, "contexts", "context", file, merged.contexts, error)) {
      return false;
    }
    if (merged.current_context.empty() && root["current-context"] &&
        root["current-context"].IsScalar()) {
      merged.current_context = root["current-context"].as<std::string>();
      merged.current_context_file = file;
    }
  } catch (const YAML::Exception& err) {
    error = "kubeconfig " + file + ": " + err.msg;
    return false;
  }
  merged.files.push_back(file);
  return true;
}

// Reads a string field; false (with error) when present but not a scalar.
bool GetString(const YAML::Node& map, const char* key, std::string& value, const std::string& where,
               std::string& error) {
  YAML::Node node = map[key];
  if (!node || node.IsNull()) return true;
  if (!node.IsScalar()) {
    error = where + ": '" + key + "' is not a string";
    return false;
  }
  value = node.as<std::string>();
  return true;
}

std::string Resolve(const std::string& path, const std::string& kubeconfig_file) {
  if (path.empty() || fs::path(path).is_absolute()) return path;
  return (fs::path(kubeconfig_file).parent_path() / path).lexically_normal().string();
}

// A *-data field: base64 PEM. Checks it decodes and looks like PEM, so a mangled paste is
// reported at start-up rather than as a vague TLS failure later.
bool DecodePemData(const std::string& encoded, const char* key, std::string& pem,
                   const std::string& where, std::string& error) {
  auto decoded = DecodeBase64(encoded);
  if (!decoded) {
    error = where + ": " + key + " is not valid base64";
    return false;
  }
  if (decoded->find("-----BEGIN ") == std::string::npos) {
    error = where + ": " + key + " does not contain PEM data (no -----BEGIN line)";
    return false;
  }
  pem = std::move(*decoded);
  return true;
}

bool CheckReadable(const std::string& path, const char* key, const std::string& where,
                   std::string& error) {
  std::string content, read_error;
  if (!ReadFileBounded(path, content, kMaxKubeconfigFileBytes, read_error)) {
    error = where + ": " + key + " " + read_error;
    return false;
  }
  return true;
}

// A PEM given inline (`<key>-data`, base64: into `pem`) or as a file (`<key>`, relative to
// the kubeconfig: into `path`, which must be readable); neither is fine.
bool LoadPem(const std::string& data, const std::string& file, const std::string& key,
             const std::string& kubeconfig_file, std::string& pem, std::string& path,
             const std::string& where, std::string& error) {
  if (!data.empty()) return DecodePemData(data, (key + "-data").c_str(), pem, where, error);
  if (file.empty()) return true;
  path = Resolve(file, kubeconfig_file);
  return CheckReadable(path, key.c_str(), where, error);
}

bool ApplyCluster(const Named& cluster, const std::string& name, ClientConfig& config,
                  std::string& error) {
  std::string where = "kubeconfig " + cluster.file + ": cluster \"" + name + "\"";
  std::string ca_file, ca_data;
  if (!GetString(cluster.body, "server", config.server, where, error) ||
      !GetString(cluster.body, "certificate-authority", ca_file, where, error) ||
      !GetString(cluster.body, "certificate-authority-data", ca_data, where, error)) {
    return false;
  }
  if (config.server.empty()) {
    error = where + " has no server";
    return false;
  }
  if (config.server.rfind("https://", 0) != 0 && config.server.rfind("http://", 0) != 0) {
    error = where + ": server \"" + config.server + "\" is not an http(s):// URL";
    return false;
  }
  while (config.server.size() > 1 && config.server.back() == '/') config.server.pop_back();
  if (!LoadPem(ca_data, ca_file, "certificate-authority", cluster.file, config.tls.ca_pem,
               config.tls.ca_file, where, error)) {
    return false;
  }
  if (YAML::Node insecure = cluster.body["insecure-skip-tls-verify"];
      insecure && insecure.IsScalar()) {
    bool skip = false;
    if (!YAML::convert<bool>::decode(insecure, skip)) {
      error = where + ": insecure-skip-tls-verify is not true or false";
      return false;
    }
    if (skip) {
      config.tls.insecure_skip_verify = true;
      LogWarn("kubeconfig disables TLS verification of the API server (insecure-skip-tls-verify)",
              {{"kubeconfig", cluster.file}, {"cluster", name}, {"server", config.server}});
    }
  }
  return true;
}

bool ApplyUser(const Named& user, const std::string& name, ClientConfig& config,
               std::string& error) {
  std::string where = "kubeconfig " + user.file + ": user \"" + name + "\"";
  for (const char* unsupported : {"exec", "auth-provider", "username", "password"}) {
    if (user.body[unsupported]) {
      error = where + " authenticates with '" + unsupported +
              "', which kvip-exporter does not support; use a client certificate, token or "
              "tokenFile";
      return false;
    }
  }
  std::string cert_file, cert_data, key_file, key_data, token_file;
  if (!GetString(user.body, "client-certificate", cert_file, where, error) ||
      !GetString(user.body, "client-certificate-data", cert_data, where, error) ||
      !GetString(user.body, "client-key", key_file, where, error) ||
      !GetString(user.body, "client-key-data", key_data, where, error) ||
      !GetString(user.body, "token", config.token, where, error) ||
      !GetString(user.body, "tokenFile", token_file, where, error)) {
    return false;
  }
  if (!LoadPem(cert_data, cert_file, "client-certificate", user.file, config.tls.client_cert_pem,
               config.tls.client_cert_file, where, error) ||
      !LoadPem(key_data, key_file, "client-key", user.file, config.tls.client_key_pem,
               config.tls.client_key_file, where, error)) {
    return false;
  }
  bool has_cert = config.HasClientCertificate();
  bool has_key = !config.tls.client_key_file.empty() || !config.tls.client_key_pem.empty();
  if (has_cert != has_key) {
    error = where + (has_cert ? " has a client certificate but no client-key"
                              : " has a client-key but no client certificate");
    return false;
  }
  if (!token_file.empty()) {
    config.token_file = Resolve(token_file, user.file);
    if (!CheckReadable(config.token_file, "tokenFile", where, error)) return false;
  }
  return true;
}

std::string LeafName(const std::string& service_account_subject) {
  // "system:serviceaccount:<ns>:<name>" -> "serviceaccount:<ns>/<name>"
  const std::string prefix = "system:serviceaccount:";
  if (service_account_subject.rfind(prefix, 0) != 0) return "";
  std::string rest = service_account_subject.substr(prefix.size());
  size_t colon = rest.find(':');
  if (colon == std::string::npos) return "";
  return "serviceaccount:" + rest.substr(0, colon) + "/" + rest.substr(colon + 1);
}

// The service account named in a JWT's payload ("sub"), without verifying it: only for
// error messages.
std::string ServiceAccountFromToken(const std::string& token) {
  size_t first = token.find('.');
  size_t second = token.find('.', first + 1);
  if (first == std::string::npos || second == std::string::npos) return "";
  auto payload = DecodeBase64(token.substr(first + 1, second - first - 1));
  if (!payload) return "";
  const std::string key = "\"sub\":\"";
  size_t at = payload->find(key);
  if (at == std::string::npos) return "";
  size_t end = payload->find('"', at + key.size());
  if (end == std::string::npos) return "";
  return LeafName(payload->substr(at + key.size(), end - at - key.size()));
}

}  // namespace

std::optional<ClientConfig> LoadKubeconfig(const std::string& paths, std::string& error) {
  std::vector<std::string> files = SplitList(paths, ':');
  if (files.empty()) {
    error = "kubeconfig: no file given";
    return std::nullopt;
  }
  Merged merged;
  for (const auto& file : files) {
    // In a list, as in kubectl, a missing file is skipped; a single named file must exist.
    if (files.size() > 1 && !fs::exists(file)) continue;
    if (!MergeFile(file, merged, error)) return std::nullopt;
  }
  if (merged.files.empty()) {
    error = "kubeconfig " + paths + ": none of these files exist";
    return std::nullopt;
  }
  const std::string files_text = FilesText(merged);
  if (merged.current_context.empty()) {
    error = "kubeconfig " + files_text +
            ": no current-context set (contexts: " + Names(merged.contexts) + ")";
    return std::nullopt;
  }
  auto context = merged.contexts.find(merged.current_context);
  if (context == merged.contexts.end()) {
    error = "kubeconfig " + merged.current_context_file + ": current-context \"" +
            merged.current_context + "\" is not among its contexts (" + Names(merged.contexts) +
            ")";
    return std::nullopt;
  }
  ClientConfig config;
  config.source = files_text;
  config.context = merged.current_context;
  std::string where = "kubeconfig " + context->second.file + ": context \"" + context->first + "\"";
  std::string cluster_name, user_name;
  if (!GetString(context->second.body, "cluster", cluster_name, where, error) ||
      !GetString(context->second.body, "user", user_name, where, error) ||
      !GetString(context->second.body, "namespace", config.default_namespace, where, error)) {
    return std::nullopt;
  }
  const auto* cluster = NamedEntry(merged.clusters, "cluster", cluster_name, where, error);
  if (!cluster || !ApplyCluster(cluster->second, cluster->first, config, error))
    return std::nullopt;
  if (!user_name.empty()) {
    const auto* user = NamedEntry(merged.users, "user", user_name, where, error);
    if (!user || !ApplyUser(user->second, user->first, config, error)) return std::nullopt;
  }
  config.user = user_name.empty() ? "(anonymous)" : user_name;
  return config;
}

InClusterEnvironment InClusterEnvironmentFromProcess() {
  InClusterEnvironment env;
  if (const char* host = std::getenv("KUBERNETES_SERVICE_HOST")) env.service_host = host;
  if (const char* port = std::getenv("KUBERNETES_SERVICE_PORT")) env.service_port = port;
  return env;
}

std::optional<ClientConfig> LoadInClusterConfig(const InClusterEnvironment& env,
                                                std::string& error) {
  if (env.service_host.empty() || env.service_port.empty()) {
    error =
        "in-cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set "
        "(not running in a pod)";
    return std::nullopt;
  }
  ClientConfig config;
  config.source = "in-cluster";
  bool ipv6 = env.service_host.find(':') != std::string::npos;
  config.server = "https://" + (ipv6 ? "[" + env.service_host + "]" : env.service_host) + ":" +
                  env.service_port;
  config.token_file = env.secrets_dir + "/token";
  config.tls.ca_file = env.secrets_dir + "/ca.crt";
  std::string token, read_error;
  if (!ReadFileBounded(config.token_file, token, kMaxTokenBytes, read_error)) {
    error = "in-cluster: service-account token " + read_error;
    return std::nullopt;
  }
  if (Trim(token).empty()) {
    error = "in-cluster: service-account token " + config.token_file + " is empty";
    return std::nullopt;
  }
  std::string ca;
  if (!ReadFileBounded(config.tls.ca_file, ca, kMaxKubeconfigFileBytes, read_error)) {
    error = "in-cluster: service-account CA " + read_error;
    return std::nullopt;
  }
  std::string ns;
  if (ReadFileBounded(env.secrets_dir + "/namespace", ns, kMaxTokenBytes, read_error)) {
    config.default_namespace = Trim(ns);
  }
  config.user = ServiceAccountFromToken(Trim(token));
  if (config.user.empty()) {
    config.user =
        "serviceaccount:" + (config.default_namespace.empty() ? "?" : config.default_namespace) +
        "/?";
  }
  return config;
}

std::optional<ClientConfig> LoadClientConfig(const std::string& kubeconfig_flag,
                                             std::string& error) {
  if (!kubeconfig_flag.empty()) return LoadKubeconfig(kubeconfig_flag, error);
  if (const char* env = std::getenv("KUBECONFIG"); env && *env) {
    auto config = LoadKubeconfig(env, error);
    if (!config) error = "$KUBECONFIG: " + error;
    return config;
  }
  auto config = LoadInClusterConfig(InClusterEnvironmentFromProcess(), error);
  if (!config) {
    error = "no Kubernetes credentials: --kubeconfig and $KUBECONFIG are not set, and " + error;
  }
  return config;
}

}  // namespace kvip::kube
