// bpmn-engine (npm) on the reference process: instances per second, in memory and durable
// (the engine state written to a file and fsync'ed at each wait state and at the end, one
// durable write per step as rathaus commits one transaction per step). Run through
// bench/compare.sh.
'use strict';
const { Engine } = require('bpmn-engine');
const { EventEmitter } = require('node:events');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const N = Number(process.argv[2] || 1000);
const source = fs.readFileSync(path.join(__dirname, 'bpmn_engine_model.bpmn'), 'utf8');
// The model is parsed once and reused, as rathaus parses a deployment once.
let moddleContext;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bpmn-engine-bench-'));
const fd = fs.openSync(path.join(dir, 'states.jsonl'), 'a');

async function persist(engine, durable) {
  if (!durable) return;
  const state = await engine.getState();
  fs.writeSync(fd, JSON.stringify(state) + '\n');
  fs.fdatasyncSync(fd);
}

async function run(i, review, durable) {
  const listener = new EventEmitter();
  const kategorie = 'abcd'[i % 4];
  const engine = new Engine({ name: `bench-${i}`, moddleContext, variables: { kategorie, betrag: i % 200, pruefen: review } });
  let waited = Promise.resolve();
  listener.on('wait', (api) => {
    waited = persist(engine, durable).then(() => api.signal({ entscheidung: { ergebnis: 'bestaetigen' } }));
  });
  const end = new Promise((resolve, reject) => {
    engine.once('end', resolve);
    engine.once('error', reject);
  });
  await engine.execute({ listener });
  await end;
  await waited;
  await persist(engine, durable);
}

async function measure(review, durable) {
  const lat = [];
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) {
    const t = process.hrtime.bigint();
    await run(i, review, durable);
    lat.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  lat.sort((a, b) => a - b);
  return { instances_per_second: N / secs, p50_ms: lat[Math.floor(lat.length / 2)], p99_ms: lat[Math.floor(lat.length * 0.99)] };
}

(async () => {
  const BpmnModdle = (await import('bpmn-moddle')).default;
  moddleContext = await new BpmnModdle().fromXML(source);
  const out = { engine: 'bpmn-engine', instances: N, scenarios: {} };
  for (const [name, review] of [['start → DMN → gateway → end', false], ['… → user task (completed) → end', true]]) {
    out.scenarios[name] = { in_memory: await measure(review, false), durable_fsync: await measure(review, true) };
  }
  console.log(JSON.stringify(out, null, 2));
  fs.closeSync(fd);
  fs.rmSync(dir, { recursive: true, force: true });
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
