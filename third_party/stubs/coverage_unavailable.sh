#!/bin/sh
echo "bazel coverage is not available: the coverage tools are not packaged for this offline build" >&2
exit 1
