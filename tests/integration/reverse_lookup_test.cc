// reverse_lookups against a DNS of the test's own, inside a network and mount
// namespace (loopback only; /etc/resolv.conf bound to a file naming dnsmasq on
// 127.0.0.53). The peers, by source address:
//   127.0.0.1  localhost (/etc/hosts)
//   127.0.0.2  its PTR query goes to a black hole (socat on 127.0.0.54): a lookup
//              that fails when the resolver gives up, or at gatehouse's deadline
//   127.0.0.3  trusted.example.org, which resolves back to 127.0.0.3: confirmed
//   127.0.0.4  PTR spoof.example.org, which resolves to 127.0.0.98: not confirmed
//   127.0.0.5  dnsmasq answers REFUSED at once: a failed lookup
//   127.0.0.6  NXDOMAIN: no name
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "common/monotonic_clock.h"
#include "tests/integration/harness.h"

namespace gatehouse::testing {
namespace {

// $1: resolv.conf, $2: dnsmasq's log; then gatehouse and its arguments.
constexpr const char* kNamespaceSetup =
    "set -e; ip link set lo up; mount --bind \"$1\" /etc/resolv.conf; dns_log=$2; shift 2; "
    "timeout 120 socat -u UDP-RECV:53,bind=127.0.0.54 /dev/null & "
    "timeout 120 dnsmasq --keep-in-foreground --no-resolv --no-hosts --bind-interfaces "
    "  --listen-address=127.0.0.53 --user=root --pid-file= --log-queries "
    "  --log-facility=\"$dns_log\" "
    "  --host-record=trusted.example.org,127.0.0.3 "
    "  --ptr-record=4.0.0.127.in-addr.arpa,spoof.example.org "
    "  --host-record=spoof.example.org,127.0.0.98 "
    "  --server=/2.0.0.127.in-addr.arpa/127.0.0.54 "
    // '#' means the usual upstream servers, of which there are none: REFUSED.
    "  --server=/5.0.0.127.in-addr.arpa/# "
    "  --local=/example.org/ --local=/0.0.127.in-addr.arpa/ & "
    "tries=0; until getent hosts trusted.example.org >/dev/null; do "
    "  tries=$((tries + 1)); [ $tries -lt 100 ]; sleep 0.05; done; "
    "exec \"$@\"";

// Services: `named` has no rules (a failed lookup is just no name); `guarded`
// denies a host-name pattern; `example` admits only names in example.org.
constexpr const char* kNamed =
    "[named]\nport = 127.0.0.1:0\nexec = /usr/bin/env\nreverse_lookups = 1\n";
constexpr const char* kGuarded =
    "[guarded]\nport = 127.0.0.1:0\nexec = /bin/cat\nreverse_lookups = 1\n"
    "allow = .*\ndeny = .*\\.evil\\.example\\.org\n";
constexpr const char* kExample =
    "[example]\nport = 127.0.0.1:0\nexec = /usr/bin/env\nreverse_lookups = 1\n"
    "allow = .*\\.example\\.org\n";
constexpr const char* kHostOnly =
    "[hostonly]\nport = 127.0.0.1:0\nexec = /bin/cat\nreverse_lookups = 1\nallow = localhost\n";
constexpr const char* kPlain = "[plain]\nport = 127.0.0.1:0\nexec = /bin/cat\n";
constexpr const char* kUdp =
    "[udp]\nmode = datagram\nport = 127.0.0.1:0/udp\nexec = /bin/cat\nreverse_lookups = 1\n";

class ReverseLookupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!IsRoot()) GTEST_SKIP() << "network namespaces need root";
  }
  // glibc's own timeout is `resolver_timeout` seconds (one attempt).
  void Start(int resolver_timeout) {
    std::string resolv =
        dir_.Write("resolv.conf", "nameserver 127.0.0.53\noptions timeout:" +
                                      std::to_string(resolver_timeout) + " attempts:1\n");
    dns_log_ = dir_.path() + "/dnsmasq.log";
    std::string config = WriteConfig(dir_, "log_level = 3\n",
                                     {{"named.conf", kNamed},
                                      {"guarded.conf", kGuarded},
                                      {"example.conf", kExample},
                                      {"hostonly.conf", kHostOnly},
                                      {"plain.conf", kPlain},
                                      {"udp.conf", kUdp}});
    GatehouseProcess::Launch launch;
    launch.wrapper = {"unshare", "--net",         "--mount", "--",   "sh",
                      "-c",      kNamespaceSetup, "sh",      resolv, dns_log_};
    gatehouse_ = std::make_unique<GatehouseProcess>(std::vector<std::string>{"--config", config},
                                                    dir_.path() + "/gatehouse.log", launch);
    ASSERT_TRUE(gatehouse_->started()) << gatehouse_->Log();
  }
  void TearDown() override {
    if (gatehouse_) {
      for (pid_t pid : ChildPids(gatehouse_->pid())) {
        if (ReadFile("/proc/" + std::to_string(pid) + "/comm").rfind("timeout", 0) == 0) {
          kill(pid, SIGTERM);  // the black hole and dnsmasq
        }
      }
    }
  }
  // A client inside gatehouse's network namespace.
  CommandResult Nc(const std::string& service, const std::string& source,
                   const std::string& input = "", double timeout_seconds = 20) {
    return RunCommand(
        {"nsenter", "--net=/proc/" + std::to_string(gatehouse_->pid()) + "/ns/net", "nc", "-N",
         "-s", source, "127.0.0.1", std::to_string(gatehouse_->Port(service))},
        input, timeout_seconds);
  }
  bool Logged(const std::string& needle) {
    return gatehouse_->Log().find(needle) != std::string::npos;
  }
  TempDir dir_;
  std::string dns_log_;
  std::unique_ptr<GatehouseProcess> gatehouse_;
};

TEST_F(ReverseLookupTest, SlowLookupDoesNotStallOtherServices) {
  Start(2);
  std::atomic<bool> slow_done{false};
  CommandResult slow;
  std::thread slow_client([&] {
    slow = Nc("named", "127.0.0.2");  // asks the black hole
    slow_done = true;
  });
  // Once the DNS server has seen the slow peer's query, its lookup is under way;
  // while it hangs, another service must answer.
  bool asked = WaitUntil([&] {
    return ReadFile(dns_log_).find("query[PTR] 2.0.0.127.in-addr.arpa") != std::string::npos;
  });
  CommandResult fast = Nc("plain", "127.0.0.2", "not stuck\n");
  bool slow_was_waiting = !slow_done;
  slow_client.join();
  EXPECT_TRUE(asked) << ReadFile(dns_log_);
  EXPECT_EQ(fast.out, "not stuck\n") << fast.err;
  EXPECT_TRUE(slow_was_waiting) << "the slow client was answered before the fast one";
  // The slow client is served too, once the resolver gives up: without a name,
  // since `named` has no rules a name could decide.
  EXPECT_NE(slow.out.find("TCPREMOTEIP=127.0.0.2\n"), std::string::npos) << slow.out;
  EXPECT_EQ(slow.out.find("TCPREMOTEHOST="), std::string::npos) << slow.out;
  EXPECT_NE(slow.out.find("REMOTE_HOST=127.0.0.2\n"), std::string::npos) << slow.out;
  EXPECT_TRUE(Logged("named: 127.0.0.2:")) << gatehouse_->Log();
}

TEST_F(ReverseLookupTest, HostNameRuleRefusesPeersWithoutAName) {
  Start(2);
  EXPECT_EQ(Nc("hostonly", "127.0.0.1", "named\n").out, "named\n");  // localhost
  EXPECT_EQ(Nc("hostonly", "127.0.0.6", "nameless\n").out, "");
  EXPECT_TRUE(gatehouse_->WaitForLog("hostonly: denied 127.0.0.6:")) << gatehouse_->Log();
}

TEST_F(ReverseLookupTest, FailedLookupRefusesPeerWhenRulesCouldUseTheName) {
  Start(2);
  // The black hole: glibc gives up after 2 s. REFUSED: at once.
  EXPECT_EQ(Nc("guarded", "127.0.0.2", "hello\n").out, "");
  EXPECT_EQ(Nc("guarded", "127.0.0.5", "hello\n").out, "");
  EXPECT_TRUE(gatehouse_->WaitForLog("guarded: denied 127.0.0.2:")) << gatehouse_->Log();
  EXPECT_TRUE(gatehouse_->WaitForLog("guarded: denied 127.0.0.5:")) << gatehouse_->Log();
  EXPECT_TRUE(Logged("(lookup failed: Temporary failure in name resolution)")) << gatehouse_->Log();
  // NXDOMAIN is no failure: the peer has no name and is judged by its address.
  EXPECT_EQ(Nc("guarded", "127.0.0.6", "nameless\n").out, "nameless\n");
}

TEST_F(ReverseLookupTest, LookupWithoutAnAnswerFailsAtTheDeadline) {
  Start(30);  // glibc would wait 30 s; gatehouse gives up after 15
  double started = MonotonicSeconds();
  CommandResult refused = Nc("guarded", "127.0.0.2", "hello\n", 40);
  double waited = MonotonicSeconds() - started;
  EXPECT_EQ(refused.out, "");
  EXPECT_FALSE(refused.timed_out) << "gatehouse held the connection for " << waited << " s";
  EXPECT_TRUE(gatehouse_->WaitForLog("guarded: denied 127.0.0.2:", 5)) << gatehouse_->Log();
  EXPECT_TRUE(Logged("(lookup failed: no answer within 15 s)")) << gatehouse_->Log();
}

TEST_F(ReverseLookupTest, OnlyForwardConfirmedNamesAreUsed) {
  Start(2);
  // Confirmed: the name reaches the rules and the program.
  CommandResult trusted = Nc("example", "127.0.0.3");
  EXPECT_NE(trusted.out.find("TCPREMOTEHOST=trusted.example.org\n"), std::string::npos)
      << trusted.out << gatehouse_->Log();
  EXPECT_NE(trusted.out.find("REMOTE_HOST=trusted.example.org\n"), std::string::npos)
      << trusted.out;
  // A PTR record alone claims spoof.example.org: refused by the example.org rule...
  EXPECT_EQ(Nc("example", "127.0.0.4").out, "");
  EXPECT_TRUE(gatehouse_->WaitForLog("example: denied 127.0.0.4:")) << gatehouse_->Log();
  EXPECT_TRUE(
      Logged("127.0.0.4 goes on without a name: spoof.example.org (its PTR record) does "
             "not resolve back to it"))
      << gatehouse_->Log();
  EXPECT_FALSE(Logged("(spoof.example.org)")) << gatehouse_->Log();
  // ...and a service without rules does not hand the name on.
  CommandResult spoof = Nc("named", "127.0.0.4");
  EXPECT_NE(spoof.out.find("TCPREMOTEIP=127.0.0.4\n"), std::string::npos) << spoof.out;
  EXPECT_EQ(spoof.out.find("TCPREMOTEHOST="), std::string::npos) << spoof.out;
  EXPECT_NE(spoof.out.find("REMOTE_HOST=127.0.0.4\n"), std::string::npos) << spoof.out;
}

TEST_F(ReverseLookupTest, TooManyWaitingLookupsRefusePeersInsteadOfSkippingTheRules) {
  Start(30);  // every lookup of 127.0.0.2 waits until gatehouse's deadline
  // Connections from a thread inside gatehouse's network namespace (setns moves
  // only the calling thread).
  constexpr int kConnections = 1024 + 4 + 40;
  std::vector<int> fds;
  std::thread opener([&] {
    int ns = open(("/proc/" + std::to_string(gatehouse_->pid()) + "/ns/net").c_str(),
                  O_RDONLY | O_CLOEXEC);
    if (ns < 0 || setns(ns, CLONE_NEWNET) != 0) return;
    close(ns);
    for (int i = 0; i < kConnections; ++i) {
      int fd = ConnectTcp("127.0.0.1", gatehouse_->Port("guarded"), "127.0.0.2");
      if (fd >= 0) fds.push_back(fd);
    }
  });
  opener.join();
  EXPECT_EQ(fds.size(), static_cast<size_t>(kConnections));
  // The 1,024 lookups under way hold their peers; every other peer is refused
  // (not admitted unchecked), well before the waiting ones reach their deadline.
  // The denials are throttled: one line at once, the rest counted in one line
  // when the 10 s window ends.
  auto overflow_denials = [&] {
    return static_cast<int>(
        CountThrottled(gatehouse_->Log(), "(lookup failed: 1024 lookups already waiting)"));
  };
  EXPECT_TRUE(WaitUntil([&] { return overflow_denials() == kConnections - 1024; }, 12))
      << overflow_denials() << "\n"
      << gatehouse_->Log().substr(0, 4000);
  EXPECT_FALSE(Logged("guarded: start 127.0.0.2")) << gatehouse_->Log().substr(0, 4000);
  for (int fd : fds) close(fd);
}

// Datagram senders cost nothing to forge: a flood from a sender whose lookups
// all wait must not fill the resolver's shared pool (each pending lookup of a
// datagram also holds its bytes). Each datagram socket has 64 lookups at most;
// the rest of the flood is dropped, and a TCP peer's lookup still gets a place
// in the pool. (It then waits behind the slow ones for one of the resolver's
// four threads: a black-holed sender slows every lookup; see the notes.)
TEST_F(ReverseLookupTest, AForgedDatagramFloodCannotTakeTheLookupsOfOtherServices) {
  Start(30);  // every lookup of 127.0.0.2 waits until gatehouse's deadline
  int udp_port = 0;
  {
    std::string log = gatehouse_->Log();
    size_t at = log.find("udp: listening on 127.0.0.1:");
    ASSERT_NE(at, std::string::npos) << log;
    udp_port = std::atoi(log.c_str() + at + std::string("udp: listening on 127.0.0.1:").size());
  }
  constexpr int kDatagrams = 1024 + 100;  // more than the shared pool
  std::thread sender([&] {
    int ns = open(("/proc/" + std::to_string(gatehouse_->pid()) + "/ns/net").c_str(),
                  O_RDONLY | O_CLOEXEC);
    if (ns < 0 || setns(ns, CLONE_NEWNET) != 0) return;
    close(ns);
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in from{}, to{};
    from.sin_family = to.sin_family = AF_INET;
    inet_pton(AF_INET, "127.0.0.2", &from.sin_addr);
    inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    to.sin_port = htons(static_cast<uint16_t>(udp_port));
    if (bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from) != 0) return;
    for (int i = 0; i < kDatagrams; ++i) {
      sendto(fd, "x", 1, 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
      if (i % 32 == 31) usleep(2000);  // within the socket's receive buffer
    }
    close(fd);
  });
  sender.join();
  EXPECT_TRUE(gatehouse_->WaitForLog("reverse lookups of this socket are waiting", 5))
      << gatehouse_->Log().substr(0, 4000);
  // A TCP peer of another service is not refused for want of a place.
  LogMark mark = gatehouse_->MarkLog();
  CommandResult named = Nc("named", "127.0.0.3");
  EXPECT_NE(named.out.find("TCPREMOTEIP=127.0.0.3\n"), std::string::npos) << named.out;
  EXPECT_EQ(gatehouse_->Log(mark).find("lookups already waiting"), std::string::npos)
      << gatehouse_->Log(mark);
  EXPECT_EQ(gatehouse_->Log().find("lookups already waiting"), std::string::npos);
}

}  // namespace
}  // namespace gatehouse::testing
