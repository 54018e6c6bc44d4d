#!/usr/bin/env node
// Runs an ONNX model in ONNX Runtime (the onnxruntime-node CPU build) and writes every output
// as a .npy file: the reference that bitsmith's executor and passes are compared against.
//
//   node scripts/ort_run.js MODEL --input NAME=FILE.npy [--input ...] --output-dir DIR
//                           [--opt-level all|extended|basic|disabled] [--threads N]
//                           [--config KEY=VALUE ...]
//
// --input: NAME may be left out ("--input FILE.npy") when the model has exactly one input.
//          Every model input must be given.
// --output-dir: created if missing; output NAME is written to DIR/NAME.npy, with every character
//          outside [A-Za-z0-9._-] in NAME replaced by '_'.
// --opt-level: ORT graph optimization level (default all).
// --threads: intra-op threads (default 1; 0 lets ORT choose). Inter-op threads are 1 and the
//          execution mode is sequential.
// --config: a session configuration entry, e.g. session.qdq_matmulnbits_accuracy_level=0
//          (repeatable; passed through SessionOptions.extra).
// Prints one JSON object on stdout: {"outputs":[{"name","file","dtype","shape"}],...}.
// Exit codes: 0 ok, 1 bad arguments, 2 model/data/runtime error.
//
// .npy support (readNpy/writeNpy, exported for scripts/ort_bench.js): versions 1.0-3.0 read,
// 1.0 written; C order only; little-endian or byte-order-free dtypes
// f32 '<f4', f16 '<f2', f64 '<f8', i64 '<i8', i32 '<i4', i16 '<i2', i8 '|i1', u8 '|u1',
// u16 '<u2', u32 '<u4', u64 '<u8', bool '|b1'.
'use strict';

const fs = require('fs');
const path = require('path');

// npy descr (without byte-order char) <-> ORT tensor type, element size and typed array.
const kNpyTypes = [
  {descr: 'f4', ort: 'float32', size: 4, array: Float32Array},
  {descr: 'f2', ort: 'float16', size: 2, array: Uint16Array},
  {descr: 'f8', ort: 'float64', size: 8, array: Float64Array},
  {descr: 'i8', ort: 'int64', size: 8, array: BigInt64Array},
  {descr: 'i4', ort: 'int32', size: 4, array: Int32Array},
  {descr: 'i2', ort: 'int16', size: 2, array: Int16Array},
  {descr: 'i1', ort: 'int8', size: 1, array: Int8Array},
  {descr: 'u1', ort: 'uint8', size: 1, array: Uint8Array},
  {descr: 'u2', ort: 'uint16', size: 2, array: Uint16Array},
  {descr: 'u4', ort: 'uint32', size: 4, array: Uint32Array},
  {descr: 'u8', ort: 'uint64', size: 8, array: BigUint64Array},
  {descr: 'b1', ort: 'bool', size: 1, array: Uint8Array},
];

class UsageError extends Error {}

function npyTypeByDescr(descr, where) {
  const order = descr[0];
  const t = kNpyTypes.find((e) => e.descr === descr.slice(1));
  if (!t || !'<|='.includes(order)) {  // '>' (big-endian) is refused
    const known = kNpyTypes.map((e) => (e.size === 1 ? '|' : '<') + e.descr).join(', ');
    throw new Error(`${where}: dtype '${descr}' is not supported (expected one of ${known})`);
  }
  return t;
}

// Parses a .npy file. Returns {type: ORT type name, dims: number[], data: typed array}.
function readNpy(file) {
  const buf = fs.readFileSync(file);
  const magic = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]);  // "\x93NUMPY"
  if (buf.length < 10 || !buf.subarray(0, 6).equals(magic)) {
    throw new Error(`${file}: not a .npy file (bad magic)`);
  }
  const major = buf[6];
  if (major < 1 || major > 3) throw new Error(`${file}: .npy version ${major} is not supported`);
  const lenBytes = major === 1 ? 2 : 4;
  const headerLen = lenBytes === 2 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const dataStart = 8 + lenBytes + headerLen;
  if (dataStart > buf.length) throw new Error(`${file}: header of ${headerLen} bytes is truncated`);
  const header = buf.toString(major === 3 ? 'utf8' : 'latin1', 8 + lenBytes, dataStart);
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header);
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header);
  const shape = /'shape'\s*:\s*\(([^)]*)\)/.exec(header);
  if (!descr || !fortran || !shape) throw new Error(`${file}: malformed header ${header.trim()}`);
  if (fortran[1] === 'True') throw new Error(`${file}: fortran_order arrays are not supported`);
  const t = npyTypeByDescr(descr[1], file);
  const dims = shape[1].split(',').map((s) => s.trim()).filter((s) => s.length).map(Number);
  const numel = dims.reduce((a, b) => a * b, 1);
  const nbytes = numel * t.size;
  if (buf.length - dataStart < nbytes) {
    throw new Error(`${file}: shape (${dims}) needs ${nbytes} data bytes, file has ${buf.length - dataStart}`);
  }
  // Copy into a fresh, aligned ArrayBuffer.
  const bytes = buf.buffer.slice(buf.byteOffset + dataStart, buf.byteOffset + dataStart + nbytes);
  return {type: t.ort, dims, data: new t.array(bytes)};
}

// Writes a .npy 1.0 file from an ORT type name, dims and a typed array holding the elements.
function writeNpy(file, type, dims, data) {
  const t = kNpyTypes.find((e) => e.ort === type);
  if (!t) throw new Error(`${file}: ORT type '${type}' has no .npy mapping`);
  const descr = (t.size === 1 ? '|' : '<') + t.descr;
  const shapeStr = dims.length === 1 ? `(${dims[0]},)` : `(${dims.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeStr}, }`;
  // Pad with spaces so the data starts on a 64-byte boundary; the header ends with '\n'.
  const unpadded = 10 + header.length + 1;
  header += ' '.repeat((64 - (unpadded % 64)) % 64) + '\n';
  const pre = Buffer.alloc(10);
  Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]).copy(pre);
  pre.writeUInt16LE(header.length, 8);
  const body = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  fs.writeFileSync(file, Buffer.concat([pre, Buffer.from(header, 'latin1'), body]));
}

function parseArgs(argv) {
  const args = {model: null, inputs: [], outputDir: null, optLevel: 'all', threads: 1, configs: []};
  for (let i = 0; i < argv.length; ++i) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new UsageError(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--input') args.inputs.push(value());
    else if (a === '--output-dir') args.outputDir = value();
    else if (a === '--opt-level') args.optLevel = value();
    else if (a === '--threads') args.threads = Number(value());
    else if (a === '--config') {
      const kv = value();
      if (kv.indexOf('=') <= 0) throw new UsageError(`--config ${kv}: expected KEY=VALUE`);
      args.configs.push([kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]);
    } else if (a === '-h' || a === '--help') throw new UsageError('');
    else if (a.startsWith('-')) throw new UsageError(`unknown flag ${a}`);
    else if (args.model === null) args.model = a;
    else throw new UsageError(`unexpected argument ${a}`);
  }
  if (!args.model) throw new UsageError('MODEL is required');
  if (!args.outputDir) throw new UsageError('--output-dir is required');
  if (!['all', 'extended', 'basic', 'disabled'].includes(args.optLevel)) {
    throw new UsageError(`--opt-level ${args.optLevel} is not one of [all, extended, basic, disabled]`);
  }
  if (!Number.isInteger(args.threads) || args.threads < 0) {
    throw new UsageError('--threads must be an integer >= 0');
  }
  return args;
}

// Session options shared with ort_bench.js. `configs`: optional [[key, value], ...] session
// configuration entries; "a.b.c" keys become extra: {a: {b: {c: value}}} (ORT joins them with '.').
function sessionOptions(optLevel, threads, configs = []) {
  const options = {
    graphOptimizationLevel: optLevel,
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    executionProviders: ['cpu'],
  };
  for (const [key, value] of configs) {
    options.extra = options.extra || {};
    const parts = key.split('.');
    let node = options.extra;
    for (const p of parts.slice(0, -1)) node = node[p] = node[p] || {};
    node[parts[parts.length - 1]] = value;
  }
  return options;
}

function safeName(name) {
  return name.replace(/[^A-Za-z0-9._-]/g, '_');
}

async function main() {
  const ort = require('onnxruntime-node');
  const args = parseArgs(process.argv.slice(2));
  const session = await ort.InferenceSession.create(args.model, sessionOptions(args.optLevel, args.threads, args.configs));
  const feeds = {};
  for (const spec of args.inputs) {
    const eq = spec.indexOf('=');
    let name = spec.slice(0, eq);
    if (eq < 0) {
      if (session.inputNames.length !== 1) {
        throw new UsageError(`--input ${spec}: the model has ${session.inputNames.length} inputs, write NAME=FILE`);
      }
      name = session.inputNames[0];
    }
    if (!session.inputNames.includes(name)) {
      throw new UsageError(`--input ${spec}: the model has no input '${name}' (inputs: ${session.inputNames.join(', ')})`);
    }
    const arr = readNpy(spec.slice(eq + 1));
    feeds[name] = new ort.Tensor(arr.type, arr.data, arr.dims);
  }
  const missing = session.inputNames.filter((n) => !(n in feeds));
  if (missing.length) throw new UsageError(`missing --input for: ${missing.join(', ')}`);

  const results = await session.run(feeds);
  fs.mkdirSync(args.outputDir, {recursive: true});
  const summary = {model: args.model, ort_version: ort.env.versions.node, opt_level: args.optLevel,
                   threads: args.threads, configs: Object.fromEntries(args.configs), outputs: []};
  for (const name of session.outputNames) {
    const t = results[name];
    const file = path.join(args.outputDir, safeName(name) + '.npy');
    writeNpy(file, t.type, t.dims, t.data);
    summary.outputs.push({name, file, dtype: t.type, shape: Array.from(t.dims)});
  }
  process.stdout.write(JSON.stringify(summary) + '\n');
}

const kUsage = 'usage: node scripts/ort_run.js MODEL --input NAME=FILE.npy [--input ...] --output-dir DIR ' +
               '[--opt-level all|extended|basic|disabled] [--threads N] [--config KEY=VALUE ...]';

// Runs `fn` and maps errors to the exit codes above.
function runMain(fn, usage) {
  fn().catch((e) => {
    if (e instanceof UsageError) {
      if (e.message) process.stderr.write(`error: ${e.message}\n`);
      process.stderr.write(usage + '\n');
      process.exit(e.message ? 1 : 0);
    }
    process.stderr.write(`error: ${e.message || e}\n`);
    process.exit(2);
  });
}

module.exports = {readNpy, writeNpy, sessionOptions, UsageError, runMain, kNpyTypes};

if (require.main === module) runMain(main, kUsage);
