// Sane defaults under a burst: 32 concurrent clients, 2,000 connections in all,
// against the example hello service on the default settings: zero failures.
// (xinetd's default rate limit and small fixed backlogs fail exactly here.)
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <sstream>
#include <thread>

#include "common/monotonic_clock.h"
#include "tests/integration/harness.h"

namespace gatehouse::testing {
namespace {

constexpr int kClients = 32;
constexpr int kConnections = 2000;
constexpr double kDeadlineSeconds = 240;  // bounds the loop; not a speed assertion

TEST(Burst, ListenBacklogDefaultsToSomaxconn) {
  TempDir dir;
  GatehouseProcess gatehouse({"--config", Runfile("gatehouse.conf"), "--port", "127.0.0.1:0"},
                             dir.path() + "/gatehouse.log");
  ASSERT_TRUE(gatehouse.started()) << gatehouse.Log();
  std::string port = std::to_string(gatehouse.Port("hello"));
  // For a listening socket, ss shows the backlog as Send-Q.
  CommandResult ss = RunCommand({"ss", "-ltnH", "sport = :" + port});
  ASSERT_EQ(ss.exit_code, 0) << ss.err;
  std::istringstream fields(ss.out);
  std::string state, recv_q, send_q;
  fields >> state >> recv_q >> send_q;
  EXPECT_EQ(send_q, std::to_string(SOMAXCONN)) << ss.out;
}

TEST(Burst, ThirtyTwoClientsTwoThousandConnectionsNoFailures) {
  TempDir dir;
  // log_level 2: per-connection lines off, as a busy server would run.
  GatehouseProcess gatehouse(
      {"--config", Runfile("gatehouse.conf"), "--port", "127.0.0.1:0", "--log_level", "2"},
      dir.path() + "/gatehouse.log");
  ASSERT_TRUE(gatehouse.started()) << gatehouse.Log();
  ASSERT_TRUE(gatehouse.WaitForLog("hello: ready"));
  int port = gatehouse.Port("hello");
  ASSERT_GT(port, 0);

  std::atomic<int> next{0}, ok{0}, failed{0};
  std::mutex mutex;
  std::string first_failure;
  double deadline = MonotonicSeconds() + kDeadlineSeconds;
  auto client = [&] {
    while (next.fetch_add(1) < kConnections) {
      if (MonotonicSeconds() > deadline) {
        failed++;
        continue;
      }
      std::string why;
      int fd = ConnectTcp("127.0.0.1", port);
      if (fd < 0) {
        why = std::string("connect: ") + strerror(errno);
      } else {
        const char request[] = "GET / HTTP/1.0\r\n\r\n";
        if (write(fd, request, sizeof request - 1) != sizeof request - 1) why = "write failed";
        std::string reply = ReadUntil(fd, "\r\n\r\nHello from gatehouse", 10);
        reply += ReadUntil(fd, "\n", 10);
        if (why.empty() && reply.rfind("HTTP/1.0 200 OK", 0) != 0) why = "reply: [" + reply + "]";
        close(fd);
      }
      if (why.empty()) {
        ok++;
      } else {
        failed++;
        std::lock_guard<std::mutex> lock(mutex);
        if (first_failure.empty()) first_failure = why;
      }
    }
  };
  std::vector<std::thread> threads;
  for (int i = 0; i < kClients; ++i) threads.emplace_back(client);
  for (std::thread& t : threads) t.join();

  EXPECT_EQ(failed.load(), 0) << "first failure: " << first_failure;
  EXPECT_EQ(ok.load(), kConnections);
  EXPECT_TRUE(gatehouse.Running());
  EXPECT_EQ(gatehouse.Log().find("refused"), std::string::npos) << gatehouse.Log();
}

}  // namespace
}  // namespace gatehouse::testing
