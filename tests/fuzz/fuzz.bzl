"""gatehouse_fuzzer: one libFuzzer target and its corpus replay test."""

load("@rules_cc//cc:defs.bzl", "cc_binary", "cc_test")

def gatehouse_fuzzer(name, srcs, deps):
    """Defines NAME (the libFuzzer binary) and NAME_replay (a unit test).

    NAME is tagged manual: it links only with clang's -fsanitize=fuzzer, which
    `tools/dev fuzz` passes in its own output base, so `bazel test //...` (gcc)
    never builds it. NAME_replay builds the same LLVMFuzzerTestOneInput with gcc
    and replay_main.cc and runs it over corpus/NAME/, so every seed and every
    crash input kept there stays a regression case of the ordinary test run.
    """
    cc_binary(
        name = name,
        srcs = srcs,
        deps = deps + ["//third_party:sanitizer_runtime"],
        tags = ["manual"],
    )
    cc_test(
        name = name + "_replay",
        size = "small",
        srcs = srcs + ["replay_main.cc"],
        args = ["%s/corpus/%s" % (native.package_name(), name)],
        data = native.glob(["corpus/%s/*" % name]),
        deps = deps + ["//third_party:sanitizer_runtime"],
    )
