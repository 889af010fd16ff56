# Shared helpers for Ember's shell scripts: messages, the cache layout and input hashing.
# Sourced, never run. Every script that sources it gets `set -euo pipefail`.
set -euo pipefail

EMBER_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
EMBER_CACHE=${EMBER_CACHE:-/var/cache/ember}
EMBER_BUILD=${EMBER_BUILD:-$EMBER_ROOT/build}

log() { printf '[%s] %s\n' "$(basename "$0")" "$*" >&2; }
die() { printf '[%s] error: %s\n' "$(basename "$0")" "$*" >&2; exit 1; }

need_root() {
  [ "$(id -u)" -eq 0 ] || die "must run as root (it installs packages and writes $EMBER_CACHE); try: sudo $0 $*"
}

# Prints a short hash of the given files' contents and any extra strings.
hash_inputs() {
  local files=() strings=()
  for arg in "$@"; do
    if [ -f "$arg" ]; then files+=("$arg"); else strings+=("$arg"); fi
  done
  { for f in "${files[@]}"; do sha256sum "$f"; done; printf '%s\n' "${strings[@]}"; } \
    | sed "s#$EMBER_ROOT/##" | sha256sum | cut -c1-16
}

deb_version() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || die "package $1 is not installed; run scripts/setup"; }

# Guest kernel: cache folder for the current inputs.
kernel_dir() {
  echo "$EMBER_CACHE/kernel/$(hash_inputs "$EMBER_ROOT/rootfs/kernel/ember-guest.config" \
    "$EMBER_ROOT/scripts/build-kernel" "linux-source-6.1=$(deb_version linux-source-6.1)")"
}

# The runtime bootstraps copied into the root image, sorted (caches and bytecode left out).
runtime_files() {
  find "$EMBER_ROOT/rootfs/runtimes" -type f ! -name '*.pyc' ! -path '*/__pycache__/*' | LC_ALL=C sort
}

# Debian root image: cache folder for the current inputs (the bootstraps included).
rootfs_dir() {
  local runtimes
  mapfile -t runtimes < <(runtime_files)
  echo "$EMBER_CACHE/rootfs/$(hash_inputs "$EMBER_ROOT/rootfs/packages.list" \
    "$EMBER_ROOT/scripts/build-rootfs" "${runtimes[@]}" "mmdebstrap=$(deb_version mmdebstrap)")"
}

# Runs "$@" with its output in LOGFILE, printing a dot-free progress line every N lines.
# On failure shows the log's tail and where the whole log is.
run_logged() {
  local logfile=$1 every=$2; shift 2
  local status=0
  "$@" >"$logfile" 2>&1 &
  local pid=$! last=0
  while kill -0 "$pid" 2>/dev/null; do
    sleep 5
    local n; n=$(wc -l <"$logfile")
    if [ $((n - last)) -ge "$every" ]; then log "  ... $n lines of output ($(tail -n1 "$logfile" | cut -c1-80))"; last=$n; fi
  done
  wait "$pid" || status=$?
  if [ "$status" -ne 0 ]; then
    tail -n 40 "$logfile" >&2
    die "'$*' failed with status $status; full log: $logfile"
  fi
}
