// Access rules on real connections: a client bound to 127.0.0.2 is refused while
// 127.0.0.1 is served; the refused client's program never runs.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/integration/harness.h"

namespace gatehouse::testing {
namespace {

class AccessTest : public ::testing::Test {
 protected:
  void StartWith(const std::string& rules) {
    std::string config =
        WriteConfig(dir_, "log_level = 3\n",
                    {{"echo.conf", "[echo]\nport = 127.0.0.1:0\nexec = /bin/cat\n" + rules}});
    gatehouse_ = std::make_unique<GatehouseProcess>(std::vector<std::string>{"--config", config},
                                                    dir_.path() + "/gatehouse.log");
    ASSERT_TRUE(gatehouse_->started()) << gatehouse_->Log();
    port_ = std::to_string(gatehouse_->Port("echo"));
  }
  CommandResult NcFrom(const std::string& source) {
    return RunCommand({"nc", "-N", "-s", source, "127.0.0.1", port_}, "knock knock\n");
  }
  TempDir dir_;
  std::unique_ptr<GatehouseProcess> gatehouse_;
  std::string port_;
};

TEST_F(AccessTest, CidrAllowServesOnlyThatAddress) {
  StartWith("cidr_allow = 127.0.0.1/32\n");
  EXPECT_EQ(NcFrom("127.0.0.1").out, "knock knock\n");
  CommandResult refused = NcFrom("127.0.0.2");
  EXPECT_EQ(refused.out, "");
  ASSERT_TRUE(gatehouse_->WaitForLog("echo: denied 127.0.0.2:")) << gatehouse_->Log();
  EXPECT_EQ(gatehouse_->Log().find("start 127.0.0.2"), std::string::npos) << gatehouse_->Log();
}

TEST_F(AccessTest, DenyRegexRefusesThatAddress) {
  StartWith("allow = .*\ndeny = 127\\.0\\.0\\.2\n");
  EXPECT_EQ(NcFrom("127.0.0.2").out, "");
  EXPECT_EQ(NcFrom("127.0.0.1").out, "knock knock\n");
  EXPECT_EQ(NcFrom("127.0.0.3").out, "knock knock\n");
  ASSERT_TRUE(gatehouse_->WaitForLog("echo: denied 127.0.0.2:")) << gatehouse_->Log();
  EXPECT_EQ(gatehouse_->Log().find("denied 127.0.0.3"), std::string::npos);
}

TEST_F(AccessTest, CidrDenyWinsOverAllow) {
  StartWith("cidr_allow = 127.0.0.0/8\ncidr_deny = 127.0.0.2/32\n");
  EXPECT_EQ(NcFrom("127.0.0.2").out, "");
  EXPECT_EQ(NcFrom("127.0.0.5").out, "knock knock\n");
}

TEST_F(AccessTest, DenyAloneRefusesEveryoneAndWarns) {
  StartWith("deny = 10\\..*\n");
  EXPECT_EQ(NcFrom("127.0.0.1").out, "");
  EXPECT_NE(gatehouse_->Log().find("has deny rules but no allow rules"), std::string::npos)
      << gatehouse_->Log();
}

TEST_F(AccessTest, HostNameRulesWithReverseLookups) {
  // /etc/hosts names 127.0.0.1 "localhost", with no DNS query. (Peers without a
  // name are in reverse_lookup_test, inside a network namespace of its own.)
  StartWith("reverse_lookups = 1\nallow = localhost\n");
  EXPECT_EQ(NcFrom("127.0.0.1").out, "knock knock\n");
  StartWith("reverse_lookups = 1\nallow = 127\\.0\\.0\\.1\ndeny = localhost\n");
  EXPECT_EQ(NcFrom("127.0.0.1").out, "");  // the name matched a deny
}

TEST_F(AccessTest, ManyDeniedClientsLeaveTheServiceWorking) {
  StartWith("cidr_allow = 127.0.0.1/32\n");
  for (int i = 0; i < 200; ++i) {
    int fd = ConnectTcp("127.0.0.1", std::stoi(port_), "127.0.0.2");
    if (fd >= 0) {
      ssize_t ignored = write(fd, "junk", 4);
      (void)ignored;
      close(fd);
    }
  }
  EXPECT_EQ(NcFrom("127.0.0.1").out, "knock knock\n");
  EXPECT_TRUE(gatehouse_->Running());
}

TEST_F(AccessTest, ClientsThatResetAtOnceDoNotHurt) {
  StartWith("");
  for (int i = 0; i < 200; ++i) {
    int fd = ConnectTcp("127.0.0.1", std::stoi(port_));
    if (fd < 0) continue;
    linger reset{1, 0};  // close with RST, possibly before gatehouse has accepted
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
    close(fd);
  }
  EXPECT_EQ(NcFrom("127.0.0.1").out, "knock knock\n");
  EXPECT_TRUE(gatehouse_->Running());
  EXPECT_EQ(gatehouse_->Log().find("err:"), std::string::npos) << gatehouse_->Log();
}

}  // namespace
}  // namespace gatehouse::testing
