// Basic auth parsing, bcrypt through libxcrypt, and the verified-credentials cache.

#include <gtest/gtest.h>

#include "web/basic_auth.h"
#include "web/web_config.h"
#include "web_test_util.h"

namespace kvip {
namespace {

TEST(BasicAuth, ParsesAuthorizationHeader) {
  auto credentials = ParseBasicAuthorization("Basic cHJvbWV0aGV1czpzM2NyM3Q6d2l0aDpjb2xvbnM=");
  ASSERT_TRUE(credentials);
  EXPECT_EQ(credentials->user, "prometheus");
  EXPECT_EQ(credentials->password, "s3cr3t:with:colons");

  credentials = ParseBasicAuthorization("basic   dTo=  ");  // scheme is case-insensitive
  ASSERT_TRUE(credentials);
  EXPECT_EQ(credentials->user, "u");
  EXPECT_EQ(credentials->password, "");
}

TEST(BasicAuth, RejectsMalformedHeaders) {
  EXPECT_FALSE(ParseBasicAuthorization(""));
  EXPECT_FALSE(ParseBasicAuthorization("Basic"));
  EXPECT_FALSE(ParseBasicAuthorization("Bearer cHJvbWV0aGV1czpz"));
  EXPECT_FALSE(ParseBasicAuthorization("Basic !!!!"));
  EXPECT_FALSE(ParseBasicAuthorization("Basic bm9jb2xvbg=="));  // "nocolon"
  EXPECT_FALSE(ParseBasicAuthorization("Basic Y"));             // a lone sextet
}

TEST(BasicAuth, BcryptMatchesHtpasswdStyleHashes) {
  for (const char* prefix : {"$2y$", "$2b$", "$2a$"}) {
    std::string hash = testing::BcryptHashForTest("correct horse", prefix);
    ASSERT_TRUE(IsBcryptHash(hash)) << prefix << " " << hash;
    EXPECT_TRUE(BcryptMatches("correct horse", hash)) << prefix;
    EXPECT_FALSE(BcryptMatches("correct horse ", hash)) << prefix;
    EXPECT_FALSE(BcryptMatches("", hash)) << prefix;
  }
  // A hash from exporter-toolkit's documentation (htpasswd -nBC 10).
  EXPECT_FALSE(BcryptMatches("x", "$2y$10$X0h1gDsPszWURQaxFh.zoubFi6DXncSjhoQNJgRrnGs7EsimhC7zG"));
}

TEST(BasicAuth, PasswordWithNulNeverMatches) {
  std::string hash = testing::BcryptHashForTest("abc");
  EXPECT_FALSE(BcryptMatches(std::string("abc\0def", 7), hash));
}

TEST(BasicAuth, MalformedHashNeverMatches) {
  EXPECT_FALSE(BcryptMatches("abc", "abc"));
  EXPECT_FALSE(BcryptMatches("", ""));
}

TEST(BasicAuth, DecoyHashIsAValidCostTenHash) {
  EXPECT_TRUE(IsBcryptHash(DecoyBcryptHash()));
  EXPECT_EQ(DecoyBcryptHash().substr(0, 7), "$2y$10$");
}

TEST(BasicAuth, VerifiedCredentialsAreBoundedAndExact) {
  VerifiedCredentials verified(2);
  verified.Add("alice", "h1", "pw");
  EXPECT_TRUE(verified.Contains("alice", "h1", "pw"));
  EXPECT_FALSE(verified.Contains("alice", "h1", "pw2"));
  EXPECT_FALSE(verified.Contains("alice", "h2", "pw"));  // a changed hash invalidates
  EXPECT_FALSE(verified.Contains("alic", "eh1", "pw"));  // fields do not run into each other
  verified.Add("bob", "h1", "pw");
  verified.Add("carol", "h1", "pw");
  EXPECT_FALSE(verified.Contains("alice", "h1", "pw"));  // oldest went first
  EXPECT_TRUE(verified.Contains("bob", "h1", "pw"));
  EXPECT_TRUE(verified.Contains("carol", "h1", "pw"));
}

}  // namespace
}  // namespace kvip
