#pragma once
// Bounded, blocking HTTP(S) GET over libcurl: every call has a total deadline and a body
// size cap, so a stalled or hostile peer can cost a scrape at most `timeout`.

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace kvip {

struct TlsOptions {
  std::string ca_file;  // PEM bundle to verify the server; empty = system store
  std::string ca_pem;   // PEM data instead of a file (kubeconfig *-data fields)
  std::string client_cert_file;
  std::string client_cert_pem;
  std::string client_key_file;
  std::string client_key_pem;
  bool insecure_skip_verify = false;
};

struct HttpRequest {
  std::string url;
  std::chrono::milliseconds timeout{5000};
  size_t max_body_bytes = 16 * 1024 * 1024;
  std::vector<std::string> headers;  // "Name: value"
  std::string bearer_token;
  TlsOptions tls;
  std::string method = "GET";
  std::string body;  // for POST/PUT/PATCH/DELETE
  // Accept-Encoding: whatever libcurl can decompress (gzip, ...). Off for loopback peers,
  // where compressing costs both ends CPU and saves nothing.
  bool accept_compressed = true;
  // CURLOPT_CONNECT_TO entries ("host:port:connect-host:connect-port"): reach the URL's
  // host through another address while TLS still verifies the URL's name, as kube-vip's
  // hostAliases (kubernetes -> 127.0.0.1) do. Honoured by kube::CurlLoop.
  std::vector<std::string> connect_to;
};

struct HttpResponse {
  bool ok = false;  // transport succeeded (any HTTP status); false: see error
  long status = 0;  // HTTP status code
  std::string body;
  std::string content_type;
  std::string error;  // why the transport failed, naming the URL
  std::chrono::duration<double> elapsed{0};
};

// One request on a fresh connection.
HttpResponse HttpFetch(const HttpRequest& request);

// A libcurl handle kept between requests, so the peer's keep-alive connection is reused
// (no TCP handshake and no new server-side connection per request). A reused connection
// the peer has closed meanwhile is detected and replaced by libcurl. Not thread safe:
// one request at a time.
class HttpSession {
 public:
  HttpSession();
  HttpResponse Fetch(const HttpRequest& request);

 private:
  std::unique_ptr<void, void (*)(void*)> curl_;
};

// Sets `tls` on a libcurl easy handle; shared by HttpFetch and the kube client's streaming
// requests so both verify servers the same way.
void ApplyTls(void* curl_easy_handle, const TlsOptions& tls);

}  // namespace kvip
