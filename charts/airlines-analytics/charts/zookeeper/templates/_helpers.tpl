{{- define "zookeeper.validateValues" -}}
{{- $problems := list -}}
{{- if eq (mod (int .Values.replicaCount) 2) 0 -}}
{{- $problems = append $problems (printf "zookeeper.replicaCount: must be odd (a quorum needs a majority), got %d" (int .Values.replicaCount)) -}}
{{- end -}}
{{- with include "airlines.heapInJvmOptions" (list "zookeeper.jvmOptions" .Values.jvmOptions) -}}
{{- $problems = append $problems . -}}
{{- end -}}
{{- include "airlines.failOnProblems" $problems -}}
{{- end -}}
