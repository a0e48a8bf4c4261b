{{/* Helpers of one identity per node (agent.nodes); see agent-node-identity.yaml. */}}
{{/*
One identity per node (agent.nodes). Each entry: {name, ips, dnsNames}. Fails early on entries the
operator's identity rule could never accept: the agent advertises https://<node IP>:<port>, so its
certificate must name that IP besides the node's name.
*/}}
{{- define "xenvbd.agentNodes" -}}
{{- $seen := dict }}
{{- $nodes := list }}
{{- range $i, $n := .Values.agent.nodes }}
{{- if not (kindIs "map" $n) }}
{{- fail (printf "agent.nodes[%d]: give a map such as {name: dom0-a, ips: [10.0.0.5]}, not %v" $i $n) }}
{{- end }}
{{- if not (kindIs "string" $n.name) }}
{{- fail (printf "agent.nodes[%d].name is %v, not a string: give the node's name, quoted if YAML would read it as something else (\"no\", \"1\")" $i $n.name) }}
{{- end }}
{{- $name := $n.name }}
{{- if not (regexMatch "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$" $name) }}
{{- fail (printf "agent.nodes[%d].name %q is not a Kubernetes node name; give the node's metadata.name (kubectl get nodes)" $i $name) }}
{{- end }}
{{- if gt (len $name) 63 }}
{{- fail (printf "agent.nodes[%d].name %q is longer than 63 characters, too long for the label that pins its agent" $i $name) }}
{{- end }}
{{- if hasKey $seen $name }}
{{- fail (printf "agent.nodes lists %q twice; give each node once" $name) }}
{{- end }}
{{- $_ := set $seen $name true }}
{{- if not $n.ips }}
{{- fail (printf "agent.nodes[%d] (%s) lists no ips: give the node IP its agent advertises (status.hostIP, e.g. kubectl get node %s -o jsonpath='{.status.addresses}')" $i $name $name) }}
{{- end }}
{{- $nodes = append $nodes (dict "name" $name "ips" $n.ips "dnsNames" (default (list) $n.dnsNames)) }}
{{- end }}
{{- if and $nodes .Values.agent.tls.existingSecret }}
{{- fail "agent.tls.existingSecret is one certificate shared by every agent; with agent.nodes the chart (or cert-manager) issues one per node, so leave agent.tls.existingSecret empty" }}
{{- end }}
{{- if and $nodes .Values.agent.metricsRequireToken .Values.metrics.serviceMonitor.enabled }}
{{- fail "with agent.nodes each agent accepts only its own token, so one ServiceMonitor cannot scrape agents that require it; set agent.metricsRequireToken=false or scrape them another way" }}
{{- end }}
{{- toJson $nodes }}
{{- end }}

{{/* The agent DaemonSets to render, as node names: [""] (one shared DaemonSet) or one per listed node. */}}
{{- define "xenvbd.agentInstances" -}}
{{- $names := list }}
{{- range include "xenvbd.agentNodes" . | fromJsonArray }}
{{- $names = append $names .name }}
{{- end }}
{{- toJson (default (list "") $names) }}
{{- end }}

{{/* Secret with node (index . 1)'s token: its own, or the shared one for "" (call with (list . $node)). */}}
{{- define "xenvbd.agentTokenSecretName" -}}
{{- $root := index . 0 }}{{- $node := index . 1 }}
{{- if $node }}{{ printf "%s-agent-token-%s" (include "xenvbd.fullname" $root) $node }}{{ else }}{{ include "xenvbd.tokenSecretName" $root }}{{ end }}
{{- end }}

{{/* Secret with node (index . 1)'s tls.crt and tls.key, or the shared one for "". */}}
{{- define "xenvbd.agentTlsSecretName" -}}
{{- $root := index . 0 }}{{- $node := index . 1 }}
{{- if $node }}{{ printf "%s-agent-tls-%s" (include "xenvbd.fullname" $root) $node }}{{ else }}{{ include "xenvbd.tlsSecretName" $root }}{{ end }}
{{- end }}

{{/* Secret whose ca.crt the operator trusts: the shared TLS Secret, or per node the chart's CA (or, with an admin's cert-manager issuer, the first node's Secret, which cert-manager gives the issuer's ca.crt). */}}
{{- define "xenvbd.agentCaSecretName" -}}
{{- $nodes := include "xenvbd.agentNodes" . | fromJsonArray }}
{{- if not $nodes }}{{ include "xenvbd.tlsSecretName" . }}
{{- else if and .Values.agent.tls.certManager.enabled .Values.agent.tls.certManager.issuerRef }}{{ include "xenvbd.agentTlsSecretName" (list . (index $nodes 0).name) }}
{{- else }}{{ printf "%s-agent-ca" (include "xenvbd.fullname" .) }}
{{- end }}
{{- end }}

{{/*
The agent pods' affinity: agent.affinity, and for a per-node DaemonSet (index . 1 not "") every
nodeSelectorTerm also requires metadata.name = that node, as the DaemonSet controller itself pins pods.
*/}}
{{- define "xenvbd.agentAffinity" -}}
{{- $root := index . 0 }}{{- $node := index . 1 }}
{{- $affinity := deepCopy (default (dict) $root.Values.agent.affinity) }}
{{- if $node }}
{{- $pin := dict "key" "metadata.name" "operator" "In" "values" (list $node) }}
{{- $nodeAffinity := default (dict) (get $affinity "nodeAffinity") }}
{{- $required := default (dict) (get $nodeAffinity "requiredDuringSchedulingIgnoredDuringExecution") }}
{{- $pinned := list }}
{{- range default (list (dict)) (get $required "nodeSelectorTerms") }}
{{- $term := deepCopy . }}
{{- $_ := set $term "matchFields" (append (default (list) (get $term "matchFields")) $pin) }}
{{- $pinned = append $pinned $term }}
{{- end }}
{{- $_ := set $required "nodeSelectorTerms" $pinned }}
{{- $_ := set $nodeAffinity "requiredDuringSchedulingIgnoredDuringExecution" $required }}
{{- $_ := set $affinity "nodeAffinity" $nodeAffinity }}
{{- end }}
{{- if $affinity }}{{ toYaml $affinity }}{{ end }}
{{- end }}
