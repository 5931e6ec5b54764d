// Attacks on the service's sockets, each found by the attack trial against the
// wait, datagram and builtin modes: a wait program that leaves the shared
// listening socket blocking before a reload changes the mode (the supervisor
// must not hang in accept or recvmsg), a local socket binding a UDP service's
// port beside gatehouse, a forged datagram bounced between two datagram
// services, chargen clients that never read (and one that reads, which must
// still get bulk), and a UNIX datagram sender that turns its bound path into a
// symlink to have the root supervisor's reply (its own bytes, echoed)
// delivered to a socket it may not write to.
#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "tests/integration/harness.h"

namespace gatehouse::testing {
namespace {

// A wait program (Python, fd 3 its listening socket) that, told to stop, clears
// O_NONBLOCK on the socket for half a second (while the reload's new mode takes
// the socket over) and then exits. It prints "armed" once its handler is in place.
const char* const kBlockingOnStop =
    "args = -c \"import fcntl, os, signal, sys, time\n"
    "  blocking = lambda: fcntl.fcntl(3, fcntl.F_SETFL, fcntl.fcntl(3, fcntl.F_GETFL) & "
    "~os.O_NONBLOCK)\n"
    "  signal.signal(signal.SIGTERM, lambda *a: [blocking() or time.sleep(0.01) for _ in "
    "range(50)] and os._exit(0))\n"
    "  sys.stderr.write('armed' + chr(10)); sys.stderr.flush()\n"
    "  for _ in range(300): time.sleep(1)\"\n";

sockaddr_in Loopback(const std::string& ip, int port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, ip.c_str(), &address.sin_addr);
  return address;
}

// A UDP socket of the test's, bound to ip:port (0: any port); -1 when bind fails.
int UdpSocket(const std::string& ip, int port, bool reuse_address = false) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  int on = 1;
  if (reuse_address) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  sockaddr_in address = Loopback(ip, port);
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Sends `bytes` to 127.0.0.1:port and returns the reply that comes within
// `timeout_seconds`, if any.
std::optional<std::string> Ask(int fd, int port, const std::string& bytes, double timeout_seconds) {
  sockaddr_in to = Loopback("127.0.0.1", port);
  if (sendto(fd, bytes.data(), bytes.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to) !=
      static_cast<ssize_t>(bytes.size())) {
    return std::nullopt;
  }
  pollfd ready{fd, POLLIN, 0};
  if (poll(&ready, 1, static_cast<int>(timeout_seconds * 1000)) != 1) return std::nullopt;
  char buffer[2048];
  ssize_t n = recv(fd, buffer, sizeof buffer, 0);
  if (n < 0) return std::nullopt;
  return std::string(buffer, static_cast<size_t>(n));
}

// What a TCP service at 127.0.0.1:port says first (a line), within `timeout_seconds`.
std::string FirstLine(int port, double timeout_seconds) {
  int fd = ConnectTcp("127.0.0.1", port);
  if (fd < 0) return "";
  std::string line = ReadUntil(fd, "\n", timeout_seconds);
  close(fd);
  return line;
}

class HostileSocketTest : public GatehouseTest {
 protected:
  // The UDP port `service` is bound to on 127.0.0.1 (Port() reads TCP lines).
  int UdpPort(const std::string& service) const {
    std::string needle = " " + service + ": listening on 127.0.0.1:";
    std::string log = gatehouse_->Log();
    size_t at = log.find(needle);
    return at == std::string::npos ? 0 : std::atoi(log.c_str() + at + needle.size());
  }
};

TEST_F(HostileSocketTest, AWaitProgramLeavingTheSocketBlockingCannotHangTheSupervisor) {
  const std::string web = "[web]\nport = 127.0.0.1:0\nexec = /bin/echo\nargs = web\n";
  ASSERT_TRUE(Start("log_level = 3\n",
                    {{"web.conf", web},
                     {"w.conf", std::string("[w]\nmode = wait\nport = 127.0.0.1:0\n"
                                            "kill_grace = 5\nexec = /usr/bin/python3\n") +
                                    kBlockingOnStop}}));
  ASSERT_TRUE(gatehouse_->WaitForLog("]: armed")) << gatehouse_->Log();  // its "armed" line
  int port = Port("w"), web_port = Port("web");
  ASSERT_GT(port, 0);

  // The same port in fork mode: the supervisor accepts on the socket the
  // program shared, once the program has exited.
  dir_.Write("services.d/w.conf", "[w]\nport = 127.0.0.1:0\nexec = /bin/echo\nargs = forked\n");
  LogMark reload = gatehouse_->MarkLog();
  ASSERT_EQ(kill(gatehouse_->pid(), SIGHUP), 0);
  ASSERT_TRUE(gatehouse_->WaitForLog("w: exit listeners", reload)) << gatehouse_->Log(reload);
  EXPECT_EQ(FirstLine(port, 5), "forked\n") << gatehouse_->Log(reload);
  // A supervisor stuck in accept() would serve nothing else now.
  EXPECT_EQ(FirstLine(port, 5), "forked\n") << gatehouse_->Log(reload);
  EXPECT_EQ(FirstLine(web_port, 5), "web\n") << gatehouse_->Log(reload);
}

TEST_F(HostileSocketTest, AUdpWaitProgramLeavingTheSocketBlockingCannotHangTheSupervisor) {
  ASSERT_TRUE(Start("log_level = 3\n",
                    {{"w.conf", std::string("[w]\nmode = wait\nport = 127.0.0.1:0/udp\n"
                                            "kill_grace = 5\nexec = /usr/bin/python3\n") +
                                    kBlockingOnStop}}));
  ASSERT_TRUE(gatehouse_->WaitForLog("]: armed")) << gatehouse_->Log();
  int port = UdpPort("w");
  ASSERT_GT(port, 0);

  dir_.Write("services.d/w.conf",
             "[w]\nmode = datagram\nport = 127.0.0.1:0/udp\nexec = /bin/cat\n");
  LogMark reload = gatehouse_->MarkLog();
  ASSERT_EQ(kill(gatehouse_->pid(), SIGHUP), 0);
  ASSERT_TRUE(gatehouse_->WaitForLog("w: exit listeners", reload)) << gatehouse_->Log(reload);
  int client = UdpSocket("127.0.0.1", 0);
  ASSERT_GE(client, 0);
  // A supervisor stuck in recvmsg() after the first datagram would send no reply.
  EXPECT_EQ(Ask(client, port, "one", 5).value_or("(none)"), "one") << gatehouse_->Log(reload);
  EXPECT_EQ(Ask(client, port, "two", 5).value_or("(none)"), "two") << gatehouse_->Log(reload);
  close(client);
}

TEST_F(HostileSocketTest, NoOtherSocketCanBindAUdpServicesPort) {
  ASSERT_TRUE(Start("", {{"u.conf",
                          "[u]\nmode = datagram\nport = 127.0.0.1:0/udp\n"
                          "exec = /bin/cat\n"}}));
  int port = UdpPort("u");
  ASSERT_GT(port, 0);
  // SO_REUSEADDR on both sockets would let this one (any user's: the kernel
  // checks no uid for it) bind beside gatehouse's and take its datagrams.
  int thief = UdpSocket("127.0.0.1", port, /*reuse_address=*/true);
  EXPECT_LT(thief, 0) << "bound 127.0.0.1:" << port << " beside gatehouse";
  if (thief >= 0) close(thief);
  int client = UdpSocket("127.0.0.1", 0);
  ASSERT_GE(client, 0);
  EXPECT_EQ(Ask(client, port, "mine", 5).value_or("(none)"), "mine");
  close(client);
}

TEST_F(HostileSocketTest, TwoDatagramServicesDoNotAnswerEachOthersPorts) {
  ASSERT_TRUE(Start("", {{"ab.conf",
                          "[a]\nmode = datagram\nport = 127.0.0.1:0/udp\nexec = /bin/cat\n"
                          "[b]\nmode = datagram\nport = 127.0.0.1:0/udp\nexec = /bin/cat\n"}}));
  int a = UdpPort("a"), b = UdpPort("b");
  ASSERT_GT(a, 0);
  ASSERT_GT(b, 0);
  int client = UdpSocket("127.0.0.1", 0);
  ASSERT_GE(client, 0);
  ASSERT_EQ(Ask(client, b, "plain", 5).value_or("(none)"), "plain");
  close(client);
  // From a's port (on 127.0.0.2, as a forged source would be): b's answer would
  // go to a, whose answer would come back to b, for ever.
  int forged = UdpSocket("127.0.0.2", a);
  ASSERT_GE(forged, 0);
  EXPECT_EQ(Ask(forged, b, "loop", 1.5), std::nullopt);
  EXPECT_TRUE(gatehouse_->WaitForLog("b: denied 127.0.0.2:" + std::to_string(a) +
                                     " on 127.0.0.1:" + std::to_string(b) +
                                     "/udp: source port of a UDP service (reflection_guard)"))
      << gatehouse_->Log();
  close(forged);
}

// The bytes the kernel holds to send on the server's end of each connection to
// local port `port` (/proc/net/tcp's tx_queue, what `ss` shows as Send-Q).
std::vector<long> SendQueues(int port) {
  std::vector<long> queues;
  std::ifstream table("/proc/net/tcp");
  std::string line;
  std::getline(table, line);  // the header
  while (std::getline(table, line)) {
    std::istringstream fields(line);
    std::string slot, local, remote, state, queues_field;
    fields >> slot >> local >> remote >> state >> queues_field;
    if (state != "01") continue;  // established
    if (std::stoi(local.substr(local.find(':') + 1), nullptr, 16) != port) continue;
    queues.push_back(std::stol(queues_field.substr(0, queues_field.find(':')), nullptr, 16));
  }
  return queues;
}

TEST_F(HostileSocketTest, ChargenClientsThatNeverReadHoldLittleKernelMemory) {
  ASSERT_TRUE(Start("", {{"c.conf",
                          "[c]\nmode = builtin\nbuiltin = chargen\n"
                          "port = 127.0.0.1:0\n"}}));
  int port = Port("c");
  ASSERT_GT(port, 0);
  std::vector<int> clients;
  for (int i = 0; i < 4; ++i) {
    int fd = ConnectTcp("127.0.0.1", port);
    ASSERT_GE(fd, 0);
    clients.push_back(fd);
  }
  // Each send queue grows while the kernel lets it; then it stays. Without a
  // bound each reaches about 2 MiB (tcp_wmem's autotuning up to 4 MiB).
  std::vector<long> queues;
  long before = -1, total = 0;
  for (int i = 0; i < 20; ++i) {
    usleep(250 * 1000);
    queues = SendQueues(port);
    total = 0;
    for (long queue : queues) total += queue;
    if (queues.size() == clients.size() && total == before && total > 0) break;
    before = total;
  }
  ASSERT_EQ(queues.size(), clients.size());
  for (long queue : queues) {
    EXPECT_GT(queue, 0);  // chargen did send
    EXPECT_LE(queue, 256 * 1024);
  }
  for (int fd : clients) close(fd);
}

// The same for echo: a client that sends and never reads has its echo wait in
// a bounded send queue (and echo stops reading), not in megabytes of kernel memory.
TEST_F(HostileSocketTest, EchoClientsThatNeverReadHoldLittleKernelMemory) {
  ASSERT_TRUE(Start("", {{"e.conf",
                          "[e]\nmode = builtin\nbuiltin = echo\n"
                          "port = 127.0.0.1:0\n"}}));
  int port = Port("e");
  ASSERT_GT(port, 0);
  std::vector<int> clients;
  for (int i = 0; i < 4; ++i) {
    int fd = ConnectTcp("127.0.0.1", port);
    ASSERT_GE(fd, 0);
    fcntl(fd, F_SETFL, O_NONBLOCK);
    clients.push_back(fd);
  }
  // Send until nothing more goes (bounded: 3 s), never reading.
  std::string chunk(64 * 1024, 'e');
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (std::chrono::steady_clock::now() < deadline) {
    bool sent = false;
    for (int fd : clients) sent |= send(fd, chunk.data(), chunk.size(), MSG_NOSIGNAL) > 0;
    if (!sent) usleep(100 * 1000);
  }
  std::vector<long> queues = SendQueues(port);
  ASSERT_EQ(queues.size(), clients.size());
  for (long queue : queues) {
    EXPECT_GT(queue, 0);  // echo did answer
    EXPECT_LE(queue, 256 * 1024);
  }
  for (int fd : clients) close(fd);
}

TEST_F(HostileSocketTest, AChargenClientThatReadsStillGetsBulk) {
  ASSERT_TRUE(Start("", {{"c.conf",
                          "[c]\nmode = builtin\nbuiltin = chargen\n"
                          "port = 127.0.0.1:0\n"}}));
  int fd = ConnectTcp("127.0.0.1", Port("c"));
  ASSERT_GE(fd, 0);
  // A send buffer under one loopback segment (64 KiB) gave 3 MB/s; about 290
  // is usual, so 20 allows for a busy machine.
  std::vector<char> buffer(1 << 20);
  size_t received = 0;
  auto end = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  while (std::chrono::steady_clock::now() < end) {
    ssize_t n = recv(fd, buffer.data(), buffer.size(), 0);
    if (n <= 0) break;
    received += static_cast<size_t>(n);
  }
  close(fd);
  EXPECT_GE(received, 20u * 1000 * 1000);
}

// A UNIX datagram socket of the test's bound at `path`; -1 when that fails.
int UnixDatagramSocket(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  snprintf(address.sun_path, sizeof address.sun_path, "%s", path.c_str());
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Runs `client` in a child process as nobody; its exit status (0: it saw what it wanted).
template <typename Client>
int AsNobody(Client client) {
  pid_t pid = fork();
  if (pid == 0) {
    if (setgroups(0, nullptr) != 0 || setresgid(65534, 65534, 65534) != 0 ||
        setresuid(65534, 65534, 65534) != 0) {
      _exit(2);
    }
    _exit(client() ? 0 : 1);
  }
  int status = -1;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

bool SendTo(int fd, const std::string& path, const std::string& bytes) {
  sockaddr_un to{};
  to.sun_family = AF_UNIX;
  snprintf(to.sun_path, sizeof to.sun_path, "%s", path.c_str());
  return sendto(fd, bytes.data(), bytes.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to) ==
         static_cast<ssize_t>(bytes.size());
}

TEST_F(HostileSocketTest, AUnixSenderCannotSendItsReplyThroughASymlink) {
  if (!IsRoot()) GTEST_SKIP() << "needs root (the sender runs as nobody)";
  TempDir shared("/tmp");  // reachable by nobody, as a service's socket directory is
  chmod(shared.path().c_str(), 01777);
  std::string service = shared.path() + "/echo.sock";
  ASSERT_TRUE(Start("", {{"u.conf", "[u]\nmode = builtin\nbuiltin = echo\nport = " + service +
                                        "|SOCK_DGRAM|unix\nunix_mode = 0666\n"}}));
  // A root-only socket, as /dev/log or systemd's notify socket are to the sender.
  TempDir private_dir("/tmp");
  chmod(private_dir.path().c_str(), 0700);
  std::string victim = private_dir.path() + "/victim.sock";
  int victim_fd = UnixDatagramSocket(victim);
  ASSERT_GE(victim_fd, 0);
  chmod(victim.c_str(), 0600);

  // A sender with a plain bound path gets its echo.
  std::string plain = shared.path() + "/plain.sock";
  EXPECT_EQ(AsNobody([&] {
              int fd = UnixDatagramSocket(plain);
              if (fd < 0 || !SendTo(fd, service, "plain")) return false;
              pollfd ready{fd, POLLIN, 0};
              char reply[16] = {};
              return poll(&ready, 1, 5000) == 1 && recv(fd, reply, sizeof reply, 0) == 5 &&
                     std::string(reply) == "plain";
            }),
            0);
  // One whose bound path has become a symlink to the victim gets no reply, and
  // the victim gets nothing.
  std::string swapped = shared.path() + "/swapped.sock";
  EXPECT_EQ(AsNobody([&] {
              int fd = UnixDatagramSocket(swapped);
              return fd >= 0 && unlink(swapped.c_str()) == 0 &&
                     symlink(victim.c_str(), swapped.c_str()) == 0 &&
                     SendTo(fd, service, "<0>forged");
            }),
            0);
  EXPECT_TRUE(gatehouse_->WaitForLog("u: no reply to " + swapped)) << gatehouse_->Log();
  // A relative path names the sender's directory, not ours: no reply either.
  EXPECT_EQ(AsNobody([&] {
              int fd = chdir(shared.path().c_str()) == 0 ? UnixDatagramSocket("relative.sock") : -1;
              return fd >= 0 && SendTo(fd, service, "relative");
            }),
            0);
  EXPECT_TRUE(gatehouse_->WaitForLog("u: no reply to relative.sock on " + service +
                                     "|SOCK_DGRAM|unix: the sender bound a relative path"))
      << gatehouse_->Log();
  pollfd arrived{victim_fd, POLLIN, 0};
  EXPECT_EQ(poll(&arrived, 1, 1000), 0) << "the victim socket got a datagram";
  close(victim_fd);
}

}  // namespace
}  // namespace gatehouse::testing
