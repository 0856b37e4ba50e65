// Measures llama.cpp (through node-llama-cpp, CPU build) on a GGUF model the way `llamago bench` does:
// ppN = N random tokens evaluated as one prompt, tgN = N tokens generated one at a time.
// Usage: node llamacpp_bench.mjs MODEL PP TG REPS THREADS   → one JSON line per test on stdout.
import {getLlama} from "node-llama-cpp";

const [model, pp, tg, reps, threads] = process.argv.slice(2);
const P = Number(pp), G = Number(tg), R = Number(reps), T = Number(threads);
const llama = await getLlama({gpu: false, build: "never", logLevel: "error"});
const m = await llama.loadModel({modelPath: model});
const vocab = 32000; // random ids below the smallest preset vocabulary
let seed = 1;
const rnd = () => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed; };
const randTokens = n => Array.from({length: n}, () => 3 + (rnd() % Math.min(vocab, 30000)));

async function measure(name, n, once) {
  const samples = [];
  for (let i = 0; i <= R; i++) {
    const ctx = await m.createContext({threads: T, contextSize: Math.max(P, G) + 16, batchSize: Math.max(P, 1)});
    const seq = ctx.getSequence();
    const t0 = process.hrtime.bigint();
    await once(seq);
    const dt = Number(process.hrtime.bigint() - t0) / 1e9;
    if (i > 0) samples.push(n / dt);
    await ctx.dispose();
  }
  const mean = samples.reduce((a, b) => a + b, 0) / samples.length;
  const sd = samples.length > 1 ? Math.sqrt(samples.reduce((a, b) => a + (b - mean) ** 2, 0) / (samples.length - 1)) : 0;
  console.log(JSON.stringify({engine: "llama.cpp", test: name + n, tokens_per_second: mean, stddev: sd, samples}));
}

if (P > 0) await measure("pp", P, seq => seq.evaluateWithoutGeneratingNewTokens(randTokens(P)));
if (G > 0) await measure("tg", G, async seq => {
  let n = 0;
  // Generation starts from one token; each further token is one evaluation, as in llama-bench's tg test.
  for await (const _ of seq.evaluate(randTokens(1), {temperature: 0})) { if (++n >= G) break; }
});
await m.dispose();
