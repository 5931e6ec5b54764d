// PROXY protocol on real connections: a hand-made client (and a real HAProxy)
// sends v1 and v2 headers; the program sees the client the header names in
// TCPREMOTEIP/TCPREMOTEPORT and the header's destination in TCPLOCALIP/PORT,
// the bytes after the header untouched; proxy_from, the access rules, a split
// header, a stalled one, a malformed one and the bound on pending headers.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/monotonic_clock.h"
#include "tests/integration/harness.h"

namespace gatehouse::testing {
namespace {

// Prints what gatehouse told it about both ends, then the first line it reads:
// the client's own bytes, which must come through after the header untouched.
const char* kShowEnds =
    "exec = /bin/sh\n"
    "args = -c 'read line; echo \"$TCPREMOTEIP $TCPREMOTEPORT $TCPLOCALIP $TCPLOCALPORT $line\"'\n";

using Bytes = std::string;
using namespace std::string_literals;

Bytes V2Signature() { return Bytes("\r\n\r\n\0\r\nQUIT\n", 12); }

Bytes BigEndian16(size_t value) {
  return Bytes{static_cast<char>(value >> 8), static_cast<char>(value & 0xFF)};
}

Bytes Tlv(uint8_t type, const std::string& value) {
  return Bytes(1, static_cast<char>(type)) + BigEndian16(value.size()) + value;
}

Bytes V2(uint8_t command, uint8_t family, const Bytes& block) {
  return V2Signature() + static_cast<char>(command) + static_cast<char>(family) +
         BigEndian16(block.size()) + block;
}

Bytes Inet4Block(const std::string& source, uint16_t source_port, const std::string& destination,
                 uint16_t destination_port) {
  in_addr s{}, d{};
  inet_pton(AF_INET, source.c_str(), &s);
  inet_pton(AF_INET, destination.c_str(), &d);
  return Bytes(reinterpret_cast<const char*>(&s), 4) + Bytes(reinterpret_cast<const char*>(&d), 4) +
         BigEndian16(source_port) + BigEndian16(destination_port);
}

Bytes Inet6Block(const std::string& source, uint16_t source_port, const std::string& destination,
                 uint16_t destination_port) {
  in6_addr s{}, d{};
  inet_pton(AF_INET6, source.c_str(), &s);
  inet_pton(AF_INET6, destination.c_str(), &d);
  return Bytes(reinterpret_cast<const char*>(&s), 16) +
         Bytes(reinterpret_cast<const char*>(&d), 16) + BigEndian16(source_port) +
         BigEndian16(destination_port);
}

void SendAll(int fd, const Bytes& bytes) {
  size_t sent = 0;
  while (sent < bytes.size()) {
    ssize_t n = send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    ASSERT_GT(n, 0) << "send: " << strerror(errno);
    sent += static_cast<size_t>(n);
  }
}

struct Reply {
  std::string text;
  bool closed = false;  // EOF (or reset) came within the time
  double seconds = 0;   // until EOF
};

// Reads until the server closes the connection or `timeout` passes.
Reply ReadToEnd(int fd, double timeout_seconds = 10) {
  Reply reply;
  double start = MonotonicSeconds();
  for (;;) {
    double left = timeout_seconds - (MonotonicSeconds() - start);
    if (left <= 0) break;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left * 1000) + 1) <= 0) continue;
    char buffer[4096];
    ssize_t n = recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) {
      reply.closed = true;
      break;
    }
    reply.text.append(buffer, static_cast<size_t>(n));
  }
  reply.seconds = MonotonicSeconds() - start;
  return reply;
}

int LocalPort(int fd) {
  sockaddr_storage address{};
  socklen_t length = sizeof address;
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  if (address.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<sockaddr_in6*>(&address)->sin6_port);
  }
  return ntohs(reinterpret_cast<sockaddr_in*>(&address)->sin_port);
}

// proxy_from is required with proxy_protocol: the test clients connect from
// loopback addresses.
const char* kFromLoopback = "proxy_from = 127.0.0.0/8\n";

class ProxyTest : public GatehouseTest {
 protected:
  // `keys` for the service; proxy_from = 127.0.0.0/8 unless they name one.
  ::testing::AssertionResult StartWith(const std::string& keys) {
    std::string from = keys.find("proxy_from") == std::string::npos ? kFromLoopback : "";
    return Start("log_level = 3\n", {{"web.conf", std::string("[web]\nport = 127.0.0.1:0\n") +
                                                      kShowEnds + keys + from}});
  }
  // Connects from `source`, sends `bytes`, and reads until the server closes.
  Reply Exchange(const Bytes& bytes, const std::string& source = "127.0.0.1") {
    int fd = ConnectTcp("127.0.0.1", Port("web"), source);
    EXPECT_GE(fd, 0) << "connect from " << source;
    if (fd < 0) return Reply{};
    SendAll(fd, bytes);
    Reply reply = ReadToEnd(fd);
    close(fd);
    return reply;
  }
  // A refusal: closed with no reply, the given log line, and no program started.
  void ExpectRefused(const Bytes& bytes, const std::string& log_line,
                     const std::string& source = "127.0.0.1") {
    LogMark before = gatehouse_->MarkLog();
    Reply reply = Exchange(bytes, source);
    EXPECT_TRUE(reply.closed);
    EXPECT_EQ(reply.text, "");
    EXPECT_TRUE(gatehouse_->WaitForLog(log_line, before)) << gatehouse_->Log(before);
    EXPECT_EQ(gatehouse_->Log(before).find("web: start "), std::string::npos)
        << gatehouse_->Log(before);
  }
};

TEST_F(ProxyTest, V1HeaderNamesTheClientAndTheDataAfterItIsTheProgramsOwn) {
  ASSERT_TRUE(StartWith("proxy_protocol = v1\n"));
  Reply reply = Exchange("PROXY TCP4 203.0.113.7 198.51.100.2 40001 443\r\nhello\n");
  EXPECT_EQ(reply.text, "203.0.113.7 40001 198.51.100.2 443 hello\n");
  EXPECT_TRUE(gatehouse_->WaitForLog("web: start 203.0.113.7:40001 via 127.0.0.1:"))
      << gatehouse_->Log();
  reply = Exchange("PROXY TCP6 2001:db8::7 2001:db8::2 40002 8443\r\nsix\n");
  EXPECT_EQ(reply.text, "2001:db8::7 40002 2001:db8::2 8443 six\n");
}

TEST_F(ProxyTest, V2HeaderWithTlvsNamesTheClient) {
  ASSERT_TRUE(StartWith("proxy_protocol = v2\n"));
  Bytes tlvs = Tlv(0x01, "h2") + Tlv(0x02, "example.com") + Tlv(0x04, std::string(5, '\0'));
  Reply reply =
      Exchange(V2(0x21, 0x11, Inet4Block("192.0.2.10", 50000, "192.0.2.1", 443) + tlvs) + "four\n");
  EXPECT_EQ(reply.text, "192.0.2.10 50000 192.0.2.1 443 four\n");
  reply = Exchange(V2(0x21, 0x21, Inet6Block("2001:db8::10", 50001, "2001:db8::1", 443) + tlvs) +
                   "six\n");
  EXPECT_EQ(reply.text, "2001:db8::10 50001 2001:db8::1 443 six\n");
}

// PROXY UNKNOWN and v2 LOCAL (a proxy's health check): the connection's own ends.
TEST_F(ProxyTest, UnknownAndLocalKeepTheConnectionsOwnAddresses) {
  ASSERT_TRUE(StartWith("proxy_protocol = any\n"));
  std::string own_end = " 127.0.0.1 " + std::to_string(Port("web"));
  int fd = ConnectTcp("127.0.0.1", Port("web"), "127.0.0.3");
  ASSERT_GE(fd, 0);
  SendAll(fd, "PROXY UNKNOWN\r\nunknown\n");
  EXPECT_EQ(ReadToEnd(fd).text,
            "127.0.0.3 " + std::to_string(LocalPort(fd)) + own_end + " unknown\n");
  close(fd);
  fd = ConnectTcp("127.0.0.1", Port("web"), "127.0.0.4");
  ASSERT_GE(fd, 0);
  SendAll(fd, V2(0x20, 0x00, "") + "local\n");
  EXPECT_EQ(ReadToEnd(fd).text,
            "127.0.0.4 " + std::to_string(LocalPort(fd)) + own_end + " local\n");
  close(fd);
}

TEST_F(ProxyTest, ProxyFromRefusesOtherPeers) {
  ASSERT_TRUE(StartWith("proxy_protocol = v1\nproxy_from = 127.0.0.2/32\n"));
  Bytes header = "PROXY TCP4 203.0.113.7 198.51.100.2 40001 443\r\nhello\n";
  ExpectRefused(header, "web: denied 127.0.0.3:", "127.0.0.3");
  EXPECT_NE(gatehouse_->Log().find("not in proxy_from, so it may not send a PROXY header"),
            std::string::npos)
      << gatehouse_->Log();
  EXPECT_EQ(Exchange(header, "127.0.0.2").text, "203.0.113.7 40001 198.51.100.2 443 hello\n");
}

TEST_F(ProxyTest, AccessRulesJudgeTheHeadersAddress) {
  ASSERT_TRUE(
      StartWith("proxy_protocol = v2\ncidr_allow = 0.0.0.0/0\ncidr_deny = 203.0.113.0/24\n"));
  ExpectRefused(V2(0x21, 0x11, Inet4Block("203.0.113.9", 1234, "192.0.2.1", 80)) + "x\n",
                "web: denied 203.0.113.9:1234 via 127.0.0.1:");
  // The connection itself comes from 127.0.0.1, which the rules admit.
  EXPECT_EQ(
      Exchange(V2(0x21, 0x11, Inet4Block("198.51.100.9", 1234, "192.0.2.1", 80)) + "y\n").text,
      "198.51.100.9 1234 192.0.2.1 80 y\n");
}

// The header: a NUL ended the address and the garbage after it was
// ignored. Over a real connection it is refused, the program never starts.
TEST_F(ProxyTest, V1LineWithANulOrOtherGarbageIsRefused) {
  ASSERT_TRUE(StartWith("proxy_protocol = v1\n"));
  ExpectRefused("PROXY TCP4 10.1.2.3\0garbage 10.0.0.1 40001 443\r\nhello\n"s,
                "bad PROXY header: v1 TCP4 line has a byte no address or port has");
  ExpectRefused("PROXY UNKNOWN\x01\r\nhello\n",
                "bad PROXY header: v1 UNKNOWN is not followed by CRLF");
}

// ::10.66.1.1 names the IPv4 host 10.66.1.1 in a deprecated form: judged as
// IPv6 it passed cidr_deny = 10.66.0.0/16 under cidr_allow = ::/0. Refused in
// both versions; the v4-mapped form is judged as the IPv4 address it names.
TEST_F(ProxyTest, AnIpv4AddressInIpv6FormCannotPassCidrDeny) {
  ASSERT_TRUE(
      StartWith("proxy_protocol = any\ncidr_allow = ::/0\ncidr_allow = 192.0.2.0/24\n"
                "cidr_deny = 10.66.0.0/16\n"));
  ExpectRefused("PROXY TCP6 ::10.66.1.1 2001:db8::2 40001 443\r\nhello\n",
                "bad PROXY header: an IPv4-compatible IPv6 address");
  ExpectRefused(V2(0x21, 0x21, Inet6Block("::10.66.1.1", 40001, "2001:db8::2", 443)) + "x\n",
                "bad PROXY header: an IPv4-compatible IPv6 address");
  ExpectRefused("PROXY TCP6 ::ffff:10.66.1.1 2001:db8::2 40001 443\r\nhello\n",
                "web: denied 10.66.1.1:40001 via 127.0.0.1:");
  ExpectRefused(V2(0x21, 0x21, Inet6Block("::ffff:10.66.1.1", 40001, "2001:db8::2", 443)) + "x\n",
                "web: denied 10.66.1.1:40001 via 127.0.0.1:");
  // Admitted: a real IPv6 client and an IPv4 one outside the denied block.
  EXPECT_EQ(Exchange("PROXY TCP6 2001:db8::7 2001:db8::2 40002 443\r\nsix\n").text,
            "2001:db8::7 40002 2001:db8::2 443 six\n");
  EXPECT_EQ(Exchange("PROXY TCP6 ::ffff:192.0.2.7 2001:db8::2 40003 443\r\nfour\n").text,
            "192.0.2.7 40003 2001:db8::2 443 four\n");
}

// proxy_local = close: a load balancer's health check (v2 LOCAL, v1 UNKNOWN)
// is answered by closing; no program starts. A header naming a client is served.
TEST_F(ProxyTest, ProxyLocalCloseAnswersAHealthCheckByClosing) {
  ASSERT_TRUE(StartWith("proxy_protocol = any\nproxy_local = close\n"));
  Bytes local_with_addresses = V2(0x20, 0x11, Inet4Block("192.0.2.1", 1, "192.0.2.2", 2));
  for (const Bytes& health_check :
       {V2(0x20, 0x00, ""), local_with_addresses, Bytes("PROXY UNKNOWN\r\n")}) {
    Reply reply = Exchange(health_check + "hello\n");
    EXPECT_TRUE(reply.closed);
    EXPECT_EQ(reply.text, "");
  }
  // The first is logged at info, the rest counted by the throttle.
  EXPECT_TRUE(gatehouse_->WaitForLog("PROXY LOCAL header closed (proxy_local = close)"))
      << gatehouse_->Log();
  EXPECT_EQ(Exchange("PROXY TCP4 192.0.2.10 192.0.2.1 50000 443\r\nserved\n").text,
            "192.0.2.10 50000 192.0.2.1 443 served\n");
  ASSERT_TRUE(gatehouse_->WaitForLog("web: start 192.0.2.10:50000")) << gatehouse_->Log();
  EXPECT_EQ(Count(gatehouse_->Log(), "web: start "), 1u) << gatehouse_->Log();
}

// HAProxy sends its header in one segment; a hand-made client sends it a byte
// at a time (TCP_NODELAY, a pause between writes), program data right behind.
TEST_F(ProxyTest, HeaderSplitAcrossManySmallWrites) {
  ASSERT_TRUE(StartWith("proxy_protocol = any\n"));
  Bytes v2 = V2(0x21, 0x11,
                Inet4Block("192.0.2.10", 50000, "192.0.2.1", 443) + Tlv(0x02, "split.example"));
  for (const Bytes& header : {v2, Bytes("PROXY TCP4 192.0.2.10 192.0.2.1 50000 443\r\n")}) {
    int fd = ConnectTcp("127.0.0.1", Port("web"));
    ASSERT_GE(fd, 0);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    for (char byte : header) {
      SendAll(fd, Bytes(1, byte));
      usleep(5000);
    }
    SendAll(fd, "split\n");
    EXPECT_EQ(ReadToEnd(fd).text, "192.0.2.10 50000 192.0.2.1 443 split\n");
    close(fd);
  }
}

TEST_F(ProxyTest, StalledHeaderIsClosedAfterProxyTimeout) {
  ASSERT_TRUE(StartWith("proxy_protocol = v1\nproxy_timeout = 1\n"));
  LogMark before = gatehouse_->MarkLog();
  int fd = ConnectTcp("127.0.0.1", Port("web"));
  ASSERT_GE(fd, 0);
  SendAll(fd, "PROXY TCP4 203.0.113.7");
  Reply reply = ReadToEnd(fd);
  close(fd);
  EXPECT_TRUE(reply.closed);
  EXPECT_EQ(reply.text, "");
  EXPECT_GE(reply.seconds, 0.9);  // not before the deadline
  EXPECT_LT(reply.seconds, 3);    // and not long after it
  EXPECT_TRUE(gatehouse_->WaitForLog("web: denied 127.0.0.1:", before));
  std::string log = gatehouse_->Log(before);
  EXPECT_NE(log.find("no complete PROXY header within 1 s (22 bytes came)"), std::string::npos)
      << log;
  EXPECT_EQ(log.find("web: start "), std::string::npos) << log;
}

TEST_F(ProxyTest, MalformedOrWrongVersionHeaderIsClosedAndLogged) {
  ASSERT_TRUE(StartWith("proxy_protocol = v2\n"));
  ExpectRefused("GET / HTTP/1.0\r\n\r\n", "bad PROXY header: not a PROXY header");
  ExpectRefused("PROXY TCP4 203.0.113.7 198.51.100.2 40001 443\r\n",
                "bad PROXY header: a v1 header, but proxy_protocol = v2");
  Bytes oversized = V2(0x21, 0x11, Inet4Block("192.0.2.10", 1, "192.0.2.1", 2));
  oversized[14] = 0x10, oversized[15] = 0x01;  // 4097 bytes follow, over the bound
  ExpectRefused(oversized, "bad PROXY header: v2 length 4097 is over 4096");
  // A TLV of type 1 that claims 9 bytes and has 2 (a literal would stop at its \x00).
  ExpectRefused(V2(0x21, 0x11,
                   Inet4Block("192.0.2.10", 1, "192.0.2.1", 2) + std::string("\x01\x00\x09h2", 5)),
                "bad PROXY header: v2 TLVs overrun the header's length");
}

// A client that opens connections and sends nothing holds at most 64 of the
// supervisor's fds; beyond that its connections are closed at once (one log line
// per 10 s), while another client is served and the slots come back.
TEST_F(ProxyTest, PendingHeadersAreBoundedPerSource) {
  ASSERT_TRUE(StartWith("proxy_protocol = v1\nproxy_timeout = 60\n"));
  std::vector<int> silent;
  for (int i = 0; i < 64; ++i) {
    int fd = ConnectTcp("127.0.0.1", Port("web"), "127.0.0.2");
    ASSERT_GE(fd, 0);
    silent.push_back(fd);
  }
  LogMark before = gatehouse_->MarkLog();
  for (int i = 0; i < 5; ++i) {
    int fd = ConnectTcp("127.0.0.1", Port("web"), "127.0.0.2");
    ASSERT_GE(fd, 0);
    Reply reply = ReadToEnd(fd, 10);
    close(fd);
    EXPECT_TRUE(reply.closed);
    EXPECT_LT(reply.seconds, 5);  // far from proxy_timeout: refused, not timed out
  }
  ASSERT_TRUE(gatehouse_->WaitForLog(
      "64 connections from 127.0.0.2 wait for a PROXY header already", before))
      << gatehouse_->Log(before);
  EXPECT_EQ(Count(gatehouse_->Log(before), "wait for a PROXY header already"), 1u)
      << gatehouse_->Log(before);
  // Another source still has its slots.
  Bytes header = "PROXY TCP4 203.0.113.7 198.51.100.2 40001 443\r\nhello\n";
  std::string served = "203.0.113.7 40001 198.51.100.2 443 hello\n";
  EXPECT_EQ(Exchange(header, "127.0.0.3").text, served);
  // The silent ones leave, logged once (a connect flood must not flood the log):
  // their slots are free again.
  for (int fd : silent) close(fd);
  EXPECT_TRUE(gatehouse_->WaitForLog("closed before sending a PROXY header", before));
  EXPECT_TRUE(WaitUntil([&] { return Exchange(header, "127.0.0.2").text == served; }))
      << gatehouse_->Log(before);
  EXPECT_EQ(Count(gatehouse_->Log(before), "closed before sending a PROXY header"), 1u)
      << gatehouse_->Log(before);
}

// --- a real HAProxy in front (Debian's haproxy, in the foreground) ---

int FreeLoopbackPort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  int port = LocalPort(fd);
  close(fd);
  return port;
}

// haproxy -db (foreground) on a config file, ended by its pid.
class HaproxyProcess {
 public:
  HaproxyProcess(const std::string& config, const std::string& log) {
    pid_ = fork();
    if (pid_ == 0) {
      FILE* out = freopen(log.c_str(), "a", stdout);
      if (out != nullptr) dup2(fileno(stdout), 2);
      execlp("haproxy", "haproxy", "-db", "-f", config.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
  }
  ~HaproxyProcess() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    bool gone = WaitUntil([&] { return waitpid(pid_, nullptr, WNOHANG) == pid_; }, 10);
    if (!gone) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }

 private:
  pid_t pid_ = -1;
};

bool HaveHaproxy() { return RunCommand({"sh", "-c", "command -v haproxy"}).exit_code == 0; }

TEST_F(ProxyTest, BehindARealHaproxy) {
  if (!HaveHaproxy()) GTEST_SKIP() << "haproxy is not installed (tools/dev installs it)";
  ASSERT_TRUE(Start("log_level = 3\n",
                    {{"v1.conf", std::string("[v1]\nport = 127.0.0.1:0\nproxy_protocol = v1\n"
                                             "proxy_from = 127.0.0.1\n") +
                                     kShowEnds},
                     {"v2.conf", std::string("[v2]\nport = 127.0.0.1:0\nproxy_protocol = v2\n"
                                             "proxy_from = 127.0.0.1\n") +
                                     kShowEnds}}));
  int front_v1 = FreeLoopbackPort();
  int front_v2 = FreeLoopbackPort();
  std::string config = dir_.Write(
      "haproxy.cfg",
      "defaults\n  mode tcp\n  timeout connect 5s\n  timeout client 10s\n  timeout server 10s\n"
      "frontend f1\n  bind 127.0.0.1:" +
          std::to_string(front_v1) +
          "\n  default_backend b1\n"
          "frontend f2\n  bind 127.0.0.1:" +
          std::to_string(front_v2) +
          "\n  default_backend b2\n"
          "backend b1\n  server g 127.0.0.1:" +
          std::to_string(Port("v1")) +
          " send-proxy\n"
          "backend b2\n  server g 127.0.0.1:" +
          std::to_string(Port("v2")) + " send-proxy-v2\n");
  std::string haproxy_log = dir_.path() + "/haproxy.log";
  HaproxyProcess haproxy(config, haproxy_log);
  // Listening once a bare connect works (that probe reaches gatehouse too: harmless).
  ASSERT_TRUE(WaitUntil([&] {
    int fd = ConnectTcp("127.0.0.1", front_v2);
    if (fd >= 0) close(fd);
    return fd >= 0;
  })) << ReadFile(haproxy_log);
  for (int front : {front_v1, front_v2}) {
    int fd = ConnectTcp("127.0.0.1", front, "127.0.0.5");
    ASSERT_GE(fd, 0);
    SendAll(fd, "through haproxy\n");
    EXPECT_EQ(ReadToEnd(fd).text, "127.0.0.5 " + std::to_string(LocalPort(fd)) + " 127.0.0.1 " +
                                      std::to_string(front) + " through haproxy\n")
        << ReadFile(haproxy_log) << gatehouse_->Log();
    close(fd);
  }
  // The client has its answer once the program ended; the supervisor logs the
  // start when it reads the child's report, which may come a moment later.
  EXPECT_TRUE(WaitUntil(
      [&] { return gatehouse_->Log().find("v2: start 127.0.0.5:") != std::string::npos; }, 5))
      << gatehouse_->Log();
}

}  // namespace
}  // namespace gatehouse::testing
