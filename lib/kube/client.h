#pragma once
// A small synchronous Kubernetes API client: one bounded HTTPS request per call, with the
// credentials of a ClientConfig. Used for one-shot calls (upgrade, verify) and by the Lease
// watch to prepare its streaming requests.

#include <chrono>
#include <mutex>
#include <string>

#include "common/file_stamp.h"
#include "http/http_client.h"
#include "kube/config.h"

namespace kvip::kube {

// Thread safety: every member may be called from any thread concurrently.
class Client {  // synchronous, thread-safe, bounded requests
 public:
  explicit Client(ClientConfig config);

  // `path` is the absolute API path with query, e.g. "/api/v1/namespaces/kube-system/pods".
  // Sends Accept: application/json; with a body, Content-Type is `content_type`, or when
  // empty application/merge-patch+json for PATCH and application/json otherwise.
  kvip::HttpResponse Request(const std::string& method, const std::string& path,
                             const std::string& body = "",
                             std::chrono::milliseconds timeout = std::chrono::seconds(5),
                             const std::string& content_type = "");

  // The request Request() would send, for callers that run the transfer themselves
  // (the Lease watch streams it on the event loop).
  kvip::HttpRequest Prepare(const std::string& method, const std::string& path,
                            const std::string& body = "",
                            std::chrono::milliseconds timeout = std::chrono::seconds(5),
                            const std::string& content_type = "");

  // Turns a failed or non-2xx response into a specific message: 401/403 name the user and
  // verb, an unreachable server names the URL, a rejected certificate names the CA, and the
  // API server's own Status message is appended when there is one. `verb` is a Kubernetes
  // verb ("get", "list", "watch", "patch", ...).
  std::string DescribeFailure(const std::string& verb, const std::string& path,
                              const kvip::HttpResponse& r) const;

  // The bearer token sent now: token_file's content when set (re-read whenever the file
  // changes), else the static token; empty with client certificates only.
  std::string BearerToken();

  const ClientConfig& config() const { return config_; }

 private:
  ClientConfig config_;
  std::mutex token_mutex_;
  std::string cached_token_;  // guarded by token_mutex_
  FileStamp token_stamp_;     // guarded by token_mutex_
};

// The "message" of a Kubernetes Status object in `body`, or empty.
std::string StatusMessage(const std::string& body);

}  // namespace kvip::kube
