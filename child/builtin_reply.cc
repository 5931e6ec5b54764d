#include "child/builtin_reply.h"

#include "common/wire.h"

namespace gatehouse {
namespace {

// 1970-01-01 minus 1900-01-01 in seconds (70 years, 17 of them leap years).
constexpr uint64_t kSecondsFrom1900To1970 = 2208988800u;

}  // namespace

std::string DaytimeLine(time_t now) {
  tm local{};
  char line[64];
  if (localtime_r(&now, &local) == nullptr ||
      strftime(line, sizeof line, "%a %b %e %H:%M:%S %Y\r\n", &local) == 0) {
    return "\r\n";  // a time beyond tm's range: an empty line rather than garbage
  }
  return line;
}

std::string TimeBytes(time_t now) {
  auto seconds = static_cast<uint32_t>(static_cast<uint64_t>(now) + kSecondsFrom1900To1970);
  std::string bytes(4, '\0');
  for (int i = 0; i < 4; ++i) bytes[i] = static_cast<char>(seconds >> (8 * (3 - i)));
  return bytes;
}

std::string ChargenLine(uint64_t index) {
  std::string line;
  line.reserve(kChargenLineWidth + 2);
  for (size_t column = 0; column < kChargenLineWidth; ++column) {
    line += static_cast<char>(' ' + (index + column) % kChargenCharacters);
  }
  line += "\r\n";
  return line;
}

std::string BuiltinDatagramReply(BuiltinService builtin, const std::string& request, time_t now) {
  switch (builtin) {
    case BuiltinService::kEcho:
      return request.substr(0, kMaxDatagramReplyBytes);
    case BuiltinService::kDaytime:
      return DaytimeLine(now);
    case BuiltinService::kChargen: {
      std::string reply;
      for (size_t line = 0; line < kChargenDatagramLines; ++line) reply += ChargenLine(line);
      return reply;
    }
    case BuiltinService::kTime:
      return TimeBytes(now);
    default:
      return "";  // discard, and none
  }
}

}  // namespace gatehouse
