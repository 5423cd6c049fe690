{{/*
Validation helpers. A chart collects its problems in a list and fails ONCE with all of
them, each naming the value ("kafka.replicaCount: ..."), so a bad values file gets one
clear report rather than the first problem only.
Usage:
  {{- $problems := list -}}
  {{- $problems = append $problems "kafka.replicaCount: must be ..." -}}
  {{- include "airlines.failOnProblems" $problems -}}
*/}}
{{- define "airlines.failOnProblems" -}}
{{- if . -}}
{{- fail (printf "\n\nVALUES VALIDATION:\n%s" (join "\n" .)) -}}
{{- end -}}
{{- end -}}

{{/*
The problem with JVM flags that set the heap (which has a value of its own), or nothing.
Usage: {{- with include "airlines.heapInJvmOptions" (list "kafka.jvmOptions" .Values.jvmOptions) -}}
*/}}
{{- define "airlines.heapInJvmOptions" -}}
{{- $field := index . 0 -}}
{{- $heap := list -}}
{{- range splitList " " (index . 1 | default "") -}}
{{- if or (hasPrefix "-Xmx" .) (hasPrefix "-Xms" .) -}}
{{- $heap = append $heap . -}}
{{- end -}}
{{- end -}}
{{- if $heap -}}
{{- printf "%s: %s: the heap is set by `heap`, not here" $field (join " " $heap) -}}
{{- end -}}
{{- end -}}

{{/*
A duration string ("30s", "5m", "250ms", "2d"; a bare number is seconds) in milliseconds.
Usage: include "airlines.durationMs" "5m" | int64
*/}}
{{- define "airlines.durationMs" -}}
{{- $text := toString . | trim -}}
{{- if regexMatch "^[0-9]+$" $text -}}
{{- mul (int64 $text) 1000 -}}
{{- else if regexMatch "^[0-9]+(ms|s|m|h|d)$" $text -}}
{{- $amount := int64 (regexFind "^[0-9]+" $text) -}}
{{- $unit := regexFind "(ms|s|m|h|d)$" $text -}}
{{- $scale := dict "ms" 1 "s" 1000 "m" 60000 "h" 3600000 "d" 86400000 -}}
{{- mul $amount (get $scale $unit) -}}
{{- else -}}
-1
{{- end -}}
{{- end -}}
