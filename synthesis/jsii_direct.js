// The jsii kernel without its relay process (synthesis/kernel.py explains why).
//
// jsii's own bin/jsii-runtime.js starts lib/program.js as a child process and copies every
// request and response between its stdin/stdout and the child's fd 3: two extra pipe hops per
// kernel call. This file runs lib/program.js in this process instead, with its API channel on
// stdin/stdout: program.js reads fd 3 and writes fd 3 with fs.readSync/fs.writeSync, so those
// two calls map fd 3 to 0 and 1. Output of the hosted code goes where the relay sends it: to
// stderr as {"stdout"|"stderr": base64} lines, which the Python client decodes and prints.
'use strict';
const fs = require('fs');
const path = require('path');
// Loaded before fs.writeSync is wrapped below: it keeps fs's own.
const { wrapped, forwardConsole } = require(path.join(__dirname, 'hosted_output.js'));

const CHANNEL = 3;
// fd 3 must not be a file some library opens later, or its writes would land on the channel:
// hold it here if Node has not taken it (libuv usually has).
try {
  fs.fstatSync(CHANNEL);
} catch {
  const held = fs.openSync('/dev/null', 'r');
  if (held !== CHANNEL) {
    fs.closeSync(held);
    throw new Error(`jsii_direct.js: fd ${CHANNEL} is free but /dev/null opened as fd ${held}`);
  }
}

const readSync = fs.readSync;
const writeSync = fs.writeSync;
fs.readSync = function (fd, ...rest) {
  return readSync.call(fs, fd === CHANNEL ? 0 : fd, ...rest);
};
fs.writeSync = function (fd, data, ...rest) {
  if (fd === CHANNEL) return writeSync.call(fs, 1, data, ...rest);
  if (fd === 1) return wrapped('stdout', bytesOf(data, rest));
  if (fd === 2) return wrapped('stderr', bytesOf(data, rest));
  return writeSync.call(fs, fd, data, ...rest);
};

// What fs.writeSync(fd, buffer, offset, length) or fs.writeSync(fd, string, position, encoding)
// would write.
function bytesOf(data, [offsetOrPosition, lengthOrEncoding]) {
  if (typeof data === 'string') {
    return Buffer.from(data, typeof lengthOrEncoding === 'string' ? lengthOrEncoding : 'utf8');
  }
  const buffer = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const offset = typeof offsetOrPosition === 'number' ? offsetOrPosition : 0;
  const length = typeof lengthOrEncoding === 'number' ? lengthOrEncoding : buffer.length - offset;
  return buffer.subarray(offset, offset + length);
}

forwardConsole();

// CloudFormation Validate's engines start in worker threads as soon as aws-cdk-lib loads.
require(path.join(__dirname, 'cfn_validate_pool.js')).install();

require(path.join(__dirname, '..', 'lib', 'program.js'));
