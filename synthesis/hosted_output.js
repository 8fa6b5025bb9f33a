// What code hosted in the jsii kernel prints, passed on as jsii's relay passes it: one
// {"stdout"|"stderr": base64} line per write on this process's stderr, which jsii's Python client
// decodes and prints. Used by jsii_direct.js (the kernel's thread) and cfn_validate_pool.js (its
// worker threads, whose own console output would need the kernel's event loop).
'use strict';
const fs = require('fs');

const writeSync = fs.writeSync; // fs's own, whatever the launcher does to fs.writeSync later

function wrapped(key, buffer) {
  writeSync.call(fs, 2, `${JSON.stringify({ [key]: buffer.toString('base64') })}\n`);
  return buffer.length;
}

function forward(key) {
  return (chunk, encoding, callback) => {
    const buffer = Buffer.isBuffer(chunk)
      ? chunk
      : Buffer.from(String(chunk), typeof encoding === 'string' ? encoding : 'utf8');
    wrapped(key, buffer);
    const done = typeof encoding === 'function' ? encoding : callback;
    if (typeof done === 'function') process.nextTick(done);
    return true;
  };
}

// process.stdout and process.stderr of this thread write wrapped lines.
function forwardConsole() {
  process.stdout.write = forward('stdout');
  process.stderr.write = forward('stderr');
}

module.exports = { wrapped, forwardConsole };
