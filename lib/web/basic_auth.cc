#include "web/basic_auth.h"

#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <memory>

#include "common/base64.h"
#include "web/web_config.h"

namespace kvip {

std::optional<BasicCredentials> ParseBasicAuthorization(std::string_view header) {
  constexpr std::string_view kScheme = "basic ";
  if (header.size() <= kScheme.size()) return std::nullopt;
  for (size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(header[i])) != kScheme[i]) return std::nullopt;
  }
  std::string_view encoded = header.substr(kScheme.size());
  while (!encoded.empty() && encoded.front() == ' ') encoded.remove_prefix(1);
  while (!encoded.empty() && encoded.back() == ' ') encoded.remove_suffix(1);
  auto decoded = DecodeBase64(encoded);
  if (!decoded) return std::nullopt;
  size_t colon = decoded->find(':');
  if (colon == std::string::npos) return std::nullopt;
  return BasicCredentials{decoded->substr(0, colon), decoded->substr(colon + 1)};
}

bool BcryptMatches(std::string_view password, const std::string& hash) {
  if (!IsBcryptHash(hash) || password.find('\0') != std::string_view::npos) return false;
  auto data = std::make_unique<crypt_data>();  // 32 KiB of scratch: not on the stack
  std::string phrase(password);
  const char* computed = crypt_rn(phrase.c_str(), hash.c_str(), data.get(), sizeof(crypt_data));
  OPENSSL_cleanse(phrase.data(), phrase.size());
  if (computed == nullptr || std::string_view(computed).size() != hash.size()) return false;
  return CRYPTO_memcmp(computed, hash.data(), hash.size()) == 0;
}

const std::string& DecoyBcryptHash() {
  static const std::string hash = "$2y$10$kvipexporterdecoysalt.xMI5zL1g.LiF5Qd6JTlAvwXmeNWsbb2";
  return hash;
}

VerifiedCredentials::Key VerifiedCredentials::MakeKey(std::string_view user, std::string_view hash,
                                                      std::string_view password) {
  std::string input;
  input.reserve(user.size() + hash.size() + password.size() + 2);
  input.append(user).push_back('\0');
  input.append(hash).push_back('\0');
  input.append(password);
  Key key{};
  unsigned int size = 0;
  EVP_Digest(input.data(), input.size(), key.data(), &size, EVP_sha256(), nullptr);
  OPENSSL_cleanse(input.data(), input.size());
  return key;
}

bool VerifiedCredentials::Contains(std::string_view user, std::string_view hash,
                                   std::string_view password) const {
  Key key = MakeKey(user, hash, password);
  return std::find(keys_.begin(), keys_.end(), key) != keys_.end();
}

void VerifiedCredentials::Add(std::string_view user, std::string_view hash,
                              std::string_view password) {
  Key key = MakeKey(user, hash, password);
  if (std::find(keys_.begin(), keys_.end(), key) != keys_.end()) return;
  keys_.push_back(key);
  if (keys_.size() > capacity_) keys_.pop_front();
}

}  // namespace kvip
