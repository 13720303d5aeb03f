# Shared names, paths and helpers of tools/testbed (sourced, not run).
# Instance: KVIP_TESTBED=<name> (default kvip) prefixes every namespace, cgroup and the
# state dir, so several testbeds can run side by side on one machine.

TB=${KVIP_TESTBED:-kvip}
[[ $TB =~ ^[a-z][a-z0-9]{0,7}$ ]] ||
  { echo "testbed: KVIP_TESTBED must be 1-8 lower-case letters/digits, got '$TB'" >&2; exit 2; }
TB_ROOT=${KVIP_TESTBED_ROOT:-/var/lib/kvip-testbed}
STATE=$TB_ROOT/$TB
NODES=(cp1 cp2 cp3)
LAN_NS=$TB-lan
LAN_IP=10.10.30.1
VIP=10.10.30.10
PREFIX_LEN=24
REGISTRY=$LAN_IP:5000
KUBEVIP_VERSIONS=(v1.0.3 v1.0.4)
KUBEVIP_DEFAULT=v1.0.3
PAUSE_IMAGE=registry.k8s.io/pause:3.10
IMAGE_CACHE=${KVIP_IMAGE_CACHE:-/var/cache/kvip-exporter/images}
PEERS=$TOOLS/peers

log() { printf 'testbed[%s]: %s\n' "$TB" "$*" >&2; }
# milestone WHAT: progress with the seconds since the command started (up/down timings).
milestone() { [[ -n ${KVIP_TESTBED_QUIET:-} ]] || log "+${SECONDS}s $*"; }
die() { log "ERROR: $*"; exit 1; }
warn() { log "WARNING: $*"; }

# Node naming: accepts cp1, k8s-cp1 or 1.
node_of() {
  case $1 in
    cp[1-3]) echo "$1" ;;
    k8s-cp[1-3]) echo "${1#k8s-}" ;;
    [1-3]) echo "cp$1" ;;
    *) die "unknown node '$1' (cp1..cp3)" ;;
  esac
}
node_ns() { echo "$TB-$1"; }
node_ip() { echo "10.10.30.1${1#cp}"; }
node_name() { echo "k8s-$1"; }
node_dir() { echo "$STATE/$1"; }
node_sock() { echo "$STATE/$1/run/containerd/containerd.sock"; }
node_uts() { echo "$STATE/run/$1.uts"; }
node_cgroup() { echo "$TB-$1"; }

peer() { "$PEERS" path "$1"; }

# wait_until SECONDS WHAT CMD...: polls CMD until it succeeds; fails after the deadline.
wait_until() {
  local timeout=$1 what=$2; shift 2
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || die "timed out after ${timeout}s waiting for $what (logs: $STATE/log)"
    sleep 0.1
  done
}

# in_ns NETNS CMD...: runs CMD with only the network namespace switched (nsenter --net,
# not `ip netns exec`, which also remounts /sys and breaks kubelet's cgroup discovery).
in_ns() { local ns=$1; shift; nsenter --net="/run/netns/$ns" -- "$@"; }

netns_inode() { stat -Lc %i "/run/netns/$1" 2>/dev/null; }

# pid_alive NAME NETNS: the pid file's process exists and lives in that netns (a pid
# reused after a crash or reboot by an unrelated process does not count).
pid_alive() {
  local pidf=$STATE/run/$1.pid pid
  [[ -f $pidf ]] || return 1
  pid=$(<"$pidf")
  [[ -n $pid && -d /proc/$pid ]] || return 1
  [[ $(stat -Lc %i "/proc/$pid/ns/net" 2>/dev/null) == "$(netns_inode "$2")" ]]
}
pid_of() { cat "$STATE/run/$1.pid"; }

# start_daemon NAME NETNS UTSFILE|- CMD...: starts CMD detached in its own session,
# logging to $STATE/log/NAME.log; no-op when it is already running.
start_daemon() {
  local name=$1 ns=$2 uts=$3; shift 3
  pid_alive "$name" "$ns" && return 0
  local -a enter=(--net="/run/netns/$ns")
  [[ $uts != - ]] && enter+=(--uts="$uts")
  # setsid execs in place (this shell's children are no group leaders) and so does
  # nsenter without --fork: $! is the daemon's own pid.
  # 9>&-: the daemon must not inherit the instance lock (see lock_instance).
  setsid nsenter "${enter[@]}" -- "$@" >>"$STATE/log/$name.log" 2>&1 </dev/null 9>&- &
  echo $! >"$STATE/run/$name.pid"
}

# stop_pids TIMEOUT PID...: SIGCONT (a frozen process cannot act on SIGTERM), SIGTERM,
# then SIGKILL whatever is left after TIMEOUT seconds. A zombie counts as gone: its parent
# may be PID 1 of a container that never reaps, and waiting for it would never end. A
# process that outlives SIGKILL for 10 s (stuck in the kernel) is reported and left.
stop_pids() {
  local timeout=$1; shift
  (($#)) || return 0
  kill -CONT "$@" 2>/dev/null || true
  kill -TERM "$@" 2>/dev/null || true
  local deadline=$((SECONDS + timeout)) killed_at=0 p alive
  while :; do
    alive=()
    for p in "$@"; do running "$p" && alive+=("$p"); done
    ((${#alive[@]})) || return 0
    if ((killed_at && SECONDS >= killed_at + 10)); then
      warn "still alive 10 s after SIGKILL, left behind: ${alive[*]}"
      return 0
    fi
    if ((SECONDS >= deadline)); then
      kill -KILL "${alive[@]}" 2>/dev/null || true
      ((killed_at)) || killed_at=$SECONDS
      deadline=$((SECONDS + 2))
    fi
    sleep 0.1
  done
}

# running PID: the process exists and is not a zombie (state field of /proc/PID/stat,
# after the command name, which may itself hold spaces and parentheses).
running() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [[ ${stat:0:1} != Z ]]
}

kubectl_in() { local n=$1; shift; in_ns "$(node_ns "$n")" "$(peer kubectl)" --kubeconfig "$(node_dir "$n")/etc/kubernetes/admin.conf" "$@"; }
