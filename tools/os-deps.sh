#!/usr/bin/env bash
# Install the Debian/Ubuntu packages the kit needs, only for the commands that are missing.
#
#   tools/os-deps.sh            install what is missing (apt-get update first, only then)
#   tools/os-deps.sh --dry-run  print the commands it would run, run nothing
#
# One command, one package: a machine that lacks only tshark asks apt for tshark alone, so a Node.js
# installed from another source (whose nodejs package conflicts with Debian's npm) is never touched.
# Environment: PYTHON (the interpreter that must make venvs, default python3), V=1 to show apt's output,
# SUDO to override how root is reached (default: none as root, sudo otherwise).
set -u

PYTHON=${PYTHON:-python3}
dry_run=0
case "${1:-}" in
  --dry-run | -n) dry_run=1 ;;
  "") ;;
  *) echo "usage: $0 [--dry-run]" >&2; exit 2 ;;
esac

# What is missing, as "command:package" pairs, in a fixed order.
missing=()
need() { # need COMMAND PACKAGE [ALTERNATIVE-COMMAND]: ask for PACKAGE when no command of the list is on PATH
  local package=$2 cmd
  for cmd in "$1" ${3:+"$3"}; do
    command -v "$cmd" >/dev/null 2>&1 && return 0
  done
  missing+=("$1:$package")
}
need tshark tshark
need capinfos tshark
need sipp sip-tester
need stunnel4 stunnel4 stunnel  # the TLS in front of SIPp (Debian's SIPp is built without TLS)
need java default-jre-headless
need chromium chromium chromium-browser
if ! "$PYTHON" -c 'import ensurepip, venv' >/dev/null 2>&1; then
  missing+=("$PYTHON -m venv:python3-venv")
fi
if ! command -v npm >/dev/null 2>&1; then
  if command -v node >/dev/null 2>&1; then
    # Debian's npm would replace a node installed from elsewhere: leave that to its own source.
    echo "os-deps: npm is missing beside node $(node --version 2>/dev/null) from another source;" \
      "install npm from where node came from (Debian's npm conflicts with it)" >&2
    exit 1
  fi
  missing+=("npm:npm")
fi

packages=()
for pair in ${missing[@]+"${missing[@]}"}; do
  package=${pair##*:}
  [[ " ${packages[*]-} " == *" $package "* ]] || packages+=("$package")
done
[ ${#packages[@]} -eq 0 ] && exit 0

if [ -n "${SUDO+set}" ]; then
  sudo_cmd=$SUDO
elif [ "$(id -u)" = 0 ]; then
  sudo_cmd=""
else
  sudo_cmd="sudo"
fi
apt="${sudo_cmd:+$sudo_cmd }env DEBIAN_FRONTEND=noninteractive apt-get"
preseed="echo 'wireshark-common wireshark-common/install-setuid boolean false' | ${sudo_cmd:+$sudo_cmd }debconf-set-selections"
commands=()
[[ " ${packages[*]} " == *" tshark "* ]] && commands+=("$preseed")
commands+=("$apt update -qq" "$apt install -y -qq ${packages[*]}")

if [ $dry_run = 1 ]; then
  printf '%s\n' "${commands[@]}"
  exit 0
fi
if [ -n "$sudo_cmd" ] && ! command -v "$sudo_cmd" >/dev/null 2>&1; then
  echo "os-deps: missing ${missing[*]%:*}; not root and no $sudo_cmd: as root, run:" >&2
  printf '  %s\n' "${commands[@]}" >&2
  exit 1
fi

echo "os-deps: installing ${packages[*]} (missing: $(printf '%s, ' "${missing[@]%:*}" | sed 's/, $//'))" >&2
log=$(mktemp)
trap 'rm -f "$log"' EXIT
run() { # run one command line, its output to the log (and the terminal with V=1)
  if [ "${V:-0}" = 1 ]; then bash -c "$1" 2>&1 | tee -a "$log"; return "${PIPESTATUS[0]}"; fi
  bash -c "$1" >>"$log" 2>&1
}
for line in "${commands[@]}"; do
  run "$line" && continue
  # Which package failed: try each alone, so the rest still get installed.
  [[ $line == *" install "* ]] || { echo "os-deps: '$line' failed: $(grep -E '^(E|W):' "$log" | tail -n 1)" >&2; exit 1; }
  failed=()
  for package in "${packages[@]}"; do
    : >"$log"
    run "$apt install -y -qq $package" && continue
    for pair in "${missing[@]}"; do [ "${pair##*:}" = "$package" ] && break; done
    echo "os-deps: command '${pair%:*}' is missing and package '$package' failed to install:" \
      "$(grep -E '^E:' "$log" | tail -n 1)" >&2
    failed+=("$package")
  done
  [ ${#failed[@]} -gt 0 ] && exit 1
done
exit 0
