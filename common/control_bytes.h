// Which bytes are terminal control bytes, and how text quoted from a config file,
// a peer or a program is made safe to print: the logger and every config error
// share this one rule.
#pragma once

#include <string>

namespace gatehouse {

// C0 controls (0x00-0x1f) and DEL.
inline bool IsControlByte(char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; }

// `text` with each control byte written as an escape: \n, \r, \t, else \xHH
// (ESC is \x1b, NUL \x00). Other bytes, UTF-8 included, are kept.
std::string EscapeControlBytes(const std::string& text);

}  // namespace gatehouse
