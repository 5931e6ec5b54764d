// The repository's own example config (gatehouse.conf + services.d/), as
// `tools/dev run` starts it, with the ports moved to free ones.
#include <gtest/gtest.h>

#include "tests/integration/harness.h"

namespace gatehouse::testing {
namespace {

class ExampleConfigTest : public GatehouseTest {
 protected:
  void SetUp() override {
    CommandResult check = RunCommand(
        {Runfile("supervisor/gatehouse"), "--config", Runfile("gatehouse.conf"), "--check"});
    ASSERT_EQ(check.exit_code, 0) << check.err;
    // --port replaces every service's ports: each gets a free one on 127.0.0.1.
    ASSERT_TRUE(StartWithArgs({"--config", Runfile("gatehouse.conf"), "--port", "127.0.0.1:0"},
                              {"echo", "hello"}));
  }
};

TEST_F(ExampleConfigTest, CurlGetsTheHelloReply) {
  std::string url = "http://127.0.0.1:" + std::to_string(Port("hello")) + "/";
  CommandResult curl = RunCommand({"curl", "-sS", "-i", "--max-time", "10", url});
  EXPECT_EQ(curl.exit_code, 0) << curl.err;
  EXPECT_EQ(curl.out.rfind("HTTP/1.0 200 OK\r\n", 0), 0u) << curl.out;
  EXPECT_NE(curl.out.find("Hello from gatehouse, 127.0.0.1 port "), std::string::npos) << curl.out;
}

TEST_F(ExampleConfigTest, EchoAnswersNc) {
  CommandResult nc =
      RunCommand({"nc", "-N", "127.0.0.1", std::to_string(Port("echo"))}, "from the example\n");
  EXPECT_EQ(nc.out, "from the example\n") << nc.err;
}

}  // namespace
}  // namespace gatehouse::testing
