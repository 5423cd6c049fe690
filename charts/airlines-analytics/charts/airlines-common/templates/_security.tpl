{{/*
Restricted security contexts (Pod Security Standards "restricted").
Usage: include "airlines.podSecurityContext" 1000
*/}}
{{- define "airlines.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ . }}
runAsGroup: {{ . }}
fsGroup: {{ . }}
fsGroupChangePolicy: OnRootMismatch
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Usage: include "airlines.containerSecurityContext" (dict "readOnlyRootFilesystem" true) */}}
{{- define "airlines.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: {{ ternary "true" "false" (ne .readOnlyRootFilesystem false) }}
runAsNonRoot: true
privileged: false
capabilities:
  drop:
    - ALL
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* nodeSelector / tolerations / affinity of a pod spec. Usage: include "airlines.scheduling" .Values.scheduling */}}
{{- define "airlines.scheduling" -}}
{{- with .nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* Resources block. Usage: include "airlines.resources" .Values.resources */}}
{{- define "airlines.resources" -}}
{{- $out := dict -}}
{{- range $kind := list "requests" "limits" -}}
{{- $amounts := dict -}}
{{- range $name, $value := (get $ (toString $kind)) | default dict -}}
{{- if not (kindIs "invalid" $value) -}}{{- $_ := set $amounts $name (toString $value) -}}{{- end -}}
{{- end -}}
{{- if $amounts -}}{{- $_ := set $out $kind $amounts -}}{{- end -}}
{{- end -}}
{{- toYaml $out -}}
{{- end -}}

{{/* PVC storageClassName line: null -> default class, "-" -> "" (none). */}}
{{- define "airlines.storageClass" -}}
{{- if not (kindIs "invalid" .) -}}
{{- if eq (toString .) "-" }}
storageClassName: ""
{{- else }}
storageClassName: {{ . | quote }}
{{- end }}
{{- end -}}
{{- end -}}
