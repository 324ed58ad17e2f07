// The engine benchmarks, native and wasm (Node) alternated over several rounds, so one slow
// spell of this shared machine cannot decide a figure or a ratio on its own.
//   node scripts/bench-engine-rounds.mjs [iterations] [rounds]   (run by scripts/bench-engine.sh)
// Each round runs the native bench binary (cargo bench --bench engine, already built), then the
// same figures in the wasm build under Node. Prints every round's medians and, per figure, the
// median over the rounds, natively and in wasm, and their ratio; issue 3's bars are judged on
// those. Reads target/bench-wasm/pkg (the `bench` feature build, wasm-bindgen --target nodejs).
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';

const out = 'target/bench-wasm';
const iterations = Number(process.argv[2]) || 15;
const rounds = Number(process.argv[3]) || 5;
const require = createRequire(import.meta.url);
const wasm = require(`../${out}/pkg/calltrail.js`);

const human = (ns) => (ns >= 1e6 ? `${(ns / 1e6).toFixed(2)} ms` : ns >= 1e3 ? `${(ns / 1e3).toFixed(2)} µs` : `${ns.toFixed(0)} ns`);
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const runs = []; // { native: Figure[], wasm: Figure[] } per round
for (let r = 0; r < rounds; r++) {
  const json = `${out}/native-round.json`;
  execFileSync('cargo', ['bench', '--quiet', '--bench', 'engine', '--', '--iterations', String(iterations), '--json', json], { stdio: ['ignore', 'ignore', 'inherit'] });
  const native = JSON.parse(require('node:fs').readFileSync(json, 'utf8'));
  const figures = JSON.parse(wasm.bench_engine(iterations, () => performance.now()));
  runs.push({ native, wasm: figures });
}

console.log(`Engine, native and wasm (Node ${process.version}) alternated: ${rounds} rounds of ${iterations} iterations\n`);
console.log('| figure | native, each round | wasm (Node), each round |');
console.log('| --- | --- | --- |');
const names = runs[0].native.map((f) => f.name);
const of = (list, name) => list.find((f) => f.name === name);
for (const name of names) {
  const n = runs.map((r) => human(of(r.native, name).median_ns)).join(', ');
  const w = runs.map((r) => (of(r.wasm, name) ? human(of(r.wasm, name).median_ns) : 'n/a')).join(', ');
  console.log(`| ${name} | ${n} | ${w} |`);
}

console.log('\n| figure | unit | native, median of rounds | native target | met | wasm, median of rounds | wasm / native | within 3x |');
console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
for (const name of names) {
  const first = of(runs[0].native, name);
  const n = median(runs.map((r) => of(r.native, name).median_ns));
  const w = median(runs.map((r) => of(r.wasm, name)?.median_ns ?? NaN));
  const ratio = w / n;
  const target = first.target_ns == null ? '—' : human(first.target_ns);
  const met = first.target_ns == null ? '—' : n < first.target_ns ? 'yes' : 'NO';
  console.log(`| ${name} | ${first.unit} | ${human(n)} | ${target} | ${met} | ${human(w)} | ${ratio.toFixed(2)}x | ${ratio <= 3 ? 'yes' : 'NO'} |`);
}
