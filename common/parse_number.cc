#include "common/parse_number.h"

#include <limits>

namespace gatehouse {

bool ParseDecimal(const std::string& text, uint64_t max, uint64_t* value) {
  if (text.empty()) return false;
  uint64_t result = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    unsigned digit = static_cast<unsigned>(c - '0');
    if (result > (std::numeric_limits<uint64_t>::max() - digit) / 10) return false;
    result = result * 10 + digit;
    if (result > max) return false;
  }
  *value = result;
  return true;
}

bool ParseBoundedInt(const std::string& text, int min, int max, int* value) {
  uint64_t parsed = 0;
  if (min < 0 || max < min) return false;
  if (!ParseDecimal(text, static_cast<uint64_t>(max), &parsed)) return false;
  if (parsed < static_cast<uint64_t>(min)) return false;
  *value = static_cast<int>(parsed);
  return true;
}

}  // namespace gatehouse
