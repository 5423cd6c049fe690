{{/* Rules across the streaming values (the schema checks each value on its own). */}}
{{- define "streaming.validateValues" -}}
{{- $problems := list -}}
{{- $job := .Values.applyJob -}}
{{- $timeoutMs := include "airlines.durationMs" $job.timeout | int64 -}}
{{- if and (ge $timeoutMs 0) (le (mul (int64 $job.activeDeadlineSeconds) 1000) $timeoutMs) -}}
{{- $problems = append $problems (printf "streaming.applyJob.activeDeadlineSeconds: must be longer than timeout (%ds <= %s), or Kubernetes kills the job before it can report why it gave up" (int $job.activeDeadlineSeconds) $job.timeout) -}}
{{- end -}}
{{- include "airlines.failOnProblems" $problems -}}
{{- end -}}
