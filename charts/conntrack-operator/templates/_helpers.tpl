{{/* Object names: "<release>-<chart>" unless overridden, cut to 63 characters (DNS label). */}}
{{- define "conntrack-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "conntrack-operator.fullname" -}}
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

{{/* "<fullname>-<component>", for the agent's and the controller's objects. */}}
{{- define "conntrack-operator.componentName" -}}
{{- printf "%s-%s" (include "conntrack-operator.fullname" .root) .component | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "conntrack-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "conntrack-operator.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Labels on every object; pass a dict with root (the top context) and component. */}}
{{- define "conntrack-operator.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" }}
{{ include "conntrack-operator.selectorLabels" . }}
app.kubernetes.io/part-of: conntrack-operator
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
{{- with .root.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Pod template labels: the selector's, commonLabels, then the component's podLabels. */}}
{{- define "conntrack-operator.podLabels" -}}
{{ include "conntrack-operator.selectorLabels" . }}
{{- with .root.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- with (index .root.Values .component).podLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* repository@digest when a digest is given (immutable), else repository:tag. */}}
{{- define "conntrack-operator.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}
{{- end -}}

{{/* The component's service account: ours unless serviceAccount.create is off, then the one named (or "default"). */}}
{{- define "conntrack-operator.serviceAccountName" -}}
{{- $sa := (index .root.Values .component).serviceAccount -}}
{{- if $sa.create -}}
{{- default (include "conntrack-operator.componentName" .) $sa.name -}}
{{- else -}}
{{- default "default" $sa.name -}}
{{- end -}}
{{- end -}}

{{/* The username the API server gives the agent's service account token. */}}
{{- define "conntrack-operator.agentUsername" -}}
system:serviceaccount:{{ .Release.Namespace }}:{{ include "conntrack-operator.serviceAccountName" (dict "root" . "component" "agent") }}
{{- end -}}

{{/* The agent's priority class: the one named, else the chart's own (installs in any namespace, unlike system-node-critical). */}}
{{- define "conntrack-operator.agentPriorityClassName" -}}
{{- if .Values.agent.priorityClassName -}}
{{- .Values.agent.priorityClassName -}}
{{- else if .Values.agent.priorityClass.create -}}
{{- include "conntrack-operator.componentName" (dict "root" . "component" "agent") -}}
{{- end -}}
{{- end -}}

{{/*
iptables-legacy talks to the kernel through a raw socket (libiptc), which needs
CAP_NET_RAW (measured: "Cannot initialize: Permission denied" with NET_ADMIN
alone); iptables-nft and nft use netlink, where NET_ADMIN is enough. "auto" may
pick legacy, so it gets NET_RAW too.
*/}}
{{- define "conntrack-operator.agentNeedsNetRaw" -}}
{{- if not (has .Values.agent.notrackBackend (list "iptables-nft" "nftables")) -}}true{{- end -}}
{{- end -}}

{{/*
Relabelings of every scrape (ServiceMonitor or PodMonitor): the process sets no
node or pod label of its own (a self-set "pod" would collide with the target's
and turn into exported_pod). `node` is the node the pod runs on; for the agent
(one per node) `instance` is the node name too, as kube-prometheus sets it for
node_exporter, so the two join on(instance). Then the user's own.
*/}}
{{- define "conntrack-operator.scrapeRelabelings" -}}
- sourceLabels: [__meta_kubernetes_pod_node_name]
  targetLabel: node
  action: replace
- sourceLabels: [__meta_kubernetes_pod_label_app_kubernetes_io_component, __meta_kubernetes_pod_node_name]
  regex: agent;(.+)
  targetLabel: instance
  replacement: $1
  action: replace
{{- with .relabelings }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* The `up` selector of the agents' scrape: prometheus-operator names the job after the Service (ServiceMonitor) or "<namespace>/<name>" (PodMonitor). */}}
{{- define "conntrack-operator.agentUpSelector" -}}
{{- if .Values.metrics.serviceMonitor.enabled -}}
{{- printf "job=%q, namespace=%q" (printf "%s-metrics" (include "conntrack-operator.componentName" (dict "root" . "component" "agent"))) .Release.Namespace -}}
{{- else -}}
{{- printf "job=%q, container=\"agent\"" (printf "%s/%s" .Release.Namespace (include "conntrack-operator.fullname" .)) -}}
{{- end -}}
{{- end -}}

{{/* The agent container's securityContext before agent.containerSecurityContext is merged over it. */}}
{{- define "conntrack-operator.agentSecurityContext" -}}
{{- if .Values.agent.privileged }}
# Opt-in (agent.privileged): every capability and device.
privileged: true
{{- else }}
privileged: false
allowPrivilegeEscalation: false
{{- end }}
# Root is needed: the files under /proc/sys/net/netfilter and the
# hashsize parameter belong to root, and so do the netfilter tools.
runAsUser: 0
readOnlyRootFilesystem: true
capabilities:
  drop:
    - ALL
  add:
    # iptables/ip6tables-restore and nft (raw-table NOTRACK rules),
    # conntrack -L/-S over netlink, and net sysctls when the kernel
    # checks the capability rather than the file owner.
    - NET_ADMIN
    {{- if include "conntrack-operator.agentNeedsNetRaw" . }}
    # iptables-legacy opens a raw socket (libiptc) to read and write rules.
    - NET_RAW
    {{- end }}
{{- end -}}

{{/*
metrics.secure: the flags, the certificate's volume and mount, shared by the
agent and the controller. The Secret (cert-manager keeps it renewed) is read
from a folder the binary polls, so a renewal needs no restart.
*/}}
{{- define "conntrack-operator.metricsSecureArgs" -}}
{{- if .Values.metrics.secure.enabled -}}
- --metrics-secure
{{- if .Values.metrics.secure.certSecret }}
- --metrics-cert-dir=/etc/conntrack-operator/metrics-tls
{{- end }}
{{- end -}}
{{- end -}}

{{- define "conntrack-operator.metricsTlsMount" -}}
{{- if and .Values.metrics.secure.enabled .Values.metrics.secure.certSecret -}}
# metrics.secure.certSecret: the serving certificate.
- name: metrics-tls
  mountPath: /etc/conntrack-operator/metrics-tls
  readOnly: true
{{- end -}}
{{- end -}}

{{- define "conntrack-operator.metricsTlsVolume" -}}
{{- if and .Values.metrics.secure.enabled .Values.metrics.secure.certSecret -}}
- name: metrics-tls
  secret:
    secretName: {{ .Values.metrics.secure.certSecret }}
{{- end -}}
{{- end -}}

{{/* metrics.secure: the reviews a process makes of each scrape (as controller-runtime's secure metrics need). */}}
{{- define "conntrack-operator.metricsAuthRules" -}}
{{- if .Values.metrics.secure.enabled -}}
# metrics.secure: whose token a scrape carries (TokenReview), and whether
# that user may GET /metrics (SubjectAccessReview).
- apiGroups: ["authentication.k8s.io"]
  resources: ["tokenreviews"]
  verbs: ["create"]
- apiGroups: ["authorization.k8s.io"]
  resources: ["subjectaccessreviews"]
  verbs: ["create"]
{{- end -}}
{{- end -}}

{{/* The ClusterRole a scraper needs with metrics.secure, and the account the PodMonitor scrapes as. */}}
{{- define "conntrack-operator.metricsReaderName" -}}
{{- include "conntrack-operator.componentName" (dict "root" . "component" "metrics-reader") -}}
{{- end -}}

{{/*
The scrape's scheme, credentials and TLS with metrics.secure (ServiceMonitor:
Prometheus' own service account token; a PodMonitor cannot send that, so it
sends the metrics reader's). With certSecret the certificate is verified
against its CA under the agent Service's name (the controller serves the same
certificate); self-signed, it is not verified: encrypted, the token proving
the scraper, as kubebuilder's default monitor does.
*/}}
{{- define "conntrack-operator.secureScrape" -}}
{{- if .root.Values.metrics.secure.enabled -}}
scheme: https
{{- if eq .monitor "ServiceMonitor" }}
bearerTokenFile: /var/run/secrets/kubernetes.io/serviceaccount/token
{{- else }}
authorization:
  type: Bearer
  credentials:
    name: {{ include "conntrack-operator.metricsReaderName" .root }}-token
    key: token
{{- end }}
tlsConfig:
  {{- with .root.Values.metrics.secure.certSecret }}
  ca:
    secret:
      name: {{ . }}
      key: ca.crt
  serverName: {{ include "conntrack-operator.componentName" (dict "root" $.root "component" "agent") }}-metrics.{{ $.root.Release.Namespace }}.svc
  {{- else }}
  insecureSkipVerify: true
  {{- end }}
{{- end -}}
{{- end -}}
