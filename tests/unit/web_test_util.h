#pragma once
// Helpers for the lib/web tests: a temporary directory, a throw-away PKI made with the
// openssl command line, bcrypt hashes, and a raw HTTP/1.1 client over Boost.Asio for what
// libcurl will not do (slow clients, oversized headers, keep-alive on one socket).

#include <crypt.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>

namespace kvip::testing {

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "kvip-web-XXXXXX").string();
    path_ = mkdtemp(pattern.data());
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

  // Writes name (atomically, through a rename, as config management tools do).
  std::string Write(const std::string& name, const std::string& content) const {
    std::string tmp = File("." + name + ".tmp");
    std::ofstream(tmp, std::ios::binary | std::ios::trunc) << content;
    std::filesystem::rename(tmp, File(name));
    return File(name);
  }

 private:
  std::string path_;
};

// A CA, a server certificate for 127.0.0.1/localhost, a client certificate from that CA,
// and a self-signed client certificate nobody trusts. P-256 keys: quick to make and use.
struct TestPki {
  explicit TestPki(const TempDir& dir) : dir_(dir) {
    auto run = [](const std::string& command) {
      ASSERT_EQ(std::system((command + " >/dev/null 2>&1").c_str()), 0) << command;
    };
    const std::string key = " -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2";
    const std::string leaf = " -addext basicConstraints=critical,CA:FALSE";
    run("openssl req -x509" + key + " -keyout " + dir.File("ca.key") + " -out " +
        dir.File("ca.crt") + " -subj /CN=kvip-test-ca");
    run("openssl req -x509" + key + " -CA " + dir.File("ca.crt") + " -CAkey " + dir.File("ca.key") +
        " -keyout " + dir.File("server.key") + " -out " + dir.File("server.crt") +
        " -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1" + leaf +
        " -addext extendedKeyUsage=serverAuth");
    run("openssl req -x509" + key + " -CA " + dir.File("ca.crt") + " -CAkey " + dir.File("ca.key") +
        " -keyout " + dir.File("client.key") + " -out " + dir.File("client.crt") +
        " -subj /CN=prometheus" + leaf + " -addext extendedKeyUsage=clientAuth");
    run("openssl req -x509" + key + " -keyout " + dir.File("stranger.key") + " -out " +
        dir.File("stranger.crt") + " -subj /CN=stranger" + leaf +
        " -addext extendedKeyUsage=clientAuth");
  }
  std::string ca() const { return dir_.File("ca.crt"); }
  std::string server_cert() const { return dir_.File("server.crt"); }
  std::string server_key() const { return dir_.File("server.key"); }
  std::string client_cert() const { return dir_.File("client.crt"); }
  std::string client_key() const { return dir_.File("client.key"); }
  std::string stranger_cert() const { return dir_.File("stranger.crt"); }
  std::string stranger_key() const { return dir_.File("stranger.key"); }

 private:
  const TempDir& dir_;
};

// bcrypt at the lowest cost, so that tests stay quick.
inline std::string BcryptHashForTest(const std::string& password, const char* prefix = "$2y$") {
  char salt[CRYPT_GENSALT_OUTPUT_SIZE];
  if (!crypt_gensalt_rn(prefix, 4, nullptr, 0, salt, sizeof salt)) return "";
  auto data = std::make_unique<crypt_data>();
  const char* hash = crypt_rn(password.c_str(), salt, data.get(), sizeof(crypt_data));
  return hash ? hash : "";
}

// Polls condition() until it holds or the deadline passes.
template <typename Condition>
bool WaitFor(Condition condition, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

// A blocking TCP connection to 127.0.0.1:port with raw writes and reads.
class RawConnection {
 public:
  explicit RawConnection(int port) : socket_(io_) {
    socket_.connect(
        {boost::asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)});
  }
  void Send(const std::string& bytes) {
    boost::system::error_code error;
    boost::asio::write(socket_, boost::asio::buffer(bytes), error);
  }
  // Reads one HTTP response (header plus Content-Length body, unless it answers a HEAD);
  // "" when the peer closed first.
  std::string ReadResponse(bool expect_body = true) {
    boost::system::error_code error;
    size_t header_end;
    while ((header_end = pending_.find("\r\n\r\n")) == std::string::npos) {
      if (!ReadMore()) return "";
    }
    size_t length = 0;
    auto at = Lower(pending_.substr(0, header_end)).find("content-length:");
    if (at != std::string::npos && expect_body) length = std::stoul(pending_.substr(at + 15));
    while (pending_.size() < header_end + 4 + length) {
      if (!ReadMore()) return "";
    }
    std::string response = pending_.substr(0, header_end + 4 + length);
    pending_.erase(0, response.size());
    return response;
  }
  // True once the server has closed the connection (reads return EOF or reset).
  bool ClosedByPeer() {
    char byte;
    boost::system::error_code error;
    socket_.non_blocking(true);
    size_t n = socket_.read_some(boost::asio::buffer(&byte, 1), error);
    socket_.non_blocking(false);
    if (n == 1) pending_.push_back(byte);
    return error && error != boost::asio::error::would_block;
  }

 private:
  static std::string Lower(std::string text) {
    for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return text;
  }
  bool ReadMore() {
    char chunk[4096];
    boost::system::error_code error;
    size_t n = socket_.read_some(boost::asio::buffer(chunk), error);
    pending_.append(chunk, n);
    return !error || n > 0;
  }

  boost::asio::io_context io_;
  boost::asio::ip::tcp::socket socket_;
  std::string pending_;
};

}  // namespace kvip::testing
