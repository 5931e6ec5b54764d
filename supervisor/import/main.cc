// gatehouse-import: `gatehouse import xinetd FILE|DIR...` and `gatehouse import
// inetd FILE`, which gatehouse execs. An offline converter of untrusted text, kept
// out of the privileged supervisor's binary (and its process image).
#include "supervisor/import/import_command.h"

int main(int argc, char** argv) { return gatehouse::RunImport(argc - 1, argv + 1); }
