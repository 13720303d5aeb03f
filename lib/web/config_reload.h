#pragma once
// --web.config.file while the server runs: the generation in effect, a check of the file
// and of the files it names (certificates, keys, client CAs) every config_check_interval,
// and a reload on a change or on request (SIGHUP). A bad file keeps the generation in
// effect and says why. Used on the web server's I/O thread only.

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/file_stamp.h"
#include "web/web_config.h"

namespace boost::asio::ssl {
class context;
}

namespace kvip {
struct WebOptions;
}

namespace kvip::detail {

class WebStats;

// One generation of --web.config.file, immutable once built; connections keep the one they
// started with, so a reload never pulls a TLS context from under a handshake.
struct ServingConfig {
  WebConfig web;
  std::shared_ptr<boost::asio::ssl::context> tls;  // null: plain HTTP
};

class ConfigReload {
 public:
  ConfigReload(boost::asio::io_context& io, const WebOptions& options, WebStats& stats);

  // The first load: plain HTTP without a config file. Throws std::runtime_error naming the
  // file and the problem when it is unusable.
  void LoadAtStart();
  // Checks the files every config_check_interval from now on (without a config file: never).
  void Watch();

  const std::shared_ptr<const ServingConfig>& current() const { return config_; }
  // Re-reads the config now; false (the previous generation stays) when it is bad.
  bool Reload(std::string_view trigger);

 private:
  // What a file looked like when last read (nullopt: missing); any difference means "reload".
  using MaybeStamp = std::optional<FileStamp>;
  struct Loaded {
    std::shared_ptr<const ServingConfig> config;
    std::string error;
  };

  Loaded Load();
  std::vector<MaybeStamp> StampWatchedFiles() const;
  bool FilesChanged() const;
  void ScheduleCheck();

  const WebOptions& options_;
  WebStats& stats_;
  std::shared_ptr<const ServingConfig> config_;
  std::vector<std::string> watched_files_;  // the config file, then the files it names
  std::vector<MaybeStamp> loaded_stamps_;   // watched_files_ as they were when last read
  boost::asio::steady_timer timer_;
};

}  // namespace kvip::detail
