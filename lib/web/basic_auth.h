#pragma once
// HTTP basic auth against bcrypt hashes (libxcrypt), as exporter-toolkit checks
// basic_auth_users: an unknown user costs the same bcrypt as a known one, and verified
// credentials are remembered so that a scrape every 15 s does not pay ~70 ms of bcrypt.

#include <array>
#include <cstddef>
#include <deque>
#include <optional>
#include <string>
#include <string_view>

namespace kvip {

struct BasicCredentials {
  std::string user;
  std::string password;
};

// Parses an Authorization header value ("Basic dXNlcjpwYXNz"); nullopt when it is not
// well-formed basic auth.
std::optional<BasicCredentials> ParseBasicAuthorization(std::string_view header);

// Runs bcrypt (slow on purpose: call it off the I/O thread). False for a malformed hash or
// a password holding a NUL byte, which crypt() would silently cut.
bool BcryptMatches(std::string_view password, const std::string& hash);

// A bcrypt hash of a password nobody has, checked for unknown users so that the answer
// takes as long as for a known user.
const std::string& DecoyBcryptHash();

// Remembers credentials that passed bcrypt, keyed by a SHA-256 of user, hash and password
// (the password itself is not kept). Bounded; the oldest entry goes first. Not thread-safe.
class VerifiedCredentials {
 public:
  explicit VerifiedCredentials(size_t capacity = 64) : capacity_(capacity) {}
  bool Contains(std::string_view user, std::string_view hash, std::string_view password) const;
  void Add(std::string_view user, std::string_view hash, std::string_view password);

 private:
  using Key = std::array<unsigned char, 32>;
  static Key MakeKey(std::string_view user, std::string_view hash, std::string_view password);
  size_t capacity_;
  std::deque<Key> keys_;
};

}  // namespace kvip
