# Helpers shared by the test scripts (sourced, not run).

current_step=
step() {
    current_step=$*
    printf '\n==> %s\n' "$*"
}
have() { command -v "$1" >/dev/null 2>&1; }
apt_updated=
apt_install() {
    [ -n "$apt_updated" ] || { apt-get update -qq; apt_updated=1; }
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
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
start_suites() {
    suite_logs=$(mktemp -d)
}
run_suite() {
    local name=$1 status
    shift
    local log
    log=$suite_logs/$(find "$suite_logs" -name '*.log' | wc -l)-$name.log
    # The command's own status, whatever pipefail and errexit say (neither applies left of `||`).
    { "$@" 2>&1 | tee "$log"; status=${PIPESTATUS[0]}; } || true
    echo "$status" >"${log%.log}.status"
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
