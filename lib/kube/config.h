#pragma once
// Where and how to reach the Kubernetes API server: a kubeconfig (as a control-plane node
// has it, e.g. kubeadm's admin.conf) or the pod's service account (in-cluster).

#include <optional>
#include <string>

#include "http/http_client.h"

namespace kvip::kube {

struct ClientConfig {
  std::string server;      // https://host:port, no trailing slash
  kvip::TlsOptions tls;    // CA and client certificate; insecure only if the kubeconfig says so
  std::string token;       // static bearer token
  std::string token_file;  // re-read when it changes (bound service-account tokens rotate)
  std::string user;        // for error messages: kubeconfig user name or "serviceaccount:ns/name"
  std::string source;      // where it came from: the kubeconfig path, or "in-cluster"
  std::string context;     // kubeconfig context used; empty in-cluster
  std::string default_namespace;  // the context's namespace, or the pod's; may be empty

  bool HasClientCertificate() const {
    return !tls.client_cert_file.empty() || !tls.client_cert_pem.empty();
  }
};

// --kubeconfig flag, then $KUBECONFIG (a ':'-separated list, merged as kubectl does), then
// in-cluster; error names the file and what is wrong.
std::optional<ClientConfig> LoadClientConfig(const std::string& kubeconfig_flag,
                                             std::string& error);

// One kubeconfig, or a ':'-separated list merged first-wins per name as kubectl does.
// Relative file paths are resolved against the directory of the file that names them.
std::optional<ClientConfig> LoadKubeconfig(const std::string& paths, std::string& error);

// The service account mounted into a pod: host/port from KUBERNETES_SERVICE_HOST/_PORT,
// token, ca.crt and namespace from `secrets_dir`.
struct InClusterEnvironment {
  std::string service_host;  // $KUBERNETES_SERVICE_HOST
  std::string service_port;  // $KUBERNETES_SERVICE_PORT
  std::string secrets_dir = "/var/run/secrets/kubernetes.io/serviceaccount";
};
InClusterEnvironment InClusterEnvironmentFromProcess();
std::optional<ClientConfig> LoadInClusterConfig(const InClusterEnvironment& env,
                                                std::string& error);

}  // namespace kvip::kube
