#!/usr/bin/env node
// Times one ONNX model in ONNX Runtime (onnxruntime-node, CPU) on seeded random inputs and
// prints one JSON object with latency statistics in milliseconds.
//
//   node scripts/ort_bench.js MODEL [--batch N] [--shape NAME=D0xD1x... ...] [--threads T]
//                             [--warmup W] [--iters I] [--opt-level all|extended|basic|disabled]
//                             [--int-high H] [--seed S]
//
// Input shapes come from the model; every symbolic or unknown dimension becomes --batch
// (default 1). --shape overrides one input's whole shape. Float inputs are uniform in [-1, 1);
// integer inputs uniform in [0, --int-high) (default 16, small enough for token ids and
// indices); bool inputs are coin flips. The same inputs are fed on every iteration.
// --threads: intra-op threads (default 1; 0 lets ORT choose); inter-op threads 1, sequential.
// Session creation (load + graph optimization) is timed separately as load_ms.
//
// Output keys (same names as `bitsmith bench --json`): min_ms, p50_ms, p90_ms, p99_ms, mean_ms,
// max_ms, throughput_per_s, plus model, runtime, version, threads, batch, warmup, iters, inputs, load_ms.
// throughput_per_s = batch * 1000 / p50_ms. Percentiles are nearest-rank, as in bitsmith bench.
// Exit codes: 0 ok, 1 bad arguments, 2 model/runtime error.
'use strict';

const {sessionOptions, UsageError, runMain} = require('./ort_run.js');

const kUsage = 'usage: node scripts/ort_bench.js MODEL [--batch N] [--shape NAME=D0xD1x...] [--threads T] ' +
               '[--warmup W] [--iters I] [--opt-level all|extended|basic|disabled] [--int-high H] [--seed S]';

function parseArgs(argv) {
  const args = {model: null, batch: 1, shapes: {}, threads: 1, warmup: 10, iters: 100,
                optLevel: 'all', intHigh: 16, seed: 1};
  const intFlags = {'--batch': 'batch', '--threads': 'threads', '--warmup': 'warmup', '--iters': 'iters',
                    '--int-high': 'intHigh', '--seed': 'seed'};
  for (let i = 0; i < argv.length; ++i) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new UsageError(`${a} needs a value`);
      return argv[++i];
    };
    if (a in intFlags) {
      const v = Number(value());
      if (!Number.isInteger(v) || v < 0) throw new UsageError(`${a} must be an integer >= 0`);
      args[intFlags[a]] = v;
    } else if (a === '--shape') {
      const spec = value();
      const eq = spec.indexOf('=');
      const dims = spec.slice(eq + 1).split('x').map(Number);
      if (eq <= 0 || dims.some((d) => !Number.isInteger(d) || d < 0)) {
        throw new UsageError(`--shape ${spec}: expected NAME=D0xD1x... with integer dims`);
      }
      args.shapes[spec.slice(0, eq)] = dims;
    } else if (a === '--opt-level') {
      args.optLevel = value();
    } else if (a === '-h' || a === '--help') {
      throw new UsageError('');
    } else if (a.startsWith('-')) {
      throw new UsageError(`unknown flag ${a}`);
    } else if (args.model === null) {
      args.model = a;
    } else {
      throw new UsageError(`unexpected argument ${a}`);
    }
  }
  if (!args.model) throw new UsageError('MODEL is required');
  if (args.batch < 1 || args.iters < 1) throw new UsageError('--batch and --iters must be >= 1');
  if (args.intHigh < 1) throw new UsageError('--int-high must be >= 1');
  return args;
}

// Deterministic PRNG (mulberry32): uniform in [0, 1).
function makeRng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// float32 -> IEEE half bits (round to nearest even), for float16 inputs.
function toHalfBits(x) {
  const f = new Float32Array([x]);
  const u = new Uint32Array(f.buffer)[0];
  const sign = (u >>> 16) & 0x8000;
  const exp = ((u >>> 23) & 0xff) - 127 + 15;
  const mant = u & 0x7fffff;
  if (exp <= 0) return sign;  // inputs here are in [-1, 1): subnormals flushed
  const half = sign | (exp << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  return rest > 0x1000 || (rest === 0x1000 && (half & 1)) ? half + 1 : half;
}

function randomTensor(ort, type, dims, rng, intHigh) {
  const n = dims.reduce((a, b) => a * b, 1);
  const uniform = () => rng() * 2 - 1;
  const int = () => Math.floor(rng() * intHigh);
  switch (type) {
    case 'float32': return new ort.Tensor(type, Float32Array.from({length: n}, uniform), dims);
    case 'float64': return new ort.Tensor(type, Float64Array.from({length: n}, uniform), dims);
    case 'float16': return new ort.Tensor(type, Uint16Array.from({length: n}, () => toHalfBits(uniform())), dims);
    case 'int64': return new ort.Tensor(type, BigInt64Array.from({length: n}, () => BigInt(int())), dims);
    case 'int32': return new ort.Tensor(type, Int32Array.from({length: n}, int), dims);
    case 'int8': return new ort.Tensor(type, Int8Array.from({length: n}, () => Math.min(int(), 127)), dims);
    case 'uint8': return new ort.Tensor(type, Uint8Array.from({length: n}, () => Math.min(int(), 255)), dims);
    case 'bool': return new ort.Tensor(type, Uint8Array.from({length: n}, () => (rng() < 0.5 ? 1 : 0)), dims);
    default: throw new Error(`input type '${type}' is not supported by ort_bench.js`);
  }
}

// Nearest-rank percentile (as src/runtime/bench.cpp computes it); `sorted` ascending, p in %.
function percentile(sorted, p) {
  const rank = Math.max(1, Math.ceil(p / 100 * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1];
}

async function main() {
  const ort = require('onnxruntime-node');
  const args = parseArgs(process.argv.slice(2));
  const t0 = process.hrtime.bigint();
  const session = await ort.InferenceSession.create(args.model, sessionOptions(args.optLevel, args.threads));
  const loadMs = Number(process.hrtime.bigint() - t0) / 1e6;

  const rng = makeRng(args.seed);
  const feeds = {};
  const shapes = {};
  for (const meta of session.inputMetadata) {
    if (!meta.isTensor) throw new Error(`${args.model}: input '${meta.name}' is not a tensor`);
    const dims = args.shapes[meta.name] ||
                 meta.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : args.batch));
    shapes[meta.name] = dims;
    feeds[meta.name] = randomTensor(ort, meta.type, dims, rng, args.intHigh);
  }
  for (const name of Object.keys(args.shapes)) {
    if (!(name in feeds)) throw new UsageError(`--shape: the model has no input '${name}'`);
  }

  for (let i = 0; i < args.warmup; ++i) await session.run(feeds);
  const times = [];
  for (let i = 0; i < args.iters; ++i) {
    const start = process.hrtime.bigint();
    await session.run(feeds);
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  const sorted = [...times].sort((a, b) => a - b);
  const round = (x) => Math.round(x * 1e4) / 1e4;
  const result = {
    model: args.model, runtime: 'onnxruntime-node', version: ort.env.versions.node,
    opt_level: args.optLevel, threads: args.threads, batch: args.batch, inputs: shapes,
    warmup: args.warmup, iters: args.iters, load_ms: round(loadMs),
    min_ms: round(sorted[0]), p50_ms: round(percentile(sorted, 50)), p90_ms: round(percentile(sorted, 90)),
    p99_ms: round(percentile(sorted, 99)), mean_ms: round(times.reduce((a, b) => a + b, 0) / times.length),
    max_ms: round(sorted[sorted.length - 1]),
  };
  result.throughput_per_s = round(args.batch * 1000 / result.p50_ms);
  process.stdout.write(JSON.stringify(result) + '\n');
}

if (require.main === module) runMain(main, kUsage);
