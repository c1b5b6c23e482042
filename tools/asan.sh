#!/usr/bin/env bash
# The C fast path's differential tests (Docker and CRI, and its level detector, C against
# Python) with the extension built under AddressSanitizer and UndefinedBehaviorSanitizer,
# in a temporary folder: the installed build is left alone. `make asan`; `make test` runs it once.
# CPython itself is not instrumented, so libasan is preloaded, leak checks are off
# (the interpreter's own allocations at exit are not ours) and PYTHONMALLOC=malloc
# puts the extension's PyMem buffers where ASan sees every byte.
# The plain pytest run already runs these tests with their full example counts; here the
# asan Hypothesis profile (tests/hypothesis_budget.py) runs a quarter of them.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
inc=$($PY -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
suffix=$($PY -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')
mkdir "$tmp/collector"
gcc -shared -fPIC -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
    -fno-sanitize-recover=undefined -Wall -Wextra -Werror -I"$inc" \
    collector/_fastpath.c -o "$tmp/collector/_fastpath$suffix"
# A pytest plugin loaded before anything imports collector._fastpath: the sanitized
# build comes first on the package's path.
cat > "$tmp/asan_fastpath.py" <<PLUGIN
import collector
collector.__path__.insert(0, "$tmp/collector")
import collector._fastpath
assert collector._fastpath.__file__.startswith("$tmp/"), collector._fastpath.__file__
PLUGIN
LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)" \
ASAN_OPTIONS=detect_leaks=0:abort_on_error=1${ASAN_LOG:+:log_path=$ASAN_LOG} UBSAN_OPTIONS=print_stacktrace=1 \
PYTHONMALLOC=malloc PYTHONPATH="$tmp" \
    $PY -m pytest -q -p asan_fastpath -p no:cacheprovider --hypothesis-profile=asan "$@" \
    tests/collector/test_fastpath.py tests/collector/test_fastpath_cri.py \
    tests/collector/test_level_c.py tests/collector/test_level_c_json.py
