#include "ops/upgrade_plan.h"

#include <rapidjson/document.h>
#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>

#include <array>
#include <utility>

#include "common/json_member.h"

namespace kvip::ops {
namespace {

constexpr int kStateVersion = 1;

constexpr std::array<std::pair<UpgradeStep, std::string_view>, 7> kStepNames{{
    {UpgradeStep::kBackedUp, "backed-up"},
    {UpgradeStep::kPulled, "pulled"},
    {UpgradeStep::kRewriting, "rewriting"},
    {UpgradeStep::kWaiting, "waiting"},
    {UpgradeStep::kRollingBack, "rolling-back"},
    {UpgradeStep::kDone, "done"},
    {UpgradeStep::kRolledBack, "rolled-back"},
}};

std::string Basename(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string Dirname(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

std::string_view StepName(UpgradeStep step) {
  for (const auto& [value, name] : kStepNames) {
    if (value == step) return name;
  }
  return "unknown";
}

std::optional<UpgradeStep> ParseStepName(std::string_view name) {
  for (const auto& [value, step_name] : kStepNames) {
    if (step_name == name) return value;
  }
  return std::nullopt;
}

bool IsTerminal(UpgradeStep step) {
  return step == UpgradeStep::kDone || step == UpgradeStep::kRolledBack;
}

std::string SerializeUpgradeState(const UpgradeState& state) {
  rapidjson::StringBuffer buffer;
  rapidjson::PrettyWriter<rapidjson::StringBuffer> w(buffer);
  auto string_field = [&w](const char* key, const std::string& value) {
    w.Key(key);
    w.String(value.c_str(), static_cast<rapidjson::SizeType>(value.size()));
  };
  w.StartObject();
  w.Key("version");
  w.Int(kStateVersion);
  string_field("manifest", state.manifest_path);
  string_field("node", state.node);
  string_field("from_image", state.from_image);
  string_field("to_image", state.to_image);
  string_field("backup", state.backup_path);
  string_field("step", std::string(StepName(state.step)));
  w.Key("was_leader");
  w.Bool(state.was_leader);
  w.Key("started_at");
  w.Double(state.started_at);
  w.Key("updated_at");
  w.Double(state.updated_at);
  w.Key("rewritten_at");
  w.Double(state.rewritten_at);
  string_field("failure", state.failure);
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize()) + "\n";
}

std::optional<UpgradeState> ParseUpgradeState(std::string_view json, const std::string& source,
                                              std::string& error) {
  rapidjson::Document doc;
  // Full precision: the timestamps must read back exactly as SerializeUpgradeState wrote them
  // (RapidJSON's default number parsing can be off by an ulp).
  doc.Parse<rapidjson::kParseFullPrecisionFlag>(json.data(), json.size());
  if (doc.HasParseError() || !doc.IsObject()) {
    error = source + ": not a JSON object (a damaged state file; inspect and remove it)";
    return std::nullopt;
  }
  auto version = doc.FindMember("version");
  if (version == doc.MemberEnd() || !version->value.IsInt() ||
      version->value.GetInt() != kStateVersion) {
    error =
        source + ": unknown state file version (expected " + std::to_string(kStateVersion) + ")";
    return std::nullopt;
  }
  UpgradeState state;
  std::string missing;
  auto text = [&](const char* key, std::string& out) {
    auto it = doc.FindMember(key);
    if (it == doc.MemberEnd() || !it->value.IsString()) {
      missing += missing.empty() ? key : std::string(", ") + key;
      return;
    }
    out.assign(it->value.GetString(), it->value.GetStringLength());
  };
  auto number = [&](const char* key, double& out) {
    auto it = doc.FindMember(key);
    if (it != doc.MemberEnd() && it->value.IsNumber()) out = it->value.GetDouble();
  };
  std::string step;
  text("manifest", state.manifest_path);
  text("node", state.node);
  text("from_image", state.from_image);
  text("to_image", state.to_image);
  text("backup", state.backup_path);
  text("step", step);
  text("failure", state.failure);
  number("started_at", state.started_at);
  number("updated_at", state.updated_at);
  number("rewritten_at", state.rewritten_at);
  state.was_leader = json::Bool(doc, "was_leader", state.was_leader);
  if (!missing.empty()) {
    error = source + ": missing " + missing;
    return std::nullopt;
  }
  auto parsed_step = ParseStepName(step);
  if (!parsed_step) {
    error = source + ": unknown step \"" + step + "\"";
    return std::nullopt;
  }
  state.step = *parsed_step;
  return state;
}

ResumeDecision DecideResume(const std::optional<UpgradeState>& state, const std::string& state_file,
                            const std::string& manifest_path, const std::string& current_image,
                            const std::string& target_image, bool rollback_requested) {
  using enum ResumeAction;
  if (!state || IsTerminal(state->step)) {
    if (!rollback_requested) return {kStartFresh, ""};
    // A finished upgrade can be undone while the manifest still runs what it installed (the
    // rollout's --rollback); a finished rollback asked again is already done.
    if (state && state->manifest_path == manifest_path) {
      const std::string recorded = "the upgrade of " + state->manifest_path + " from " +
                                   state->from_image + " to " + state->to_image + " recorded in " +
                                   state_file;
      if (state->step == UpgradeStep::kDone && current_image == state->to_image)
        return {kRollBack, recorded + " finished; restoring " + state->backup_path};
      if (state->step == UpgradeStep::kRolledBack && current_image == state->from_image)
        return {kAlreadyRolledBack,
                recorded + " is rolled back already; " + current_image + " is in place"};
    }
    return {kRefuse, "no upgrade to undo is recorded in " + state_file +
                         " for the image in place; to put a backup back use `kvip-exporter "
                         "recover --restore-backup`"};
  }
  const UpgradeState& s = *state;
  const std::string recorded = "an unfinished upgrade of " + s.manifest_path + " from " +
                               s.from_image + " to " + s.to_image + " (step " +
                               std::string(StepName(s.step)) + ") is recorded in " + state_file;
  if (s.manifest_path != manifest_path)
    return {kRefuse, recorded + "; finish it with --kubevip.manifest " + s.manifest_path +
                         ", or remove the state file once that manifest is known to be good"};
  if (current_image != s.from_image && current_image != s.to_image)
    return {kRefuse, recorded + ", but the manifest now runs " + current_image +
                         ", which is neither; fix the manifest by hand, then remove " + state_file};
  bool untouched = current_image == s.from_image;
  bool before_rewrite = s.step == UpgradeStep::kBackedUp || s.step == UpgradeStep::kPulled ||
                        s.step == UpgradeStep::kRewriting;
  if (rollback_requested || s.step == UpgradeStep::kRollingBack) {
    if (untouched && before_rewrite)
      return {kMarkRolledBack, recorded + "; the manifest was never changed, nothing to restore"};
    return {kRollBack, recorded + "; restoring " + s.backup_path};
  }
  if (!target_image.empty() && target_image != s.to_image)
    return {kRefuse, recorded + "; re-run with --to for " + s.to_image +
                         " to resume it, or with --rollback to undo it"};
  if (before_rewrite) {
    if (untouched) return {kContinueFromPull, recorded + "; resuming at the pull"};
    return {kContinueWaiting, recorded + "; the new manifest is in place, resuming the waits"};
  }
  // kWaiting
  if (!untouched) return {kContinueWaiting, recorded + "; resuming the waits"};
  return {kRefuse, recorded + ", but the manifest is back at " + s.from_image +
                       " (restored by someone else?); run with --rollback to record the rollback"};
}

LeaderGuard CheckLeaderLast(const std::string& node, const std::string& lease_holder,
                            const std::vector<KubeVipPod>& pods, const std::string& target_image) {
  LeaderGuard guard;
  guard.this_node_leads = !node.empty() && lease_holder == node;
  for (const KubeVipPod& pod : pods) {
    if (pod.node != node && pod.image != target_image) guard.nodes_first.push_back(pod.node);
  }
  return guard;
}

std::string BackupPathFor(const std::string& manifest_path, const std::string& old_tag,
                          const std::string& backup_dir) {
  std::string dir = backup_dir;
  if (dir.empty()) {
    dir = Dirname(manifest_path);
    // Outside the static pod directory: its parent (/etc/kubernetes for .../manifests).
    dir = Dirname(dir);
  }
  std::string tag = old_tag.empty() ? "untagged" : old_tag;
  return (dir == "/" ? "" : dir) + "/" + Basename(manifest_path) + "." + tag + ".bak";
}

std::vector<std::string> PullArgv(RuntimeCli cli, const std::string& endpoint,
                                  const std::string& image) {
  if (cli == RuntimeCli::kCrictl)
    return {"crictl", "--runtime-endpoint", endpoint, "--image-endpoint", endpoint, "pull", image};
  return {"ctr", "--address", endpoint, "--namespace", "k8s.io", "images", "pull", image};
}

std::vector<std::string> RuntimeVersionArgv(RuntimeCli cli, const std::string& endpoint) {
  if (cli == RuntimeCli::kCrictl)
    return {"crictl", "--runtime-endpoint", endpoint, "--image-endpoint", endpoint, "version"};
  return {"ctr", "--address", endpoint, "version"};
}

}  // namespace kvip::ops
