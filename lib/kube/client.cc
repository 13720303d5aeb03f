#include "kube/client.h"

#include <rapidjson/document.h>

#include <fstream>
#include <sstream>
#include <vector>

#include "common/read_file.h"

namespace kvip::kube {
namespace {

// A bound service-account token is ~1 KiB.
constexpr size_t kMaxTokenFileBytes = 64 << 10;

std::string TrimRight(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) {
    text.pop_back();
  }
  return text;
}

// "leases \"x\" in namespace kube-system" from an API path, for messages.
std::string DescribeResource(const std::string& path) {
  std::string bare = path.substr(0, path.find('?'));
  std::vector<std::string> parts;
  std::istringstream stream(bare);
  for (std::string part; std::getline(stream, part, '/');) {
    if (!part.empty()) parts.push_back(part);
  }
  // /api/v1/... or /apis/<group>/<version>/...
  size_t at = !parts.empty() && parts[0] == "api" ? 2 : 3;
  std::string ns;
  if (at + 1 < parts.size() && parts[at] == "namespaces") {
    ns = parts[at + 1];
    at += 2;
  }
  if (at >= parts.size()) return ns.empty() ? bare : "namespace " + ns;
  std::string text = parts[at];
  if (at + 1 < parts.size()) text += " \"" + parts[at + 1] + "\"";
  if (at + 2 < parts.size()) text += " (" + parts[at + 2] + ")";
  if (!ns.empty()) text += " in namespace " + ns;
  return text;
}

std::string CaDescription(const ClientConfig& config) {
  if (!config.tls.ca_pem.empty()) return "the certificate-authority-data of " + config.source;
  if (!config.tls.ca_file.empty()) return "CA " + config.tls.ca_file;
  return "the system CA store";
}

bool Contains(const std::string& text, const char* needle) {
  return text.find(needle) != std::string::npos;
}

}  // namespace

std::string StatusMessage(const std::string& body) {
  rapidjson::Document doc;
  doc.Parse(body.data(), body.size());
  if (doc.HasParseError() || !doc.IsObject()) return "";
  auto message = doc.FindMember("message");
  if (message == doc.MemberEnd() || !message->value.IsString()) return "";
  return message->value.GetString();
}

Client::Client(ClientConfig config) : config_(std::move(config)) {}

std::string Client::BearerToken() {
  if (config_.token_file.empty()) return config_.token;
  std::lock_guard<std::mutex> lock(token_mutex_);
  // A rotated token (the kubelet's ..data symlink swap) has a new stamp.
  std::optional<FileStamp> stamp = StampOf(config_.token_file);
  if (!stamp) return cached_token_;
  if (stamp == token_stamp_) return cached_token_;
  std::string content, error;
  // On failure keep the last good token; the request will say 401.
  if (!ReadFileBounded(config_.token_file, content, kMaxTokenFileBytes, error)) {
    return cached_token_;
  }
  std::string token = TrimRight(content);
  if (!token.empty()) {
    cached_token_ = std::move(token);
    token_stamp_ = *stamp;
  }
  return cached_token_;
}

HttpRequest Client::Prepare(const std::string& method, const std::string& path,
                            const std::string& body, std::chrono::milliseconds timeout,
                            const std::string& content_type) {
  HttpRequest request;
  request.url = config_.server + path;
  request.method = method;
  request.body = body;
  request.timeout = timeout;
  request.tls = config_.tls;
  request.bearer_token = BearerToken();
  request.headers.push_back("Accept: application/json");
  if (!body.empty()) {
    std::string type = !content_type.empty() ? content_type
                       : method == "PATCH"   ? "application/merge-patch+json"
                                             : "application/json";
    request.headers.push_back("Content-Type: " + type);
  }
  return request;
}

HttpResponse Client::Request(const std::string& method, const std::string& path,
                             const std::string& body, std::chrono::milliseconds timeout,
                             const std::string& content_type) {
  return HttpFetch(Prepare(method, path, body, timeout, content_type));
}

std::string Client::DescribeFailure(const std::string& verb, const std::string& path,
                                    const HttpResponse& r) const {
  const std::string resource = DescribeResource(path);
  const std::string url = config_.server + path;
  if (!r.ok) {
    const std::string& e = r.error;
    if (Contains(e, "client certificate") || Contains(e, "private key") || Contains(e, "SSLCERT") ||
        Contains(e, "unable to set private")) {
      return "the client certificate or key of user \"" + config_.user + "\" (" + config_.source +
             ") could not be used for " + url + ": " + e;
    }
    if (Contains(e, "certificate") || Contains(e, "SSL") || Contains(e, "TLS")) {
      return "TLS with the API server failed: its certificate does not verify against " +
             CaDescription(config_) + " (" + config_.source + "), or the handshake failed: " + e;
    }
    return "cannot reach the API server at " + config_.server + " to " + verb + " " + resource +
           ": " + e;
  }
  std::string detail = StatusMessage(r.body);
  std::string suffix = detail.empty() ? "" : ": " + detail;
  switch (r.status) {
    case 401: {
      std::string why = !config_.token_file.empty()
                            ? "the token in " + config_.token_file + " is expired or invalid"
                        : !config_.token.empty() ? "its token is expired or invalid"
                        : config_.HasClientCertificate()
                            ? "its client certificate is not trusted or expired"
                            : "it sent no credentials";
      return "API server " + config_.server + " rejected the credentials of user \"" +
             config_.user + "\" from " + config_.source + " (401 Unauthorized) to " + verb + " " +
             resource + ": " + why + suffix;
    }
    case 403:
      return "user \"" + config_.user + "\" (" + config_.source + ") may not " + verb + " " +
             resource + " (403 Forbidden)" + suffix;
    case 404:
      return verb + " " + resource + ": not found (404)" + suffix;
    case 409:
      return verb + " " + resource + ": conflict (409), the object changed meanwhile" + suffix;
    case 410:
      return verb + " " + resource + ": resourceVersion too old (410 Gone)" + suffix;
    case 422:
      return verb + " " + resource + ": the API server rejected the object (422 Invalid)" + suffix;
    case 429:
      return verb + " " + resource + ": the API server is throttling (429 Too Many Requests)" +
             suffix;
    default:
      break;
  }
  if (r.status >= 500) {
    return "API server " + config_.server + " failed to " + verb + " " + resource + " (HTTP " +
           std::to_string(r.status) + ")" + suffix;
  }
  return verb + " " + resource + ": unexpected HTTP " + std::to_string(r.status) + " from " + url +
         suffix;
}

}  // namespace kvip::kube
