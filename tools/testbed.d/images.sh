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

# certs.d shared by every containerd of the instance (and the exec `ctr` wrapper).
write_registry_hosts() {
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
