{{/*
The runtime config (airlines.config.AppConfig) every pod reads as
/etc/airlines/config.yaml: global.config with the chart's own Kafka brokers and Redis
nodes filled in (per-pod DNS names through the headless Services). Mirrors
airlines.config.chart.umbrella.ChartValues.app_config, which a test compares with this render.
*/}}
{{- define "airlines-analytics.appConfig" -}}
{{- $config := deepCopy .Values.global.config -}}
{{- if .Values.kafka.enabled -}}
{{- $servers := include "airlines.podEndpoints" (dict "ctx" $ "component" "kafka" "count" .Values.kafka.replicaCount) | fromJsonArray -}}
{{- $_ := set $config.kafka "bootstrapServers" $servers -}}
{{- end -}}
{{- if (index .Values "redis-cluster").enabled -}}
{{- $nodes := include "airlines.podEndpoints" (dict "ctx" $ "component" "redis-cluster" "count" (index .Values "redis-cluster").replicaCount) | fromJsonArray -}}
{{- $_ := set $config.redis "nodes" $nodes -}}
{{- end -}}
{{- if not .Values.global.redis.auth.enabled -}}
{{- $_ := set $config.redis "passwordEnv" nil -}}
{{- $_ := set $config.redis "passwordFile" nil -}}
{{- end -}}
{{- /* redis.tls only where the chart sets it (airlines-analytics.redisUserConfig) */ -}}
{{- $_ := unset $config.redis "tls" -}}
{{- toYaml $config -}}
{{- end -}}

{{/*
The config of a client of the chart's Redis logging in as one of its ACL users: the
release's config with redis.username, the password file its pod mounts (never the
password) and, with TLS, the CA (airlines.config.chart.umbrella.ChartValues.redis_client_config).
Usage: include "airlines-analytics.redisUserConfig" (dict "ctx" $ "user" "writer")
*/}}
{{- define "airlines-analytics.redisUserConfig" -}}
{{- $config := include "airlines-analytics.appConfig" .ctx | fromYaml -}}
{{- if include "airlines.redis.acl" .ctx -}}
{{- $_ := set $config.redis "username" .user -}}
{{- $_ := set $config.redis "passwordEnv" nil -}}
{{- $_ := set $config.redis "passwordFile" (include "airlines.redis.passwordFile" .ctx) -}}
{{- end -}}
{{- if include "airlines.redis.tls" .ctx -}}
{{- $_ := set $config.redis "tls" (dict "caFile" (include "airlines.redis.caFile" .ctx) "certFile" nil "keyFile" nil) -}}
{{- end -}}
{{- toYaml $config -}}
{{- end -}}

{{/*
Rules across subcharts (the schema checks each value on its own). Mirrors
airlines.config.chart.umbrella.ChartValues.problems; tests/chart/bad-values/ holds a file per rule
that both `airlines values validate` and `helm template` must reject.
*/}}
{{- define "airlines-analytics.validateValues" -}}
{{- $problems := list -}}
{{- $config := .Values.global.config -}}
{{- $kafka := .Values.kafka -}}
{{- $redis := index .Values "redis-cluster" -}}
{{- if and $kafka.enabled $config.kafka.bootstrapServers -}}
{{- $problems = append $problems "global.config.kafka.bootstrapServers: must be empty when kafka.enabled is true (the chart fills in its own brokers)" -}}
{{- end -}}
{{- if and (not $kafka.enabled) (not $config.kafka.bootstrapServers) -}}
{{- $problems = append $problems "global.config.kafka.bootstrapServers: required when kafka.enabled is false" -}}
{{- end -}}
{{- if and $redis.enabled $config.redis.nodes -}}
{{- $problems = append $problems "global.config.redis.nodes: must be empty when redis-cluster.enabled is true (the chart fills in its own nodes)" -}}
{{- end -}}
{{- if and (not $redis.enabled) (not $config.redis.nodes) -}}
{{- $problems = append $problems "global.config.redis.nodes: required when redis-cluster.enabled is false" -}}
{{- end -}}
{{- if and $redis.enabled (gt (int $config.redis.ackReplicas) (int $redis.replicasPerPrimary)) -}}
{{- $problems = append $problems (printf "global.config.redis.ackReplicas: %d exceeds redis-cluster.replicasPerPrimary (%d): no write could ever be confirmed" (int $config.redis.ackReplicas) (int $redis.replicasPerPrimary)) -}}
{{- end -}}
{{- $problems = concat $problems (include "airlines-analytics.kafkaSecurityProblems" . | fromJsonArray) -}}
{{- if .Values.streaming.enabled -}}
{{- /* DRIVER_MIN_MEMORY_MIB: the driver generates the job's code for every micro-batch */ -}}
{{- $memory := toString .Values.streaming.driver.memory -}}
{{- $mib := int (trimSuffix (trunc -1 $memory) $memory) -}}
{{- if eq (lower (trunc -1 $memory)) "g" -}}{{- $mib = mul $mib 1024 -}}{{- end -}}
{{- if lt (int $mib) 1024 -}}
{{- $problems = append $problems (printf "streaming.driver.memory: %s is below 1g: the driver generates the job's code for every micro-batch and runs out of heap" $memory) -}}
{{- end -}}
{{- end -}}
{{- if $kafka.enabled -}}
{{- range $i, $topic := $config.topics -}}
{{- if gt (int (default 3 $topic.replicationFactor)) (int $kafka.replicaCount) -}}
{{- $problems = append $problems (printf "global.config.topics[%d].replicationFactor: %d exceeds kafka.replicaCount (%d)" $i (int (default 3 $topic.replicationFactor)) (int $kafka.replicaCount)) -}}
{{- end -}}
{{- end -}}
{{- if gt (int $config.deadLetter.replicationFactor) (int $kafka.replicaCount) -}}
{{- $problems = append $problems (printf "global.config.deadLetter.replicationFactor: %d exceeds kafka.replicaCount (%d)" (int $config.deadLetter.replicationFactor) (int $kafka.replicaCount)) -}}
{{- end -}}
{{- end -}}
{{- /* topics: unique names and regions, dead letter distinct */ -}}
{{- $names := list -}}
{{- $regions := list -}}
{{- range $config.topics -}}
{{- $names = append $names .name -}}
{{- $regions = append $regions .region -}}
{{- end -}}
{{- if ne (len $names) (len (uniq $names)) -}}
{{- $problems = append $problems (printf "global.config.topics: topic names must be unique, got %v" $names) -}}
{{- end -}}
{{- if ne (len $regions) (len (uniq $regions)) -}}
{{- $problems = append $problems "global.config.topics: each region may feed only one topic" -}}
{{- end -}}
{{- if has $config.deadLetter.topic $names -}}
{{- $problems = append $problems "global.config.deadLetter.topic: must not also be an input topic" -}}
{{- end -}}
{{- if .Values.producers.enabled -}}
{{- range $i, $region := .Values.producers.regions -}}
{{- if not (has $region $regions) -}}
{{- $problems = append $problems (printf "producers.regions[%d]: no topic in global.config.topics has region %q" $i $region) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- /* durations: redis.ttl must outlive a window and its watermark; slide within window */ -}}
{{- $window := include "airlines.durationMs" $config.streaming.window | int64 -}}
{{- $watermark := include "airlines.durationMs" $config.streaming.watermark | int64 -}}
{{- $ttl := include "airlines.durationMs" $config.redis.ttl | int64 -}}
{{- if and (ge $window 0) (ge $watermark 0) (ge $ttl 0) (le $ttl (add $window $watermark)) -}}
{{- $problems = append $problems "global.config.redis.ttl: must be longer than streaming.window + streaming.watermark, or windows would expire while still being updated" -}}
{{- end -}}
{{- if eq (include "airlines.durationMs" $config.streaming.maxFutureSkew | int64) 0 -}}
{{- $problems = append $problems "global.config.streaming.maxFutureSkew: must be positive (how far an event's time may lie ahead of its Kafka record's)" -}}
{{- end -}}
{{- if not (kindIs "invalid" $config.streaming.slide) -}}
{{- $slide := include "airlines.durationMs" $config.streaming.slide | int64 -}}
{{- if gt $slide $window -}}
{{- $problems = append $problems (printf "global.config.streaming.slide: must not be longer than window (%s)" $config.streaming.window) -}}
{{- end -}}
{{- end -}}
{{- /* checkpoint on the volume (or a URI) */ -}}
{{- if and .Values.streaming.enabled .Values.streaming.checkpoint.enabled -}}
{{- $location := $config.streaming.checkpointLocation -}}
{{- $mount := printf "%s/" (trimSuffix "/" .Values.streaming.checkpoint.mountPath) -}}
{{- if and (not (contains "://" $location)) (not (hasPrefix $mount $location)) -}}
{{- $problems = append $problems (printf "global.config.streaming.checkpointLocation: %q is not on the checkpoint volume (streaming.checkpoint.mountPath %q) nor a URI" $location $mount) -}}
{{- end -}}
{{- end -}}
{{- /* Redis: ACL users unless explicitly insecure; the chart's Redis sets the clients' users and TLS */ -}}
{{- $redisAuth := .Values.global.redis.auth -}}
{{- if and $redisAuth.enabled (not $redis.enabled) (not $redisAuth.existingSecret) -}}
{{- $problems = append $problems "global.redis.auth.existingSecret: required when redis-cluster.enabled is false and auth is enabled (name the Secret holding the external cluster's password)" -}}
{{- end -}}
{{- if and (not $redisAuth.enabled) (not $redisAuth.allowInsecure) -}}
{{- $problems = append $problems "global.redis.auth.enabled: false needs global.redis.auth.allowInsecure: true (anyone who reaches Redis could then read, overwrite and flush everything)" -}}
{{- end -}}
{{- if and $redis.enabled $redisAuth.existingSecret -}}
{{- $problems = append $problems "global.redis.auth.existingSecret: only with redis-cluster.enabled false (the chart's Redis has an ACL user, and a Secret, per kind of client: global.redis.userSecrets)" -}}
{{- end -}}
{{- $redisUsers := include "airlines.redis.users" . | fromJsonArray -}}
{{- range $field := list "userSecrets" "credentialGenerations" -}}
{{- range $user, $_ := (get $.Values.global.redis $field) | default dict -}}
{{- if not (has $user $redisUsers) -}}
{{- $problems = append $problems (printf "global.redis.%s: %q is not a Redis user of the chart (%s)" $field $user (join ", " $redisUsers)) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if not (kindIs "invalid" $config.redis.tls) -}}
{{- $problems = append $problems "global.config.redis.tls: must be null (the chart sets it from global.redis.tls for every client)" -}}
{{- end -}}
{{- if and .Values.global.redis.tls.enabled (not .Values.global.redis.caSecret) (or (not $redis.enabled) $redis.tls.existingSecret) -}}
{{- $problems = append $problems "global.redis.caSecret: required with global.redis.tls.enabled and an external Redis or redis-cluster.tls.existingSecret (the Secret whose ca.crt the clients trust)" -}}
{{- end -}}
{{- /* the Spark Operator must watch the release namespace */ -}}
{{- $operator := index .Values "spark-operator" | default dict -}}
{{- if and .Values.streaming.enabled $operator.enabled $operator.spark $operator.spark.jobNamespaces -}}
{{- if not (or (has .Release.Namespace $operator.spark.jobNamespaces) (has "" $operator.spark.jobNamespaces)) -}}
{{- $problems = append $problems (printf "spark-operator.spark.jobNamespaces: %v does not include the release namespace %q: the operator would never run the job" $operator.spark.jobNamespaces .Release.Namespace) -}}
{{- end -}}
{{- end -}}
{{- include "airlines.failOnProblems" $problems -}}
{{- end -}}

{{/*
The name kubeflow's spark-operator chart gives its objects ("spark-operator.fullname"),
computed here from its values so the umbrella can name them without the subchart.
*/}}
{{- define "airlines-analytics.sparkOperatorFullname" -}}
{{- $operator := index .Values "spark-operator" -}}
{{- if $operator.fullnameOverride -}}
{{- $operator.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $chartName := default "spark-operator" $operator.nameOverride -}}
{{- ternary .Release.Name (printf "%s-%s" .Release.Name $chartName) (contains $chartName .Release.Name) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/*
kafka.security of the clients: what the pydantic models check (airlines.config.models
KafkaSecurity, which the JSON Schema cannot say), and the rules of
airlines.config.chart.umbrella.ChartValues.kafka_security_problems. A JSON list of problems.
*/}}
{{- define "airlines-analytics.kafkaSecurityProblems" -}}
{{- $problems := list -}}
{{- $where := "global.config.kafka.security" -}}
{{- $security := .Values.global.config.kafka.security | default dict -}}
{{- $protocol := toString ($security.protocol | default "PLAINTEXT") -}}
{{- $sasl := $security.sasl -}}
{{- $tls := $security.tls -}}
{{- $kafka := .Values.kafka -}}
{{- $globalKafka := .Values.global.kafka | default dict -}}
{{- $usesSasl := hasPrefix "SASL_" $protocol -}}
{{- $usesTls := hasSuffix "SSL" $protocol -}}
{{- if and $usesSasl (not $sasl) -}}
{{- $problems = append $problems (printf "%s.sasl: required with protocol %s (mechanism, user and passwordFile or passwordEnv)" $where $protocol) -}}
{{- end -}}
{{- if and (not $usesSasl) $sasl -}}
{{- $problems = append $problems (printf "%s.sasl: protocol %s does not use SASL; remove it" $where $protocol) -}}
{{- end -}}
{{- if and $usesTls (not (and $tls $tls.caFile)) -}}
{{- $problems = append $problems (printf "%s.tls.caFile: required with protocol %s (the CA that signed the brokers' certificates)" $where $protocol) -}}
{{- end -}}
{{- if and (not $usesTls) $tls -}}
{{- $problems = append $problems (printf "%s.tls: protocol %s does not use TLS; remove it" $where $protocol) -}}
{{- end -}}
{{- if $kafka.enabled -}}
{{- $want := "PLAINTEXT" -}}
{{- if $kafka.auth.enabled -}}{{- $want = ternary "SASL_SSL" "SASL_PLAINTEXT" $kafka.tls.enabled -}}{{- else -}}{{- $want = ternary "SSL" "PLAINTEXT" $kafka.tls.enabled -}}{{- end -}}
{{- if ne $protocol $want -}}
{{- $problems = append $problems (printf "%s.protocol: %s does not match the chart's brokers (kafka.auth.enabled %v, kafka.tls.enabled %v): set %s" $where $protocol $kafka.auth.enabled $kafka.tls.enabled $want) -}}
{{- end -}}
{{- if $globalKafka.existingSecret -}}
{{- $problems = append $problems "global.kafka.existingSecret: only with kafka.enabled false (the chart's Kafka has a principal, and a Secret, per component)" -}}
{{- end -}}
{{- end -}}
{{- if $sasl -}}
{{- if or (and $sasl.passwordFile $sasl.passwordEnv) (not (or $sasl.passwordFile $sasl.passwordEnv)) -}}
{{- $problems = append $problems (printf "%s.sasl: set exactly one of passwordFile and passwordEnv (where the password is read from; never the password itself)" $where) -}}
{{- else if ne (toString $sasl.passwordFile) "/etc/airlines/kafka/password" -}}
{{- $problems = append $problems (printf "%s.sasl.passwordFile: must be /etc/airlines/kafka/password (where each pod mounts its credentials; never the password itself)" $where) -}}
{{- end -}}
{{- if and $kafka.enabled (ne (toString ($sasl.mechanism | default "SCRAM-SHA-512")) "SCRAM-SHA-512") -}}
{{- $problems = append $problems (printf "%s.sasl.mechanism: the chart's brokers take SCRAM-SHA-512, not %s" $where $sasl.mechanism) -}}
{{- end -}}
{{- if and $kafka.enabled (not $sasl.usernameFile) -}}
{{- $problems = append $problems (printf "%s.sasl.usernameFile: required with the chart's Kafka (/etc/airlines/kafka/username: each component is its own principal)" $where) -}}
{{- end -}}
{{- if and $sasl.usernameFile (ne (toString $sasl.usernameFile) "/etc/airlines/kafka/username") -}}
{{- $problems = append $problems (printf "%s.sasl.usernameFile: must be /etc/airlines/kafka/username (where each pod mounts its credentials)" $where) -}}
{{- end -}}
{{- if and (not $kafka.enabled) (not $globalKafka.existingSecret) -}}
{{- $problems = append $problems (printf "global.kafka.existingSecret: required when kafka.enabled is false and %s uses SASL (name the Secret with the username and password)" $where) -}}
{{- end -}}
{{- end -}}
{{- if and $tls $tls.caFile -}}
{{- if and $kafka.enabled (ne (toString $tls.caFile) "/etc/airlines/kafka-ca/ca.crt") -}}
{{- $problems = append $problems (printf "%s.tls.caFile: must be /etc/airlines/kafka-ca/ca.crt with the chart's Kafka (where each pod mounts the brokers' CA)" $where) -}}
{{- end -}}
{{- if and (not $kafka.enabled) (eq (toString $tls.caFile) "/etc/airlines/kafka-ca/ca.crt") (not (or $globalKafka.caSecret $globalKafka.existingSecret)) -}}
{{- $problems = append $problems (printf "global.kafka.caSecret: required when kafka.enabled is false and %s.tls.caFile is /etc/airlines/kafka-ca/ca.crt (name the Secret with its ca.crt)" $where) -}}
{{- end -}}
{{- if $tls.certFile -}}
{{- $problems = append $problems (printf "%s.tls.certFile: client certificates are not mounted by the chart" $where) -}}
{{- end -}}
{{- end -}}
{{- if and $kafka.enabled $kafka.tls.enabled $kafka.tls.existingSecret (not $globalKafka.caSecret) -}}
{{- $problems = append $problems "global.kafka.caSecret: required with kafka.tls.existingSecret (the Secret whose ca.crt signed the brokers' certificates, usually the same one)" -}}
{{- end -}}
{{- range $user, $generation := $globalKafka.credentialGenerations -}}
{{- if not (regexMatch "^(broker|admin|streaming|topics|smoke|producer-[a-z][-a-z]*)$" $user) -}}
{{- $problems = append $problems (printf "global.kafka.credentialGenerations: '%s' is not a principal of the system (broker, admin, producer-<region>, streaming, topics, smoke)" $user) -}}
{{- end -}}
{{- end -}}
{{- toJson $problems -}}
{{- end -}}
