#include "manifest/manifest.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <charconv>
#include <sstream>

#include "common/read_file.h"
#include "manifest/durable_file.h"

namespace kvip::manifest {
namespace {

constexpr size_t kMaxManifestBytes = 1 << 20;
// More YAML documents than a manifest could sensibly hold (it holds one Pod).
constexpr size_t kMaxDocuments = 16;

// Counts the documents of a YAML stream without building them.
class DocumentCounter final : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};

// yaml-cpp 0.7's LoadAll never returns on some malformed input ("&/," for one): the parser
// reports one more empty document per turn without consuming anything, and LoadAll keeps
// collecting them until memory runs out (fixed upstream after 0.7). So count first, with a
// bound, and only then build. Throws YAML::ParserException as LoadAll would.
bool AtMostDocuments(const std::string& text, size_t limit) {
  std::istringstream stream(text);
  YAML::Parser parser(stream);
  DocumentCounter counter;
  for (size_t count = 0; parser.HandleNextDocument(counter);) {
    if (++count > limit) return false;
  }
  return true;
}

std::string Where(const YAML::Mark& mark) {
  return "line " + std::to_string(mark.line + 1) + ", column " + std::to_string(mark.column + 1);
}

// The parsed document and which container is kube-vip's.
struct Located {
  YAML::Node root;
  size_t container_index = 0;
  KubeVipManifest manifest;
};

// Picks kube-vip's container: the one named "kube-vip", else the only container.
std::optional<size_t> SelectContainer(const YAML::Node& containers, const std::string& source,
                                      std::string& error) {
  for (size_t i = 0; i < containers.size(); ++i) {
    const YAML::Node name = containers[i]["name"];
    if (name && name.IsScalar() && name.Scalar() == "kube-vip") return i;
  }
  if (containers.size() == 1) return 0;
  error = source + ": " + std::to_string(containers.size()) +
          " containers in spec.containers and none is named \"kube-vip\"";
  return std::nullopt;
}

std::optional<Located> Locate(std::string_view text, const std::string& source,
                              std::string& error) {
  std::vector<YAML::Node> documents;
  try {
    const std::string yaml(text);
    if (!AtMostDocuments(yaml, kMaxDocuments)) {
      error = source + ": expected one YAML document (a Pod), found more than " +
              std::to_string(kMaxDocuments) + " (is it YAML at all?)";
      return std::nullopt;
    }
    documents = YAML::LoadAll(yaml);
  } catch (const YAML::Exception& err) {
    error = source + ": invalid YAML at " + Where(err.mark) + ": " + err.msg;
    return std::nullopt;
  }
  std::erase_if(documents, [](const YAML::Node& doc) { return doc.IsNull(); });
  if (documents.size() != 1) {
    error =
        source + ": expected one YAML document (a Pod), found " + std::to_string(documents.size());
    return std::nullopt;
  }
  Located out;
  out.root = documents.front();
  const YAML::Node& root = out.root;
  try {
    if (!root.IsMap()) {
      error = source + ": the document is not a mapping (expected a Pod)";
      return std::nullopt;
    }
    if (const YAML::Node kind = root["kind"]; kind && kind.as<std::string>() != "Pod") {
      error = source + ": kind is \"" + kind.as<std::string>() + "\", expected Pod";
      return std::nullopt;
    }
    const YAML::Node metadata = root["metadata"];
    if (metadata && metadata.IsMap()) {
      if (metadata["name"]) out.manifest.pod_name = metadata["name"].as<std::string>();
      if (metadata["namespace"])
        out.manifest.pod_namespace = metadata["namespace"].as<std::string>();
    }
    const YAML::Node containers = root["spec"] ? root["spec"]["containers"] : YAML::Node();
    if (!containers || !containers.IsSequence() || containers.size() == 0) {
      error = source + ": no spec.containers list";
      return std::nullopt;
    }
    auto index = SelectContainer(containers, source, error);
    if (!index) return std::nullopt;
    out.container_index = *index;
    const YAML::Node container = containers[*index];
    if (!container.IsMap()) {
      error = source + ": spec.containers[" + std::to_string(*index) + "] is not a mapping";
      return std::nullopt;
    }
    KubeVipManifest& m = out.manifest;
    m.container_name = container["name"] ? container["name"].as<std::string>() : "";
    const YAML::Node image = container["image"];
    if (!image || !image.IsScalar() || image.Scalar().empty()) {
      error = source + ": container \"" + m.container_name + "\" has no image";
      return std::nullopt;
    }
    m.image = image.Scalar();
    std::string image_error;
    auto ref = ParseImageRef(m.image, image_error);
    if (!ref) {
      error = source + ": " + image_error;
      return std::nullopt;
    }
    m.image_ref = *ref;
    if (const YAML::Node env = container["env"]; env) {
      if (!env.IsSequence()) {
        error = source + ": env of container \"" + m.container_name + "\" is not a list";
        return std::nullopt;
      }
      for (const YAML::Node& entry : env) {
        if (!entry.IsMap() || !entry["name"]) continue;
        // valueFrom entries (vip_nodename from spec.nodeName) have no literal value.
        if (const YAML::Node value = entry["value"]; value && value.IsScalar())
          m.env[entry["name"].as<std::string>()] = value.Scalar();
      }
    }
  } catch (const YAML::Exception& err) {
    error = source + ": unexpected structure at " + Where(err.mark) + ": " + err.msg;
    return std::nullopt;
  }
  return out;
}

// Splits "host:port" / ":port" / "[v6]:port" into its parts.
bool SplitHostPort(std::string_view address, std::string& host, int& port) {
  size_t colon = address.rfind(':');
  if (colon == std::string_view::npos) return false;
  host = std::string(address.substr(0, colon));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  std::string_view digits = address.substr(colon + 1);
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
  return ec == std::errc() && end == digits.data() + digits.size() && port > 0 && port < 65536;
}

}  // namespace

std::string KubeVipManifest::Env(const std::string& name) const {
  auto it = env.find(name);
  return it == env.end() ? "" : it->second;
}

std::string KubeVipManifest::VipAddress() const {
  std::string address = Env("address");
  return address.empty() ? Env("vip_address") : address;
}

std::optional<int> KubeVipManifest::MetricsPort() const {
  std::string host;
  int port = 0;
  if (!SplitHostPort(Env("prometheus_server"), host, port)) return std::nullopt;
  return port;
}

std::string KubeVipManifest::MetricsUrl() const {
  std::string host;
  int port = 0;
  if (!SplitHostPort(Env("prometheus_server"), host, port)) return "";
  // kube-vip listens on all addresses unless told otherwise; loopback reaches it then.
  if (host.empty() || host == "0.0.0.0" || host == "::") host = "127.0.0.1";
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  return "http://" + host + ":" + std::to_string(port) + "/metrics";
}

int KubeVipManifest::ApiServerPort() const {
  std::string text = Env("port");
  int port = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
  if (ec != std::errc() || end != text.data() + text.size() || port <= 0 || port > 65535)
    return 6443;
  return port;
}

std::optional<std::chrono::seconds> KubeVipManifest::LeaseDuration() const {
  std::string text = Env("vip_leaseduration");
  int seconds = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), seconds);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || seconds <= 0)
    return std::nullopt;
  return std::chrono::seconds(seconds);
}

std::optional<KubeVipManifest> ParseManifest(std::string_view text, const std::string& source,
                                             std::string& error) {
  auto located = Locate(text, source, error);
  if (!located) return std::nullopt;
  return std::move(located->manifest);
}

std::optional<KubeVipManifest> ReadManifest(const std::string& path, std::string& error) {
  std::string text;
  if (!ReadFileBounded(path, text, kMaxManifestBytes, error)) return std::nullopt;
  return ParseManifest(text, path, error);
}

std::optional<std::string> RewriteImage(std::string_view text, const std::string& source,
                                        const std::string& new_image, std::string& error) {
  std::string image_error;
  if (!ParseImageRef(new_image, image_error)) {
    error = "new " + image_error;
    return std::nullopt;
  }
  auto located = Locate(text, source, error);
  if (!located) return std::nullopt;
  const std::string& old_image = located->manifest.image;
  YAML::Node containers = located->root["spec"]["containers"];
  const YAML::Mark mark = containers[located->container_index]["image"].Mark();

  // yaml-cpp's line numbers are reliable; its byte offset is not (a BOM is not counted).
  // Columns count characters, so line start + column is a lower bound in bytes.
  size_t line_start = 0;
  for (int line = 0; line < mark.line && line_start != std::string_view::npos; ++line) {
    line_start = text.find('\n', line_start);
    if (line_start != std::string_view::npos) ++line_start;
  }
  size_t line_end = line_start == std::string_view::npos ? line_start : text.find('\n', line_start);
  if (line_end == std::string_view::npos) line_end = text.size();
  size_t found = std::string_view::npos;
  if (line_start != std::string_view::npos) {
    size_t from = line_start + static_cast<size_t>(std::max(mark.column, 0));
    size_t at = text.find(old_image, std::min(from, line_end));
    if (at != std::string_view::npos && at + old_image.size() <= line_end) found = at;
  }
  if (found == std::string_view::npos) {
    error = source + ": the image of container \"" + located->manifest.container_name + "\" at " +
            Where(mark) + " is not written literally on one line; edit it by hand";
    return std::nullopt;
  }
  std::string result(text);
  result.replace(found, old_image.size(), new_image);

  // Verify: the new text parses, carries the new image, and equals the old tree otherwise.
  std::string verify_error;
  auto rewritten = Locate(result, source, verify_error);
  if (!rewritten || rewritten->manifest.image != new_image ||
      rewritten->container_index != located->container_index) {
    error = source + ": rewriting the image would not give a valid manifest with image \"" +
            new_image + "\"" + (verify_error.empty() ? "" : ": " + verify_error);
    return std::nullopt;
  }
  rewritten->root["spec"]["containers"][rewritten->container_index]["image"] = old_image;
  YAML::Emitter before, after;
  before << located->root;
  after << rewritten->root;
  if (std::string_view(before.c_str()) != std::string_view(after.c_str())) {
    error = source + ": rewriting the image changed more than the image; edit it by hand";
    return std::nullopt;
  }
  return result;
}

}  // namespace kvip::manifest
