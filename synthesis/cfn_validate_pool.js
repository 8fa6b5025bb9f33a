// aws-cdk-lib's CloudFormation Validate in worker threads (synthesis/kernel.py explains why).
//
// Synthesis validates every template with a WASM rule engine (@aws/cloudformation-validate)
// owned by one plugin object, CloudFormationValidatePlugin._singletonInstance(). Built in the
// kernel's thread, that engine costs about a second to create, at the end of synthesis, and
// then validates one template after another on one core while the other core idles.
//
// Loaded by jsii_direct.js, this file watches the kernel load aws-cdk-lib. It then starts worker
// threads (this same file) that each create the plugin's engine at once, while Python is still
// building the app; and it makes `_singletonInstance()` return a plugin whose `validate` hands
// the templates to those threads (each takes the next template not yet taken) and waits for
// them. Each template is validated by the real plugin's own `validate`, and the reports are
// merged in template order the way that method merges diagnostics, so the validation report is
// the one the built-in plugin writes. Anything unexpected (another shape of aws-cdk-lib, a
// thread that cannot start its engine) leaves or puts the built-in plugin back.
//
// CHEFS_KISS_CFN_VALIDATE_THREADS=N sets the number of threads (default: the cores, at most 2;
// 0: aws-cdk-lib's own plugin, untouched). CDK_VALIDATION=false starts none.
// CHEFS_KISS_CFN_VALIDATE_TRACE=FILE appends a line per validation the threads did (for tests).
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const {
  isMainThread,
  MessageChannel,
  receiveMessageOnPort,
  Worker,
  workerData,
} = require('worker_threads');

const THREADS_VARIABLE = 'CHEFS_KISS_CFN_VALIDATE_THREADS';
const TRACE_VARIABLE = 'CHEFS_KISS_CFN_VALIDATE_TRACE';
const PLUGIN = path.join('core', 'lib', 'validation', 'cloudformation-validate-plugin.js');
const PERF = path.join('core', 'lib', 'private', 'perf.js');
// A thread that validates nothing for this long has stopped (killed by a resource limit, say).
const STALL_MS = 10 * 60 * 1000;
// Slots of the shared counters: templates handed out, templates finished, threads that replied.
const NEXT = 0;
const FINISHED = 1;
const REPLIED = 2;

function threadCount() {
  const configured = (process.env[THREADS_VARIABLE] || '').trim();
  if (configured === '') return Math.min(2, os.availableParallelism?.() ?? os.cpus().length);
  if (!/^[0-9]+$/.test(configured)) {
    throw new Error(`${THREADS_VARIABLE}=${JSON.stringify(configured)}: give 0 or more threads`);
  }
  return Number(configured);
}

// --------------------------------------------------------------------------- the kernel's thread

function install() {
  const threads = threadCount();
  if (threads === 0 || process.env.CDK_VALIDATION === 'false') return;
  const Module = require('module');
  const compile = Module._extensions['.js'];
  const roots = new Map(); // aws-cdk-lib directory -> its pool
  Module._extensions['.js'] = function (module, filename) {
    compile.call(this, module, filename);
    if (path.basename(filename) === 'index.js' && isLibraryRoot(path.dirname(filename))) {
      const root = path.dirname(filename);
      if (!roots.has(root)) roots.set(root, startPool(root, threads));
    }
    for (const [root, pool] of roots) {
      if (pool && filename === path.join(root, PLUGIN)) usePool(module.exports, pool, root);
    }
  };
}

function isLibraryRoot(directory) {
  if (path.basename(directory) !== 'aws-cdk-lib') return false;
  try {
    return fs.statSync(path.join(directory, PLUGIN)).isFile();
  } catch {
    return false;
  }
}

function startPool(root, threads) {
  try {
    return new Pool(root, threads);
  } catch {
    return undefined; // no worker threads here: the built-in plugin
  }
}

class Pool {
  constructor(root, size) {
    this.counters = new Int32Array(new SharedArrayBuffer(3 * Int32Array.BYTES_PER_ELEMENT));
    this.threads = [];
    for (let i = 0; i < size; i++) {
      const { port1, port2 } = new MessageChannel();
      const worker = new Worker(__filename, {
        workerData: { root, port: port1, counters: this.counters.buffer },
        transferList: [port1],
      });
      worker.unref(); // never keeps the kernel alive
      this.threads.push({ worker, port: port2 });
    }
  }

  // One report per entry of `entries`, in their order; undefined if no thread has an engine.
  validate(entries) {
    const counters = this.counters;
    Atomics.store(counters, NEXT, 0);
    Atomics.store(counters, FINISHED, 0);
    Atomics.store(counters, REPLIED, 0);
    for (const { port } of this.threads) port.postMessage({ entries });
    let progress = -1;
    let since = Date.now();
    for (;;) {
      const replied = Atomics.load(counters, REPLIED);
      if (replied >= this.threads.length) break;
      const finished = Atomics.load(counters, FINISHED);
      if (finished !== progress) {
        progress = finished;
        since = Date.now();
      } else if (Date.now() - since > STALL_MS) {
        throw new Error(`CloudFormation Validate: no template validated in ${STALL_MS / 60000} min`);
      }
      Atomics.wait(counters, REPLIED, replied, 1000);
    }
    const reports = new Array(entries.length);
    let unavailable = 0;
    for (const { port } of this.threads) {
      const reply = receiveMessageOnPort(port).message;
      if (reply.unavailable) unavailable++;
      if (reply.error) throw Object.assign(new Error(reply.error.message), reply.error);
      for (const [index, report] of reply.reports ?? []) reports[index] = report;
    }
    if (unavailable === this.threads.length) return undefined;
    const trace = process.env[TRACE_VARIABLE];
    if (trace) {
      const line = { threads: this.threads.length, templates: entries.length };
      fs.appendFileSync(trace, `${JSON.stringify(line)}\n`);
    }
    return reports;
  }
}

function usePool(exports, pool, root) {
  const Plugin = exports && exports.CloudFormationValidatePlugin;
  if (
    typeof Plugin !== 'function' ||
    typeof Plugin._singletonInstance !== 'function' ||
    typeof Plugin.prototype.validate !== 'function'
  ) {
    return; // not the shape this file knows: aws-cdk-lib's own plugin
  }
  const builtin = Plugin.prototype.validate;
  const perf = require(path.join(root, PERF));
  Plugin._singletonInstance = function () {
    if (!Plugin._instance) Plugin._instance = pooledPlugin(Plugin, builtin, pool, perf);
    return Plugin._instance;
  };
}

// A CloudFormationValidatePlugin (for `instanceof`) whose engine lives in the pool's threads; its
// own engine is created only if this thread must validate after all.
function pooledPlugin(Plugin, builtin, pool, perf) {
  const plugin = Object.create(Plugin.prototype);
  let engine;
  Object.defineProperties(plugin, {
    name: { value: Plugin.PLUGIN_NAME, enumerable: true },
    engine: { get: () => (engine ??= new Plugin().engine) },
    disposed: { value: false, writable: true },
  });
  plugin.validate = function (context) {
    const reports = pool.validate(context.stackTemplates ?? []);
    if (reports === undefined) return builtin.call(this, context);
    const violations = [];
    for (const report of reports) {
      for (const [key, counter] of Object.entries(report.counters)) {
        perf.recordPerformanceEntry(key, {
          durationMs: counter.total,
          count: counter.count,
          telemetry: true,
        });
      }
      // CloudFormationValidatePlugin.validate's merge: one violation per rule, severity and
      // description, its resources in the order they were found.
      for (const violation of report.violations) {
        const existing = violations.find(
          (v) =>
            v.ruleName === violation.ruleName &&
            v.severity === violation.severity &&
            v.description === violation.description,
        );
        if (existing) existing.violatingResources.push(...violation.violatingResources);
        else violations.push(violation);
      }
    }
    return {
      success: violations.every((v) => v.severity !== 'error' && v.severity !== 'fatal'),
      violations,
    };
  };
  plugin._dispose = function () {
    if (!this.disposed) {
      this.disposed = true;
      engine?.free();
    }
  };
  return plugin;
}

// --------------------------------------------------------------------------- a pool thread

function serve() {
  const { root, port, counters: buffer } = workerData;
  const counters = new Int32Array(buffer);
  quietOutput();
  let plugin;
  let perf;
  let unavailable;
  try {
    perf = require(path.join(root, PERF));
    const { CloudFormationValidatePlugin } = require(path.join(root, PLUGIN));
    plugin = new CloudFormationValidatePlugin(); // the engine, created now
  } catch (error) {
    unavailable = String(error && error.message);
  }
  port.on('message', ({ entries }) => {
    const reply = { reports: [] };
    try {
      if (unavailable !== undefined) {
        reply.unavailable = unavailable;
      } else {
        for (;;) {
          const index = Atomics.add(counters, NEXT, 1);
          if (index >= entries.length) break;
          perf.resetCounters();
          const report = plugin.validate({ stackTemplates: [entries[index]] });
          const counted = perf.readPerfCounters({ telemetry: true });
          reply.reports.push([index, { violations: report.violations, counters: counted }]);
          Atomics.add(counters, FINISHED, 1);
        }
      }
    } catch (error) {
      reply.error = { message: String(error && error.message), name: error && error.name };
    }
    port.postMessage(reply);
    Atomics.add(counters, REPLIED, 1);
    Atomics.notify(counters, REPLIED);
  });
}

// The kernel's thread never returns to its event loop while it waits, so a thread's console
// output would never be delivered: written here the way jsii_direct.js writes the kernel's.
function quietOutput() {
  for (const key of ['stdout', 'stderr']) {
    process[key].write = (chunk, encoding, callback) => {
      const buffer = Buffer.isBuffer(chunk)
        ? chunk
        : Buffer.from(String(chunk), typeof encoding === 'string' ? encoding : 'utf8');
      fs.writeSync(2, `${JSON.stringify({ [key]: buffer.toString('base64') })}\n`);
      const done = typeof encoding === 'function' ? encoding : callback;
      if (typeof done === 'function') process.nextTick(done);
      return true;
    };
  }
}

if (isMainThread) module.exports = { install };
else serve();
