// OpenSSH's sshd in inetd mode (sshd -i) behind gatehouse, driven by the real ssh
// client: the program that needs root (chroot into /run/sshd, setgroups, setuid to
// the user) runs with user = root, capabilities = all, no_new_privs = no, and
// fails with a clear log line without them. Host key, client key, authorized
// keys and sshd_config are the test's own, in its temporary folder; ~/.ssh is
// never read or written.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "tests/integration/harness.h"

namespace gatehouse::testing {
namespace {

constexpr double kClientTimeout = 30;  // seconds; ssh's ConnectTimeout is shorter

class SshdTest : public GatehouseTest {
 protected:
  void SetUp() override {
    if (!IsRoot()) GTEST_SKIP() << "sshd -i needs root";
    if (access("/usr/sbin/sshd", X_OK) != 0) GTEST_SKIP() << "no /usr/sbin/sshd (openssh-server)";
    // The privilege-separation folder, as the package's service creates it.
    mkdir("/run/sshd", 0755);
    keys_ = dir_.path() + "/keys";
    mkdir(keys_.c_str(), 0700);
    for (const char* key : {"host_ed25519", "client_ed25519"}) {
      CommandResult made = RunCommand({"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C",
                                       "gatehouse-test", "-f", keys_ + "/" + key});
      ASSERT_EQ(made.exit_code, 0) << made.err;
    }
    std::string public_key = ReadFile(keys_ + "/client_ed25519.pub");
    ASSERT_FALSE(public_key.empty());
    dir_.Write("keys/authorized_keys", public_key);
    sshd_config_ = dir_.Write("sshd_config", "HostKey " + keys_ +
                                                 "/host_ed25519\n"
                                                 "AuthorizedKeysFile " +
                                                 keys_ +
                                                 "/authorized_keys\n"
                                                 "PermitRootLogin prohibit-password\n"
                                                 "PasswordAuthentication no\n"
                                                 "KbdInteractiveAuthentication no\n"
                                                 "UsePAM no\n"
                                                 "StrictModes no\n");
  }

  std::string Service(const std::string& privileges) const {
    return "[sshd]\nport = 127.0.0.1:0\nuser = root\ngroup = root\n" + privileges +
           "exec = /usr/sbin/sshd\nargs = -i -f " + sshd_config_ + " -e\n";
  }

  CommandResult RunId() {
    return RunCommand({"ssh",
                       "-F",
                       "/dev/null",
                       "-i",
                       keys_ + "/client_ed25519",
                       "-o",
                       "IdentitiesOnly=yes",
                       "-o",
                       "IdentityAgent=none",
                       "-o",
                       "BatchMode=yes",
                       "-o",
                       "StrictHostKeyChecking=no",
                       "-o",
                       "UserKnownHostsFile=/dev/null",
                       "-o",
                       "ConnectTimeout=10",
                       "-p",
                       std::to_string(Port("sshd")),
                       "root@127.0.0.1",
                       "id"},
                      "", kClientTimeout);
  }

  std::string keys_;
  std::string sshd_config_;
};

TEST_F(SshdTest, RootWithAllCapabilitiesRunsSshdInetdMode) {
  ASSERT_TRUE(Start("log_level = 3\n",
                    {{"sshd.conf", Service("capabilities = all\nno_new_privs = no\n")}}));
  CommandResult id = RunId();
  ASSERT_EQ(id.exit_code, 0) << id.out << id.err << gatehouse_->Log();
  EXPECT_EQ(id.out.rfind("uid=0(root) gid=0(root)", 0), 0u) << id.out;
}

TEST_F(SshdTest, WithoutCapabilitiesSshdFailsWithAClearLogLine) {
  ASSERT_TRUE(Start("log_level = 3\n", {{"sshd.conf", Service("")}}));
  CommandResult id = RunId();
  EXPECT_NE(id.exit_code, 0) << id.out;
  EXPECT_EQ(id.out.find("uid=0"), std::string::npos) << id.out;
  // sshd's own stderr, labelled with its name and pid: privilege separation
  // cannot chroot without CAP_SYS_CHROOT.
  const std::string reason = "chroot(\"/run/sshd\"): Operation not permitted";
  EXPECT_TRUE(gatehouse_->WaitForLog(reason)) << gatehouse_->Log();
  std::string log = gatehouse_->Log();
  size_t at = log.find(reason);
  ASSERT_NE(at, std::string::npos);
  std::string line = log.substr(log.rfind('\n', at) + 1);
  line = line.substr(0, line.find('\n'));
  EXPECT_NE(line.find("sshd["), std::string::npos) << line;
}

}  // namespace
}  // namespace gatehouse::testing
