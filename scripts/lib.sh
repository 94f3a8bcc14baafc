# Helpers shared by the test scripts (sourced, not run).

current_step=
step() {
    current_step=$*
    printf '\n==> %s\n' "$*"
}
have() { command -v "$1" >/dev/null 2>&1; }
# True in CI: the CI variable is set, to anything but "false" or "0" (CI services set CI=true).
in_ci() {
    case ${CI:-} in '' | false | 0) return 1 ;; *) return 0 ;; esac
}
# For a step that cannot run on this machine: `cannot_run WHAT WHY`. In CI it fails (the run stops
# there, and its last line counts the failure), because a CI run that skips a check has not passed
# it; elsewhere it says loudly that WHAT was skipped and why, and the run goes on.
cannot_run() {
    local what=$1 why=$2
    if in_ci; then
        printf 'FAILED: %s cannot run, and in CI (CI=%s) a step that cannot run fails the run.\n%s\n' \
            "$what" "$CI" "$why"
        return 1
    fi
    printf '!!!!!!!!\n!!! SKIPPED: %s cannot run on this machine (in CI this fails the run).\n%s\n!!!!!!!!\n' \
        "$what" "$why"
}
apt_updated=
apt_install() {
    [ -n "$apt_updated" ] || { apt-get update -qq; apt_updated=1; }
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# Miri and ThreadSanitizer run on one pinned nightly (FLOE_NIGHTLY overrides it). From
# nightly-2026-09-11 on, Miri checks the types of c-variadic arguments (rust-lang/rust#161734) and
# rejects parking_lot_core 0.9.12's futex call whenever a test happens to contend a mutex; this one
# predates that and has miri and rust-src.
NIGHTLY=${FLOE_NIGHTLY:-nightly-2026-05-20}

# `toolchain_with TOOLCHAIN COMPONENT...`: makes sure rustup has TOOLCHAIN with each COMPONENT,
# installing what is missing (nothing is downloaded when all is there). When that fails it returns 1
# with the command that failed and rustup's last words in $toolchain_error.
toolchain_error=
toolchain_with() {
    local toolchain=$1 installed output component missing=()
    shift
    toolchain_error=
    if ! have rustup; then
        toolchain_error="rustup is not on PATH, so the $toolchain toolchain cannot be installed"
        return 1
    fi
    if ! installed=$(RUSTUP_AUTO_INSTALL=0 rustup component list --toolchain "$toolchain" --installed 2>/dev/null); then
        local components
        components=$(IFS=,; echo "$*")
        if ! output=$(RUST_BACKTRACE=0 rustup toolchain install "$toolchain" --profile minimal --component "$components" 2>&1); then
            toolchain_error="\`rustup toolchain install $toolchain --profile minimal --component $components\` failed:
$(tail -n 5 <<<"$output")"
            return 1
        fi
        installed=$(RUSTUP_AUTO_INSTALL=0 rustup component list --toolchain "$toolchain" --installed 2>&1)
    fi
    for component; do
        grep -q "^$component\(-\|\$\)" <<<"$installed" || missing+=("$component")
    done
    if [ ${#missing[@]} -gt 0 ] &&
        ! output=$(RUST_BACKTRACE=0 rustup component add --toolchain "$toolchain" "${missing[@]}" 2>&1); then
        toolchain_error="\`rustup component add --toolchain $toolchain ${missing[*]}\` failed:
$(tail -n 5 <<<"$output")"
        return 1
    fi
}

# Test counts over a whole run. `start_suites` once, then `run_suite NAME CMD...` for each command
# that runs tests: CMD's output (stderr too) is shown and saved, and run_suite fails as CMD does.
# At exit, `end_suites STATUS` prints the run's last line, "N passed, M failed", summed from every
# saved output. It reads three kinds of lines:
#   libtest (cargo test, Miri, loom)  "test result: ok. 12 passed; 0 failed; ..."  each line counts
#   floe's API harness, test-install  "12 passed, 0 failed"                         each line counts
#   XCTest                            "Executed 12 tests, with 1 failure ..."       the output's last
#                                     one only: XCTest prints one per suite and the total last
# A suite that failed with no failing test counted (it did not build, say) counts as one failure,
# and so does a run that stopped outside any suite: a run that fails never ends "0 failed".
suite_logs=
suite_log=
start_suites() {
    suite_logs=$(mktemp -d)
}
run_suite() {
    local name=$1 status
    shift
    suite_log=$suite_logs/$(find "$suite_logs" -name '*.log' | wc -l)-$name.log
    # The command's own status, whatever pipefail and errexit say (neither applies left of `||`).
    { "$@" 2>&1 | tee "$suite_log"; status=${PIPESTATUS[0]}; } || true
    echo "$status" >"${suite_log%.log}.status"
    return "$status"
}
# `run_filtered_suite NAME CMD...`: run_suite for a command that selects its tests by name (libtest's
# or the API harness's filter), which also fails when no test ran: a filter that matches nothing
# (a module renamed, a test moved) passes with "0 passed" otherwise. The failure counts as one.
run_filtered_suite() {
    local name=$1 status=0 passed failed
    run_suite "$@" || status=$?
    read -r passed failed < <(suite_counts "$suite_log")
    if [ "$status" -eq 0 ] && [ $((passed + failed)) -eq 0 ]; then
        { echo "FAILED: $name ran no test: its filter matches none (\`${*:2}\`)"; echo "0 passed, 1 failed"; } |
            tee -a "$suite_log"
        status=1
        echo "$status" >"${suite_log%.log}.status"
    fi
    return "$status"
}
# Prints "PASSED FAILED" for one saved output.
suite_counts() {
    awk '
        /^test result: (ok|FAILED)\. [0-9]+ passed; [0-9]+ failed;/ { passed += $4; failed += $6 }
        /^[0-9]+ passed, [0-9]+ failed$/ { passed += $1; failed += $3 }
        /Executed [0-9]+ tests?, with [0-9]+ failures?/ {
            for (i = 1; i < NF; i++) if ($i == "Executed") { xctest_run = $(i + 1); xctest_failed = $(i + 4) }
        }
        END { print passed + xctest_run - xctest_failed, failed + xctest_failed }
    ' "$1"
}
end_suites() {
    local run_status=$1 passed=0 failed=0 log suite_passed suite_failed
    for log in "$suite_logs"/*.log; do
        [ -e "$log" ] || continue
        read -r suite_passed suite_failed < <(suite_counts "$log")
        if [ "$(cat "${log%.log}.status")" != 0 ] && [ "$suite_failed" -eq 0 ]; then
            echo "FAILED: $(basename "${log%.log}" | cut -d - -f 2-) exited with status $(cat "${log%.log}.status") before any test failed"
            suite_failed=1
        fi
        passed=$((passed + suite_passed))
        failed=$((failed + suite_failed))
    done
    if [ "$run_status" -ne 0 ] && [ "$failed" -eq 0 ]; then
        echo "FAILED: the run stopped (status $run_status) in step: ${current_step:-before the first step}"
        failed=1
    fi
    rm -rf "$suite_logs"
    echo "$passed passed, $failed failed"
}

# libclang, which bindgen loads in floe-cinterop's build scripts (the workspace's examples run
# them): the library and clang's own headers (stddef.h, ...), from Debian's libclang1 and the
# libclang-common-N-dev of its version N. A LIBCLANG_PATH set by hand is taken as it is.
have_libclang() {
    [ -n "${LIBCLANG_PATH:-}" ] && return 0
    compgen -G '/usr/lib/llvm-*/lib/libclang.so*' >/dev/null &&
        compgen -G '/usr/lib/llvm-*/lib/clang/*/include/stddef.h' >/dev/null
}
ensure_libclang() {
    have_libclang && return 0
    apt_install libclang1
    local version
    version=$(dpkg-query -W -f='${Depends}' libclang1 | grep -o 'libclang1-[0-9]*' | head -n 1 | cut -d - -f 2)
    apt_install "libclang-common-$version-dev"
    have_libclang || { echo "FAILED: libclang1 and libclang-common-$version-dev installed, yet no libclang.so and stddef.h under /usr/lib/llvm-*"; return 1; }
}
