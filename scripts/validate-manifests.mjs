// Validates rendered Kubernetes manifests against the Kubernetes OpenAPI schemas (npm kubernetes-models) and the
// prometheus-operator CRD schemas (ServiceMonitor, PrometheusRule), by apiVersion and kind, with no API server.
//
//   node scripts/validate-manifests.mjs rendered.yaml [more.yaml ...]
//
// Prints one line per file ("ok <file>: N documents (kinds)" or "FAIL <file>: ...") and exits non-zero when any
// document is invalid or has a kind without a known schema. The packages are installed by scripts/helm-check.sh
// into .tools/kube-models (NODE_PATH points there).
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";

const modulesDir = process.env.KUBE_MODELS_DIR ?? path.resolve(path.dirname(new URL(import.meta.url).pathname), "../.tools/kube-models/node_modules");
const requireFrom = createRequire(path.join(modulesDir, "noop.js"));
const { parseAllDocuments } = await import(requireFrom.resolve("yaml"));

/** The module holding the models of an apiVersion: core "v1", built-in groups, then prometheus-operator. */
function modulePath(apiVersion) {
  const packageDir = apiVersion.startsWith("monitoring.coreos.com/") ? "@kubernetes-models/prometheus-operator" : "kubernetes-models";
  return path.join(modulesDir, packageDir, apiVersion, "index.js");
}

async function modelFor(apiVersion, kind) {
  if (!/^[a-z0-9.]*\/?v[0-9a-z]+$/.test(apiVersion)) {
    return null;
  }
  let module;
  try {
    module = await import(pathToFileURL(modulePath(apiVersion)).href);
  } catch {
    return null;
  }
  return module[kind] ?? null;
}

let failed = 0;
for (const file of process.argv.slice(2)) {
  const problems = [];
  const kinds = [];
  const documents = parseAllDocuments(readFileSync(file, "utf8"));
  for (const document of documents) {
    if (document.errors.length > 0) {
      problems.push(`YAML: ${document.errors[0].message}`);
      continue;
    }
    const manifest = document.toJS();
    if (manifest === null || manifest === undefined) {
      continue; // an empty document between separators
    }
    const name = `${manifest.kind ?? "?"}/${manifest.metadata?.name ?? "?"}`;
    if (typeof manifest.apiVersion !== "string" || typeof manifest.kind !== "string") {
      problems.push(`${name}: no apiVersion or kind`);
      continue;
    }
    const Model = await modelFor(manifest.apiVersion, manifest.kind);
    if (Model === null) {
      problems.push(`${name}: no schema for ${manifest.apiVersion} ${manifest.kind}`);
      continue;
    }
    try {
      new Model(manifest).validate();
      kinds.push(manifest.kind);
    } catch (error) {
      const details = Array.isArray(error.errors)
        ? error.errors.map((e) => `${e.instancePath || "/"} ${e.message}${e.params?.additionalProperty ? ` (${e.params.additionalProperty})` : ""}`).join("; ")
        : error.message;
      problems.push(`${name}: ${details}`);
    }
  }
  if (problems.length > 0) {
    failed++;
    console.log(`FAIL ${file}: ${problems.join(" | ")}`);
  } else {
    console.log(`ok   ${file}: ${kinds.length} documents (${[...new Set(kinds)].sort().join(", ")})`);
  }
}
process.exit(failed > 0 ? 1 : 0);
