// The nodejs18.x runtime's restore randomness (rootfs/runtimes/nodejs/restore_random.js),
// outside a VM: crypto's functions behave as Node's own before and after afterRestore(), and
// afterwards their bytes come from /dev/urandom. (That clones of one snapshot differ is
// vm.emberd.restore's test.) Usage: node restore_random_test.js RUNTIME_DIR
'use strict';

const assert = require('assert');
const fs = require('fs');
const path = require('path');

const restoreRandom = require(path.join(process.argv[2], 'restore_random.js'));
restoreRandom.install();
// Taken after install(), as a handler's module takes them during init.
const { randomBytes, randomFill, randomFillSync, randomInt, randomUUID, webcrypto } =
  require('crypto');
const crypto = require('crypto');

const kUuid = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

function checkShapes() {
  assert.strictEqual(randomBytes(16).length, 16);
  assert.match(randomUUID(), kUuid);
  assert.match(webcrypto.randomUUID(), kUuid);
  // Offsets and sizes count the array's elements, and only those elements are written.
  const words = new Uint32Array(4);
  randomFillSync(words, 1, 2);
  assert.strictEqual(words[0], 0);
  assert.strictEqual(words[3], 0);
  assert.notStrictEqual(words[1] | words[2], 0);
  assert.throws(() => randomFillSync(new Uint8Array(2), 5), { code: 'ERR_OUT_OF_RANGE' });
  assert.throws(() => randomInt(5, 2), { code: 'ERR_OUT_OF_RANGE' });
  const seen = new Set();
  for (let i = 0; i < 2000; i++) {
    const v = randomInt(3, 7);
    assert.ok(v >= 3 && v < 7, `randomInt(3, 7) gave ${v}`);
    seen.add(v);
  }
  assert.deepStrictEqual([...seen].sort(), [3, 4, 5, 6]);
  const values = crypto.getRandomValues(new Uint16Array(8));
  assert.ok(values.some((v) => v !== 0));
}

async function checkCallbacks() {
  const bytes = await new Promise((done, fail) =>
    randomBytes(8, (error, b) => (error ? fail(error) : done(b))));
  assert.strictEqual(bytes.length, 8);
  const filled = await new Promise((done, fail) =>
    randomFill(new Uint8Array(8), 6, (error, b) => (error ? fail(error) : done(b))));
  assert.deepStrictEqual(Array.from(filled.subarray(0, 6)), [0, 0, 0, 0, 0, 0]);
  const n = await new Promise((done, fail) =>
    randomInt(10, (error, v) => (error ? fail(error) : done(v))));
  assert.ok(n >= 0 && n < 10);
}

// Counts the reads of /dev/urandom's descriptor while fn runs.
function kernelReads(fn) {
  const readSync = fs.readSync;
  let reads = 0;
  fs.readSync = function (...args) {
    reads++;
    return readSync.apply(this, args);
  };
  try {
    fn();
  } finally {
    fs.readSync = readSync;
  }
  return reads;
}

(async () => {
  checkShapes();
  await checkCallbacks();
  assert.strictEqual(kernelReads(() => randomBytes(4)), 0, 'before a restore: OpenSSL');
  const before = Math.random;
  restoreRandom.afterRestore();
  assert.notStrictEqual(Math.random, before);
  checkShapes();
  await checkCallbacks();
  for (const [name, draw] of Object.entries({
    randomBytes: () => randomBytes(4),
    randomFillSync: () => randomFillSync(new Uint8Array(4)),
    randomUUID: () => randomUUID(),
    randomInt: () => randomInt(100),
    'webcrypto.getRandomValues': () => webcrypto.getRandomValues(new Uint8Array(4)),
    'crypto.getRandomValues': () => crypto.getRandomValues(new Uint8Array(4)),
    'webcrypto.randomUUID': () => webcrypto.randomUUID(),
  })) {
    assert.ok(kernelReads(draw) > 0, `${name} after a restore reads /dev/urandom`);
  }
  const r = Math.random();
  assert.ok(r >= 0 && r < 1);
  console.log('restore_random: all checks passed');
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
