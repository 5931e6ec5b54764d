// `gatehouse import` runs gatehouse-import, a binary of its own: the privileged
// gatehouse binary holds none of the converter, and without the helper the
// command says what is missing.
#include <gtest/gtest.h>

#include "tests/integration/harness.h"

namespace gatehouse {
namespace {

using testing::CommandResult;
using testing::Gatehouse;
using testing::RunCommand;
using testing::Runfile;
using testing::TempDir;

// Functions only the converter has (supervisor/import/): its entry, its two
// readers, its writer and its clash check.
const char* const kImportSymbols[] = {"gatehouse::RunImport(", "gatehouse::ImportXinetd(",
                                      "gatehouse::ImportInetd(", "gatehouse::WriteServicesD(",
                                      "gatehouse::CommentOutPortClashes("};

// The defined symbols (`nm -C --defined-only`) of a binary.
std::string DefinedSymbols(const std::string& binary) {
  CommandResult nm = RunCommand({"nm", "-C", "--defined-only", binary}, "", 30);
  EXPECT_EQ(nm.exit_code, 0) << nm.err;
  return nm.out;
}

TEST(ImportBinary, TheGatehouseBinaryHoldsNoConverter) {
  std::string gatehouse = DefinedSymbols(Gatehouse());
  std::string helper = DefinedSymbols(Runfile("supervisor/gatehouse-import"));
  ASSERT_NE(gatehouse.find("gatehouse::LoadConfig("), std::string::npos) << "nm sees no symbols";
  for (const char* symbol : kImportSymbols) {
    EXPECT_EQ(gatehouse.find(symbol), std::string::npos) << symbol << " is in gatehouse";
    EXPECT_NE(helper.find(symbol), std::string::npos) << symbol << " is not in gatehouse-import";
  }
}

TEST(ImportBinary, WithoutTheHelperImportSaysWhatIsMissing) {
  TempDir dir;
  std::string alone = dir.path() + "/gatehouse";
  testing::CopyExecutable(Gatehouse(), alone);
  std::string conf = dir.Write("inetd.conf", "echo stream tcp nowait nobody /bin/cat cat\n");
  CommandResult import = RunCommand({alone, "import", "inetd", conf}, "", 10);
  EXPECT_EQ(import.exit_code, 1);
  EXPECT_EQ(import.out, "");
  EXPECT_NE(import.err.find("gatehouse import needs gatehouse-import, which is not installed: " +
                            dir.path() + "/gatehouse-import (it belongs beside gatehouse)"),
            std::string::npos)
      << import.err;

  // Beside it, the same command imports.
  testing::CopyExecutable(Runfile("supervisor/gatehouse-import"), dir.path() + "/gatehouse-import");
  import = RunCommand({alone, "import", "inetd", conf}, "", 10);
  EXPECT_EQ(import.exit_code, 0) << import.err;
  EXPECT_NE(import.out.find("[echo]"), std::string::npos) << import.out;
}

}  // namespace
}  // namespace gatehouse
