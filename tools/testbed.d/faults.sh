# Named faults for failover and split-brain tests (sourced). Each leaves a line in
# $STATE/run/fault-NODE so `status` shows it; `heal` undoes every kind.
#   kill-kubevip      SIGKILL kube-vip and freeze the node's kubelet (a dead node: nothing
#                     restarts kube-vip, which had no chance to remove the VIP)
#   freeze-kubevip    SIGSTOP kube-vip (alive for kubelet, silent on the network)
#   freeze-apiserver  SIGSTOP the node's kube-apiserver (the leader cannot renew)
#   freeze-kubelet    SIGSTOP the node's kubelet (no restarts, stale mirror pod status)
#   link-down         cable pulled: the lan side of the node's veth goes down

# kubevip_pids NODE: kube-vip processes in the node's netns (the container's process).
kubevip_pids() {
  local ns; ns=$(node_ns "$1")
  local p
  for p in $(ip netns pids "$ns"); do
    if [[ $(cat "/proc/$p/comm" 2>/dev/null) == kube-vip ]]; then echo "$p"; fi
  done
}

cmd_fault() {
  local n; n=$(node_of "${1:?usage: fault NODE KIND}")
  local kind=${2:?usage: fault NODE kill-kubevip|freeze-kubevip|freeze-apiserver|freeze-kubelet|link-down}
  local ns; ns=$(node_ns "$n")
  pid_alive "kubelet-$n" "$ns" || die "node $n is not up"
  local pids
  case $kind in
    kill-kubevip)
      kill -STOP "$(pid_of "kubelet-$n")"
      pids=$(kubevip_pids "$n"); [[ -n $pids ]] || die "no kube-vip process on $n"
      kill -KILL $pids
      ;;
    freeze-kubevip)
      pids=$(kubevip_pids "$n"); [[ -n $pids ]] || die "no kube-vip process on $n"
      kill -STOP $pids
      ;;
    freeze-apiserver) kill -STOP "$(pid_of "apiserver-$n")" ;;
    freeze-kubelet) kill -STOP "$(pid_of "kubelet-$n")" ;;
    link-down) in_ns "$LAN_NS" ip link set "veth-$n" down ;;
    *) die "unknown fault '$kind'" ;;
  esac
  echo "$n:$kind" >>"$STATE/run/fault-$n"
  log "fault $kind on $n"
}

# heal [NODE]: continue stopped processes (kubelet then restarts a killed kube-vip) and
# bring links back up; without NODE, every node.
cmd_heal() {
  local nodes=("${NODES[@]}")
  [[ -n ${1:-} ]] && nodes=("$(node_of "$1")")
  local n ns p
  for n in "${nodes[@]}"; do
    ns=$(node_ns "$n")
    [[ -e /run/netns/$ns ]] || continue
    for p in $(ip netns pids "$ns"); do kill -CONT "$p" 2>/dev/null || true; done
    in_ns "$LAN_NS" ip link set "veth-$n" up 2>/dev/null || true
    rm -f "$STATE/run/fault-$n"
  done
}

heal_all_quiet() { [[ -e /run/netns/$LAN_NS ]] && cmd_heal >/dev/null 2>&1 || true; }
