// --web.config.file parsing and the TLS context built from it.

#include "web/web_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "web/tls_context.h"
#include "web_test_util.h"

namespace kvip {
namespace {

using ::testing::HasSubstr;

constexpr const char* kHash = "$2y$10$X0h1gDsPszWURQaxFh.zoubFi6DXncSjhoQNJgRrnGs7EsimhC7zG";

WebConfigResult Parse(const std::string& text) { return ParseWebConfig(text, "/etc/kvip/web.yml"); }

TEST(WebConfig, EmptyFileMeansPlainHttpWithoutAuth) {
  auto result = Parse("");
  ASSERT_TRUE(result.ok()) << result.error;
  EXPECT_FALSE(result.config.tls);
  EXPECT_TRUE(result.config.basic_auth_users.empty());
}

TEST(WebConfig, FullExampleResolvesRelativeFilesAgainstTheConfigDirectory) {
  auto result = Parse(R"(
tls_server_config:
  cert_file: server.crt
  key_file: /abs/server.key
  client_auth_type: RequireAndVerifyClientCert
  client_ca_file: ../ca/clients.crt
  min_version: TLS13
  cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256]
  curve_preferences: [X25519, CurveP256]
  prefer_server_cipher_suites: false
http_server_config:
  http2: false
  headers:
    X-Frame-Options: deny
    Strict-Transport-Security: max-age=31536000; includeSubDomains
basic_auth_users:
  prometheus: )" + std::string(kHash) +
                      "\n");
  ASSERT_TRUE(result.ok()) << result.error;
  const WebConfig& config = result.config;
  ASSERT_TRUE(config.tls);
  EXPECT_EQ(config.tls->cert_file, "/etc/kvip/server.crt");
  EXPECT_EQ(config.tls->key_file, "/abs/server.key");
  EXPECT_EQ(config.tls->client_ca_file, "/etc/ca/clients.crt");
  EXPECT_EQ(config.tls->client_auth, ClientAuth::kRequireAndVerifyClientCert);
  EXPECT_EQ(config.tls->min_version, TlsVersion::kTls13);
  EXPECT_EQ(config.tls->max_version, TlsVersion::kTls13);
  EXPECT_THAT(config.tls->curve_preferences, ::testing::ElementsAre("X25519", "P-256"));
  EXPECT_FALSE(config.tls->prefer_server_cipher_suites);
  ASSERT_EQ(config.headers.size(), 2u);
  EXPECT_EQ(config.headers[0].first, "X-Frame-Options");
  ASSERT_NE(config.FindUserHash("prometheus"), nullptr);
  EXPECT_EQ(*config.FindUserHash("prometheus"), kHash);
  EXPECT_EQ(config.FindUserHash("mallory"), nullptr);
  EXPECT_THAT(
      config.ReferencedFiles(),
      ::testing::ElementsAre("/etc/kvip/server.crt", "/abs/server.key", "/etc/ca/clients.crt"));
}

TEST(WebConfig, TlsBlockWithNothingSetMeansNoTls) {
  auto result = Parse("tls_server_config:\n  min_version: TLS12\n");
  ASSERT_TRUE(result.ok()) << result.error;
  EXPECT_FALSE(result.config.tls);
}

TEST(WebConfig, ErrorsNameTheFileAndTheField) {
  struct Case {
    std::string yaml;
    std::string error;
  };
  const Case cases[] = {
      {"tls_server_config:\n  key_file: k\n", "tls_server_config.cert_file is missing"},
      {"tls_server_config:\n  cert_file: c\n", "tls_server_config.key_file is missing"},
      {"tls_server_config:\n  cert_file: c\n  key_file: k\n  client_ca_file: ca\n",
       "client_ca_file is set but client_auth_type is NoClientCert"},
      {"tls_server_config:\n  cert_file: c\n  key_file: k\n  client_auth_type: "
       "RequireAndVerifyClientCert\n",
       "RequireAndVerifyClientCert needs client_ca_file"},
      {"tls_server_config:\n  cert_file: c\n  key_file: k\n  client_auth_type: Maybe\n",
       "tls_server_config.client_auth_type: unknown value \"Maybe\" (want one of NoClientCert"},
      {"tls_server_config:\n  cert_file: c\n  key_file: k\n  min_version: TLS14\n",
       "tls_server_config.min_version: unknown value \"TLS14\""},
      {"tls_server_config:\n  cert_file: c\n  key_file: k\n  min_version: TLS13\n  max_version: "
       "TLS12\n",
       "min_version TLS13 is above max_version TLS12"},
      {"tls_server_config:\n  cert_file: c\n  key_file: k\n  curve_preferences: [CurveP224]\n",
       "tls_server_config.curve_preferences: unknown value \"CurveP224\""},
      {"tls_server_config:\n  cert_file: c\n  keyfile: k\n",
       "unknown field \"keyfile\" in tls_server_config"},
      {"tls_config: {}\n", "unknown field \"tls_config\""},
      {"basic_auth_users:\n  alice: secret\n", "basic_auth_users.alice: not a bcrypt hash"},
      {"basic_auth_users:\n  alice: $1$abc$def\n", "basic_auth_users.alice: not a bcrypt hash"},
      {"basic_auth_users:\n  alice:\n", "basic_auth_users.alice: not a bcrypt hash"},
      {"basic_auth_users:\n  a:b: " + std::string(kHash) + "\n", "contains ':'"},
      {"basic_auth_users:\n  - alice\n", "basic_auth_users: want a mapping"},
      {"http_server_config:\n  headers:\n    Server: kvip\n",
       "header \"Server\" can not be configured"},
      {"http_server_config:\n  headers:\n    X-Frame-Options: allow\n",
       "http_server_config.headers.X-Frame-Options: invalid value \"allow\" (want one of deny, "
       "sameorigin)"},
      {"http_server_config:\n  http2: maybe\n", "http_server_config.http2: want true or false"},
      {"basic_auth_users: {a: " + std::string(kHash) + ", a: " + kHash + "}\n",
       "basic_auth_users.a: defined more than once"},
      {"tls_server_config: [\n", "line 2, column 1"},
      {"just a string\n", "top level: want a mapping"},
  };
  for (const auto& c : cases) {
    auto result = Parse(c.yaml);
    EXPECT_FALSE(result.ok()) << c.yaml;
    EXPECT_THAT(result.error, HasSubstr("web config /etc/kvip/web.yml: ")) << c.yaml;
    EXPECT_THAT(result.error, HasSubstr(c.error)) << c.yaml;
  }
}

TEST(WebConfig, MissingFileIsAClearError) {
  auto result = LoadWebConfig("/nonexistent/web.yml");
  EXPECT_EQ(result.error,
            "web config /nonexistent/web.yml: cannot read: No such file or directory");
}

TEST(WebConfig, EndlessOrDirectoryFileIsAClearError) {
  EXPECT_EQ(LoadWebConfig("/dev/zero").error, "web config /dev/zero: larger than 1048576 bytes");
  EXPECT_EQ(LoadWebConfig("/etc").error, "web config /etc: cannot read: Is a directory");
}

TEST(WebConfig, BcryptHashShapes) {
  EXPECT_TRUE(IsBcryptHash(kHash));
  EXPECT_TRUE(IsBcryptHash("$2b$04$abcdefghijklmnopqrstuuZ7i2hYlTkPd2mM3ovUHh2pc4/2ZBZDm"));
  EXPECT_FALSE(
      IsBcryptHash("$2y$03$X0h1gDsPszWURQaxFh.zoubFi6DXncSjhoQNJgRrnGs7EsimhC7zG"));  // cost
  EXPECT_FALSE(IsBcryptHash("$2x$10$X0h1gDsPszWURQaxFh.zoubFi6DXncSjhoQNJgRrnGs7EsimhC7zG"));
  EXPECT_FALSE(
      IsBcryptHash("$2y$10$X0h1gDsPszWURQaxFh.zoubFi6DXncSjhoQNJgRrnGs7EsimhC7z"));  // short
  EXPECT_FALSE(IsBcryptHash("$2y$10$X0h1gDsPszWURQaxFh.zoubFi6DXncSjhoQNJgRrnGs7EsimhC7z!"));
}

class TlsContextTest : public ::testing::Test {
 protected:
  TlsServerConfig Tls() const {
    TlsServerConfig tls;
    tls.cert_file = pki_.server_cert();
    tls.key_file = pki_.server_key();
    return tls;
  }
  testing::TempDir dir_;
  testing::TestPki pki_{dir_};
};

TEST_F(TlsContextTest, BuildsForEveryClientAuthType) {
  for (ClientAuth auth : {ClientAuth::kNoClientCert, ClientAuth::kRequestClientCert,
                          ClientAuth::kRequireAnyClientCert, ClientAuth::kVerifyClientCertIfGiven,
                          ClientAuth::kRequireAndVerifyClientCert}) {
    TlsServerConfig tls = Tls();
    tls.client_auth = auth;
    if (auth != ClientAuth::kNoClientCert) tls.client_ca_file = pki_.ca();
    auto result = MakeTlsContext(tls);
    EXPECT_TRUE(result.ok()) << ClientAuthName(auth) << ": " << result.error;
    EXPECT_NE(result.context, nullptr);
  }
}

TEST_F(TlsContextTest, UnreadableFilesAreNamed) {
  TlsServerConfig tls = Tls();
  tls.cert_file = dir_.File("missing.crt");
  EXPECT_EQ(MakeTlsContext(tls).error, "tls_server_config.cert_file " + dir_.File("missing.crt") +
                                           ": No such file or directory");
  tls = Tls();
  tls.key_file = dir_.File("missing.key");
  EXPECT_EQ(MakeTlsContext(tls).error, "tls_server_config.key_file " + dir_.File("missing.key") +
                                           ": No such file or directory");
}

TEST_F(TlsContextTest, WrongContentIsNamed) {
  TlsServerConfig tls = Tls();
  tls.cert_file = dir_.Write("garbage.crt", "not a certificate\n");
  EXPECT_THAT(MakeTlsContext(tls).error,
              HasSubstr("cert_file " + tls.cert_file + ": not a PEM certificate"));

  tls = Tls();
  tls.key_file = pki_.client_key();  // a valid key, but not the certificate's
  EXPECT_THAT(MakeTlsContext(tls).error, HasSubstr("does not match cert_file"));

  tls = Tls();
  tls.client_auth = ClientAuth::kRequireAndVerifyClientCert;
  tls.client_ca_file = dir_.Write("empty-ca.crt", "");
  EXPECT_THAT(MakeTlsContext(tls).error,
              HasSubstr("client_ca_file " + tls.client_ca_file + ": holds no PEM certificate"));

  tls = Tls();
  tls.cipher_suites = {"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_FANCY_CIPHER"};
  EXPECT_EQ(MakeTlsContext(tls).error,
            "tls_server_config.cipher_suites: unknown cipher \"TLS_FANCY_CIPHER\"");
  tls.cipher_suites = {"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_AES_128_GCM_SHA256"};
  EXPECT_TRUE(MakeTlsContext(tls).ok());
}

TEST_F(TlsContextTest, EncryptedKeyIsAnErrorNotAPrompt) {
  std::string encrypted = dir_.File("encrypted.key");
  ASSERT_EQ(std::system(("openssl pkey -in " + pki_.server_key() +
                         " -aes256 -passout pass:x -out " + encrypted + " 2>/dev/null")
                            .c_str()),
            0);
  TlsServerConfig tls = Tls();
  tls.key_file = encrypted;
  EXPECT_THAT(MakeTlsContext(tls).error, HasSubstr("not an unencrypted PEM private key"));
}

}  // namespace
}  // namespace kvip
