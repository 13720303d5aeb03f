# Bringing the instance up: network, etcd, apiservers, containerd, kubelets (sourced).

CGROUP_CONTROLLERS=(cpu cpuacct cpuset memory pids systemd devices freezer blkio)

# --- network: lan bridge + one veth per node, named eno1 inside the node -------------
net_up() {
  [[ -e /run/netns/$LAN_NS ]] || ip netns add "$LAN_NS"
  in_ns "$LAN_NS" ip link set lo up
  if ! in_ns "$LAN_NS" ip link show br0 >/dev/null 2>&1; then
    in_ns "$LAN_NS" ip link add br0 type bridge
    in_ns "$LAN_NS" ip addr add "$LAN_IP/$PREFIX_LEN" dev br0
  fi
  in_ns "$LAN_NS" ip link set br0 up
  local n ns
  for n in "${NODES[@]}"; do
    ns=$(node_ns "$n")
    [[ -e /run/netns/$ns ]] || ip netns add "$ns"
    in_ns "$ns" ip link set lo up
    if ! in_ns "$ns" ip link show eno1 >/dev/null 2>&1; then
      in_ns "$LAN_NS" ip link del "veth-$n" 2>/dev/null || true
      in_ns "$LAN_NS" ip link add "veth-$n" type veth peer name eno1 netns "$ns"
      in_ns "$ns" ip addr add "$(node_ip "$n")/$PREFIX_LEN" dev eno1
    fi
    in_ns "$LAN_NS" ip link set "veth-$n" master br0 up
    in_ns "$ns" ip link set eno1 up
    # A persistent UTS namespace per node: kube-apiserver's identity lease and anything
    # else that reads the hostname sees k8s-cpN, as on the real nodes.
    local uts; uts=$(node_uts "$n")
    if ! mountpoint -q "$uts" 2>/dev/null; then
      touch "$uts"
      unshare --uts="$uts" hostname "$(node_name "$n")"
    fi
  done
}

# --- etcd (lan) ---------------------------------------------------------------------
etcd_up() {
  start_daemon etcd "$LAN_NS" - "$(peer etcd)" --name lan --data-dir "$STATE/etcd" \
    --listen-client-urls "http://127.0.0.1:2379,http://$LAN_IP:2379" \
    --advertise-client-urls "http://$LAN_IP:2379" \
    --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
    --initial-cluster lan=http://127.0.0.1:2380 --unsafe-no-fsync --log-level warn
}
etcd_ready() { in_ns "$LAN_NS" curl -fsS "http://$LAN_IP:2379/health"; }

# --- kube-apiserver per node ----------------------------------------------------------
apiserver_up() {
  local n=$1 p; p=$(node_dir "$n")/etc/kubernetes/pki
  start_daemon "apiserver-$n" "$(node_ns "$n")" "$(node_uts "$n")" "$(peer kube-apiserver)" \
    --etcd-servers="http://$LAN_IP:2379" --secure-port=6443 --bind-address=0.0.0.0 \
    --advertise-address="$(node_ip "$n")" \
    --tls-cert-file="$p/apiserver.crt" --tls-private-key-file="$p/apiserver.key" \
    --client-ca-file="$p/ca.crt" \
    --kubelet-client-certificate="$p/apiserver-kubelet-client.crt" \
    --kubelet-client-key="$p/apiserver-kubelet-client.key" \
    --kubelet-preferred-address-types=InternalIP \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-signing-key-file="$p/sa.key" --service-account-key-file="$p/sa.pub" \
    --authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction \
    --service-cluster-ip-range=10.96.0.0/12 --allow-privileged=true --profiling=false
}
apiserver_ready() { in_ns "$(node_ns "$1")" curl -fsSk "https://$(node_ip "$1"):6443/readyz"; }

# --- cgroups: one root per node in every v1 controller (kubelet's cgroupRoot) ----------
cgroups_up() {
  local cg=$(node_cgroup "$1") c
  for c in "${CGROUP_CONTROLLERS[@]}"; do
    [[ -d /sys/fs/cgroup/$c ]] || continue
    mkdir -p "/sys/fs/cgroup/$c/$cg"
  done
  # cpuset children start empty and refuse tasks until given cpus and mems.
  local cs=/sys/fs/cgroup/cpuset
  if [[ -d $cs/$cg ]]; then
    [[ -n $(<"$cs/$cg/cpuset.cpus") ]] || cat "$cs/cpuset.cpus" >"$cs/$cg/cpuset.cpus"
    [[ -n $(<"$cs/$cg/cpuset.mems") ]] || cat "$cs/cpuset.mems" >"$cs/$cg/cpuset.mems"
  fi
}

cgroups_down() {
  local cg=$(node_cgroup "$1") c dir
  for c in "${CGROUP_CONTROLLERS[@]}" unified; do
    dir=/sys/fs/cgroup/$c/$cg
    [[ -d $dir ]] || continue
    # Thaw first: a frozen cgroup's tasks cannot exit.
    [[ $c == freezer ]] && find "$dir" -name freezer.state -exec sh -c 'echo THAWED >"$1"' _ {} \; 2>/dev/null
    find "$dir" -depth -type d -exec rmdir {} \; 2>/dev/null || true
  done
}

# --- containerd per node, started inside the node's netns ------------------------------
containerd_up() {
  local n=$1 d; d=$(node_dir "$1")
  mkdir -p "$d/etc/containerd" "$d/etc/cni/net.d" "$d/var/lib/containerd" "$d/run/containerd"
  # hostNetwork pods only need the loopback plugin for the node to report Ready.
  echo '{"cniVersion":"1.0.0","name":"lo","plugins":[{"type":"loopback"}]}' \
    >"$d/etc/cni/net.d/99-loopback.conflist"
  cat >"$d/etc/containerd/config.toml" <<EOF
version = 2
root = "$d/var/lib/containerd"
state = "$d/run/containerd"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs", "io.containerd.tracing.processor.v1.otlp"]

[grpc]
  address = "$(node_sock "$n")"

[ttrpc]
  address = "$d/run/containerd/containerd.sock.ttrpc"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  # No CAP_SYS_RESOURCE on these machines: without this every sandbox fails with
  # "can't get final child's PID from pipe: EOF" (oom_score_adj: permission denied).
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$d/etc/cni/net.d"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "$STATE/certs.d"

[plugins."io.containerd.internal.v1.opt"]
  path = "$d/opt/containerd"
EOF
  # crictl's config for this node (CRI_CONFIG_FILE in `env`), like /etc/crictl.yaml.
  printf 'runtime-endpoint: unix://%s\nimage-endpoint: unix://%s\ntimeout: 10\n' \
    "$(node_sock "$n")" "$(node_sock "$n")" >"$d/etc/crictl.yaml"
  start_daemon "containerd-$n" "$(node_ns "$n")" "$(node_uts "$n")" \
    containerd --config "$d/etc/containerd/config.toml"
}
containerd_ready() { [[ -S $(node_sock "$1") ]] && ctr --address "$(node_sock "$1")" version; }

# --- kubelet per node ------------------------------------------------------------------
kubelet_up() {
  local n=$1 d; d=$(node_dir "$1")
  local sock="unix://$(node_sock "$n")"
  mkdir -p "$d/var/lib/kubelet/pki" "$d/usr/libexec/kubernetes/kubelet-plugins/volume/exec"
  cat >"$d/var/lib/kubelet/config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
staticPodPath: $d/etc/kubernetes/manifests
podLogsDir: $d/var/log/pods
volumePluginDir: $d/usr/libexec/kubernetes/kubelet-plugins/volume/exec
containerRuntimeEndpoint: $sock
imageServiceEndpoint: $sock
# Separate cgroup roots: kubelets sharing one would kill each other's pods.
cgroupRoot: /$(node_cgroup "$n")
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
address: 0.0.0.0
healthzBindAddress: 127.0.0.1
readOnlyPort: 0
authentication:
  anonymous: {enabled: true}
  webhook: {enabled: false}
  x509: {clientCAFile: $d/etc/kubernetes/pki/ca.crt}
authorization: {mode: AlwaysAllow}
clusterDomain: cluster.local
clusterDNS: [10.96.0.10]
resolvConf: ""
# 1.35 would otherwise re-pull an image already present under another name.
imagePullCredentialsVerificationPolicy: NeverVerify
# Crash-loop back-off capped at 10 s (real nodes: 5 min, doubling from 10 s): the tests
# stop and kill kube-vip over and over, and must not wait minutes for each restart.
crashLoopBackOff: {maxContainerRestartPeriod: 10s}
# Never garbage-collect the pre-pulled images, never evict on a busy build machine.
imageGCHighThresholdPercent: 100
evictionHard: {memory.available: "0%", nodefs.available: "0%", imagefs.available: "0%"}
EOF
  start_daemon "kubelet-$n" "$(node_ns "$n")" "$(node_uts "$n")" "$(peer kubelet)" \
    --config="$d/var/lib/kubelet/config.yaml" --kubeconfig="$d/etc/kubernetes/kubelet.conf" \
    --root-dir="$d/var/lib/kubelet" --cert-dir="$d/var/lib/kubelet/pki" \
    --hostname-override="$(node_name "$n")" --node-ip="$(node_ip "$n")"
}
kubelet_ready() { in_ns "$(node_ns "$1")" curl -fsS http://127.0.0.1:10248/healthz; }

# --- kube-vip static pod: written by kube-vip v1.0.3's own generator --------------------
# Only the admin.conf host path differs from a real node (--k8sConfigPath sets exactly that
# hostPath; the mount path in the container stays /etc/kubernetes/admin.conf).
kubevip_manifest() {
  local n=$1 d; d=$(node_dir "$1")
  local m=$d/etc/kubernetes/manifests/kube-vip.yaml
  [[ -f $m ]] && return 0
  # Written under a dot name (kubelet ignores those) and renamed: never read half-written.
  "$(peer "kube-vip-$KUBEVIP_DEFAULT")" manifest pod --interface eno1 --address "$VIP" \
    --controlplane --arp --leaderElection --enableLoadBalancer=false \
    --k8sConfigPath "$d/etc/kubernetes/admin.conf" \
    >"${m%/*}/.kube-vip.yaml.tmp"
  mv -f "${m%/*}/.kube-vip.yaml.tmp" "$m"
}

# Tools for `exec`: kubectl/crictl/etcdctl, and a ctr that reads the instance's certs.d
# (ctr ignores containerd's registry config unless given --hosts-dir).
tools_bin() {
  local b=$STATE/bin; mkdir -p "$b"
  ln -sfn "$(peer kubectl)" "$b/kubectl"
  ln -sfn "$(peer crictl)" "$b/crictl"
  ln -sfn "$(peer etcdctl)" "$b/etcdctl"
  cat >"$b/ctr" <<'EOF'
#!/bin/sh
# ctr with this testbed's registry mirrors: after pull/fetch/push, add --hosts-dir
# <state>/certs.d (this script lives in <state>/bin).
hosts=$(cd "$(dirname "$0")/.." && pwd)/certs.d
added=
n=$#
for a in "$@"; do
  set -- "$@" "$a"
  case $a in pull | fetch | push) [ -n "$added" ] || { set -- "$@" --hosts-dir "$hosts"; added=1; } ;; esac
done
shift "$n"
exec /usr/bin/ctr "$@"
EOF
  chmod +x "$b/ctr"
}
