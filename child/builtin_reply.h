// What the inetd built-ins say, as pure functions of the time and the request:
// echo (RFC 862), discard (863), daytime (867), chargen (864), time (868). The
// TCP server (child/builtin_server.h) and the UDP path both answer from here.
#pragma once

#include <time.h>

#include <cstdint>
#include <string>

#include "common/service_spec.h"

namespace gatehouse {

// The width of a chargen line without its CRLF, and the characters it rotates
// through: the 95 printable ASCII characters, space to '~'.
inline constexpr size_t kChargenLineWidth = 72;
inline constexpr size_t kChargenCharacters = 95;
// A UDP chargen reply: whole lines, at most 512 bytes (RFC 864 allows 0 to 512).
inline constexpr size_t kChargenDatagramLines = 512 / (kChargenLineWidth + 2);

// RFC 867's daytime, in ctime's form and the local time zone (read before the
// chroot): "Fri Nov 27 15:30:16 2026\r\n".
std::string DaytimeLine(time_t now);

// RFC 868's time: seconds since 1900-01-01 00:00 UTC, 4 bytes big-endian (the
// 32-bit value wraps in 2036, as the RFC's clients expect).
std::string TimeBytes(time_t now);

// Line `index` of the chargen pattern, 72 characters and CRLF: line 0 starts at
// ' ', each next line one character further, wrapping after '~'.
std::string ChargenLine(uint64_t index);

// The reply to one UDP datagram; empty means none (discard). Echo's reply is the
// request, cut to the largest datagram a reply may be.
std::string BuiltinDatagramReply(BuiltinService builtin, const std::string& request, time_t now);

}  // namespace gatehouse
