#pragma once
// From a parsed request to its response: basic auth (bcrypt on a worker, verified
// credentials cached), then the routes: the landing page at /, /healthz, and the metrics
// at the telemetry path, collected and serialized on a worker. Used on the I/O thread only.

#include <prometheus/collectable.h>

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/verb.hpp>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "web/basic_auth.h"

namespace kvip {
struct WebOptions;
}

namespace kvip::detail {

class ConfigReload;
class WebStats;
class WorkerOffload;
struct ServingConfig;

using Response = boost::beast::http::response<boost::beast::http::string_body>;
using Reply = std::function<void(Response)>;

// What a request handler needs from a parsed request.
struct Request {
  boost::beast::http::verb method = boost::beast::http::verb::get;
  std::string path;
  unsigned version = 11;
  bool keep_alive = true;
  std::string authorization;
  bool accepts_gzip = false;
};

class RequestHandler {
 public:
  RequestHandler(const WebOptions& options, std::shared_ptr<prometheus::Collectable> metrics,
                 std::shared_ptr<WebStats> stats, const ConfigReload& config,
                 WorkerOffload& offload);

  // Answers through `reply`, at once or later from the I/O thread.
  void Respond(Request request, Reply reply);
  // For a request that could not be read: plain text, closes the connection.
  Response ErrorResponse(boost::beast::http::status status, std::string_view text) const;

 private:
  void Route(Request request, std::shared_ptr<const ServingConfig> config, Reply reply);
  Response MakeResponse(const Request& request, const ServingConfig& config,
                        boost::beast::http::status status, std::string_view content_type,
                        std::string body) const;

  const WebOptions& options_;
  const std::shared_ptr<prometheus::Collectable> metrics_;
  const std::shared_ptr<WebStats> stats_;
  const ConfigReload& config_;
  WorkerOffload& offload_;
  const std::string landing_page_;
  VerifiedCredentials verified_;
};

}  // namespace kvip::detail
