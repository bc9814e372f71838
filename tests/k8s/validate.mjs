// validate.mjs DIR OUT_CONF — check the Kubernetes manifests in DIR (deploy/k8s) with the
// API's own schemas (the kubernetes-models package: each object through its model's
// validate(), i.e. the OpenAPI schema of its kind), then what the schemas cannot say: the
// names that tie the objects together, the probes, the resources, the scrape annotations.
// Writes the ConfigMap's sevmond.conf to OUT_CONF (for sevmond --check). TAP output.
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { Namespace, ConfigMap, Secret, Service } from "kubernetes-models/v1";
import { Deployment } from "kubernetes-models/apps/v1";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1";

const [dir, outConf] = process.argv.slice(2);
const models = {
  "v1/Namespace": Namespace,
  "v1/ConfigMap": ConfigMap,
  "v1/Secret": Secret,
  "v1/Service": Service,
  "apps/v1/Deployment": Deployment,
  "policy/v1/PodDisruptionBudget": PodDisruptionBudget,
};
let n = 0, failed = 0;
const lines = [];
function check(name, fn) {
  n++;
  try {
    const r = fn();
    if (r !== undefined && r !== true) throw new Error(String(r));
    lines.push(`ok ${n} - ${name}`);
  } catch (e) {
    failed++;
    lines.push(`not ok ${n} - ${name}`);
    for (const l of String(e.message || e).split("\n").slice(0, 6)) lines.push(`# ${l}`);
  }
}
function assert(c, msg) { if (!c) throw new Error(msg); }

const files = readdirSync(dir).filter((f) => f.endsWith(".yaml")).sort();
const objects = [];
let kustomization = null;
for (const f of files) {
  check(`${f}: parses as YAML`, () => {
    for (const doc of parseAllDocuments(readFileSync(join(dir, f), "utf8"))) {
      if (doc.errors.length) throw new Error(doc.errors[0].message);
      const o = doc.toJS();
      if (o === null) continue;
      if (o.kind === "Kustomization") kustomization = { file: f, o };
      else objects.push({ file: f, o });
    }
  });
}
for (const { file, o } of objects) {
  const key = `${o.apiVersion}/${o.kind}`;
  check(`${file}: ${o.kind} ${o.metadata?.name}: valid against the ${key} schema`, () => {
    const M = models[key];
    assert(M, `no model for ${key}`);
    new M(o).validate(); // throws with the schema's complaint
  });
}
const of = (kind) => objects.filter((x) => x.o.kind === kind).map((x) => x.o);
const [dep] = of("Deployment"), [svc] = of("Service"), [pdb] = of("PodDisruptionBudget");
const secrets = Object.fromEntries(of("Secret").map((s) => [s.metadata.name, s]));
const maps = Object.fromEntries(of("ConfigMap").map((c) => [c.metadata.name, c]));
const matches = (sel, labels) => Object.entries(sel || {}).every(([k, v]) => labels[k] === v);

check("kustomization lists every manifest, and only those", () => {
  assert(kustomization, "no kustomization.yaml");
  const want = files.filter((f) => f !== kustomization.file);
  const got = [...kustomization.o.resources].sort();
  assert(JSON.stringify(got) === JSON.stringify(want), `lists ${got}, dir has ${want}`);
});
check("one namespace for everything", () => {
  const ns = new Set(objects.filter((x) => x.o.kind !== "Namespace").map((x) => x.o.metadata.namespace));
  assert(ns.size === 1 && of("Namespace").some((x) => ns.has(x.metadata.name)), `namespaces ${[...ns]}`);
});
check("Deployment: several replicas, rolling one at a time", () => {
  assert(dep.spec.replicas >= 2, "replicas < 2");
  assert(dep.spec.strategy.type === "RollingUpdate", "not a rolling update");
  assert(dep.spec.strategy.rollingUpdate.maxUnavailable === 1, "maxUnavailable != 1");
  assert(matches(dep.spec.selector.matchLabels, dep.spec.template.metadata.labels), "selector does not select its pods");
});
const pod = dep.spec.template.spec, [c] = pod.containers;
check("Deployment: readiness on /readyz, liveness on /healthz, on a declared port", () => {
  const ports = new Set(c.ports.flatMap((p) => [p.name, p.containerPort]));
  assert(c.readinessProbe?.httpGet?.path === "/readyz", "readinessProbe is not GET /readyz");
  assert(c.livenessProbe?.httpGet?.path === "/healthz", "livenessProbe is not GET /healthz");
  for (const p of [c.readinessProbe, c.livenessProbe]) assert(ports.has(p.httpGet.port), `probe port ${p.httpGet.port} not declared`);
});
check("Deployment: resource requests, a memory limit", () => {
  assert(c.resources?.requests?.cpu && c.resources?.requests?.memory, "no cpu/memory requests");
  assert(c.resources?.limits?.memory, "no memory limit");
});
check("Deployment: Prometheus scrape annotations name the API port and /metrics", () => {
  const a = dep.spec.template.metadata.annotations || {};
  assert(a["prometheus.io/scrape"] === "true", "no prometheus.io/scrape");
  assert(c.ports.some((p) => String(p.containerPort) === a["prometheus.io/port"]), "prometheus.io/port is not a container port");
  assert(a["prometheus.io/path"] === "/metrics", "prometheus.io/path is not /metrics");
});
check("Deployment: non-root, read-only root, no capabilities, no privilege escalation", () => {
  assert(pod.securityContext.runAsNonRoot === true, "runAsNonRoot");
  assert(c.securityContext.readOnlyRootFilesystem === true, "readOnlyRootFilesystem");
  assert(c.securityContext.allowPrivilegeEscalation === false, "allowPrivilegeEscalation");
  assert(c.securityContext.capabilities.drop.includes("ALL"), "capabilities not dropped");
});
check("Deployment: a drain fits the grace period (SIGTERM: finish checks, hand leases over)", () => {
  assert(pod.terminationGracePeriodSeconds >= 40, "terminationGracePeriodSeconds < 40 (request_timeout 30 s + hand-over)");
});
check("Deployment: every Secret and ConfigMap it mounts or reads exists, with its keys", () => {
  for (const v of pod.volumes) {
    if (v.secret) assert(secrets[v.secret.secretName], `volume ${v.name}: no Secret ${v.secret.secretName}`);
    if (v.configMap) assert(maps[v.configMap.name], `volume ${v.name}: no ConfigMap ${v.configMap.name}`);
  }
  const mounted = new Set(c.volumeMounts.map((m) => m.name));
  for (const v of pod.volumes) assert(mounted.has(v.name), `volume ${v.name} is not mounted`);
  for (const e of c.env || []) {
    const r = e.valueFrom?.secretKeyRef;
    if (r) assert(secrets[r.name]?.stringData?.[r.key] !== undefined || secrets[r.name]?.data?.[r.key] !== undefined, `env ${e.name}: no key ${r.key} in Secret ${r.name}`);
  }
  assert((c.env || []).some((e) => e.name === "PGPASSWORD" && e.valueFrom?.secretKeyRef), "the database password does not come from a Secret");
});
check("Service: selects the Deployment's pods, on a port the container declares", () => {
  assert(matches(svc.spec.selector, dep.spec.template.metadata.labels), "selector does not match the pods");
  const names = new Set(c.ports.map((p) => p.name));
  for (const p of svc.spec.ports) assert(names.has(p.targetPort) || c.ports.some((q) => q.containerPort === p.targetPort), `targetPort ${p.targetPort}`);
});
check("PodDisruptionBudget: covers the Deployment's pods, leaves most of them up", () => {
  assert(matches(pdb.spec.selector.matchLabels, dep.spec.template.metadata.labels), "selector does not match the pods");
  assert(pdb.spec.maxUnavailable === 1 || (pdb.spec.minAvailable >= 1 && pdb.spec.minAvailable < dep.spec.replicas), "budget allows no disruption or too many");
});
check("ConfigMap: sevmond.conf takes its secrets from files and the environment, not from itself", () => {
  const cm = Object.values(maps).find((m) => m.data?.["sevmond.conf"]);
  assert(cm, "no ConfigMap with sevmond.conf");
  const conf = cm.data["sevmond.conf"];
  assert(/^\s*store\s*=\s*postgresql:\/\//m.test(conf), "store is not a postgresql:// URI");
  assert(!/^\s*token\s*=/m.test(conf) && /^\s*token_file\s*=/m.test(conf), "tokens written into the ConfigMap");
  assert(!/password/i.test(conf.split("\n").filter((l) => !l.trim().startsWith("#")).join("\n")), "a password in the ConfigMap");
  const mounts = Object.fromEntries(c.volumeMounts.map((m) => [m.name, m.mountPath]));
  for (const [k, v] of [["config", "/etc/sevmond/config"], ["keys", "/etc/sevmond/keys"], ["tokens", "/etc/sevmond/tokens"]])
    assert(mounts[k] === v, `${k} not mounted at ${v}`);
  writeFileSync(outConf, conf);
});
console.log(`1..${n}`);
console.log(lines.join("\n"));
process.exit(failed ? 1 : 0);
