"""External repositories of model_compression, all local: nothing is downloaded.

Every dependency comes from a Debian package installed by tools/setup.sh. A consumer
workspace loads this file and calls `model_compression_dependencies()` once:

    local_repository(name = "model_compression", path = "...")
    load("@model_compression//:repositories.bzl", "model_compression_dependencies")
    model_compression_dependencies()
"""

def _files_repository_impl(ctx):
    """Materialises a repository from files kept in this one (`files`: label -> path)."""
    for label, dest in ctx.attr.files.items():
        ctx.symlink(ctx.path(label), dest)

_files_repository = repository_rule(
    implementation = _files_repository_impl,
    attrs = {"files": attr.label_keyed_string_dict(allow_files = True)},
    local = True,
)

def _maybe(rule, name, **kwargs):
    if name not in native.existing_rules():
        rule(name = name, **kwargs)

def model_compression_dependencies():
    """Declares every external repository the project's targets need."""

    # Bazel 4's own @bazel_tools loads @rules_cc//cc:defs.bzl; Debian's bazel-rules-cc is
    # too new for Bazel 4, so a shim forwards each rule to its native implementation.
    _maybe(
        _files_repository,
        name = "rules_cc",
        files = {
            Label("//third_party/rules_cc:WORKSPACE.in"): "WORKSPACE",
            Label("//third_party/rules_cc:BUILD.in"): "BUILD",
            Label("//third_party/rules_cc:cc/BUILD.in"): "cc/BUILD",
            Label("//third_party/rules_cc:cc/defs.bzl"): "cc/defs.bzl",
        },
    )

    # Debian's bazel-rules-java.
    _maybe(
        native.local_repository,
        name = "rules_java",
        path = "/usr/share/bazel/rules/java",
    )

    # cc_test has implicit dependencies on the coverage tools; coverage is not offered.
    _maybe(
        _files_repository,
        name = "remote_coverage_tools",
        files = {
            Label("//third_party/stubs:WORKSPACE.in"): "WORKSPACE",
            Label("//third_party/stubs:remote_coverage_tools.BUILD"): "BUILD",
            Label("//third_party/stubs:coverage_unavailable.sh"): "coverage_unavailable.sh",
        },
    )

    # Native proto_library / cc_proto_library with Debian's protoc and libprotobuf.
    _maybe(
        _files_repository,
        name = "com_google_protobuf",
        files = {
            Label("//third_party/stubs:WORKSPACE.in"): "WORKSPACE",
            Label("//third_party/stubs:com_google_protobuf.BUILD"): "BUILD",
            Label("//third_party/stubs:protoc.sh"): "protoc.sh",
        },
    )

    # LibTorch's C++ frontend headers live outside the default include path.
    _maybe(
        native.new_local_repository,
        name = "libtorch_api_headers",
        path = "/usr/include/torch/csrc/api/include",
        build_file = str(Label("//third_party:libtorch_api_headers.BUILD")),
    )
