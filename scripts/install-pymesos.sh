#!/usr/bin/env bash
# Install the unmodified reference clients into a virtualenv:
#   pymesos==0.3.15   (Mesos v1 scheduler/executor client; compatibility tests drive it)
#   marathon==0.13.0  (Marathon REST client)
#   chronos-python==1.2.1 (Chronos REST client; works unpatched)
#
# pymesos depends on http-parser==0.9.0, whose shipped, pre-generated parser.c does not
# compile against Python 3.11. We rebuild it from its own parser.pyx with Cython < 3 and
# keep the resulting wheel in <repo>/.cache/wheels so later runs skip the build.
#
#   scripts/install-pymesos.sh VENV
set -euo pipefail

PYMESOS_VERSION=0.3.15
HTTP_PARSER_VERSION=0.9.0
MARATHON_VERSION=0.13.0
CHRONOS_VERSION=1.2.1

if [ "$#" -ne 1 ]; then
    echo "usage: $0 VENV" >&2
    exit 2
fi
venv=$(cd "$1" && pwd)
py="$venv/bin/python"
if [ ! -x "$py" ]; then
    echo "install-pymesos: $py not found; is $1 a virtualenv?" >&2
    exit 1
fi

repo_root=$(cd "$(dirname "$0")/.." && pwd)
wheel_cache="$repo_root/.cache/wheels"

# True when the C parser imports and every distribution is at its pinned version.
already_installed() {
    "$py" - "$PYMESOS_VERSION" "$HTTP_PARSER_VERSION" "$MARATHON_VERSION" "$CHRONOS_VERSION" \
        2>/dev/null <<'EOF'
import sys
from importlib.metadata import version

import http_parser.parser  # noqa: F401  (the compiled extension, not the pure-Python fallback)
import pymesos  # noqa: F401

wanted = dict(zip(["pymesos", "http-parser", "marathon", "chronos-python"], sys.argv[1:]))
sys.exit(any(version(name) != v for name, v in wanted.items()))
EOF
}

if already_installed; then
    echo "install-pymesos: pymesos $PYMESOS_VERSION, http-parser $HTTP_PARSER_VERSION, marathon $MARATHON_VERSION and chronos-python $CHRONOS_VERSION already in $venv"
    exit 0
fi

pip() { "$py" -m pip --disable-pip-version-check "$@"; }

# The wheel's name is fixed by the interpreter's ABI and the platform, so a cached
# wheel built for another Python is simply not found and gets rebuilt.
wheel_name=$("$py" - "$HTTP_PARSER_VERSION" <<'EOF'
import sys
import sysconfig

tag = f"cp{sys.version_info.major}{sys.version_info.minor}"
plat = sysconfig.get_platform().replace("-", "_").replace(".", "_")
print(f"http_parser-{sys.argv[1]}-{tag}-{tag}-{plat}.whl")
EOF
)

if [ -f "$wheel_cache/$wheel_name" ]; then
    echo "install-pymesos: using cached $wheel_cache/$wheel_name"
else
    echo "install-pymesos: building http-parser $HTTP_PARSER_VERSION from source (Cython < 3)"
    work=$(mktemp -d "${TMPDIR:-/tmp}/http-parser-build.XXXXXX")
    trap 'rm -rf "$work"' EXIT
    log="$work/build.log"
    run() {
        if ! "$@" >>"$log" 2>&1; then
            echo "install-pymesos: failed: $*" >&2
            tail -n 40 "$log" >&2
            exit 1
        fi
    }

    # Build requirements: setuptools and wheel in the venv (the build runs without
    # isolation), Cython kept outside the venv so tests never see it.
    run pip install --quiet wheel setuptools
    run pip install --quiet --target "$work/cython" 'cython<3'

    run pip download --quiet --no-binary :all: --no-deps --dest "$work" \
        "http-parser==$HTTP_PARSER_VERSION"
    run tar -xzf "$work/http-parser-$HTTP_PARSER_VERSION.tar.gz" -C "$work"
    src="$work/http-parser-$HTTP_PARSER_VERSION"

    rm -f "$src/http_parser/parser.c"
    (cd "$src" && run env PYTHONPATH="$work/cython" "$py" -m cython http_parser/parser.pyx)
    if [ ! -f "$src/http_parser/parser.c" ]; then
        echo "install-pymesos: cython did not produce http_parser/parser.c" >&2
        exit 1
    fi

    (cd "$src" && run pip wheel --no-build-isolation --no-deps --wheel-dir "$work/dist" .)
    if [ ! -f "$work/dist/$wheel_name" ]; then
        echo "install-pymesos: expected $wheel_name, got: $(ls "$work/dist")" >&2
        exit 1
    fi
    mkdir -p "$wheel_cache"
    # Copy then rename, so a concurrent or interrupted run never sees half a wheel.
    cp "$work/dist/$wheel_name" "$wheel_cache/.$wheel_name.tmp"
    mv "$wheel_cache/.$wheel_name.tmp" "$wheel_cache/$wheel_name"
    echo "install-pymesos: cached $wheel_cache/$wheel_name"
fi

pip install --quiet "$wheel_cache/$wheel_name"
echo "install-pymesos: installing pymesos==$PYMESOS_VERSION marathon==$MARATHON_VERSION chronos-python==$CHRONOS_VERSION"
pip install --quiet "pymesos==$PYMESOS_VERSION" "marathon==$MARATHON_VERSION" \
    "chronos-python==$CHRONOS_VERSION"

"$py" -c 'import http_parser.parser; from pymesos import MesosSchedulerDriver, MesosExecutorDriver'
if ! already_installed; then
    echo "install-pymesos: installed, but the version check still fails" >&2
    exit 1
fi
echo "install-pymesos: ok (pymesos $PYMESOS_VERSION with compiled http-parser $HTTP_PARSER_VERSION, marathon $MARATHON_VERSION)"
