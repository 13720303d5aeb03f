#include "web/tls_context.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <array>
#include <boost/asio/ssl/context.hpp>
#include <cerrno>
#include <cstring>
#include <fstream>

namespace kvip {
namespace {

// Go ignores TLS 1.3 suites in cipher_suites (they are not configurable there); so do we.
constexpr std::array<std::string_view, 5> kTls13Suites = {
    "TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256",
    "TLS_AES_128_CCM_SHA256", "TLS_AES_128_CCM_8_SHA256"};

int ProtocolVersion(TlsVersion version) {
  switch (version) {
    case TlsVersion::kTls10:
      return TLS1_VERSION;
    case TlsVersion::kTls11:
      return TLS1_1_VERSION;
    case TlsVersion::kTls12:
      return TLS1_2_VERSION;
    case TlsVersion::kTls13:
      return TLS1_3_VERSION;
  }
  return TLS1_2_VERSION;
}

// The most specific OpenSSL reason queued, then clears the queue.
std::string OpenSslError() {
  unsigned long code = 0;
  unsigned long last = 0;
  while ((code = ERR_get_error()) != 0) last = code;
  if (last == 0) return "unknown OpenSSL error";
  char text[256];
  ERR_error_string_n(last, text, sizeof text);
  const char* reason = ERR_reason_error_string(last);
  return reason ? reason : text;
}

// A file we cannot open is reported with errno's words rather than OpenSSL's.
std::string Unreadable(const std::string& path) {
  std::ifstream in(path);
  if (in) return "";
  return std::strerror(errno);
}

int NoPassphrase(char*, int, int, void*) { return 0; }

int AcceptAnyCertificate(int, X509_STORE_CTX*) { return 1; }

}  // namespace

TlsContextResult MakeTlsContext(const TlsServerConfig& tls) {
  TlsContextResult result;
  ERR_clear_error();
  auto fail = [&result](std::string field, const std::string& file, const std::string& why) {
    result.context.reset();
    result.error = "tls_server_config." + field + (file.empty() ? "" : " " + file) + ": " + why;
    return result;
  };
  auto context = std::make_shared<boost::asio::ssl::context>(boost::asio::ssl::context::tls_server);
  SSL_CTX* ctx = context->native_handle();
  SSL_CTX_set_default_passwd_cb(ctx, NoPassphrase);
  SSL_CTX_set_options(ctx,
                      SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                          (tls.prefer_server_cipher_suites ? SSL_OP_CIPHER_SERVER_PREFERENCE : 0));
  // Idle connections (and slow clients) then hold no 34 KiB of OpenSSL buffers each.
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  if (!SSL_CTX_set_min_proto_version(ctx, ProtocolVersion(tls.min_version)) ||
      !SSL_CTX_set_max_proto_version(ctx, ProtocolVersion(tls.max_version))) {
    return fail("min_version", "", OpenSslError());
  }

  if (std::string why = Unreadable(tls.cert_file); !why.empty()) {
    return fail("cert_file", tls.cert_file, why);
  }
  if (SSL_CTX_use_certificate_chain_file(ctx, tls.cert_file.c_str()) != 1) {
    return fail("cert_file", tls.cert_file, "not a PEM certificate: " + OpenSslError());
  }
  if (std::string why = Unreadable(tls.key_file); !why.empty()) {
    return fail("key_file", tls.key_file, why);
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, tls.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    bool mismatch = ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH;
    std::string why = OpenSslError();
    if (mismatch)
      return fail("key_file", tls.key_file, "does not match cert_file " + tls.cert_file);
    return fail("key_file", tls.key_file, "not an unencrypted PEM private key: " + why);
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    return fail("key_file", tls.key_file, "does not match cert_file " + tls.cert_file);
  }

  if (!tls.client_ca_file.empty()) {
    if (std::string why = Unreadable(tls.client_ca_file); !why.empty()) {
      return fail("client_ca_file", tls.client_ca_file, why);
    }
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(tls.client_ca_file.c_str());
    if (names == nullptr || sk_X509_NAME_num(names) == 0) {
      if (names) sk_X509_NAME_pop_free(names, X509_NAME_free);
      ERR_clear_error();
      return fail("client_ca_file", tls.client_ca_file, "holds no PEM certificate");
    }
    SSL_CTX_set_client_CA_list(ctx, names);  // takes ownership; sent in CertificateRequest
    if (SSL_CTX_load_verify_locations(ctx, tls.client_ca_file.c_str(), nullptr) != 1) {
      return fail("client_ca_file", tls.client_ca_file, OpenSslError());
    }
  }
  switch (tls.client_auth) {
    case ClientAuth::kNoClientCert:
      SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
      break;
    case ClientAuth::kRequestClientCert:
      SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, AcceptAnyCertificate);
      break;
    case ClientAuth::kRequireAnyClientCert:
      SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                         AcceptAnyCertificate);
      break;
    case ClientAuth::kVerifyClientCertIfGiven:
      SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
      break;
    case ClientAuth::kRequireAndVerifyClientCert:
      SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
      break;
  }

  if (!tls.cipher_suites.empty()) {
    std::string list;
    for (const std::string& name : tls.cipher_suites) {
      bool tls13 = false;
      for (std::string_view suite : kTls13Suites) tls13 = tls13 || suite == name;
      if (tls13) continue;
      const char* openssl_name = OPENSSL_cipher_name(name.c_str());
      if (openssl_name == nullptr || std::string_view(openssl_name) == "(NONE)") {
        return fail("cipher_suites", "", "unknown cipher \"" + name + "\"");
      }
      list += (list.empty() ? "" : ":") + std::string(openssl_name);
    }
    if (!list.empty() && SSL_CTX_set_cipher_list(ctx, list.c_str()) != 1) {
      return fail("cipher_suites", "", "OpenSSL accepts none of them: " + OpenSslError());
    }
  }
  if (!tls.curve_preferences.empty()) {
    std::string list;
    for (const std::string& group : tls.curve_preferences)
      list += (list.empty() ? "" : ":") + group;
    if (SSL_CTX_set1_groups_list(ctx, list.c_str()) != 1) {
      return fail("curve_preferences", "", OpenSslError());
    }
  }
  result.context = std::move(context);
  return result;
}

}  // namespace kvip
