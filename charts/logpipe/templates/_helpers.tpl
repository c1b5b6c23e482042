{{/* Chart name, possibly overridden. */}}
{{- define "logpipe.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: <release>-<chart> unless the release name already holds the chart name. */}}
{{- define "logpipe.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "logpipe.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels on every resource. */}}
{{- define "logpipe.labels" -}}
helm.sh/chart: {{ include "logpipe.chart" . }}
app.kubernetes.io/name: {{ include "logpipe.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: logpipe
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Selector labels of one component: call with (dict "root" $ "component" "collector"). */}}
{{- define "logpipe.selectorLabels" -}}
app.kubernetes.io/name: {{ include "logpipe.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "logpipe.componentLabels" -}}
{{ include "logpipe.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "logpipe.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "logpipe.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "logpipe.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* A settings map as LOGPIPE_<FIELD> env entries of a ConfigMap; lists and maps as JSON. */}}
{{- define "logpipe.settingsData" -}}
{{- range $key, $value := . }}
{{ printf "LOGPIPE_%s" (upper $key) }}: {{ if or (kindIs "slice" $value) (kindIs "map" $value) }}{{ toJson $value | quote }}{{ else }}{{ toString $value | quote }}{{ end }}
{{- end }}
{{- end }}

{{/* Prometheus scrape annotations for a pod: call with (dict "root" $ "port" 9101). */}}
{{- define "logpipe.scrapeAnnotations" -}}
{{- if .root.Values.prometheus.scrapeAnnotations }}
prometheus.io/scrape: "true"
prometheus.io/port: {{ .port | quote }}
prometheus.io/path: /metrics
{{- end }}
{{- end }}

{{/* envFrom shared by every component: common settings, the component's, extra sources. */}}
{{- define "logpipe.envFrom" -}}
- configMapRef:
    name: {{ include "logpipe.fullname" .root }}-common
- configMapRef:
    name: {{ include "logpipe.fullname" .root }}-{{ .component }}
{{- with .root.Values.extraEnvFrom }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* HTTP probes on a health port: call with (dict "port" 9101 "probes" .Values.collector). */}}
{{- define "logpipe.probes" -}}
livenessProbe:
  httpGet: {path: /healthz, port: {{ .port }}}
  periodSeconds: {{ dig "livenessProbe" "periodSeconds" 10 .probes }}
  timeoutSeconds: {{ dig "livenessProbe" "timeoutSeconds" 5 .probes }}
  failureThreshold: {{ dig "livenessProbe" "failureThreshold" 6 .probes }}
readinessProbe:
  httpGet: {path: /readyz, port: {{ .port }}}
  periodSeconds: {{ dig "readinessProbe" "periodSeconds" 10 .probes }}
  timeoutSeconds: {{ dig "readinessProbe" "timeoutSeconds" 5 .probes }}
  failureThreshold: {{ dig "readinessProbe" "failureThreshold" 3 .probes }}
{{- end }}

{{/* ServiceAccount of a component with API access of its own (collector, events): call
     with (dict "root" $ "component" "events"). Kept apart from the shared one so the
     forwarder and the Internet-facing API never hold these permissions. */}}
{{- define "logpipe.componentServiceAccountName" -}}
{{- $name := dig "serviceAccount" "name" "" (index .root.Values .component) }}
{{- if .root.Values.serviceAccount.create }}
{{- default (printf "%s-%s" (include "logpipe.fullname" .root) .component) $name }}
{{- else }}
{{- default (include "logpipe.serviceAccountName" .root) $name }}
{{- end }}
{{- end }}

{{/* "true" when the events role campaigns for a Lease: asked for (the value, or the raw
     setting, which must then get its Lease and RBAC too), or needed (replicas > 1). */}}
{{- define "logpipe.eventsLeaderElection" -}}
{{- $e := .Values.events }}
{{- if or $e.leaderElection.enabled (gt (int $e.replicas) 1) (eq (toString (dig "leader_election" "" $e.settings)) "true") }}true{{ end }}
{{- end }}

{{/* The Lease's name and namespace; a raw lease_name / lease_namespace setting wins, so
     the RBAC always names the Lease the role really uses. */}}
{{- define "logpipe.eventsLeaseName" -}}
{{- $e := .Values.events }}
{{- dig "lease_name" "" $e.settings | default $e.leaderElection.leaseName | default (printf "%s-events" (include "logpipe.fullname" .)) }}
{{- end }}

{{- define "logpipe.eventsLeaseNamespace" -}}
{{- dig "lease_namespace" "" .Values.events.settings | default .Release.Namespace }}
{{- end }}

{{/* librdkafka options: kafka.options plus what kafka.tls and kafka.sasl imply, as JSON.
     The SASL password is "$(KAFKA_SASL_PASSWORD)": Kubernetes fills it in from the
     Secret when the container starts (logpipe.connectionEnv), so no ConfigMap holds it. */}}
{{- define "logpipe.kafkaOptions" -}}
{{- $k := .Values.kafka -}}
{{- $o := deepCopy $k.options -}}
{{- if or $k.tls.enabled $k.sasl.mechanism -}}
{{- $_ := set $o "security.protocol" (printf "%s%s" (ternary "SASL_" "" (not (empty $k.sasl.mechanism))) (ternary "SSL" "PLAINTEXT" $k.tls.enabled)) -}}
{{- end -}}
{{- if $k.tls.caSecret -}}
{{- $_ := set $o "ssl.ca.location" (printf "/etc/logpipe/kafka-ca/%s" $k.tls.caKey) -}}
{{- end -}}
{{- if $k.tls.clientSecret -}}
{{- $_ := set $o "ssl.certificate.location" (printf "/etc/logpipe/kafka-client/%s" $k.tls.clientCertKey) -}}
{{- $_ := set $o "ssl.key.location" (printf "/etc/logpipe/kafka-client/%s" $k.tls.clientKeyKey) -}}
{{- end -}}
{{- if $k.sasl.mechanism -}}
{{- $_ := set $o "sasl.mechanism" $k.sasl.mechanism -}}
{{- $_ := set $o "sasl.username" (required "kafka.sasl.username is required with kafka.sasl.mechanism" $k.sasl.username) -}}
{{- $_ := required "kafka.sasl.passwordSecret is required with kafka.sasl.mechanism" $k.sasl.passwordSecret -}}
{{- $_ := set $o "sasl.password" "$(KAFKA_SASL_PASSWORD)" -}}
{{- end -}}
{{- if $o }}{{ toJson $o }}{{ end -}}
{{- end }}

{{/* Elasticsearch URL(s) with "$(ES_USERNAME):$(ES_PASSWORD)@" when credentials are set. */}}
{{- define "logpipe.esUrl" -}}
{{- $e := .Values.elasticsearch -}}
{{- $url := required "elasticsearch.url is required" $e.url -}}
{{- if $e.passwordSecret -}}
{{- $out := list -}}
{{- range splitList "," $url -}}
{{- $parts := splitList "://" (trim .) -}}
{{- $out = append $out (printf "%s://$(ES_USERNAME):$(ES_PASSWORD)@%s" (first $parts) (last $parts)) -}}
{{- end -}}
{{- join "," $out -}}
{{- else -}}
{{- $url -}}
{{- end -}}
{{- end }}

{{/* Is a Secret's value needed in the connection settings (then they are container env,
     where $(VAR) is expanded, instead of ConfigMap data)? */}}
{{- define "logpipe.connectionFromSecrets" -}}
{{- if or .Values.kafka.sasl.passwordSecret .Values.elasticsearch.passwordSecret }}true{{ end -}}
{{- end }}

{{/* Env entries every container gets: Secret values and the settings built from them,
     and the CA Elasticsearch's certificate is checked against. Call with the root. */}}
{{- define "logpipe.connectionEnv" -}}
{{- $k := .Values.kafka -}}
{{- $e := .Values.elasticsearch -}}
{{- if $k.sasl.passwordSecret }}
- name: KAFKA_SASL_PASSWORD
  valueFrom:
    secretKeyRef: {name: {{ $k.sasl.passwordSecret }}, key: {{ $k.sasl.passwordKey }}}
{{- end }}
{{- if $e.passwordSecret }}
- name: ES_USERNAME
  value: {{ required "elasticsearch.username is required with elasticsearch.passwordSecret" $e.username | quote }}
- name: ES_PASSWORD
  valueFrom:
    secretKeyRef: {name: {{ $e.passwordSecret }}, key: {{ $e.passwordKey }}}
{{- end }}
{{- if include "logpipe.connectionFromSecrets" . }}
{{- with include "logpipe.kafkaOptions" . }}
- name: LOGPIPE_KAFKA_OPTIONS
  value: {{ . | quote }}
{{- end }}
- name: LOGPIPE_ES_URL
  value: {{ include "logpipe.esUrl" . | quote }}
{{- end }}
{{- if $e.tls.caSecret }}
# Python's TLS (the Elasticsearch client) trusts the certificates of this file.
- name: SSL_CERT_FILE
  value: /etc/logpipe/es-ca/{{ $e.tls.caKey }}
{{- end }}
{{- end }}

{{/* Read-only mounts of the CA and client certificate Secrets (matching logpipe.connectionVolumes). */}}
{{- define "logpipe.connectionMounts" -}}
{{- if .Values.kafka.tls.caSecret }}
- name: kafka-ca
  mountPath: /etc/logpipe/kafka-ca
  readOnly: true
{{- end }}
{{- if .Values.kafka.tls.clientSecret }}
- name: kafka-client
  mountPath: /etc/logpipe/kafka-client
  readOnly: true
{{- end }}
{{- if .Values.elasticsearch.tls.caSecret }}
- name: es-ca
  mountPath: /etc/logpipe/es-ca
  readOnly: true
{{- end }}
{{- end }}

{{- define "logpipe.connectionVolumes" -}}
{{- if .Values.kafka.tls.caSecret }}
- name: kafka-ca
  secret: {secretName: {{ .Values.kafka.tls.caSecret }}}
{{- end }}
{{- if .Values.kafka.tls.clientSecret }}
- name: kafka-client
  secret: {secretName: {{ .Values.kafka.tls.clientSecret }}}
{{- end }}
{{- if .Values.elasticsearch.tls.caSecret }}
- name: es-ca
  secret: {secretName: {{ .Values.elasticsearch.tls.caSecret }}}
{{- end }}
{{- end }}
