#include "web/request_handler.h"

#include <prometheus/text_serializer.h>

#include <boost/beast/http/field.hpp>
#include <utility>
#include <vector>

#include "web/config_reload.h"
#include "web/gzip.h"
#include "web/web_server.h"
#include "web/web_stats.h"
#include "web/worker_offload.h"

namespace kvip::detail {
namespace {

namespace http = boost::beast::http;

constexpr std::string_view kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";
constexpr std::string_view kTextContentType = "text/plain; charset=utf-8";

// Boost 1.74's Beast speaks boost::string_view.
boost::beast::string_view BeastView(std::string_view text) { return {text.data(), text.size()}; }

std::string LandingPage(const WebOptions& options) {
  return "<!DOCTYPE html>\n<html><head><title>kvip-exporter</title></head><body>\n"
         "<h1>kvip-exporter</h1>\n<p>Prometheus exporter for kube-vip: leader, VIP binding, "
         "lease health. Version " +
         options.version +
         ".</p>\n<ul>\n"
         "<li><a href=\"" +
         options.telemetry_path + "\">" + options.telemetry_path +
         "</a>: metrics</li>\n<li><a href=\"/healthz\">/healthz</a>: liveness</li>\n"
         "</ul>\n</body></html>\n";
}

}  // namespace

RequestHandler::RequestHandler(const WebOptions& options,
                               std::shared_ptr<prometheus::Collectable> metrics,
                               std::shared_ptr<WebStats> stats, const ConfigReload& config,
                               WorkerOffload& offload)
    : options_(options),
      metrics_(std::move(metrics)),
      stats_(std::move(stats)),
      config_(config),
      offload_(offload),
      landing_page_(LandingPage(options)) {}

Response RequestHandler::MakeResponse(const Request& request, const ServingConfig& config,
                                      http::status status, std::string_view content_type,
                                      std::string body) const {
  Response response(status, request.version);
  response.set(http::field::content_type, BeastView(content_type));
  for (const auto& [name, value] : config.web.headers) response.set(name, value);
  response.keep_alive(request.keep_alive);
  response.body() = std::move(body);
  response.prepare_payload();
  if (request.method == http::verb::head) {
    size_t length = response.body().size();
    response.body().clear();
    response.content_length(length);
  }
  return response;
}

Response RequestHandler::ErrorResponse(http::status status, std::string_view text) const {
  Request request;
  request.keep_alive = false;
  return MakeResponse(request, *config_.current(), status, kTextContentType, std::string(text));
}

void RequestHandler::Respond(Request request, Reply reply) {
  std::shared_ptr<const ServingConfig> config = config_.current();
  if (config->web.basic_auth_users.empty())
    return Route(std::move(request), config, std::move(reply));

  auto unauthorized = [this, config](const Request& req) {
    Response response =
        MakeResponse(req, *config, http::status::unauthorized, kTextContentType, "Unauthorized\n");
    response.set(http::field::www_authenticate, "Basic");
    return response;
  };
  auto credentials = ParseBasicAuthorization(request.authorization);
  if (!credentials) return reply(unauthorized(request));
  const std::string* user_hash = config->web.FindUserHash(credentials->user);
  const std::string hash = user_hash ? *user_hash : DecoyBcryptHash();
  if (user_hash && verified_.Contains(credentials->user, hash, credentials->password)) {
    return Route(std::move(request), config, std::move(reply));
  }
  auto check = [password = credentials->password, hash] {
    WorkResult result;
    result.ok = BcryptMatches(password, hash);
    return result;
  };
  auto then = [this, request, reply, config, credentials = *credentials, hash,
               known = user_hash != nullptr, unauthorized](WorkResult result) mutable {
    if (!result.ok || !known) return reply(unauthorized(request));
    verified_.Add(credentials.user, hash, credentials.password);
    Route(std::move(request), config, std::move(reply));
  };
  if (!offload_.Offload(WorkerOffload::Work::kBcrypt, std::move(check), std::move(then))) {
    reply(MakeResponse(request, *config, http::status::service_unavailable, kTextContentType,
                       "too many password checks in flight; retry\n"));
  }
}

void RequestHandler::Route(Request request, std::shared_ptr<const ServingConfig> config,
                           Reply reply) {
  const bool metrics = request.path == options_.telemetry_path;
  if (!metrics && request.path != "/" && request.path != "/healthz") {
    return reply(MakeResponse(request, *config, http::status::not_found, kTextContentType,
                              "404 page not found\n"));
  }
  if (request.method != http::verb::get && request.method != http::verb::head) {
    Response response = MakeResponse(request, *config, http::status::method_not_allowed,
                                     kTextContentType, "method not allowed\n");
    response.set(http::field::allow, "GET, HEAD");
    return reply(std::move(response));
  }
  if (request.path == "/healthz") {
    return reply(MakeResponse(request, *config, http::status::ok, kTextContentType, "ok\n"));
  }
  if (!metrics) {
    return reply(MakeResponse(request, *config, http::status::ok, "text/html; charset=utf-8",
                              landing_page_));
  }
  // Collect (which may wait for a collector's deadline), serialize and compress on a worker.
  auto scrape = [metrics = metrics_, stats = stats_, gzip = request.accepts_gzip] {
    WorkResult result;
    std::vector<prometheus::MetricFamily> families = metrics->Collect();
    stats->AppendFamilies(families);
    result.body = prometheus::TextSerializer().Serialize(families);
    if (gzip) {
      if (auto compressed = Gzip(result.body)) {
        result.body = std::move(*compressed);
        result.gzipped = true;
      }
    }
    result.ok = true;
    return result;
  };
  auto then = [this, request, config, reply](WorkResult result) {
    if (!result.ok) {
      return reply(MakeResponse(request, *config, http::status::internal_server_error,
                                kTextContentType, "collecting metrics failed\n"));
    }
    Response response = MakeResponse(request, *config, http::status::ok, kMetricsContentType,
                                     std::move(result.body));
    if (result.gzipped) response.set(http::field::content_encoding, "gzip");
    response.set(http::field::vary, "Accept-Encoding");
    reply(std::move(response));
  };
  if (!offload_.Offload(WorkerOffload::Work::kScrape, std::move(scrape), std::move(then))) {
    reply(MakeResponse(request, *config, http::status::service_unavailable, kTextContentType,
                       "too many concurrent scrapes; retry\n"));
  }
}

}  // namespace kvip::detail
