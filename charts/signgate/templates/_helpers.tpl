{{/* The image, by digest when one is given. */}}
{{- define "signgate.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ .Values.image.tag }}
{{- end -}}
{{- end -}}

{{/* Where the registry credentials Secret is mounted. */}}
{{- define "signgate.dockerConfigDir" -}}/etc/signgate-registry{{- end -}}

{{/* The nodes' runtime: containerd, crio or auto; anything else fails. */}}
{{- define "signgate.runtime" -}}
{{- if not (has .Values.runtime (list "containerd" "crio" "auto")) -}}
{{- fail (printf "runtime = %q: containerd, crio or auto" (toString .Values.runtime)) -}}
{{- end -}}
{{ .Values.runtime }}
{{- end -}}

{{/* "true" when the pod may meet containerd (containerd, auto). */}}
{{- define "signgate.onContainerd" -}}
{{- if ne (include "signgate.runtime" .) "crio" }}true{{ end -}}
{{- end -}}

{{/* "true" when the pod may meet CRI-O (crio, auto). */}}
{{- define "signgate.onCRIO" -}}
{{- if ne (include "signgate.runtime" .) "containerd" }}true{{ end -}}
{{- end -}}

{{/* CRI-O's nri_plugin_dir, an absolute path, not the node's root. */}}
{{- define "signgate.crioNRIPluginDir" -}}
{{- $p := toString .Values.crioNRIPluginDir -}}
{{- if or (not (isAbs $p)) (eq (clean $p) "/") -}}
{{- fail (printf "crioNRIPluginDir = %q: want the absolute path of CRI-O's nri_plugin_dir (not the node's root)" $p) -}}
{{- end -}}
{{ clean $p }}
{{- end -}}

{{/* CRI-O's CRI socket, when the pod mounts it (crioSocket.mount): the
same path in the pod as on the node; "" otherwise. */}}
{{- define "signgate.crioSocket" -}}
{{- if and (include "signgate.onCRIO" .) .Values.crioSocket.mount -}}
{{- $p := toString .Values.crioSocket.path -}}
{{- if or (not (isAbs $p)) (eq (dir $p) "/") -}}
{{- fail (printf "crioSocket.path = %q: want the absolute path of CRI-O's socket in a directory of its own (crio's listen, e.g. /var/run/crio/crio.sock)" $p) -}}
{{- end -}}
{{ clean $p }}
{{- end -}}
{{- end -}}

{{/* signgate's config.toml (docs/config.md). */}}
{{- define "signgate.config" -}}
{{- $c := .Values.config -}}
{{- $rt := include "signgate.runtime" . -}}
{{- $crio := include "signgate.onCRIO" . -}}
{{- $containerd := include "signgate.onContainerd" . -}}
[daemon]
nri_socket = "/var/run/nri/nri.sock"
{{- if $containerd }}
containerd_socket = "/run/containerd/containerd.sock"
{{- end }}
api_socket = "/run/signgate/signgate.sock"
decision_deadline = {{ $c.daemon.decisionDeadline | quote }}
metrics_address = {{ $c.daemon.metricsAddress | quote }}
watch_config = {{ $c.daemon.watchConfig | quote }}
{{- with $c.daemon.extra }}
{{ . }}
{{- end }}
{{- if $crio }}

# CRI-O: what a container runs, read from its storage (mounted read-only).
{{- if eq $rt "auto" }}
# auto: the runtime NRI connects signgate to, containerd or CRI-O.
{{- end }}
[daemon.runtime]
name = {{ $rt | quote }}
crio_storage_root = {{ .Values.crioStorage.root | quote }}
crio_storage_run_root = {{ .Values.crioStorage.runRoot | quote }}
# CRI-O's files (the pod's /etc/crio, read-only): without crio_socket,
# signgate reads enable_criu_support there.
crio_config = "/etc/crio/crio.conf"
crio_config_dir = "/etc/crio/crio.conf.d"
{{- with include "signgate.crioSocket" . }}
# CRI-O's CRI, to stop a container no longer trusted (crioSocket.mount).
crio_socket = {{ . | quote }}
{{- end }}
{{- end }}

[registry]
{{- if $containerd }}
hosts_dir = "/etc/containerd/certs.d"
{{- end }}
{{- if .Values.registryCredentials.dockerConfigSecret }}
docker_config = "{{ include "signgate.dockerConfigDir" . }}/config.json"
{{- end }}
{{- with $c.registry.extra }}
{{ . }}
{{- end }}
{{- if .Values.kubeletCredentialProviders.enabled }}

# The kubelet's own image credential providers, mounted read-only at the
# kubelet's paths: signatures are read with the identity that pulled.
[registry.credential_providers]
config = {{ .Values.kubeletCredentialProviders.config | quote }}
bin_dir = {{ .Values.kubeletCredentialProviders.binDir | quote }}
{{- end }}
{{- /* Only a true is refused: helm upgrade --reuse-values carries the
old chart's default (false) into every upgrade. */}}
{{- if .Values.podPullSecrets.serviceAccount }}
{{- fail "podPullSecrets.serviceAccount is now podPullSecrets.ofServiceAccount (the pod's service account's pull secrets, not the chart's serviceAccount): set that instead" }}
{{- end }}
{{- if .Values.podPullSecrets.enabled }}

# Each pod's own imagePullSecrets, read from the API server (get on pods
# and secrets: see values.yaml, podPullSecrets).
[registry.pod_pull_secrets]
enabled = true
{{- if .Values.podPullSecrets.kubelet.enabled }}
{{- if or .Values.podPullSecrets.apiServer .Values.podPullSecrets.ofServiceAccount }}
{{- fail "podPullSecrets.kubelet.enabled: not with apiServer or ofServiceAccount (the Node authorizer grants no get on service accounts)" }}
{{- end }}
# As the kubelet: only the secrets of pods bound to this node.
kubeconfig = {{ .Values.podPullSecrets.kubelet.kubeconfig | quote }}
{{- end }}
{{- with .Values.podPullSecrets.apiServer }}
api_server = {{ . | quote }}
{{- end }}
{{- if .Values.podPullSecrets.ofServiceAccount }}
service_account = true
{{- end }}
{{- end }}
{{- with $c.keys }}

{{ toToml (dict "keys" .) }}
{{- end }}
{{- with $c.kms }}

{{ toToml (dict "kms" .) }}
{{- end }}

{{- if .Values.policySource.enabled }}
{{- $ps := .Values.policySource }}

# The policy is the signed artifact at reference; this file is bootstrap only.
[policy_source]
reference = {{ required "policySource.reference is required" $ps.reference | quote }}
refresh = {{ $ps.refresh | quote }}
{{- with $ps.maxStaleness }}
max_staleness = {{ . | quote }}
{{- end }}
{{- with $ps.maxValidity }}
max_validity = {{ . | quote }}
{{- end }}
on_stale = {{ $ps.onStale | quote }}
  [policy_source.cosign]
  keys = [{{ range $i, $k := $ps.keys }}{{ if $i }}, {{ end }}{{ $k | quote }}{{ end }}]
  require = {{ $ps.require | quote }}
{{- else }}

# signgate's own image: allowed in its namespace, so the gate can always
# start itself. Keep this first.
[[policy]]
name = "signgate-itself"
scopes = [{{ .Values.image.repository | quote }}]
namespaces = [{{ .Release.Namespace | quote }}]
mode = "allow"
{{- with $c.policies }}

{{ . }}
{{- end }}
{{- if $c.catchAll.enabled }}

# Everything else is verified (the catch-all).
[[policy]]
name = {{ $c.catchAll.name | quote }}
scopes = ["**"]
mode = {{ $c.catchAll.mode | quote }}
  [policy.cosign]
  keys = [{{ range $i, $k := $c.catchAll.keys }}{{ if $i }}, {{ end }}{{ $k | quote }}{{ end }}]
{{- end }}
{{- end }}
{{- with $c.extra }}

{{ . }}
{{- end }}
{{- end -}}
