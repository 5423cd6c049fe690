{{/*
Standard labels. Usage: include "airlines.labels" (dict "ctx" $ "component" "kafka")
*/}}
{{- define "airlines.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .ctx.Chart.Name .ctx.Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "airlines.selectorLabels" . }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | default .ctx.Chart.Version | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
app.kubernetes.io/part-of: airlines-analytics
{{- end -}}

{{/* Labels a selector matches (never change after install). */}}
{{- define "airlines.selectorLabels" -}}
app.kubernetes.io/name: {{ .component }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
{{- end -}}

{{/*
Labels that NetworkPolicies of the servers match to let a pod in.
Usage: include "airlines.clientLabels" (list "kafka" "redis")
*/}}
{{- define "airlines.clientLabels" -}}
{{- range . }}
airlines-analytics/{{ . }}-client: "true"
{{- end }}
{{- end -}}
