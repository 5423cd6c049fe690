{{- define "redis-cluster.validateValues" -}}
{{- $problems := list -}}
{{- $group := add 1 (int .Values.replicasPerPrimary) -}}
{{- $nodes := int .Values.replicaCount -}}
{{- if or (ne (mod $nodes $group) 0) (lt (div $nodes $group) 3) -}}
{{- $problems = append $problems (printf "redis-cluster.replicaCount: must be a multiple of 1 + replicasPerPrimary (%d) with at least 3 primaries, got %d" $group $nodes) -}}
{{- end -}}
{{- include "airlines.failOnProblems" $problems -}}
{{- end -}}
