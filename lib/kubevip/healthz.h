#pragma once
// The VIP's /healthz check, one definition for the daemon's background probe
// (vip_healthz collector) and the one-shot modes' check: the URL, the request, and what
// counts as an answer ("ok", trailing whitespace ignored, within a 64 KiB body).

#include <chrono>
#include <string>

#include "http/http_client.h"

namespace kvip::kubevip {

// https://<vip>:<port>/healthz, an IPv6 VIP in brackets.
std::string HealthzUrl(const std::string& vip, int port);

// The GET: the kubeconfig's CA and client certificate (`tls`), but no bearer token:
// /healthz is open to anonymous users, and a rejected token (401) would make a healthy VIP
// look down.
HttpRequest HealthzRequest(const std::string& url, std::chrono::milliseconds timeout,
                           TlsOptions tls, bool insecure);

struct HealthzAnswer {
  bool up = false;
  std::string detail;  // "<url> answered ok", or why not (naming the URL)
};
HealthzAnswer JudgeHealthz(const std::string& url, const HttpResponse& response);

}  // namespace kvip::kubevip
