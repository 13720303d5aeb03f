#pragma once
// Builds the OpenSSL server context for a tls_server_config: certificate chain and key,
// client certificate policy, protocol versions, ciphers and curves.

#include <memory>
#include <string>

#include "web/web_config.h"

namespace boost::asio::ssl {
class context;
}

namespace kvip {

struct TlsContextResult {
  std::shared_ptr<boost::asio::ssl::context> context;
  std::string error;  // empty on success; names the file and what is wrong with it
  bool ok() const { return error.empty(); }
};

// Reads every file the config names. Never prompts: an encrypted key is an error.
TlsContextResult MakeTlsContext(const TlsServerConfig& tls);

}  // namespace kvip
