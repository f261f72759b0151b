{{/* Name of the chart's objects, at most 63 characters (a DNS label). */}}
{{- define "registrar.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "registrar.fullname" -}}
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

{{/* Selector labels never change after install: a Deployment's selector is immutable. */}}
{{- define "registrar.selectorLabels" -}}
app.kubernetes.io/name: {{ include "registrar.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "registrar.labels" -}}
{{ include "registrar.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Labels of a pod that is not the controller's (a CronJob's, the helm test's):
its own app.kubernetes.io/name, so that neither the Deployment's selector
nor the metrics Service's ever matches it. Arguments: root, component.
*/}}
{{- define "registrar.componentLabels" -}}
app.kubernetes.io/name: {{ printf "%s-%s" (include "registrar.name" .root) .component | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
app.kubernetes.io/part-of: {{ include "registrar.name" .root }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- with .root.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* The image: repository@digest when image.digest is set, else repository:tag. */}}
{{- define "registrar.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{/*
Security contexts of every pod the chart runs (the controller, the CronJob,
the helm test): one definition, so that none is less hardened.
*/}}
{{- define "registrar.podSecurityContext" -}}
{{- toYaml .Values.podSecurityContext }}
{{- end }}

{{- define "registrar.containerSecurityContext" -}}
{{- toYaml .Values.securityContext }}
{{- end }}

{{/*
extraArgs, after refusing any flag the chart already sets from a value:
pflag keeps the last of a repeated scalar flag but appends to a list flag
(--argocd-namespace), so a duplicate would mean different things for
different flags. Arguments: root, args (the chart's own flags), extra.
*/}}
{{- define "registrar.extraArgs" -}}
{{- $own := list }}
{{- range .args }}
{{- $own = append $own (regexReplaceAll "=.*$" (toString .) "") }}
{{- end }}
{{- range .extra }}
{{- $name := regexReplaceAll "=.*$" (toString .) "" }}
{{- if has $name $own }}
{{- fail (printf "extraArgs sets %s, which the chart already sets from a value: set that value instead (the chart README's table names it), or remove it from extraArgs" $name) }}
{{- end }}
- {{ toString . | quote }}
{{- end }}
{{- end }}

{{/*
The env of a registrar container: the Go runtime's soft memory limit
(goMemLimit), then extraEnv. By default the container's memory limit comes
through the downward API and the binary sets GOMEMLIMIT's equivalent to
goMemLimit.ratio of it (cmd/registrar/memlimit.go): the limit in force,
even one a LimitRange set, not a copy of values. Arguments: root, container.
*/}}
{{- define "registrar.env" -}}
{{- $v := .root.Values }}
{{- range $v.extraEnv }}
{{- if has .name (list "GOMEMLIMIT" "REGISTRAR_MEMORY_LIMIT" "REGISTRAR_MEMORY_LIMIT_RATIO") }}
{{- fail (printf "extraEnv sets %s: set goMemLimit.value (GOMEMLIMIT itself) or goMemLimit.ratio (a share of the container's memory limit) instead" .name) }}
{{- end }}
{{- end }}
{{- if $v.goMemLimit.value }}
- name: GOMEMLIMIT
  value: {{ $v.goMemLimit.value | quote }}
{{- else if gt (float64 $v.goMemLimit.ratio) 0.0 }}
- name: REGISTRAR_MEMORY_LIMIT
  valueFrom:
    resourceFieldRef:
      containerName: {{ .container }}
      resource: limits.memory
- name: REGISTRAR_MEMORY_LIMIT_RATIO
  value: {{ $v.goMemLimit.ratio | toString | quote }}
{{- end }}
{{- with $v.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "registrar.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "registrar.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Subjects of every binding: the registrar's ServiceAccount.
*/}}
{{- define "registrar.subjects" -}}
subjects:
  - kind: ServiceAccount
    name: {{ include "registrar.serviceAccountName" . }}
    namespace: {{ .Release.Namespace }}
{{- end }}

{{/*
A ClusterRole and ClusterRoleBinding when every namespace is watched, else a
Role and RoleBinding in each of watchNamespaces. Arguments: root (the chart
context), purpose (name suffix), rules (YAML list).
*/}}
{{- define "registrar.watchedRBAC" -}}
{{- $root := .root }}
{{- $name := printf "%s-%s" (include "registrar.fullname" $root) .purpose }}
{{- if not $root.Values.watchNamespaces }}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: {{ $name }}
  labels:
    {{- include "registrar.labels" $root | nindent 4 }}
rules:
  {{- .rules | trim | nindent 2 }}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: {{ $name }}
  labels:
    {{- include "registrar.labels" $root | nindent 4 }}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: {{ $name }}
{{ include "registrar.subjects" $root }}
{{- else }}
{{- range $ns := $root.Values.watchNamespaces }}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: {{ $name }}
  namespace: {{ $ns }}
  labels:
    {{- include "registrar.labels" $root | nindent 4 }}
rules:
  {{- $.rules | trim | nindent 2 }}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: {{ $name }}
  namespace: {{ $ns }}
  labels:
    {{- include "registrar.labels" $root | nindent 4 }}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: {{ $name }}
{{ include "registrar.subjects" $root }}
{{- end }}
{{- end }}
{{- end }}

{{/* A Role and RoleBinding in one namespace. Arguments: root, purpose, namespace, rules. */}}
{{- define "registrar.namespacedRBAC" -}}
{{- $name := printf "%s-%s" (include "registrar.fullname" .root) .purpose }}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: {{ $name }}
  namespace: {{ .namespace }}
  labels:
    {{- include "registrar.labels" .root | nindent 4 }}
rules:
  {{- .rules | trim | nindent 2 }}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: {{ $name }}
  namespace: {{ .namespace }}
  labels:
    {{- include "registrar.labels" .root | nindent 4 }}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: {{ $name }}
{{ include "registrar.subjects" .root }}
{{- end }}

{{/*
Flags of a one-shot command (plan, sync, status) that reach the host
cluster's API server: the chart's client-side limits.
*/}}
{{- define "registrar.hostArgs" -}}
{{- list (printf "--kube-api-qps=%v" .Values.kubeAPI.qps) (printf "--kube-api-burst=%d" (int .Values.kubeAPI.burst)) (printf "--kube-api-compression=%t" .Values.kubeAPI.compression) | toJson }}
{{- end }}

{{/* --argocd-namespace with the default first, as the controller takes it. */}}
{{- define "registrar.argocdNamespaceArg" -}}
{{- printf "--argocd-namespace=%s" (join "," (prepend (without .Values.argocdNamespaces .Values.argocdNamespace) .Values.argocdNamespace)) }}
{{- end }}

{{/*
The pod spec shared by the chart's one-shot pods (the CronJob's, the helm
test's): the ServiceAccount, the same security contexts and scheduling as
the controller's pod, never restarted. Arguments: root, component, args.
*/}}
{{- define "registrar.oneShotPodSpec" -}}
{{- $root := .root }}
serviceAccountName: {{ include "registrar.serviceAccountName" $root }}
# It talks to the API server with this token, like the controller.
automountServiceAccountToken: true
restartPolicy: Never
{{- with $root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $root.Values.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
securityContext:
  {{- include "registrar.podSecurityContext" $root | nindent 2 }}
containers:
  - name: registrar
    image: {{ include "registrar.image" $root | quote }}
    imagePullPolicy: {{ $root.Values.image.pullPolicy }}
    args:
      {{- range .args }}
      - {{ . | quote }}
      {{- end }}
    {{- with include "registrar.env" (dict "root" $root "container" "registrar") | trim }}
    env:
      {{- . | nindent 6 }}
    {{- end }}
    resources:
      {{- toYaml (.resources | default $root.Values.resources) | nindent 6 }}
    securityContext:
      {{- include "registrar.containerSecurityContext" $root | nindent 6 }}
{{- with $root.Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $root.Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $root.Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}
