#include "report.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <iomanip>
#include <iostream>
#include <ostream>

#include "common/logging.h"

namespace kvip {
namespace {

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

void WriteString(JsonWriter& w, const std::string& value) {
  w.String(value.c_str(), static_cast<rapidjson::SizeType>(value.size()));
}

void WriteChecks(JsonWriter& w, const std::vector<Check>& checks) {
  w.StartArray();
  for (const Check& c : checks) {
    w.StartObject();
    w.Key("name");
    WriteString(w, c.name);
    w.Key("ok");
    w.Bool(c.ok);
    w.Key("detail");
    WriteString(w, c.detail);
    if (c.seconds >= 0) {
      w.Key("seconds");
      w.Double(c.seconds);
    }
    w.EndObject();
  }
  w.EndArray();
}

void RenderJson(std::ostream& out, const Report& report) {
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  for (const Report::Field& field : report.fields) {
    w.Key(field.key.c_str());
    if (const auto* text = std::get_if<std::string>(&field.value))
      WriteString(w, *text);
    else if (const auto* flag = std::get_if<bool>(&field.value))
      w.Bool(*flag);
    else
      w.Int(std::get<int>(field.value));
  }
  for (const Report::Section& section : report.sections) {
    w.Key(section.key.c_str());
    if (!section.is_list) {
      WriteChecks(w, section.checks);
      continue;
    }
    w.StartArray();
    for (const auto& line : section.lines) WriteString(w, line);
    w.EndArray();
  }
  w.EndObject();
  out << buffer.GetString() << "\n";
}

void RenderTable(std::ostream& out, const Report& report) {
  out << report.title << "\n";
  for (const Report::Section& section : report.sections) {
    bool empty = section.is_list ? section.lines.empty() : section.checks.empty();
    if (!section.heading.empty()) {
      if (empty) continue;
      out << section.heading << ":\n";
    }
    if (!section.is_list) {
      PrintCheckTable(out, section.checks);
      continue;
    }
    for (size_t i = 0; i < section.lines.size(); ++i)
      out << "  " << i + 1 << ". " << section.lines[i] << "\n";
  }
  out << report.last_line << "\n";
}

}  // namespace

bool ParseOutputFlag(std::string_view text, OutputFormat& format) {
  bool json = text == "json";
  if (!json && text != "table" && text != "text") {
    std::cerr << "--output: unknown format \"" << text << "\" (table, json)\n";
    return false;
  }
  format = json ? OutputFormat::kJson : OutputFormat::kTable;
  return true;
}

void PrintCheckTable(std::ostream& out, const std::vector<Check>& checks) {
  size_t width = 4;
  for (const Check& c : checks) width = std::max(width, c.name.size());
  for (const Check& c : checks) {
    out << "  " << (c.ok ? "ok  " : "FAIL") << "  " << std::left
        << std::setw(static_cast<int>(width)) << c.name << "  " << c.detail;
    if (c.seconds >= 0) out << " (" << std::fixed << std::setprecision(1) << c.seconds << " s)";
    out << "\n";
  }
}

std::string ResultLine(const std::string& result, int exit_code, const std::string& message) {
  return "result: " + result + " (exit " + std::to_string(exit_code) + "): " + message;
}

int PrintFinalReport(Report& report, OutputFormat format, const std::string& result, int exit_code,
                     const std::string& message) {
  report.last_line = ResultLine(result, exit_code, message);
  RenderReport(std::cout, format, report);
  return exit_code;
}

void LogFinished(const std::string& mode, const std::string& result, int exit_code,
                 const std::string& message) {
  (exit_code == 0 ? LogInfo : LogError)(
      mode + " finished",
      {{"result", result}, {"exit_code", std::to_string(exit_code)}, {"msg", message}});
}

void RenderReport(std::ostream& out, OutputFormat format, const Report& report) {
  if (format == OutputFormat::kJson)
    RenderJson(out, report);
  else
    RenderTable(out, report);
}

}  // namespace kvip
