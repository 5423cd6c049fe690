{{- define "redis-cluster.validateValues" -}}
{{- $problems := list -}}
{{- $group := add 1 (int .Values.replicasPerPrimary) -}}
{{- $nodes := int .Values.replicaCount -}}
{{- if or (ne (mod $nodes $group) 0) (lt (div $nodes $group) 3) -}}
{{- $problems = append $problems (printf "redis-cluster.replicaCount: must be a multiple of 1 + replicasPerPrimary (%d) with at least 3 primaries, got %d" $group $nodes) -}}
{{- end -}}
{{- if and .Values.tls.existingSecret .Values.tls.certManager.enabled -}}
{{- $problems = append $problems "redis-cluster.tls.certManager.enabled: not with existingSecret (one source of certificates)" -}}
{{- end -}}
{{- if and .Values.tls.certManager.enabled (not .Values.tls.certManager.issuerRef.name) -}}
{{- $problems = append $problems "redis-cluster.tls.certManager.issuerRef.name: required with certManager.enabled (the issuer that signs the nodes' certificate)" -}}
{{- end -}}
{{- include "airlines.failOnProblems" $problems -}}
{{- end -}}

{{/* Where the nodes' certificate comes from: "issue" (the chart's CA, an init container
issues it), "secret" (cert-manager's or the user's Secret), or "" (no TLS). */}}
{{- define "redis-cluster.tlsSource" -}}
{{- if .Values.global.redis.tls.enabled -}}
{{- ternary "secret" "issue" (or .Values.tls.certManager.enabled (ne .Values.tls.existingSecret "")) -}}
{{- end -}}
{{- end -}}

{{/* Secret holding the nodes' certificate (or, with the chart's CA, the CA). */}}
{{- define "redis-cluster.tlsSecretName" -}}
{{- default (include "airlines.name" (dict "ctx" . "component" "redis-tls")) .Values.tls.existingSecret -}}
{{- end -}}

{{/* redis-cli's connection options inside a node's pod (TLS: trusting the nodes' CA). */}}
{{- define "redis-cluster.cliOptions" -}}
-h localhost -p {{ include "airlines.port" "redis-cluster" }}{{ if .Values.global.redis.tls.enabled }} --tls --cacert /etc/redis-tls/ca.crt{{ end }}
{{- end -}}
