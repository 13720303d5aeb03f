#include "http/http_client.h"

#include <curl/curl.h>

#include <memory>

namespace kvip {
namespace {

struct WriteState {
  std::string* body;
  size_t limit;
  bool overflow = false;
};

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* state = static_cast<WriteState*>(user);
  size_t bytes = size * count;
  if (state->body->size() + bytes > state->limit) {
    state->overflow = true;
    return 0;  // makes libcurl abort the transfer with CURLE_WRITE_ERROR
  }
  state->body->append(data, bytes);
  return bytes;
}

using CurlPtr = std::unique_ptr<CURL, decltype(&curl_easy_cleanup)>;
using HeaderListPtr = std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)>;

void SetBlob(CURL* curl, CURLoption option, const std::string& pem) {
  curl_blob blob{const_cast<char*>(pem.data()), pem.size(), CURL_BLOB_COPY};
  curl_easy_setopt(curl, option, &blob);
}

}  // namespace

void ApplyTls(void* curl_easy_handle, const TlsOptions& tls) {
  CURL* curl = curl_easy_handle;
  if (tls.insecure_skip_verify) {
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  if (!tls.ca_pem.empty())
    SetBlob(curl, CURLOPT_CAINFO_BLOB, tls.ca_pem);
  else if (!tls.ca_file.empty())
    curl_easy_setopt(curl, CURLOPT_CAINFO, tls.ca_file.c_str());
  if (!tls.client_cert_pem.empty())
    SetBlob(curl, CURLOPT_SSLCERT_BLOB, tls.client_cert_pem);
  else if (!tls.client_cert_file.empty())
    curl_easy_setopt(curl, CURLOPT_SSLCERT, tls.client_cert_file.c_str());
  if (!tls.client_key_pem.empty())
    SetBlob(curl, CURLOPT_SSLKEY_BLOB, tls.client_key_pem);
  else if (!tls.client_key_file.empty())
    curl_easy_setopt(curl, CURLOPT_SSLKEY, tls.client_key_file.c_str());
}

namespace {

// Resets a handle's options (keeping its connection cache) when it goes out of scope, so a
// kept handle holds no pointer into a finished request (error buffer, headers, body).
struct ResetOnExit {
  CURL* curl;
  ~ResetOnExit() { curl_easy_reset(curl); }
};

// Sets up `c` (fresh or reset) for `request` and performs it.
HttpResponse Perform(CURL* c, const HttpRequest& request) {
  ResetOnExit reset{c};
  HttpResponse response;
  WriteState state{&response.body, request.max_body_bytes};
  char error_buffer[CURL_ERROR_SIZE] = {};

  curl_easy_setopt(c, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);  // we run on several threads
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout.count()));
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(request.timeout.count()));
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &state);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  if (request.accept_compressed) {
    curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");  // let libcurl decompress gzip
  }
  curl_easy_setopt(c, CURLOPT_USERAGENT, "kvip-exporter");
  if (request.method != "GET") {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, request.body.c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(request.body.size()));
  }

  HeaderListPtr headers(nullptr, curl_slist_free_all);
  auto add_header = [&headers](const std::string& header) {
    headers.reset(curl_slist_append(headers.release(), header.c_str()));
  };
  for (const auto& header : request.headers) add_header(header);
  if (!request.bearer_token.empty()) add_header("Authorization: Bearer " + request.bearer_token);
  if (headers) curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
  ApplyTls(c, request.tls);

  CURLcode code = curl_easy_perform(c);
  double total = 0;
  curl_easy_getinfo(c, CURLINFO_TOTAL_TIME, &total);
  response.elapsed = std::chrono::duration<double>(total);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &response.status);
  char* content_type = nullptr;
  if (curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &content_type) == CURLE_OK && content_type) {
    response.content_type = content_type;
  }
  if (state.overflow) {
    response.error = request.url + ": response body larger than " +
                     std::to_string(request.max_body_bytes) + " bytes";
    return response;
  }
  if (code != CURLE_OK) {
    response.error =
        request.url + ": " + (error_buffer[0] ? error_buffer : curl_easy_strerror(code));
    return response;
  }
  response.ok = true;
  return response;
}

HttpResponse NoHandle() {
  HttpResponse response;
  response.error = "cannot initialise libcurl";
  return response;
}

}  // namespace

HttpResponse HttpFetch(const HttpRequest& request) {
  CurlPtr curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) return NoHandle();
  return Perform(curl.get(), request);
}

HttpSession::HttpSession()
    : curl_(curl_easy_init(), [](void* handle) { curl_easy_cleanup(handle); }) {}

HttpResponse HttpSession::Fetch(const HttpRequest& request) {
  if (!curl_) return NoHandle();
  return Perform(curl_.get(), request);
}

}  // namespace kvip
