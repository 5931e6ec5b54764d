// What the built-ins answer (child/builtin_reply.h), checked against the RFCs'
// own examples and against values computed here independently.
#include "child/builtin_reply.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <time.h>

#include "common/wire.h"

namespace gatehouse {
namespace {

class BuiltinReplyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    setenv("TZ", "UTC", 1);
    tzset();
  }
};

// 2026-11-27 15:30:16 UTC.
constexpr time_t kFriday = 1795793416;

TEST_F(BuiltinReplyTest, DaytimeIsCtimeFormWithCrLf) {
  EXPECT_EQ(DaytimeLine(kFriday), "Fri Nov 27 15:30:16 2026\r\n");
  // A one-digit day is padded with a space, as ctime does.
  EXPECT_EQ(DaytimeLine(kFriday - 20 * 86400), "Sat Nov  7 15:30:16 2026\r\n");
}

TEST_F(BuiltinReplyTest, DaytimeFollowsTheTimeZone) {
  setenv("TZ", "EST5", 1);
  tzset();
  EXPECT_EQ(DaytimeLine(kFriday), "Fri Nov 27 10:30:16 2026\r\n");
}

TEST_F(BuiltinReplyTest, TimeIsSecondsSince1900BigEndian) {
  // RFC 868's own examples: 2,208,988,800 is 1970-01-01, 2,629,584,000 is 1983-05-01.
  EXPECT_EQ(TimeBytes(0), std::string("\x83\xaa\x7e\x80", 4));
  EXPECT_EQ(TimeBytes(2629584000 - 2208988800), std::string("\x9c\xbc\x44\x80", 4));
  // 2036-02-07 06:28:16 UTC is 2^32 seconds after 1900: the 32-bit value wraps to 0.
  EXPECT_EQ(TimeBytes(2085978496), std::string(4, '\0'));
}

TEST_F(BuiltinReplyTest, ChargenRotatesThe95PrintableCharacters) {
  std::string first = ChargenLine(0);
  ASSERT_EQ(first.size(), 74u);
  EXPECT_EQ(first.substr(0, 10), " !\"#$%&'()");
  EXPECT_EQ(first.substr(70), "fg\r\n");
  EXPECT_EQ(ChargenLine(1).substr(0, 3), "!\"#");
  // Line 94 starts at '~' and wraps to ' '; line 95 is line 0 again.
  EXPECT_EQ(ChargenLine(94).substr(0, 3), "~ !");
  EXPECT_EQ(ChargenLine(95), first);
  for (uint64_t line = 0; line < 200; ++line) {
    std::string text = ChargenLine(line);
    for (size_t i = 0; i < kChargenLineWidth; ++i) {
      ASSERT_GE(text[i], ' ');
      ASSERT_LE(text[i], '~');
      ASSERT_EQ(text[i], ' ' + (line + i) % 95) << line << " " << i;
    }
  }
}

TEST_F(BuiltinReplyTest, DatagramReplies) {
  std::string request("ping\0with a NUL", 15);
  EXPECT_EQ(BuiltinDatagramReply(BuiltinService::kEcho, request, kFriday), request);
  EXPECT_EQ(BuiltinDatagramReply(BuiltinService::kDiscard, request, kFriday), "");
  EXPECT_EQ(BuiltinDatagramReply(BuiltinService::kDaytime, request, kFriday),
            "Fri Nov 27 15:30:16 2026\r\n");
  EXPECT_EQ(BuiltinDatagramReply(BuiltinService::kTime, "", kFriday), TimeBytes(kFriday));
  EXPECT_EQ(BuiltinDatagramReply(BuiltinService::kNone, request, kFriday), "");
}

TEST_F(BuiltinReplyTest, ChargenDatagramIsWholeLinesWithin512Bytes) {
  std::string reply = BuiltinDatagramReply(BuiltinService::kChargen, "", kFriday);
  EXPECT_LE(reply.size(), 512u);
  EXPECT_EQ(reply.size(), 6u * 74);
  for (size_t line = 0; line < 6; ++line) {
    EXPECT_EQ(reply.substr(line * 74, 74), ChargenLine(line));
  }
}

TEST_F(BuiltinReplyTest, EchoOfTheLargestDatagramIsCutToTheLargestReply) {
  std::string request(kMaxDatagramBytes, 'x');
  EXPECT_EQ(BuiltinDatagramReply(BuiltinService::kEcho, request, kFriday).size(),
            kMaxDatagramReplyBytes);
}

}  // namespace
}  // namespace gatehouse
