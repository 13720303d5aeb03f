#pragma once
// kubevip_manifest_info{image,version}: what the node's kube-vip static pod manifest runs.
// The file is read at scrape time, and parsed again only when it changed (inode, size or
// mtime differ), so a scrape costs one stat in the steady state.

#include <mutex>
#include <optional>
#include <span>
#include <string>

#include "collectors/collector.h"
#include "common/file_stamp.h"
#include "common/metric_family.h"
#include "manifest/manifest.h"

namespace kvip {

class ManifestCollector final : public Collector {
 public:
  explicit ManifestCollector(std::string manifest_path);

  std::string_view Name() const override { return "manifest"; }
  bool Collect(std::vector<prometheus::MetricFamily>& out) override;

 private:
  const std::string path_;
  std::mutex mutex_;
  std::optional<FileStamp> stamp_;                   // guarded by mutex_
  std::optional<manifest::KubeVipManifest> parsed_;  // guarded by mutex_
  std::string last_error_;                           // guarded by mutex_; logged once
};

}  // namespace kvip
