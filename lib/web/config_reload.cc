#include "web/config_reload.h"

#include <stdexcept>
#include <utility>

#include "common/logging.h"
#include "web/tls_context.h"
#include "web/web_server.h"
#include "web/web_stats.h"

namespace kvip::detail {

ConfigReload::ConfigReload(boost::asio::io_context& io, const WebOptions& options, WebStats& stats)
    : options_(options), stats_(stats), timer_(io) {}

void ConfigReload::LoadAtStart() {
  if (options_.web_config_file.empty()) {
    config_ = std::make_shared<ServingConfig>();
    return;
  }
  Loaded loaded = Load();
  if (!loaded.config) throw std::runtime_error(loaded.error);
  config_ = loaded.config;
  const auto& web = config_->web;
  LogInfo("web config loaded",
          {{"file", options_.web_config_file},
           {"tls", web.tls ? "on" : "off"},
           {"client_auth", web.tls ? std::string(ClientAuthName(web.tls->client_auth)) : "none"},
           {"basic_auth_users", std::to_string(web.basic_auth_users.size())}});
}

void ConfigReload::Watch() {
  if (!options_.web_config_file.empty()) ScheduleCheck();
}

std::vector<ConfigReload::MaybeStamp> ConfigReload::StampWatchedFiles() const {
  std::vector<MaybeStamp> stamps;
  for (const auto& path : watched_files_) stamps.push_back(StampOf(path));
  return stamps;
}

bool ConfigReload::FilesChanged() const { return StampWatchedFiles() != loaded_stamps_; }

ConfigReload::Loaded ConfigReload::Load() {
  const std::string& path = options_.web_config_file;
  // Stamp before reading: a change racing with the read shows up at the next check.
  MaybeStamp config_stamp = StampOf(path);
  WebConfigResult parsed = LoadWebConfig(path);
  if (parsed.ok() || watched_files_.empty()) {
    watched_files_ = {path};
    for (auto& file : parsed.config.ReferencedFiles()) watched_files_.push_back(std::move(file));
  }
  loaded_stamps_ = StampWatchedFiles();
  loaded_stamps_[0] = config_stamp;
  if (!parsed.ok()) return {nullptr, parsed.error};
  auto serving = std::make_shared<ServingConfig>();
  serving->web = std::move(parsed.config);
  if (serving->web.tls) {
    TlsContextResult tls = MakeTlsContext(*serving->web.tls);
    if (!tls.ok()) return {nullptr, "web config " + path + ": " + tls.error};
    serving->tls = std::move(tls.context);
  }
  return {std::move(serving), ""};
}

bool ConfigReload::Reload(std::string_view trigger) {
  Loaded loaded = Load();
  stats_.Reloaded(loaded.config != nullptr);
  if (!loaded.config) {
    LogError("web config reload failed; keeping the previous configuration",
             {{"trigger", std::string(trigger)}, {"err", loaded.error}});
    return false;
  }
  config_ = std::move(loaded.config);
  const auto& web = config_->web;
  LogInfo("web config reloaded",
          {{"file", options_.web_config_file},
           {"trigger", std::string(trigger)},
           {"tls", web.tls ? "on" : "off"},
           {"client_auth", web.tls ? std::string(ClientAuthName(web.tls->client_auth)) : "none"},
           {"basic_auth_users", std::to_string(web.basic_auth_users.size())}});
  return true;
}

void ConfigReload::ScheduleCheck() {
  timer_.expires_after(options_.config_check_interval);
  timer_.async_wait([this](const boost::system::error_code& error) {
    if (error) return;
    if (FilesChanged()) Reload("file changed");
    ScheduleCheck();
  });
}

}  // namespace kvip::detail
