#include "web/web_server.h"

#include <CivetServer.h>
#include <prometheus/text_serializer.h>

#include <functional>
#include <stdexcept>

#include "common/logging.h"
#include "web/listen_address.h"

namespace kvip {

class WebServer::Handler final : public CivetHandler {
 public:
  using Respond = std::function<void(mg_connection*)>;
  explicit Handler(Respond respond) : respond_(std::move(respond)) {}
  bool handleGet(CivetServer*, mg_connection* conn) override {
    respond_(conn);
    return true;
  }

 private:
  Respond respond_;
};

namespace {

void Send(mg_connection* conn, int status, const char* content_type, const std::string& body) {
  mg_printf(conn,
            "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n\r\n",
            status, mg_get_response_code_text(conn, status), content_type, body.size());
  mg_write(conn, body.data(), body.size());
}

std::string LandingPage(const WebOptions& options) {
  return "<!DOCTYPE html>\n<html><head><title>kvip-exporter</title></head><body>\n"
         "<h1>kvip-exporter</h1>\n<p>Prometheus exporter for kube-vip: leader, VIP binding, "
         "lease health. Version " + options.version + ".</p>\n<ul>\n"
         "<li><a href=\"" + options.telemetry_path + "\">" + options.telemetry_path +
         "</a>: metrics</li>\n<li><a href=\"/healthz\">/healthz</a>: liveness</li>\n"
         "</ul>\n</body></html>\n";
}

}  // namespace

WebServer::WebServer(const WebOptions& options, std::shared_ptr<prometheus::Collectable> metrics) {
  auto port = ToCivetListeningPort(options.listen_address);
  if (!port) {
    throw std::runtime_error("invalid --web.listen-address \"" + options.listen_address +
                             "\": want [host]:port");
  }
  std::vector<std::string> civet_options = {
      "listening_ports", *port,
      "num_threads", std::to_string(options.threads),
      "request_timeout_ms", std::to_string(options.request_timeout_ms),
      "enable_keep_alive", "yes",
      "keep_alive_timeout_ms", "30000",
  };
  std::string page = LandingPage(options);
  landing_ = std::make_unique<Handler>([page](mg_connection* conn) {
    const mg_request_info* info = mg_get_request_info(conn);
    if (std::string_view(info->local_uri) != "/") {
      Send(conn, 404, "text/plain; charset=utf-8", "404 page not found\n");
      return;
    }
    Send(conn, 200, "text/html; charset=utf-8", page);
  });
  health_ = std::make_unique<Handler>(
      [](mg_connection* conn) { Send(conn, 200, "text/plain; charset=utf-8", "ok\n"); });
  metrics_ = std::make_unique<Handler>([metrics](mg_connection* conn) {
    prometheus::TextSerializer serializer;
    std::string body = serializer.Serialize(metrics->Collect());
    Send(conn, 200, "text/plain; version=0.0.4; charset=utf-8", body);
  });

  try {
    server_ = std::make_unique<CivetServer>(civet_options);
  } catch (const std::exception& err) {
    throw std::runtime_error("cannot listen on " + options.listen_address + ": " + err.what() +
                             " (is the port already in use?)");
  }
  server_->addHandler("/", landing_.get());
  server_->addHandler("/healthz", health_.get());
  server_->addHandler(options.telemetry_path, metrics_.get());
}

WebServer::~WebServer() {
  if (server_) server_->close();
}

std::vector<int> WebServer::ListeningPorts() const { return server_->getListeningPorts(); }

}  // namespace kvip
