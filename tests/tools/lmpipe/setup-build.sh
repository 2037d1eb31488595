# setup.sh's build function applies its meson options to a folder configured
# earlier, in either order of `setup.sh demo` (no options) and `setup.sh test`
# (-Dwerror=true), on a one-file C project so that it runs in seconds.
. "$(dirname "$0")/../lib.sh"
command -v meson >/dev/null || skip "meson is not installed"
command -v ninja >/dev/null || skip "ninja is not installed"
command -v python3 >/dev/null || skip "python3 is not installed; it reads meson's options"
cd "$WORK"

# The function as setup.sh defines it; log() is setup.sh's own helper.
definition=$(sed -n '/^build() {$/,/^}$/p' "$LMPIPE_SOURCE/setup.sh")
[ -n "$definition" ] || fail "setup.sh defines no build() function"
log() { echo "setup: $*" >&2; }
eval "$definition"

mkdir project
cat >project/meson.build <<'MESON'
project('tiny', 'c')
executable('tiny', 'tiny.c')
MESON
echo 'int main(void) { return 0; }' >project/tiny.c
cd project

# option FOLDER NAME: prints the value meson has for option NAME in FOLDER.
option() {
    meson introspect "$1" --buildoptions | python3 -c '
import json, sys
print(next(str(o["value"]).lower() for o in json.load(sys.stdin) if o["name"] == sys.argv[1]))
' "$2"
}

# demo, then test, then demo again.
build demo-first 2>"$WORK/err" || fail "build without options failed on a new folder"
[ "$(option demo-first werror)" = false ] || fail "a demo build has werror set"
build demo-first -Dwerror=true 2>"$WORK/err" || fail "build -Dwerror=true failed after a demo build"
[ "$(option demo-first werror)" = true ] ||
    fail "build -Dwerror=true left werror at $(option demo-first werror) in a folder a demo build made"
expect_grep 'applying -Dwerror=true to demo-first' "$WORK/err"
build demo-first 2>"$WORK/err" || fail "build without options failed after a test build"
[ "$(option demo-first werror)" = true ] || fail "a later demo build changed werror"
[ -x demo-first/tiny ] || fail "no program was built in demo-first"

# test, then demo, and options given more than once.
build test-first -Dwerror=true -Dbuildtype=debugoptimized 2>"$WORK/err" ||
    fail "build -Dwerror=true failed on a new folder"
build test-first 2>"$WORK/err" || fail "build without options failed after a test build"
build test-first -Dwerror=true -Dbuildtype=debugoptimized 2>"$WORK/err" ||
    fail "build with the same options failed on a configured folder"
[ "$(option test-first werror)" = true ] || fail "werror is not set in test-first"
[ "$(option test-first buildtype)" = debugoptimized ] ||
    fail "buildtype is $(option test-first buildtype) in test-first, expected debugoptimized"
[ -x test-first/tiny ] || fail "no program was built in test-first"
