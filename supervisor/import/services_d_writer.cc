#include "supervisor/import/services_d_writer.h"

#include <set>

namespace gatehouse {
namespace {

// inih's buffer takes 198 characters a line; stay clear of it.
constexpr size_t kMaxLine = 190;

bool SectionNameByte(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == '-';
}

std::string ValidSectionName(const std::string& name) {
  std::string valid;
  for (char c : name) valid += SectionNameByte(c) ? c : '-';
  if (valid.empty()) valid = "service";
  return valid.substr(0, 56);  // room for a -udp or -NN suffix within 64
}

std::string UniqueName(const ImportedService& service, std::set<std::string>* taken) {
  std::string base = ValidSectionName(service.name);
  std::string name = base;
  if (taken->count(name) && service.datagram) name = base + "-udp";
  for (int n = 2; taken->count(name); ++n) name = base + "-" + std::to_string(n);
  taken->insert(name);
  return name;
}

std::string Clip(const std::string& line) {
  return line.size() <= kMaxLine ? line : line.substr(0, kMaxLine - 3) + "...";
}

// `args` longer than a line continues on indented lines, a word or more each: gatehouse
// joins continuation lines of args with newlines, which separate words like blanks.
std::vector<std::string> KeyLines(const std::string& key, const std::string& value) {
  std::string first = key + " = ";
  if (first.size() + value.size() <= kMaxLine || key != "args") return {first + value};
  std::vector<std::string> lines{first};
  size_t start = 0;
  while (start < value.size()) {
    size_t end = value.find(' ', start);
    if (end == std::string::npos) end = value.size();
    std::string word = value.substr(start, end - start);
    if (lines.back().size() > 2 && lines.back().size() + 1 + word.size() > kMaxLine) {
      lines.push_back("  ");
    }
    std::string& line = lines.back();
    if (line.back() != ' ') line += ' ';
    line += word;
    start = end + 1;
  }
  return lines;
}

}  // namespace

std::string EscapeArgWord(const std::string& word) {
  if (word.empty()) return "''";
  std::string escaped;
  for (char c : word) {
    bool plain = SectionNameByte(c) || c == '/' || c == ':' || c == '=' || c == '@' || c == '%' ||
                 c == '+' || c == ',';
    if (!plain) escaped += '\\';
    escaped += c;
  }
  return escaped;
}

std::string WriteServicesD(const std::vector<ImportedService>& services, const std::string& tool) {
  std::string out = "# services.d file written by `gatehouse import " + tool +
                    "`: check it with `gatehouse --check`.\n";
  std::set<std::string> taken;
  for (const ImportedService& service : services) {
    std::string name = UniqueName(service, &taken);
    bool commented = !service.not_runnable.empty();
    std::string prefix = commented ? "# " : "";
    out += "\n" + Clip("# " + service.origin + ": " + service.name) + "\n";
    for (const std::string& reason : service.not_runnable) {
      out += Clip("# commented out: " + reason) + "\n";
    }
    for (const std::string& note : service.notes) out += Clip("# " + note) + "\n";
    out += prefix + "[" + name + "]\n";
    for (const auto& key : service.keys) {
      for (const std::string& line : KeyLines(key.first, key.second)) {
        // A commented continuation line stays a comment, not a key.
        out += (commented ? Clip(prefix + line) : line) + "\n";
      }
    }
  }
  return out;
}

}  // namespace gatehouse
