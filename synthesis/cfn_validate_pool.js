// aws-cdk-lib's CloudFormation Validate in worker threads (synthesis/kernel.py explains why).
//
// Synthesis validates every template with a WASM rule engine (@aws/cloudformation-validate)
// owned by one plugin object, CloudFormationValidatePlugin._singletonInstance(). Built in the
// kernel's thread, that engine costs about a second to create, at the end of synthesis, and
// then validates one template after another on one core, after every template is written.
//
// Loaded by jsii_direct.js, this file watches the kernel load aws-cdk-lib, and then:
// - starts worker threads (this same file) that each create the plugin's engine at once: under
//   `cdk synth` while Python is still building the app, else when an App that validates is
//   first synthesized (an app that never validates costs no engine);
// - while an App that validates is synthesized, hands each stack's template to the thread with
//   the least work as soon as the stack's artifact is added to the assembly, so templates are
//   validated while the next stacks are still being written;
// - makes `_singletonInstance()` return a plugin whose `validate` collects those reports (and
//   validates in the threads whatever was not handed out yet, or changed on disk since).
// Each template is validated by the real plugin's own `validate`, with the same template path,
// account, region and construct path aws-cdk-lib passes, and the reports are merged in template
// order the way that method merges diagnostics: the validation report is the one the built-in
// plugin writes. Anything unexpected (another shape of aws-cdk-lib, a thread that cannot create
// its engine) leaves or puts the built-in plugin back.
//
// CHEFS_KISS_CFN_VALIDATE_THREADS=N sets the number of threads (default: the cores, at most 2;
// 0: aws-cdk-lib's own plugin, untouched). CDK_VALIDATION=false starts none.
// CHEFS_KISS_CFN_VALIDATE_EARLY=1 starts the threads when aws-cdk-lib loads (app.py sets it).
// CHEFS_KISS_CFN_VALIDATE_TRACE=FILE appends a line per validation the threads did (for tests).
'use strict';
const crypto = require('crypto');
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
const EARLY_VARIABLE = 'CHEFS_KISS_CFN_VALIDATE_EARLY';
const PLUGIN = path.join('core', 'lib', 'validation', 'cloudformation-validate-plugin.js');
const SYNTHESIS = path.join('core', 'lib', 'private', 'synthesis.js');
const PERF = path.join('core', 'lib', 'private', 'perf.js');
const BUILDER = path.join(
  'node_modules', '@aws-cdk', 'cloud-assembly-api', 'lib', 'cloud-assembly.js',
);
const STACK_ARTIFACT = 'aws:cloudformation:stack';
// cx-api's placeholders for an environment-agnostic stack (aws-cdk-lib passes undefined then)
const UNKNOWN_ACCOUNT = 'unknown-account';
const UNKNOWN_REGION = 'unknown-region';
// A thread that validates nothing for this long has stopped (killed by a resource limit, say).
const STALL_MS = 10 * 60 * 1000;

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
  const libraries = new Map(); // aws-cdk-lib directory -> Library
  Module._extensions['.js'] = function (module, filename) {
    compile.call(this, module, filename);
    if (path.basename(filename) === 'index.js' && isLibraryRoot(path.dirname(filename))) {
      const root = path.dirname(filename);
      if (!libraries.has(root)) libraries.set(root, new Library(root, threads));
    }
    for (const [root, library] of libraries) {
      if (!filename.startsWith(root + path.sep)) continue;
      const relative = filename.slice(root.length + 1);
      if (relative === PLUGIN) usePool(module.exports, library);
      else if (relative === SYNTHESIS) watchSyntheses(module.exports, library);
      else if (relative === BUILDER) watchArtifacts(module.exports, library);
    }
  };
}

// One loaded aws-cdk-lib and its pool. The threads start when the first App that validates is
// synthesized, or at once when the process says it will validate (EARLY_VARIABLE: app.py under
// `cdk synth`), so that the engines are ready by the time Python has built the app.
class Library {
  constructor(root, threads) {
    this.root = root;
    this.threads = threads;
    this.pool = undefined; // a Pool, or null where threads cannot start
    this.validating = false; // an App that validates is being synthesized
    if (process.env[EARLY_VARIABLE] === '1') this.start('early');
  }

  start(when) {
    if (this.pool === undefined) {
      try {
        this.pool = new Pool(this.root, this.threads, when);
      } catch {
        this.pool = null; // no worker threads here: the built-in plugin
      }
    }
    return this.pool;
  }
}

function isLibraryRoot(directory) {
  if (path.basename(directory) !== 'aws-cdk-lib') return false;
  try {
    return fs.statSync(path.join(directory, PLUGIN)).isFile();
  } catch {
    return false;
  }
}

class Pool {
  constructor(root, size, started) {
    this.started = started; // when: early, synthesis or validation (the trace says)
    // slot 0: templates validated by all threads; slot 1 + i: by thread i
    this.finished = new Int32Array(new SharedArrayBuffer((size + 1) * 4));
    this.threads = [];
    for (let index = 0; index < size; index++) {
      const { port1, port2 } = new MessageChannel();
      const worker = new Worker(__filename, {
        workerData: { root, index, port: port1, finished: this.finished.buffer },
        transferList: [port1],
      });
      worker.unref(); // never keeps the kernel alive
      this.threads.push({ port: port2, posted: 0 });
    }
    this.nextId = 0;
    this.jobs = new Map(); // template path -> the last job handed out for it
    this.replies = new Map(); // job id -> a thread's reply
    this.abandoned = new Set(); // ids of jobs handed out again (their template was rewritten)
  }

  // Hand a template to the thread with the least work waiting.
  post(entry) {
    let chosen = 0;
    let least = Infinity;
    this.threads.forEach((thread, index) => {
      const waiting = thread.posted - Atomics.load(this.finished, 1 + index);
      if (waiting < least) [chosen, least] = [index, waiting];
    });
    const job = { id: ++this.nextId, entry, file: fileState(entry.templatePath) };
    this.threads[chosen].posted++;
    this.threads[chosen].port.postMessage({ id: job.id, entry });
    const replaced = this.jobs.get(entry.templatePath);
    if (replaced) this.abandoned.add(replaced.id);
    this.jobs.set(entry.templatePath, job);
    return job;
  }

  collect() {
    for (const thread of this.threads) {
      for (let m = receiveMessageOnPort(thread.port); m; m = receiveMessageOnPort(thread.port)) {
        if (this.abandoned.delete(m.message.id)) continue;
        this.replies.set(m.message.id, m.message);
      }
    }
  }

  // The reports of `entries`, in their order; undefined if no thread could create an engine.
  validate(entries) {
    let early = 0; // handed out as the stacks were written, and still current
    const jobs = entries.map((entry) => {
      const job = this.jobs.get(entry.templatePath);
      const current =
        job && sameEntry(job.entry, entry) && job.file === fileState(entry.templatePath);
      early += current ? 1 : 0;
      return current ? job : this.post(entry);
    });
    let progress = -1;
    let since = Date.now();
    for (;;) {
      const finished = Atomics.load(this.finished, 0);
      this.collect();
      if (jobs.every((job) => this.replies.has(job.id))) break;
      if (finished !== progress) {
        [progress, since] = [finished, Date.now()];
      } else if (Date.now() - since > STALL_MS) {
        throw new Error(`CloudFormation Validate: no template validated in ${STALL_MS / 60000} min`);
      }
      Atomics.wait(this.finished, 0, finished, 1000);
    }
    const replies = jobs.map((job) => this.replies.get(job.id));
    for (const job of jobs) {
      this.jobs.delete(job.entry.templatePath);
      this.replies.delete(job.id);
    }
    if (replies.some((reply) => reply.unavailable !== undefined)) return undefined;
    const failed = replies.find((reply) => reply.error);
    if (failed) throw Object.assign(new Error(failed.error.message), { name: failed.error.name });
    const trace = process.env[TRACE_VARIABLE];
    if (trace) {
      const line = {
        threads: this.threads.length,
        started: this.started,
        templates: entries.length,
        early,
      };
      fs.appendFileSync(trace, `${JSON.stringify(line)}\n`);
    }
    return replies.map((reply) => reply.report);
  }
}

// What a template holds (its digest): a report is used only for the content it was made for.
function fileState(file) {
  try {
    return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('base64');
  } catch {
    return 'missing';
  }
}

function sameEntry(a, b) {
  return (
    a.templatePath === b.templatePath &&
    a.stackConstructPath === b.stackConstructPath &&
    a.accountId === b.accountId &&
    a.region === b.region
  );
}

// While App.synth() of an App that validates runs (the check aws-cdk-lib's validation makes),
// stack artifacts are handed to the pool as they are added.
function watchSyntheses(exports, library) {
  const synthesize = exports && exports.synthesize;
  if (typeof synthesize !== 'function') return;
  exports.synthesize = function (root, ...rest) {
    const outer = library.validating;
    const validates = root?._builtinCloudFormationValidation === true;
    library.validating = !outer && validates && Boolean(library.start('synthesis'));
    try {
      return synthesize.call(this, root, ...rest);
    } finally {
      library.validating = outer;
    }
  };
}

function watchArtifacts(exports, library) {
  const Builder = exports && exports.CloudAssemblyBuilder;
  const addArtifact = Builder && Builder.prototype.addArtifact;
  if (typeof addArtifact !== 'function') return;
  Builder.prototype.addArtifact = function (id, manifest) {
    const result = addArtifact.call(this, id, manifest);
    if (library.validating && manifest?.type === STACK_ARTIFACT) {
      const entry = stackTemplate(this.outdir, id, manifest);
      if (entry) library.pool.post(entry);
    }
    return result;
  };
}

// What aws-cdk-lib's validation passes a plugin for this stack (synthesis-validation.js, from
// the CloudFormationStackArtifact): undefined if this file cannot tell.
function stackTemplate(outdir, id, manifest) {
  const templateFile = manifest.properties?.templateFile;
  const environment = /^aws:\/\/([^/]+)\/([^/]+)$/.exec(manifest.environment ?? '');
  if (typeof templateFile !== 'string' || !environment) return undefined;
  const [, account, region] = environment;
  return {
    stackConstructPath: manifest.displayName ?? id,
    templatePath: path.join(outdir, templateFile),
    accountId: account !== UNKNOWN_ACCOUNT ? account : undefined,
    region: region !== UNKNOWN_REGION ? region : undefined,
  };
}

function usePool(exports, library) {
  const Plugin = exports && exports.CloudFormationValidatePlugin;
  if (
    typeof Plugin !== 'function' ||
    typeof Plugin._singletonInstance !== 'function' ||
    typeof Plugin.prototype.validate !== 'function'
  ) {
    return; // not the shape this file knows: aws-cdk-lib's own plugin
  }
  const builtin = Plugin.prototype.validate;
  const singleton = Plugin._singletonInstance;
  const perf = require(path.join(library.root, PERF));
  let pooled;
  Plugin._singletonInstance = function () {
    const pool = library.start('validation');
    if (!pool) return singleton.call(this);
    if (!Plugin._instance) Plugin._instance = pooled ??= pooledPlugin(Plugin, builtin, pool, perf);
    return Plugin._instance;
  };
}

// A CloudFormationValidatePlugin (for `instanceof`) whose engines live in the pool's threads;
// its own engine is created only if this thread must validate after all.
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
  const { root, index, port, finished: buffer } = workerData;
  const finished = new Int32Array(buffer);
  // The kernel's thread never returns to its event loop while it waits, so this thread's console
  // output would never be delivered: written as the kernel's is.
  require(path.join(__dirname, 'hosted_output.js')).forwardConsole();
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
  port.on('message', ({ id, entry }) => {
    const reply = { id };
    try {
      if (unavailable !== undefined) {
        reply.unavailable = unavailable;
      } else {
        perf.resetCounters();
        const { violations } = plugin.validate({ stackTemplates: [entry] });
        reply.report = { violations, counters: perf.readPerfCounters({ telemetry: true }) };
      }
    } catch (error) {
      reply.error = { message: String(error && error.message), name: error && error.name };
    }
    port.postMessage(reply);
    Atomics.add(finished, 1 + index, 1);
    Atomics.add(finished, 0, 1);
    Atomics.notify(finished, 0);
  });
}

if (isMainThread) module.exports = { install };
else serve();
