# Certificates and kubeconfigs, laid out like kubeadm's /etc/kubernetes (sourced).
# One CA per instance; per node an apiserver serving cert, the admin and kubelet
# client certs. EC P-256 keys: generated in milliseconds.

PKI=$STATE/pki

# cert NAME SUBJECT EXT: key + cert signed by the instance CA (EXT = openssl extensions).
cert() {
  local name=$1 subj=$2 ext=$3
  [[ -f $PKI/$name.crt ]] && return 0
  openssl ecparam -name prime256v1 -genkey -noout -out "$PKI/$name.key" 2>/dev/null
  openssl req -new -key "$PKI/$name.key" -subj "$subj" -out "$PKI/$name.csr" 2>/dev/null
  printf '%s\n' "$ext" >"$PKI/$name.ext"
  openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial \
    -days 3650 -sha256 -extfile "$PKI/$name.ext" -out "$PKI/$name.crt" 2>/dev/null
  rm -f "$PKI/$name.csr" "$PKI/$name.ext"
}

make_pki() {
  mkdir -p "$PKI"
  if [[ ! -f $PKI/ca.crt ]]; then
    openssl ecparam -name prime256v1 -genkey -noout -out "$PKI/ca.key" 2>/dev/null
    openssl req -x509 -new -key "$PKI/ca.key" -subj "/CN=kubernetes" -days 3650 -sha256 \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
      -out "$PKI/ca.crt" 2>/dev/null
  fi
  [[ -f $PKI/sa.key ]] || {
    openssl ecparam -name prime256v1 -genkey -noout -out "$PKI/sa.key" 2>/dev/null
    openssl ec -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
  }
  local client="keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth"
  cert admin "/O=system:masters/CN=kubernetes-admin" "$client"
  cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" "$client"
  local n
  for n in "${NODES[@]}"; do
    # kube-vip dials https://kubernetes:6443 (hostAliases -> 127.0.0.1): SAN `kubernetes`.
    cert "apiserver-$n" "/CN=kube-apiserver" "keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=DNS:$(node_name "$n"),DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,DNS:localhost,IP:10.96.0.1,IP:$(node_ip "$n"),IP:$VIP,IP:127.0.0.1"
    cert "kubelet-$n" "/O=system:nodes/CN=system:node:$(node_name "$n")" "$client"
  done
}

# kubeconfig FILE SERVER CERTNAME USER
kubeconfig() {
  local file=$1 server=$2 crt=$3 user=$4
  local tmp=$file.tmp
  cat >"$tmp" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: kubernetes
  cluster:
    server: $server
    certificate-authority-data: $(base64 -w0 "$PKI/ca.crt")
users:
- name: $user
  user:
    client-certificate-data: $(base64 -w0 "$PKI/$crt.crt")
    client-key-data: $(base64 -w0 "$PKI/$crt.key")
contexts:
- name: $user@kubernetes
  context: {cluster: kubernetes, user: $user}
current-context: $user@kubernetes
EOF
  chmod 600 "$tmp" && mv -f "$tmp" "$file"
}

# node_tree NODE: <state>/cpN/etc/kubernetes/{admin.conf,kubelet.conf,pki/} like kubeadm's.
node_tree() {
  local n=$1 d; d=$(node_dir "$1")
  local k=$d/etc/kubernetes
  mkdir -p "$k/pki" "$k/manifests" "$d/var/log/pods" "$d/var/lib/kubelet" "$d/run/containerd"
  cp "$PKI/ca.crt" "$PKI/ca.key" "$PKI/sa.key" "$PKI/sa.pub" "$k/pki/"
  cp "$PKI/apiserver-$n.crt" "$k/pki/apiserver.crt"
  cp "$PKI/apiserver-$n.key" "$k/pki/apiserver.key"
  cp "$PKI/apiserver-kubelet-client.crt" "$PKI/apiserver-kubelet-client.key" "$k/pki/"
  local server="https://$(node_ip "$n"):6443"
  kubeconfig "$k/admin.conf" "$server" admin kubernetes-admin
  kubeconfig "$k/kubelet.conf" "$server" "kubelet-$n" "system:node:$(node_name "$n")"
}
