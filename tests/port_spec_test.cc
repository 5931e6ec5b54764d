// The Net::Server `port` grammar: host:port/proto, [v6]:port, port/proto,
// service names, path|unix, and the errors a user sees for bad values.
#include "common/port_spec.h"

#include <gtest/gtest.h>
#include <sys/socket.h>

namespace gatehouse {
namespace {

PortSpec Parse(const std::string& text, const std::string& host = "*",
               Protocol proto = Protocol::kTcp) {
  PortSpec spec;
  std::string error;
  EXPECT_TRUE(ParsePortSpec(text, host, proto, &spec, &error)) << text << ": " << error;
  return spec;
}

std::string ParseError(const std::string& text) {
  PortSpec spec;
  std::string error;
  EXPECT_FALSE(ParsePortSpec(text, "*", Protocol::kTcp, &spec, &error)) << text;
  return error;
}

TEST(PortSpec, HostPortProto) {
  PortSpec spec = Parse("127.0.0.1:7007/tcp");
  EXPECT_EQ(spec.host, "127.0.0.1");
  EXPECT_EQ(spec.port, 7007);
  EXPECT_EQ(spec.protocol, Protocol::kTcp);
  EXPECT_EQ(spec.ToString(), "127.0.0.1:7007/tcp");
}

TEST(PortSpec, BarePortTakesHostAndProtoFromKeys) {
  PortSpec spec = Parse("7007", "127.0.0.2", Protocol::kTcp);
  EXPECT_EQ(spec.ToString(), "127.0.0.2:7007/tcp");
  EXPECT_EQ(Parse("7007").ToString(), "*:7007/tcp");
  EXPECT_EQ(Parse("7007/udp").protocol, Protocol::kUdp);
  EXPECT_EQ(Parse("7007/TCP").protocol, Protocol::kTcp);
}

TEST(PortSpec, Ipv6InBrackets) {
  PortSpec spec = Parse("[::1]:7007");
  EXPECT_EQ(spec.host, "::1");
  EXPECT_EQ(spec.port, 7007);
  EXPECT_EQ(spec.ToString(), "[::1]:7007/tcp");
  EXPECT_EQ(Parse("[2001:db8::5]:80/tcp").host, "2001:db8::5");
}

TEST(PortSpec, ServiceNamesFromEtcServices) {
  EXPECT_EQ(Parse("http").port, 80);
  EXPECT_EQ(Parse("localhost:echo").port, 7);
  EXPECT_EQ(Parse("localhost:echo").host, "localhost");
}

TEST(PortSpec, UnixSockets) {
  PortSpec spec = Parse("/run/echo.sock|unix");
  EXPECT_EQ(spec.protocol, Protocol::kUnix);
  EXPECT_EQ(spec.path, "/run/echo.sock");
  EXPECT_EQ(spec.socket_type, SOCK_STREAM);
  EXPECT_EQ(Parse("/run/a.sock|SOCK_STREAM|unix").socket_type, SOCK_STREAM);
  EXPECT_EQ(Parse("/run/a.sock|SOCK_DGRAM|unix").socket_type, SOCK_DGRAM);
  EXPECT_EQ(Parse("/run/b.sock", "*", Protocol::kUnix).path, "/run/b.sock");
}

TEST(PortSpec, ErrorsQuoteTheValue) {
  EXPECT_EQ(ParseError("70000"), "\"70000\" is not a port (0-65535)");
  EXPECT_EQ(ParseError("127.0.0.1:99999"), "\"99999\" is not a port (0-65535)");
  EXPECT_NE(ParseError("nosuchservice").find("not a port or a service name"), std::string::npos);
  EXPECT_NE(ParseError("7007/sctp").find("\"sctp\" is not a protocol"), std::string::npos);
  EXPECT_NE(ParseError("::1:7007").find("in brackets"), std::string::npos);
  EXPECT_NE(ParseError("[::1]").find("not [address]:port"), std::string::npos);
  EXPECT_NE(ParseError("[nothex]:80").find("not an IPv6 address"), std::string::npos);
  EXPECT_NE(ParseError("relative.sock|unix").find("absolute path"), std::string::npos);
  EXPECT_NE(ParseError("/x|SOCK_RAW|unix").find("not a socket type"), std::string::npos);
  EXPECT_NE(ParseError("/" + std::string(120, 'a') + "|unix").find("too long"), std::string::npos);
  EXPECT_NE(ParseError("bad host!:80").find("not a host name"), std::string::npos);
  EXPECT_EQ(ParseError(""), "empty port");
}

TEST(PortSpec, ResolveWildcardGivesBothFamilies) {
  std::vector<SocketAddress> addresses;
  std::string error;
  ASSERT_TRUE(ResolvePortSpec(Parse("*:7007"), &addresses, &error)) << error;
  bool v4 = false, v6 = false;
  for (const SocketAddress& a : addresses) {
    if (a.ToString() == "0.0.0.0:7007") v4 = true;
    if (a.ToString() == "[::]:7007") v6 = true;
  }
  EXPECT_TRUE(v4);
  EXPECT_TRUE(v6);
}

TEST(PortSpec, ResolveLiterals) {
  std::vector<SocketAddress> addresses;
  std::string error;
  ASSERT_TRUE(ResolvePortSpec(Parse("[::1]:7007"), &addresses, &error)) << error;
  ASSERT_EQ(addresses.size(), 1u);
  EXPECT_EQ(addresses[0].ToString(), "[::1]:7007");
  ASSERT_TRUE(ResolvePortSpec(Parse("/tmp/x.sock|unix"), &addresses, &error));
  EXPECT_EQ(addresses[0].ToString(), "/tmp/x.sock");
}

}  // namespace
}  // namespace gatehouse
