// The harness reads only the instance it started: a stand-in "gatehouse" (a
// shell script writing log lines as gatehouse does) on a log that an earlier
// instance already wrote to, and that another pid writes to meanwhile.
#include "tests/integration/harness.h"

#include <gtest/gtest.h>
#include <signal.h>

namespace gatehouse::testing {
namespace {

// Logs port 1111 (and a stranger's line with port 3333), then "ready:"; on HUP
// it rebinds, as a reload would: port 2222, then "reloaded".
constexpr const char* kStandIn =
    "line() { echo \"2024-01-01T00:00:00.000Z gatehouse[$$] notice: $1\"; }; "
    "trap 'line \"echo: listening on 127.0.0.1:2222/tcp\"; line reloaded' HUP; "
    "sleep 0.3; line 'echo: listening on 127.0.0.1:1111/tcp'; "
    "echo '2024-01-01T00:00:00.000Z gatehouse[1] notice: echo: listening on 127.0.0.1:3333/tcp'; "
    "line 'ready: 1 services on 1 listeners'; "
    "while :; do sleep 0.05; done";

TEST(Harness, ReadsOnlyItsOwnInstanceAndTheLatestPort) {
  TempDir dir;
  std::string log = dir.Write("gatehouse.log",
                              "2024-01-01T00:00:00.000Z gatehouse[1] notice: echo: listening on "
                              "127.0.0.1:9999/tcp\n"
                              "2024-01-01T00:00:00.000Z gatehouse[1] notice: ready: earlier\n");
  GatehouseProcess::Launch launch;
  launch.binary = "/bin/sh";
  GatehouseProcess stand_in({"-c", kStandIn}, log, launch);
  ASSERT_TRUE(stand_in.started());
  EXPECT_EQ(stand_in.Log().find("ready: earlier"), std::string::npos) << stand_in.Log();
  EXPECT_EQ(stand_in.Port("echo"), 1111) << stand_in.Log();  // not 9999, nor 3333
  EXPECT_EQ(stand_in.Port("cho"), 0);

  LogMark mark = stand_in.MarkLog();
  EXPECT_FALSE(stand_in.WaitForLog("ready:", mark, 0.2));  // logged before the mark
  kill(stand_in.pid(), SIGHUP);
  ASSERT_TRUE(stand_in.WaitForLog("reloaded", mark)) << stand_in.Log();
  EXPECT_EQ(stand_in.Port("echo"), 2222) << stand_in.Log();
}

// What makes a sanitizer finding in gatehouse or gatehouse-child fail the test that
// started it (tools/dev asan): the report's lines are found in a log, and a clean log
// (which may say "error" in other words) has none.
TEST(Harness, FindsSanitizerReportsInALog) {
  const std::string clean =
      "gatehouse[7] err: echo: runtime: child exited with status 1\n"
      "gatehouse[7] notice: ERROR: nothing of a sanitizer\n";
  EXPECT_EQ(SanitizerReports(clean), "");
  const std::string asan =
      "gatehouse[7] err: echo: child: ==12==ERROR: AddressSanitizer: heap-use-after-free on\n"
      "    #0 0x55 in main\n";
  EXPECT_NE(SanitizerReports(clean + asan).find("heap-use-after-free"), std::string::npos);
  const std::string ubsan = "common/wire.cc:10:5: runtime error: signed integer overflow\n";
  EXPECT_NE(SanitizerReports(ubsan).find("signed integer overflow"), std::string::npos);
}

}  // namespace
}  // namespace gatehouse::testing
