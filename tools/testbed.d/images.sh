# Container images built here without a daemon, and the instance's local registry
# (sourced). Images are OCI layouts cached under $IMAGE_CACHE, keyed by the content
# of what they hold, then pushed into the registry running in the lan namespace.
# containerd resolves ghcr.io and registry.k8s.io through that registry (certs.d), so
# manifests keep the real image names and nothing leaves the machine.

# oci_image NAME TAG FILE: prints an OCI layout path holding FILE as /NAME, entrypoint
# /NAME, in a single layer (like kube-vip's FROM scratch image).
oci_image() {
  local name=$1 tag=$2 file=$3 sum
  # Keyed by size and mtime: peers are installed atomically, hashing 60 MB costs a second.
  sum=$(stat -Lc '%s-%Y' "$file")
  local dir=$IMAGE_CACHE/$name-$tag-$sum
  if [[ ! -f $dir/.done ]]; then
    rm -rf "$dir" && mkdir -p "$IMAGE_CACHE"
    umoci init --layout "$dir" >&2
    umoci new --image "$dir:$tag" >&2
    umoci insert --image "$dir:$tag" "$file" "/$name" >&2
    umoci config --image "$dir:$tag" --architecture amd64 --os linux \
      --config.entrypoint "/$name" >&2
    umoci gc --layout "$dir" >&2
    touch "$dir/.done"
  fi
  echo "$dir"
}

pause_binary() {
  local src=$TOOLS/testbed.d/pause.c sum
  sum=$(sha256sum "$src" | cut -c1-16)
  local out=$IMAGE_CACHE/pause-$sum/pause
  if [[ ! -x $out ]]; then
    mkdir -p "${out%/*}"
    gcc -static -O2 -o "$out.tmp" "$src" && mv -f "$out.tmp" "$out"
  fi
  echo "$out"
}

# image_layouts: the OCI layouts of the pause and kube-vip images (built once, cached);
# sets LAYOUTS (pause first, then KUBEVIP_VERSIONS) and REGISTRY_CACHE.
image_layouts() {
  LAYOUTS=("$(oci_image pause 3.10 "$(pause_binary)")")
  local v
  for v in "${KUBEVIP_VERSIONS[@]}"; do
    LAYOUTS+=("$(oci_image kube-vip "$v" "$(peer "kube-vip-$v")")")
  done
  REGISTRY_CACHE=$IMAGE_CACHE/registry-$(printf '%s\n' "${LAYOUTS[@]}" | sha256sum | cut -c1-16)
}

# registry_up: the registry's storage for these images is cached as well (a copy of what
# the pushes wrote), so a warm `up` copies files instead of pushing.
registry_up() {
  if [[ ! -d $STATE/registry && -f $REGISTRY_CACHE/.done ]]; then
    mkdir -p "$STATE/registry" && cp -a "$REGISTRY_CACHE/docker" "$STATE/registry/"
  fi
  mkdir -p "$STATE/registry"
  cat >"$STATE/registry.yml" <<EOF
version: 0.1
log: {level: warn}
storage:
  filesystem: {rootdirectory: $STATE/registry}
http: {addr: $REGISTRY}
EOF
  start_daemon registry "$LAN_NS" - docker-registry serve "$STATE/registry.yml"
}

registry_has() { in_ns "$LAN_NS" curl -fs -o /dev/null "http://$REGISTRY/v2/$1/manifests/$2"; }

# push_image LAYOUT TAG REPO: copies into the registry unless that tag is there already.
push_image() {
  local layout=$1 tag=$2 repo=$3
  registry_has "$repo" "$tag" && return 0
  in_ns "$LAN_NS" skopeo copy --quiet --dest-tls-verify=false \
    "oci:$layout:$tag" "docker://$REGISTRY/$repo:$tag"
}

push_images() {
  push_image "${LAYOUTS[0]}" 3.10 pause
  local i=1 v
  for v in "${KUBEVIP_VERSIONS[@]}"; do
    push_image "${LAYOUTS[i]}" "$v" kube-vip/kube-vip
    i=$((i + 1))
  done
  if [[ ! -f $REGISTRY_CACHE/.done ]]; then
    rm -rf "$REGISTRY_CACHE" && mkdir -p "$REGISTRY_CACHE"
    cp -a "$STATE/registry/docker" "$REGISTRY_CACHE/" && touch "$REGISTRY_CACHE/.done"
  fi
}

# certs.d shared by every containerd of the instance (and the exec `ctr` wrapper); the
# registry's own address too, which serves plain HTTP (the exporter's image).
write_registry_hosts() {
  mkdir -p "$STATE/certs.d/$REGISTRY"
  printf 'server = "http://%s"\n\n[host."http://%s"]\n  capabilities = ["pull", "resolve"]\n' \
    "$REGISTRY" "$REGISTRY" >"$STATE/certs.d/$REGISTRY/hosts.toml"
  local host
  for host in ghcr.io registry.k8s.io; do
    mkdir -p "$STATE/certs.d/$host"
    cat >"$STATE/certs.d/$host/hosts.toml" <<EOF
server = "https://$host"

[host."http://$REGISTRY"]
  capabilities = ["pull", "resolve"]
EOF
  done
}

# --- the exporter's own image, for `kvip-exporter rollout`'s node-step pods -------------
# Assembled like kube-vip's (no daemon, no Dockerfile build): the binary, the libraries
# `ldd` lists, and the runtime CLIs the node step calls (Debian's ctr, the peers' crictl).
# deploy/Dockerfile stays the real image; this one only has to run on this machine.
EXPORTER_REPO=kvip-exporter

# exporter_layout BINARY: prints "LAYOUT TAG", cached by the binary's content.
exporter_layout() {
  local bin=$1 sum tag dir root lib f
  sum=$(sha256sum "$bin" | cut -c1-12)
  tag=dev-$sum
  dir=$IMAGE_CACHE/kvip-exporter-$sum
  if [[ ! -f $dir/.done ]]; then
    rm -rf "$dir" && mkdir -p "$IMAGE_CACHE"
    root=$dir.rootfs && rm -rf "$root" && mkdir -p "$root/usr/bin" "$root/tmp"
    chmod 1777 "$root/tmp"
    install -m 0755 "$bin" "$root/usr/bin/kvip-exporter"
    # Debug info is most of a test build's size (~170 MB): a smaller layer pushes in seconds.
    strip --strip-debug "$root/usr/bin/kvip-exporter"
    install -m 0755 /usr/bin/ctr "$root/usr/bin/ctr"
    install -m 0755 "$(peer crictl)" "$root/usr/bin/crictl"
    for f in "$bin" /usr/bin/ctr; do
      for lib in $(ldd "$f" | awk '$3 ~ /^\// {print $3} $1 ~ /^\// {print $1}'); do
        mkdir -p "$root${lib%/*}" && cp -L "$lib" "$root$lib"
      done
    done
    local -a env=(--config.env LD_LIBRARY_PATH=/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu)
    # A sanitizer build (the test build) cannot run LeakSanitizer inside a container.
    ldd "$bin" | grep -q libasan && env+=(--config.env ASAN_OPTIONS=detect_leaks=0)
    umoci init --layout "$dir" >&2
    umoci new --image "$dir:$tag" >&2
    umoci insert --image "$dir:$tag" "$root" / >&2
    umoci config --image "$dir:$tag" --architecture amd64 --os linux "${env[@]}" \
      --config.entrypoint /usr/bin/kvip-exporter >&2
    umoci gc --layout "$dir" >&2
    rm -rf "$root"
    touch "$dir/.done"
  fi
  echo "$dir $tag"
}

# push_exporter BINARY: the image in the registry; records its name for `env`.
push_exporter() {
  local bin=$1 layout tag
  [[ -x $bin ]] || die "push-exporter: $bin is not an executable"
  read -r layout tag < <(exporter_layout "$bin")
  push_image "$layout" "$tag" "$EXPORTER_REPO"
  echo "$REGISTRY/$EXPORTER_REPO:$tag" >"$STATE/exporter-image"
  cat "$STATE/exporter-image"
}

# The exporter binary `up` publishes: $KVIP_EXPORTER_BIN, else the tools/test build.
default_exporter_binary() {
  local c
  for c in "${KVIP_EXPORTER_BIN:-}" "$TOOLS/../build/test/exporter/kvip-exporter" \
    "$TOOLS/../build/exporter/kvip-exporter"; do
    [[ -n $c && -x $c ]] && { echo "$c"; return 0; }
  done
  return 1
}
