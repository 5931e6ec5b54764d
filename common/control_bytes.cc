#include "common/control_bytes.h"

namespace gatehouse {

std::string EscapeControlBytes(const std::string& text) {
  std::string escaped;
  escaped.reserve(text.size());
  for (char c : text) {
    if (!IsControlByte(c)) {
      escaped += c;
    } else if (c == '\n') {
      escaped += "\\n";
    } else if (c == '\r') {
      escaped += "\\r";
    } else if (c == '\t') {
      escaped += "\\t";
    } else {
      static const char kHex[] = "0123456789abcdef";
      unsigned char byte = static_cast<unsigned char>(c);
      escaped += "\\x";
      escaped += kHex[byte >> 4];
      escaped += kHex[byte & 0xf];
    }
  }
  return escaped;
}

}  // namespace gatehouse
