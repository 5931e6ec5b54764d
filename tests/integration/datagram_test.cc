// mode = datagram: real UDP and SOCK_DGRAM UNIX clients (socat, and sockets of
// the test's own where the source address or port matters) against the real
// gatehouse: the program per datagram, its environment, the reply's source
// address, the reflection guard, the bounds, access rules, the privilege drop,
// and a flood that must not wedge the supervisor.
#include <arpa/inet.h>
#include <dirent.h>
#include <gtest/gtest.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <iostream>
#include <optional>
#include <regex>
#include <set>
#include <thread>

#include "tests/integration/harness.h"

namespace gatehouse::testing {
namespace {

constexpr const char* kNoCapabilities = "0000000000000000";

double MonotonicNow() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// One UDP socket of the test's, closed with it.
class UdpClient {
 public:
  // Bound to `ip`:`port` (0: the kernel's choice); -1 fd when that fails.
  explicit UdpClient(const std::string& ip = "127.0.0.1", int port = 0) {
    bool v6 = ip.find(':') != std::string::npos;
    fd_ = socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_storage address = Address(ip, port);
    if (bind(fd_, reinterpret_cast<sockaddr*>(&address),
             v6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in)) != 0) {
      close(fd_);
      fd_ = -1;
    }
  }
  ~UdpClient() {
    if (fd_ >= 0) close(fd_);
  }
  bool ok() const { return fd_ >= 0; }
  int port() const {
    sockaddr_storage local{};
    socklen_t length = sizeof local;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&local), &length);
    return local.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&local)->sin6_port)
                                       : ntohs(reinterpret_cast<sockaddr_in*>(&local)->sin_port);
  }
  bool Send(const std::string& ip, int port, const std::string& bytes) const {
    bool v6 = ip.find(':') != std::string::npos;
    sockaddr_storage to = Address(ip, port);
    return sendto(fd_, bytes.data(), bytes.size(), 0, reinterpret_cast<sockaddr*>(&to),
                  v6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in)) ==
           static_cast<ssize_t>(bytes.size());
  }
  struct Reply {
    std::string bytes;
    std::string from_ip;
    int from_port = 0;
  };
  // The next datagram that comes within `timeout_seconds`.
  std::optional<Reply> Receive(double timeout_seconds = 5) const {
    pollfd ready{fd_, POLLIN, 0};
    if (poll(&ready, 1, static_cast<int>(timeout_seconds * 1000)) != 1) return std::nullopt;
    std::string buffer(70000, '\0');
    sockaddr_storage from{};
    socklen_t length = sizeof from;
    ssize_t n =
        recvfrom(fd_, buffer.data(), buffer.size(), 0, reinterpret_cast<sockaddr*>(&from), &length);
    if (n < 0) return std::nullopt;
    Reply reply;
    reply.bytes = buffer.substr(0, static_cast<size_t>(n));
    char text[INET6_ADDRSTRLEN] = {};
    if (from.ss_family == AF_INET6) {
      auto* in6 = reinterpret_cast<sockaddr_in6*>(&from);
      inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
      reply.from_port = ntohs(in6->sin6_port);
    } else {
      auto* in = reinterpret_cast<sockaddr_in*>(&from);
      inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
      reply.from_port = ntohs(in->sin_port);
    }
    reply.from_ip = text;
    return reply;
  }

 private:
  static sockaddr_storage Address(const std::string& ip, int port) {
    sockaddr_storage address{};
    if (ip.find(':') != std::string::npos) {
      auto* in6 = reinterpret_cast<sockaddr_in6*>(&address);
      in6->sin6_family = AF_INET6;
      in6->sin6_port = htons(static_cast<uint16_t>(port));
      inet_pton(AF_INET6, ip.c_str(), &in6->sin6_addr);
    } else {
      auto* in = reinterpret_cast<sockaddr_in*>(&address);
      in->sin_family = AF_INET;
      in->sin_port = htons(static_cast<uint16_t>(port));
      inet_pton(AF_INET, ip.c_str(), &in->sin_addr);
    }
    return address;
  }
  int fd_ = -1;
};

class DatagramTest : public GatehouseTest {
 protected:
  // The UDP port `service` is bound to on `address` ("127.0.0.1", "[::1]", "0.0.0.0").
  int UdpPort(const std::string& service, const std::string& address = "127.0.0.1") const {
    std::regex line(" " + service + ": listening on " +
                    std::regex_replace(address, std::regex(R"([.\[\]])"), R"(\$&)") +
                    ":([0-9]+)/udp");
    std::smatch match;
    std::string log = gatehouse_->Log();
    return std::regex_search(log, match, line) ? std::stoi(match[1]) : 0;
  }
  // Sends `request` from a fresh socket to 127.0.0.1:`port` and returns the reply.
  std::optional<UdpClient::Reply> Ask(int port, const std::string& request,
                                      double timeout_seconds = 5) {
    UdpClient client;
    EXPECT_TRUE(client.ok());
    EXPECT_TRUE(client.Send("127.0.0.1", port, request));
    return client.Receive(timeout_seconds);
  }
  // Asks again (1 s each) until the reply is `expected` or `seconds` have passed.
  bool AnswersWithin(int port, const std::string& request, const std::string& expected,
                     double seconds) {
    double deadline = MonotonicNow() + seconds;
    do {
      std::optional<UdpClient::Reply> reply = Ask(port, request, 1);
      if (reply && reply->bytes == expected) return true;
    } while (MonotonicNow() < deadline);
    return false;
  }
};

TEST_F(DatagramTest, TrUppercasesEachDatagramOverIpv4AndIpv6WithSocat) {
  ASSERT_TRUE(
      Start("log_level = 3\n", {{"up.conf",
                                 "[up]\nmode = datagram\nport = 127.0.0.1:0/udp\n"
                                 "port = [::1]:0/udp\nexec = /usr/bin/tr\nargs = a-z A-Z\n"}}));
  int v4 = UdpPort("up"), v6 = UdpPort("up", "[::1]");
  ASSERT_GT(v4, 0) << gatehouse_->Log();
  ASSERT_GT(v6, 0) << gatehouse_->Log();
  CommandResult four =
      RunCommand({"socat", "-T", "2", "-", "UDP:127.0.0.1:" + std::to_string(v4)}, "hello udp\n");
  EXPECT_EQ(four.out, "HELLO UDP\n") << four.err << gatehouse_->Log();
  CommandResult six =
      RunCommand({"socat", "-T", "2", "-", "UDP:[::1]:" + std::to_string(v6)}, "over v6\n");
  EXPECT_EQ(six.out, "OVER V6\n") << six.err << gatehouse_->Log();
  // One program per datagram, each started and reaped.
  EXPECT_TRUE(gatehouse_->WaitForLog("up: exit [::1]:")) << gatehouse_->Log();
  EXPECT_NE(gatehouse_->Log().find("up: exit 127.0.0.1:"), std::string::npos);
}

TEST_F(DatagramTest, ProgramGetsTheUdpEnvironment) {
  ASSERT_TRUE(Start(
      "", {{"env.conf", "[env]\nmode = datagram\nport = 127.0.0.1:0/udp\nexec = /usr/bin/env\n"}}));
  int port = UdpPort("env");
  ASSERT_GT(port, 0) << gatehouse_->Log();
  UdpClient client;
  ASSERT_TRUE(client.Send("127.0.0.1", port, "x"));
  std::optional<UdpClient::Reply> reply = client.Receive();
  ASSERT_TRUE(reply) << gatehouse_->Log();
  std::string env = "\n" + reply->bytes;
  EXPECT_NE(env.find("\nPROTO=UDP\n"), std::string::npos) << env;
  EXPECT_NE(env.find("\nUDPREMOTEIP=127.0.0.1\n"), std::string::npos) << env;
  EXPECT_NE(env.find("\nUDPREMOTEPORT=" + std::to_string(client.port()) + "\n"), std::string::npos)
      << env;
  EXPECT_NE(env.find("\nUDPLOCALIP=127.0.0.1\n"), std::string::npos) << env;
  EXPECT_NE(env.find("\nUDPLOCALPORT=" + std::to_string(port) + "\n"), std::string::npos) << env;
  EXPECT_EQ(env.find("TCPREMOTEIP"), std::string::npos) << env;
}

TEST_F(DatagramTest, ReverseLookupNamesTheSenderForRulesAndEnvironment) {
  CommandResult hosts = RunCommand({"getent", "hosts", "127.0.0.1"});
  if (hosts.out.find("localhost") == std::string::npos) {
    GTEST_SKIP() << "127.0.0.1 is not localhost in /etc/hosts here";
  }
  ASSERT_TRUE(Start("", {{"env.conf",
                          "[env]\nmode = datagram\nport = 127.0.0.1:0/udp\nexec = /usr/bin/env\n"
                          "reverse_lookups = yes\nallow = ^localhost$\n"}}));
  std::optional<UdpClient::Reply> reply = Ask(UdpPort("env"), "x", 20);
  ASSERT_TRUE(reply) << gatehouse_->Log();
  EXPECT_NE(reply->bytes.find("UDPREMOTEHOST=localhost\n"), std::string::npos) << reply->bytes;
  EXPECT_NE(reply->bytes.find("REMOTE_HOST=localhost\n"), std::string::npos) << reply->bytes;
}

TEST_F(DatagramTest, EnvMayNotSetTheUdpVariables) {
  std::string config = WriteConfig(dir_, "",
                                   {{"env.conf",
                                     "[env]\nmode = datagram\n"
                                     "port = 127.0.0.1:0/udp\n"
                                     "exec = /usr/bin/env\n"
                                     "env = UDPREMOTEIP=192.0.2.1\n"}});
  CommandResult result = RunCommand({Gatehouse(), "--check", "--config", config});
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.err.find("env.conf:5: env: UDPREMOTEIP is set by gatehouse"), std::string::npos)
      << result.err;
}

TEST_F(DatagramTest, ReplyComesFromTheAddressTheRequestWasSentTo) {
  ASSERT_TRUE(
      Start("", {{"env.conf", "[env]\nmode = datagram\nport = *:0/udp\nexec = /usr/bin/env\n"}}));
  int port = UdpPort("env", "0.0.0.0");
  ASSERT_GT(port, 0) << gatehouse_->Log();
  // Sent from 127.0.0.1 to 127.0.0.2: the route alone would answer from 127.0.0.1.
  UdpClient client("127.0.0.1");
  ASSERT_TRUE(client.Send("127.0.0.2", port, "x"));
  std::optional<UdpClient::Reply> reply = client.Receive();
  ASSERT_TRUE(reply) << gatehouse_->Log();
  EXPECT_EQ(reply->from_ip, "127.0.0.2");
  EXPECT_EQ(reply->from_port, port);
  EXPECT_NE(reply->bytes.find("UDPLOCALIP=127.0.0.2\n"), std::string::npos) << reply->bytes;
}

// A client socket bound to a source port below 1024 (the test runs as root).
std::unique_ptr<UdpClient> PrivilegedClient() {
  for (int port = 1000; port < 1024; ++port) {
    auto client = std::make_unique<UdpClient>("127.0.0.1", port);
    if (client->ok()) return client;
  }
  return nullptr;
}

TEST_F(DatagramTest, ReflectionGuardIgnoresPrivilegedSourcePortsUnlessTurnedOff) {
  if (!IsRoot()) GTEST_SKIP() << "binding a port below 1024 needs root";
  ASSERT_TRUE(Start(
      "log_level = 3\n",
      {{"guarded.conf", "[guarded]\nmode = datagram\nport = 127.0.0.1:0/udp\nexec = /bin/cat\n"},
       {"open.conf",
        "[open]\nmode = datagram\nport = 127.0.0.1:0/udp\nexec = /bin/cat\n"
        "reflection_guard = no\n"}}));
  int guarded = UdpPort("guarded"), open = UdpPort("open");
  ASSERT_GT(guarded, 0);
  ASSERT_GT(open, 0);
  std::unique_ptr<UdpClient> client = PrivilegedClient();
  ASSERT_TRUE(client) << "no free port in 1000..1023";
  ASSERT_TRUE(client->Send("127.0.0.1", guarded, "loop?"));
  EXPECT_TRUE(gatehouse_->WaitForLog("guarded: denied 127.0.0.1:" + std::to_string(client->port())))
      << gatehouse_->Log();
  EXPECT_FALSE(client->Receive(1));
  // Nothing ran for it.
  EXPECT_EQ(gatehouse_->Log().find("guarded: start"), std::string::npos) << gatehouse_->Log();

  ASSERT_TRUE(client->Send("127.0.0.1", open, "answered"));
  std::optional<UdpClient::Reply> reply = client->Receive();
  ASSERT_TRUE(reply) << gatehouse_->Log();
  EXPECT_EQ(reply->bytes, "answered");
}

TEST_F(DatagramTest, ReflectionGuardIgnoresThePortOfAUdpBuiltin) {
  // Only the datagram service must be ready: the built-in's port counts from its binding.
  config_ = WriteConfig(
      dir_, "log_level = 3\n",
      {{"up.conf", "[up]\nmode = datagram\nport = 127.0.0.1:0/udp\nexec = /bin/cat\n"},
       {"echo.conf", "[echo]\nmode = builtin\nbuiltin = echo\nport = 127.0.0.1:0/udp\n"}});
  ASSERT_TRUE(StartWithArgs({"--config", config_}, {"up"}));
  int up = UdpPort("up"), echo = UdpPort("echo");
  ASSERT_GT(up, 0);
  ASSERT_GT(echo, 0);
  // A datagram "from" the built-in's port (a spoofed echo <-> service loop).
  UdpClient client("127.0.0.2", echo);
  ASSERT_TRUE(client.ok());
  ASSERT_TRUE(client.Send("127.0.0.1", up, "ping"));
  EXPECT_TRUE(gatehouse_->WaitForLog("source port of a UDP service")) << gatehouse_->Log();
  EXPECT_FALSE(client.Receive(1));
  EXPECT_EQ(gatehouse_->Log().find("up: start"), std::string::npos) << gatehouse_->Log();
  // From any other port it is answered.
  std::optional<UdpClient::Reply> reply = Ask(up, "ping");
  ASSERT_TRUE(reply) << gatehouse_->Log();
  EXPECT_EQ(reply->bytes, "ping");
}

TEST_F(DatagramTest, GuardedReplyIsCutToFourTimesTheRequest) {
  // 2,000 bytes for a 10-byte request: cut to the floor, 512.
  ASSERT_TRUE(Start("", {{"big.conf",
                          "[big]\nmode = datagram\nport = 127.0.0.1:0/udp\nexec = /usr/bin/head\n"
                          "args = -c 2000 /dev/zero\n"}}));
  int port = UdpPort("big");
  std::optional<UdpClient::Reply> reply = Ask(port, "0123456789");
  ASSERT_TRUE(reply) << gatehouse_->Log();
  EXPECT_EQ(reply->bytes.size(), 512u);
  EXPECT_TRUE(gatehouse_->WaitForLog("cut from 2000 to 512 bytes (reflection_guard"))
      << gatehouse_->Log();
  // 200 bytes ask for up to 800.
  reply = Ask(port, std::string(200, 'r'));
  ASSERT_TRUE(reply) << gatehouse_->Log();
  EXPECT_EQ(reply->bytes.size(), 800u);
}

TEST_F(DatagramTest, OutputBeyondOneDatagramIsCutAt65507AndLogged) {
  ASSERT_TRUE(Start("log_level = 3\n",
                    {{"big.conf",
                      "[big]\nmode = datagram\nport = 127.0.0.1:0/udp\nexec = /usr/bin/head\n"
                      "args = -c 200000 /dev/zero\nreflection_guard = no\n"}}));
  std::optional<UdpClient::Reply> reply = Ask(UdpPort("big"), "more");
  ASSERT_TRUE(reply) << gatehouse_->Log();
  EXPECT_EQ(reply->bytes.size(), 65507u);
  EXPECT_TRUE(gatehouse_->WaitForLog("wrote more than 65507 bytes to stdout")) << gatehouse_->Log();
  // The program was not left blocked on its full pipe: it ended cleanly.
  EXPECT_TRUE(gatehouse_->WaitForLog("big: exit")) << gatehouse_->Log();
}

// A program that writes for ever (no timeout set) does not hold its slot and
// the child's CPU until shutdown: past 1 MiB of dropped output its stdout is
// closed, it gets SIGPIPE, and what fitted one datagram is the reply.
TEST_F(DatagramTest, AProgramThatWritesForEverIsCutOffAndAnswered) {
  ASSERT_TRUE(Start("log_level = 3\n",
                    {{"yes.conf",
                      "[yes]\nmode = datagram\nport = 127.0.0.1:0/udp\nexec = /usr/bin/yes\n"
                      "reflection_guard = no\n"}}));
  std::optional<UdpClient::Reply> reply = Ask(UdpPort("yes"), "go", 10);
  ASSERT_TRUE(reply) << gatehouse_->Log();
  EXPECT_EQ(reply->bytes.size(), 65507u);
  EXPECT_EQ(reply->bytes.substr(0, 4), "y\ny\n");
  EXPECT_TRUE(gatehouse_->WaitForLog("its stdout is closed")) << gatehouse_->Log();
  EXPECT_TRUE(gatehouse_->WaitForLog("yes: exit 127.0.0.1:")) << gatehouse_->Log();
}

TEST_F(DatagramTest, SixtyThousandBytesRoundTrip) {
  ASSERT_TRUE(Start(
      "", {{"cat.conf", "[cat]\nmode = datagram\nport = 127.0.0.1:0/udp\nexec = /bin/cat\n"}}));
  std::string request;
  for (int i = 0; request.size() < 60000; ++i) request += std::to_string(i) + ",";
  request.resize(60000);
  std::optional<UdpClient::Reply> reply = Ask(UdpPort("cat"), request);
  ASSERT_TRUE(reply) << gatehouse_->Log();
  EXPECT_EQ(reply->bytes.size(), request.size());
  EXPECT_TRUE(reply->bytes == request);
}

TEST_F(DatagramTest, AccessRulesDropDatagramsFromOtherSenders) {
  ASSERT_TRUE(Start("", {{"only.conf",
                          "[only]\nmode = datagram\nport = 127.0.0.1:0/udp\nexec = /bin/cat\n"
                          "cidr_allow = 127.0.0.2/32\n"}}));
  int port = UdpPort("only");
  UdpClient outsider("127.0.0.1");
  ASSERT_TRUE(outsider.Send("127.0.0.1", port, "let me in"));
  EXPECT_TRUE(gatehouse_->WaitForLog("only: denied 127.0.0.1:" + std::to_string(outsider.port())))
      << gatehouse_->Log();
  EXPECT_FALSE(outsider.Receive(1));
  UdpClient insider("127.0.0.2");
  ASSERT_TRUE(insider.Send("127.0.0.1", port, "member"));
  std::optional<UdpClient::Reply> reply = insider.Receive();
  ASSERT_TRUE(reply) << gatehouse_->Log();
  EXPECT_EQ(reply->bytes, "member");
}

TEST_F(DatagramTest, UnixDatagramServiceAnswersABoundSender) {
  TempDir sockets("/tmp");
  std::string path = sockets.path() + "/up.sock";
  ASSERT_TRUE(
      Start("", {{"up.conf", "[up]\nmode = datagram\nport = " + path +
                                 "|SOCK_DGRAM|unix\nexec = /usr/bin/tr\nargs = a-z A-Z\n"}}));
  CommandResult result = RunCommand(
      {"socat", "-T", "2", "-", "UNIX-SENDTO:" + path + ",bind=" + sockets.path() + "/client.sock"},
      "local datagram\n");
  EXPECT_EQ(result.out, "LOCAL DATAGRAM\n") << result.err << gatehouse_->Log();
}

TEST_F(DatagramTest, ADatagramOverTheLargestUdpPayloadIsDroppedAndLogged) {
  // Only a UNIX datagram socket carries more than 65,527 bytes.
  TempDir sockets("/tmp");
  std::string path = sockets.path() + "/cat.sock";
  ASSERT_TRUE(Start("log_level = 3\n", {{"cat.conf", "[cat]\nmode = datagram\nport = " + path +
                                                         "|SOCK_DGRAM|unix\nexec = /bin/cat\n"}}));
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  int buffer = 1 << 20;
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buffer, sizeof buffer);
  sockaddr_un to{};
  to.sun_family = AF_UNIX;
  snprintf(to.sun_path, sizeof to.sun_path, "%s", path.c_str());
  std::string big(70000, 'b');
  ssize_t sent = sendto(fd, big.data(), big.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
  close(fd);
  ASSERT_EQ(sent, 70000) << strerror(errno);
  EXPECT_TRUE(gatehouse_->WaitForLog("cat: dropped a datagram of 70000 bytes"))
      << gatehouse_->Log();
  EXPECT_EQ(gatehouse_->Log().find("cat: start"), std::string::npos) << gatehouse_->Log();
}

TEST_F(DatagramTest, ProgramRunsAsTheServiceUserWithoutPrivilegesInItsChroot) {
  if (!IsRoot()) GTEST_SKIP() << "privilege drops need root";
  // busybox is static: it runs in a chroot that holds nothing else.
  std::string jail = dir_.path() + "/jail";
  mkdir(jail.c_str(), 0755);
  CopyExecutable("/bin/busybox", jail + "/busybox");
  char real[PATH_MAX];
  ASSERT_NE(realpath(jail.c_str(), real), nullptr);
  jail = real;
  ASSERT_TRUE(Start("log_level = 3\n",
                    {{"slow.conf", "[slow]\nmode = datagram\nport = 127.0.0.1:0/udp\nchroot = " +
                                       jail + "\nexec = /busybox\nargs = sleep 5\n"}}));
  UdpClient client;
  ASSERT_TRUE(client.Send("127.0.0.1", UdpPort("slow"), "x"));
  ASSERT_TRUE(gatehouse_->WaitForLog("slow: start 127.0.0.1:")) << gatehouse_->Log();
  pid_t program = FirstProgramPid(gatehouse_->Log(), "slow");
  ASSERT_GT(program, 1) << gatehouse_->Log();

  std::string uid = CheckedUid(config_);  // the service's own, as --check names it
  ASSERT_FALSE(uid.empty());
  EXPECT_NE(uid, "0");
  std::string ids = uid + "\t" + uid + "\t" + uid + "\t" + uid;
  EXPECT_EQ(ProcStatusField(program, "Uid"), ids);
  EXPECT_EQ(ProcStatusField(program, "Gid"), ids);
  for (const char* caps : {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"}) {
    EXPECT_EQ(ProcStatusField(program, caps), kNoCapabilities) << caps;
  }
  EXPECT_EQ(ProcStatusField(program, "NoNewPrivs"), "1");
  EXPECT_TRUE(SameFile("/proc/" + std::to_string(program) + "/root/", jail));
  EXPECT_EQ(OpenFds(program), (std::set<std::string>{"0", "1", "2"}));
}

TEST_F(DatagramTest, AFloodDoesNotWedgeTheSupervisor) {
  ASSERT_TRUE(Start("", {{"flood.conf",
                          "[flood]\nmode = datagram\nport = 127.0.0.1:0/udp\nexec = /bin/cat\n"
                          "max_servers = 32\n"},
                         {"tcp.conf", "[tcp]\nport = 127.0.0.1:0\nexec = /bin/cat\n"}}));
  int flood_port = UdpPort("flood"), tcp_port = Port("tcp");
  ASSERT_GT(flood_port, 0);
  ASSERT_GT(tcp_port, 0);
  std::atomic<bool> done{false};
  std::atomic<int> sent{0};
  // 2,000 datagrams in about 4 s, far beyond what 32 programs at once can take.
  std::thread flood([&] {
    UdpClient client;
    for (int i = 0; i < 2000; ++i) {
      if (client.Send("127.0.0.1", flood_port, "flood " + std::to_string(i))) ++sent;
      if (i % 10 == 9) usleep(20000);
    }
    done = true;
  });
  int served = 0;
  while (!done) {
    double started = MonotonicNow();
    CommandResult result =
        RunCommand({"nc", "-N", "127.0.0.1", std::to_string(tcp_port)}, "still here\n", 5);
    EXPECT_EQ(result.out, "still here\n") << gatehouse_->Log();
    EXPECT_LT(MonotonicNow() - started, 3.0);
    ++served;
  }
  flood.join();
  EXPECT_GE(served, 2);  // it served while the flood ran
  EXPECT_EQ(sent.load(), 2000);
  EXPECT_TRUE(gatehouse_->Running());
  // Once it is over, a datagram is answered again.
  EXPECT_TRUE(AnswersWithin(flood_port, "after", "after", 20)) << gatehouse_->Log();
  // What the flood came to (served, busy: dropped over max_servers), for the record.
  LogMark mark = gatehouse_->MarkLog();
  kill(gatehouse_->pid(), SIGUSR1);
  EXPECT_TRUE(gatehouse_->WaitForLog("status: flood:", mark));
  std::string status = gatehouse_->Log(mark);
  size_t at = status.find("status: flood:");
  std::cout << "flood: " << served << " TCP round trips during it; "
            << status.substr(at, status.find('\n', at) - at) << "\n";
}

TEST_F(DatagramTest, ReloadKeepsTheUdpSocketAndItsPort) {
  ASSERT_TRUE(Start("", {{"up.conf",
                          "[up]\nmode = datagram\nport = 127.0.0.1:0/udp\n"
                          "exec = /usr/bin/tr\nargs = a-z A-Z\n"}}));
  int port = UdpPort("up");
  ASSERT_GT(port, 0);
  std::optional<UdpClient::Reply> reply = Ask(port, "before");
  ASSERT_TRUE(reply) << gatehouse_->Log();
  EXPECT_EQ(reply->bytes, "BEFORE");
  // The same port spec, another program: the socket stays, the new child answers.
  WriteConfig(dir_, "",
              {{"up.conf",
                "[up]\nmode = datagram\nport = 127.0.0.1:0/udp\n"
                "exec = /usr/bin/tr\nargs = a-z b-za\n"}});
  LogMark mark = gatehouse_->MarkLog();
  kill(gatehouse_->pid(), SIGHUP);
  ASSERT_TRUE(gatehouse_->WaitForLog("reloaded:", mark)) << gatehouse_->Log();
  EXPECT_EQ(gatehouse_->Log(mark).find("closed"), std::string::npos) << gatehouse_->Log(mark);
  EXPECT_TRUE(AnswersWithin(port, "hal", "ibm", 10)) << gatehouse_->Log();
}

TEST_F(DatagramTest, UpgradeHandsTheUdpSocketToTheSuccessor) {
  std::string pid_file = dir_.path() + "/gatehouse.pid";
  ASSERT_TRUE(
      Start("pid_file = " + pid_file + "\n", {{"up.conf",
                                               "[up]\nmode = datagram\nport = 127.0.0.1:0/udp\n"
                                               "exec = /usr/bin/tr\nargs = a-z A-Z\n"}}));
  int port = UdpPort("up");
  ASSERT_GT(port, 0);
  pid_t old_pid = gatehouse_->pid();
  kill(old_pid, SIGUSR2);
  ASSERT_TRUE(gatehouse_->WaitForLog("this process stops accepting and drains", 20))
      << gatehouse_->Log();
  EXPECT_EQ(gatehouse_->Stop(SIGTERM), 0);  // the old one is gone: only the successor answers
  std::string text = ReadFile(pid_file);
  pid_t successor = text.empty() ? 0 : static_cast<pid_t>(std::stol(text));
  ASSERT_GT(successor, 0);
  ASSERT_NE(successor, old_pid);
  std::optional<UdpClient::Reply> reply = Ask(port, "still served");
  EXPECT_TRUE(reply && reply->bytes == "STILL SERVED") << ReadFile(log_path_);
  EXPECT_EQ(ReadFile(log_path_).find("ignored"), std::string::npos) << ReadFile(log_path_);
  kill(successor, SIGTERM);
  WaitUntil([&] { return kill(successor, 0) != 0; }, 20);
}

// The UDP built-ins, end to end: the supervisor receives and checks, the child
// answers in-process, the supervisor sends the reply.
TEST_F(DatagramTest, UdpBuiltinsAnswerAsTheirRfcsSay) {
  ASSERT_TRUE(
      Start("log_level = 3\n",
            {{"b.conf",
              "[echo]\nmode = builtin\nbuiltin = echo\nport = 127.0.0.1:0/udp\nport = [::1]:0/udp\n"
              "[discard]\nmode = builtin\nbuiltin = discard\nport = 127.0.0.1:0/udp\n"
              "[daytime]\nmode = builtin\nbuiltin = daytime\nport = 127.0.0.1:0/udp\n"
              "[chargen]\nmode = builtin\nbuiltin = chargen\nport = 127.0.0.1:0/udp\n"
              "[time]\nmode = builtin\nbuiltin = time\nport = 127.0.0.1:0/udp\n"}}));
  // echo, with socat as a user would, over both families.
  CommandResult four = RunCommand(
      {"socat", "-T", "2", "-", "UDP:127.0.0.1:" + std::to_string(UdpPort("echo"))}, "ping\n");
  EXPECT_EQ(four.out, "ping\n") << four.err << gatehouse_->Log();
  CommandResult six = RunCommand(
      {"socat", "-T", "2", "-", "UDP:[::1]:" + std::to_string(UdpPort("echo", "[::1]"))}, "v6\n");
  EXPECT_EQ(six.out, "v6\n") << six.err << gatehouse_->Log();
  // Binary bytes come back as they went.
  std::string binary("\0\x01\xff\r\n", 5);
  std::optional<UdpClient::Reply> reply = Ask(UdpPort("echo"), binary);
  ASSERT_TRUE(reply) << gatehouse_->Log();
  EXPECT_EQ(reply->bytes, binary);

  // An empty datagram is echoed as an empty one (RFC 862), not dropped.
  reply = Ask(UdpPort("echo"), "");
  ASSERT_TRUE(reply) << gatehouse_->Log();
  EXPECT_EQ(reply->bytes, "");

  // discard: nothing comes back, and the datagram was served in-process.
  EXPECT_FALSE(Ask(UdpPort("discard"), "drop me", 1));
  EXPECT_TRUE(gatehouse_->WaitForLog("discard: exit 127.0.0.1:")) << gatehouse_->Log();
  EXPECT_NE(gatehouse_->Log().find("discard: start 127.0.0.1:"), std::string::npos);

  // daytime: one ctime-style line for an empty datagram.
  reply = Ask(UdpPort("daytime"), "");
  ASSERT_TRUE(reply) << gatehouse_->Log();
  EXPECT_TRUE(std::regex_match(reply->bytes, std::regex(R"([A-Z][a-z]{2} [A-Z][a-z]{2} [ 0-9]\d )"
                                                        R"(\d\d:\d\d:\d\d \d{4}\r\n)")))
      << reply->bytes;

  // time: 4 bytes, big-endian seconds since 1900 (what rdate -u reads), close to now.
  reply = Ask(UdpPort("time"), "");
  ASSERT_TRUE(reply) << gatehouse_->Log();
  ASSERT_EQ(reply->bytes.size(), 4u);
  uint32_t seconds = 0;
  for (unsigned char byte : reply->bytes) seconds = seconds << 8 | byte;
  int64_t now_since_1900 = static_cast<int64_t>(time(nullptr)) + 2208988800LL;
  EXPECT_LE(std::llabs(static_cast<int64_t>(seconds) - (now_since_1900 & 0xffffffffLL)), 5);

  // chargen: whole 74-byte lines (72 characters and CRLF), within RFC 864's 512.
  reply = Ask(UdpPort("chargen"), "");
  ASSERT_TRUE(reply) << gatehouse_->Log();
  ASSERT_GT(reply->bytes.size(), 0u);
  EXPECT_LE(reply->bytes.size(), 512u);
  EXPECT_EQ(reply->bytes.size() % 74, 0u);
  std::string first_line;  // the 95 printable characters from the space on, 72 of them
  for (int column = 0; column < 72; ++column) first_line += static_cast<char>(' ' + column);
  EXPECT_EQ(reply->bytes.substr(0, 74), first_line + "\r\n");
  // No program ran for any of them: every start was in-process.
  std::string log = gatehouse_->Log();
  EXPECT_FALSE(std::regex_search(log, std::regex(": start [^\n]* pid "))) << log;
  EXPECT_NE(log.find("echo: start 127.0.0.1:"), std::string::npos) << log;
  EXPECT_NE(log.find(" in-process"), std::string::npos) << log;
}

// The classic amplifier loops: chargen answering echo's port, echo answering a
// privileged port. Neither is answered; a plain client is.
// Sends one UDP datagram over IPv4 loopback with a forged source port (a raw
// socket: root only), as a spoofer aims one at two UDP services.
bool ForgeLoopbackDatagram(int from_port, int to_port, const std::string& payload) {
  int fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
  if (fd < 0) return false;
  std::string packet(sizeof(iphdr) + sizeof(udphdr), '\0');
  packet += payload;
  auto* ip = reinterpret_cast<iphdr*>(packet.data());
  ip->version = 4;
  ip->ihl = 5;
  ip->ttl = 64;
  ip->protocol = IPPROTO_UDP;
  ip->tot_len = htons(static_cast<uint16_t>(packet.size()));
  ip->saddr = ip->daddr = htonl(INADDR_LOOPBACK);  // the kernel fills in the checksum
  auto* udp = reinterpret_cast<udphdr*>(packet.data() + sizeof(iphdr));
  udp->source = htons(static_cast<uint16_t>(from_port));
  udp->dest = htons(static_cast<uint16_t>(to_port));
  udp->len = htons(static_cast<uint16_t>(sizeof(udphdr) + payload.size()));
  udp->check = 0;  // none (allowed over IPv4)
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool sent = sendto(fd, packet.data(), packet.size(), 0, reinterpret_cast<sockaddr*>(&to),
                     sizeof to) == static_cast<ssize_t>(packet.size());
  close(fd);
  return sent;
}

// The number after "FIELD " in SERVICE's USR1 status line of `gatehouse`; -1
// when there is none.
long StatusCount(GatehouseProcess& gatehouse, const std::string& service,
                 const std::string& field) {
  LogMark mark = gatehouse.MarkLog();
  kill(gatehouse.pid(), SIGUSR1);
  std::string start = "status: " + service + ":";
  if (!gatehouse.WaitForLog(start, mark)) return -1;
  std::string log = gatehouse.Log(mark);
  size_t at = log.find(start);
  std::string line = log.substr(at, log.find('\n', at) - at);
  size_t found = line.find(", " + field + " ");
  return found == std::string::npos ? -1 : std::stol(line.substr(found + field.size() + 3));
}

// A datagram program's replies are budgeted like a built-in's, as the service's
// udp_reply_budget says (here 5 at once, 1 a second): one sender's run of
// requests gets its burst and then about one reply a second; every program
// still runs; the drops are counted; another sender has a budget of its own.
TEST_F(DatagramTest, ADatagramProgramsRepliesKeepToTheSendersBudget) {
  ASSERT_TRUE(Start("", {{"tr.conf",
                          "[tr]\nmode = datagram\nport = 127.0.0.1:0/udp\nexec = /usr/bin/tr\n"
                          "args = a-z A-Z\nudp_reply_budget = 5 1\n"}}));
  int port = UdpPort("tr");
  ASSERT_GT(port, 0);
  UdpClient client;
  ASSERT_TRUE(client.ok());
  constexpr int kRequests = 12;
  int answered = 0;
  double started = MonotonicNow();
  for (int i = 0; i < kRequests; ++i) {
    ASSERT_TRUE(client.Send("127.0.0.1", port, "hello"));
    std::optional<UdpClient::Reply> reply = client.Receive(0.25);
    if (reply) {
      EXPECT_EQ(reply->bytes, "HELLO");
      ++answered;
    }
  }
  double seconds = MonotonicNow() - started;
  EXPECT_GE(answered, 5);
  EXPECT_LE(answered, 5 + static_cast<int>(seconds) + 1) << seconds << " s";
  std::string dropped = ", over_udp_reply_budget " + std::to_string(kRequests - answered) + "\n";
  EXPECT_TRUE(WaitUntil([&] {
    LogMark mark = gatehouse_->MarkLog();
    kill(gatehouse_->pid(), SIGUSR1);
    return gatehouse_->WaitForLog("status: tr:", mark, 2) &&
           gatehouse_->Log(mark).find(", served " + std::to_string(kRequests) + ",") !=
               std::string::npos &&
           gatehouse_->Log(mark).find(dropped) != std::string::npos;
  })) << gatehouse_->Log();
  EXPECT_TRUE(
      gatehouse_->WaitForLog(": 127.0.0.1 is over udp_reply_budget (5 at once, 1 a second)"))
      << gatehouse_->Log();
  UdpClient other("127.0.0.2");
  ASSERT_TRUE(other.ok());
  ASSERT_TRUE(other.Send("127.0.0.1", port, "other"));
  std::optional<UdpClient::Reply> reply = other.Receive();
  ASSERT_TRUE(reply) << gatehouse_->Log();
  EXPECT_EQ(reply->bytes, "OTHER");
}

// The issue's loop: one forged datagram between the UDP echo services of two
// gatehouse instances (ports above 1024, so the reflection guard cannot know
// them) bounced for as long as both ran. Each reply takes one of the sender's
// udp_reply_budget (a burst of 256, 128 a second): the loop stops within a few
// hundred bounces, counted in USR1 and logged, and an ordinary client is still
// answered every time.
TEST_F(DatagramTest, AForgedDatagramBetweenTwoInstancesStopsWithinTheReplyBudget) {
  if (!IsRoot()) GTEST_SKIP() << "forging a source port takes a raw socket";
  std::string echo = "[echo]\nmode = builtin\nbuiltin = echo\nport = 127.0.0.1:0/udp\n";
  ASSERT_TRUE(Start("", {{"echo.conf", echo}}));
  TempDir other_dir;
  GatehouseProcess other({"--config", WriteConfig(other_dir, "", {{"echo.conf", echo}})},
                         other_dir.path() + "/gatehouse.log");
  ASSERT_TRUE(other.started()) << other.Log();
  int port_a = UdpPort("echo");
  std::smatch match;
  std::string other_log = other.Log();
  ASSERT_TRUE(std::regex_search(other_log, match,
                                std::regex(" echo: listening on 127\\.0\\.0\\.1:([0-9]+)/udp")))
      << other_log;
  int port_b = std::stoi(match[1]);
  ASSERT_GT(port_a, 1023);
  ASSERT_GT(port_b, 1023);

  ASSERT_TRUE(ForgeLoopbackDatagram(port_b, port_a, "loop"));
  // The loop runs until one side's budget for 127.0.0.1 is spent.
  ASSERT_TRUE(WaitUntil([&] {
    return StatusCount(*gatehouse_, "echo", "over_udp_reply_budget") +
               StatusCount(other, "echo", "over_udp_reply_budget") >=
           1;
  })) << gatehouse_->Log()
      << other.Log();
  // And then it has stopped: no more datagrams served on either side.
  long served_a = -1, served_b = -1;
  ASSERT_TRUE(WaitUntil(
      [&] {
        long a = StatusCount(*gatehouse_, "echo", "served");
        long b = StatusCount(other, "echo", "served");
        bool still = a == served_a && b == served_b;
        served_a = a, served_b = b;
        return still;
      },
      10))
      << "still bouncing: " << served_a << " and " << served_b;
  // A burst of 256 each, and what the rate refilled while the loop ran: on a
  // quiet machine it bounces thousands of times a second and stops after about
  // 2 x 260; even at 256 bounces a second (a machine under heavy load) the
  // burst is gone within 2 s, 512 each.
  EXPECT_GE(served_a + served_b, 256);
  EXPECT_LE(served_a + served_b, 2 * 512) << served_a << " + " << served_b;
  std::cout << "loop: " << served_a << " + " << served_b << " datagrams served before it stopped\n";
  std::string both = gatehouse_->Log() + other.Log();
  EXPECT_NE(both.find("echo: no reply to 127.0.0.1:"), std::string::npos) << both;
  EXPECT_NE(both.find(": 127.0.0.1 is over udp_reply_budget (256 at once, 128 a second)"),
            std::string::npos)
      << both;
  // An ordinary client (another source) is answered every time.
  UdpClient client("127.0.0.2");
  ASSERT_TRUE(client.ok());
  for (int i = 0; i < 100; ++i) {
    std::string request = "ordinary " + std::to_string(i);
    ASSERT_TRUE(client.Send("127.0.0.1", port_a, request));
    std::optional<UdpClient::Reply> reply = client.Receive();
    ASSERT_TRUE(reply) << i << gatehouse_->Log();
    EXPECT_EQ(reply->bytes, request);
  }
}

TEST_F(DatagramTest, UdpBuiltinsRefuseLoopsAndPrivilegedPorts) {
  ASSERT_TRUE(Start("log_level = 3\n",
                    {{"b.conf",
                      "[echo]\nmode = builtin\nbuiltin = echo\nport = 127.0.0.1:0/udp\n"
                      "[chargen]\nmode = builtin\nbuiltin = chargen\nport = 127.0.0.1:0/udp\n"}}));
  int echo = UdpPort("echo"), chargen = UdpPort("chargen");
  ASSERT_GT(echo, 0);
  ASSERT_GT(chargen, 0);
  // A datagram that claims to come from echo's port (on another loopback
  // address, as a spoofer would aim it): chargen must not feed echo.
  UdpClient spoofed("127.0.0.2", echo);
  ASSERT_TRUE(spoofed.ok());
  ASSERT_TRUE(spoofed.Send("127.0.0.1", chargen, "x"));
  EXPECT_TRUE(gatehouse_->WaitForLog("chargen: denied 127.0.0.2:" + std::to_string(echo)))
      << gatehouse_->Log();
  EXPECT_FALSE(spoofed.Receive(1));
  UdpClient spoofed_chargen("127.0.0.2", chargen);
  ASSERT_TRUE(spoofed_chargen.ok());
  ASSERT_TRUE(spoofed_chargen.Send("127.0.0.1", echo, "x"));
  EXPECT_FALSE(spoofed_chargen.Receive(1));
  if (IsRoot()) {
    std::unique_ptr<UdpClient> privileged = PrivilegedClient();
    ASSERT_TRUE(privileged) << "no free port in 1000..1023";
    ASSERT_TRUE(privileged->Send("127.0.0.1", echo, "from a server port"));
    EXPECT_FALSE(privileged->Receive(1));
  }
  EXPECT_EQ(gatehouse_->Log().find("chargen: start"), std::string::npos) << gatehouse_->Log();
  EXPECT_EQ(gatehouse_->Log().find("echo: start"), std::string::npos) << gatehouse_->Log();
  // An ordinary client is answered by both.
  std::optional<UdpClient::Reply> reply = Ask(echo, "hi");
  ASSERT_TRUE(reply) << gatehouse_->Log();
  EXPECT_EQ(reply->bytes, "hi");
  EXPECT_TRUE(Ask(chargen, ""));
}

}  // namespace
}  // namespace gatehouse::testing
