#pragma once
// The one report renderer of the one-shot modes (upgrade, verify, recover): a title, named
// sections of checks (or numbered plan lines), and a last line, as an aligned table; or the
// same as one JSON object (--output json) with the mode's own fields first.

#include <iosfwd>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "ops/check.h"

namespace kvip {

using ops::Check;

enum class OutputFormat { kTable, kJson };
// --output: table (or text) or json; anything else is reported on stderr and returns false.
bool ParseOutputFlag(std::string_view text, OutputFormat& format);

struct Report {
  struct Field {
    std::string key;
    std::variant<std::string, bool, int> value;
  };
  struct Section {
    std::string key;      // JSON key
    std::string heading;  // table: "heading:" above it; empty: no heading line
    std::vector<Check> checks;
    std::vector<std::string> lines;  // a numbered list instead of checks (the plan)
    bool is_list = false;

    static Section Checks(std::string key, std::string heading, std::vector<Check> checks) {
      return {std::move(key), std::move(heading), std::move(checks), {}, false};
    }
    static Section List(std::string key, std::string heading, std::vector<std::string> lines) {
      return {std::move(key), std::move(heading), {}, std::move(lines), true};
    }
  };
  std::string title;          // table: first line
  std::vector<Field> fields;  // JSON: the leading fields, in order
  std::vector<Section> sections;
  std::string last_line;  // table: last line
};

void RenderReport(std::ostream& out, OutputFormat format, const Report& report);

// How upgrade, rollout and recover end, the same in each: the table's last line
// "result: <result> (exit <code>): <message>", and the log line "<mode> finished" (an error
// unless the exit code is 0).
std::string ResultLine(const std::string& result, int exit_code, const std::string& message);
// Ends `report` with that line, renders it to stdout and returns `exit_code`.
int PrintFinalReport(Report& report, OutputFormat format, const std::string& result, int exit_code,
                     const std::string& message);
void LogFinished(const std::string& mode, const std::string& result, int exit_code,
                 const std::string& message);

// Prints checks as an aligned table (OK/FAIL, name, detail).
void PrintCheckTable(std::ostream& out, const std::vector<Check>& checks);

}  // namespace kvip
