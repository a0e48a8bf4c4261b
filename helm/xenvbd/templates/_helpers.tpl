{{/* Chart name, overridable. */}}
{{- define "xenvbd.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Object-name prefix: <release>-<chart>, or <release> when it already holds the chart name. */}}
{{- define "xenvbd.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "xenvbd.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels on every object. */}}
{{- define "xenvbd.labels" -}}
helm.sh/chart: {{ include "xenvbd.chart" . }}
app.kubernetes.io/name: {{ include "xenvbd.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Selector labels of one component (operator or agent); call with (list . "operator"). */}}
{{- define "xenvbd.selectorLabels" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: {{ include "xenvbd.name" $root }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end }}

{{- define "xenvbd.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{- define "xenvbd.operator.serviceAccountName" -}}
{{- default (printf "%s-operator" (include "xenvbd.fullname" .)) .Values.operator.serviceAccount.name }}
{{- end }}

{{- define "xenvbd.agent.serviceAccountName" -}}
{{- default (printf "%s-agent" (include "xenvbd.fullname" .)) .Values.agent.serviceAccount.name }}
{{- end }}

{{/* Secret with the agent bearer token: the admin's, or the one this chart generates. */}}
{{- define "xenvbd.tokenSecretName" -}}
{{- default (printf "%s-agent-token" (include "xenvbd.fullname" .)) .Values.agent.token.existingSecret }}
{{- end }}

{{/* Secret with tls.crt, tls.key and ca.crt of the agents: the admin's, cert-manager's or Helm's. */}}
{{- define "xenvbd.tlsSecretName" -}}
{{- default (printf "%s-agent-tls" (include "xenvbd.fullname" .)) .Values.agent.tls.existingSecret }}
{{- end }}

{{/* Host names the agent certificate names besides its IPs. */}}
{{- define "xenvbd.agentDnsNames" -}}
{{- $names := list "localhost" (printf "%s-agent" (include "xenvbd.fullname" .)) (printf "%s-agent.%s.svc" (include "xenvbd.fullname" .) .Release.Namespace) }}
{{- toJson (concat $names .Values.agent.tls.dnsNames) }}
{{- end }}

{{- define "xenvbd.agentIPs" -}}
{{- toJson (concat (list "127.0.0.1") .Values.agent.tls.ipAddresses) }}
{{- end }}

{{/* Fail early on allowSources that would be mounted over the agent container's own system
directories (the agent sees a node directory at the same path it has on the node). */}}
{{- define "xenvbd.checkAllowSources" -}}
{{- $reserved := list "/bin" "/sbin" "/lib" "/lib32" "/lib64" "/usr" "/etc" "/opt" "/proc" "/sys" "/dev" "/run" "/tmp" }}
{{- range .Values.agent.allowSources }}
{{- $src := trimSuffix "/" . }}
{{- if not (hasPrefix "/" .) }}
{{- fail (printf "agent.allowSources: %q is not an absolute path; list node directories such as /srv/rootfs" .) }}
{{- end }}
{{- range $reserved }}
{{- if or (eq $src "") (eq $src .) (hasPrefix (printf "%s/" .) $src) }}
{{- fail (printf "agent.allowSources: %q would be mounted over the agent container's own %s; copy what you need to a directory such as /srv/xenvbd-sources and allow that" $src (default "/" .)) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/*
agent.allowUrls and agent.allowPrivateHosts travel comma-separated (a URL has colons): an item with
a comma would silently become two, so it is refused at render time.
*/}}
{{- define "xenvbd.checkAllowUrls" -}}
{{- range .Values.agent.allowUrls }}
{{- if not (or (hasPrefix "http://" (lower .)) (hasPrefix "https://" (lower .))) }}
{{- fail (printf "agent.allowUrls: %q is not an http(s) URL prefix; list prefixes such as https://mirror.example/images/" .) }}
{{- end }}
{{- if contains "," . }}
{{- fail (printf "agent.allowUrls: %q contains a comma; give each prefix as its own list item, without commas" .) }}
{{- end }}
{{- end }}
{{- range .Values.agent.allowPrivateHosts }}
{{- if or (contains "," .) (contains "/" .) }}
{{- fail (printf "agent.allowPrivateHosts: %q is not a host name or IP address; list hosts such as mirror.internal" .) }}
{{- end }}
{{- end }}
{{- end }}

{{/*
The node directory mounted for the images: the images root, or with agent.importDir its parent,
which holds both, so that adoption's rename(2) from one to the other stays within one mount (across
two mounts it fails with EXDEV, even on one filesystem).
*/}}
{{- define "xenvbd.imagesMount" -}}
{{- if .Values.agent.importDir }}{{ dir (trimSuffix "/" .Values.agent.imagesRoot) }}{{ else }}{{ .Values.agent.imagesRoot }}{{ end }}
{{- end }}

{{- define "xenvbd.checkImportDir" -}}
{{- with .Values.agent.importDir }}
{{- $import := trimSuffix "/" . }}
{{- $root := trimSuffix "/" $.Values.agent.imagesRoot }}
{{- if not (hasPrefix "/" $import) }}
{{- fail (printf "agent.importDir: %q is not an absolute path; give a node directory beside agent.imagesRoot, such as %s/import" . (dir $root)) }}
{{- end }}
{{- if ne (dir $import) (dir $root) }}
{{- fail (printf "agent.importDir: %q must sit beside agent.imagesRoot %q (the same parent directory, e.g. %s/import): adoption moves a file with rename(2), which works only within the one mount the chart makes of their parent" . $root (dir $root)) }}
{{- end }}
{{- $parent := dir $root }}
{{- range list "/" "/bin" "/sbin" "/lib" "/lib32" "/lib64" "/usr" "/etc" "/opt" "/proc" "/sys" "/dev" "/run" "/tmp" }}
{{- if eq $parent . }}
{{- fail (printf "agent.importDir: the parent %q of agent.imagesRoot and agent.importDir would be mounted over the agent container's own %s; put both one level deeper, e.g. /var/lib/xen/images and /var/lib/xen/import" $parent .) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
