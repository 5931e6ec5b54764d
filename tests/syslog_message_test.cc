// SyslogMessageText: a datagram from a program's syslog() as gatehouse's log
// shows it, the header gone and the text bounded.
#include <gtest/gtest.h>

#include <string>

#include "child/dev_log.h"

namespace gatehouse {
namespace {

TEST(SyslogMessage, Rfc3164HeaderIsStripped) {
  // glibc's syslog() and logger over /dev/log: "<PRI>Mmm dd hh:mm:ss TAG: text".
  EXPECT_EQ(SyslogMessageText("<13>Dec  8 01:00:00 prog[1]: hello"), "prog[1]: hello");
  EXPECT_EQ(SyslogMessageText("<30>Nov 25 13:45:01 in.tftpd[77]: RRQ from 127.0.0.1\n"),
            "in.tftpd[77]: RRQ from 127.0.0.1");
  // No timestamp (some clients send none): only the PRI goes.
  EXPECT_EQ(SyslogMessageText("<13>prog: bare"), "prog: bare");
}

TEST(SyslogMessage, Rfc5424HeaderBecomesAppAndProcid) {
  EXPECT_EQ(SyslogMessageText("<14>1 2026-12-08T01:00:00Z host app 42 - - five four two"),
            "app[42]: five four two");
  EXPECT_EQ(SyslogMessageText("<14>1 - - app - ID7 [x@1 a=\"b\\]c\"] text"), "app: text");
  EXPECT_EQ(SyslogMessageText("<14>1 - host - - - - \xEF\xBB\xBFwith BOM"), "with BOM");
}

TEST(SyslogMessage, NoHeaderNoChange) {
  EXPECT_EQ(SyslogMessageText("plain words"), "plain words");
  EXPECT_EQ(SyslogMessageText("<abc>not a priority"), "<abc>not a priority");
  EXPECT_EQ(SyslogMessageText("<1234>too long a priority"), "<1234>too long a priority");
  EXPECT_EQ(SyslogMessageText(""), "");
  EXPECT_EQ(SyslogMessageText("<13>"), "");
}

TEST(SyslogMessage, OneLineBounded) {
  EXPECT_EQ(SyslogMessageText("<13>a\nb\n\n"), "a b");
  std::string long_text = "<13>" + std::string(5000, 'x');
  EXPECT_EQ(SyslogMessageText(long_text), std::string(kMaxDevLogLine, 'x'));
}

}  // namespace
}  // namespace gatehouse
