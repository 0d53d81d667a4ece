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

{{/* signgate's config.toml (docs/config.md). */}}
{{- define "signgate.config" -}}
{{- $c := .Values.config -}}
[daemon]
nri_socket = "/var/run/nri/nri.sock"
containerd_socket = "/run/containerd/containerd.sock"
api_socket = "/run/signgate/signgate.sock"
decision_deadline = {{ $c.daemon.decisionDeadline | quote }}
metrics_address = {{ $c.daemon.metricsAddress | quote }}
watch_config = {{ $c.daemon.watchConfig | quote }}
{{- with $c.daemon.extra }}
{{ . }}
{{- end }}

[registry]
hosts_dir = "/etc/containerd/certs.d"
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
{{- if .Values.podPullSecrets.enabled }}

# Each pod's own imagePullSecrets, read from the API server (get on pods
# and secrets: see values.yaml, podPullSecrets).
[registry.pod_pull_secrets]
enabled = true
{{- with .Values.podPullSecrets.apiServer }}
api_server = {{ . | quote }}
{{- end }}
{{- if .Values.podPullSecrets.serviceAccount }}
service_account = true
{{- end }}
{{- end }}
{{- with $c.keys }}

{{ toToml (dict "keys" .) }}
{{- end }}
{{- with $c.kms }}

{{ toToml (dict "kms" .) }}
{{- end }}

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
{{- with $c.extra }}

{{ . }}
{{- end }}
{{- end -}}
