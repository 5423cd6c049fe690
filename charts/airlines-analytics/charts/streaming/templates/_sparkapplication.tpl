{{/*
The streaming job's SparkApplication. Not a release object: the Spark Operator's
admission webhook (failurePolicy Fail) must answer for every SparkApplication, and it
cannot while its own pod, created in the same release, is not running yet. So the
manifest goes into the ConfigMap sparkapplication-configmap.yaml renders, and the hook
Job apply-job.yaml applies it (`airlines k8s apply-spark-app`) after install, upgrade
and rollback, retrying until the webhook answers, with that ConfigMap as its owner:
uninstalling the release deletes the ConfigMap, and the garbage collector the
SparkApplication and its pods.
Usage: include "streaming.sparkApplication" .
*/}}
{{- define "streaming.sparkApplication" -}}
{{- $name := include "airlines.streaming.appName" . }}
{{- $sa := include "airlines.serviceAccountName" (dict "ctx" $ "component" "spark") }}
{{- $executorSa := include "airlines.serviceAccountName" (dict "ctx" $ "component" "spark-executor") }}
{{- $image := .Values.global.images.sparkJob }}
{{- $labels := include "airlines.labels" (dict "ctx" $ "component" "streaming") | fromYaml }}
{{- $podLabels := merge (include "airlines.clientLabels" (list "kafka" "redis") | fromYaml) (include "airlines.labels" (dict "ctx" $ "component" "streaming") | fromYaml) }}
{{- $mounts := list (dict "name" "config" "mountPath" "/etc/airlines" "readOnly" true) (dict "name" "tmp" "mountPath" "/tmp") (dict "name" "work" "mountPath" "/opt/spark/work-dir") }}
{{- if .Values.checkpoint.enabled }}
{{- $mounts = append $mounts (dict "name" "checkpoints" "mountPath" .Values.checkpoint.mountPath) }}
{{- end }}
# The streaming job: spark-submit runs jobs/flight_analytics.py, which runs
# `airlines stream --config /etc/airlines/config.yaml` (the same command as locally).
# The Kafka connector jars are baked into the image: nothing is downloaded at start.
apiVersion: sparkoperator.k8s.io/v1beta2
kind: SparkApplication
metadata:
  name: {{ $name }}
  namespace: {{ include "airlines.namespace" . }}
  labels:
    {{- toYaml $labels | nindent 4 }}
spec:
  type: Python
  pythonVersion: "3"
  mode: cluster
  sparkVersion: {{ .Values.sparkVersion | quote }}
  image: {{ include "airlines.projectImage" (dict "ctx" $ "name" "sparkJob") }}
  imagePullPolicy: {{ $image.pullPolicy }}
  {{- with .Values.global.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  mainApplicationFile: local:///opt/airlines/jobs/flight_analytics.py
  arguments:
    - --config
    - /etc/airlines/config.yaml
    {{- if .Values.metrics.enabled }}
    - --metrics-port
    - {{ .Values.metrics.port | quote }}
    - --metrics-host
    - 0.0.0.0
    {{- end }}
  sparkConf:
    spark.kubernetes.executor.deleteOnTermination: "true"
    # The driver's Role (rbac chart) holds pods only: no ConfigMap for the executors
    # (their image has Spark's conf dir), no PersistentVolumeClaims of its own to list
    # or delete, and the driver's Service goes with the driver pod that owns it.
    spark.kubernetes.executor.disableConfigMap: "true"
    spark.kubernetes.driver.ownPersistentVolumeClaim: "false"
    spark.kubernetes.driver.reusePersistentVolumeClaim: "false"
    spark.kubernetes.driver.service.deleteOnTermination: "false"
    spark.jars.ivy: /tmp/.ivy2
    spark.local.dir: /tmp/spark-local
    {{- range $key, $value := .Values.sparkConf }}
    {{ $key }}: {{ $value | quote }}
    {{- end }}
  restartPolicy:
    type: {{ .Values.restartPolicy.type }}
    {{- if ne .Values.restartPolicy.type "Never" }}
    onFailureRetries: {{ .Values.restartPolicy.onFailureRetries }}
    onFailureRetryInterval: {{ .Values.restartPolicy.onFailureRetryInterval }}
    onSubmissionFailureRetries: {{ .Values.restartPolicy.onSubmissionFailureRetries }}
    onSubmissionFailureRetryInterval: {{ .Values.restartPolicy.onSubmissionFailureRetryInterval }}
    {{- end }}
  volumes:
    # The config, the streaming principal's Kafka credentials and the brokers' CA: the
    # driver builds the Kafka clients' JAAS from them at start; the executors (the Kafka
    # consumers and the dead-letter producer) read the CA at the same path. And Redis's
    # writer user: the config names it, its password and the Redis CA are files beside
    # it, read by the driver (the heartbeat) and the executors (the sink) alike.
    {{- include "airlines.configVolume" (dict "ctx" $ "kafkaUser" "streaming" "redisUser" "writer") | nindent 4 }}
    - name: tmp
      emptyDir:
        sizeLimit: 2Gi
    - name: work
      emptyDir:
        sizeLimit: 1Gi
    {{- if .Values.checkpoint.enabled }}
    - name: checkpoints
      persistentVolumeClaim:
        claimName: {{ include "airlines.name" (dict "ctx" $ "component" "streaming-checkpoints") }}
    {{- end }}
  driver:
    cores: {{ .Values.driver.cores }}
    {{- with .Values.driver.coreRequest }}
    coreRequest: {{ . | quote }}
    {{- end }}
    coreLimit: {{ .Values.driver.coreLimit | quote }}
    memory: {{ .Values.driver.memory | quote }}
    memoryOverhead: {{ .Values.driver.memoryOverhead | quote }}
    serviceAccount: {{ $sa }}
    labels:
      {{- toYaml $podLabels | nindent 6 }}
      airlines-analytics/spark-role: driver
      {{- /* The driver creates, watches and deletes its executors through the API. */}}
      airlines-analytics/api-client: "true"
    annotations:
      checksum/config: {{ include "airlines.configChecksum" . }}
      {{- include "airlines.kafka.credentialsChecksum" (dict "ctx" $ "user" "streaming") | nindent 6 }}
      {{- include "airlines.redis.credentialsChecksum" (dict "ctx" $ "user" "writer") | nindent 6 }}
      {{- if .Values.metrics.enabled }}
      {{- include "airlines.scrapeAnnotations" .Values.metrics.port | nindent 6 }}
      {{- end }}
    {{- if .Values.metrics.enabled }}
    # /metrics of the job (airlines stream --metrics-port) in the driver's Python process.
    ports:
      - name: metrics
        containerPort: {{ .Values.metrics.port }}
        protocol: TCP
    {{- end }}
    volumeMounts:
      {{- toYaml $mounts | nindent 6 }}
    podSecurityContext:
      {{- include "airlines.podSecurityContext" 185 | nindent 6 }}
    securityContext:
      {{- include "airlines.containerSecurityContext" (dict "readOnlyRootFilesystem" true) | nindent 6 }}
    {{- with .Values.scheduling.nodeSelector }}
    nodeSelector:
      {{- toYaml . | nindent 6 }}
    {{- end }}
    {{- with .Values.scheduling.tolerations }}
    tolerations:
      {{- toYaml . | nindent 6 }}
    {{- end }}
    {{- with .Values.scheduling.affinity }}
    affinity:
      {{- toYaml . | nindent 6 }}
    {{- end }}
  executor:
    instances: {{ .Values.executor.instances }}
    cores: {{ .Values.executor.cores }}
    {{- with .Values.executor.coreRequest }}
    coreRequest: {{ . | quote }}
    {{- end }}
    coreLimit: {{ .Values.executor.coreLimit | quote }}
    memory: {{ .Values.executor.memory | quote }}
    memoryOverhead: {{ .Values.executor.memoryOverhead | quote }}
    # Executors parse untrusted input: an account of their own, without a token and
    # without any Role (spark.kubernetes.authenticate.executor.serviceAccountName).
    serviceAccount: {{ $executorSa }}
    deleteOnTermination: true
    labels:
      {{- toYaml $podLabels | nindent 6 }}
      airlines-analytics/spark-role: executor
    volumeMounts:
      {{- toYaml $mounts | nindent 6 }}
    podSecurityContext:
      {{- include "airlines.podSecurityContext" 185 | nindent 6 }}
    securityContext:
      {{- include "airlines.containerSecurityContext" (dict "readOnlyRootFilesystem" true) | nindent 6 }}
    {{- with .Values.scheduling.nodeSelector }}
    nodeSelector:
      {{- toYaml . | nindent 6 }}
    {{- end }}
    {{- with .Values.scheduling.tolerations }}
    tolerations:
      {{- toYaml . | nindent 6 }}
    {{- end }}
    {{- with .Values.scheduling.affinity }}
    affinity:
      {{- toYaml . | nindent 6 }}
    {{- end }}
{{- end -}}
