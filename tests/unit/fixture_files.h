#pragma once
// Reading a test's input files: fixtures under tests/unit/fixtures/, or any file a test wrote.

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

namespace kvip::testing {

// A file's bytes as they are; a file that cannot be read fails the test (and reads as "").
inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in) << "cannot read " << path;
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

// A file under tests/unit/fixtures/, e.g. ReadFixture("promtext/kube-vip-v1.0.4.txt").
inline std::string ReadFixture(const std::string& relative_path) {
  return ReadFile(std::string(KVIP_FIXTURES) + "/" + relative_path);
}

}  // namespace kvip::testing
