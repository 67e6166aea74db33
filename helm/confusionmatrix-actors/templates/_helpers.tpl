{{/* vim: set filetype=mustache: */}}

{{/*
Chart name, truncated to 63 characters (DNS label limit).
*/}}
{{- define "cm.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Fully qualified app name, truncated to 63 characters.
If the release name contains the chart name it is used as is.
*/}}
{{- define "cm.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
Namespace of the release (overridable).
*/}}
{{- define "cm.namespace" -}}
{{- default .Release.Namespace .Values.namespaceOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Chart name and version for the chart label.
*/}}
{{- define "cm.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Selector labels: stable for the lifetime of a release (Deployment selectors are immutable).
*/}}
{{- define "cm.selectorLabels" -}}
app.kubernetes.io/name: {{ include "cm.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/*
Standard labels of every resource.
*/}}
{{- define "cm.labels" -}}
helm.sh/chart: {{ include "cm.chart" . }}
{{ include "cm.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: confusionmatrix-actors
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/*
Common annotations block (renders nothing when empty). Usage:
  {{- include "cm.annotations" (dict "annotations" .Values.x.annotations "context" $) | nindent 4 }}
*/}}
{{- define "cm.annotations" -}}
{{- $all := merge (deepCopy (.annotations | default dict)) (deepCopy (.context.Values.commonAnnotations | default dict)) -}}
{{- if $all -}}
annotations:
{{ toYaml $all | indent 2 }}
{{- end -}}
{{- end -}}

{{/*
Orleans ClusterId / ServiceId. Also used as pod label values, hence the validation.
*/}}
{{- define "cm.clusterId" -}}
{{- $id := default (include "cm.fullname" .) .Values.clustering.clusterId -}}
{{- if not (regexMatch "^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)$" $id) -}}
{{- fail (printf "clustering.clusterId %q must be a valid Kubernetes label value (<= 63 chars, alphanumerics, '-', '_', '.'), because it is also the orleans/clusterId pod label" $id) -}}
{{- end -}}
{{- $id -}}
{{- end -}}

{{- define "cm.serviceId" -}}
{{- $id := required "clustering.serviceId is required" .Values.clustering.serviceId -}}
{{- if not (regexMatch "^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)$" $id) -}}
{{- fail (printf "clustering.serviceId %q must be a valid Kubernetes label value (<= 63 chars, alphanumerics, '-', '_', '.'), because it is also the orleans/serviceId pod label" $id) -}}
{{- end -}}
{{- $id -}}
{{- end -}}

{{/*
Silo image reference (registry/repository:tag or @digest).
*/}}
{{- define "cm.image" -}}
{{- $registry := .Values.image.registry -}}
{{- if .Values.global -}}
{{- if .Values.global.imageRegistry -}}
{{- $registry = .Values.global.imageRegistry -}}
{{- end -}}
{{- end -}}
{{- $repository := required "image.repository is required: no public image is published. Build the root Dockerfile, push it to your registry and set image.repository (e.g. myregistry.azurecr.io/confusionmatrix-actors)" .Values.image.repository -}}
{{- $tag := .Values.image.tag | default .Chart.AppVersion | toString -}}
{{- $ref := ternary (printf "@%s" .Values.image.digest) (printf ":%s" $tag) (not (empty .Values.image.digest)) -}}
{{- if $registry -}}
{{- printf "%s/%s%s" $registry $repository $ref -}}
{{- else -}}
{{- printf "%s%s" $repository $ref -}}
{{- end -}}
{{- end -}}

{{/*
imagePullSecrets (global + image).
*/}}
{{- define "cm.imagePullSecrets" -}}
{{- $secrets := list -}}
{{- if .Values.global -}}
{{- range .Values.global.imagePullSecrets -}}
{{- if kindIs "map" . -}}{{- $secrets = append $secrets .name -}}{{- else -}}{{- $secrets = append $secrets . -}}{{- end -}}
{{- end -}}
{{- end -}}
{{- range .Values.image.pullSecrets -}}
{{- if kindIs "map" . -}}{{- $secrets = append $secrets .name -}}{{- else -}}{{- $secrets = append $secrets . -}}{{- end -}}
{{- end -}}
{{- if $secrets }}
imagePullSecrets:
{{- range $secrets | uniq }}
  - name: {{ . }}
{{- end }}
{{- end -}}
{{- end -}}

{{/*
ServiceAccount name.
*/}}
{{- define "cm.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "cm.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/*
Connection-string secrets.
The storage connection string is needed by a non-Memory grain storage provider and by Azure Table
membership (clustering AzureTable / Kubernetes); the streams one by a non-Memory streams provider.
*/}}
{{- define "cm.storage.needsAccount" -}}
{{- if or (include "cm.storage.uses" (dict "provider" "AzureTable" "context" .)) (include "cm.storage.uses" (dict "provider" "AzureBlob" "context" .)) (ne .Values.clustering.provider "Localhost") (eq .Values.streams.provider "EventHubs") -}}true{{- end -}}
{{- end -}}

{{/* "true" when storage.provider or a storage.stores entry is the given provider. */}}
{{- define "cm.storage.uses" -}}
{{- $values := .context.Values.storage -}}
{{- if or (eq $values.provider .provider) (has .provider (values ($values.stores | default dict))) -}}true{{- end -}}
{{- end -}}

{{/* "true" when the storage account is reached with Azure AD (service URIs) rather than a connection string. */}}
{{- define "cm.storage.usesIdentity" -}}
{{- if and (or .Values.storage.tableServiceUri .Values.storage.blobServiceUri) (not .Values.storage.connectionString) (not .Values.storage.existingSecret) -}}true{{- end -}}
{{- end -}}

{{- define "cm.storage.needsConnectionString" -}}
{{- if and (include "cm.storage.needsAccount" .) (not (include "cm.storage.usesIdentity" .)) -}}true{{- end -}}
{{- end -}}

{{- define "cm.streams.usesIdentity" -}}
{{- if and (or .Values.streams.fullyQualifiedNamespace .Values.streams.queueServiceUri) (not .Values.streams.connectionString) (not .Values.streams.existingSecret) -}}true{{- end -}}
{{- end -}}

{{/* Azure Queue falls back to the storage account; Event Hubs needs its own namespace. */}}
{{- define "cm.streams.needsConnectionString" -}}
{{- if and (ne .Values.streams.provider "Memory") (not (include "cm.streams.usesIdentity" .)) -}}
{{- if or (eq .Values.streams.provider "EventHubs") .Values.streams.connectionString .Values.streams.existingSecret -}}true{{- end -}}
{{- end -}}
{{- end -}}

{{/* Name of the Secret created by the chart. */}}
{{- define "cm.secretName" -}}
{{- printf "%s-connections" (include "cm.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "cm.storage.secretName" -}}
{{- default (include "cm.secretName" .) .Values.storage.existingSecret -}}
{{- end -}}

{{- define "cm.streams.secretName" -}}
{{- default (include "cm.secretName" .) .Values.streams.existingSecret -}}
{{- end -}}

{{/* "true" when the chart must create its Secret. */}}
{{- define "cm.createSecret" -}}
{{- if or (and (include "cm.storage.needsConnectionString" .) (not .Values.storage.existingSecret)) (and (include "cm.streams.needsConnectionString" .) (not .Values.streams.existingSecret)) -}}true{{- end -}}
{{- end -}}

{{/*
Affinity presets (Bitnami-style). Usage:
  {{ include "cm.affinity.pod" (dict "type" "soft" "context" $) }}
*/}}
{{- define "cm.affinity.podTerm" -}}
{{- if eq .type "soft" }}
preferredDuringSchedulingIgnoredDuringExecution:
  - weight: 1
    podAffinityTerm:
      labelSelector:
        matchLabels: {{- include "cm.selectorLabels" .context | nindent 10 }}
      topologyKey: kubernetes.io/hostname
{{- else if eq .type "hard" }}
requiredDuringSchedulingIgnoredDuringExecution:
  - labelSelector:
      matchLabels: {{- include "cm.selectorLabels" .context | nindent 8 }}
    topologyKey: kubernetes.io/hostname
{{- end -}}
{{- end -}}

{{- define "cm.affinity.node" -}}
{{- if eq .type "soft" }}
preferredDuringSchedulingIgnoredDuringExecution:
  - weight: 1
    preference:
      matchExpressions:
        - key: {{ .key }}
          operator: In
          values: {{- toYaml .values | nindent 12 }}
{{- else if eq .type "hard" }}
requiredDuringSchedulingIgnoredDuringExecution:
  nodeSelectorTerms:
    - matchExpressions:
        - key: {{ .key }}
          operator: In
          values: {{- toYaml .values | nindent 12 }}
{{- end -}}
{{- end -}}

{{/*
Render a value that may contain templates.
*/}}
{{- define "cm.tplvalues" -}}
{{- if typeIs "string" .value -}}
{{- tpl .value .context -}}
{{- else -}}
{{- tpl (toYaml .value) .context -}}
{{- end -}}
{{- end -}}

{{/*
Cross-value checks that a JSON schema cannot express.
*/}}
{{- define "cm.validateValues" -}}
{{- if le (int .Values.terminationGracePeriodSeconds) (add (int .Values.host.shutdownTimeoutSeconds) (int .Values.preStopSleepSeconds)) -}}
{{- fail (printf "terminationGracePeriodSeconds (%d) must be greater than host.shutdownTimeoutSeconds (%d) + preStopSleepSeconds (%d): Kubernetes kills the silo (SIGKILL) when the grace period ends, before Orleans finishes its graceful shutdown" (int .Values.terminationGracePeriodSeconds) (int .Values.host.shutdownTimeoutSeconds) (int .Values.preStopSleepSeconds)) -}}
{{- end -}}
{{- if and (include "cm.storage.needsConnectionString" .) (not .Values.storage.existingSecret) (not .Values.storage.connectionString) -}}
{{- fail (printf "storage.connectionString or storage.existingSecret is required (or storage.tableServiceUri with workload identity): clustering %s, grain storage %s and streams %s keep their state in an Azure Storage account, and the silo does not start without one. For a single-silo trial without Azure use --set replicaCount=1,clustering.provider=Localhost,storage.provider=Memory,streams.provider=Memory" .Values.clustering.provider .Values.storage.provider .Values.streams.provider) -}}
{{- end -}}
{{- if and (eq .Values.streams.provider "EventHubs") (include "cm.streams.needsConnectionString" .) (not .Values.streams.existingSecret) (not .Values.streams.connectionString) -}}
{{- fail "streams.connectionString or streams.existingSecret is required (or streams.fullyQualifiedNamespace with workload identity): the prediction log is an Event Hub (streams.provider EventHubs)" -}}
{{- end -}}
{{- if and (include "cm.storage.usesIdentity" .) (or (include "cm.storage.uses" (dict "provider" "AzureTable" "context" .)) (ne .Values.clustering.provider "Localhost") (eq .Values.streams.provider "EventHubs")) (not .Values.storage.tableServiceUri) -}}
{{- fail "storage.tableServiceUri is required with workload identity: membership, AzureTable grain storage and Event Hubs checkpoints use Azure Table" -}}
{{- end -}}
{{- if and (include "cm.storage.usesIdentity" .) (include "cm.storage.uses" (dict "provider" "AzureBlob" "context" .)) (not .Values.storage.blobServiceUri) -}}
{{- fail "storage.blobServiceUri is required with workload identity and AzureBlob grain storage (storage.provider or a storage.stores entry)" -}}
{{- end -}}
{{- if and (include "cm.storage.needsConnectionString" .) (not .Values.storage.existingSecret) (include "cm.streams.needsConnectionString" .) (not .Values.streams.existingSecret) (eq .Values.storage.existingSecretKey .Values.streams.existingSecretKey) -}}
{{- fail "storage.existingSecretKey and streams.existingSecretKey must differ: both connection strings go into the Secret created by the chart" -}}
{{- end -}}
{{- if and (eq .Values.clustering.provider "Localhost") (gt (int .Values.replicaCount) 1) -}}
{{- fail "clustering.provider Localhost forms a single-silo cluster per pod: use replicaCount 1, or AzureTable/Kubernetes clustering" -}}
{{- end -}}
{{- end -}}
