// Small pieces of lib/web: listen addresses, gzip negotiation, the connection table.

#include <gtest/gtest.h>
#include <zlib.h>

#include "web/connection_table.h"
#include "web/gzip.h"
#include "web/listen_address.h"

namespace kvip {
namespace {

TEST(ListenAddress, PrometheusStyleAddresses) {
  auto all = ParseListenAddress(":9112");
  ASSERT_TRUE(all);
  EXPECT_EQ(all->host, "");
  EXPECT_EQ(all->port, 9112);
  EXPECT_EQ(ParseListenAddress("127.0.0.1:0")->host, "127.0.0.1");
  EXPECT_EQ(ParseListenAddress("localhost:9112")->host, "127.0.0.1");
  EXPECT_EQ(ParseListenAddress("[::1]:9112")->host, "::1");
  EXPECT_EQ(ParseListenAddress("[::1]:9112")->port, 9112);
  EXPECT_EQ(ParseListenAddress("node1.example:65535")->host, "node1.example");
}

TEST(ListenAddress, RejectsMalformed) {
  for (const char* bad :
       {"9112", ":", ":65536", ":91a2", "::1:9112", "[::1:9112", "[]:9112", ":-1"}) {
    EXPECT_FALSE(ParseListenAddress(bad)) << bad;
  }
}

TEST(Gzip, NegotiatesLikeGoDoes) {
  EXPECT_TRUE(AcceptsGzip("gzip"));
  EXPECT_TRUE(AcceptsGzip("deflate, GZIP;q=0.5"));
  EXPECT_TRUE(AcceptsGzip("*"));
  EXPECT_FALSE(AcceptsGzip(""));
  EXPECT_FALSE(AcceptsGzip("identity"));
  EXPECT_FALSE(AcceptsGzip("gzip;q=0"));
  EXPECT_FALSE(AcceptsGzip("gzip; q=0.000"));
  EXPECT_FALSE(AcceptsGzip("x-gzip2"));
}

TEST(Gzip, RoundTripsThroughZlib) {
  std::string text;
  for (int i = 0; i < 1000; ++i)
    text += "kvip_exporter_web_requests_total{code=\"200\"} " + std::to_string(i) + "\n";
  auto compressed = Gzip(text);
  ASSERT_TRUE(compressed);
  EXPECT_LT(compressed->size(), text.size() / 5);
  EXPECT_EQ(static_cast<unsigned char>((*compressed)[0]), 0x1f);  // gzip magic
  EXPECT_EQ(static_cast<unsigned char>((*compressed)[1]), 0x8b);

  z_stream stream{};
  ASSERT_EQ(inflateInit2(&stream, 15 + 16), Z_OK);
  std::string out(text.size() + 16, '\0');
  stream.next_in = reinterpret_cast<Bytef*>(compressed->data());
  stream.avail_in = static_cast<uInt>(compressed->size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(inflate(&stream, Z_FINISH), Z_STREAM_END);
  out.resize(stream.total_out);
  inflateEnd(&stream);
  EXPECT_EQ(out, text);
}

class FakeConnection : public TrackedConnection {
 public:
  explicit FakeConnection(ConnectionTable& table) : table_(table) { table_.Add(*this); }
  ~FakeConnection() override { table_.Remove(*this); }
  void Drop() override {
    dropped = true;
    table_.Remove(*this);
  }
  bool dropped = false;

 private:
  ConnectionTable& table_;
};

TEST(ConnectionTable, MostStalledIsTheLeastRecentlyProgressedUnpinned) {
  ConnectionTable table;
  FakeConnection a(table), b(table), c(table);
  EXPECT_EQ(table.size(), 3u);
  EXPECT_EQ(table.MostStalled(), &a);
  table.Progressed(a);
  EXPECT_EQ(table.MostStalled(), &b);
  table.Pin(b, true);
  EXPECT_EQ(table.MostStalled(), &c);
  table.Pin(c, true);
  EXPECT_EQ(table.MostStalled(), &a);
  table.Pin(a, true);
  EXPECT_EQ(table.MostStalled(), nullptr);
  table.Remove(b);
  table.Remove(b);  // idempotent
  EXPECT_EQ(table.size(), 2u);
  table.DropAll();
  EXPECT_TRUE(a.dropped);
  EXPECT_FALSE(b.dropped);
  EXPECT_TRUE(c.dropped);
  EXPECT_EQ(table.size(), 0u);
}

}  // namespace
}  // namespace kvip
