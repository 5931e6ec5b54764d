// A machine (or container) without IPv6: in a network namespace of the test's
// own with IPv6 switched off on loopback, "localhost" still serves on 127.0.0.1
// (the ::1 half is skipped with a warning), while an explicit [::1] is an error.
#include <gtest/gtest.h>

#include "tests/integration/harness.h"

namespace gatehouse::testing {
namespace {

// $1: an /etc/hosts to use, naming localhost 127.0.0.1 and ::1 (as Debian's does;
// this machine's may not), so that the name stands for both families.
constexpr const char* kWithoutIpv6 =
    "set -e; ip link set lo up; echo 1 > /proc/sys/net/ipv6/conf/lo/disable_ipv6; "
    "mount --bind \"$1\" /etc/hosts; shift; exec \"$@\"";

class Ipv6Off : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!IsRoot()) GTEST_SKIP() << "network namespaces need root";
    hosts_ = dir_.Write("hosts", "127.0.0.1 localhost\n::1 localhost\n");
  }
  std::vector<std::string> Wrapper() const {
    return {"unshare", "--net", "--mount", "--", "sh", "-c", kWithoutIpv6, "sh", hosts_};
  }
  TempDir dir_;
  std::string hosts_;
};

TEST_F(Ipv6Off, HostNamesSkipTheMissingFamily) {
  std::string config =
      WriteConfig(dir_, "", {{"echo.conf", "[echo]\nport = localhost:0\nexec = /bin/cat\n"}});
  GatehouseProcess::Launch launch;
  launch.wrapper = Wrapper();
  GatehouseProcess gatehouse({"--config", config}, dir_.path() + "/gatehouse.log", launch);
  ASSERT_TRUE(gatehouse.started()) << gatehouse.Log();
  EXPECT_NE(gatehouse.Log().find("warning: " + dir_.path() +
                                 "/services.d/echo.conf:2: port: bind [::1]:0: Cannot assign "
                                 "requested address (IPv6 unavailable; skipped)"),
            std::string::npos)
      << gatehouse.Log();
  CommandResult nc =
      RunCommand({"nsenter", "--net=/proc/" + std::to_string(gatehouse.pid()) + "/ns/net", "nc",
                  "-N", "127.0.0.1", std::to_string(gatehouse.Port("echo"))},
                 "v4 only\n");
  EXPECT_EQ(nc.out, "v4 only\n") << nc.err;
}

TEST_F(Ipv6Off, AnExplicitIpv6AddressMustBind) {
  std::string config =
      WriteConfig(dir_, "", {{"echo.conf", "[echo]\nport = [::1]:0\nexec = /bin/cat\n"}});
  std::vector<std::string> command = Wrapper();
  command.insert(command.end(), {Runfile("supervisor/gatehouse"), "--config", config});
  CommandResult run = RunCommand(command);
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.err.find("services.d/echo.conf:2: port: bind [::1]:0: Cannot assign requested "
                         "address"),
            std::string::npos)
      << run.err;
}

}  // namespace
}  // namespace gatehouse::testing
