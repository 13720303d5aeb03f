#include "kubevip/healthz.h"

namespace kvip::kubevip {
namespace {

constexpr size_t kMaxHealthzBody = 64 * 1024;

std::string Trimmed(const std::string& text) {
  size_t end = text.find_last_not_of(" \r\n");
  return end == std::string::npos ? "" : text.substr(0, end + 1);
}

}  // namespace

std::string HealthzUrl(const std::string& vip, int port) {
  bool ipv6 = vip.find(':') != std::string::npos;
  return "https://" + (ipv6 ? "[" + vip + "]" : vip) + ":" + std::to_string(port) + "/healthz";
}

HttpRequest HealthzRequest(const std::string& url, std::chrono::milliseconds timeout,
                           TlsOptions tls, bool insecure) {
  HttpRequest request;
  request.url = url;
  request.timeout = timeout;
  request.max_body_bytes = kMaxHealthzBody;
  request.tls = std::move(tls);
  if (insecure) request.tls.insecure_skip_verify = true;
  return request;
}

HealthzAnswer JudgeHealthz(const std::string& url, const HttpResponse& response) {
  // lib/http's transport errors already begin with the URL.
  if (!response.ok) return {false, response.error};
  std::string body = Trimmed(response.body);
  if (response.status != 200 || body != "ok")
    return {false, url + ": HTTP " + std::to_string(response.status) + " " + body.substr(0, 200)};
  return {true, url + " answered ok"};
}

}  // namespace kvip::kubevip
