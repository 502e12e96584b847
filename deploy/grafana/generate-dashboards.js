#!/usr/bin/env node
// Writes the Grafana dashboards in deploy/grafana/dashboards/ from the definitions below, so that
// the JSON stays consistent (ids, grid positions, datasource variable). Run it after editing:
//
//   node deploy/grafana/generate-dashboards.js
//
// Every query uses the series that Fogline exports (docs/metrics.md); test/e2e/prometheus.test.ts
// checks that each metric a dashboard names is one the processes export.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as prettier from 'prettier';

const OUT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'dashboards');
const DS = { type: 'prometheus', uid: '${datasource}' };

const datasourceVariable = {
  name: 'datasource',
  label: 'Prometheus',
  type: 'datasource',
  query: 'prometheus',
  current: {},
  hide: 0,
};

function queryVariable(name, label, query, { multi = false, includeAll = false } = {}) {
  return {
    name,
    label,
    type: 'query',
    datasource: DS,
    query: { query, refId: `${name}-values` },
    definition: query,
    refresh: 2,
    sort: 1,
    multi,
    includeAll,
    current: {},
    hide: 0,
  };
}

/** A panel; `w`/`h` in grid units (24 wide). Positions are filled in by `dashboard`. */
function panel(type, title, targets, { w = 12, h = 8, unit, description, stack = false, min, max, decimals } = {}) {
  return {
    type,
    title,
    description,
    datasource: DS,
    gridPos: { w, h },
    targets: targets.map(([expr, legendFormat, extra = {}], index) => ({
      refId: String.fromCharCode(65 + index),
      datasource: DS,
      expr,
      legendFormat,
      ...extra,
    })),
    fieldConfig: {
      defaults: {
        unit,
        min,
        max,
        decimals,
        ...(type === 'timeseries' ? { custom: { stacking: { mode: stack ? 'normal' : 'none' }, fillOpacity: stack ? 40 : 10 } } : {}),
      },
      overrides: [],
    },
    options: type === 'stat' ? { reduceOptions: { calcs: ['lastNotNull'] }, colorMode: 'value', graphMode: 'area' } : {},
  };
}

const ts = (title, targets, options) => panel('timeseries', title, targets, options);
const stat = (title, targets, options) => panel('stat', title, targets, { w: 4, h: 4, ...options });
const table = (title, targets, options) =>
  panel(
    'table',
    title,
    targets.map(([expr, legend]) => [expr, legend, { instant: true, format: 'table' }]),
    options,
  );

function dashboard(uid, title, description, variables, panels) {
  let x = 0;
  let y = 0;
  let rowHeight = 0;
  const placed = panels.map((p, index) => {
    if (x + p.gridPos.w > 24) {
      x = 0;
      y += rowHeight;
      rowHeight = 0;
    }
    const gridPos = { ...p.gridPos, x, y };
    x += p.gridPos.w;
    rowHeight = Math.max(rowHeight, p.gridPos.h);
    return { ...p, id: index + 1, gridPos };
  });
  return {
    uid,
    title,
    description,
    tags: ['fogline'],
    timezone: 'browser',
    schemaVersion: 39,
    version: 1,
    editable: true,
    refresh: '30s',
    time: { from: 'now-6h', to: 'now' },
    templating: { list: [datasourceVariable, ...variables] },
    annotations: { list: [] },
    links: [{ title: 'Fogline', type: 'dashboards', tags: ['fogline'], asDropdown: true }],
    panels: placed,
  };
}

const fleet = dashboard(
  'fogline-fleet',
  'Fogline / Fleet overview',
  'Which nodes are up, how loaded they are, what the deployments do: from the control plane (heartbeats) and the agents.',
  [],
  [
    stat('Nodes online', [['sum(fogline_nodes{status="online"})', 'online']]),
    stat('Nodes offline', [['sum(fogline_nodes{status="offline"})', 'offline']]),
    stat('Cordoned', [['fogline_nodes_cordoned', 'cordoned']]),
    stat('Deployments', [['fogline_deployments', 'deployments']]),
    stat('Runs running', [['sum(fogline_pipeline_runs{status="running"}) or vector(0)', 'running']]),
    stat('Inference req/s', [['sum(rate(fogline_inference_requests_total[5m])) or vector(0)', 'req/s']], { unit: 'reqps' }),
    table(
      'Nodes',
      [
        ['fogline_node_online', 'online'],
        ['fogline_node_heartbeat_age_seconds', 'heartbeat age'],
        ['fogline_node_load1 / fogline_node_cpus', 'load per CPU'],
        ['1 - fogline_node_memory_available_bytes / fogline_node_memory_total_bytes', 'memory used'],
      ],
      { w: 24, h: 8, description: 'One row per node and measure: status, heartbeat age, load per CPU, memory used.' },
    ),
    ts('Heartbeat age', [['fogline_node_heartbeat_age_seconds', '{{node}}']], { unit: 's' }),
    ts('Load per CPU (1 min)', [['fogline_node_load1 / fogline_node_cpus', '{{node}}']], { unit: 'percentunit' }),
    ts('Memory used', [['1 - fogline_node_memory_available_bytes / fogline_node_memory_total_bytes', '{{node}}']], {
      unit: 'percentunit',
      min: 0,
      max: 1,
    }),
    ts('Disk free', [['fogline_node_disk_free_bytes', '{{node}}']], { unit: 'bytes' }),
    ts('Deployment nodes by state', [['sum by (state) (fogline_deployment_nodes)', '{{state}}']], { stack: true }),
    ts('Inference requests by node', [['sum by (node) (rate(fogline_inference_requests_total[5m]))', '{{node}}']], { unit: 'reqps' }),
    ts(
      'Control plane requests by status class',
      [['sum by (status_class) (rate(fogline_http_requests_total{job="fogline-control-plane"}[5m]))', '{{status_class}}']],
      { unit: 'reqps', stack: true },
    ),
    ts('Scrape targets up', [['up{job=~"fogline-.*"}', '{{job}} {{node}}']], { min: 0, max: 1 }),
  ],
);

const node = dashboard(
  'fogline-node',
  'Fogline / Node detail',
  'One node: its resources as its heartbeats report them, and what its agent serves (when Prometheus reaches the agent).',
  [queryVariable('node', 'Node', 'label_values(fogline_node_info, node)')],
  [
    stat('Online', [['fogline_node_online{node="$node"}', 'online']], { w: 6 }),
    stat('Heartbeat age', [['fogline_node_heartbeat_age_seconds{node="$node"}', 'age']], { w: 6, unit: 's' }),
    stat('CPUs', [['fogline_node_cpus{node="$node"}', 'CPUs']], { w: 6 }),
    stat('Agent scrape', [['up{job="fogline-agents",node="$node"}', 'up']], { w: 6 }),
    ts('Load average', [
      ['fogline_node_load1{node="$node"}', '1 min'],
      ['fogline_node_load5{node="$node"}', '5 min'],
      ['fogline_node_load15{node="$node"}', '15 min'],
      ['fogline_node_cpus{node="$node"}', 'CPUs'],
    ]),
    ts(
      'Memory',
      [
        ['fogline_node_memory_total_bytes{node="$node"}', 'total'],
        ['fogline_node_memory_available_bytes{node="$node"}', 'available'],
      ],
      { unit: 'bytes' },
    ),
    ts(
      'Disk (data dir)',
      [
        ['fogline_node_disk_total_bytes{node="$node"}', 'total'],
        ['fogline_node_disk_free_bytes{node="$node"}', 'free'],
      ],
      { unit: 'bytes' },
    ),
    ts(
      'GPU',
      [
        ['fogline_node_gpu_utilization_ratio{node="$node"}', 'utilisation {{gpu}} {{gpu_name}}'],
        ['fogline_node_gpu_memory_used_bytes{node="$node"} / fogline_node_gpu_memory_total_bytes{node="$node"}', 'memory {{gpu}}'],
      ],
      { unit: 'percentunit', description: 'Empty on a node without an NVIDIA GPU.' },
    ),
    ts(
      'Inference requests',
      [
        [
          'sum by (deployment, version, outcome) (rate(fogline_inference_requests_total{node="$node"}[5m]))',
          '{{deployment}} v{{version}} {{outcome}}',
        ],
      ],
      { unit: 'reqps' },
    ),
    ts(
      'Compute time p95',
      [
        [
          'histogram_quantile(0.95, sum by (le, deployment) (rate(fogline_inference_compute_duration_seconds_bucket{node="$node"}[5m])))',
          '{{deployment}}',
        ],
      ],
      { unit: 's' },
    ),
    ts(
      'Agent HTTP p95 by route',
      [
        [
          'histogram_quantile(0.95, sum by (le, route) (rate(fogline_http_request_duration_seconds_bucket{job="fogline-agents",node="$node"}[5m])))',
          '{{route}}',
        ],
      ],
      { unit: 's' },
    ),
    ts('Artifact downloads', [['rate(fogline_artifact_download_bytes_total{node="$node"}[5m])', '{{model}}']], { unit: 'Bps' }),
    ts('Agent process memory', [['process_resident_memory_bytes{job="fogline-agents",node="$node"}', 'resident']], { unit: 'bytes' }),
    ts('Agent event loop lag p99', [['nodejs_eventloop_lag_p99_seconds{job="fogline-agents",node="$node"}', 'p99']], { unit: 's' }),
  ],
);

const sel = 'deployment=~"$deployment"';
const serving = dashboard(
  'fogline-serving',
  'Fogline / Model serving',
  'Per deployment, model and version on the agents: requests, failures, queue and compute time, batch sizes, loads and swaps.',
  [queryVariable('deployment', 'Deployment', 'label_values(fogline_model_serving_version, deployment)', { multi: true, includeAll: true })],
  [
    ts(
      'Requests by version',
      [
        [
          `sum by (deployment, version) (rate(fogline_inference_requests_total{${sel},outcome="success"}[5m]))`,
          '{{deployment}} v{{version}}',
        ],
      ],
      {
        unit: 'reqps',
        stack: true,
      },
    ),
    ts(
      'Failure ratio',
      [
        [
          `sum by (deployment) (rate(fogline_inference_requests_total{${sel},outcome="failure"}[5m])) / sum by (deployment) (rate(fogline_inference_requests_total{${sel}}[5m]))`,
          '{{deployment}}',
        ],
      ],
      { unit: 'percentunit', min: 0 },
    ),
    ts(
      'Compute time',
      [
        [
          `histogram_quantile(0.5, sum by (le, deployment) (rate(fogline_inference_compute_duration_seconds_bucket{${sel}}[5m])))`,
          'p50 {{deployment}}',
        ],
        [
          `histogram_quantile(0.95, sum by (le, deployment) (rate(fogline_inference_compute_duration_seconds_bucket{${sel}}[5m])))`,
          'p95 {{deployment}}',
        ],
        [
          `histogram_quantile(0.99, sum by (le, deployment) (rate(fogline_inference_compute_duration_seconds_bucket{${sel}}[5m])))`,
          'p99 {{deployment}}',
        ],
      ],
      { unit: 's' },
    ),
    ts(
      'Queue time',
      [
        [
          `histogram_quantile(0.5, sum by (le, deployment) (rate(fogline_inference_queue_duration_seconds_bucket{${sel}}[5m])))`,
          'p50 {{deployment}}',
        ],
        [
          `histogram_quantile(0.95, sum by (le, deployment) (rate(fogline_inference_queue_duration_seconds_bucket{${sel}}[5m])))`,
          'p95 {{deployment}}',
        ],
      ],
      { unit: 's' },
    ),
    ts('Mean batch size', [
      [
        `sum by (deployment) (rate(fogline_inference_batch_size_sum{${sel}}[5m])) / sum by (deployment) (rate(fogline_inference_batch_size_count{${sel}}[5m]))`,
        '{{deployment}}',
      ],
    ]),
    ts(
      'Requests by node',
      [[`sum by (deployment, node) (rate(fogline_inference_requests_total{${sel}}[5m]))`, '{{deployment}} @ {{node}}']],
      { unit: 'reqps' },
    ),
    table('Serving version per node', [[`fogline_model_serving_version{${sel}}`, '{{deployment}} @ {{node}}']], { w: 12 }),
    ts('Nodes by serving version (rollout)', [[`fogline_deployment_serving_version_nodes{${sel}}`, '{{deployment}} v{{version}}']], {
      stack: true,
    }),
    ts('Nodes by state', [[`fogline_deployment_nodes{${sel}}`, '{{deployment}} {{state}}']], { stack: true }),
    ts('Loads and swaps', [
      [`sum by (deployment, outcome) (increase(fogline_model_loads_total{${sel}}[1h]))`, 'loads {{deployment}} {{outcome}}'],
      [`sum by (deployment) (increase(fogline_model_swaps_total{${sel}}[1h]))`, 'swaps {{deployment}}'],
    ]),
    ts(
      'Load and swap time p95',
      [
        [
          `histogram_quantile(0.95, sum by (le, deployment) (rate(fogline_model_load_duration_seconds_bucket{${sel}}[1h])))`,
          'load {{deployment}}',
        ],
        [
          `histogram_quantile(0.95, sum by (le, deployment) (rate(fogline_model_swap_duration_seconds_bucket{${sel}}[1h])))`,
          'swap {{deployment}}',
        ],
      ],
      { unit: 's' },
    ),
    ts(
      'Artifact download time p95',
      [['histogram_quantile(0.95, sum by (le, outcome) (rate(fogline_artifact_download_duration_seconds_bucket[1h])))', '{{outcome}}']],
      { unit: 's' },
    ),
  ],
);

const training = dashboard(
  'fogline-training',
  'Fogline / Training',
  'Pipeline runs on the control plane: queue, outcomes, durations per run and step, and the loss of the last epoch per model.',
  [queryVariable('model', 'Model', 'label_values(fogline_pipeline_last_epoch_loss, model)', { multi: true, includeAll: true })],
  [
    stat('Running', [['sum(fogline_pipeline_runs{status="running"}) or vector(0)', 'running']], { w: 6 }),
    stat('Queued', [['sum(fogline_pipeline_runs{status="queued"}) or vector(0)', 'queued']], { w: 6 }),
    stat('Succeeded (24 h)', [['sum(increase(fogline_pipeline_runs_finished_total{status="succeeded"}[24h])) or vector(0)', 'succeeded']], {
      w: 6,
      decimals: 0,
    }),
    stat('Failed (24 h)', [['sum(increase(fogline_pipeline_runs_finished_total{status="failed"}[24h])) or vector(0)', 'failed']], {
      w: 6,
      decimals: 0,
    }),
    ts('Last epoch loss', [
      ['fogline_pipeline_last_epoch_loss{model=~"$model"}', 'loss {{pipeline}}/{{model}}'],
      ['fogline_pipeline_last_epoch_val_loss{model=~"$model"}', 'val loss {{pipeline}}/{{model}}'],
    ]),
    ts('Epoch', [['fogline_pipeline_last_epoch{model=~"$model"}', '{{pipeline}}/{{model}}']]),
    ts('Epochs per minute', [
      ['sum by (pipeline, model) (rate(fogline_pipeline_epochs_total{model=~"$model"}[5m])) * 60', '{{pipeline}}/{{model}}'],
    ]),
    ts('Runs waiting and running', [['fogline_pipeline_runs', '{{pipeline}} {{status}}']], { stack: true }),
    ts(
      'Run duration',
      [
        ['histogram_quantile(0.5, sum by (le, pipeline) (rate(fogline_pipeline_run_duration_seconds_bucket[6h])))', 'p50 {{pipeline}}'],
        ['histogram_quantile(0.95, sum by (le, pipeline) (rate(fogline_pipeline_run_duration_seconds_bucket[6h])))', 'p95 {{pipeline}}'],
      ],
      { unit: 's' },
    ),
    ts(
      'Mean step duration',
      [
        [
          'sum by (pipeline, step) (rate(fogline_pipeline_step_duration_seconds_sum[6h])) / sum by (pipeline, step) (rate(fogline_pipeline_step_duration_seconds_count[6h]))',
          '{{pipeline}} {{step}}',
        ],
      ],
      { unit: 's' },
    ),
    ts('Finished runs', [['sum by (pipeline, status) (increase(fogline_pipeline_runs_finished_total[1h]))', '{{pipeline}} {{status}}']], {
      stack: true,
    }),
  ],
);

fs.mkdirSync(OUT, { recursive: true });
for (const [file, board] of [
  ['fleet-overview.json', fleet],
  ['node-detail.json', node],
  ['model-serving.json', serving],
  ['training.json', training],
]) {
  // Formatted as the repository's Prettier settings want, so that `npm run lint` accepts it as written.
  const target = path.join(OUT, file);
  const options = (await prettier.resolveConfig(target)) ?? {};
  fs.writeFileSync(target, await prettier.format(JSON.stringify(board), { ...options, filepath: target }));
  console.log(`wrote ${path.join('deploy/grafana/dashboards', file)} (${board.panels.length} panels)`);
}
